"""Fault injection for the Slack sandbox: rate limits, HTTP errors, error answers, latency, drops.

``lose_event_answer`` is the one fault on the way to the app: an event the app acknowledged
is sent again, as when its answer never reached Slack.

Tests arm faults on ``sandbox.faults``; the server consumes them, one use per matching call.
Everything is guarded by one lock so faults can be armed while requests are in flight.
``times=None`` means "until cleared". ``method`` (e.g. ``"chat.postMessage"``) and
``channel`` (an id, or a ``#name`` resolved when armed) narrow which calls match.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class Fault:
    """One armed fault and how many more calls it hits."""

    kind: str
    method: str | None
    remaining: int | None
    status: int = 200
    retry_after: int | None = None
    error: str | None = None
    channel: str | None = None

    def matches(self, method: str, channel: str | None) -> bool:
        """Whether a call to ``method`` about ``channel`` (an id) is hit."""
        if self.method is not None and self.method != method:
            return False
        return self.channel is None or self.channel == channel

    def take(self) -> bool:
        """Use the fault once; False when it is spent."""
        if self.remaining is None:
            return True
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float = field(default_factory=time.monotonic)


class Faults:
    """The armed faults of one Slack sandbox (thread-safe)."""

    def __init__(self, resolve_channel: Callable[[str], str]) -> None:
        self._resolve = resolve_channel
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._latency = 0.0

    def rate_limit(
        self, method: str | None = None, times: int | None = 1, retry_after: int = 1
    ) -> None:
        """Answer matching calls with HTTP 429, ``Retry-After: retry_after`` and ``ratelimited``."""
        self._arm(Fault("rate_limit", method, times, status=429, retry_after=int(retry_after)))

    def http_error(
        self, status: int = 500, method: str | None = None, times: int | None = 1
    ) -> None:
        """Answer matching calls with HTTP ``status`` (a 5xx, as Slack's edge does)."""
        self._arm(Fault("http_error", method, times, status=status))

    def error(
        self,
        error_code: str,
        method: str | None = None,
        channel: str | None = None,
        times: int | None = 1,
    ) -> None:
        """Answer matching calls with HTTP 200 ``{"ok": false, "error": error_code}``."""
        channel_id = self._resolve(channel) if channel is not None else None
        self._arm(Fault("error", method, times, error=error_code, channel=channel_id))

    def drop_connection(
        self, method: str | None = None, times: int | None = 1, *, after: bool = False
    ) -> None:
        """Close the socket of matching calls without answering.

        With ``after``, the call is carried out first (a message is posted) and only the
        answer is lost, as when a connection dies on the way back: a client that retries
        then posts twice.
        """
        self._arm(Fault("drop_after" if after else "drop_connection", method, times))

    def lose_event_answer(self, times: int | None = 1) -> None:
        """Treat the app's next acknowledgements of events as lost, so Slack sends them again.

        Over HTTP the 2xx answer counts as a timeout (retry reason ``http_timeout``); in
        Socket Mode the ack is ignored (``retry_reason`` ``timeout``).
        """
        self._arm(Fault("lose_event_answer", None, times))

    def latency(self, seconds: float) -> None:
        """Delay every answer by ``seconds`` (0 clears)."""
        with self._lock:
            self._latency = max(0.0, float(seconds))

    def clear(self) -> None:
        """Disarm every fault and the latency."""
        with self._lock:
            self._faults.clear()
            self._latency = 0.0

    @property
    def delay(self) -> float:
        """The armed latency in seconds."""
        with self._lock:
            return self._latency

    def _arm(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def take(self, kinds: tuple[str, ...], method: str, channel: str | None = None) -> Fault | None:
        """The first armed fault of one of ``kinds`` hitting this call (consumes one use)."""
        with self._lock:
            for fault in list(self._faults):
                if fault.kind not in kinds or not fault.matches(method, channel):
                    continue
                hit = fault.take()
                if fault.remaining == 0:
                    self._faults.remove(fault)
                if hit:
                    return fault
            return None


class PostPacer:
    """Slack's ``chat.postMessage`` pacing: about ``per_second`` per channel, short bursts allowed.

    A token bucket per channel on the real monotonic clock (so a frozen sandbox clock
    does not stop the refill); ``check`` answers the Retry-After seconds when over the limit.
    """

    def __init__(self, per_second: float, burst: int) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError("per_second must be positive and burst at least 1")
        self.per_second = per_second
        self.burst = burst
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def check(self, channel: str) -> int | None:
        """Take a token for ``channel``; the whole seconds to wait when none is left."""
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.setdefault(channel, _Bucket(float(self.burst), now))
            bucket.tokens = min(
                float(self.burst), bucket.tokens + (now - bucket.updated) * self.per_second
            )
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return max(1, math.ceil((1.0 - bucket.tokens) / self.per_second))
