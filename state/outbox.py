"""The outbox over the event log: which event is owed to which target, and what was posted.

A *target* is any string naming where posts go: a Slack channel (``#design-review``), or
any other address a subscription names. Every post to a target has a key (``event:12``,
``bom:40``, ``thread:<project>:<thread>``, ``welcome:3``, or ``welcome:3-9`` for one welcome
of several subscriptions) and is recorded *before* it is sent (state ``attempting``) and
again after (``posted``, with its remote id: the id the far side gave it). A process
killed in between leaves an ``attempting`` row, which delivery reconciles against the
target (the post carries its key, so the far side can be asked for it) before posting
anything else: so each post lands at most once. Posts are made only under their
target's claim (``state.claims``), so an ``attempting`` row its holder finds is a leftover
of a worker that is gone, never another live worker's post in flight.

A post that cannot go out as it is (the renderer fails, or the far side refuses it even as
plain text) is *set aside*: kept in ``set_aside`` with its reason, its deliveries in state
``set_aside``, skipped by every run until ``resume_set_aside`` puts it back.

The columns keep the names they were created with: ``channel`` holds the target,
``channel_id`` the target's remote id, ``ts`` and ``thread_ts`` the remote ids of a post and
of the post it replies under.

Planning also owes each new event to the webhook endpoints that want it, in the same
transaction under the same high-water mark; their messages live in ``state.webhooks`` and
never show here: ``pending``, ``channels_with_work`` and ``undelivered`` are Slack's alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from state.filters import wants
from state.model import Event
from state.store import Store, StoredEvent, Subscription, stored_event
from state.webhooks import Webhooks


@dataclass(frozen=True)
class Delivery:
    """One event owed to one target by one subscription."""

    event_id: int
    target: str
    subscription_id: int
    attempts: int
    last_error: str | None
    stored: StoredEvent

    @property
    def event(self) -> Event:
        return self.stored.event


@dataclass(frozen=True)
class SetAside:
    """One post kept back: where (``channel``, its target), what (``kind``, e.g. "thread
    reply"), why, since when."""

    id: int
    channel: str
    key: str
    kind: str
    reason: str
    event_ids: tuple[int, ...]
    set_aside_at: str
    notified_at: str | None


@dataclass(frozen=True)
class Post:
    """One post to a target, begun or landed: ``channel_id`` is the target's remote id,
    ``remote_id`` the post's once it landed, ``thread_ts`` that of the post it replies under."""

    target: str
    key: str
    channel_id: str | None
    state: str
    remote_id: str | None
    thread_ts: str | None
    started_at: str
    needs_update: bool
    event_ids: tuple[int, ...] = ()
    """The events the post carries."""


class Outbox:
    """Delivery bookkeeping in the same SQLite file as the events it delivers."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    # -- planning --------------------------------------------------------------------------

    def plan(self, *, at: str) -> int:
        """Owe each new event to every subscription and webhook endpoint that wants it;
        returns deliveries and webhook messages added."""
        with self.store.transaction():
            planned = int(self.store.get_meta("planned_event_id") or 0)
            events = self.store.events(after_id=planned)
            if not events:
                return 0
            subs = self.store.subscriptions()
            rows = [
                {"event_id": stored.id, "channel": sub.channel, "subscription_id": sub.id,
                 "state": "pending", "created_at": at}
                for stored in events if stored.event.kind != "project_created"
                for sub in subs
                if sub.project_id == stored.event.project_id and stored.id > sub.after_event_id
                and wants(sub.groups, sub.filters, stored.event)
            ]
            if rows:
                self.db.table("deliveries").insert_all(rows, ignore=True, batch_size=500)
            messages = Webhooks(self.store).plan(events, at=at)
            self.store.set_meta("planned_event_id", str(events[-1].id))
            return len(rows) + messages

    # -- what is owed ----------------------------------------------------------------------

    def pending(self, target: str) -> list[Delivery]:
        """Undelivered events of a target's active subscriptions, oldest first."""
        rows = self.store.rows(
            "select d.event_id as d_event_id, d.channel as d_channel, d.subscription_id, "
            "d.attempts, d.last_error, e.* from deliveries d "
            "join events e on e.id = d.event_id "
            "join subscriptions s on s.id = d.subscription_id "
            "where d.channel = ? and d.state = 'pending' and s.paused_reason is null "
            "order by d.event_id", [target])
        return [Delivery(event_id=r["d_event_id"], target=r["d_channel"],
                         subscription_id=r["subscription_id"], attempts=r["attempts"],
                         last_error=r["last_error"], stored=stored_event(r)) for r in rows]

    def channels_with_work(self) -> list[str]:
        """Targets with pending deliveries, an unwelcomed subscription, a post left
        ``attempting`` or a post to refresh; none of a paused subscription."""
        rows = self.store.rows(
            "select distinct d.channel as channel from deliveries d "
            "join subscriptions s on s.id = d.subscription_id "
            "where d.state = 'pending' and s.paused_reason is null "
            "union select channel from subscriptions "
            "where welcomed = 0 and paused_reason is null and not exists (select 1 from "
            "set_aside x where x.channel = subscriptions.channel "
            "and x.key = 'welcome:' || subscriptions.id) "
            "union select channel from posts where (state = 'attempting' or needs_update = 1) "
            "and not exists (select 1 from subscriptions s where s.channel = posts.channel "
            "and s.paused_reason is not null) "
            "order by channel")
        return [r["channel"] for r in rows]

    def undelivered(self, target: str | None = None) -> int:
        """How many deliveries are pending (to one target)."""
        sql = "select count(*) as n from deliveries where state = 'pending'"
        params: list[str] = []
        if target is not None:
            sql += " and channel = ?"
            params.append(target)
        return int(self.store.rows(sql, params)[0]["n"])

    def note_failure(self, target: str, event_ids: Iterable[int], error: str) -> None:
        with self.store.transaction():
            for event_id in event_ids:
                self.db.execute(
                    "update deliveries set attempts = attempts + 1, last_error = ? "
                    "where event_id = ? and channel = ?", [error, event_id, target])

    def unwelcomed(self, target: str) -> list[Subscription]:
        """A target's active subscriptions whose welcome is neither posted nor set aside."""
        return [s for s in self.store.subscriptions(channel=target)
                if not s.welcomed and not s.paused
                and self.set_aside_reason(target, f"welcome:{s.id}") is None]

    # -- set aside -------------------------------------------------------------------------

    def set_aside(self, target: str, key: str, *, kind: str, reason: str,
                  event_ids: Sequence[int] = (), at: str) -> None:
        """Keep a post back with its reason; its deliveries leave the pending queue."""
        with self.store.transaction():
            self.db.execute("delete from set_aside where channel = ? and key = ?",
                            [target, key])
            self.db.table("set_aside").insert(
                {"channel": target, "key": key, "kind": kind, "reason": reason,
                 "event_ids": json.dumps(list(event_ids)), "set_aside_at": at,
                 "notified_at": None})
            for event_id in event_ids:
                self.db.execute(
                    "update deliveries set state = 'set_aside', attempts = attempts + 1, "
                    "last_error = ? where event_id = ? and channel = ? and state = 'pending'",
                    [reason, event_id, target])

    def set_aside_reason(self, target: str, key: str) -> str | None:
        rows = self.store.rows("select reason from set_aside where channel = ? and key = ?",
                               [target, key])
        return str(rows[0]["reason"]) if rows else None

    def set_aside_items(self, target: str | None = None) -> list[SetAside]:
        """Every post set aside (to one target), oldest first."""
        sql = "select * from set_aside"
        params: list[str] = []
        if target is not None:
            sql += " where channel = ?"
            params.append(target)
        return [_set_aside(r) for r in self.store.rows(sql + " order by id", params)]

    def unnotified(self) -> list[SetAside]:
        """Posts set aside that the operators have not been told about yet."""
        return [_set_aside(r) for r in self.store.rows(
            "select * from set_aside where notified_at is null order by id")]

    def mark_notified(self, ids: Iterable[int], *, at: str) -> None:
        with self.store.transaction():
            for item_id in ids:
                self.db.execute("update set_aside set notified_at = ? where id = ?",
                                [at, item_id])

    def resume_set_aside(self, target: str | None = None) -> int:
        """Put set-aside posts (to one target) back in the queue; returns how many."""
        items = self.set_aside_items(target)
        with self.store.transaction():
            for item in items:
                for event_id in item.event_ids:
                    self.db.execute(
                        "update deliveries set state = 'pending' where event_id = ? "
                        "and channel = ? and state = 'set_aside'", [event_id, item.channel])
                self.db.execute("delete from set_aside where id = ?", [item.id])
        return len(items)

    # -- posts -----------------------------------------------------------------------------

    def post(self, target: str, key: str) -> Post | None:
        rows = self.store.rows("select * from posts where channel = ? and key = ?",
                               [target, key])
        return _post(rows[0]) if rows else None

    def begin_post(self, target: str, key: str, *, channel_id: str, thread_ts: str | None,
                   at: str, event_ids: Sequence[int] = (), parent_key: str | None = None,
                   welcomes: Sequence[int] = ()) -> None:
        """Record the intent to post, with what it carries, before the request leaves.

        ``channel_id`` is the target's remote id; ``thread_ts`` the remote id of the post it
        replies under (None at the top level). A welcome (key ``welcome:...``) carries no
        event but the ``welcomes``, the subscriptions it welcomes (kept where a post keeps
        its events), all marked welcomed when it lands."""
        if welcomes and (event_ids or not key.startswith("welcome:")):
            raise ValueError("only a welcome carries subscriptions, and no event")
        if welcomes:
            event_ids = welcomes
        with self.store.transaction():
            self.db.table("posts").upsert(
                {"channel": target, "key": key, "channel_id": channel_id,
                 "state": "attempting", "ts": None, "thread_ts": thread_ts, "started_at": at,
                 "posted_at": None, "needs_update": 0, "event_ids": json.dumps(list(event_ids)),
                 "parent_key": parent_key}, pk=("channel", "key"))

    def finish_post(self, target: str, key: str, *, remote_id: str, at: str) -> None:
        """Record that a post landed: its remote id, its deliveries, its thread card to
        refresh."""
        rows = self.store.rows("select event_ids, parent_key from posts "
                               "where channel = ? and key = ?", [target, key])
        if not rows:
            raise KeyError(f"no post {key} in {target}")
        event_ids = json.loads(rows[0]["event_ids"] or "[]")
        with self.store.transaction():
            self.db.execute(
                "update posts set state = 'posted', ts = ?, posted_at = ? "
                "where channel = ? and key = ?", [remote_id, at, target, key])
            if rows[0]["parent_key"]:
                self.db.execute("update posts set needs_update = 1 where channel = ? and key = ?",
                                [target, rows[0]["parent_key"]])
            if key.startswith("welcome:"):
                # ``welcome:<id>`` (one project) may predate the list of subscriptions.
                for subscription_id in event_ids or [int(key.split(":", 1)[1])]:
                    self.db.execute("update subscriptions set welcomed = 1 where id = ?",
                                    [subscription_id])
            else:
                self.mark_delivered(target, event_ids, key)

    def mark_delivered(self, target: str, event_ids: Iterable[int], key: str) -> None:
        with self.store.transaction():
            for event_id in event_ids:
                self.db.execute(
                    "update deliveries set state = 'posted', post_key = ?, last_error = null "
                    "where event_id = ? and channel = ?", [key, event_id, target])

    def forget_post(self, target: str, key: str) -> None:
        """Drop a post record: it never landed, or the far side no longer has it."""
        with self.store.transaction():
            self.db.execute("delete from posts where channel = ? and key = ?", [target, key])

    def last_remote_id(self, target: str) -> str | None:
        """The highest remote id of a top-level post landed at a target: its newest post
        where the far side's ids grow with time (as Slack's ``ts`` do)."""
        rows = self.store.rows(
            "select max(ts) as ts from posts "
            "where channel = ? and state = 'posted' and thread_ts is null", [target])
        return rows[0]["ts"] if rows else None

    def attempting(self, target: str) -> list[Post]:
        """A target's posts begun and never recorded as landed, oldest first."""
        rows = self.store.rows(
            "select * from posts where channel = ? and state = 'attempting' "
            "order by started_at", [target])
        return [_post(r) for r in rows]

    def needing_update(self, target: str) -> list[Post]:
        """A target's landed posts whose content changed since (thread cards)."""
        rows = self.store.rows(
            "select * from posts where channel = ? and needs_update = 1 and state = 'posted'",
            [target])
        return [_post(r) for r in rows]

    def refresh(self, target: str, key: str) -> None:
        """Mark a landed post (a thread card) to be brought up to date by the next run."""
        with self.store.transaction():
            self.db.execute("update posts set needs_update = 1 where channel = ? and key = ? "
                            "and state = 'posted'", [target, key])

    def refresh_posts_of(self, event_ids: Sequence[int]) -> int:
        """Mark every landed BOM post carrying one of ``event_ids`` (at any target) to be
        brought up to date (their supply facts arrived); returns how many."""
        if not event_ids:
            return 0
        marks = ",".join("?" * len(event_ids))
        with self.store.transaction():
            cursor = self.db.execute(
                "update posts set needs_update = 1 where state = 'posted' and key like 'bom:%' "
                f"and exists (select 1 from json_each(posts.event_ids) j where j.value in "
                f"({marks}))", list(event_ids))
            return int(cursor.rowcount)

    def refresh_cards(self, target: str, project_id: str) -> int:
        """Mark every landed thread card of a project at a target to be brought up to date;
        returns how many."""
        with self.store.transaction():
            cursor = self.db.execute(
                "update posts set needs_update = 1 where channel = ? and state = 'posted' "
                "and key like 'thread:' || ? || ':%'", [target, project_id])
            return int(cursor.rowcount)

    def updated(self, target: str, key: str) -> None:
        with self.store.transaction():
            self.db.execute("update posts set needs_update = 0 where channel = ? and key = ?",
                            [target, key])


def _set_aside(r: dict[str, object]) -> SetAside:
    return SetAside(id=int(str(r["id"])), channel=str(r["channel"]), key=str(r["key"]),
                    kind=str(r["kind"]), reason=str(r["reason"]),
                    event_ids=tuple(int(i) for i in json.loads(str(r["event_ids"] or "[]"))),
                    set_aside_at=str(r["set_aside_at"]),
                    notified_at=r["notified_at"] if isinstance(r["notified_at"], str) else None)


def _post(r: dict[str, object]) -> Post:
    return Post(target=str(r["channel"]), key=str(r["key"]),
                channel_id=r["channel_id"] if isinstance(r["channel_id"], str) else None,
                state=str(r["state"]), remote_id=r["ts"] if isinstance(r["ts"], str) else None,
                thread_ts=r["thread_ts"] if isinstance(r["thread_ts"], str) else None,
                started_at=str(r["started_at"]), needs_update=bool(r["needs_update"]),
                event_ids=tuple(int(i) for i in json.loads(str(r["event_ids"] or "[]"))))
