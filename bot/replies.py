"""Answering from Slack: a person's reply in a thread card's Slack thread, written to the
Altium 365 thread as a comment, exactly once.

``receive`` turns a Slack ``message`` event into a recorded reply (``state.replies``) or
ignores it: bot messages, subtypes other than a file share or a broadcast reply, replies
under anything but a thread card, channels whose subscription does not send replies, and
messages that start by addressing the bot (those are ``/review``-style requests). An edit
(``message_changed``) of a known reply is recorded as its new text.

``work`` then does what the reply still needs, under its claim: write the comment (with the
bot's Nexar sign-in, attributed to the person's Slack name, linking back to the message),
reconcile a write whose outcome is unknown by reading the thread for that link first, send
an edit with ``desUpdateComment``, mark the reply with a reaction, and tell the person with
an ephemeral message when Altium 365 refused it or stayed down past the retries. A
transient failure is retried later (``drain``, from the run loop) with back-off.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

from bot.errors import SlackError, SlackRateLimitedError, SlackUnavailableError
from bot.slack.client import SlackClient
from bot.slack.mrkdwn import escape
from bot.slack.plain import SlackFile, comment_text, plain_text
from jobs.errors import NexarError, NexarUnknownOutcomeError, NexarWriteError
from jobs.nexar import NexarClient, Workspace
from state.claims import Claims, Owner, reply_claim
from state.clock import Clock, parse_stamp, stamp, utc_now
from state.directory import Directory
from state.errors import ReviewBotError
from state.replies import PENDING, WRITING, WRITTEN, Attachment, Replies, Reply
from state.store import Store

log = logging.getLogger(__name__)

RETRY_DELAYS: Final = (5.0, 30.0, 120.0, 600.0)
"""Seconds before each retry of a transient failure; after the last, the person is told."""
CLAIM_LEASE: Final = timedelta(minutes=2)
NAME_TTL: Final = timedelta(days=1)
REACTION: Final = "white_check_mark"
ACCEPTED_SUBTYPES: Final = frozenset({None, "file_share", "thread_broadcast"})
"""A person's message, with files, or a reply also sent to the channel."""

_BOT_FIRST = re.compile(r"^\s*<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass(frozen=True)
class Incoming:
    """A person's message in a thread, as an event told it (new, or an edit of one)."""

    channel_id: str
    ts: str
    thread_ts: str
    user_id: str
    text: str
    files: tuple[Attachment, ...]
    edited_ts: str | None = None


def incoming(event: Mapping[str, Any], *, bot_user_id: str | None = None) -> Incoming | None:
    """The reply an Events API ``message`` event carries, or None when it is none of ours
    to write (see the module's docstring)."""
    if event.get("type") != "message":
        return None
    subtype = event.get("subtype")
    edited_ts: str | None = None
    message: Mapping[str, Any] = event
    if subtype == "message_changed":
        message = event.get("message") or {}
        edited = message.get("edited") or {}
        edited_ts = str(edited.get("ts") or event.get("ts") or "") or None
        if message.get("subtype") not in ACCEPTED_SUBTYPES or edited_ts is None:
            return None
    elif subtype not in ACCEPTED_SUBTYPES:
        return None
    user = message.get("user")
    ts, thread_ts = message.get("ts"), message.get("thread_ts")
    channel = event.get("channel")
    if (message.get("bot_id") or message.get("bot_profile") or not user or not ts
            or not thread_ts or thread_ts == ts or not channel or user == bot_user_id):
        return None
    text = str(message.get("text") or "")
    mention = _BOT_FIRST.match(text)
    if mention is not None and bot_user_id is not None and mention.group(1) == bot_user_id:
        return None
    files = tuple(Attachment(name=str(f.get("name") or f.get("title") or "file"),
                             link=str(f.get("permalink") or f.get("url_private") or ""))
                  for f in message.get("files") or () if isinstance(f, Mapping))
    return Incoming(channel_id=str(channel), ts=str(ts), thread_ts=str(thread_ts),
                    user_id=str(user), text=text, files=files, edited_ts=edited_ts)


@dataclass
class RepliesReport:
    """What one pass over the replies did."""

    written: int = 0
    updated: int = 0
    refused: int = 0
    retrying: int = 0
    busy: int = 0
    problems: list[str] = field(default_factory=list)

    def health_line(self) -> str:
        return (f"replies: {self.written} written to Altium 365, {self.updated} updated, "
                f"{self.refused} refused, {self.retrying} to retry")


class ReplyWriter:
    """Writes replies from Slack to Altium 365 (see the module's docstring)."""

    def __init__(self, *, db_path: str, nexar: Callable[[], NexarClient], slack: SlackClient,
                 clock: Clock = utc_now,
                 delays: Sequence[float] = RETRY_DELAYS,
                 lease: timedelta = CLAIM_LEASE) -> None:
        self.db_path = db_path
        self.nexar = nexar
        self.slack = slack
        self.clock = clock
        self.delays = tuple(delays)
        self.lease = lease

    def _now(self) -> str:
        return stamp(self.clock())

    # -- from the event ------------------------------------------------------------------

    def receive(self, event: Mapping[str, Any], *,
                bot_user_id: str | None = None) -> tuple[str, str] | None:
        """Record the reply (or its edit) an event carries; the reply's key when there is
        work to do, None when the event is not a reply to write (or adds nothing)."""
        found = incoming(event, bot_user_id=bot_user_id)
        if found is None:
            return None
        with Store.open(self.db_path) as store:
            replies = Replies(store)
            if found.edited_ts is not None:
                changed = replies.edit(found.channel_id, found.ts, text=found.text,
                                       files=found.files, edited_ts=found.edited_ts)
                return (found.channel_id, found.ts) if changed else None
            card = replies.card(found.channel_id, found.thread_ts)
            if card is None:
                return None
            new = replies.record(card, channel_id=found.channel_id, ts=found.ts,
                                 thread_ts=found.thread_ts, user_id=found.user_id,
                                 text=found.text, files=found.files, at=self._now())
            return (found.channel_id, found.ts) if new else None

    # -- the work ------------------------------------------------------------------------

    def drain(self) -> RepliesReport:
        """Do the work of every reply whose time has come."""
        report = RepliesReport()
        with Store.open(self.db_path) as store:
            due = Replies(store).due(self._now())
        session = _Session(self)
        try:
            for reply in due:
                self._work(session, reply.channel_id, reply.ts, report)
        finally:
            session.close()
        return report

    def work(self, channel_id: str, ts: str) -> RepliesReport:
        """Do what one reply still needs, now (its retry time is not waited for)."""
        report = RepliesReport()
        session = _Session(self)
        try:
            self._work(session, channel_id, ts, report)
        finally:
            session.close()
        return report

    def _work(self, session: _Session, channel_id: str, ts: str,
              report: RepliesReport) -> None:
        name = reply_claim(channel_id, ts)
        # An owner per piece of work: two threads of this process (an event and Slack's
        # retry of it) must not both hold one reply's claim.
        owner = Owner.new()
        with Store.open(self.db_path) as store:
            found = Replies(store).get(channel_id, ts)
            if found is None or not found.has_work:
                return
            claims = Claims(store)
            taken = claims.take(name, owner, now=self.clock(), lease=self.lease)
            if not taken.granted:
                report.busy += 1
                return
            try:
                _Job(self, session, store, report).run(channel_id, ts)
            except ReviewBotError as exc:
                report.problems.append(str(exc))
                log.warning("a reply from Slack (%s %s) could not be handled now: %s",
                            channel_id, ts, exc)
            finally:
                try:
                    claims.release(name, owner.id)
                except ReviewBotError as exc:
                    log.warning("could not release the claim on reply %s (%s); it lapses "
                                "by itself", ts, exc)


class _Session:
    """One pass's Nexar client and workspaces, made when first needed."""

    def __init__(self, writer: ReplyWriter) -> None:
        self.writer = writer
        self._client: NexarClient | None = None
        self._workspaces: list[Workspace] | None = None

    def client(self) -> NexarClient:
        if self._client is None:
            self._client = self.writer.nexar()
        return self._client

    def workspace(self, url: str) -> Workspace | None:
        if self._workspaces is None:
            self._workspaces = self.client().workspaces()
        wanted = url.rstrip("/").casefold()
        return next((w for w in self._workspaces if w.url.casefold() == wanted), None)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


class _Refused(Exception):
    """Altium 365 will not take this reply; ``reason`` says why, in words for the person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Job:
    """The work on one reply, under its claim."""

    def __init__(self, writer: ReplyWriter, session: _Session, store: Store,
                 report: RepliesReport) -> None:
        self.writer = writer
        self.session = session
        self.store = store
        self.replies = Replies(store)
        self.directory = Directory(store)
        self.report = report

    def run(self, channel_id: str, ts: str) -> None:
        reply = self.replies.get(channel_id, ts)
        if reply is None:
            return
        if reply.state in (PENDING, WRITING) or (reply.state == WRITTEN and reply.needs_update):
            reply = self._to_altium(reply)
        if reply.state == WRITTEN and not reply.reacted:
            self._react(reply)
        reply = self.replies.get(channel_id, ts) or reply
        if reply.notice:
            self._tell(reply)

    # -- Altium --------------------------------------------------------------------------

    def _to_altium(self, reply: Reply) -> Reply:
        self.replies.note_attempt(reply)
        try:
            if reply.link is None:
                reply = self.replies.linked(reply, self.writer.slack.permalink(
                    reply.channel_id, reply.ts))
            text = self._comment(reply)
            workspace = self._workspace(reply)
            if reply.state == WRITING:
                reply = self._reconcile(reply, workspace, text)
            if reply.state == PENDING:
                self.replies.begin_write(reply)
                try:
                    comment_id = self.session.client().create_comment(
                        workspace, project_id=reply.project_id, thread_id=reply.thread_id,
                        text=text)
                except NexarUnknownOutcomeError:
                    raise
                except NexarError:
                    # Turned away before it ran (refused, unavailable, signed out).
                    self.replies.not_sent(reply)
                    raise
                self.replies.written(reply, comment_id=comment_id, text=text,
                                     edit=reply.edit, at=self.writer._now())
                self.report.written += 1
                log.info("wrote a reply from Slack (%s %s) to Altium 365 as comment %s",
                         reply.channel_id, reply.ts, comment_id)
            elif reply.state == WRITTEN and reply.needs_update and reply.comment_id:
                self.session.client().update_comment(
                    workspace, project_id=reply.project_id, thread_id=reply.thread_id,
                    comment_id=reply.comment_id, text=text)
                self.replies.updated(reply, text=text, edit=reply.edit)
                self.report.updated += 1
        except _Refused as exc:
            self._refuse(reply, exc.reason)
        except NexarWriteError as exc:
            self._refuse(reply, "; ".join(exc.messages) or str(exc))
        except (NexarError, SlackUnavailableError, SlackRateLimitedError) as exc:
            self._later(reply, str(exc))
        except SlackError as exc:
            # The message's link or its author's name cannot be had: write nothing.
            self._refuse(reply, f"Slack would not say where the message is ({exc.code})")
        return self.replies.get(reply.channel_id, reply.ts) or reply

    def _workspace(self, reply: Reply) -> Workspace:
        snapshot = self.store.load_snapshot(reply.project_id, with_bom=False)
        if snapshot is None:
            raise _Refused("the bot no longer watches that project")
        if reply.thread_id not in snapshot.threads and reply.state == PENDING:
            raise _Refused("the Altium 365 thread is gone (deleted)")
        found = self.session.workspace(snapshot.project.workspace_url)
        if found is None:
            raise _Refused("the project's workspace is not reachable with the bot's sign-in")
        return found

    def _reconcile(self, reply: Reply, workspace: Workspace, text: str) -> Reply:
        """A write that may have happened: the comment carrying this reply's link, if it is
        there, is the one; else the reply is written (again) from scratch."""
        thread = self.session.client().comment_thread(workspace, reply.project_id,
                                                      reply.thread_id)
        if thread is None:
            raise _Refused("the Altium 365 thread is gone (deleted)")
        link = reply.link or ""
        for comment in thread.comments:
            if link and comment.text.rstrip().endswith(link):
                self.replies.written(reply, comment_id=comment.comment_id,
                                     text=comment.text,
                                     edit=reply.edit if comment.text == text else None,
                                     at=self.writer._now())
                self.report.written += 1
                log.info("a reply from Slack (%s %s) had reached Altium 365 as comment %s "
                         "before its answer was lost", reply.channel_id, reply.ts,
                         comment.comment_id)
                return self.replies.get(reply.channel_id, reply.ts) or reply
        self.replies.not_sent(reply)
        return self.replies.get(reply.channel_id, reply.ts) or reply

    def _comment(self, reply: Reply) -> str:
        author = self._name(reply.user_id) or "A Slack user"
        body = plain_text(reply.text, user_name=self._name)
        files = [SlackFile(name=f.name, link=f.link) for f in reply.files]
        return comment_text(author=author, text=body, files=files, link=reply.link or "")

    def _name(self, user_id: str) -> str | None:
        """A person's Slack name, cached for a day."""
        cached = self.directory.name(user_id)
        now = self.writer.clock()
        if cached is not None and now - parse_stamp(cached.checked_at) < NAME_TTL:
            return cached.id
        try:
            name = self.writer.slack.user_name(user_id)
        except SlackError as exc:
            log.info("could not look up a Slack user's name (%s)", exc.code)
            return cached.id if cached is not None else None
        self.directory.remember_name(user_id, name, at=stamp(now))
        return name

    # -- outcomes ------------------------------------------------------------------------

    def _refuse(self, reply: Reply, reason: str) -> None:
        # The notice is Slack text: what Nexar and Altium said is escaped here, once.
        thread = self._thread_words(reply)
        why = escape(reason, 500, flat=True)
        if reply.state == WRITTEN:
            self.replies.drop_update(reply, reason=reason, notice=(
                f":warning: Your edit could not be made in Altium 365 {thread}: {why}. The "
                "comment there keeps what it said before."))
        else:
            self.replies.refuse(reply, reason=reason, notice=(
                f":warning: Your reply could not be added to Altium 365 {thread}: {why}. It "
                "is only in Slack."))
        self.report.refused += 1
        log.warning("a reply from Slack (%s %s) was not written to Altium 365: %s",
                    reply.channel_id, reply.ts, reason)

    def _later(self, reply: Reply, error: str) -> None:
        reply = self.replies.get(reply.channel_id, reply.ts) or reply
        attempt = max(reply.attempts, 1)
        if attempt > len(self.writer.delays):
            self._refuse(reply, f"Altium 365 could not be reached after {attempt} tries "
                                f"({error})")
            return
        retry_at = self.writer.clock() + timedelta(seconds=self.writer.delays[attempt - 1])
        self.replies.retry_later(reply, error=error, retry_at=stamp(retry_at))
        self.report.retrying += 1
        log.info("a reply from Slack (%s %s) is tried again at %s: %s", reply.channel_id,
                 reply.ts, stamp(retry_at), error)

    def _thread_words(self, reply: Reply) -> str:
        snapshot = self.store.load_snapshot(reply.project_id, with_bom=False)
        thread = snapshot.threads.get(reply.thread_id) if snapshot else None
        project = escape(snapshot.project.name, 200, flat=True) if snapshot else "the project"
        return f"(thread #{thread.number} of {project})" if thread else f"({project})"

    # -- Slack ---------------------------------------------------------------------------

    def _react(self, reply: Reply) -> None:
        try:
            self.writer.slack.react(reply.channel_id, reply.ts, REACTION)
        except (SlackUnavailableError, SlackRateLimitedError) as exc:
            self._slack_later(reply, str(exc))
            return
        except SlackError as exc:
            log.warning("could not mark a reply that reached Altium 365 (%s)", exc.code)
        self.replies.reacted(reply)

    def _tell(self, reply: Reply) -> None:
        try:
            self.writer.slack.tell(reply.channel_id, reply.user_id, text=reply.notice or "",
                                   thread_ts=reply.thread_ts)
        except (SlackUnavailableError, SlackRateLimitedError) as exc:
            self._slack_later(reply, str(exc))
            return
        except SlackError as exc:
            log.warning("could not tell the author of a reply that it did not reach Altium "
                        "365 (%s)", exc.code)
        self.replies.told(reply)

    def _slack_later(self, reply: Reply, error: str) -> None:
        retry_at = self.writer.clock() + timedelta(seconds=self.writer.delays[0])
        self.replies.retry_later(reply, error=error, retry_at=stamp(retry_at))
        self.report.retrying += 1

