"""The webhook sender: every endpoint's due messages POSTed, each endpoint on its own.

``deliver`` plans new events (``Outbox.plan`` owes each to Slack and to the endpoints that
want it, in one transaction), then drains every endpoint with work in parallel threads, so
a slow or dead endpoint delays nobody else: each thread opens its own ``Store`` (SQLite
connections stay on their thread), takes the endpoint's claim (``webhook:<id>``; an
endpoint another live process is sending to is skipped and reported busy), and sends its
due messages oldest first, pings before events, one at a time. A 2xx within 15 s marks
the message delivered (at least once on the wire, exactly once recorded; the
``webhook-id`` lets the receiver drop a repeat). The first failure stops that endpoint for
this run: 410 Gone disables it at once; anything else backs it off (``backoff``), and an
endpoint failing for 3 days without a success is disabled. A disabled endpoint's messages
keep being planned and wait for ``enable``.

``deliver`` waits for every endpoint (``poll --once``, ``deliver``); the long-running bot
calls ``tick`` instead, which starts every endpoint with work that is not still being sent
and returns at once, so one hanging endpoint never holds back the others' next messages.

``send`` sends one message now, whatever the back-off (``review-bot webhooks test`` and
``resend``): it records the attempt and a 410 disables, but a failure does not move the
endpoint's back-off, which belongs to the runs.

Nothing here logs or raises a URL, a header value or a secret: the endpoint's id names it.
Errors met here are translated at this boundary: an HTTP failure is an attempt's outcome,
an unreadable secret a ``WebhookError`` reported for its endpoint alone.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from bot.errors import WebhookError, render_failure
from bot.webhooks import backoff, signing
from bot.webhooks.http import DEADLINE, Outcome, post
from bot.webhooks.payload import body, payload, ping_payload
from state.claims import Claims, Owner, endpoint_claim
from state.clock import Clock, parse_stamp, stamp, utc_now
from state.errors import BusyError, ReviewBotError
from state.model import Event, ProjectInfo
from state.outbox import Outbox
from state.part_supply import Judged, PartSupply
from state.store import Store
from state.supply import Thresholds
from state.webhooks import Attempt, Endpoint, WebhookMessage, Webhooks

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=2)
"""How long an endpoint's claim holds without renewal: far longer than one attempt (15 s);
renewed before each attempt."""
CLAIM_WAIT = 30.0
"""How long ``send`` waits for a run that is sending to the same endpoint."""
CLAIM_POLL = 0.5
BATCH = 100
"""Messages read from the queue at a time."""
GONE = "the receiver answered 410 Gone"


@dataclass
class WebhookReport:
    """What one run did: messages ``sent`` and attempts ``failed``; endpoints ``disabled``
    this run (id -> reason), ``busy`` (id -> the live process sending to it) and their
    ``errors`` (id -> the failure that stopped it this run, one line); ``set_aside``:
    messages that could not be rendered and wait for ``resend``; ``pending``: messages still
    waiting, for every endpoint, when the run ended."""

    sent: int = 0
    failed: int = 0
    disabled: dict[str, str] = field(default_factory=dict)
    busy: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    set_aside: int = 0
    pending: int = 0
    stopped: bool = False

    @property
    def ok(self) -> bool:
        """No endpoint failed or was disabled this run."""
        return not self.errors and not self.disabled

    def add(self, other: WebhookReport) -> None:
        """Fold one endpoint's part into the run's report."""
        self.sent += other.sent
        self.failed += other.failed
        self.set_aside += other.set_aside
        self.disabled.update(other.disabled)
        self.busy.update(other.busy)
        self.errors.update(other.errors)
        self.stopped = self.stopped or other.stopped

    def health_line(self) -> str:
        line = (f"webhooks: {self.sent} sent, {self.failed} failed, {self.pending} pending, "
                f"{len(self.disabled)} disabled, {self.set_aside} set aside")
        problems = {**self.errors, **{k: f"disabled, {v}" for k, v in self.disabled.items()},
                    **{k: f"being sent by {v}" for k, v in self.busy.items()}}
        if problems:
            line += " (" + "; ".join(f"{k}: {v}" for k, v in sorted(problems.items())) + ")"
        return line


class _Held:
    """One endpoint's claim while a thread holds it: renewed before each attempt."""

    def __init__(self, claims: Claims, name: str, owner: Owner, *, clock: Clock,
                 lease: timedelta) -> None:
        self.claims = claims
        self.name = name
        self.owner = owner
        self.clock = clock
        self.lease = lease
        self.renewed = clock()

    def keep(self) -> None:
        """Renew the claim once a sixth of the lease passed; ``BusyError`` when another
        process took it over meanwhile."""
        now = self.clock()
        if now - self.renewed < self.lease / 6:
            return
        if not self.claims.renew(self.name, self.owner, now=now, lease=self.lease):
            holder = self.claims.holder(self.name)
            who = holder.describe() if holder is not None else "nobody"
            raise BusyError(f"webhook endpoint {self.name.split(':', 1)[1]} was taken over "
                            f"by {who}; it is sent from there", holder=who)
        self.renewed = now


class WebhookSender:
    """Sends what is owed to webhook endpoints, over ``http`` (a client the caller owns and
    closes), with times from ``clock`` and back-off jitter from ``rng``."""

    def __init__(self, *, db_path: str | Path, http: httpx.Client, clock: Clock = utc_now,
                 rng: random.Random | None = None, workers: int = 8,
                 version: str | None = None, deadline: float = DEADLINE,
                 lease: timedelta = CLAIM_LEASE, claim_wait: float = CLAIM_WAIT,
                 sleep: Callable[[float], None] = time.sleep,
                 stop: threading.Event | None = None,
                 supply_thresholds: Thresholds | None = None) -> None:
        if workers < 1:
            raise ValueError("at least one worker is needed")
        self.db_path = db_path
        self.http = http
        self.clock = clock
        self.rng = rng or random.Random()
        self.workers = workers
        self.version = version or signing.package_version()
        self.deadline = deadline
        self.lease = lease
        self.claim_wait = claim_wait
        self.sleep = sleep
        self.stop = stop or threading.Event()
        """Set it to end a run between two attempts (each attempt ends within its deadline)."""
        self.supply_thresholds = supply_thresholds
        """What makes a new part a supply risk in part events' ``supply.risks``."""
        self._rng_lock = threading.Lock()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._running: dict[str, Future[WebhookReport]] = {}
        self._finished: list[WebhookReport] = []

    # -- a run -----------------------------------------------------------------------------

    def deliver(self) -> WebhookReport:
        """Plan new events, then send every endpoint's due messages, endpoints in parallel."""
        report = WebhookReport()
        with Store.open(self.db_path) as store:
            Outbox(store).plan(at=stamp(self.clock()))
            endpoints = [e.id for e in Webhooks(store).with_work(self.clock())]
        if endpoints:
            with ThreadPoolExecutor(max_workers=min(self.workers, len(endpoints)),
                                    thread_name_prefix="webhook") as pool:
                for part in pool.map(self._drain, endpoints):
                    report.add(part)
        with Store.open(self.db_path) as store:
            report.pending = Webhooks(store).pending()
        log.debug("%s", report.health_line())
        return report

    def tick(self) -> WebhookReport:
        """One step of the long-running bot: plan, start sending to every endpoint with work
        that is not still being sent from an earlier step, and return at once with what the
        endpoints finished since the last step. An endpoint that hangs holds only its own
        thread (for at most its 15 s deadline): every other endpoint goes on being sent at
        every step. ``close`` ends it."""
        with Store.open(self.db_path) as store:
            Outbox(store).plan(at=stamp(self.clock()))
            endpoints = [e.id for e in Webhooks(store).with_work(self.clock())]
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.workers,
                                                thread_name_prefix="webhook")
            for endpoint_id in endpoints:
                if endpoint_id not in self._running and not self.stop.is_set():
                    future = self._pool.submit(self._drain, endpoint_id)
                    self._running[endpoint_id] = future
                    future.add_done_callback(partial(self._done, endpoint_id))
            report = WebhookReport()
            for part in self._finished:
                report.add(part)
            self._finished.clear()
        with Store.open(self.db_path) as store:
            report.pending = Webhooks(store).pending()
        return report

    def _done(self, endpoint_id: str, future: Future[WebhookReport]) -> None:
        with self._lock:
            self._running.pop(endpoint_id, None)
            if not future.cancelled():
                self._finished.append(future.result())

    def close(self, timeout: float | None = None) -> bool:
        """Start nothing more and wait up to ``timeout`` seconds for the endpoints still
        being sent (set ``stop`` first: each ends after its attempt in flight); False when
        one was still sending at the deadline."""
        with self._lock:
            pool, running = self._pool, list(self._running.values())
            self._pool = None
        if pool is None:
            return True
        pool.shutdown(wait=False, cancel_futures=True)
        _, not_done = wait(running, timeout=timeout)
        return not not_done

    def send(self, message_id: str) -> Attempt:
        """Send one message now, whatever its endpoint's back-off or state; returns the
        attempt. Waits up to ``claim_wait`` for a run sending to the same endpoint
        (``BusyError`` after); ``NotFoundError`` for an unknown id."""
        with Store.open(self.db_path) as store:
            webhooks = Webhooks(store)
            message = webhooks.message(message_id)
            with self._claimed(store, message.endpoint_id, wait=self.claim_wait):
                endpoint = webhooks.get(message.endpoint_id)
                try:
                    text = self._render(endpoint, message, _catalog(store),
                                        PartSupply(store, self.supply_thresholds))
                except Exception as exc:
                    raise WebhookError(f"{message.id} {render_failure(exc)}") from None
                attempt, outcome = self._attempt(webhooks, endpoint, message, text)
                if outcome.gone:
                    self._disable(webhooks, endpoint.id, GONE, WebhookReport())
                return attempt

    # -- one endpoint ----------------------------------------------------------------------

    def _drain(self, endpoint_id: str) -> WebhookReport:
        """One endpoint's part of a run, in its own thread with its own store."""
        part = WebhookReport()
        try:
            with Store.open(self.db_path) as store, \
                    self._claimed(store, endpoint_id) as held:
                self._send_due(store, endpoint_id, held, part)
        except BusyError as exc:
            part.busy[endpoint_id] = exc.holder
            log.info("%s", exc)
        except ReviewBotError as exc:
            part.errors[endpoint_id] = str(exc)
            log.info("webhook endpoint %s: %s", endpoint_id, exc)
        except Exception as exc:  # one endpoint's fault never stops the others
            part.errors[endpoint_id] = (f"unexpected error ({type(exc).__name__}); "
                                        "--log-level debug shows where")
            log.debug("webhook endpoint %s: unexpected error", endpoint_id, exc_info=True)
        return part

    def _send_due(self, store: Store, endpoint_id: str, held: _Held,
                  part: WebhookReport) -> None:
        """Send the endpoint's due messages in order until one fails or none is left."""
        webhooks = Webhooks(store)
        catalog = _catalog(store)
        parts = PartSupply(store, self.supply_thresholds)
        while True:
            due = webhooks.due(endpoint_id, limit=BATCH)
            if not due:
                return
            for message in due:
                if self.stop.is_set():
                    part.stopped = True
                    return
                endpoint = webhooks.get(endpoint_id)
                if not self._sendable(endpoint):
                    return
                try:
                    text = self._render(endpoint, message, catalog, parts)
                except Exception as exc:  # one message that cannot be rendered waits alone
                    reason = render_failure(exc)
                    webhooks.set_aside(message.id, reason=reason, at=stamp(self.clock()))
                    part.set_aside += 1
                    log.warning("webhook endpoint %s: %s set aside: %s; 'review-bot webhooks "
                                "resend %s' tries it again", endpoint_id, message.id, reason,
                                message.id)
                    continue
                held.keep()
                _, outcome = self._attempt(webhooks, endpoint, message, text)
                if outcome.succeeded:
                    part.sent += 1
                    continue
                part.failed += 1
                part.errors[endpoint_id] = outcome.error or f"HTTP {outcome.status}"
                self._failed(webhooks, endpoint, outcome, part)
                return

    def _sendable(self, endpoint: Endpoint) -> bool:
        """Enabled, and not backing off (another process may have failed it meanwhile)."""
        return endpoint.enabled and (
            endpoint.retry_at is None or parse_stamp(endpoint.retry_at) <= self.clock())

    def _render(self, endpoint: Endpoint, message: WebhookMessage,
                catalog: Mapping[str, ProjectInfo], parts: PartSupply) -> str:
        """The message's JSON body, checked to encode as UTF-8 before anything is sent."""
        text = body(self._document(endpoint, message, catalog, parts))
        text.encode("utf-8")
        return text

    def _attempt(self, webhooks: Webhooks, endpoint: Endpoint, message: WebhookMessage,
                 text: str) -> tuple[Attempt, Outcome]:
        """POST one message, signed with every secret valid now, and record the attempt."""
        now = self.clock()
        headers = signing.headers(message_id=message.id, body=text,
                                  secrets=endpoint.signing_secrets(now), at=now,
                                  version=self.version)
        outcome = post(self.http, endpoint.url, body=text.encode("utf-8"), headers=headers,
                       deadline=self.deadline)
        attempt = webhooks.record_attempt(
            message.id, at=stamp(now), status=outcome.status, latency_ms=outcome.latency_ms,
            error=outcome.error, succeeded=outcome.succeeded)
        if outcome.succeeded:
            log.info("webhook endpoint %s: %s delivered (HTTP %s, %d ms)", endpoint.id,
                     message.id, outcome.status, outcome.latency_ms)
        else:
            log.info("webhook endpoint %s: %s failed: %s (%d ms)", endpoint.id, message.id,
                     outcome.error, outcome.latency_ms)
        return attempt, outcome

    @staticmethod
    def _document(endpoint: Endpoint, message: WebhookMessage,
                  catalog: Mapping[str, ProjectInfo], parts: PartSupply) -> dict[str, Any]:
        if message.event_id is None:
            return ping_payload(endpoint_id=endpoint.id, at=message.created_at)
        if message.stored is None:
            raise WebhookError(f"the event {message.event_id} of {message.id} is no longer "
                               "in the event log")
        event = message.stored.event
        return payload(message.stored, catalog.get(event.project_id), _judged(parts, event))

    def _failed(self, webhooks: Webhooks, endpoint: Endpoint, outcome: Outcome,
                part: WebhookReport) -> None:
        """After a failed attempt: 410 disables; else back off, and disable an endpoint
        that has failed for 3 days without a success."""
        if outcome.gone:
            self._disable(webhooks, endpoint.id, GONE, part)
            return
        now = self.clock()
        with self._rng_lock:
            retry = backoff.retry_at(now, endpoint.failures + 1, self.rng)
        backed = webhooks.back_off(endpoint.id, at=stamp(now), retry_at=stamp(retry))
        if backed.failing_since is not None and backoff.given_up(
                parse_stamp(backed.failing_since), now):
            self._disable(webhooks, endpoint.id,
                          f"no success since {backed.failing_since} (3 days); last: "
                          f"{outcome.error}", part)
            return
        log.info("webhook endpoint %s: next try after %s", endpoint.id, stamp(retry))

    def _disable(self, webhooks: Webhooks, endpoint_id: str, reason: str,
                 part: WebhookReport) -> None:
        webhooks.disable(endpoint_id, reason=reason, at=stamp(self.clock()))
        part.disabled[endpoint_id] = reason
        log.info("webhook endpoint %s disabled: %s; 'review-bot webhooks enable %s' "
                 "resumes it", endpoint_id, reason, endpoint_id)

    # -- claims ----------------------------------------------------------------------------

    @contextmanager
    def _claimed(self, store: Store, endpoint_id: str, *, wait: float = 0.0) -> Iterator[_Held]:
        """Hold the endpoint's claim for the block, waiting up to ``wait`` seconds for a
        live holder (``BusyError`` when it keeps it); released however the block ends."""
        claims = Claims(store)
        owner = Owner.new()
        name = endpoint_claim(endpoint_id)
        taken = claims.take_within(name, owner, clock=self.clock, lease=self.lease,
                                   wait=wait, sleep=self.sleep, poll=CLAIM_POLL)
        if not taken.granted:
            holder = taken.holder.describe() if taken.holder else "another process"
            raise BusyError(f"webhook endpoint {endpoint_id} is being sent to by {holder}; "
                            "it is sent from there", holder=holder)
        if taken.lapsed is not None:
            log.warning("taking over webhook endpoint %s from %s, which stopped before it "
                        "finished", endpoint_id, taken.lapsed.describe())
        try:
            yield _Held(claims, name, owner, clock=self.clock, lease=self.lease)
        finally:
            try:
                claims.release(name, owner.id)
            except ReviewBotError as exc:
                log.warning("could not release the claim on webhook endpoint %s (%s); it "
                            "lapses by itself", endpoint_id, exc)


def _judged(parts: PartSupply, event: Event) -> Judged | None:
    """The supply facts of the part ``event`` puts in; None when they cannot be read: the
    event goes out without them rather than waiting."""
    try:
        return parts.judge(event)
    except Exception as exc:  # supply facts never hold a webhook back
        log.warning("an event goes out without its supply facts: %s: %s",
                    type(exc).__name__, exc)
        return None


def _catalog(store: Store) -> dict[str, ProjectInfo]:
    """The watched projects by id, for their Altium 365 links."""
    return {info.id: info for info in store.catalog()}

