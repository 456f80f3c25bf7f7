"""Slack's limits as data, and the one function that fits any message into them.

Every renderer (cards, thread replies, BOM batches, digests, ``/review`` answers on every
path, App Home, unfurls) builds its blocks with the helpers here and hands them to ``fit``
last, after escaping and quoting, so nothing Slack would refuse ever leaves the bot: a
section over 3,000 characters is clipped, an empty one is dropped, a header keeps 150, a
context 10 elements, a button value 2,000, and the whole stays within the ``Room`` of the
path it takes. Long answers are split by ``pages`` into pages that each fit.

The totals are budgets below what Slack refuses: ``chat.postMessage`` and
``chat.postEphemeral`` refuse about 13,200 characters of block text
(``msg_blocks_too_long``), and nothing above about 11,000 is known to be safe on a
``response_url``.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from bot.slack.mrkdwn import ELLIPSIS, cut

SECTION_TEXT: Final = 3000
"""Characters of a section's text."""
HEADER_TEXT: Final = 150
"""Characters of a header (plain_text)."""
SECTION_FIELDS: Final = 10
FIELD_TEXT: Final = 2000
CONTEXT_ELEMENTS: Final = 10
CONTEXT_TEXT: Final = 3000
ACTIONS_ELEMENTS: Final = 25
BUTTON_TEXT: Final = 75
BUTTON_VALUE: Final = 2000
MESSAGE_BLOCKS: Final = 50
VIEW_BLOCKS: Final = 100
FALLBACK_TEXT: Final = 300
"""Characters of a message's top-level ``text``: a short notification, not the message."""
NAME_TEXT: Final = 150
"""Characters a name from Altium (project, document, person, variant, part) may take."""
CUT_NOTE: Final = "_… the rest does not fit in one Slack message._"

Block = dict[str, Any]


@dataclass(frozen=True)
class Room:
    """What one path into Slack takes: at most ``blocks`` blocks, ``chars`` of their text."""

    blocks: int
    chars: int


MESSAGE: Final = Room(blocks=MESSAGE_BLOCKS, chars=12_000)
"""``chat.postMessage``, ``chat.update``, ``chat.postEphemeral``: cards, digests."""
RESPONSE: Final = Room(blocks=MESSAGE_BLOCKS, chars=11_000)
"""A ``response_url`` (and the ack body): every ``/review`` answer is built for it, so the
same answer also fits a mention's ``chat.postEphemeral`` or ``chat.postMessage``."""
VIEW: Final = Room(blocks=VIEW_BLOCKS, chars=12_000)
"""``views.publish``: the App Home tab."""
UNFURL: Final = Room(blocks=10, chars=4_000)
"""``chat.unfurl``: a link preview, kept short."""


# -- building blocks -----------------------------------------------------------------------

def section(text: str) -> Block:
    """A mrkdwn section (``text`` is mrkdwn already)."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def header(text: str) -> Block:
    """A header; ``text`` is escaped already (Slack reads entities in plain_text too)."""
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def context(*texts: str) -> Block:
    """A context line of mrkdwn elements (empty ones left out)."""
    return {"type": "context",
            "elements": [{"type": "mrkdwn", "text": t} for t in texts if t and t.strip()]}


def divider() -> Block:
    return {"type": "divider"}


def button(label: str, action_id: str, value: str) -> Block:
    return {"type": "button", "text": {"type": "plain_text", "text": label},
            "action_id": action_id, "value": value}


def actions(*elements: Block) -> Block:
    return {"type": "actions", "elements": list(elements)}


# -- measuring -----------------------------------------------------------------------------

def text_size(value: Any) -> int:
    """Characters of every ``text`` string in blocks: what ``msg_blocks_too_long`` counts."""
    if isinstance(value, dict):
        return sum(len(item) if key == "text" and isinstance(item, str) else text_size(item)
                   for key, item in value.items())
    if isinstance(value, list):
        return sum(text_size(item) for item in value)
    return 0


def within(blocks: Sequence[Block], room: Room) -> bool:
    """Whether ``blocks`` fit ``room`` in number and in characters."""
    return len(blocks) <= room.blocks and text_size(blocks) <= room.chars


# -- fitting -------------------------------------------------------------------------------

def _clip(text: Any, limit: int) -> str | None:
    """``text`` cut to ``limit`` (never inside an entity or a ``<…>`` token), or None when
    nothing readable is left."""
    if not isinstance(text, str):
        return None
    shown = cut(text, limit)
    if not shown.strip() or shown.strip() == ELLIPSIS:
        return None
    return shown


def _text_object(value: Any, limit: int) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    text = _clip(value.get("text"), limit)
    return None if text is None else {**value, "text": text}


def _clip_block(block: Block) -> Block | None:
    """One block within Slack's per-block limits, or None when nothing of it is left."""
    kind = block.get("type")
    if kind == "section":
        out = {k: v for k, v in block.items() if k not in {"text", "fields"}}
        text = _text_object(block.get("text"), SECTION_TEXT)
        fields = [f for f in (_text_object(f, FIELD_TEXT) for f in block.get("fields") or ())
                  if f is not None][:SECTION_FIELDS]
        if text is None and not fields:
            return None
        if text is not None:
            out["text"] = text
        if fields:
            out["fields"] = fields
        return out
    if kind == "header":
        text = _text_object(block.get("text"), HEADER_TEXT)
        return None if text is None else {**block, "text": text}
    if kind == "context":
        elements = [e for e in (_text_object(e, CONTEXT_TEXT) for e in block.get("elements")
                                or ()) if e is not None]
        if len(elements) > CONTEXT_ELEMENTS:
            rest = " · ".join(e["text"] for e in elements[CONTEXT_ELEMENTS - 1:])
            elements = [*elements[:CONTEXT_ELEMENTS - 1],
                        {"type": "mrkdwn", "text": cut(rest, CONTEXT_TEXT)}]
        return {**block, "elements": elements} if elements else None
    if kind == "actions":
        buttons = []
        for element in block.get("elements") or ():
            label = _text_object(element.get("text"), BUTTON_TEXT)
            value = element.get("value")
            if label is None or (isinstance(value, str) and len(value) > BUTTON_VALUE):
                continue
            buttons.append({**element, "text": label})
        return {**block, "elements": buttons[:ACTIONS_ELEMENTS]} if buttons else None
    return block


def fit(text: str, blocks: Iterable[Block], room: Room = MESSAGE, *,
        fallback: str = "review-bot") -> tuple[str, list[Block]]:
    """A message's ``text`` and ``blocks`` within Slack's limits for ``room``.

    Run last, after escaping and quoting. Each block is clipped to its own limits (empty
    sections and contexts dropped); when the whole is still too big, blocks are dropped
    from the end (an ``actions`` block at the end is kept) and a note says the message was
    cut. ``text`` becomes a short notification, ``fallback`` when it is empty.
    """
    kept = [b for b in (_clip_block(copy.deepcopy(b)) for b in blocks) if b is not None]
    tail = [kept.pop()] if kept and kept[-1].get("type") == "actions" else []
    if not within([*kept, *tail], room):
        note = context(CUT_NOTE)
        while kept and not within([*kept, note, *tail], room):
            kept.pop()
        kept.append(note)
    notice = cut(text, FALLBACK_TEXT) if text and text.strip() else fallback
    return notice, [*kept, *tail]


# -- paging --------------------------------------------------------------------------------

def pages(lines: Sequence[str], *, room: Room, head: str = "", per_page: int | None = None,
          reserve: int = 600) -> list[list[str]]:
    """``lines`` (mrkdwn) packed into pages of section texts, each page fitting ``room``
    next to ``head`` and ``reserve`` characters (and two blocks) for a footer and buttons.

    A line longer than a section is clipped, so no section is ever empty or too long;
    ``per_page`` caps the lines of a page. There is always at least one page.
    """
    chars = max(500, room.chars - len(head) - reserve)
    blocks = max(1, room.blocks - (1 if head else 0) - 2)
    result: list[list[str]] = []
    page: list[str] = []
    chunk, used, count = "", 0, 0
    for raw in lines:
        line = cut(raw, min(SECTION_TEXT, chars))
        if not line.strip():
            continue
        if count == 0:
            chunk, count = line, 1
            continue
        full = per_page is not None and count >= per_page
        joined = f"{chunk}\n{line}"
        if not full and len(joined) <= SECTION_TEXT and used + len(joined) <= chars:
            chunk, count = joined, count + 1
            continue
        if not full and used + len(chunk) + len(line) <= chars and len(page) + 2 <= blocks:
            page.append(chunk)
            used += len(chunk)
            chunk, count = line, count + 1
            continue
        page.append(chunk)
        result.append(page)
        page, chunk, used, count = [], line, 0, 1
    if count:
        page.append(chunk)
        result.append(page)
    return result or [[]]
