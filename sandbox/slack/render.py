"""Terminal rendering of sandbox messages, close to what a person sees in Slack.

mrkdwn is read as Slack reads it: ``<@U123>`` is a mention, ``<url|label>`` a link,
``<!channel>`` a ping, and only after those are resolved are ``&lt; &gt; &amp;`` turned back
into ``< > &``. So text the bot escaped shows as the literal characters an Altium user typed,
while the links and mentions the bot made show as links and mentions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from .workspace import Message, Workspace, parse_ts

_TOKEN = re.compile(r"<([^<>]*)>")
_ENTITY = re.compile(r"&(lt|gt|amp);")
_ENTITIES = {"lt": "<", "gt": ">", "amp": "&"}
_PINGS = frozenset({"channel", "here", "everyone"})
_DIVIDER = "─" * 40


def unescape(text: str) -> str:
    """``&lt; &gt; &amp;`` back to ``< > &`` in one pass (``&amp;lt;`` stays ``&lt;``)."""
    return _ENTITY.sub(lambda match: _ENTITIES[match.group(1)], text)


def mrkdwn(text: str, *, users: Mapping[str, str]) -> str:
    """mrkdwn as shown: mentions, links and pings resolved, then entities unescaped."""

    def token(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith("@"):
            user_id = target[1:]
            return "@" + (users.get(user_id) or label or user_id)
        if target.startswith("#"):
            return "#" + (label or target[1:])
        if target.startswith("!"):
            command = target[1:]
            if command in _PINGS:
                return "@" + command
            return label or command
        if label:
            return f"{label} ({target})"
        return target

    return unescape(_TOKEN.sub(token, text))


def _text(value: Any, users: Mapping[str, str]) -> str:
    if not isinstance(value, Mapping):
        return ""
    text = str(value.get("text") or "")
    if value.get("type") == "mrkdwn":
        return mrkdwn(text, users=users)
    return unescape(text)


def _element(value: Any, users: Mapping[str, str]) -> str:
    if not isinstance(value, Mapping):
        return ""
    kind = value.get("type")
    if kind == "button":
        return f"[{_text(value.get('text'), users)}]"
    if kind == "image":
        return f"[image: {value.get('alt_text', '')}]"
    if kind in ("plain_text", "mrkdwn"):
        return _text(value, users)
    if kind == "overflow":
        return "[…]"
    placeholder = _text(value.get("placeholder"), users)
    return f"[{placeholder or kind} ▾]"


def _rich_text(value: Any, users: Mapping[str, str]) -> str:
    if isinstance(value, list):
        return "".join(_rich_text(item, users) for item in value)
    if not isinstance(value, Mapping):
        return ""
    kind = value.get("type")
    if kind == "text":
        return str(value.get("text") or "")
    if kind == "link":
        url = str(value.get("url") or "")
        label = value.get("text")
        return f"{label} ({url})" if label else url
    if kind == "user":
        user_id = str(value.get("user_id") or "")
        return "@" + users.get(user_id, user_id)
    if kind == "broadcast":
        return "@" + str(value.get("range") or "channel")
    if kind == "emoji":
        return f":{value.get('name', '')}:"
    inner = _rich_text(value.get("elements"), users)
    return inner + "\n" if kind in ("rich_text_section", "rich_text_preformatted") else inner


def render_block(block: Mapping[str, Any], *, users: Mapping[str, str]) -> list[str]:
    """One block as terminal lines."""
    kind = block.get("type")
    if kind == "header":
        title = _text(block.get("text"), users)
        return [title, "═" * max(len(title), 3)]
    if kind == "section":
        lines = _text(block.get("text"), users).splitlines() if block.get("text") else []
        for item in block.get("fields") or []:
            lines += ["  " + line for line in _text(item, users).splitlines()]
        accessory = block.get("accessory")
        if accessory is not None:
            shown = _element(accessory, users)
            if lines:
                lines[0] = f"{lines[0]}  {shown}"
            else:
                lines = [shown]
        return lines
    if kind == "context":
        parts = [_element(item, users) for item in block.get("elements") or []]
        return ["  " + line for line in " · ".join(parts).splitlines()]
    if kind == "divider":
        return [_DIVIDER]
    if kind == "actions":
        return [" ".join(_element(item, users) for item in block.get("elements") or [])]
    if kind == "image":
        return [f"[image: {block.get('alt_text', '')}]"]
    if kind == "markdown":
        return str(block.get("text") or "").splitlines()
    if kind == "rich_text":
        return _rich_text(block.get("elements"), users).rstrip("\n").splitlines()
    return [f"[{kind} block]"]


def render_message(message: Message | Mapping[str, Any], *, users: Mapping[str, str]) -> str:
    """A message's blocks (or, without blocks, its text) as terminal text."""
    if isinstance(message, Message):
        blocks: Sequence[Any] | None = message.blocks
        text = message.text
        parse = message.mrkdwn
    else:
        blocks = message.get("blocks")
        text = str(message.get("text") or "")
        parse = message.get("mrkdwn", True) is not False
    if blocks:
        lines: list[str] = []
        for block in blocks:
            if isinstance(block, Mapping):
                lines += render_block(block, users=users)
        return "\n".join(lines)
    return mrkdwn(text, users=users) if parse else unescape(text)


def _clock_time(ts: str) -> str:
    micros = parse_ts(ts) or 0
    return datetime.fromtimestamp(micros / 1_000_000, UTC).strftime("%H:%M:%S")


def _heading(message: Message, users: Mapping[str, str]) -> str:
    name = users.get(message.user, message.user)
    heading = f"● {name} · {_clock_time(message.ts)}"
    return heading + " (edited)" if message.edited else heading


def _indent(text: str, prefix: str) -> list[str]:
    return [prefix + line for line in (text.splitlines() or [""])]


def render_channel(sandbox: Workspace, channel: str) -> str:
    """A channel as Slack shows it: each message, its thread replies indented beneath it."""
    users = sandbox.user_names()
    title = sandbox.channel_name(channel)
    lines = [title, "─" * len(title)]
    for message in sandbox.messages(channel):
        if message.is_broadcast:
            lines.append(_heading(message, users) + " · replied to a thread")
            lines += _indent(render_message(message, users=users), "  ")
            continue
        lines.append(_heading(message, users))
        lines += _indent(render_message(message, users=users), "  ")
        if message.reply_count:
            noun = "reply" if message.reply_count == 1 else "replies"
            lines.append(f"  ┆ {message.reply_count} {noun}")
            for reply in sandbox.replies(channel, message.ts):
                heading = _heading(reply, users)
                if reply.is_broadcast:
                    heading += " · also sent to the channel"
                lines.append("  ┆ " + heading)
                lines += _indent(render_message(reply, users=users), "  ┆   ")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
