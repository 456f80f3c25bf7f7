"""One webhook POST over httpx, which no receiver can stretch past its deadline.

A receiver has ``DEADLINE`` (15 s) in all to answer: connecting, sending, and the status
line with its headers. Past it the attempt is cut, whatever the receiver does: answering
nothing, or trickling bytes to keep each read alive. A watchdog closes the connection's
socket at the deadline (every request asks for ``Connection: close``, so each opens its
own connection and the watchdog always knows its socket), and the body is read as a
stream, raw (no decompression), never past the deadline, and no more of it than ``LIMIT``
(64 KB) is asked for (the socket is read in blocks of at most 64 KB, so memory stays
bounded whatever the receiver sends). Redirects are never followed: a 3xx is a failure
like any other non-2xx.

Every httpx error becomes an ``Outcome``: the status (None when no answer came), the
latency, and one line saying what went wrong, built from fixed words and the operating
system's reason: never the URL, a header value or a secret.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import httpx

DEADLINE: Final = 15.0
"""Seconds a receiver has to answer, all told."""

LIMIT: Final = 64 * 1024
"""Bytes of a response's body read at most; the rest is never read."""


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What one attempt came to: ``status`` (None: no answer), ``latency_ms`` (the whole
    attempt), ``error`` (one line; None when it succeeded), ``read`` (body bytes read)."""

    status: int | None
    latency_ms: int
    error: str | None
    read: int = 0

    @property
    def succeeded(self) -> bool:
        """A 2xx within the deadline."""
        return self.error is None and self.status is not None and 200 <= self.status < 300

    @property
    def gone(self) -> bool:
        """410 Gone: the receiver says this endpoint is no more."""
        return self.status == 410


class _Watchdog:
    """Cuts one request's connection at its deadline by shutting its socket down."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._streams: list[Any] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's ``trace`` hook: notes each network stream the request opens."""
        if event.endswith((".connect_tcp.complete", ".start_tls.complete")):
            self.watch(info.get("return_value"))

    def watch(self, stream: Any) -> None:
        if stream is None:
            return
        with self._lock:
            self._streams.append(stream)
            expired = self.expired
        if expired:
            self._shut(stream)

    def _cut(self) -> None:
        with self._lock:
            self.expired = True
            streams = list(self._streams)
        for stream in streams:
            self._shut(stream)

    @staticmethod
    def _shut(stream: Any) -> None:
        with contextlib.suppress(Exception):
            sock = stream.get_extra_info("socket")
            if isinstance(sock, socket.socket):
                sock.shutdown(socket.SHUT_RDWR)

    @contextmanager
    def running(self) -> Iterator[_Watchdog]:
        self._timer.start()
        try:
            yield self
        finally:
            self._timer.cancel()


def post(client: httpx.Client, url: str, *, body: str | bytes, headers: Mapping[str, str],
         deadline: float = DEADLINE, limit: int = LIMIT) -> Outcome:
    """POST ``body`` to ``url`` once with ``headers``; every failure is an ``Outcome``."""
    started = time.monotonic()
    status: int | None = None
    read = 0
    sent = {**headers, "Connection": "close", "Accept-Encoding": "identity"}
    watchdog = _Watchdog(deadline)

    def outcome(error: str | None) -> Outcome:
        latency = int((time.monotonic() - started) * 1000)
        return Outcome(status=status, latency_ms=latency, error=error, read=read)

    try:
        with watchdog.running(), client.stream(
                "POST", url, content=body, headers=sent, follow_redirects=False,
                timeout=httpx.Timeout(deadline), extensions={"trace": watchdog.trace},
        ) as response:
            watchdog.watch(response.extensions.get("network_stream"))
            status = response.status_code
            if watchdog.expired:
                return outcome(_late(deadline))
            # The answer is in; the body is read only so the receiver is not cut mid-send,
            # and never more than ``limit`` or past the deadline.
            with contextlib.suppress(httpx.HTTPError):
                for chunk in response.iter_raw():
                    read = min(limit, read + len(chunk))
                    if read >= limit or watchdog.expired:
                        break
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
        return outcome(_late(deadline) if watchdog.expired else describe(exc, deadline))
    return outcome(_status_error(status))


def _late(deadline: float) -> str:
    return f"no answer within {deadline:g} s"


def _status_error(status: int) -> str | None:
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return f"HTTP {status}: a redirect, which is not followed"
    if status == 410:
        return "HTTP 410 Gone: the receiver says this endpoint is no more"
    return f"HTTP {status}"


def describe(exc: Exception, deadline: float = DEADLINE) -> str:
    """One line for an httpx error: fixed words and the system's reason, nothing of the
    request (httpx's own messages may quote the URL)."""
    reason = _reason(exc)
    suffix = f" ({reason})" if reason else ""
    match exc:
        case httpx.ConnectTimeout():
            return f"could not connect within {deadline:g} s"
        case httpx.TimeoutException():
            return _late(deadline)
        case httpx.ConnectError():
            return f"could not connect{suffix}"
        case httpx.RemoteProtocolError():
            return "the receiver closed the connection or broke HTTP before answering"
        case httpx.ReadError() | httpx.WriteError() | httpx.CloseError():
            return f"the connection failed{suffix}"
        case httpx.UnsupportedProtocol() | httpx.InvalidURL():
            return "the URL is not a complete http:// or https:// address"
        case httpx.ProxyError():
            return f"the proxy refused the request{suffix}"
        case _:
            return f"the request failed ({type(exc).__name__})"


def _reason(exc: BaseException) -> str:
    """The operating system's or TLS's reason behind an error (``Connection refused``)."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        verify = getattr(cause, "verify_message", None)
        if isinstance(verify, str) and verify:
            return f"certificate: {verify}"
        text = getattr(cause, "strerror", None) or (
            getattr(cause, "reason", None) if isinstance(cause, OSError) else None)
        if isinstance(text, str) and text:
            return " ".join(text.split())[:120]
        cause = cause.__cause__ or cause.__context__
    return ""
