"""A person's Slack reply as an Altium comment, and that comment read back (pure, no I/O).

Slack stores a message's text as mrkdwn with its own markup: ``<@U123>`` mentions, ``<#C1|x>``
channels, ``<!here>`` pings, ``<url|label>`` links and ``&lt; &gt; &amp;`` for what the person
typed. Altium shows comments as plain text, so ``plain_text`` resolves the markup into what the
person saw and unescapes the entities once. ``comment_text`` writes the comment with its
attribution and the link back to the Slack message, in a fixed form that ``from_slack`` reads
back, so a poll can tell a comment the bot wrote from Slack from one a person typed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

_TOKEN = re.compile(r"<([^<>\n]+)>")
_ENTITY = re.compile(r"&(lt|gt|amp);")
_ENTITIES = {"lt": "<", "gt": ">", "amp": "&"}
_PINGS = frozenset({"here", "channel", "everyone"})
_SHOWN_BARE = ("mailto:", "https://", "http://")

VIA = " (via Slack): "
"""What follows the author's name on a comment's first line."""
ATTACHMENT = "Attachment: "
"""How each attached file's line begins."""
LINK = "Slack message: "
"""How the last line, the link back to the Slack message, begins."""
NO_TEXT = "(no text)"
"""The body of a reply with neither text nor files (Altium refuses an empty comment)."""
SOMEONE = "Someone"
"""The author of a reply whose author has no name."""

_PERMALINK_PATH = re.compile(r"/archives/([CGD][A-Z0-9]+)/p(\d{10})(\d{6})")


@dataclass(frozen=True)
class SlackFile:
    """A file attached to a Slack reply."""

    name: str
    link: str
    """The file's permalink."""


@dataclass(frozen=True)
class FromSlack:
    """The Slack reply an Altium comment was written from."""

    author: str
    body: str
    """The reply's text and attachment lines, without attribution or link."""
    link: str
    channel_id: str
    ts: str
    """The Slack message's ts, e.g. ``"1700000000.000100"``."""


def _unescape(text: str) -> str:
    return _ENTITY.sub(lambda match: _ENTITIES[match.group(1)], text)


def _flat(text: str) -> str:
    return " ".join(text.split())


def _date(command: str) -> str | None:
    """``date^<epoch>^<format>`` without a fallback, as a UTC date and time."""
    parts = command.split("^")
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    try:
        moment = datetime.fromtimestamp(int(parts[1]), UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _token(
    body: str,
    user_name: Callable[[str], str | None],
    channel_name: Callable[[str], str | None],
) -> str | None:
    """The plain text of one ``<…>`` token's inside, or None to keep it as typed."""
    raw_target, bar, raw_label = body.partition("|")
    target, label = _unescape(raw_target), _unescape(raw_label)
    if target.startswith("@"):
        user_id = target[1:]
        return "@" + (user_name(user_id) or label or user_id) if user_id else None
    if target.startswith("#"):
        channel_id = target[1:]
        return "#" + (channel_name(channel_id) or label or channel_id) if channel_id else None
    if target.startswith("!"):
        command = target[1:]
        if command in _PINGS:
            return "@" + command
        if command.startswith("subteam^"):
            name = label or command.removeprefix("subteam^")
            return name if name.startswith("@") else "@" + name
        if command.startswith("date^"):
            return label or _date(command)
        return label or None
    if not target:
        return None
    if not bar or not label or label == target:
        return target
    if any(target == prefix + label for prefix in _SHOWN_BARE):
        return label
    return f"{label} ({target})"


def plain_text(
    text: str,
    *,
    user_name: Callable[[str], str | None],
    channel_name: Callable[[str], str | None] = lambda _id: None,
) -> str:
    """A Slack message's stored text (mrkdwn with Slack's markup) as plain text.

    Mentions become ``@Name`` (the person's current name, else the token's label, else the
    id) and channels ``#name`` likewise; ``<!here>`` and the like ``@here``; user groups their
    handle; dates their fallback. A link shows as ``label (url)``, or as typed when the label
    is the link itself (``a@b`` for ``<mailto:a@b|a@b>``, ``example.com`` for the link Slack
    made of it). Then ``&lt; &gt; &amp;`` are unescaped, exactly once. Everything else is kept
    as typed: formatting markers, and a ``<`` that opens no token.
    """
    out: list[str] = []
    end = 0
    for match in _TOKEN.finditer(text):
        shown = _token(match.group(1), user_name, channel_name)
        if shown is None:
            continue
        out.append(_unescape(text[end:match.start()]))
        out.append(shown)
        end = match.end()
    out.append(_unescape(text[end:]))
    return "".join(out)


def _author(author: str) -> str:
    """``author`` on one line, never holding the attribution that ``from_slack`` looks for."""
    name = _flat(author)
    while VIA.strip() in name:
        name = name.replace(VIA.strip(), VIA.strip().rstrip(":"))
    return name or SOMEONE


def comment_text(*, author: str, text: str, files: Sequence[SlackFile], link: str) -> str:
    """The Altium comment for a Slack reply: attributed in its first words, attachments
    mentioned with their links, and the link back to the Slack message last.

    ``{author} (via Slack): {text}``, then ``Attachment: {name} {link}`` per file, then
    ``Slack message: {link}``. The text is stripped; a reply of files alone begins with its
    first attachment line, and one with neither text nor files says "(no text)". Names and
    links are flattened to one line each, so the last line is always the link back.
    """
    lines = [ATTACHMENT + _flat(f"{item.name} {item.link}") for item in files]
    stripped = text.strip()
    if stripped:
        lines.insert(0, stripped)
    body = "\n".join(lines) or NO_TEXT
    return f"{_author(author)}{VIA}{body}\n{LINK}{_flat(link)}"


def from_slack(comment: str) -> FromSlack | None:
    """The Slack reply a comment was written from, read back from its text; None when the
    comment was not written by ``comment_text`` (someone may paste a Slack link by hand).

    The channel and ts come from the last line's Slack permalink only, so a link quoted in
    the text cannot stand in for it.
    """
    head, newline, last = comment.rstrip().rpartition("\n")
    if not newline or not last.startswith(LINK):
        return None
    link = last.removeprefix(LINK).strip()
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    if parts.scheme != "https" or not (parts.hostname or "").endswith(".slack.com"):
        return None
    found = _PERMALINK_PATH.fullmatch(parts.path)
    if found is None:
        return None
    author, via, body = head.partition(VIA)
    if not via or not author or "\n" in author:
        return None
    channel_id, seconds, micros = found.groups()
    return FromSlack(author=author, body=body, link=link, channel_id=channel_id,
                     ts=f"{seconds}.{micros}")


__all__ = ["FromSlack", "SlackFile", "comment_text", "from_slack", "plain_text"]
