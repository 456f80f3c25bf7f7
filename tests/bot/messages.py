"""Checks shared by the card and digest tests: text, limits and escaping of a message."""

from __future__ import annotations

from bot.slack.limits import MESSAGE, within
from bot.slack.message import Message
from sandbox.slack.blocks import refusal
from state.model import Event

HOSTILE = "<!channel> <@U024BE7LH> <https://evil.example|datasheet> & *bold* <#C123>"


def texts(message: Message) -> str:
    """Every ``text`` in a message's blocks, one a line."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if k == "text" and isinstance(v, str):
                    found.append(v)
                else:
                    walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(message.blocks)
    return "\n".join(found)


def assert_within_limits(message: Message) -> None:
    """The message passes the local Slack's own checks, inside the bot's budget."""
    assert refusal(message.blocks, path="message") is None
    assert within(message.blocks, MESSAGE)
    assert 0 < len(message.text) <= 300 and message.text.strip()


def assert_escaped(message: Message) -> None:
    for raw in ("<!channel>", "<@U024BE7LH>", "<https://evil.example", "<#C123>"):
        assert raw not in texts(message) and raw not in message.text
    assert "&lt;!channel&gt;" in texts(message)


def event(kind: str, **fields: object) -> Event:
    base: dict[str, object] = {"project_id": "P1", "project": "Motor Controller",
                               "at": "2026-11-28T09:00:00.000Z"}
    return Event(kind=kind, **{**base, **fields})  # type: ignore[arg-type]
