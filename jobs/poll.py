"""The poller: one pass over every watched project, from Nexar to snapshot and events.

Comment threads are read on every poll (a new comment need not move ``updatedAt``); a
BOM only when its project's revision or ``updatedAt`` moved, none is stored, or the last
read failed. Fetches run on a bounded thread pool; all writes happen on the calling thread,
one transaction per project, so a crash or Ctrl-C leaves each project's snapshot and events
whole or untouched.

One poller at a time per database: a poll first takes the poller's lease (``state.claims``)
and keeps it alive with heartbeats, from a thread of its own and at every project written;
a poll that finds it held by a live poller does nothing and says who holds it. Each
project's diff and write run in one write transaction that reads the stored snapshot
again: when another writer changed it since the poll first read it, the project is left
to the next poll, so no change is ever recorded twice. Nothing waits on Nexar while the
write lock is held.

Nexar's odd answers never become events: a failed design read still saves the project's
threads (the BOM keeps its last good read and is read again next poll), and a sudden loss
of most threads or BOM lines is read a second time before it is believed.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import threading
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from jobs.errors import NexarAuthError, NexarError
from jobs.nexar import Design, NexarClient, Workspace
from jobs.records import Fingerprint, threads_fingerprint
from state.claims import Lease, LeaseHolder
from state.clock import Clock, parse_stamp, stamp, utc_now
from state.diff import diff
from state.errors import ReviewBotError, StoreError
from state.model import Bom, ProjectInfo, Snapshot, Thread
from state.store import PollMark, PollStatus, Store

log = logging.getLogger(__name__)


CATALOG_LISTED_AT = "catalog-listed-at"
"""Meta key: when a workspace's project list was last read from Nexar (how old the cache is)."""

FULL_READ_EVERY = timedelta(hours=1)
"""How often threads are read in full although their fingerprint stood still: a comment's
edit is seen by the fingerprint only if Nexar moves the thread's ``modifiedAt`` for it,
which no public source confirms."""

SUDDEN_LOSS_MIN = 5
SUDDEN_LOSS_SHARE = 0.5
"""A read that loses more than ``SUDDEN_LOSS_MIN`` threads (or BOM lines) and more than this
share of the stored ones is read again before it becomes events."""


@dataclass(frozen=True)
class LeasePolicy:
    """How a poll holds the poller's lease: a heartbeat every ``period`` seconds; a lease
    whose heartbeat is ``missed`` periods late is taken over (its holder was killed)."""

    period: float = 10.0
    missed: int = 3

    @property
    def timeout(self) -> timedelta:
        return timedelta(seconds=self.period * self.missed)

    @classmethod
    def for_interval(cls, poll_interval: float) -> LeasePolicy:
        """Heartbeats a thirtieth of the poll interval apart, between 1 and 10 seconds: a
        killed poller's lease is free again well before its next poll was due."""
        return cls(period=min(10.0, max(1.0, poll_interval / 30)))


class _LeaseLost(Exception):
    """The lease expired under this poll (it was frozen) and another poller took it."""


@dataclass
class PollReport:
    """What one poll did; ``failures`` maps a project (or workspace) name to the reason."""

    started_at: str
    finished_at: str = ""
    projects: int = 0
    events: int = 0
    boms_read: int = 0
    requests: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    unlisted: list[str] = field(default_factory=list)
    held_by: LeaseHolder | None = None
    """Set when another poller holds the lease: this poll did nothing, that one polls."""

    @property
    def ok(self) -> bool:
        return not self.failures

    def health_line(self) -> str:
        if self.held_by is not None:
            return f"poll: skipped, another poller holds this database: {self.held_by.describe()}"
        line = (f"poll: {self.projects} projects, {self.events} events, "
                f"{self.boms_read} BOMs read, {self.requests} requests, "
                f"{len(self.failures)} failures")
        if self.failures:
            line += " (" + "; ".join(f"{k}: {v}" for k, v in sorted(self.failures.items())) + ")"
        return line


class Poller:
    """Polls the watched projects of every workspace the client can see."""

    def __init__(self, *, client: NexarClient, store: Store, clock: Clock = utc_now,
                 concurrency: int = 4, lease: LeasePolicy | None = LeasePolicy(),
                 full_read_every: timedelta | None = FULL_READ_EVERY) -> None:
        """``lease``: None polls without taking the poller's lease (a private database).
        ``full_read_every``: how often a project's threads are read in full even when
        their fingerprint has not moved (None: never)."""
        self.client = client
        self.full_read_every = full_read_every
        self.store = store
        self.clock = clock
        self.concurrency = max(1, concurrency)
        self.lease_policy = lease
        self._lease: Lease | None = None

    def poll_once(self) -> PollReport:
        """Poll once; Nexar failures are reported per project, auth failures raise.

        When another live poller holds the lease, nothing is polled: the report's
        ``held_by`` says who. The lease is given back however the poll ends.
        """
        report = PollReport(started_at=stamp(self.clock()))
        lease = self._take_lease(report)
        if report.held_by is not None:
            return report
        try:
            try:
                with self._heartbeat(lease), _fewer_collections():
                    self._poll(report)
            except _LeaseLost:
                holder = lease.holder() if lease is not None else None
                report.failures["poller lease"] = (
                    "this poll stalled past its lease and another poller took over"
                    + (f" ({holder.describe()})" if holder else "")
                    + "; what it wrote is complete, the rest is polled there")
                report.finished_at = stamp(self.clock())
            self.store.record_poll(PollStatus(
                started_at=report.started_at, finished_at=report.finished_at,
                projects=report.projects, events=report.events, failures=report.failures))
        finally:
            self._lease = None
            if lease is not None:
                self._give_back(lease)
        return report

    def _take_lease(self, report: PollReport) -> Lease | None:
        if self.lease_policy is None:
            return None
        lease = Lease(self.store, clock=self.clock, timeout=self.lease_policy.timeout)
        held = lease.acquire()
        if held is not None:
            report.held_by = held
            log.info("poll skipped: another poller holds this database: %s", held.describe())
            return None
        if lease.taken_over is not None:
            log.info("took over the poller lease of %s, whose heartbeat stopped",
                     lease.taken_over.describe())
        self._lease = lease
        return lease

    def _give_back(self, lease: Lease) -> None:
        """Release the lease; if even that fails, it expires by itself after its timeout."""
        try:
            lease.release()
        except StoreError as exc:
            log.info("the poller lease could not be given back (it expires by itself): %s",
                     exc)

    @contextmanager
    def _heartbeat(self, lease: Lease | None) -> Iterator[None]:
        """Beat ``lease`` every period from a thread with its own connection, so a long
        Nexar wait never lets it expire; stops (and is joined) when the poll ends."""
        if lease is None or self.lease_policy is None or self.store.path == ":memory:":
            yield
            return
        period, path, stop = self.lease_policy.period, self.store.path, threading.Event()

        def beat() -> None:
            try:
                with Store.open(path) as store:
                    mine = lease.on(store)
                    while not stop.wait(period):
                        try:
                            if not mine.beat():
                                return  # taken over: the next write of the poll stops it
                        except StoreError as exc:
                            log.info("poller lease heartbeat failed (tried again): %s", exc)
            except ReviewBotError as exc:
                log.info("poller lease heartbeat stopped: %s", exc)

        thread = threading.Thread(target=beat, name="poller-lease", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def _poll(self, report: PollReport) -> None:
        requests_before = self.client.requests
        started = time.monotonic()
        try:
            workspaces = self.client.workspaces()
        except NexarAuthError:
            raise
        except NexarError as exc:
            report.failures["Nexar"] = str(exc)
            workspaces = []
        with self._pool() as pool:
            for workspace in workspaces:
                self._poll_workspace(workspace, pool, report)
        report.requests = self.client.requests - requests_before
        report.finished_at = stamp(self.clock())
        log.debug("%s in %.2fs", report.health_line(), time.monotonic() - started)

    @contextmanager
    def _pool(self) -> Iterator[ThreadPoolExecutor]:
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="nexar")
        try:
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _poll_workspace(self, workspace: Workspace, pool: ThreadPoolExecutor,
                        report: PollReport) -> None:
        watched = self.store.watched_project_ids()
        homes = {p.id: p.workspace_url for p in self.store.catalog()}
        subscribed = {s.project_id: s.project for s in self.store.subscriptions()}

        def here(project_id: str) -> bool:
            return homes.get(project_id, workspace.url) == workspace.url

        try:
            listing = self.client.projects(workspace)
        except NexarAuthError:
            raise
        except NexarError as exc:
            report.failures[workspace.name] = str(exc)
            for project_id, name in subscribed.items():
                if here(project_id):
                    report.failures.setdefault(name, str(exc))
            return
        self.store.sync_catalog(workspace.url, listing)
        listed_at = self.clock()
        self.store.set_meta(CATALOG_LISTED_AT, stamp(listed_at))
        targets = sorted((p for p in listing if p.id in watched), key=lambda p: p.name.casefold())
        listed = {p.id for p in listing}
        report.unlisted.extend(
            name for project_id, name in subscribed.items()
            if project_id not in listed and here(project_id))
        if not targets:
            return
        marks = self.store.poll_marks()
        prints = self._fingerprints(workspace, pool, [
            p for p in targets if self._may_skip(p, marks.get(p.id), listed_at)])
        full: list[ProjectInfo] = []
        for project in targets:
            found = prints.get(project.id)
            mark = marks.get(project.id)
            if (isinstance(found, Fingerprint) and mark is not None
                    and found.digest == mark.fingerprint):
                report.projects += 1  # unchanged: its snapshot is not even loaded
            else:
                full.append(project)
        self._read_in_full(workspace, pool, full, marks, prints, report)

    def _may_skip(self, project: ProjectInfo, mark: PollMark | None, now: datetime) -> bool:
        """Whether a fingerprint may stand for a full read of the project's threads: it has a
        snapshot with a fingerprint, its listing and BOM need nothing, and its last full
        read is recent."""
        if mark is None or mark.fingerprint is None or mark.bom_pending is not None:
            return False
        if mark.project != project or mark.full_read_at is None:
            return False
        if self.full_read_every is None:
            return True
        return now - parse_stamp(mark.full_read_at) < _spread(self.full_read_every, project.id)

    def _fingerprints(self, workspace: Workspace, pool: ThreadPoolExecutor,
                      projects: Sequence[ProjectInfo]) -> dict[str, Fingerprint | NexarError]:
        size = max(1, self.client.fingerprint_batch_size)
        futures = [pool.submit(self.client.thread_fingerprints, workspace,
                               [p.id for p in projects[i:i + size]])
                   for i in range(0, len(projects), size)]
        found: dict[str, Fingerprint | NexarError] = {}
        for future in futures:
            found.update(future.result())
        return found

    def _read_in_full(self, workspace: Workspace, pool: ThreadPoolExecutor,
                      projects: Sequence[ProjectInfo], marks: Mapping[str, PollMark],
                      prints: Mapping[str, Fingerprint | NexarError], report: PollReport,
                      ) -> None:
        """Read threads (and BOMs where needed) of ``projects`` and save each, a batch at a
        time: the next batch is fetched while this one is written, and a batch's reads are
        let go once it is written, so memory holds two batches whatever the workspace."""
        size = max(1, self.client.batch_size)
        batches = [projects[i:i + size] for i in range(0, len(projects), size)]
        ahead: _Batch | None = None
        for number, batch in enumerate(batches):
            current = ahead or self._fetch(workspace, pool, batch, marks)
            ahead = (self._fetch(workspace, pool, batches[number + 1], marks)
                     if number + 1 < len(batches) else None)
            threads: dict[str, list[Thread] | NexarError] = {}
            for future in current.threads:
                threads.update(future.result())
            for project in batch:
                shown = prints.get(project.id)
                mark = marks.get(project.id)
                self._save_project(workspace, project, current.olds[project.id],
                                   threads.get(project.id), current.designs.get(project.id),
                                   report, shown if isinstance(shown, Fingerprint) else None,
                                   mark.fingerprint if mark is not None else None)

    def _fetch(self, workspace: Workspace, pool: ThreadPoolExecutor,
               batch: Sequence[ProjectInfo], marks: Mapping[str, PollMark]) -> _Batch:
        """Start reading a batch: its threads in one request, the designs it needs by
        ``design_batch_size`` first pages a request. The stored snapshots are loaded first:
        what a read is compared with must be older than the read."""
        olds = {p.id: self.store.load_snapshot(p.id, with_bom=False) for p in batch}
        threads = [pool.submit(self.client.comment_threads, workspace, [p.id for p in batch])]
        need_bom = [p.id for p in batch if _bom_moved(marks.get(p.id), p)]
        size = max(1, self.client.design_batch_size)
        designs: dict[str, Future[dict[str, Design | NexarError]]] = {}
        for i in range(0, len(need_bom), size):
            ids = need_bom[i:i + size]
            future = pool.submit(self.client.designs, workspace, ids)
            designs.update(dict.fromkeys(ids, future))
        return _Batch(olds=olds, threads=threads, designs=designs)

    def _save_project(self, workspace: Workspace, project: ProjectInfo, old: Snapshot | None,
                      threads: list[Thread] | NexarError | None,
                      design_future: Future[dict[str, Design | NexarError]] | None,
                      report: PollReport, shown: Fingerprint | None,
                      stored_print: str | None) -> None:
        """Diff and save one project; its threads are saved even when its design read failed.

        ``shown``: the fingerprint this poll read first, when it did; a loss it showed
        already counts as the first of the two reads a sudden loss needs. ``stored_print``:
        the stored fingerprint when the poll began.
        """
        try:
            if threads is None:
                raise NexarError("no answer for this project")
            if isinstance(threads, NexarError):
                raise threads
            if old is not None:
                threads = self._confirmed_threads(workspace, project, old, threads, shown)
        except NexarAuthError:
            raise
        except NexarError as exc:
            report.failures[project.name] = str(exc)
            log.info("skipped %s this poll: %s", project.name, exc)
            return
        pending = self.store.bom_pending(project.id)
        design: Design | None = None
        failed: NexarError | None = None
        old_bom: Bom | None = None
        try:
            if design_future is not None:
                read = design_future.result()[project.id]
                if isinstance(read, NexarError):
                    raise read
                design = read
                report.boms_read += 1
                if old is not None and pending != "unread":
                    old_bom = self.store.load_bom(project.id)
                    design = self._confirmed_design(workspace, project, old_bom, design)
        except NexarAuthError:
            raise
        except NexarError as exc:
            design, failed = None, exc
            report.failures[project.name] = (
                f"design not read (threads saved; the BOM is read again next poll): {exc}")
            log.info("%s: design not read this poll: %s", project.name, exc)
        documents = design.documents if design is not None else (old.documents if old else {})
        new = Snapshot(
            project=project,
            threads=named_threads(threads, documents),
            bom=design.bom if design is not None else None,
            documents=documents,
        )
        seen = old
        if old is not None and new.bom is not None:
            old = replace(old, bom=old_bom)
        now = stamp(self.clock())
        events = diff(old, new, at=now)
        report.projects += 1
        marks = (failed is not None and pending is None) or (new.bom is not None and pending)
        printed = threads_fingerprint(new.threads.values()).digest
        if old is not None and not events and not marks and _same(old, new):
            # Nothing to save; the fingerprint is kept only if no other writer saved since.
            self.store.record_fingerprint(project.id, printed, full_read_at=now,
                                          expected=stored_print)
            return
        with self.store.transaction():
            self._fence()
            # Read again under the write lock what this poll compared with: if another
            # writer saved this project since, its newer read stands and this one is
            # dropped (the next poll compares with what is stored then).
            stored = self.store.load_snapshot(project.id, with_bom=False)
            stored_bom = self.store.load_bom(project.id) if old_bom is not None else None
            if (stored, stored_bom, self.store.bom_pending(project.id)) != (
                    seen, old_bom, pending):
                log.info("%s: saved by another poller meanwhile; compared again next poll",
                         project.name)
                return
            old = stored
            if old is not None and new.bom is not None:
                old = replace(old, bom=stored_bom)
            events = diff(old, new, at=now)
            if old is not None and new.bom is not None and old.bom is None:
                old = replace(old, bom={})  # no BOM was ever stored: this read is its baseline
            self.store.save_snapshot(old, new, events, detected_at=now,
                                     bom_failed=failed is not None)
            self.store.record_fingerprint(project.id, printed, full_read_at=now)
        report.events += len(events)

    def _fence(self) -> None:
        """Beat the lease inside the write transaction; a poll whose lease was taken over
        stops before it writes anything more."""
        if self._lease is not None and not self._lease.beat():
            raise _LeaseLost

    def _confirmed_threads(self, workspace: Workspace, project: ProjectInfo, old: Snapshot,
                           threads: list[Thread], shown: Fingerprint | None) -> list[Thread]:
        """``threads``, or a second read of them when they lost most of the stored ones
        (unless the fingerprint read just before showed that loss already)."""
        ids = {t.thread_id for t in threads}
        lost = sudden_loss(old.threads.keys(), ids)
        if lost is None:
            return threads
        if shown is not None and shown.thread_ids == ids:
            log.info("%s: two reads lost %d of %d threads", project.name, lost,
                     len(old.threads))
            return threads
        again = self.client.comment_threads(workspace, [project.id]).get(project.id)
        if not isinstance(again, list):
            raise NexarError(f"Nexar answered {len(threads)} of {len(old.threads)} comment "
                             f"threads and a second read failed ({again or 'no answer'}); "
                             "nothing changed this poll")
        kept = sudden_loss(old.threads.keys(), {t.thread_id for t in again})
        log.info("%s: a read lost %d of %d threads; a second read %s", project.name, lost,
                 len(old.threads), "agrees" if kept else f"has {len(again)}")
        return again

    def _confirmed_design(self, workspace: Workspace, project: ProjectInfo, old_bom: Bom,
                          design: Design) -> Design:
        """``design``, or a second read of it when its BOM lost most of the stored lines."""
        lost = sudden_bom_loss(old_bom, design.bom)
        if lost is None:
            return design
        try:
            again = self.client.design(workspace, project.id)
        except NexarAuthError:
            raise
        except NexarError as exc:
            raise NexarError(f"the BOM lost {lost} of {len(old_bom)} lines and a second "
                             f"read failed: {exc}") from None
        kept = sudden_bom_loss(old_bom, again.bom)
        log.info("%s: a BOM read lost %d of %d lines; a second read %s", project.name, lost,
                 len(old_bom), "agrees" if kept else f"has {len(again.bom)}")
        return again


GC_FIRST_THRESHOLD = 50_000
"""Allocations between two young collections while a poll runs (Python's default: 700)."""


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often while this block runs.

    A poll that reads BOMs makes millions of short-lived dicts and records, none in a
    cycle; at the default threshold the collector ran 2,200 times in a first poll of 500
    projects, a fifth of the bot's CPU (``bench/poll.py``). The threshold is put back after,
    and is only ever raised, never lowered, here.
    """
    first, *older = gc.get_threshold()
    if first >= GC_FIRST_THRESHOLD or first == 0:
        yield
        return
    gc.set_threshold(GC_FIRST_THRESHOLD, *older)
    try:
        yield
    finally:
        gc.set_threshold(first, *older)


def sudden_loss(before: Collection[object], after: Collection[object]) -> int | None:
    """How many of ``before`` are missing from ``after``, when that is a sudden loss (more
    than ``SUDDEN_LOSS_MIN`` and more than ``SUDDEN_LOSS_SHARE`` of them); else None."""
    lost = len(set(before) - set(after))
    if lost > SUDDEN_LOSS_MIN and lost > SUDDEN_LOSS_SHARE * len(before):
        return lost
    return None


def sudden_bom_loss(before: Bom, after: Bom) -> int | None:
    """The BOM lines missing from ``after``, when the whole BOM or any one variant suffered
    a sudden loss (a variant answered empty is as suspect as a whole BOM); else None."""
    variants: dict[str, list[tuple[str, str]]] = {}
    for key in before:
        variants.setdefault(key[0], []).append(key)
    suspect = sudden_loss(before.keys(), after.keys()) is not None or any(
        sudden_loss(keys, after.keys()) is not None for keys in variants.values())
    return len(before.keys() - after.keys()) if suspect else None


def _bom_moved(mark: PollMark | None, listed: ProjectInfo) -> bool:
    """Whether the project's BOM must be read: never stored, marked for a read again, or its
    listing says the design moved."""
    if mark is None or mark.bom_pending is not None:
        return True
    return (mark.project.updated_at != listed.updated_at
            or mark.project.revision != listed.revision)


def _spread(period: timedelta, project_id: str) -> timedelta:
    """``period`` shortened by up to a quarter, by the project's id: the full reads of
    projects first read together fall due over several polls, not all in one."""
    share = int.from_bytes(hashlib.blake2b(project_id.encode(), digest_size=2).digest()) / 65536
    return period * (1 - share / 4)


@dataclass
class _Batch:
    """The reads of one batch of projects under way: its threads, and its designs by project
    (several projects share one future)."""

    olds: dict[str, Snapshot | None]
    threads: list[Future[dict[str, list[Thread] | NexarError]]]
    designs: dict[str, Future[dict[str, Design | NexarError]]]


def named_threads(threads: list[Thread], documents: Mapping[str, str]) -> dict[str, Thread]:
    """Threads by id, each with its document's name filled in from ``documents``."""
    return {t.thread_id: _named(t, documents) for t in threads}


def _named(thread: Thread, documents: Mapping[str, str]) -> Thread:
    name = documents.get(thread.document_id) if thread.document_id else None
    return thread if name == thread.document_name else replace(thread, document_name=name)


def _same(old: Snapshot, new: Snapshot) -> bool:
    return (old.project == new.project and dict(old.threads) == dict(new.threads)
            and dict(old.documents) == dict(new.documents)
            and (new.bom is None or dict(new.bom) == dict(old.bom or {})))



def refresh_catalog(client: NexarClient, store: Store, *, clock: Clock = utc_now) -> None:
    """List every workspace's projects now, so names resolve before the first poll."""
    for workspace in client.workspaces():
        store.sync_catalog(workspace.url, client.projects(workspace))
    store.set_meta(CATALOG_LISTED_AT, stamp(clock()))
