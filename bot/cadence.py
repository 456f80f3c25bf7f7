"""A channel's digest cadence: the setting's text, its words for people, its time zone, and
the fire times and periods it gives.

- ``parse_schedule`` reads ``daily 09:00 [TZ]``, ``weekly mon 09:00 [TZ]``,
  ``weekdays 09:00 [TZ]``, ``off``, ``now`` or nothing (show), with ``--quiet``.
- Fire times come from APScheduler's ``CronTrigger`` in the channel's time zone, so 09:00
  stays 09:00 local across DST changes; a wall time that occurs twice on the night the
  clocks go back fires once, at its first occurrence. All times returned are UTC.
- A fire covers the period from the previous fire to this one (``period_of``).

The cron jobs that fire them are the run loop's (``bot.workers``); sending a period is
``bot.digests``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Final
from zoneinfo import ZoneInfo, available_timezones

from apscheduler.triggers.cron import CronTrigger

from state.digests import DAYS, DigestKind, DigestSetting
from state.errors import ReviewBotError

DEFAULT_TZ_ENV: Final = "REVIEW_BOT_TZ"

FORMS: Final = (
    "daily HH:MM [TZ] | weekly DAY HH:MM [TZ] | weekdays HH:MM [TZ] | off | now | nothing "
    "to show the setting; DAY is mon..sun, HH:MM a 24-hour time, TZ an IANA name such as "
    "Europe/Berlin or UTC; add --quiet to post nothing for a period without activity"
)

_DAY_NAMES: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                     "sunday")
_TIME: Final = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")
_QUIET: Final = frozenset({"--quiet", "quiet", "-q"})
_LOOKBACK: Final[Mapping[str, timedelta]] = {
    "daily": timedelta(days=2), "weekdays": timedelta(days=4), "weekly": timedelta(days=8)}
_FIRE_SEARCH_LIMIT: Final = 16


class ScheduleError(ReviewBotError, ValueError):
    """A digest schedule that cannot be read; the message lists the accepted forms."""

    def __init__(self, problem: str) -> None:
        super().__init__(f"{problem}. Accepted: {FORMS}")


@dataclass(frozen=True)
class Off:
    """Turn the channel's digests off."""


@dataclass(frozen=True)
class Now:
    """Send a digest now, covering the time since the channel's last one."""


@dataclass(frozen=True)
class Show:
    """Show the channel's digest setting."""


# -- parsing -------------------------------------------------------------------------------

def parse_schedule(words: Sequence[str], *,
                   default_tz: str) -> DigestSetting | Off | Now | Show:
    """Read a digest command's words; raises ``ScheduleError`` on anything else."""
    items = [w for word in words for w in word.split()]
    quiet = any(w.casefold() in _QUIET for w in items)
    items = [w for w in items if w.casefold() not in _QUIET]
    if not items:
        if quiet:
            raise ScheduleError("--quiet goes with a schedule")
        return Show()
    head, rest = items[0].casefold(), items[1:]
    if head in {"off", "now"}:
        if rest or quiet:
            raise ScheduleError(f"{head!r} takes nothing after it")
        return Off() if head == "off" else Now()
    if head in {"daily", "weekdays", "weekday"}:
        if not 1 <= len(rest) <= 2:
            raise ScheduleError(f"{head!r} needs a time and optionally a time zone")
        kind: DigestKind = "daily" if head == "daily" else "weekdays"
        return DigestSetting(kind=kind, time=_time(rest[0]),
                             tz=resolve_timezone(rest[1] if len(rest) > 1 else default_tz),
                             quiet=quiet)
    if head == "weekly":
        if not 2 <= len(rest) <= 3:
            raise ScheduleError("'weekly' needs a day, a time and optionally a time zone")
        return DigestSetting(kind="weekly", day=_day(rest[0]), time=_time(rest[1]),
                             tz=resolve_timezone(rest[2] if len(rest) > 2 else default_tz),
                             quiet=quiet)
    raise ScheduleError(f"unknown digest setting {items[0]!r}")


def _time(text: str) -> str:
    match = _TIME.fullmatch(text)
    if match:
        return f"{int(match.group(1)):02d}:{match.group(2)}"
    raise ScheduleError(f"invalid time {text!r} (use a 24-hour H:MM or HH:MM)")


def _day(text: str) -> str:
    name = text.casefold()
    for short, full in zip(DAYS, _DAY_NAMES, strict=True):
        if len(name) >= 3 and full.startswith(name):
            return short
    raise ScheduleError(f"invalid day {text!r}")


@cache
def _zones() -> dict[str, str]:
    return {name.casefold(): name for name in available_timezones() | {"UTC"}}


def resolve_timezone(name: str) -> str:
    """An IANA time zone name in its canonical spelling (any case accepted)."""
    found = _zones().get(name.strip().casefold())
    if found is None:
        raise ScheduleError(f"unknown time zone {name!r}")
    return found


def default_timezone(environ: Mapping[str, str]) -> str:
    """The digest time zone from ``REVIEW_BOT_TZ`` (UTC when unset)."""
    value = environ.get(DEFAULT_TZ_ENV, "").strip()
    return resolve_timezone(value) if value else "UTC"


def describe(setting: DigestSetting, *, now: datetime | None = None) -> str:
    """One line for people: when the digest comes, and the next one when ``now`` is given."""
    if setting.kind == "weekly":
        day = _DAY_NAMES[DAYS.index(setting.day or "mon")].title()
        text = f"weekly on {day} at {setting.time}"
    elif setting.kind == "weekdays":
        text = f"every weekday at {setting.time}"
    else:
        text = f"daily at {setting.time}"
    text += f" ({setting.tz})"
    text += "; nothing for a quiet period" if setting.quiet else \
        "; a short line for a quiet period"
    if now is not None:
        nxt = next_fire(setting, now).astimezone(ZoneInfo(setting.tz))
        text += f"; next {nxt.strftime('%a %Y-%m-%d %H:%M %Z')}"
    return text


# -- fire times ----------------------------------------------------------------------------

def cron_trigger(setting: DigestSetting) -> CronTrigger:
    """The APScheduler trigger of a setting, in the setting's own time zone."""
    days = {"daily": "*", "weekdays": "mon-fri", "weekly": setting.day}[setting.kind]
    return CronTrigger(day_of_week=days, hour=setting.hour, minute=setting.minute,
                       timezone=ZoneInfo(setting.tz))


def _repeated(fire: datetime) -> bool:
    """The second occurrence of a wall time on the night the clocks go back."""
    return fire.fold == 1 and fire.replace(fold=0).utcoffset() != fire.utcoffset()


def next_fire(setting: DigestSetting, after: datetime) -> datetime:
    """The first fire strictly after ``after``, in UTC."""
    trigger = cron_trigger(setting)
    probe = after.astimezone(UTC)
    for _ in range(_FIRE_SEARCH_LIMIT):
        fire: datetime | None = trigger.get_next_fire_time(
            None, probe + timedelta(microseconds=1))
        if fire is None:
            break
        moment = fire.astimezone(UTC)
        if moment <= probe or _repeated(fire):
            probe = max(moment, probe + timedelta(seconds=1))
            continue
        return moment
    raise ValueError(f"no fire time found for {describe(setting)} after {after.isoformat()}")


def last_fire(setting: DigestSetting, at: datetime) -> datetime | None:
    """The latest fire at or before ``at``, in UTC."""
    limit = at.astimezone(UTC)
    probe = limit - _LOOKBACK[setting.kind]
    last: datetime | None = None
    while True:
        fire = next_fire(setting, probe)
        if fire > limit:
            return last
        last = probe = fire


def period_of(setting: DigestSetting, fire: datetime) -> tuple[datetime, datetime]:
    """The period a fire covers: from the previous fire to this one, in UTC."""
    end = fire.astimezone(UTC)
    start = last_fire(setting, end - timedelta(microseconds=1))
    return (start or end - _LOOKBACK[setting.kind]), end
