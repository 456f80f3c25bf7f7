"""A Slack message as the cards build it and delivery posts it.

Its own module so the layouts (``bot.slack.cards``, ``bot.slack.digest_layout``) and
delivery share it without the layouts importing delivery.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

People = Callable[[str | None], str | None]
"""An Altium user's e-mail -> their Slack user id, or None when Slack has nobody by it."""


@dataclass(frozen=True)
class Message:
    """What one Slack post says: a short notification ``text`` and its Block Kit blocks."""

    text: str
    blocks: list[dict[str, Any]]


@dataclass(frozen=True)
class Unrendered(Message):
    """What a renderer hands on when it could not build a message: why, for the set-aside."""

    reason: str = ""
