"""Slack mrkdwn: escaping text that came from Altium, and building links and mentions.

Slack parses ``&``, ``<`` and ``>`` in any mrkdwn text, so ``<!channel>``, ``<@U123>`` or
``<https://evil|label>`` typed into an Altium comment would ping or disguise a link. Every
outside text goes through ``escape`` (or ``clip``, which escapes) before it is posted.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape(text: str) -> str:
    """Text shown literally in mrkdwn: no pings, no links, no entities of its own."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """``escape(text)`` cut to at most ``limit`` characters, never inside an entity."""
    if len(text) < limit and not any(ch in text for ch in _ENTITIES):
        return text
    out: list[str] = []
    size = 0
    for ch in text:
        piece = _ENTITIES.get(ch, ch)
        if size + len(piece) > limit - 1:
            out.append("…")
            return "".join(out)
        out.append(piece)
        size += len(piece)
    return "".join(out)


def one_line(text: str) -> str:
    return " ".join(text.split())


def link(url: str, label: str) -> str:
    """``<url|label>`` for an http(s) URL (made safe for Slack's syntax), else the label."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return escape(label)
    safe = quote(url, safe=":/?#[]@!$&'()*+,;=%~.-_")
    return f"<{safe.replace('&', '&amp;')}|{escape(label).replace('|', '¦')}>"


def mention(user_id: str | None, name: str | None) -> str:
    """``<@U…>`` when the person has a Slack account, else their name, escaped."""
    if user_id:
        return f"<@{user_id}>"
    return escape(name or "someone")
