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


Scale = tuple[tuple[int, int, str], ...]
"""How an age is said, largest unit first: (from how many seconds, seconds in one, its name)."""

BRIEF: Scale = ((86400, 86400, "d"), (3600, 3600, "h"), (60, 60, "min"))
"""5 min, 3 h, 4 d: short answers in Slack."""

IN_DAYS: Scale = ((2 * 86400, 86400, "days"), (3600, 3600, "h"), (60, 60, "min"))
"""Hours for the first two days, then days: digests."""

LISTING: Scale = ((2 * 86400, 86400, "days"), (2 * 3600, 3600, "h"), (60, 60, "min"))
"""Minutes for the first two hours, hours for two days, then days: the command line."""


def ago(then: str | datetime, now: datetime, *, scale: Scale = BRIEF,
        suffix: str = " ago", recent: str = "just now",
        unknown: str = "at an unknown time") -> str:
    """How long before ``now`` ``then`` (a moment or a stored time) was, as people say it.

    The largest unit of ``scale`` that fits counts whole units, followed by ``suffix``
    ("5 min ago"); under the smallest unit it is ``recent``, and a stored time that cannot
    be read is ``unknown``. Each place keeps its own wording through these, never a copy.
    """
    if isinstance(then, str):
        try:
            then = parse_stamp(then)
        except ValueError:
            return unknown
    seconds = max(0.0, (now - then).total_seconds())
    for start, size, unit in scale:
        if seconds >= start:
            return f"{int(seconds // size)} {unit}{suffix}"
    return recent
