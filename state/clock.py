"""Time in one form: the clock every part takes from outside, and the store's text of a moment.

Every time the bot keeps is UTC text with milliseconds and a ``Z``
(``2026-11-28T09:00:00.000Z``), so the store can compare and sort times as text. ``stamp``
writes that form and ``parse_stamp`` reads it back (or any ISO 8601 time with an offset).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""What every part that needs the time takes from outside, so tests can move it."""


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """``moment`` in the store's text form: UTC, milliseconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_stamp(text: str) -> datetime:
    """A stored time (``...Z``, or any ISO 8601 time with an offset) as an aware datetime;
    ``ValueError`` when it is not one."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
