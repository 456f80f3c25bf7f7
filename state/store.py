"""The SQLite store: catalog, snapshots, the event log, subscriptions and poll health.

A ``Store`` wraps one connection and must stay on the thread that opened it; open one
per unit of work (cheap). Every write that belongs together runs in one ``transaction()``,
so an interrupted poll leaves either the whole snapshot with its events or neither.
Several processes may open one file at once, a fresh one too: the schema is created once.
"""

from __future__ import annotations

import difflib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from sqlite_utils import Database

from state.errors import NotFoundError, StoreError, StoreLockedError
from state.filters import Filters
from state.migrations import migrations
from state.model import (
    EVENT_FIELDS,
    EVENT_GROUPS,
    BomLine,
    Comment,
    Event,
    Person,
    ProjectInfo,
    Revision,
    Snapshot,
    Thread,
)

BOM_PENDING = "bom-pending:"
"""Meta key prefix: a project whose BOM must be read again at the next poll, and why.

``unread``: no BOM was ever stored (the first read failed), so the next good read is a
silent baseline of the BOM; ``stale``: the stored BOM is the last good read, kept while a
later read failed, so the next good read is compared with it.
"""


def _create_private(path: Path) -> None:
    """Create a new database file readable by its owner only (it may hold a refresh token);
    SQLite gives its ``-wal`` and ``-shm`` files the same mode. An existing file is kept."""
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


@dataclass(frozen=True)
class StoredEvent:
    """An event as logged: its id orders the log, ``detected_at`` is the poll that saw it."""

    id: int
    detected_at: str
    event: Event


@dataclass(frozen=True)
class Subscription:
    """A channel following a project; events after ``after_event_id`` are its to receive."""

    id: int
    project_id: str
    project: str
    channel: str
    groups: tuple[str, ...]
    created_at: str
    paused_reason: str | None = None
    paused_at: str | None = None
    after_event_id: int = 0
    filters: Filters = field(default_factory=Filters)
    welcomed: bool = False
    replies: bool = False
    """Replies in its thread cards' Slack threads are written to Altium 365."""

    @property
    def paused(self) -> bool:
        return self.paused_reason is not None


@dataclass(frozen=True)
class PollMark:
    """What a poll knows of a stored project without loading its snapshot: the listing it
    was saved with, the fingerprint of its stored threads, when they were last read in full
    and whether its BOM must be read again (``bom_pending``)."""

    project: ProjectInfo
    fingerprint: str | None
    full_read_at: str | None
    bom_pending: str | None


@dataclass(frozen=True)
class BomCount:
    """One variant's stored BOM, counted: its lines (distinct parts), its designators placed
    and not fitted."""

    lines: int
    placed: int
    not_fitted: int


@dataclass(frozen=True)
class PollStatus:
    started_at: str
    finished_at: str
    projects: int
    events: int
    failures: Mapping[str, str]


def _is_locked(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


@contextmanager
def _translated(path: str, *, doing: str = "") -> Iterator[None]:
    """sqlite3's errors as ours; ``doing`` says what the store was at (for the message)."""
    at = f" {doing}" if doing else ""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if _is_locked(exc):
            raise StoreLockedError(
                f"database {path} is locked by another process{at}; try again when it "
                "finishes") from None
        raise StoreError(f"database {path}{at}: {exc}") from None
    except sqlite3.IntegrityError as exc:
        raise StoreError(f"database {path}{at}: a write was refused: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"database {path} is unreadable{at}: {exc}") from None


def _outside_transaction(db: Database, path: str, name: str, fn: Callable[[Database], None],
                         timeout: float) -> None:
    """Run a migration that cannot be in a transaction, trying again while another process
    holds a lock: SQLite does not wait for the lock the WAL switch needs (it answers
    'locked' at once while another process reads a file not yet in WAL mode)."""
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        try:
            with _translated(path, doing=f"while applying {name}"):
                fn(db)
            return
        except StoreLockedError:
            if time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def _migrate(db: Database, path: str, *, timeout: float) -> None:
    """Bring the schema up to date once, however many processes open a fresh file at once.

    A migration that cannot run in a transaction (the WAL switch) runs first, outside one,
    tried again for up to ``timeout`` while another process holds a lock; it must be
    idempotent, as racing processes may each run it. The rest run in one
    IMMEDIATE transaction: it waits for the write lock (another process may be migrating),
    reads again what is applied once it holds the lock, and applies and records only what
    is still pending, all or nothing.
    """
    with _translated(path, doing="while setting up its tables"):
        pending = migrations.pending(db)
    if not pending:
        return
    for migration in pending:
        if not migration.transactional:
            _outside_transaction(db, path, migration.name, migration.fn, timeout)
    step = "the migration record"
    with _translated(path, doing="while setting up its tables"):
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            migrations.ensure_migrations_table(db)
            for migration in migrations.pending(db):
                step = migration.name
                if migration.transactional:
                    with db.atomic():
                        migration.fn(db)
                db.table(migrations.migrations_table).insert({
                    "migration_set": migrations.name, "name": migration.name,
                    "applied_at": datetime.now(UTC).isoformat(sep=" ")})
        except sqlite3.Error as exc:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and _is_locked(exc):
                raise
            raise StoreError(f"database {path}: could not apply {step}, nothing of it was "
                             f"kept: {exc}") from None
        except BaseException:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            raise
        db.conn.execute("COMMIT")


@lru_cache(maxsize=4096)
def _person_json(person: Person | None) -> str | None:
    """A person as stored: a JSON object with sorted keys (few people write many comments)."""
    if person is None:
        return None
    return json.dumps({"email": person.email, "name": person.name, "user_id": person.user_id})


def _person(text: str | None) -> Person | None:
    return Person(**json.loads(text)) if text else None


class Store:
    """design-review-bot's state in one SQLite file."""

    def __init__(self, db: Database, *, path: str = ":memory:") -> None:
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: str | Path, *, timeout: float = 10.0) -> Store:
        """Open (creating if needed) and migrate the database at ``path``."""
        name = str(path)
        if name != ":memory:" and not Path(name).parent.exists():
            raise StoreError(f"database {name}: folder {Path(name).parent} does not exist")
        with _translated(name):
            if name != ":memory:":
                _create_private(Path(name))
            conn = sqlite3.connect(name, timeout=timeout)
            store = cls(Database(conn), path=name)
        try:
            _migrate(store.db, name, timeout=timeout)
            with _translated(name):
                store.db.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        return store

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: all of them land, or none (nests as a savepoint).

        The outermost one begins IMMEDIATE: it takes the write lock at once, waiting up to
        the busy timeout for another writer. A deferred transaction that read first could
        not wait: it would fail at its first write whenever another process (or the poll
        and delivery threads of ``run``) committed in between.
        """
        with _translated(self.path):
            if self.db.conn.in_transaction:
                with self.db.atomic():
                    yield
                return
            self.db.conn.execute("BEGIN IMMEDIATE")
            try:
                with self.db.atomic():
                    yield
            except BaseException:
                if self.db.conn.in_transaction:
                    self.db.conn.execute("ROLLBACK")
                raise
            self.db.conn.execute("COMMIT")

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a read-only query; errors come back as ``StoreError``."""
        with _translated(self.path):
            return list(self.db.query(sql, params))

    # -- catalog ---------------------------------------------------------------------------

    def sync_catalog(self, workspace_url: str, listing: Sequence[ProjectInfo]) -> None:
        """Record a complete listing of one workspace; rows write only when they changed."""
        known = {r["id"]: r for r in self.rows(
            "select * from catalog where workspace_url = ?", [workspace_url])}
        rows = [_catalog_row(p) for p in listing]
        changed = [r for r in rows if known.get(r["id"]) != r]
        seen = {r["id"] for r in rows}
        gone = [i for i, r in known.items() if i not in seen and not r["gone"]]
        if not changed and not gone:
            return
        with self.transaction():
            if changed:
                self.db.table("catalog").upsert_all(changed, pk="id")
                for row in changed:
                    self.db.execute("update subscriptions set project = ? "
                                    "where project_id = ? and project != ?",
                                    [row["name"], row["id"], row["name"]])
            for project_id in gone:
                self.db.table("catalog").update(project_id, {"gone": 1})

    def catalog(self) -> list[ProjectInfo]:
        rows = self.rows("select * from catalog where gone = 0 order by name collate nocase")
        return [_catalog_info(r) for r in rows]

    def project_names(self) -> list[str]:
        """The names of the listed projects, cheaper than the whole catalog."""
        rows = self.rows("select name from catalog where gone = 0 order by name collate nocase")
        return [r["name"] for r in rows]

    def catalog_project(self, name: str) -> ProjectInfo:
        """One listed project by its exact name."""
        rows = self.rows("select * from catalog where gone = 0 and name = ? limit 1", [name])
        if not rows:
            raise NotFoundError(f"no project named {name!r}.")
        return _catalog_info(rows[0])

    def paused_subscriptions(self) -> list[Subscription]:
        rows = self.rows("select * from subscriptions where paused_reason is not null "
                         "order by project collate nocase, channel")
        return [_subscription(r) for r in rows]

    def find_project(self, name: str) -> ProjectInfo:
        """A project by name: exact (ignoring case), else a unique prefix."""
        projects = self.catalog()
        wanted = name.strip().casefold()
        exact = [p for p in projects if p.name.casefold() == wanted]
        if len(exact) == 1:
            return exact[0]
        prefixed = exact or [p for p in projects if p.name.casefold().startswith(wanted)]
        if len(prefixed) == 1:
            return prefixed[0]
        if prefixed:
            raise NotFoundError(
                f"project name {name!r} is ambiguous.",
                suggestions=[p.name for p in prefixed[:5]],
            )
        names = [p.name for p in projects]
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.4)
        close += [n for n in names if wanted in n.casefold() and n not in close][: 3 - len(close)]
        raise NotFoundError(f"no project named {name!r}.", suggestions=close)

    # -- snapshots -------------------------------------------------------------------------

    def load_snapshot(self, project_id: str, *, with_bom: bool = True) -> Snapshot | None:
        """The stored snapshot of a project, or None before its baseline."""
        head = self.rows("select * from projects where id = ?", [project_id])
        if not head:
            return None
        row = head[0]
        comments: dict[str, list[Comment]] = {}
        for c in self.rows(
            "select * from comments where project = ? order by thread_id, position", [project_id]
        ):
            comments.setdefault(c["thread_id"], []).append(Comment(
                comment_id=c["comment_id"], text=c["text"], author=_person(c["author"]),
                created_at=c["created_at"], modified_at=c["modified_at"]))
        threads = {
            t["thread_id"]: Thread(
                thread_id=t["thread_id"], number=t["number"], status=t["status"],
                created_at=t["created_at"], modified_at=t["modified_at"],
                created_by=_person(t["created_by"]), modified_by=_person(t["modified_by"]),
                assigned_to=_person(t["assigned_to"]), document_id=t["document_id"],
                document_name=t["document_name"],
                comments=tuple(comments.get(t["thread_id"], ())),
            )
            for t in self.rows("select * from threads where project = ?", [project_id])
        }
        bom = self.load_bom(project_id) if with_bom and self.has_bom(project_id) else None
        return Snapshot(project=_snapshot_info(row), threads=threads, bom=bom,
                        documents=json.loads(row["documents"] or "{}"))

    def bom_pending(self, project_id: str) -> str | None:
        """``unread`` or ``stale`` when the next poll must read the project's BOM again."""
        return self.get_meta(BOM_PENDING + project_id)

    def has_bom(self, project_id: str) -> bool:
        """Whether a BOM was ever read for the project (an empty one counts)."""
        return self.bom_pending(project_id) != "unread"

    def poll_marks(self) -> dict[str, PollMark]:
        """Every stored project's ``PollMark``, in one query."""
        rows = self.rows(
            "select p.*, f.threads as fingerprint, f.full_read_at, m.value as pending "
            "from projects p left join poll_fingerprints f on f.project = p.id "
            "left join meta m on m.key = ? || p.id", [BOM_PENDING])
        return {r["id"]: PollMark(project=_snapshot_info(r), fingerprint=r["fingerprint"],
                                  full_read_at=r["full_read_at"], bom_pending=r["pending"])
                for r in rows}

    def record_fingerprint(self, project_id: str, fingerprint: str, *, full_read_at: str,
                           expected: str | bool | None = True) -> bool:
        """Keep the fingerprint of the project's stored threads, read in full at
        ``full_read_at``; whether it was written.

        ``expected``: write only when the stored fingerprint is still this one (None: none
        is stored), so a poll that found nothing to save cannot pass its read off as the
        fingerprint of a snapshot another writer saved meanwhile; True writes regardless
        (inside the transaction that saved the snapshot it describes).
        """
        with self.transaction():
            if expected is not True:
                stored = self.rows("select threads from poll_fingerprints where project = ?",
                                   [project_id])
                if (stored[0]["threads"] if stored else None) != expected:
                    return False
            self.db.execute(
                "insert into poll_fingerprints (project, threads, full_read_at) values (?, ?, ?) "
                "on conflict (project) do update set threads = excluded.threads, "
                "full_read_at = excluded.full_read_at",
                [project_id, fingerprint, full_read_at])
        return True

    def bom_counts(self, project_id: str) -> dict[str, BomCount]:
        """Each variant's stored BOM counted in SQL, without loading its lines."""
        rows = self.rows(
            "select variant, count(*) as designators, sum(fitted) as placed, "
            "count(distinct component_id || char(31) || coalesce(mpn, char(30))) as lines "
            "from bom_lines where project = ? group by variant", [project_id])
        return {r["variant"]: BomCount(lines=r["lines"], placed=r["placed"] or 0,
                                       not_fitted=r["designators"] - (r["placed"] or 0))
                for r in rows}

    def load_bom(self, project_id: str) -> dict[tuple[str, str], BomLine]:
        rows = self.rows("select * from bom_lines where project = ?", [project_id])
        return {
            (r["variant"], r["designator"]): BomLine(
                variant=r["variant"], designator=r["designator"],
                component_id=r["component_id"], name=r["name"], comment=r["comment"],
                description=r["description"], manufacturer=r["manufacturer"], mpn=r["mpn"],
                fitted=bool(r["fitted"]))
            for r in rows
        }

    def save_snapshot(self, old: Snapshot | None, new: Snapshot, events: Sequence[Event], *,
                      detected_at: str, bom_failed: bool = False) -> list[int]:
        """Write what changed between ``old`` and ``new`` plus ``events``, all or nothing.

        ``old`` must be what is stored now: load it, diff and save inside one
        ``transaction()`` (the poller does), so no other writer can slip a change in between
        and the same change is never recorded twice.

        ``bom_failed``: the BOM was to be read but the read failed; the stored lines stay as
        they are and the project is marked for a BOM read at the next poll. Saving a BOM
        clears that mark.
        """
        if old is not None and new.bom is not None and old.bom is None:
            raise ValueError("a snapshot with a BOM must be saved against an old one with its BOM")
        with self.transaction():
            pending = self.bom_pending(new.project.id)
            if new.bom is not None and pending is not None:
                self.set_meta(BOM_PENDING + new.project.id, None)
            elif new.bom is None and bom_failed and pending is None:
                self.set_meta(BOM_PENDING + new.project.id, "unread" if old is None else "stale")
            pid = new.project.id
            head = _snapshot_row(new, baseline_at=detected_at)
            if old is None:
                self.db.table("projects").insert(head, pk="id", replace=True)
            elif old.project != new.project or dict(old.documents) != dict(new.documents):
                del head["baseline_at"]
                self.db.table("projects").update(pid, head)
            self._save_threads(pid, old.threads if old else {}, new.threads)
            if new.bom is not None:
                self._save_bom(pid, old.bom if old and old.bom is not None else {}, new.bom)
            ids: list[int] = []
            for event in events:
                row = {"detected_at": detected_at, **event.to_dict()}
                if row["fitted"] is not None:
                    row["fitted"] = int(row["fitted"])
                ids.append(int(self.db.table("events").insert(row).last_pk or 0))
            return ids

    def _save_threads(self, pid: str, old: Mapping[str, Thread], new: Mapping[str, Thread]) -> None:
        """Write the threads and comments that changed, each table in one statement a kind."""
        comments = self.db.table("comments")
        for thread_id in old.keys() - new.keys():
            comments.delete_where("thread_id = ?", [thread_id])
            self.db.table("threads").delete(thread_id)
        thread_rows: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]] = ([], [])
        comment_rows: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]] = ([], [])
        for thread_id, thread in new.items():
            before = old.get(thread_id)
            if before == thread:
                continue
            thread_rows[before is not None].append((
                thread_id, pid, thread.number, thread.status, thread.created_at,
                thread.modified_at, _person_json(thread.created_by),
                _person_json(thread.modified_by), _person_json(thread.assigned_to),
                thread.document_id, thread.document_name))
            old_comments = {c.comment_id: (i, c) for i, c in
                            enumerate(before.comments if before else ())}
            keep = {c.comment_id for c in thread.comments}
            for comment_id in old_comments.keys() - keep:
                comments.delete(comment_id)
            for position, comment in enumerate(thread.comments):
                known = old_comments.get(comment.comment_id)
                if known == (position, comment):
                    continue
                comment_rows[known is not None].append((
                    comment.comment_id, thread_id, pid, position, comment.text,
                    _person_json(comment.author), comment.created_at, comment.modified_at))
        _write_rows(self.db, "threads", _THREAD_COLUMNS, thread_rows, keys=("thread_id",))
        _write_rows(self.db, "comments", _COMMENT_COLUMNS, comment_rows, keys=("comment_id",))

    def _save_bom(self, pid: str, old: Mapping[tuple[str, str], BomLine],
                  new: Mapping[tuple[str, str], BomLine]) -> None:
        table = self.db.table("bom_lines")
        for variant, designator in old.keys() - new.keys():
            table.delete((pid, variant, designator))
        rows: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]] = ([], [])
        changed = new.values() if not old else [
            line for key, line in new.items() if old.get(key) != line]
        for line in changed:
            rows[line.key in old].append((
                pid, line.variant, line.designator, line.component_id, line.name,
                line.comment, line.description, line.manufacturer, line.mpn, int(line.fitted)))
        _write_rows(self.db, "bom_lines", _BOM_COLUMNS, rows,
                    keys=("project", "variant", "designator"))

    def drop_snapshot(self, project_id: str) -> None:
        """Forget a project's snapshot, so a later subscription starts from a fresh baseline."""
        with self.transaction():
            self.db.table("poll_fingerprints").delete_where("project = ?", [project_id])
            for table in ("comments", "threads", "bom_lines"):
                self.db.table(table).delete_where("project = ?", [project_id])
            self.db.table("projects").delete_where("id = ?", [project_id])
            self.set_meta(BOM_PENDING + project_id, None)

    # -- events ----------------------------------------------------------------------------

    def events(self, *, since: str | None = None, project_id: str | None = None,
               after_id: int | None = None, limit: int | None = None) -> list[StoredEvent]:
        """Logged events in the order they were found, optionally filtered."""
        where, params = ["1 = 1"], []
        if since is not None:
            where.append("at >= ?")
            params.append(since)
        if project_id is not None:
            where.append("project_id = ?")
            params.append(project_id)
        if after_id is not None:
            where.append("id > ?")
            params.append(str(after_id))
        # With a time, ``+id`` lets SQLite search an index on ``at`` and sort what it finds,
        # rather than scan the whole log in id order.
        order = "+id" if since is not None else "id"
        sql = f"select * from events where {' and '.join(where)} order by {order}"
        if limit is not None:
            sql += f" limit {int(limit)}"
        return [stored_event(r) for r in self.rows(sql, params)]

    def events_with_ids(self, ids: Sequence[int]) -> list[StoredEvent]:
        """The logged events with these ids, in the order they were found."""
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return [stored_event(r) for r in self.rows(
            f"select * from events where id in ({marks}) order by id", list(ids))]

    def thread_event(self, project_id: str, thread_id: str) -> Event | None:
        """What the log knows of a thread: its opening, else its latest event."""
        rows = self.rows(
            "select * from events where project_id = ? and thread_id = ? "
            "order by kind != 'thread_opened', id desc limit 1", [project_id, thread_id])
        return stored_event(rows[0]).event if rows else None

    # -- subscriptions ---------------------------------------------------------------------

    def subscribe(self, project: ProjectInfo, channel: str, groups: Iterable[str], *,
                  at: str, filters: Filters | None = None,
                  replies: bool = False) -> Subscription:
        """Subscribe ``channel`` to ``project``; again replaces groups, filters and ``replies``
        (answering from Slack), and clears a pause.

        A new subscription receives only events logged after this moment: never history.
        """
        chosen = tuple(g for g in EVENT_GROUPS if g in set(groups))
        if not chosen:
            raise ValueError("at least one event group is needed")
        f = filters or Filters()
        with self.transaction():
            existing = self.rows(
                "select id from subscriptions where project_id = ? and channel = ?",
                [project.id, channel])
            row = {"project_id": project.id, "project": project.name, "channel": channel,
                   "groups": ",".join(chosen), "paused_reason": None, "paused_at": None,
                   "replies": int(replies),
                   "include_documents": _csv(f.include_documents),
                   "exclude_documents": _csv(f.exclude_documents),
                   "include_designators": _csv(f.include_designators),
                   "exclude_designators": _csv(f.exclude_designators)}
            if existing:
                self.db.table("subscriptions").update(existing[0]["id"], row)
            else:
                newest = self.rows("select coalesce(max(id), 0) as id from events")[0]["id"]
                self.db.table("subscriptions").insert(
                    {**row, "created_at": at, "after_event_id": newest, "welcomed": 0})
        return next(s for s in self.subscriptions(channel=channel) if s.project_id == project.id)

    def pause(self, reason: str, *, at: str, channel: str | None = None) -> int:
        """Pause the subscriptions of ``channel`` (all when None); they keep their events."""
        where, params = "paused_reason is null", [reason, at]
        if channel is not None:
            where += " and channel = ?"
            params.append(channel)
        with self.transaction():
            cursor = self.db.execute(
                f"update subscriptions set paused_reason = ?, paused_at = ? where {where}",
                params)
        return int(cursor.rowcount)

    def resume(self, *, channel: str | None = None) -> int:
        """Lift pauses (of one channel, or all); their kept events go out next delivery."""
        where, params = "paused_reason is not null", []
        if channel is not None:
            where += " and channel = ?"
            params.append(channel)
        with self.transaction():
            cursor = self.db.execute(
                f"update subscriptions set paused_reason = null, paused_at = null where {where}",
                params)
        return int(cursor.rowcount)

    def unsubscribe(self, project_id: str, channel: str) -> bool:
        """Remove one subscription; the last one of a project also drops its snapshot."""
        with self.transaction():
            gone = self.rows(
                "select id from subscriptions where project_id = ? and channel = ?",
                [project_id, channel])
            if not gone:
                return False
            self.db.table("subscriptions").delete(gone[0]["id"])
            self.db.execute("delete from deliveries where subscription_id = ? "
                            "and state = 'pending'", [gone[0]["id"]])
            if not self.rows("select 1 from subscriptions where project_id = ?", [project_id]):
                self.drop_snapshot(project_id)
        return True

    def subscriptions(self, *, project_id: str | None = None,
                      channel: str | None = None) -> list[Subscription]:
        where, params = ["1 = 1"], []
        if project_id is not None:
            where.append("project_id = ?")
            params.append(project_id)
        if channel is not None:
            where.append("channel = ?")
            params.append(channel)
        rows = self.rows(
            f"select * from subscriptions where {' and '.join(where)} "
            "order by project collate nocase, channel", params)
        return [_subscription(r) for r in rows]

    def watched_project_ids(self) -> set[str]:
        """The projects the poller reads: those a channel subscribes to, and those a webhook
        endpoint names (an endpoint naming none follows these, adding nothing)."""
        rows = self.rows("select distinct project_id from subscriptions")
        named = self.rows("select project_ids from webhook_endpoints "
                          "where project_ids is not null")
        return {r["project_id"] for r in rows} | {
            p for r in named for p in _split(r["project_ids"])}

    # -- small settings ----------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        rows = self.rows("select value from meta where key = ?", [key])
        return rows[0]["value"] if rows else None

    def set_meta(self, key: str, value: str | None) -> None:
        """Set (or with None, remove) one value of the bot's own bookkeeping."""
        with self.transaction():
            if value is None:
                self.db.execute("delete from meta where key = ?", [key])
            else:
                self.db.table("meta").upsert({"key": key, "value": value}, pk="key")

    # -- poll health -----------------------------------------------------------------------

    def record_poll(self, status: PollStatus) -> None:
        row = {**asdict(status), "id": 1, "failures": json.dumps(dict(status.failures))}
        with self.transaction():
            self.db.table("poll_status").upsert(row, pk="id")

    def last_poll(self) -> PollStatus | None:
        rows = self.rows("select * from poll_status where id = 1")
        if not rows:
            return None
        r = rows[0]
        return PollStatus(started_at=r["started_at"], finished_at=r["finished_at"],
                          projects=r["projects"], events=r["events"],
                          failures=json.loads(r["failures"] or "{}"))

    # -- reads for the /review answers

    def known_project_names(self) -> list[str]:
        """Every project name the database has known, listed or gone."""
        return [r["name"] for r in self.rows("select distinct name from catalog")]

    def bom_places(self, text: str) -> list[tuple[str, str, str, str]]:
        """Where parts whose MPN, name or comment holds ``text`` (lower case) are placed in
        the stored BOMs: (project, variant, designator, MPN or ""), by project, variant and
        designator."""
        like = f"%{text}%"
        rows = self.rows(
            "select p.name as project, b.variant, b.designator, b.mpn from bom_lines b "
            "join projects p on p.id = b.project where lower(b.mpn) like ? "
            "or lower(b.name) like ? or lower(b.comment) like ? "
            "order by p.name, b.variant, b.designator", [like, like, like])
        return [(r["project"], r["variant"], r["designator"], r["mpn"] or "") for r in rows]


_THREAD_COLUMNS: Final = (
    "thread_id", "project", "number", "status", "created_at", "modified_at", "created_by",
    "modified_by", "assigned_to", "document_id", "document_name")
_COMMENT_COLUMNS: Final = (
    "comment_id", "thread_id", "project", "position", "text", "author", "created_at",
    "modified_at")
_BOM_COLUMNS: Final = (
    "project", "variant", "designator", "component_id", "name", "comment", "description",
    "manufacturer", "mpn", "fitted")


def _write_rows(db: Database, table: str, columns: Sequence[str],
                rows: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]], *,
                keys: Sequence[str]) -> None:
    """Insert ``rows[0]`` (new keys) and upsert ``rows[1]`` (changed ones): one prepared
    statement each, run over all the rows (a baseline writes hundreds of thousands)."""
    new, changed = rows
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" * len(columns))
    insert = f'insert into "{table}" ({names}) values ({marks})'
    if new:
        db.conn.executemany(insert, new)
    if changed:
        updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in keys)
        db.conn.executemany(f'{insert} on conflict ({", ".join(keys)}) do update set {updates}',
                            changed)


def _csv(values: Sequence[str]) -> str | None:
    return ",".join(values) if values else None


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(v for v in (text or "").split(",") if v)


def _subscription(r: Mapping[str, Any]) -> Subscription:
    return Subscription(
        id=r["id"], project_id=r["project_id"], project=r["project"], channel=r["channel"],
        groups=_split(r["groups"]), created_at=r["created_at"],
        paused_reason=r["paused_reason"], paused_at=r["paused_at"],
        after_event_id=r["after_event_id"], welcomed=bool(r["welcomed"]),
        replies=bool(r["replies"]),
        filters=Filters(include_documents=_split(r["include_documents"]),
                        exclude_documents=_split(r["exclude_documents"]),
                        include_designators=_split(r["include_designators"]),
                        exclude_designators=_split(r["exclude_designators"])))


def _catalog_row(p: ProjectInfo) -> dict[str, Any]:
    return {"id": p.id, "project_id": p.project_id, "workspace_url": p.workspace_url,
            "name": p.name, "description": p.description, "url": p.url,
            "updated_at": p.updated_at,
            "revision_id": p.revision.revision_id if p.revision else None, "gone": 0}


def _catalog_info(r: Mapping[str, Any]) -> ProjectInfo:
    return ProjectInfo(id=r["id"], project_id=r["project_id"], workspace_url=r["workspace_url"],
                       name=r["name"], description=r["description"] or "", url=r["url"] or "",
                       updated_at=r["updated_at"] or "", revision=None)


def _snapshot_row(s: Snapshot, *, baseline_at: str) -> dict[str, Any]:
    p, rev = s.project, s.project.revision
    return {
        "id": p.id, "project_id": p.project_id, "workspace_url": p.workspace_url, "name": p.name,
        "description": p.description, "url": p.url, "updated_at": p.updated_at,
        "revision_id": rev.revision_id if rev else None,
        "revision_message": rev.message if rev else None,
        "revision_author": rev.author if rev else None,
        "revision_at": rev.created_at if rev else None,
        "documents": json.dumps(dict(s.documents), sort_keys=True),
        "baseline_at": baseline_at,
    }


def _snapshot_info(r: Mapping[str, Any]) -> ProjectInfo:
    revision = None
    if r["revision_id"] is not None:
        revision = Revision(revision_id=r["revision_id"], message=r["revision_message"] or "",
                            author=r["revision_author"] or "", created_at=r["revision_at"] or "")
    return ProjectInfo(id=r["id"], project_id=r["project_id"], workspace_url=r["workspace_url"],
                       name=r["name"], description=r["description"] or "", url=r["url"] or "",
                       updated_at=r["updated_at"], revision=revision)


def stored_event(r: Mapping[str, Any]) -> StoredEvent:
    values = {name: r[name] for name in EVENT_FIELDS}
    if values["fitted"] is not None:
        values["fitted"] = bool(values["fitted"])
    return StoredEvent(id=r["id"], detected_at=r["detected_at"], event=Event(**values))


