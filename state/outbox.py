"""The Slack outbox over the event log: who gets which event, and what was posted.

Every Slack post has a key (``event:12``, ``bom:40``, ``thread:<project>:<thread>``,
``welcome:3``) and is recorded *before* it is sent (state ``attempting``) and again after
(``posted`` with its ``ts``). A process killed in between leaves an ``attempting`` row,
which delivery reconciles against the channel's history (the post carries its key in
message metadata) before posting anything else: so each post lands at most once. Posts are
made only under their channel's claim (``state.claims``), so an ``attempting`` row its
holder finds is a leftover of a worker that is gone, never another live worker's post in
flight.

A post that cannot go out as it is (the renderer fails, or Slack refuses the message even
as plain text) is *set aside*: kept in ``set_aside`` with its reason, its deliveries in
state ``set_aside``, skipped by every run until ``resume_set_aside`` puts it back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from state.filters import wants
from state.model import Event
from state.store import Store, StoredEvent, Subscription, stored_event


@dataclass(frozen=True)
class Delivery:
    """One event owed to one channel by one subscription."""

    event_id: int
    channel: str
    subscription_id: int
    attempts: int
    last_error: str | None
    stored: StoredEvent

    @property
    def event(self) -> Event:
        return self.stored.event


@dataclass(frozen=True)
class SetAside:
    """One post kept back: where, what (``kind``, e.g. "thread reply"), why, since when."""

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
    channel: str
    key: str
    channel_id: str | None
    state: str
    ts: str | None
    thread_ts: str | None
    started_at: str
    needs_update: bool


class Outbox:
    """Delivery bookkeeping in the same SQLite file as the events it delivers."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    # -- planning --------------------------------------------------------------------------

    def plan(self, *, at: str) -> int:
        """Owe each new event to every subscription that wants it; returns rows added."""
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
            self.store.set_meta("planned_event_id", str(events[-1].id))
            return len(rows)

    # -- what is owed ----------------------------------------------------------------------

    def pending(self, channel: str) -> list[Delivery]:
        """Undelivered events of a channel's active subscriptions, oldest first."""
        rows = self.store.rows(
            "select d.event_id as d_event_id, d.channel as d_channel, d.subscription_id, "
            "d.attempts, d.last_error, e.* from deliveries d "
            "join events e on e.id = d.event_id "
            "join subscriptions s on s.id = d.subscription_id "
            "where d.channel = ? and d.state = 'pending' and s.paused_reason is null "
            "order by d.event_id", [channel])
        return [Delivery(event_id=r["d_event_id"], channel=r["d_channel"],
                         subscription_id=r["subscription_id"], attempts=r["attempts"],
                         last_error=r["last_error"], stored=stored_event(r)) for r in rows]

    def channels_with_work(self) -> list[str]:
        """Channels with pending deliveries or an unwelcomed subscription, not paused."""
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

    def undelivered(self, channel: str | None = None) -> int:
        sql = "select count(*) as n from deliveries where state = 'pending'"
        params: list[str] = []
        if channel is not None:
            sql += " and channel = ?"
            params.append(channel)
        return int(self.store.rows(sql, params)[0]["n"])

    def note_failure(self, channel: str, event_ids: Iterable[int], error: str) -> None:
        with self.store.transaction():
            for event_id in event_ids:
                self.db.execute(
                    "update deliveries set attempts = attempts + 1, last_error = ? "
                    "where event_id = ? and channel = ?", [error, event_id, channel])

    def unwelcomed(self, channel: str) -> list[Subscription]:
        return [s for s in self.store.subscriptions(channel=channel)
                if not s.welcomed and not s.paused
                and self.set_aside_reason(channel, f"welcome:{s.id}") is None]

    # -- set aside -------------------------------------------------------------------------

    def set_aside(self, channel: str, key: str, *, kind: str, reason: str,
                  event_ids: Sequence[int] = (), at: str) -> None:
        """Keep a post back with its reason; its deliveries leave the pending queue."""
        with self.store.transaction():
            self.db.execute("delete from set_aside where channel = ? and key = ?",
                            [channel, key])
            self.db.table("set_aside").insert(
                {"channel": channel, "key": key, "kind": kind, "reason": reason,
                 "event_ids": json.dumps(list(event_ids)), "set_aside_at": at,
                 "notified_at": None})
            for event_id in event_ids:
                self.db.execute(
                    "update deliveries set state = 'set_aside', attempts = attempts + 1, "
                    "last_error = ? where event_id = ? and channel = ? and state = 'pending'",
                    [reason, event_id, channel])

    def set_aside_reason(self, channel: str, key: str) -> str | None:
        rows = self.store.rows("select reason from set_aside where channel = ? and key = ?",
                               [channel, key])
        return str(rows[0]["reason"]) if rows else None

    def set_aside_items(self, channel: str | None = None) -> list[SetAside]:
        """Every post set aside (of one channel), oldest first."""
        sql = "select * from set_aside"
        params: list[str] = []
        if channel is not None:
            sql += " where channel = ?"
            params.append(channel)
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

    def resume_set_aside(self, channel: str | None = None) -> int:
        """Put set-aside posts (of one channel) back in the queue; returns how many."""
        items = self.set_aside_items(channel)
        with self.store.transaction():
            for item in items:
                for event_id in item.event_ids:
                    self.db.execute(
                        "update deliveries set state = 'pending' where event_id = ? "
                        "and channel = ? and state = 'set_aside'", [event_id, item.channel])
                self.db.execute("delete from set_aside where id = ?", [item.id])
        return len(items)

    # -- posts -----------------------------------------------------------------------------

    def post(self, channel: str, key: str) -> Post | None:
        rows = self.store.rows("select * from posts where channel = ? and key = ?",
                               [channel, key])
        return _post(rows[0]) if rows else None

    def begin_post(self, channel: str, key: str, *, channel_id: str, thread_ts: str | None,
                   at: str, event_ids: Sequence[int] = (), parent_key: str | None = None) -> None:
        """Record the intent to post, with what it carries, before the request leaves."""
        with self.store.transaction():
            self.db.table("posts").upsert(
                {"channel": channel, "key": key, "channel_id": channel_id,
                 "state": "attempting", "ts": None, "thread_ts": thread_ts, "started_at": at,
                 "posted_at": None, "needs_update": 0, "event_ids": json.dumps(list(event_ids)),
                 "parent_key": parent_key}, pk=("channel", "key"))

    def finish_post(self, channel: str, key: str, *, ts: str, at: str) -> None:
        """Record that a post landed: its ``ts``, its deliveries, its thread card to refresh."""
        rows = self.store.rows("select event_ids, parent_key from posts "
                               "where channel = ? and key = ?", [channel, key])
        if not rows:
            raise KeyError(f"no post {key} in {channel}")
        event_ids = json.loads(rows[0]["event_ids"] or "[]")
        with self.store.transaction():
            self.db.execute(
                "update posts set state = 'posted', ts = ?, posted_at = ? "
                "where channel = ? and key = ?", [ts, at, channel, key])
            self.mark_delivered(channel, event_ids, key)
            if rows[0]["parent_key"]:
                self.db.execute("update posts set needs_update = 1 where channel = ? and key = ?",
                                [channel, rows[0]["parent_key"]])
            if key.startswith("welcome:"):
                self.db.table("subscriptions").update(int(key.split(":", 1)[1]), {"welcomed": 1})

    def mark_delivered(self, channel: str, event_ids: Iterable[int], key: str) -> None:
        with self.store.transaction():
            for event_id in event_ids:
                self.db.execute(
                    "update deliveries set state = 'posted', post_key = ?, last_error = null "
                    "where event_id = ? and channel = ?", [key, event_id, channel])

    def forget_post(self, channel: str, key: str) -> None:
        """Drop a post record: it never landed, or its Slack message is gone."""
        with self.store.transaction():
            self.db.execute("delete from posts where channel = ? and key = ?", [channel, key])

    def last_posted_ts(self, channel: str) -> str | None:
        """The newest top-level post recorded in a channel (Slack's ``ts``)."""
        rows = self.store.rows(
            "select max(ts) as ts from posts "
            "where channel = ? and state = 'posted' and thread_ts is null", [channel])
        return rows[0]["ts"] if rows else None

    def attempting(self, channel: str) -> list[Post]:
        rows = self.store.rows(
            "select * from posts where channel = ? and state = 'attempting' "
            "order by started_at", [channel])
        return [_post(r) for r in rows]

    def needing_update(self, channel: str) -> list[Post]:
        rows = self.store.rows(
            "select * from posts where channel = ? and needs_update = 1 and state = 'posted'",
            [channel])
        return [_post(r) for r in rows]

    def updated(self, channel: str, key: str) -> None:
        with self.store.transaction():
            self.db.execute("update posts set needs_update = 0 where channel = ? and key = ?",
                            [channel, key])

    # -- caches ----------------------------------------------------------------------------

    def slack_user(self, email: str) -> tuple[str | None, str] | None:
        """(Slack user id or None for a remembered miss, when it was checked), or None."""
        rows = self.store.rows("select user_id, checked_at from slack_users where email = ?",
                               [email.casefold()])
        return (rows[0]["user_id"], rows[0]["checked_at"]) if rows else None

    def remember_slack_user(self, email: str, user_id: str | None, *, at: str) -> None:
        with self.store.transaction():
            self.db.table("slack_users").upsert(
                {"email": email.casefold(), "user_id": user_id, "checked_at": at}, pk="email")

    def channel_id(self, name: str) -> str | None:
        rows = self.store.rows("select id from slack_channels where name = ?", [name])
        return rows[0]["id"] if rows else None

    def remember_channels(self, ids: dict[str, str]) -> None:
        with self.store.transaction():
            self.db.table("slack_channels").upsert_all(
                [{"name": n, "id": i} for n, i in ids.items()], pk="name")


def _set_aside(r: dict[str, object]) -> SetAside:
    return SetAside(id=int(str(r["id"])), channel=str(r["channel"]), key=str(r["key"]),
                    kind=str(r["kind"]), reason=str(r["reason"]),
                    event_ids=tuple(int(i) for i in json.loads(str(r["event_ids"] or "[]"))),
                    set_aside_at=str(r["set_aside_at"]),
                    notified_at=r["notified_at"] if isinstance(r["notified_at"], str) else None)


def _post(r: dict[str, object]) -> Post:
    return Post(channel=str(r["channel"]), key=str(r["key"]),
                channel_id=r["channel_id"] if isinstance(r["channel_id"], str) else None,
                state=str(r["state"]), ts=r["ts"] if isinstance(r["ts"], str) else None,
                thread_ts=r["thread_ts"] if isinstance(r["thread_ts"], str) else None,
                started_at=str(r["started_at"]), needs_update=bool(r["needs_update"]))
