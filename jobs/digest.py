"""Scheduled digests: each channel's design-review summary, on its own schedule, once a period.

- ``parse_schedule`` reads ``daily 09:00 [TZ]``, ``weekly mon 09:00 [TZ]``,
  ``weekdays 09:00 [TZ]``, ``off``, ``now`` or nothing (show), with ``--quiet``.
- Fire times come from APScheduler's ``CronTrigger`` in the channel's time zone, so 09:00
  stays 09:00 local across DST changes; a wall time that occurs twice on the night the
  clocks go back fires once, at its first occurrence. All times returned are UTC.
- A scheduled fire covers the period from the previous fire to this one. An event belongs
  to the period in which a poll saw it (``detected_at``), so consecutive digests count
  every event exactly once, however late the poll that found it. ``now`` covers the time
  since the channel's last digest, or the last 24 hours.
- ``DigestRunner`` claims a period before building it and records it in the ledger after,
  so restarts, a second scheduler and re-runs never send a period twice; a period missed
  while the bot was down is sent once on ``catch_up`` when its fire time is within the
  grace period, and only the latest missed one. The period's claim and the post's are the
  claims every delivery takes (``state.claims``): the digest is a keyed post made under its
  channel's claim, so it never races a delivery in that channel. A channel another
  process is delivering is ``BusyError``: the period is given back and ``catch_up`` (after
  each delivery of ``run``) sends it.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, available_timezones

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.slack.delivery import Message
from state.clock import Clock, parse_stamp, stamp, utc_now
from state.digests import DAYS, LEASE, ChannelDigest, Claim, DigestKind, Digests, DigestSetting
from state.errors import BusyError, ReviewBotError, SetAsideError
from state.filters import wants
from state.model import BOM_ORDER, Event, ProjectInfo, Thread, designator_key
from state.store import Store, Subscription, stored_event

log = logging.getLogger(__name__)

GRACE: Final = timedelta(hours=1)
NOW_LOOKBACK: Final = timedelta(hours=24)
MISFIRE_GRACE_SECONDS: Final = 3600
WAITING_LIMIT: Final = 5
QUIET_AFTER: Final = timedelta(days=1)
"""An open thread counts as quiet once nobody has written in it for this long."""
JOB_PREFIX: Final = "digest:"
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


# -- schedule maths ------------------------------------------------------------------------

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


# -- the digest ----------------------------------------------------------------------------

@dataclass(frozen=True)
class OpenThread:
    """An open thread as the digest lists it; times are the store's UTC text.

    ``reopened_at`` is when it was last reopened, as far as the event log knows (None: not
    reopened since the project was first polled).
    """

    number: int
    document: str | None
    opened_by: str
    opened_at: str
    text: str
    last_by: str
    last_at: str
    replies: int
    reopened_at: str | None = None

    @property
    def open_since(self) -> str:
        """When the thread became open this time: its last reopening, else its opening."""
        return max(self.opened_at, self.reopened_at or "")

    @property
    def quiet_since(self) -> str:
        """The thread's last activity: its newest comment, or its reopening if later."""
        return max(self.last_at, self.reopened_at or "")


@dataclass(frozen=True)
class BomChange:
    """One change of one designator, however many variants it happened in (named here)."""

    event: Event
    variants: tuple[str, ...]

    @property
    def kind(self) -> str:
        return self.event.kind


@dataclass(frozen=True)
class ProjectDigest:
    """One subscribed project over one period, as the channel's subscription sees it.

    ``open_threads`` is None before the project's first poll; ``oldest_open`` is the thread
    open longest since it was last (re)opened. ``waiting`` holds the open threads nobody
    wrote in for ``QUIET_AFTER`` or more, quiet longest first (whoever spoke last).
    ``bom_changes`` are ordered replaced, removed, added, fitted, then by designator; the
    same change of a designator in several variants is one change, and ``bom_counts``
    counts changes that way.
    """

    project: ProjectInfo
    groups: tuple[str, ...]
    events: int
    thread_counts: Mapping[str, int]
    open_threads: int | None
    oldest_open: OpenThread | None
    waiting: tuple[OpenThread, ...]
    bom_counts: Mapping[str, int]
    bom_changes: tuple[BomChange, ...]
    revisions: tuple[Event, ...]

    @property
    def active(self) -> bool:
        return self.events > 0


@dataclass(frozen=True)
class Digest:
    """A channel's digest of ``[start, end)`` (UTC); ``kind`` is the schedule or "now"."""

    channel: str
    kind: str
    start: datetime
    end: datetime
    tz: str
    projects: tuple[ProjectDigest, ...]

    @property
    def empty(self) -> bool:
        """No activity in any subscribed project during the period."""
        return not any(p.active for p in self.projects)


def build_digest(store: Store, channel: str, start: datetime, end: datetime, *,
                 kind: str = "now", tz: str = "UTC",
                 waiting_limit: int = WAITING_LIMIT) -> Digest:
    """The digest of ``channel`` for events seen in ``[start, end)`` and the current snapshots,
    through each subscription's groups and filters; subscriptions are never given history
    from before they began."""
    projects = tuple(
        _project_digest(store, sub, stamp(start), stamp(end), waiting_limit)
        for sub in store.subscriptions(channel=channel))
    ordered = tuple(sorted(projects, key=lambda p: (not p.active, p.project.name.casefold())))
    return Digest(channel=channel, kind=kind, start=start.astimezone(UTC),
                  end=end.astimezone(UTC), tz=tz, projects=ordered)


def _project_digest(store: Store, sub: Subscription, start: str, end: str,
                    waiting_limit: int) -> ProjectDigest:
    rows = store.rows(
        "select * from events where project_id = ? and id > ? and detected_at >= ? "
        "and detected_at < ? order by id", [sub.project_id, sub.after_event_id, start, end])
    events = [e for e in (stored_event(r).event for r in rows)
              if wants(sub.groups, sub.filters, e)]
    snapshot = store.load_snapshot(sub.project_id, with_bom=False)
    project = snapshot.project if snapshot is not None else _catalog_project(store, sub)
    threads: list[OpenThread] | None = None
    if snapshot is not None:
        reopened = _reopenings(store, sub.project_id)
        threads = [_open_thread(t, reopened.get(t.thread_id)) for t in snapshot.threads.values()
                   if t.is_open and wants(sub.groups, sub.filters, _probe(sub, t))]
    bom = merge_bom_changes(sorted(
        (e for e in events if e.kind in BOM_ORDER),
        key=lambda e: (BOM_ORDER.index(e.kind), designator_key(e.designator))))
    oldest = min(threads, key=lambda t: (t.open_since, t.number)) if threads else None
    quiet_before = stamp(_parse(end) - QUIET_AFTER)
    waiting = sorted((t for t in threads or [] if t.quiet_since <= quiet_before),
                     key=lambda t: (t.quiet_since, t.number))[:waiting_limit]
    return ProjectDigest(
        project=project, groups=sub.groups, events=len(events),
        thread_counts=Counter(e.kind for e in events if e.kind.startswith(("thread_",
                                                                             "comment_"))),
        open_threads=None if threads is None else len(threads), oldest_open=oldest,
        waiting=tuple(waiting), bom_counts=Counter(c.kind for c in bom),
        bom_changes=tuple(bom),
        revisions=tuple(e for e in events if e.kind == "revision_committed"))


def merge_bom_changes(events: Sequence[Event]) -> list[BomChange]:
    """BOM events with the same change of the same designator in several variants merged
    into one ``BomChange`` naming the variants, in the order first seen."""
    merged: dict[tuple[object, ...], list[Event]] = {}
    for e in events:
        key = (e.kind, e.designator, e.old_manufacturer, e.old_mpn, e.new_manufacturer,
               e.new_mpn, e.fitted)
        merged.setdefault(key, []).append(e)
    return [BomChange(event=group[0], variants=tuple(e.variant or "" for e in group))
            for group in merged.values()]


def _reopenings(store: Store, project_id: str) -> dict[str, str]:
    """Thread id -> when it was last reopened, from the event log."""
    rows = store.rows("select thread_id, max(at) as at from events where project_id = ? "
                      "and kind = 'thread_reopened' group by thread_id", [project_id])
    return {r["thread_id"]: r["at"] for r in rows if r["thread_id"]}


def _catalog_project(store: Store, sub: Subscription) -> ProjectInfo:
    for project in store.catalog():
        if project.id == sub.project_id:
            return project
    return ProjectInfo(id=sub.project_id, project_id="", workspace_url="", name=sub.project,
                       description="", url="", updated_at="", revision=None)


def _probe(sub: Subscription, thread: Thread) -> Event:
    """A stand-in event, so a snapshot thread passes the same filters as its events."""
    return Event(kind="thread_opened", project_id=sub.project_id, project=sub.project,
                 at=thread.created_at, thread_id=thread.thread_id,
                 thread_number=thread.number, document=thread.document_name)


def _open_thread(thread: Thread, reopened_at: str | None = None) -> OpenThread:
    first = thread.comments[0] if thread.comments else None
    opener = (first.author if first else None) or thread.created_by
    last = max(thread.comments, key=lambda c: c.created_at) if thread.comments else None
    last_author = (last.author if last else None) or opener
    return OpenThread(
        number=thread.number, document=thread.document_name,
        opened_by=opener.display if opener else "Unknown user", opened_at=thread.created_at,
        text=first.text if first else "",
        last_by=last_author.display if last_author else "Unknown user",
        last_at=last.created_at if last else thread.created_at,
        replies=max(0, len(thread.comments) - 1), reopened_at=reopened_at)


# -- running -------------------------------------------------------------------------------

Post = Callable[[str, str, Message], str]
"""(channel, key, message) -> ts: an exactly-once keyed post (``Deliverer.post_once``)."""

Render = Callable[[Digest], Message]


@dataclass(frozen=True)
class DigestRun:
    """A period this run sent: ``posted`` with its ``ts``, or ``quiet`` (nothing to say)."""

    channel: str
    key: str
    outcome: Literal["posted", "quiet"]
    ts: str | None
    digest: Digest


class DigestRunner:
    """Sends each channel's digest once per period, through restarts and concurrent runs."""

    def __init__(self, *, store: Store | Callable[[], Store], post: Post, render: Render,
                 clock: Clock = utc_now, grace: timedelta = GRACE, lease: timedelta = LEASE,
                 lookback: timedelta = NOW_LOOKBACK) -> None:
        self._store = store
        self.post = post
        self.render = render
        self.clock = clock
        self.grace = grace
        self.lease = lease
        self.lookback = lookback

    @contextmanager
    def _open(self) -> Iterator[Store]:
        """The given store, or a fresh one from the factory (closed after), per unit of work."""
        if isinstance(self._store, Store):
            yield self._store
            return
        store = self._store()
        try:
            yield store
        finally:
            store.close()

    def run(self, channel: str, fire_time: datetime) -> DigestRun | None:
        """Send the scheduled digest whose period ends at ``fire_time``.

        None when the channel has no digest, or the period is posted or claimed by a live run;
        a ``ValueError`` when ``fire_time`` is not one of the channel's fire times.
        """
        with self._open() as store:
            current = Digests(store).get(channel)
            if current is None:
                return None
            if last_fire(current.setting, fire_time) != fire_time.astimezone(UTC):
                raise ValueError(f"{fire_time.isoformat()} is not a fire time of {channel}'s "
                                 f"digest ({describe(current.setting)})")
            return self._scheduled(store, current, fire_time)

    def run_due(self, channel: str) -> DigestRun | None:
        """The cron job: send the channel's latest due period, if not sent yet.

        Failures are logged, not raised: the claim is released, so ``catch_up`` within the
        grace period, or the next fire, tries again.
        """
        with self._open() as store:
            current = Digests(store).get(channel)
            fire = self._due(current, self.clock()) if current is not None else None
            if current is None or fire is None:
                return None
            try:
                return self._scheduled(store, current, fire)
            except ReviewBotError as exc:
                _failed(channel, exc)
                return None

    def catch_up(self, now: datetime | None = None) -> list[DigestRun]:
        """For each channel, send its latest fire at or before ``now`` when that is within
        the grace period and not sent yet: one digest, however many periods were missed."""
        moment = now or self.clock()
        sent: list[DigestRun] = []
        with self._open() as store:
            for current in Digests(store).all():
                fire = self._due(current, moment)
                if fire is None:
                    continue
                try:
                    done = self._scheduled(store, current, fire)
                except ReviewBotError as exc:
                    _failed(current.channel, exc)
                    continue
                if done is not None:
                    sent.append(done)
        return sent

    def run_now(self, channel: str) -> DigestRun | None:
        """A digest right now, of the time since the channel's last digest (or the last 24 h).

        Always posts, even for a quiet period; None only if the same moment was already sent.
        """
        end = self.clock().astimezone(UTC)
        with self._open() as store:
            digests = Digests(store)
            last = digests.last_posted(channel)
            start = end - self.lookback
            if last is not None and last.period_end:
                start = min(_parse(last.period_end), end)
            current = digests.get(channel)
            tz = current.setting.tz if current is not None else "UTC"
            return self._send(store, channel, f"{JOB_PREFIX}now:{stamp(end)}", start, end,
                              kind="now", tz=tz, quiet=False)

    def _due(self, current: ChannelDigest, now: datetime) -> datetime | None:
        fire = last_fire(current.setting, now)
        if fire is None or now - fire > self.grace or fire < _parse(current.updated_at):
            return None
        return fire

    def _scheduled(self, store: Store, current: ChannelDigest,
                   fire_time: datetime) -> DigestRun | None:
        start, end = period_of(current.setting, fire_time)
        return self._send(store, current.channel, f"{JOB_PREFIX}{stamp(start)}", start, end,
                          kind=current.setting.kind, tz=current.setting.tz,
                          quiet=current.setting.quiet)

    def _send(self, store: Store, channel: str, key: str, start: datetime, end: datetime, *,
              kind: str, tz: str, quiet: bool) -> DigestRun | None:
        digests = Digests(store)
        claim = digests.claim(channel, key, now=self.clock(), start=start, end=end,
                              lease=self.lease)
        if claim is None:
            log.debug("digest %s for %s is already sent or being sent", key, channel)
            return None
        if claim.took_over:
            log.warning("digest %s for %s: taking over a run that never finished",
                        key, channel)
        try:
            digest = build_digest(store, channel, start, end, kind=kind, tz=tz)
            if digest.empty and quiet:
                digests.mark_posted(claim, ts=None, now=self.clock())
                return DigestRun(channel=channel, key=key, outcome="quiet", ts=None,
                                 digest=digest)
            ts = self.post(channel, key, self.render(digest))
        except BaseException:
            _release(digests, claim)
            raise
        digests.mark_posted(claim, ts=ts, now=self.clock())
        log.info("digest %s posted to %s", key, channel)
        return DigestRun(channel=channel, key=key, outcome="posted", ts=ts, digest=digest)


def _failed(channel: str, exc: ReviewBotError) -> None:
    """A digest that failed is an error; one set aside was reported once when it was set
    aside (and the operators told), so meeting it again is only worth an info line, and
    one whose channel another process is delivering is sent by a later ``catch_up``."""
    if isinstance(exc, BusyError):
        log.info("digest for %s waits: %s", channel, exc)
        return
    (log.info if isinstance(exc, SetAsideError) else log.error)(
        "digest for %s failed: %s", channel, exc)


def _release(digests: Digests, claim: Claim) -> None:
    try:
        digests.release(claim)
    except ReviewBotError as exc:
        log.warning("could not release digest claim %s: %s", claim.period, exc)


def _parse(text: str) -> datetime:
    moment = parse_stamp(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- APScheduler ---------------------------------------------------------------------------

def schedule_digests(scheduler: BaseScheduler, store: Store,
                     job: Callable[[str], Any]) -> list[str]:
    """(Re)build one cron job per channel with digests (id ``digest:<channel>``), calling
    ``job(channel)``; jobs of channels that turned digests off are removed, and a job whose
    setting did not change is left alone, so a rebuild never skips a pending fire."""
    wanted = {f"{JOB_PREFIX}{c.channel}": c for c in Digests(store).all()}
    for existing in scheduler.get_jobs():
        if existing.id.startswith(JOB_PREFIX) and existing.id not in wanted:
            scheduler.remove_job(existing.id)
    for job_id, current in wanted.items():
        name = f"{JOB_PREFIX}{current.channel} {_signature(current.setting)}"
        existing = scheduler.get_job(job_id)
        if existing is not None and existing.name == name:
            continue
        scheduler.add_job(job, cron_trigger(current.setting), args=[current.channel],
                          id=job_id, name=name, coalesce=True, max_instances=1,
                          misfire_grace_time=MISFIRE_GRACE_SECONDS, replace_existing=True)
    return sorted(wanted)


def _signature(setting: DigestSetting) -> str:
    return " ".join(str(v) for v in (setting.kind, setting.day or "-", setting.time, setting.tz,
                                     "quiet" if setting.quiet else "loud"))

