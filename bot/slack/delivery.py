"""Delivery: the outbox drained to Slack, each event posted at most once per channel.

For every channel with work: reconcile posts a killed process left half-done (their key is
in the message metadata), refresh thread cards, welcome new subscriptions, then post the
pending events in order: a thread event into its Altium thread's Slack thread (starting the
card if it was never posted), a poll's BOM changes of one variant as one message (with the
supply facts kept for the parts it brings in: only read here, never asked for), a new
revision as one line. A comment written from a person's Slack reply (``bot.replies``) is
not posted back into the channel it came from; other channels get it as that person's reply
"via Slack". The "now tracking" welcomes of several projects new to a channel are one post
listing them. Channels go out in parallel (``workers`` at once), each in order, one post at
a time, at about one post per second per channel counted from the start of each post; 429
waits ``Retry-After`` in its own channel only (never longer than ``max_wait``: a longer
wait stops the channel for this run, like Slack being down); 5xx and timeouts retry with
back-off; errors that never heal pause the subscription and keep its events. Every wait
goes through the injected ``sleep``, which raises ``StoppedError`` when the process is
stopping; a stop, a dead token or Ctrl-C in one worker ends every worker of the run.

One bad post never blocks the rest: a post the renderer cannot build (any exception), or
that Slack refuses as a message even as plain text, is *set aside* with its reason (see
``state.outbox``), the operators are told once, and delivery goes on with the next one. A
reply whose thread card is set aside is posted at the top level of the channel, saying
which thread it belongs to, so it is never held back by its card.

Several processes may deliver from one database at once. Every post goes out under its
channel's claim (``state.claims``: one mechanism for deliveries, digests and the ops
notice): a run claims each channel before touching it, renews the claim before each post
and while it waits, and releases it when the channel is done, on Ctrl-C and on any error.
A channel claimed by a live process is skipped this run and reported as being delivered
there; a claim whose owner was killed is taken over, and the posts it left
``attempting`` are reconciled from the channel's history before anything is posted again.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from bot.errors import (
    SlackAuthError,
    SlackChannelError,
    SlackError,
    SlackMessageError,
    SlackRateLimitedError,
    SlackUnavailableError,
    render_failure,
)
from bot.slack.cards import Cards
from bot.slack.client import Posted, SlackClient
from bot.slack.message import Message, Unrendered
from bot.slack.plain import from_slack
from jobs.nexar import RetryPolicy
from state.claims import Claims, Owner, channel_claim
from state.clock import Clock, parse_stamp, stamp, utc_now
from state.directory import Directory
from state.errors import BusyError, ReviewBotError, SetAsideError, StoppedError
from state.model import Comment, Event, Person, ProjectInfo, Snapshot, Thread
from state.outbox import Delivery, Outbox, SetAside
from state.part_supply import PartSupply
from state.replies import Replies
from state.store import Store, Subscription
from state.supply import PartKey, SupplyFacts, Thresholds, new_parts

log = logging.getLogger(__name__)

RECONCILE_WINDOW = 60.0
T = TypeVar("T")
MISS_TTL = timedelta(days=1)
HIT_TTL = timedelta(days=30)
CLAIM_LEASE = timedelta(minutes=2)
"""How long a channel claim holds without renewal: longer than any one Slack request (the
client's timeout), renewed before each post and during every wait."""
CLAIM_WAIT = 30.0
"""How long a keyed post (a digest) waits for a channel another worker is delivering."""
CLAIM_POLL = 0.5
WORKERS = 8
"""Channels worked on at once: posting, reading, rendering. A channel waiting for its turn
(Slack's pace, a Retry-After, a back-off) frees its worker for another channel."""
LANES = 64
"""Channels in progress at once (a thread and a database connection each); the rest wait
for one to finish."""


OpsNotice = Callable[[Sequence[SetAside]], Message]
"""Builds the operators' message about deliveries just set aside."""
SupplyNote = Callable[[list[PartKey]], str | None]
"""What a BOM change message says of its new parts without supply facts (plain text, e.g.
"Supply data follows"), or None to say nothing."""


@dataclass
class DeliveryReport:
    """What one delivery run did, and every channel still paused when it ended.

    ``paused`` maps each paused channel to its reason, whether this run or an earlier one
    paused it (``paused_since`` says when): a channel paused yesterday is as broken as one
    paused now, and a cron job must keep hearing about it until someone resumes it.
    """

    posted: int = 0
    updated: int = 0
    reconciled: int = 0
    pending: int = 0
    paused: dict[str, str] = field(default_factory=dict)
    paused_since: dict[str, str] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    set_aside: dict[str, list[SetAside]] = field(default_factory=dict)
    """Every channel's posts set aside, this run's and earlier ones' (until resumed)."""
    newly_set_aside: int = 0
    stopped: bool = False
    busy: dict[str, str] = field(default_factory=dict)
    """Channels skipped because another live process is delivering them: who, since when."""

    @property
    def ok(self) -> bool:
        """No failure and no pause. Set-aside posts are reported, not failures: they wait
        for an upgrade and ``review-bot resume``, and everything else went out."""
        return not self.failures and not self.paused

    def add(self, part: DeliveryReport) -> None:
        """Fold one worker's part of the run into the run's report (pauses, set-aside posts
        and what is pending are read from the store once the run ends)."""
        self.posted += part.posted
        self.updated += part.updated
        self.reconciled += part.reconciled
        self.newly_set_aside += part.newly_set_aside
        self.failures.update(part.failures)
        self.busy.update(part.busy)
        self.stopped = self.stopped or part.stopped

    def note_set_aside(self, items: Sequence[SetAside]) -> None:
        for item in items:
            self.set_aside.setdefault(item.channel, []).append(item)

    def note_paused(self, subscriptions: Sequence[Subscription]) -> None:
        """Add every paused subscription's channel, with its reason and since when."""
        for sub in subscriptions:
            if sub.paused_reason is not None:
                self.paused.setdefault(sub.channel, sub.paused_reason)
                self.paused_since.setdefault(sub.channel, sub.paused_at or "")

    def health_line(self) -> str:
        line = (f"deliver: {self.posted} posted, {self.updated} cards updated, "
                f"{self.pending} pending, {len(self.paused)} channels paused, "
                f"{len(self.failures)} failures, "
                f"{sum(len(v) for v in self.set_aside.values())} set aside")
        problems = {**{k: f"paused, {v}" for k, v in self.paused.items()}, **self.failures,
                    **{k: f"being delivered by {v}" for k, v in self.busy.items()}}
        if problems:
            line += " (" + "; ".join(f"{k}: {v}" for k, v in sorted(problems.items())) + ")"
        return line


@dataclass(frozen=True)
class _Unit:
    """Deliveries that go out as one post."""

    kind: str
    deliveries: tuple[Delivery, ...]

    @property
    def first(self) -> Event:
        return self.deliveries[0].event

    @property
    def event_ids(self) -> list[int]:
        return [d.event_id for d in self.deliveries]


class _ParentGone(Exception):
    """The Slack message of a thread card was deleted; the card must be posted again."""


class _Halted(StoppedError):
    """Another worker of the same run stopped it (a stop, a dead token, an unexpected
    error): this one ends its channel where it is, like a stop."""


class Deliverer:
    """Drains the outbox to Slack, each message built by ``renderer`` (the cards)."""

    def __init__(self, *, store: Store, slack: SlackClient, renderer: Cards,
                 clock: Clock = utc_now, sleep: Callable[[float], None] = time.sleep,
                 min_interval: float = 1.0, retry: RetryPolicy | None = None,
                 max_rate_limit_waits: int = 10, max_wait: float = 300.0,
                 ops_channel: str | None = None, ops_notice: OpsNotice | None = None,
                 owner: Owner | None = None, lease: timedelta = CLAIM_LEASE,
                 claim_wait: float = CLAIM_WAIT, supply_thresholds: Thresholds | None = None,
                 supply_note: SupplyNote | None = None, workers: int = WORKERS) -> None:
        if workers < 1:
            raise ValueError("at least one worker is needed")
        self.store = store
        self.outbox = Outbox(store)
        self.directory = Directory(store)
        self.slack = slack
        self.renderer = renderer
        self.clock = clock
        self.sleep = sleep
        self.min_interval = min_interval
        self.retry = retry or RetryPolicy(attempts=3)
        self.max_rate_limit_waits = max_rate_limit_waits
        self.max_wait = max_wait
        self.ops_channel = ops_channel
        self.ops_notice = ops_notice
        self.owner = owner or Owner.new()
        self.claims = Claims(store)
        self.lease = lease
        self.claim_wait = claim_wait
        self.supply_thresholds = supply_thresholds or Thresholds()
        self.supply_note = supply_note
        self._parts = PartSupply(store, self.supply_thresholds)
        self._held: dict[str, datetime] = {}
        """Claims this deliverer holds now -> when each was last renewed."""
        self._last_post: dict[str, datetime] = {}
        self._channel_ids: dict[str, str] = {}
        self._snapshots: dict[str, Snapshot | None] = {}
        self._replies: dict[tuple[str, str], bool] = {}
        self.workers = workers
        self._halt: threading.Event | None = None
        """Set when a worker of a parallel run ends the run for every worker."""
        self._slots: threading.Semaphore | None = None
        """The run's workers: held while a channel works, given back while it waits."""

    def _now(self) -> str:
        return stamp(self.clock())

    def deliver(self) -> DeliveryReport:
        """Plan new events, then post everything owed to every channel that is not paused.

        Channels go out in parallel (``workers`` at once, each channel in order, one post at
        a time, each worker on its own database connection), so one channel's pace or
        Retry-After holds back no other. A dead token or a stop ends every worker.
        """
        report = DeliveryReport()
        self._snapshots.clear()
        self._replies.clear()
        self._parts = PartSupply(self.store, self.supply_thresholds)
        self.outbox.plan(at=self._now())
        channels = self.outbox.channels_with_work()
        if self.workers > 1 and len(channels) > 1 and self.store.path != ":memory:":
            self._in_parallel(channels, report)
        else:
            for channel in channels:
                if not self._deliver_channel(channel, report):
                    break
        # The report names every pause, this run's and earlier ones' (which were skipped).
        report.note_paused(self.store.paused_subscriptions())
        if not report.stopped:
            self.tell_operators()
        report.note_set_aside(self.outbox.set_aside_items())
        report.pending = self.outbox.undelivered()
        log.debug(report.health_line())
        return report

    def _deliver_channel(self, channel: str, report: DeliveryReport) -> bool:
        """Everything owed to one channel, under its claim; False when the run must end
        (the token is dead, the bot is stopping)."""
        try:
            with self._claimed(channel):
                self._channel(channel, report)
        except BusyError as exc:
            report.busy[channel] = exc.holder
            log.info("%s", exc)
        except SlackAuthError as exc:
            self.store.pause(exc.code, at=self._now())
            log.info("delivery stopped: %s; every subscription is paused", exc)
            return False
        except SlackChannelError as exc:
            self.store.pause(exc.code, at=self._now(), channel=channel)
            log.info("paused %s: %s; its events are kept", channel, exc)
        except SlackError as exc:
            report.failures[channel] = str(exc)
            log.info("delivery to %s stopped for now: %s", channel, exc)
        except _Halted:
            return False
        except StoppedError:
            report.stopped = True
            log.info("delivery stopped: the bot is stopping; the rest goes out next start")
            return False
        return True

    def _in_parallel(self, channels: Sequence[str], report: DeliveryReport) -> None:
        """Deliver ``channels`` on up to ``LANES`` threads, ``workers`` of them working at
        once; each thread takes the next channel when its own is done.

        An error no channel handles (Ctrl-C from the injected sleep, a database failure)
        ends every worker and is raised here once they have all ended.
        """
        halt = threading.Event()
        slots = threading.Semaphore(self.workers)
        todo = iter(channels)
        lock = threading.Lock()
        parts: list[DeliveryReport] = []
        errors: list[BaseException] = []

        def lane() -> None:
            part = DeliveryReport()
            parts.append(part)
            try:
                with Store.open(self.store.path) as store:
                    worker = self._worker(store, halt, slots)
                    while not halt.is_set():
                        with lock:
                            channel = next(todo, None)
                        if channel is None:
                            return
                        with slots:
                            if halt.is_set():
                                return
                            if not worker._deliver_channel(channel, part):
                                halt.set()
            except BaseException as exc:
                errors.append(exc)
                halt.set()

        threads = [threading.Thread(target=lane, name=f"deliver-{n + 1}", daemon=True)
                   for n in range(min(LANES, len(channels)))]
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                thread.join()
        except BaseException:
            halt.set()
            for thread in threads:
                thread.join()
            raise
        finally:
            for part in parts:
                report.add(part)
        if errors:
            raise errors[0]

    def _worker(self, store: Store, halt: threading.Event,
                slots: threading.Semaphore) -> Deliverer:
        """This deliverer as one worker of a parallel run sees it: its own connection,
        claims held and caches; the same Slack client, clock, sleep, owner and pace."""
        worker = copy.copy(self)
        worker.store = store
        worker.outbox = Outbox(store)
        worker.directory = Directory(store)
        worker.claims = Claims(store)
        worker._parts = PartSupply(store, self.supply_thresholds)
        worker._held = {}
        worker._snapshots = {}
        worker._replies = {}
        worker._channel_ids = dict(self._channel_ids)
        worker._halt = halt
        worker._slots = slots
        return worker

    def _check_halt(self) -> None:
        if self._halt is not None and self._halt.is_set():
            raise _Halted("another worker ended this delivery run")

    def post_once(self, channel: str, key: str, message: Message, *,
                  kind: str = "digest") -> str:
        """Post ``message`` to ``channel`` unless a post with ``key`` already landed there.

        The same record-then-send-then-record path as events, so a crash or a second
        attempt with the same key never posts twice. Returns the post's ``ts``. A message
        that is ``Unrendered`` or that Slack refuses even as plain text is set aside (the
        operators told once) and ``SetAsideError`` raised; so is a key already set aside,
        without asking Slack, until ``review-bot resume``.

        It posts under the channel's claim, waiting up to ``claim_wait`` seconds for a
        worker delivering the channel; ``BusyError`` (saying who) when it is still busy.
        """
        reason = self.outbox.set_aside_reason(channel, key)
        if reason is not None:
            raise SetAsideError(f"the {kind} {key} for {channel} is set aside ({reason}); "
                                "'review-bot resume' tries it again", reason=reason)
        channel_id = self._resolve(channel)
        with self._claimed(channel, wait=self.claim_wait):
            self._reconcile(channel, channel_id)
            try:
                if isinstance(message, Unrendered):
                    raise SetAsideError("unrendered", reason=message.reason)
                return self._post(channel, channel_id, key, message)
            except SetAsideError as exc:
                self.outbox.set_aside(channel, key, kind=kind, reason=exc.reason,
                                      at=self._now())
                log.info("set aside the %s %s for %s: %s", kind, key, channel, exc.reason)
                self.tell_operators()
                raise SetAsideError(f"the {kind} {key} for {channel} was set aside: "
                                    f"{exc.reason}", reason=exc.reason) from None

    def tell_operators(self) -> None:
        """Tell the ops channel, once, about every post set aside since it was last told.

        One message per run however many there are; it is itself a keyed post, so a crash
        never repeats it. Without an ops channel the log line of each set-aside is all.
        It goes out under the ops channel's claim; while another worker holds that, the
        operators are told by a later run.
        """
        if not self.ops_channel or self.ops_notice is None or not self.outbox.unnotified():
            return
        try:
            with self._claimed(self.ops_channel):
                self._tell(self.ops_channel, self.ops_notice)
        except BusyError as exc:
            log.info("the operators hear of set-aside posts next run: %s", exc)

    def _tell(self, ops_channel: str, ops_notice: OpsNotice) -> None:
        items = self.outbox.unnotified()
        if not items:
            return
        key = f"set-aside:{items[0].id}-{items[-1].id}:{items[-1].set_aside_at}"
        try:
            if self.outbox.set_aside_reason(ops_channel, key) is None:
                ops_id = self._resolve(ops_channel)
                self._reconcile(ops_channel, ops_id)
                self._post(ops_channel, ops_id, key, ops_notice(items))
        except (SlackError, SetAsideError) as exc:
            if not isinstance(exc, SlackMessageError | SetAsideError):
                log.warning("could not tell %s about %d set-aside post(s): %s; trying again "
                            "next run", ops_channel, len(items), exc)
                return
            log.warning("could not tell %s about %d set-aside post(s): %s",
                        ops_channel, len(items), exc)
        self.outbox.mark_notified([i.id for i in items], at=self._now())

    # -- claims ------------------------------------------------------------------------------

    @contextmanager
    def _claimed(self, channel: str, *, wait: float = 0.0) -> Iterator[None]:
        """Hold ``channel``'s claim for the block (already held: nothing more to do).

        Waits up to ``wait`` seconds for a live holder; ``BusyError`` when it keeps it.
        The claim is released however the block ends: done, an error, Ctrl-C, a stop.
        """
        name = channel_claim(channel)
        if name in self._held:
            yield
            return
        taken = self.claims.take_within(name, self.owner, clock=self.clock, lease=self.lease,
                                        wait=wait, sleep=self._wait, poll=CLAIM_POLL)
        if not taken.granted:
            holder = taken.holder.describe() if taken.holder else "another process"
            raise BusyError(f"{channel} is being delivered by {holder}; it goes out from "
                            "there", holder=holder)
        if taken.lapsed is not None:
            log.warning("taking over %s from %s, which stopped before it finished; "
                        "checking the channel for what it posted", channel,
                        taken.lapsed.describe())
        self._held[name] = self.clock()
        try:
            yield
        finally:
            del self._held[name]
            try:
                self.claims.release(name, self.owner.id)
            except ReviewBotError as exc:
                log.warning("could not release the claim on %s (%s); it lapses by itself",
                            channel, exc)

    def _keep(self, *, now: bool = False) -> None:
        """Renew the claims held (``now``: whatever their age, else once a sixth of the
        lease has passed); ``BusyError`` when one was taken over meanwhile."""
        moment = self.clock()
        for name, renewed in list(self._held.items()):
            if not now and moment - renewed < self.lease / 6:
                continue
            if not self.claims.renew(name, self.owner, now=moment, lease=self.lease):
                holder = self.claims.holder(name)
                who = holder.describe() if holder is not None else "nobody"
                channel = name.split(":", 1)[1]
                raise BusyError(f"{channel} was taken over by {who} while this run waited; "
                                "it goes out from there", holder=who)
            self._held[name] = moment

    def _wait(self, seconds: float) -> None:
        """Sleep (through the injected ``sleep``), renewing held claims as time passes."""
        step = max(1.0, self.lease.total_seconds() / 4)
        while seconds > 0:
            self._check_halt()
            if self._slots is None:
                self.sleep(min(step, seconds))
            else:
                # A channel waiting for its turn gives its worker to another channel.
                self._slots.release()
                try:
                    self.sleep(min(step, seconds))
                finally:
                    self._slots.acquire()
            seconds -= step
            self._check_halt()
            self._keep()

    # -- one channel -------------------------------------------------------------------------

    def _channel(self, channel: str, report: DeliveryReport) -> None:
        channel_id = self._resolve(channel)
        report.reconciled += self._reconcile(channel, channel_id)
        report.updated += self._refresh_cards(channel, channel_id)
        report.posted += self._welcomes(channel, channel_id, report)
        for unit in _units(self.outbox.pending(channel)):
            try:
                report.posted += self._send(channel, channel_id, unit, report)
            except SlackError as exc:
                self.outbox.note_failure(channel, unit.event_ids, exc.code or str(exc))
                raise
        report.updated += self._refresh_cards(channel, channel_id)

    def _welcomes(self, channel: str, channel_id: str, report: DeliveryReport) -> int:
        """One "now tracking" post for every project new to ``channel`` (baselined): a single
        project's summary, or one list of several under one key (``welcome:<first>-<last>``)
        that marks every subscription it lists welcomed when it lands. A project whose line
        cannot be rendered is set aside alone; a list that cannot go out is set aside as
        each of its subscriptions' welcome, so ``resume`` tries them again."""
        kind = "now-tracking welcome"
        subs = self.outbox.unwelcomed(channel)
        entries: list[tuple[str, Subscription]] = []
        for sub in subs if len(subs) > 1 else ():
            snapshot = self.store.load_snapshot(sub.project_id)
            if snapshot is None:
                continue
            try:  # a line each, so no more than one snapshot is held at a time
                entries.append((self._render(partial(self.renderer.tracking_line, snapshot)),
                                sub))
            except SetAsideError as exc:
                self.outbox.set_aside(channel, f"welcome:{sub.id}", kind=kind,
                                      reason=exc.reason, at=self._now())
                report.newly_set_aside += 1
                log.info("set aside the welcome of %s in %s: %s; the rest goes on",
                         sub.project, channel, exc.reason)
        if len(entries) <= 1:
            for sub in subs if len(subs) == 1 else [sub for _, sub in entries]:
                snapshot = self.store.load_snapshot(sub.project_id)
                if snapshot is not None:
                    return self._isolated(
                        report, channel, f"welcome:{sub.id}", kind, (),
                        partial(self._welcome, channel, channel_id, sub, snapshot))
            return 0
        ids = sorted(sub.id for _, sub in entries)
        try:
            message = self._render(lambda: self.renderer.now_tracking_many(entries))
            self._post(channel, channel_id, f"welcome:{ids[0]}-{ids[-1]}", message,
                       welcomes=ids)
            return 1
        except SetAsideError as exc:
            for sub_id in ids:
                self.outbox.set_aside(channel, f"welcome:{sub_id}", kind=kind,
                                      reason=exc.reason, at=self._now())
            report.newly_set_aside += len(ids)
            log.info("set aside the welcome of %d projects in %s: %s; the rest goes on",
                     len(ids), channel, exc.reason)
            return 0

    def _welcome(self, channel: str, channel_id: str, sub: Subscription,
                 snapshot: Snapshot) -> int:
        message = self._render(lambda: self.renderer.now_tracking(snapshot.project, snapshot,
                                                                  sub))
        self._post(channel, channel_id, f"welcome:{sub.id}", message)
        return 1

    def _isolated(self, report: DeliveryReport, channel: str, key: str, kind: str,
                  event_ids: Sequence[int], action: Callable[[], int]) -> int:
        """Run one post's work; when it cannot go out, set it aside and go on."""
        try:
            return action()
        except SetAsideError as exc:
            self.outbox.set_aside(channel, key, kind=kind, reason=exc.reason,
                                  event_ids=event_ids, at=self._now())
            report.newly_set_aside += 1
            log.info("set aside the %s %s in %s: %s; the rest goes on", kind, key, channel,
                     exc.reason)
            return 0

    def _render(self, build: Callable[[], T]) -> T:
        """A renderer's result; any failure of its own becomes ``SetAsideError``."""
        try:
            return build()
        except ReviewBotError:
            raise
        except Exception as exc:
            log.debug("rendering failed", exc_info=True)
            raise SetAsideError("unrenderable", reason=render_failure(exc)) from None

    def _resolve(self, channel: str) -> str:
        if not channel.startswith("#"):
            return channel
        if channel in self._channel_ids:
            return self._channel_ids[channel]
        known = self.directory.channel_id(channel)
        if known is None:
            found = self._retrying(self.slack.channel_ids)
            self.directory.remember_channels(found)
            known = found.get(channel)
        if known is None:
            raise SlackChannelError(f"no channel named {channel}", code="channel_not_found")
        self._channel_ids[channel] = known
        return known

    def _reconcile(self, channel: str, channel_id: str) -> int:
        """Settle posts a killed process left ``attempting``: landed, or never sent."""
        settled = 0
        for post in self.outbox.attempting(channel):
            ts = self._find(channel, channel_id, post.key, post.thread_ts)
            if ts is None:
                self.outbox.forget_post(channel, post.key)
            else:
                self.outbox.finish_post(channel, post.key, remote_id=ts, at=self._now())
                settled += 1
        return settled

    def _find(self, channel: str, channel_id: str, key: str,
              thread_ts: str | None) -> str | None:
        """The ``ts`` of the bot's post carrying ``key``, if it reached Slack.

        History is read back to the last post recorded here, a ``ts`` in Slack's own
        clock, so a skewed local clock cannot hide a post that landed.
        """
        if thread_ts:
            keys = self._retrying(lambda: self.slack.find_keys(channel_id, thread_ts=thread_ts))
        else:
            last = self.outbox.last_remote_id(channel)
            oldest = float(last) - RECONCILE_WINDOW if last else None
            keys = self._retrying(lambda: self.slack.find_keys(channel_id, oldest=oldest))
        return keys.get(key)

    def _refresh_cards(self, channel: str, channel_id: str) -> int:
        done = 0
        for post in self.outbox.needing_update(channel):
            try:
                if post.key.startswith("bom:"):
                    message = self._render(partial(self._bom_again, post.event_ids))
                else:
                    _, project_id, thread_id = post.key.split(":", 2)
                    message = self._render(partial(
                        self._card, channel, project_id, thread_id,
                        self.store.thread_event(project_id, thread_id)))
                if message is not None and post.remote_id is not None:
                    done += self._update(channel_id, post.remote_id, message)
            except SetAsideError as exc:
                # An edit is not worth holding anything back for: the card keeps what it
                # said, and the next change to the thread tries again.
                log.warning("could not refresh the card %s in %s: %s; it keeps its last "
                            "content", post.key, channel, exc.reason)
            self.outbox.updated(channel, post.key)
        return done

    def _update(self, channel_id: str, ts: str, message: Message) -> int:
        """Edit a card in place, as plain text when Slack refuses the full card."""
        for attempt in (message, None):
            try:
                edit = attempt or self._render(lambda: self.renderer.plain(message))
                self._retrying(partial(self.slack.update, channel_id, ts,
                                       text=edit.text, blocks=edit.blocks))
                return 1
            except SlackMessageError as exc:
                if attempt is None:
                    raise SetAsideError("refused", reason=_refused(exc)) from None
            except SlackError as exc:
                if exc.code not in {"message_not_found", "cant_update_message"}:
                    raise
                return 0
        return 0

    # -- sending -----------------------------------------------------------------------------

    def _send(self, channel: str, channel_id: str, unit: _Unit,
              report: DeliveryReport) -> int:
        """Post one unit; when it cannot go out, it is set aside and 0 is returned."""
        event = unit.first
        people = self._people
        ids = unit.event_ids
        if unit.kind == "bom":
            def bom() -> int:
                message = self._render(lambda: self._bom_message(
                    [d.event for d in unit.deliveries]))
                self._post(channel, channel_id, f"bom:{ids[0]}", message, event_ids=ids)
                return 1
            return self._isolated(report, channel, f"bom:{ids[0]}", "BOM batch", ids, bom)
        if unit.kind == "revision":
            def revision() -> int:
                message = self._render(lambda: self.renderer.revision(
                    self._project(event), event, people=people))
                self._post(channel, channel_id, f"event:{ids[0]}", message, event_ids=ids)
                return 1
            return self._isolated(report, channel, f"event:{ids[0]}", "revision", ids,
                                  revision)
        parent_key = thread_key(event.project_id, event.thread_id or "")
        if event.kind == "thread_opened":
            def card() -> int:
                message = self._render(lambda: self._card(
                    channel, event.project_id, event.thread_id or "", event))
                assert message is not None
                self._post(channel, channel_id, parent_key, message, event_ids=ids)
                return 1
            return self._isolated(report, channel, parent_key, "thread card", ids, card)
        origin = self._from_slack(event)
        if origin is not None:
            origin_channel, told = origin
            if origin_channel == channel_id:
                # Written from this channel's Slack thread: it is there already.
                self.outbox.mark_delivered(channel, ids, f"from-slack:{ids[0]}")
                self.outbox.refresh(channel, parent_key)
                return 0
            event = told
        return self._isolated(report, channel, f"event:{ids[0]}", "thread reply", ids,
                              partial(self._send_reply, channel, channel_id, unit, report,
                                      event))

    def _bom_supply(self, project_id: str, variant: str | None, events: Sequence[Event]
                    ) -> tuple[dict[PartKey, SupplyFacts], dict[PartKey, int], str | None]:
        """The kept supply facts of the parts ``events`` put into the BOM, the quantity the
        variant places of each, and the note on those without facts. Supply data only adds
        to the message: when it cannot be read, the message goes out without it."""
        keys = new_parts(events)
        if not keys:
            return {}, {}, None
        try:
            facts = self._parts.facts(keys)
            quantities = self._parts.quantities(project_id, variant, keys)
        except Exception as exc:  # the alert goes out on time, without supply facts
            log.warning("a BOM change goes out without supply facts: %s: %s",
                        type(exc).__name__, exc)
            facts, quantities = {}, {}
        missing = [k for k in keys if k not in facts]
        note = None
        if missing and self.supply_note is not None:
            try:
                note = self.supply_note(missing)
            except Exception as exc:  # a note is not worth holding the alert for
                log.warning("a BOM change goes out without its supply note: %s: %s",
                            type(exc).__name__, exc)
        return facts, quantities, note

    def _from_slack(self, event: Event) -> tuple[str, Event] | None:
        """For a comment written from a Slack reply (``bot.replies``): the channel id it was
        written from, and the event told as the person's reply "via Slack"."""
        if event.kind not in ("thread_replied", "comment_edited") or not event.comment_id:
            return None
        replies = Replies(self.store)
        parsed = from_slack(event.text or "")
        found = replies.from_comment(event.comment_id)
        if found is None and parsed is not None:
            found = replies.get(parsed.channel_id, parsed.ts)
        if found is None:
            return None
        if parsed is None:
            return found.channel_id, event
        return found.channel_id, replace(event, author=f"{parsed.author} (via Slack)",
                                         author_email=None, text=parsed.body)

    def _send_reply(self, channel: str, channel_id: str, unit: _Unit,
                    report: DeliveryReport, event: Event) -> int:
        """A thread event other than its opening, posted into the card's Slack thread.

        When the card is set aside (now, or earlier), the reply goes to the channel's top
        level with a line naming its thread: it is never held back by its card.
        """
        parent_key = thread_key(event.project_id, event.thread_id or "")
        activity = self._render(lambda: self.renderer.thread_activity(
            self._project(event), event, people=self._people))
        key = f"event:{unit.event_ids[0]}"
        for _ in range(2):
            posted, parent_ts = self._ensure_parent(channel, channel_id, parent_key, event,
                                                    report)
            if parent_ts is None:
                self._post(channel, channel_id, key, _outside_thread(activity, event),
                           event_ids=unit.event_ids)
                return posted + 1
            try:
                self._post(channel, channel_id, key, activity, thread_ts=parent_ts,
                           event_ids=unit.event_ids, dirty_parent=parent_key)
                return posted + 1
            except _ParentGone:
                self.outbox.forget_post(channel, parent_key)
        raise SlackError("the thread card keeps disappearing", code="thread_not_found")

    def _bom_message(self, events: Sequence[Event]) -> Message:
        """One poll's BOM changes of one variant, as one message, with the supply facts
        kept for its new parts."""
        first = events[0]
        supply, quantities, note = self._bom_supply(first.project_id, first.variant,
                                                    events)
        return self.renderer.bom_change(
            self._project(first), first.variant or "", list(events), people=self._people,
            supply=supply, supply_note=note, quantities=quantities,
            thresholds=self.supply_thresholds)

    def _bom_again(self, event_ids: Sequence[int]) -> Message | None:
        """A BOM message as it reads now (its supply facts arrived), from its events."""
        events = [s.event for s in self.store.events_with_ids(event_ids)]
        return self._bom_message(events) if events else None

    def _ensure_parent(self, channel: str, channel_id: str, key: str, event: Event,
                       report: DeliveryReport) -> tuple[int, str | None]:
        """(cards posted, the card's ``ts``), or ``ts`` None when the card is set aside."""
        parent = self.outbox.post(channel, key)
        if parent is not None and parent.state == "posted" and parent.remote_id:
            return 0, parent.remote_id
        if self.outbox.set_aside_reason(channel, key) is not None:
            return 0, None

        def card() -> int:
            message = self._render(lambda: self._card(
                channel, event.project_id, event.thread_id or "", event))
            assert message is not None
            found.append(self._post(channel, channel_id, key, message))
            return 1

        found: list[str] = []
        posted = self._isolated(report, channel, key, "thread card", (), card)
        return posted, found[0] if found else None

    def _snapshot(self, project_id: str) -> Snapshot | None:
        """A project's threads as of this delivery run, read once however many posts use it."""
        if project_id not in self._snapshots:
            self._snapshots[project_id] = self.store.load_snapshot(project_id, with_bom=False)
        return self._snapshots[project_id]

    def _sends_replies(self, channel: str, project_id: str) -> bool:
        """Whether ``channel``'s subscription to the project writes replies to Altium 365,
        read once per delivery run."""
        key = (channel, project_id)
        if key not in self._replies:
            self._replies[key] = any(
                s.replies for s in self.store.subscriptions(project_id=project_id,
                                                            channel=channel))
        return self._replies[key]

    def _card(self, channel: str, project_id: str, thread_id: str,
              event: Event | None) -> Message | None:
        """A thread's card as ``channel`` shows it (saying so when replies there go to
        Altium 365); a thread the snapshot no longer has is shown deleted, from ``event``."""
        snapshot = self._snapshot(project_id)
        thread = snapshot.threads.get(thread_id) if snapshot else None
        project = snapshot.project if snapshot else None
        if thread is not None and project is not None:
            return self.renderer.thread_card(project, thread, people=self._people,
                                             replies=self._sends_replies(channel, project_id))
        if event is None:
            return None
        ghost = _ghost_thread(event)
        return self.renderer.thread_card(project or self._project(event), ghost,
                                         people=self._people, deleted=True)

    def _project(self, event: Event) -> ProjectInfo:
        snapshot = self._snapshot(event.project_id)
        if snapshot is not None:
            return snapshot.project
        return ProjectInfo(id=event.project_id, project_id="", workspace_url="",
                           name=event.project, description="", url="", updated_at="",
                           revision=None)

    def _post(self, channel: str, channel_id: str, key: str, message: Message, *,
              thread_ts: str | None = None, event_ids: Sequence[int] = (),
              dirty_parent: str | None = None, welcomes: Sequence[int] = ()) -> str:
        """Post once: record the intent, send, record the ``ts``; returns the ``ts``.

        Only under the channel's claim: the reconcile of posts left ``attempting`` relies on
        nobody else posting in a channel while its claim is held.
        """
        if channel_claim(channel) not in self._held:
            raise RuntimeError(f"posting in {channel} without holding its claim")
        existing = self.outbox.post(channel, key)
        if existing is not None and existing.state == "posted" and existing.remote_id:
            self.outbox.mark_delivered(channel, event_ids, key)
            return existing.remote_id
        self._check_halt()
        self._pace(channel)
        # Still this channel's to post in? (A run stalled past its lease may have lost it.)
        self._keep(now=True)
        self.outbox.begin_post(channel, key, channel_id=channel_id, thread_ts=thread_ts,
                               at=self._now(), event_ids=event_ids, parent_key=dirty_parent,
                               welcomes=welcomes)
        # Slack paces a channel from the start of each post, not from its answer.
        self._last_post[channel] = self.clock()
        try:
            posted = self._send_once(channel, channel_id, key, message, thread_ts)
        except (SlackUnavailableError, StoppedError):
            # Maybe sent: the next run reconciles the ``attempting`` record.
            raise
        except SetAsideError:
            self.outbox.forget_post(channel, key)
            raise
        except SlackError as exc:
            self.outbox.forget_post(channel, key)
            if exc.code == "thread_not_found":
                raise _ParentGone() from None
            raise
        self.outbox.finish_post(channel, key, remote_id=posted.ts, at=self._now())
        return posted.ts

    def _send_once(self, channel: str, channel_id: str, key: str, message: Message,
                   thread_ts: str | None) -> Posted:
        try:
            return self._post_checked(channel, channel_id, key, message, thread_ts)
        except SlackMessageError as exc:
            log.info("Slack refused a card (%s); posting it as plain text", exc.code)
            first = exc
        plain = self._render(lambda: self.renderer.plain(message))
        try:
            return self._post_checked(channel, channel_id, key, plain, thread_ts)
        except SlackMessageError as exc:
            raise SetAsideError("refused", reason=_refused(first, exc)) from None

    def _post_checked(self, channel: str, channel_id: str, key: str, message: Message,
                      thread_ts: str | None) -> Posted:
        """chat.postMessage with retries; after a lost answer, look before posting again."""
        attempt = 0
        while True:
            try:
                return self._rate_limited(lambda: self.slack.post(
                    channel_id, text=message.text, blocks=message.blocks, key=key,
                    thread_ts=thread_ts))
            except SlackUnavailableError:
                attempt += 1
                if attempt >= self.retry.attempts:
                    raise
                self._wait(self.retry.delay(attempt))
                ts = self._find(channel, channel_id, key, thread_ts)
                if ts is not None:
                    return Posted(channel_id=channel_id, ts=ts)

    def _retrying(self, request: Callable[[], T]) -> T:
        """Any read or edit: wait out 429s, back off on 5xx and timeouts, boundedly."""
        attempt = 0
        while True:
            try:
                return self._rate_limited(request)
            except SlackUnavailableError:
                attempt += 1
                if attempt >= self.retry.attempts:
                    raise
                self._wait(self.retry.delay(attempt))

    def _rate_limited(self, request: Callable[[], T]) -> T:
        waits = 0
        while True:
            self._keep()
            try:
                return request()
            except SlackRateLimitedError as exc:
                waits += 1
                if exc.retry_after > self.max_wait:
                    # Waiting that long would stall this run (and a stop): this channel's
                    # work is left for the next run, as when Slack is down.
                    raise SlackRateLimitedError(
                        f"Slack rate limit asks to wait {exc.retry_after:g}s, longer than "
                        f"{self.max_wait:g}s: trying again next run",
                        retry_after=exc.retry_after) from None
                if waits > self.max_rate_limit_waits:
                    raise SlackUnavailableError(
                        f"Slack still rate limited after {self.max_rate_limit_waits} waits",
                        code="ratelimited") from None
                log.info("Slack rate limit: waiting %.1fs", exc.retry_after)
                self._wait(exc.retry_after)

    def _pace(self, channel: str) -> None:
        last = self._last_post.get(channel)
        if last is None:
            return
        wait = self.min_interval - (self.clock() - last).total_seconds()
        if wait > 0:
            self._wait(wait)

    def _people(self, email: str | None) -> str | None:
        """Slack user id by e-mail, cached; a miss is remembered for a day."""
        if not email:
            return None
        cached = self.directory.person(email)
        now = self.clock()
        if cached is not None:
            age = now - parse_stamp(cached.checked_at)
            if age < (HIT_TTL if cached.id else MISS_TTL):
                return cached.id
        try:
            user_id = self._retrying(lambda: self.slack.lookup_user(email))
        except SlackRateLimitedError:
            raise
        except SlackError as exc:
            log.warning("could not look up a Slack user by e-mail (%s)", exc.code)
            return None
        self.directory.remember_person(email, user_id, at=self._now())
        return user_id


def thread_key(project_id: str, thread_id: str) -> str:
    return f"thread:{project_id}:{thread_id}"


def _refused(*errors: SlackError) -> str:
    codes = [e.code or str(e) for e in errors]
    if len(codes) == 1:
        return f"Slack refused it ({codes[0]})"
    return f"Slack refused it ({codes[0]}, and {codes[1]} as plain text)"


def _outside_thread(activity: Message, event: Event) -> Message:
    """A reply posted at the channel's top level because its thread card is set aside."""
    note = {"type": "context", "elements": [{
        "type": "mrkdwn",
        "text": f"On thread #{event.thread_number or '?'}, whose card could not be posted "
                "(set aside): so this is not in a Slack thread."}]}
    return Message(text=activity.text, blocks=[*activity.blocks, note])


def _units(deliveries: Sequence[Delivery]) -> list[_Unit]:
    """Group a channel's pending deliveries into posts, keeping the order of first events."""
    groups: dict[tuple[Any, ...], list[Delivery]] = {}
    for delivery in deliveries:
        event = delivery.event
        if event.kind.startswith("part_"):
            key: tuple[Any, ...] = ("bom", event.project_id, event.variant,
                                    delivery.stored.detected_at)
        elif event.kind == "revision_committed":
            key = ("revision", delivery.event_id)
        else:
            key = ("thread", delivery.event_id)
        groups.setdefault(key, []).append(delivery)
    return [_Unit(kind=key[0], deliveries=tuple(items)) for key, items in groups.items()]


def _ghost_thread(event: Event) -> Thread:
    """A stand-in for a thread the snapshot no longer has, built from its event."""
    author = Person(name=event.author, email=event.author_email) if event.author else None
    comments = (Comment(comment_id=event.comment_id or "", text=event.text or "",
                        author=author, created_at=event.at, modified_at=event.at),)
    return Thread(thread_id=event.thread_id or "", number=event.thread_number or 0, status=0,
                  created_at=event.at, modified_at=event.at, created_by=author,
                  modified_by=author, assigned_to=None, document_id=None,
                  document_name=event.document, comments=comments if event.text else ())

