"""Slack mrkdwn: the one way outside text enters a message, plus links and mentions.

Slack parses ``&``, ``<`` and ``>`` in any text it shows, so ``<!channel>``, ``<@U123>`` or
``<https://evil|label>`` typed into an Altium comment would ping or disguise a link. Every
outside text (from Altium, or typed by a person) goes through ``escape`` exactly once, where
it is rendered: ``escape`` flattens it to one line if asked, cuts it to the room it has and
escapes it, all in one call, so there is nothing to apply on top. What it returns is marked
``Mrkdwn``, and ``escape`` refuses such text: escaping twice fails loudly instead of showing
``&amp;lt;`` to people. ``link`` and ``mention`` escape their own labels. ``cut`` shortens
text that is already mrkdwn (never inside an entity or a ``<…>`` token) and escapes nothing.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
ELLIPSIS = "…"


class Mrkdwn(str):
    """Text that is already mrkdwn: what ``escape`` returns, never to be escaped again."""


def escape(text: str, limit: int | None = None, *, flat: bool = False) -> Mrkdwn:
    """Outside ``text`` shown literally in mrkdwn: no pings, no links, no entities of its own.

    ``flat`` first joins it into one line (runs of whitespace become one space); ``limit``
    bounds the characters sent (entities count in full), cutting before an entity, never
    inside one, and marking the cut with "…". Raises ``TypeError`` for text ``escape``
    already returned.
    """
    if isinstance(text, Mrkdwn):
        raise TypeError("text is already escaped for mrkdwn; escape it once, where it is "
                        "rendered")
    if flat:
        text = " ".join(text.split())
    pieces = [_ENTITIES.get(ch, ch) for ch in text]
    if limit is None or sum(map(len, pieces)) <= limit:
        return Mrkdwn("".join(pieces))
    out: list[str] = []
    size = 0
    for piece in pieces:
        if size + len(piece) > limit - len(ELLIPSIS):
            break
        out.append(piece)
        size += len(piece)
    return Mrkdwn("".join(out) + ELLIPSIS)


def cut(text: str, limit: int) -> str:
    """mrkdwn ``text`` shortened to at most ``limit`` characters with "…", never inside an
    entity (``&amp;``) or a ``<…>`` token (a link, mention or date); it escapes nothing."""
    if len(text) <= limit:
        return text
    end = max(0, limit - len(ELLIPSIS))
    head = text[:end]
    amp, semi = head.rfind("&"), head.rfind(";")
    if amp > semi:
        head = head[:amp]
    opened, closed = head.rfind("<"), head.rfind(">")
    if opened > closed:
        head = head[:opened]
    return head + ELLIPSIS


def link(url: str, label: str, limit: int | None = None) -> str:
    """``<url|label>`` for an http(s) URL (made safe for Slack's syntax), else the label;
    ``label`` is outside text, escaped (and cut to ``limit``) here."""
    shown = escape(label, limit, flat=True)
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return shown
    safe = quote(url, safe=":/?#[]@!$&'()*+,;=%~.-_")
    return f"<{safe.replace('&', '&amp;')}|{shown.replace('|', '¦')}>"


def mention(user_id: str | None, name: str | None, limit: int | None = None) -> str:
    """``<@U…>`` when the person has a Slack account, else their name, escaped."""
    if user_id:
        return f"<@{user_id}>"
    return escape(name or "someone", limit, flat=True)
