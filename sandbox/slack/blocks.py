"""Block Kit and message-metadata checks with Slack's documented limits.

The checks answer what Slack answers: a list of ``[ERROR] ... [json-pointer:...]`` messages
for ``invalid_blocks``, the character count behind ``msg_blocks_too_long``, and the
``invalid_metadata_schema`` warning for metadata Slack silently drops. ``refusal`` applies
them the way each path into Slack does (a message, a response URL, a Home view, an unfurl),
so tests can check a payload exactly as the sandbox would.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
SECTION_TEXT = 3000
SECTION_FIELDS = 10
FIELD_TEXT = 2000
HEADER_TEXT = 150
BUTTON_TEXT = 75
CONTEXT_ELEMENTS = 10
ACTIONS_ELEMENTS = 25
BLOCK_ID = 255
ACTION_ID = 255
URL = 3000
BUTTON_VALUE = 2000
MARKDOWN_TEXT = 12000
BLOCKS_TEXT_TOTAL = 13000
RESPONSE_URL_TEXT_TOTAL = 12000
"""Nothing above about 11,000 characters is known to be safe on a response URL."""
MESSAGE_TEXT = 40000

BLOCK_TYPES = frozenset(
    {
        "actions",
        "call",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "table",
        "video",
    }
)
ELEMENT_TYPES = frozenset(
    {
        "button",
        "channels_select",
        "checkboxes",
        "conversations_select",
        "datepicker",
        "datetimepicker",
        "external_select",
        "image",
        "multi_channels_select",
        "multi_conversations_select",
        "multi_external_select",
        "multi_static_select",
        "multi_users_select",
        "overflow",
        "radio_buttons",
        "static_select",
        "timepicker",
        "users_select",
        "workflow_button",
    }
)
TEXT_TYPES = frozenset({"plain_text", "mrkdwn"})
_EVENT_TYPE = re.compile(r"^[A-Za-z0-9_\-]+$")


def decode_json(value: Any) -> Any:
    """``value`` itself, or the JSON a form field carried as a string (unchanged if not JSON)."""
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _error(message: str, pointer: str) -> str:
    return f"[ERROR] {message} [json-pointer:{pointer}]"


class _Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, message: str, pointer: str) -> None:
        self.errors.append(_error(message, pointer))

    def text_object(
        self,
        value: Any,
        pointer: str,
        *,
        limit: int | None,
        plain_only: bool = False,
    ) -> None:
        if not isinstance(value, dict):
            self.fail("must be an object", pointer)
            return
        kind = value.get("type")
        if kind not in TEXT_TYPES:
            self.fail("must be a valid enum value", f"{pointer}/type")
            return
        if plain_only and kind != "plain_text":
            self.fail("must be one of plain_text", f"{pointer}/type")
        text = value.get("text")
        if not isinstance(text, str):
            self.fail("must be a string", f"{pointer}/text")
            return
        if not text.strip():
            self.fail("must be more than 0 characters", f"{pointer}/text")
        if limit is not None and len(text) > limit:
            self.fail(f"must be less than {limit + 1} characters", f"{pointer}/text")

    def element(self, value: Any, pointer: str, action_ids: set[str]) -> None:
        if not isinstance(value, dict):
            self.fail("must be an object", pointer)
            return
        kind = value.get("type")
        if kind not in ELEMENT_TYPES:
            self.fail(f"unsupported type: {kind}", f"{pointer}/type")
            return
        action_id = value.get("action_id")
        if action_id is not None:
            if not isinstance(action_id, str) or len(action_id) > ACTION_ID:
                self.fail(f"must be less than {ACTION_ID + 1} characters", f"{pointer}/action_id")
            elif action_id in action_ids:
                self.fail("action_id must be unique within a block", f"{pointer}/action_id")
            else:
                action_ids.add(action_id)
        if kind == "image":
            self.image(value, pointer)
        elif kind == "button":
            self.text_object(
                value.get("text"), f"{pointer}/text", limit=BUTTON_TEXT, plain_only=True
            )
            url = value.get("url")
            if url is not None and (not isinstance(url, str) or len(url) > URL):
                self.fail(f"must be less than {URL + 1} characters", f"{pointer}/url")
            button_value = value.get("value")
            if button_value is not None and (
                not isinstance(button_value, str) or len(button_value) > BUTTON_VALUE
            ):
                self.fail(f"must be less than {BUTTON_VALUE + 1} characters", f"{pointer}/value")
            style = value.get("style")
            if style is not None and style not in ("primary", "danger"):
                self.fail("must be a valid enum value", f"{pointer}/style")

    def image(self, value: dict[str, Any], pointer: str) -> None:
        url = value.get("image_url")
        if url is None and value.get("slack_file") is None:
            self.fail("must provide either image_url or slack_file", pointer)
        elif url is not None and (not isinstance(url, str) or not url or len(url) > URL):
            self.fail(f"must be less than {URL + 1} characters", f"{pointer}/image_url")
        alt = value.get("alt_text")
        if not isinstance(alt, str) or not alt:
            self.fail("must provide alt_text", f"{pointer}/alt_text")

    def block(self, value: Any, pointer: str, block_ids: set[str]) -> None:
        if not isinstance(value, dict):
            self.fail("must be an object", pointer)
            return
        kind = value.get("type")
        if not isinstance(kind, str) or kind not in BLOCK_TYPES:
            self.fail(f"unsupported type: {kind}", f"{pointer}/type")
            return
        block_id = value.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not block_id or len(block_id) > BLOCK_ID:
                self.fail(f"must be less than {BLOCK_ID + 1} characters", f"{pointer}/block_id")
            elif block_id in block_ids:
                self.fail("block_id must be unique within a message", f"{pointer}/block_id")
            else:
                block_ids.add(block_id)
        action_ids: set[str] = set()
        if kind == "section":
            self.section(value, pointer, action_ids)
        elif kind == "header":
            self.text_object(
                value.get("text"), f"{pointer}/text", limit=HEADER_TEXT, plain_only=True
            )
        elif kind == "context":
            elements = value.get("elements")
            if not isinstance(elements, list) or not elements:
                self.fail("must provide at least 1 element", f"{pointer}/elements")
                return
            if len(elements) > CONTEXT_ELEMENTS:
                self.fail(f"no more than {CONTEXT_ELEMENTS} items allowed", f"{pointer}/elements")
            for index, element in enumerate(elements):
                where = f"{pointer}/elements/{index}"
                if isinstance(element, dict) and element.get("type") == "image":
                    self.image(element, where)
                else:
                    self.text_object(element, where, limit=None)
        elif kind == "actions":
            elements = value.get("elements")
            if not isinstance(elements, list) or not elements:
                self.fail("must provide at least 1 element", f"{pointer}/elements")
                return
            if len(elements) > ACTIONS_ELEMENTS:
                self.fail(f"no more than {ACTIONS_ELEMENTS} items allowed", f"{pointer}/elements")
            for index, element in enumerate(elements):
                self.element(element, f"{pointer}/elements/{index}", action_ids)
        elif kind == "image":
            self.image(value, pointer)
        elif kind == "markdown":
            text = value.get("text")
            if not isinstance(text, str) or not text or len(text) > MARKDOWN_TEXT:
                self.fail(f"must be 1 to {MARKDOWN_TEXT} characters", f"{pointer}/text")

    def section(self, value: dict[str, Any], pointer: str, action_ids: set[str]) -> None:
        text = value.get("text")
        fields = value.get("fields")
        if text is None and fields is None:
            self.fail("must provide either text or fields", pointer)
        if text is not None:
            self.text_object(text, f"{pointer}/text", limit=SECTION_TEXT)
        if fields is not None:
            if not isinstance(fields, list) or not fields:
                self.fail("must provide at least 1 item", f"{pointer}/fields")
            else:
                if len(fields) > SECTION_FIELDS:
                    self.fail(f"no more than {SECTION_FIELDS} items allowed", f"{pointer}/fields")
                for index, item in enumerate(fields):
                    self.text_object(item, f"{pointer}/fields/{index}", limit=FIELD_TEXT)
        accessory = value.get("accessory")
        if accessory is not None:
            self.element(accessory, f"{pointer}/accessory", action_ids)


def check_blocks(
    blocks: Any, *, limit: int = MESSAGE_BLOCKS, pointer: str = "/blocks"
) -> list[str]:
    """Slack's error messages for ``blocks``; empty when Slack would accept them."""
    checker = _Checker()
    if not isinstance(blocks, list):
        checker.fail("must be an array", pointer)
        return checker.errors
    if len(blocks) > limit:
        checker.fail(f"no more than {limit} items allowed", pointer)
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        checker.block(block, f"{pointer}/{index}", block_ids)
    return checker.errors


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                yield item
            else:
                yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)


def blocks_text_length(blocks: Any) -> int:
    """How many characters of text the blocks hold (what ``msg_blocks_too_long`` counts)."""
    return sum(len(text) for text in _texts(blocks))


PATHS: dict[str, tuple[int, int]] = {
    "message": (MESSAGE_BLOCKS, BLOCKS_TEXT_TOTAL),
    "response_url": (MESSAGE_BLOCKS, RESPONSE_URL_TEXT_TOTAL),
    "view": (VIEW_BLOCKS, BLOCKS_TEXT_TOTAL),
    "unfurl": (MESSAGE_BLOCKS, BLOCKS_TEXT_TOTAL),
}
"""Each path into Slack: (blocks allowed, characters of block text allowed)."""


def refusal(
    blocks: Any, *, path: str = "message", pointer: str = "/blocks"
) -> tuple[str, list[str]] | None:
    """Slack's error code and messages for ``blocks`` sent on ``path`` (a key of ``PATHS``:
    ``chat.postMessage``/``postEphemeral``/``update`` are ``"message"``), or None when
    Slack would take them."""
    limit, total = PATHS[path]
    errors = check_blocks(blocks, limit=limit, pointer=pointer)
    if errors:
        return "invalid_blocks", errors
    if blocks_text_length(blocks) > total:
        return "msg_blocks_too_long", []
    return None


def check_metadata(metadata: Any) -> tuple[dict[str, Any] | None, str | None]:
    """The metadata Slack keeps (or None) and the warning it gives when it drops it."""
    if metadata is None:
        return None, None
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not _EVENT_TYPE.match(metadata["event_type"])
        or not isinstance(metadata.get("event_payload", {}), dict)
    ):
        return None, "invalid_metadata_schema"
    return {
        "event_type": metadata["event_type"],
        "event_payload": dict(metadata.get("event_payload") or {}),
    }, None
