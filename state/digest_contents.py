"""A digest's contents: what a channel's subscribed projects did over one period, read from the
store (events seen in the period, open threads, BOM changes), before anything is laid out.

An event belongs to the period in which a poll saw it (``detected_at``), so consecutive
periods count every event exactly once, however late the poll that found it. Each project is
seen through its subscription's groups and filters, and never with history from before the
subscription began. The period's new parts at supply risk are judged on the supply facts
already kept: a digest never asks for any.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from state.clock import parse_stamp, stamp
from state.filters import wants
from state.model import BOM_ORDER, Event, ProjectInfo, Thread, designator_key
from state.part_supply import PartSupply
from state.store import Store, Subscription, stored_event
from state.supply import PartKey, Thresholds

WAITING_LIMIT: Final = 5
QUIET_AFTER: Final = timedelta(days=1)
"""An open thread counts as quiet once nobody has written in it for this long."""


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
class SupplyRisk:
    """A part the period's BOM changes put in that is a supply risk (by the kept facts):
    the variants and designators it went to, and why."""

    key: PartKey
    variants: tuple[str, ...]
    designators: tuple[str, ...]
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ProjectDigest:
    """One subscribed project over one period, as the channel's subscription sees it.

    ``open_threads`` is None before the project's first poll; ``oldest_open`` is the thread
    open longest since it was last (re)opened. ``waiting`` holds the open threads nobody
    wrote in for ``QUIET_AFTER`` or more, quiet longest first (whoever spoke last).
    ``bom_changes`` are ordered replaced, removed, added, fitted, then by designator; the
    same change of a designator in several variants is one change, and ``bom_counts``
    counts changes that way. ``supply_risks`` are the period's new parts at supply risk.
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
    supply_risks: tuple[SupplyRisk, ...] = ()

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

    @property
    def supply_risks(self) -> list[tuple[ProjectInfo, SupplyRisk]]:
        """Every project's new parts at supply risk, with their project."""
        return [(p.project, risk) for p in self.projects for risk in p.supply_risks]


def build_digest(store: Store, channel: str, start: datetime, end: datetime, *,
                 kind: str = "now", tz: str = "UTC",
                 waiting_limit: int = WAITING_LIMIT,
                 thresholds: Thresholds | None = None) -> Digest:
    """The digest of ``channel`` for events seen in ``[start, end)`` and the current snapshots,
    through each subscription's groups and filters; subscriptions are never given history
    from before they began. New parts are judged by ``thresholds`` (the defaults when not
    given) on the supply facts kept, however old: a digest never asks for any."""
    parts = PartSupply(store, thresholds)
    projects = tuple(
        _project_digest(store, sub, stamp(start), stamp(end), waiting_limit, parts)
        for sub in store.subscriptions(channel=channel))
    ordered = tuple(sorted(projects, key=lambda p: (not p.active, p.project.name.casefold())))
    return Digest(channel=channel, kind=kind, start=start.astimezone(UTC),
                  end=end.astimezone(UTC), tz=tz, projects=ordered)


def _project_digest(store: Store, sub: Subscription, start: str, end: str,
                    waiting_limit: int, parts: PartSupply) -> ProjectDigest:
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
    quiet_before = stamp(parse_stamp(end) - QUIET_AFTER)
    waiting = sorted((t for t in threads or [] if t.quiet_since <= quiet_before),
                     key=lambda t: (t.quiet_since, t.number))[:waiting_limit]
    return ProjectDigest(
        project=project, groups=sub.groups, events=len(events),
        thread_counts=Counter(e.kind for e in events if e.kind.startswith(("thread_",
                                                                             "comment_"))),
        open_threads=None if threads is None else len(threads), oldest_open=oldest,
        waiting=tuple(waiting), bom_counts=Counter(c.kind for c in bom),
        bom_changes=tuple(bom),
        revisions=tuple(e for e in events if e.kind == "revision_committed"),
        supply_risks=supply_risks(parts, events))


def supply_risks(parts: PartSupply, events: Sequence[Event]) -> tuple[SupplyRisk, ...]:
    """The parts ``events`` put into a BOM that are at supply risk, one per part and
    variant, in the order first seen; variants putting a part on the same designators for
    the same reasons are one."""
    keys: dict[str, PartKey] = {}
    placed: dict[tuple[str, str], list[Event]] = {}
    for event in events:
        key = PartKey.of_new_part(event)
        if key is not None:
            keys.setdefault(key.id, key)
            placed.setdefault((key.id, event.variant or ""), []).append(event)
    parts.facts(keys.values())
    merged: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for (key_id, variant), group in placed.items():
        judged = parts.judge(group[0])
        if judged is None or not judged.reasons:
            continue
        designators = tuple(sorted({e.designator or "?" for e in group}, key=designator_key))
        merged.setdefault((key_id, designators, judged.reasons), []).append(variant)
    return tuple(SupplyRisk(key=keys[key_id], variants=tuple(variants),
                            designators=designators, reasons=reasons)
                 for (key_id, designators, reasons), variants in merged.items())


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
