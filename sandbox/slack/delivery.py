"""Handing Events API events to the app, over HTTP or Socket Mode, with Slack's retries.

Over HTTP each event is POSTed as JSON to the app's Request URL, signed as Slack signs:
``X-Slack-Request-Timestamp`` (the real time, which the app checks against its own) and
``X-Slack-Signature``, ``v0=`` and the HMAC-SHA256 of ``v0:{timestamp}:{body}`` under the
signing secret. Without a URL the event goes over Socket Mode as an ``events_api`` envelope.

An attempt fails when the app does not answer 2xx (or ack the envelope) within ``timeout``
seconds (3, as Slack waits). A failed event is sent again up to three times, after
``retry_delays`` (Slack: nearly at once, a minute, five minutes; tests shorten them), with
the same ``event_id``: over HTTP with ``X-Slack-Retry-Num`` 1..3 and
``X-Slack-Retry-Reason`` (``http_timeout``, ``http_error``, ``connection_failed``), in Socket
Mode as a new envelope with ``retry_attempt`` 1..3 and ``retry_reason`` ``timeout``. An HTTP
answer carrying ``X-Slack-No-Retry: 1`` stops the retries, as Slack honours it.

One background thread makes the attempts one at a time, in the order they fall due, so
events reach the app in the order they happened; an app that hangs holds the others back for
at most ``timeout``.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import http.client
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from .faults import Faults
from .socket import SocketHub

RETRY_DELAYS = (1.0, 60.0, 300.0)
"""Slack's waits before its three retries: nearly at once, after a minute, after five."""
ACK_TIMEOUT = 3.0
"""The seconds Slack waits for the app's 2xx answer or Socket Mode ack."""
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"
_HTTP_REASONS = {"lost": "http_timeout", "no_connection": "connection_failed"}


@dataclass(frozen=True, slots=True)
class EventAttempt:
    """One try at handing an event to the app.

    ``outcome`` is ``ok``, or why it failed: ``http_timeout``, ``http_error``,
    ``connection_failed``, ``lost`` (the app answered but a fault dropped the answer),
    ``not_acked`` (no Socket Mode ack in time) or ``no_connection`` (no Socket Mode client).
    ``status`` is the HTTP status the app answered, ``envelope_id`` the Socket Mode envelope.
    """

    retry_num: int
    outcome: str
    status: int | None
    envelope_id: str | None
    at: datetime
    duration: float

    @property
    def ok(self) -> bool:
        """Whether the app took the event (Slack will not send it again)."""
        return self.outcome == "ok"


@dataclass(frozen=True, slots=True)
class SentEvent:
    """One event Slack sent the app (``body`` is the ``event_callback``) and every attempt."""

    event_id: str
    mode: str
    body: Mapping[str, Any]
    attempts: tuple[EventAttempt, ...]
    finished: bool

    @property
    def event(self) -> Mapping[str, Any]:
        """The inner event (``message``, ``app_mention`` ...)."""
        inner = self.body["event"]
        assert isinstance(inner, Mapping)
        return inner

    @property
    def delivered(self) -> bool:
        """Whether an attempt reached the app and was acknowledged."""
        return any(attempt.ok for attempt in self.attempts)


@dataclass(slots=True)
class _Pending:
    body: dict[str, Any]
    mode: str
    attempts: list[EventAttempt] = field(default_factory=list)
    finished: bool = False

    def snapshot(self) -> SentEvent:
        return SentEvent(
            event_id=str(self.body["event_id"]),
            mode=self.mode,
            body=json.loads(json.dumps(self.body)),
            attempts=tuple(self.attempts),
            finished=self.finished,
        )


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's ``X-Slack-Signature`` of a request body sent at ``timestamp``."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class EventSender:
    """The events sent to the app, the attempts still due, and the thread making them."""

    def __init__(
        self, *, sockets: SocketHub, faults: Faults, clock: Callable[[], datetime]
    ) -> None:
        self.url: str | None = None
        self.signing_secret = secrets.token_hex(16)
        self.timeout = ACK_TIMEOUT
        self.retry_delays: tuple[float, ...] = RETRY_DELAYS
        self._sockets = sockets
        self._faults = faults
        self._clock = clock
        self._changed = threading.Condition()
        self._events: list[_Pending] = []
        self._due: list[tuple[float, int, int, _Pending]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._generation = 0

    def send(self, body: dict[str, Any]) -> None:
        """Queue an ``event_callback`` body for the app (HTTP when ``url`` is set)."""
        pending = _Pending(body, "http" if self.url else "socket")
        with self._changed:
            self._events.append(pending)
            heapq.heappush(self._due, (time.monotonic(), next(self._order), 0, pending))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run,
                    args=(self._generation,),
                    name="slack-sandbox-events",
                    daemon=True,
                )
                self._thread.start()
            self._changed.notify_all()

    def sent(self) -> list[SentEvent]:
        """Every event sent so far with its attempts, oldest first."""
        with self._changed:
            return [pending.snapshot() for pending in self._events]

    def wait_finished(self, timeout: float) -> list[SentEvent]:
        """``sent()`` once no attempt is due any more (``TimeoutError`` after ``timeout``)."""
        with self._changed:
            if not self._changed.wait_for(
                lambda: all(pending.finished for pending in self._events), timeout
            ):
                raise TimeoutError(f"events still being sent after {timeout:g}s")
            return [pending.snapshot() for pending in self._events]

    def close(self) -> None:
        """Stop sending: attempts still due are dropped (their events stay unfinished)."""
        with self._changed:
            self._generation += 1
            self._due.clear()
            for pending in self._events:
                pending.finished = True
            thread, self._thread = self._thread, None
            self._changed.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.timeout + 2)

    def _run(self, generation: int) -> None:
        while True:
            with self._changed:
                while self._generation == generation and (
                    not self._due or self._due[0][0] > time.monotonic()
                ):
                    wait = self._due[0][0] - time.monotonic() if self._due else None
                    self._changed.wait(wait)
                if self._generation != generation:
                    return
                _, _, retry_num, pending = heapq.heappop(self._due)
                reason = _reason(pending, retry_num)
            attempt, no_retry = self._attempt(pending, retry_num, reason)
            with self._changed:
                if self._generation != generation:
                    return
                pending.attempts.append(attempt)
                if attempt.ok or no_retry or retry_num >= len(self.retry_delays):
                    pending.finished = True
                else:
                    due = time.monotonic() + self.retry_delays[retry_num]
                    heapq.heappush(self._due, (due, next(self._order), retry_num + 1, pending))
                self._changed.notify_all()

    def _attempt(self, pending: _Pending, retry_num: int, reason: str) -> tuple[EventAttempt, bool]:
        started = time.perf_counter()
        at = self._clock()
        if pending.mode == "http":
            outcome, status, no_retry = self._post(pending.body, retry_num, reason)
            envelope_id = None
        else:
            outcome, envelope_id = self._push(pending.body, retry_num)
            status, no_retry = None, False
        if outcome == "ok" and self._faults.take(("lose_event_answer",), "events") is not None:
            outcome, no_retry = "lost", False
        attempt = EventAttempt(
            retry_num=retry_num,
            outcome=outcome,
            status=status,
            envelope_id=envelope_id,
            at=at,
            duration=time.perf_counter() - started,
        )
        return attempt, no_retry

    def _post(
        self, body: Mapping[str, Any], retry_num: int, reason: str
    ) -> tuple[str, int | None, bool]:
        url = self.url or ""
        data = json.dumps(body, separators=(",", ":")).encode()
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature(self.signing_secret, stamp, data),
        }
        if retry_num:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = reason
        split = urlsplit(url)
        kind = (
            http.client.HTTPSConnection if split.scheme == "https" else http.client.HTTPConnection
        )
        connection = kind(split.hostname or "127.0.0.1", split.port, timeout=self.timeout)
        target = (split.path or "/") + (f"?{split.query}" if split.query else "")
        try:
            connection.request("POST", target, body=data, headers=headers)
            answer = connection.getresponse()
            answer.read()
        except TimeoutError:
            return "http_timeout", None, False
        except (OSError, http.client.HTTPException):
            return "connection_failed", None, False
        finally:
            connection.close()
        no_retry = (answer.getheader("X-Slack-No-Retry") or "").strip() == "1"
        return ("ok" if 200 <= answer.status < 300 else "http_error"), answer.status, no_retry

    def _push(self, body: Mapping[str, Any], retry_num: int) -> tuple[str, str | None]:
        try:
            envelope_id = self._sockets.send("events_api", body, retry_attempt=retry_num)
        except RuntimeError:
            return "no_connection", None
        try:
            self._sockets.wait_for_ack(envelope_id, self.timeout)
        except TimeoutError:
            return "not_acked", envelope_id
        return "ok", envelope_id


def _reason(pending: _Pending, retry_num: int) -> str:
    """Why the attempt before ``retry_num`` failed, in Slack's words for the mode."""
    if not retry_num or not pending.attempts:
        return ""
    if pending.mode == "socket":
        return "timeout"
    outcome = pending.attempts[-1].outcome
    return _HTTP_REASONS.get(outcome, outcome)


__all__ = [
    "ACK_TIMEOUT",
    "RETRY_DELAYS",
    "EventAttempt",
    "EventSender",
    "SentEvent",
    "signature",
]
