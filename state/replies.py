"""Replies from Slack on their way to Altium 365, from the event that brought each one to
the comment it became.

A reply is a person's message in the Slack thread of a thread card, in a channel whose
subscription sends replies (``Subscription.replies``). It is keyed by its Slack message
(channel id and ``ts``): Slack retries an event and Socket Mode may deliver one twice, and
both find the row and add nothing. Its states::

    pending --> writing --> written
       |           |
       +-----------+--> refused   (Nexar refused it, or stayed down past the retries)

``writing`` is recorded before the comment is sent. A process killed between the write
and its record, or a write whose answer was lost, leaves ``writing``: whoever works on the
reply next reads the Altium thread for the reply's link before writing it again, so one
Slack message makes one comment. Work on one reply happens only under its claim
(``state.claims.reply_claim``).

An edit of the Slack message replaces ``text`` and stamps ``edited_ts``; a written reply
whose comment does not say the latest edit has ``needs_update`` set until it does.
``notice`` holds what the person is still to be told (a refused write or edit), cleared
once told; ``reacted`` says the reply was marked as having reached Altium 365.

``comment_id`` ties a written reply to its Altium comment: the next poll records that
comment like any other, and delivery finds here that it came from Slack.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from state.store import Store

PENDING = "pending"
WRITING = "writing"
WRITTEN = "written"
REFUSED = "refused"


@dataclass(frozen=True)
class Attachment:
    """A file shared with a reply: its name and its link in Slack."""

    name: str
    link: str


@dataclass(frozen=True)
class CardThread:
    """The Altium thread a Slack thread belongs to, and the subscription (its ``target``)
    that posted the card and sends replies."""

    target: str
    project_id: str
    thread_id: str


@dataclass(frozen=True)
class Reply:
    """One Slack reply and how far it got."""

    channel_id: str
    ts: str
    thread_ts: str
    target: str
    project_id: str
    thread_id: str
    user_id: str
    text: str
    files: tuple[Attachment, ...]
    link: str | None
    """The Slack message's web link, once asked (the comment carries it)."""
    edited_ts: str | None
    state: str
    comment_id: str | None
    written_text: str | None
    needs_update: bool
    attempts: int
    retry_at: str | None
    last_error: str | None
    reacted: bool
    notice: str | None
    received_at: str
    written_at: str | None

    @property
    def has_work(self) -> bool:
        """Whether anything is left to do for it, its retry time aside (what ``due`` asks
        of the table)."""
        return (self.state in (PENDING, WRITING) or self.notice is not None
                or (self.state == WRITTEN and (self.needs_update or not self.reacted)))

    @property
    def edit(self) -> str:
        """Which version of the message this is ('' for the original)."""
        return self.edited_ts or ""


class Replies:
    """The replies table, in the same SQLite file as the outbox."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    def card(self, channel_id: str, thread_ts: str) -> CardThread | None:
        """The thread card posted as ``thread_ts`` in channel ``channel_id``, when a
        subscription of that channel to the card's project sends replies (and is not
        paused); None for any other message."""
        rows = self.store.rows(
            "select p.channel as target, p.key as key, s.project_id as project_id "
            "from posts p join subscriptions s on s.channel = p.channel "
            "where p.channel_id = ? and p.ts = ? and p.state = 'posted' "
            "and p.key like 'thread:%' and s.replies = 1 and s.paused_reason is null "
            "order by p.channel", [channel_id, thread_ts])
        for row in rows:
            _, project_id, thread_id = str(row["key"]).split(":", 2)
            if project_id == row["project_id"]:
                return CardThread(target=str(row["target"]), project_id=project_id,
                                  thread_id=thread_id)
        return None

    def record(self, card: CardThread, *, channel_id: str, ts: str, thread_ts: str,
               user_id: str, text: str, files: Sequence[Attachment], at: str) -> bool:
        """Keep a new reply as ``pending``; False when it is already known (a retry)."""
        with self.store.transaction():
            if self.get(channel_id, ts) is not None:
                return False
            self.db.table("slack_replies").insert({
                "channel_id": channel_id, "ts": ts, "thread_ts": thread_ts,
                "target": card.target, "project_id": card.project_id,
                "thread_id": card.thread_id, "user_id": user_id, "text": text,
                "files": _files_json(files), "state": PENDING, "received_at": at})
            return True

    def edit(self, channel_id: str, ts: str, *, text: str, files: Sequence[Attachment],
             edited_ts: str) -> bool:
        """Take an edit of a known reply, unless a later edit is already here; True when
        the reply changed (a written one then needs its comment updated)."""
        with self.store.transaction():
            current = self.get(channel_id, ts)
            if current is None or (current.edited_ts or "") >= edited_ts:
                return False
            if current.text == text and current.files == tuple(files):
                return False
            self.db.execute(
                "update slack_replies set text = ?, files = ?, edited_ts = ?, "
                "needs_update = case when state = ? then 1 else needs_update end, "
                "retry_at = null where channel_id = ? and ts = ?",
                [text, _files_json(files), edited_ts, WRITTEN, channel_id, ts])
            return True

    def get(self, channel_id: str, ts: str) -> Reply | None:
        rows = self.store.rows("select * from slack_replies where channel_id = ? and ts = ?",
                               [channel_id, ts])
        return _reply(rows[0]) if rows else None

    def from_comment(self, comment_id: str) -> Reply | None:
        """The reply that became the Altium comment ``comment_id``, if one did."""
        rows = self.store.rows("select * from slack_replies where comment_id = ?",
                               [comment_id])
        return _reply(rows[0]) if rows else None

    def due(self, now: str) -> list[Reply]:
        """Replies with work left whose retry time has come, oldest first: to write, to
        reconcile, to update, to mark, or whose author is still to be told something
        (``Reply.has_work``, in SQL)."""
        rows = self.store.rows(
            "select * from slack_replies where (retry_at is null or retry_at <= ?) and ("
            "state in (?, ?) or (state = ? and (needs_update = 1 or reacted = 0)) "
            "or notice is not null) order by received_at, ts",
            [now, PENDING, WRITING, WRITTEN])
        return [_reply(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """How many replies are in each state."""
        rows = self.store.rows("select state, count(*) as n from slack_replies group by state")
        return {str(r["state"]): int(r["n"]) for r in rows}

    # -- transitions (under the reply's claim) ----------------------------------------------

    def begin_write(self, reply: Reply) -> None:
        """About to send the comment: from here a lost answer is reconciled, not resent."""
        self._set(reply, "state = ?", [WRITING])

    def written(self, reply: Reply, *, comment_id: str, text: str, edit: str | None,
                at: str) -> None:
        """The comment exists. ``edit`` is the version of the message it says (None when
        not known): any other version still to send sets ``needs_update``."""
        self._set(reply, "state = ?, comment_id = ?, written_text = ?, written_at = ?, "
                         "needs_update = case when coalesce(edited_ts, '') = ? then 0 else 1 "
                         "end, retry_at = null, last_error = null",
                  [WRITTEN, comment_id, text, at, "\0" if edit is None else edit])

    def updated(self, reply: Reply, *, text: str, edit: str) -> None:
        """The comment now says version ``edit`` of the message."""
        self._set(reply, "written_text = ?, needs_update = case when coalesce(edited_ts, '') "
                         "= ? then 0 else 1 end, retry_at = null, last_error = null",
                  [text, edit])

    def retry_later(self, reply: Reply, *, error: str, retry_at: str) -> None:
        """A transient failure: try again at ``retry_at``, in the same state (a reply left
        ``writing`` is reconciled first)."""
        self._set(reply, "last_error = ?, retry_at = ?", [error, retry_at])

    def not_sent(self, reply: Reply) -> None:
        """The comment surely does not exist (Nexar turned the write away unexecuted, or
        the thread was read and it is not there): write it from scratch."""
        self._set(reply, "state = ? ", [PENDING])

    def note_attempt(self, reply: Reply) -> None:
        """Count one more try at bringing the reply to Altium 365."""
        self._set(reply, "attempts = attempts + 1", [])

    def refuse(self, reply: Reply, *, reason: str, notice: str) -> None:
        """Nothing more will be written: keep why, and tell the person ``notice``."""
        self._set(reply, "state = ?, last_error = ?, notice = ?, retry_at = null",
                  [REFUSED, reason, notice])

    def drop_update(self, reply: Reply, *, reason: str, notice: str) -> None:
        """An edit that cannot reach its comment: the comment keeps what it said."""
        self._set(reply, "needs_update = 0, last_error = ?, notice = ?, retry_at = null",
                  [reason, notice])

    def linked(self, reply: Reply, link: str) -> Reply:
        """Keep the Slack message's web link; the reply as it now is."""
        self._set(reply, "link = ?", [link])
        found = self.get(reply.channel_id, reply.ts)
        assert found is not None
        return found

    def told(self, reply: Reply) -> None:
        self._set(reply, "notice = null", [])

    def reacted(self, reply: Reply) -> None:
        self._set(reply, "reacted = 1", [])

    def _set(self, reply: Reply, assignments: str, params: Sequence[Any]) -> None:
        with self.store.transaction():
            self.db.execute(f"update slack_replies set {assignments} "
                            "where channel_id = ? and ts = ?",
                            [*params, reply.channel_id, reply.ts])


def _files_json(files: Sequence[Attachment]) -> str:
    return json.dumps([[f.name, f.link] for f in files])


def _reply(r: dict[str, Any]) -> Reply:
    files = tuple(Attachment(name=str(n), link=str(link))
                  for n, link in json.loads(r["files"] or "[]"))
    return Reply(channel_id=r["channel_id"], ts=r["ts"], thread_ts=r["thread_ts"],
                 target=r["target"], project_id=r["project_id"], thread_id=r["thread_id"],
                 user_id=r["user_id"], text=r["text"], files=files, link=r["link"],
                 edited_ts=r["edited_ts"],
                 state=r["state"], comment_id=r["comment_id"], written_text=r["written_text"],
                 needs_update=bool(r["needs_update"]), attempts=int(r["attempts"]),
                 retry_at=r["retry_at"], last_error=r["last_error"],
                 reacted=bool(r["reacted"]), notice=r["notice"], received_at=r["received_at"],
                 written_at=r["written_at"])
