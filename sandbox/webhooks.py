"""A local webhook receiver: a strict HTTP endpoint with scripted answers and faults.

``WebhookReceiver`` listens on 127.0.0.1 and checks each request the way a careful receiver
does: a POST of ``Content-Type: application/json`` carrying ``webhook-id``,
``webhook-timestamp`` and a ``webhook-signature`` that verifies, with the ``standardwebhooks``
library, against one of the secrets it accepts (several during a rotation). Anything else is
answered 400. Every request is recorded as a ``Received``, before it is answered, so a sender
that has its answer always finds its request in ``received()``.

What the endpoint answers is scripted: ``answer(Respond(status=500), Respond())`` queues
answers for the next good requests, ``always(...)`` sets the one used after them (204 at
first). A ``Respond`` can fail, redirect, send a large body, hang without answering or trickle
its body a byte a second; ``refuse()`` stops listening, so connections are refused. Closing
releases hung and trickling answers at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

from standardwebhooks import Webhook, WebhookVerificationError
from standardwebhooks.webhooks import EmptyWebhookSecretError

from .http import LocalHandler, LocalServer

_REQUIRED = ("webhook-id", "webhook-timestamp", "webhook-signature")
_TEXT = "text/plain; charset=utf-8"
_CHUNK = 64 * 1024
_NO_BODY = frozenset({204, 304})


@dataclass(frozen=True, slots=True)
class Respond:
    """One scripted answer.

    ``status`` defaults to 204, or 200 when there is a ``body`` or a ``trickle``. ``body`` is
    sent in 64 KB chunks (a client that stops reading and hangs up is fine); ``location`` adds
    a ``Location`` header (for redirects). ``hang`` accepts the request and answers nothing for
    that many seconds, then hangs up; ``trickle`` sends the headers, then that many body bytes,
    one a second. Both end as soon as the receiver closes.
    """

    status: int | None = None
    body: bytes = b""
    location: str | None = None
    content_type: str = _TEXT
    hang: float = 0.0
    trickle: int = 0

    def __post_init__(self) -> None:
        if self.status is not None and not 200 <= self.status <= 599:
            raise ValueError(f"status {self.status} is not a final HTTP status")
        if self.hang < 0 or self.trickle < 0:
            raise ValueError("hang and trickle cannot be negative")
        if self.hang and (self.body or self.trickle):
            raise ValueError("a hanging answer sends nothing: no body or trickle")
        if self.code in _NO_BODY and (self.body or self.trickle):
            raise ValueError(f"status {self.code} cannot carry a body")

    @property
    def code(self) -> int:
        """The status this answer sends."""
        if self.status is not None:
            return self.status
        return 200 if self.body or self.trickle else 204


@dataclass(frozen=True, slots=True)
class Received:
    """One request the receiver read, and what it made of it.

    ``headers`` have lower-case names; ``at`` is ``time.monotonic()`` on arrival; ``status``
    is what it answered (0: nothing, for a hang). ``verified`` says it was a good webhook: a
    JSON POST whose signature verified with an accepted secret (never so for a 400).
    ``payload`` is the body's JSON (None when it is not JSON); ``signatures`` are the entries
    of ``webhook-signature`` (``v1,...``); ``error`` says why a request was answered 400.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float
    status: int
    verified: bool
    payload: Any
    signatures: tuple[str, ...] = ()
    error: str | None = None

    @property
    def webhook_id(self) -> str | None:
        """The ``webhook-id`` header: the same on every attempt of one event."""
        return self.headers.get("webhook-id")


class _Handler(LocalHandler):
    """A connection of the receiver: every method reaches it, so each is recorded (and 400)."""

    def do_PUT(self) -> None:
        self.server.dispatch(self)

    def do_PATCH(self) -> None:
        self.server.dispatch(self)

    def do_DELETE(self) -> None:
        self.server.dispatch(self)

    def do_OPTIONS(self) -> None:
        self.server.dispatch(self)

    def read_body(self) -> bytes:
        """The request body, framed by ``Content-Length`` or chunked transfer coding."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunks()
        return super().read_body()

    def _read_chunks(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()


class WebhookReceiver(LocalServer):
    """A strict webhook endpoint on 127.0.0.1 with a request log and a script of answers.

    ``with WebhookReceiver(secrets=[secret]) as receiver:`` starts it on a free port; point
    the sender at ``receiver.url``. ``secrets`` can be replaced at any time (rotation).
    """

    _server_name = "webhook receiver"

    def __init__(self, *, secrets: Sequence[str] = (), host: str = "127.0.0.1") -> None:
        super().__init__(host, 0)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._log: list[Received] = []
        self._script: deque[Respond] = deque()
        self._default = Respond()
        self._verifiers: tuple[Webhook, ...] = ()
        self._secrets: tuple[str, ...] = ()
        self._closing = threading.Event()
        self._url: str | None = None
        self.secrets = secrets

    @property
    def secrets(self) -> tuple[str, ...]:
        """The signing secrets accepted now (``whsec_`` + base64)."""
        with self._lock:
            return self._secrets

    @secrets.setter
    def secrets(self, secrets: Sequence[str]) -> None:
        if isinstance(secrets, str):
            raise TypeError("secrets is a sequence of secrets, not one string")
        try:
            verifiers = tuple(Webhook(secret) for secret in secrets)
        except (EmptyWebhookSecretError, ValueError):
            raise ValueError("a signing secret is whsec_ and non-empty base64") from None
        with self._lock:
            self._secrets = tuple(secrets)
            self._verifiers = verifiers

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/hooks``; it stays the same after ``refuse()`` and ``close()``."""
        if self._url is None:
            raise RuntimeError("the webhook receiver is not running; call start() first")
        return self._url

    def start(self) -> Self:
        """Listen on a free port in a daemon thread (no-op when already running)."""
        if not self.running:
            self._closing = threading.Event()
            super().start()
            assert self._server is not None
            self._server.RequestHandlerClass = _Handler
            self._url = f"{self.base_url}/hooks"
        return self

    def stop(self) -> None:
        """Stop listening, release hung answers and cut open connections."""
        self._closing.set()
        super().stop()

    def close(self) -> None:
        """Stop the server (the log stays readable)."""
        self.stop()

    def refuse(self) -> None:
        """Close the listening socket: from now on connections to ``url`` are refused."""
        self.stop()

    def answer(self, *responses: Respond) -> None:
        """Queue answers for the next good requests, in order (then the default)."""
        with self._lock:
            self._script.extend(responses)

    def always(self, response: Respond) -> None:
        """Answer with ``response`` whenever the script is empty (204 until told otherwise)."""
        with self._lock:
            self._default = response

    def received(self) -> list[Received]:
        """Every request so far, in arrival order."""
        with self._lock:
            return list(self._log)

    def delivered(self) -> list[Any]:
        """The payloads of verified requests answered 2xx, in order."""
        with self._lock:
            return [r.payload for r in self._log if r.verified and 200 <= r.status < 300]

    def wait_for(self, count: int, *, timeout: float) -> list[Received]:
        """Every request once at least ``count`` arrived (``TimeoutError`` after ``timeout``)."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._log) >= count, timeout):
                raise TimeoutError(
                    f"{len(self._log)} of {count} webhook requests arrived within {timeout} s"
                )
            return list(self._log)

    def _handle(self, handler: LocalHandler) -> None:
        """Read, check and record one request, then answer it as scripted (400 when bad)."""
        body = handler.read_body()
        headers = {name.lower(): value for name, value in handler.headers.items()}
        signatures = tuple(headers.get("webhook-signature", "").split())
        payload, is_json = _parse(body)
        with self._lock:
            verifiers = self._verifiers
        error = _problem(handler.command, headers, _verify(verifiers, body, headers), is_json)
        response = Respond(status=400, body=error.encode()) if error else self._next()
        self._record(
            Received(
                method=handler.command,
                path=handler.path,
                headers=headers,
                body=body,
                at=time.monotonic(),
                status=0 if response.hang else response.code,
                verified=error is None,
                payload=payload,
                signatures=signatures,
                error=error,
            )
        )
        self._send(handler, response)

    def _next(self) -> Respond:
        with self._lock:
            return self._script.popleft() if self._script else self._default

    def _record(self, received: Received) -> None:
        with self._changed:
            self._log.append(received)
            self._changed.notify_all()

    def _send(self, handler: LocalHandler, response: Respond) -> None:
        """Write one answer; a client hanging up part-way ends it quietly."""
        if response.hang:
            self._closing.wait(response.hang)
            handler.drop()
            return
        try:
            handler.send_response(response.code)
            length = response.trickle or len(response.body)
            if response.code not in _NO_BODY:
                handler.send_header("Content-Type", response.content_type)
                handler.send_header("Content-Length", str(length))
            if response.location is not None:
                handler.send_header("Location", response.location)
            handler.end_headers()
            for start in range(0, len(response.body), _CHUNK):
                handler.wfile.write(response.body[start : start + _CHUNK])
            for _ in range(response.trickle):
                if self._closing.wait(1.0):
                    handler.drop()
                    return
                handler.wfile.write(b".")
        except OSError:
            handler.drop()


def _parse(body: bytes) -> tuple[Any, bool]:
    """The body's JSON and whether it was JSON at all (``null`` is JSON)."""
    try:
        return json.loads(body), True
    except ValueError:
        return None, False


def _verify(verifiers: Sequence[Webhook], body: bytes, headers: dict[str, str]) -> bool:
    """Whether any accepted secret verifies the request (signature and timestamp)."""
    for verifier in verifiers:
        try:
            verifier.verify(body, headers, json_parse=False)
        except (WebhookVerificationError, ValueError):
            continue
        return True
    return False


def _problem(method: str, headers: dict[str, str], verified: bool, is_json: bool) -> str | None:
    """Why a strict receiver turns the request away, or None when it is good."""
    if method != "POST":
        return f"{method} is not accepted: webhooks are POSTed"
    media_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        return "the body must be Content-Type: application/json"
    missing = [name for name in _REQUIRED if not headers.get(name)]
    if missing:
        return f"missing headers: {', '.join(missing)}"
    if not verified:
        return "no signature verifies with an accepted secret"
    if not is_json:
        return "the body is not JSON"
    return None


__all__ = ["Received", "Respond", "WebhookReceiver"]
