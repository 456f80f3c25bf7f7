"""The Slack sandbox's HTTP server and the ``SlackSandbox`` facade tests and the demo use.

``/api/<method>`` is the Web API: GET with a query string, or POST with a JSON or
form-encoded body (both merged with the query), the token in ``Authorization: Bearer`` or a
``token`` parameter. Answers are HTTP 200 ``{"ok": ...}`` as Slack gives them, except rate
limits (429 with ``Retry-After``) and injected server errors. ``/respond/<id>`` serves
response URLs (5 uses within 30 minutes of the sandbox clock). ``/socket`` is Socket Mode's
WebSocket, for the URLs ``apps.connections.open`` handed out (see ``socket.SocketHub``).

The app's side of the Events API: ``subscribe_events`` chooses the bot events it gets (none
at first), ``event_url`` and ``signing_secret`` where and how they are POSTed (Socket Mode
when there is no URL), and ``events_sent`` what was sent (see ``events`` and ``delivery``).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ..http import LocalHandler, LocalServer
from .blocks import decode_json
from .delivery import EventSender, SentEvent
from .events import callback, changed_events, check_subscriptions, posted_events, reaction_events
from .faults import Fault, Faults, PostPacer
from .methods import APP_TOKEN_METHODS, METHODS, CallContext, Params
from .socket import SocketAck, SocketHub
from .workspace import Clock, Message, SlackError, Workspace

_JSON = "application/json; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"
_DECODED = ("attachments", "blocks", "metadata", "view")
_SERVER_ERRORS = {500: "fatal_error", 503: "service_unavailable"}


@dataclass(frozen=True, slots=True)
class SlackCall:
    """One request the sandbox answered (or dropped), for assertions and request counting.

    ``params`` holds what the client sent (query and body merged, the token left out),
    with ``blocks``, ``metadata``, ``view`` and ``attachments`` decoded from JSON text.
    """

    method: str
    params: Mapping[str, Any]
    status: int
    ok: bool | None
    error: str | None
    warning: str | None
    http_method: str
    content_type: str
    path: str
    at: datetime
    duration: float
    fault: str | None = None
    response: Mapping[str, Any] | None = None


class _Exchange:
    """One HTTP request being answered: what the request log will record about it."""

    def __init__(self, sandbox: SlackSandbox, handler: LocalHandler, path: str) -> None:
        self.sandbox = sandbox
        self.handler = handler
        self.started = time.perf_counter()
        self.path = path
        self.method = ""
        self.params: Mapping[str, Any] = {}
        self.content_type = handler.headers.get("Content-Type") or ""

    def finish(
        self,
        status: int,
        payload: Mapping[str, Any] | None = None,
        *,
        fault: str | None = None,
        headers: Mapping[str, str] | None = None,
        text: str | None = None,
        content_type: str = _TEXT,
        error: str | None = None,
    ) -> None:
        """Log the request, then send the answer (none for status 0).

        Logging first means a client that has its answer always finds the request logged.
        """
        ok: bool | None = None
        warning: Any = None
        if payload is not None:
            ok = payload.get("ok") is True
            error = error or payload.get("error")
            warning = payload.get("warning")
        elif status:
            ok = status == 200
            if status != 200:
                error = error or text
        self.sandbox._record(
            SlackCall(
                method=self.method,
                params=self.params,
                status=status,
                ok=ok,
                error=error if isinstance(error, str) else None,
                warning=warning if isinstance(warning, str) else None,
                http_method=self.handler.command,
                content_type=self.content_type,
                path=self.path,
                at=self.sandbox.clock(),
                duration=time.perf_counter() - self.started,
                fault=fault,
                response=payload,
            )
        )
        if not status:
            return
        answer_headers = {"X-Slack-Req-Id": uuid.uuid4().hex, **(headers or {})}
        if payload is not None:
            body = json.dumps(payload).encode()
            self.handler.reply(status, body, _JSON, answer_headers)
        else:
            self.handler.reply(status, (text or "").encode(), content_type, answer_headers)


def _parse_params(content_type: str, query: str, body: bytes) -> tuple[dict[str, Any], str | None]:
    """Query and body parameters merged (the body wins), and a format error if any."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    if not body:
        return params, None
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            decoded = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return params, "invalid_json"
        if not isinstance(decoded, dict):
            return params, "invalid_json"
        params.update(decoded)
        return params, None
    if kind.startswith("multipart/"):
        return params, "invalid_form_data"
    try:
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True))
    except (ValueError, UnicodeDecodeError):
        return params, "invalid_form_data"
    return params, None


def _form_token(content_type: str, query: str, params: Mapping[str, Any]) -> Any:
    """A ``token`` parameter, as Slack reads it: from the query or a form body, never JSON."""
    if content_type.split(";")[0].strip().lower() == "application/json":
        return dict(parse_qsl(query)).get("token")
    return params.get("token")


def _logged(params: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: decode_json(value) if name in _DECODED else value
        for name, value in params.items()
        if name != "token"
    }


class SlackSandbox(Workspace, LocalServer):
    """A local Slack Web API on 127.0.0.1 with a seeded workspace, faults and a request log.

    ``with SlackSandbox() as sb:`` starts it on a free port; give slack_sdk
    ``WebClient(token=sb.bot_token, base_url=sb.api_url)``. The workspace helpers
    (``messages``, ``replies``, ``add_channel``, ``kick_bot`` ...) come from ``Workspace``.
    """

    _server_name = "slack sandbox"

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 7,
    ) -> None:
        Workspace.__init__(self, clock, seed=seed)
        LocalServer.__init__(self, host, port)
        self.faults = Faults(self.channel_id)
        self._revoked: set[str] = set()
        self._pacer: PostPacer | None = None
        self._log: list[SlackCall] = []
        self._log_lock = threading.Lock()
        self._sockets = SocketHub(
            team_id=self.team_id, app_id=self.app_id, clock=lambda: self.clock()
        )
        self._subscriptions: frozenset[str] = frozenset()
        self._events = EventSender(
            sockets=self._sockets, faults=self.faults, clock=lambda: self.clock()
        )
        self.verification_token = secrets.token_urlsafe(18)
        """The legacy ``token`` field Slack still puts in every event body."""

    def stop(self) -> None:
        """Stop sending events, then stop listening and cut open connections."""
        self._events.close()
        LocalServer.stop(self)

    @property
    def api_url(self) -> str:
        """The Web API base for ``WebClient(base_url=...)`` (``https://slack.com/api/``)."""
        return f"{self.base_url}/api/"

    def revoke_token(self, token: str | None = None) -> None:
        """Revoke ``token`` (default the bot token): its calls now get ``token_revoked``."""
        with self.lock:
            self._revoked.add(token or self.bot_token)

    def enforce_post_rate(self, per_second: float | None = 1.0, burst: int = 3) -> None:
        """Pace ``chat.postMessage`` per channel like Slack (429 past the burst); None: off."""
        self._pacer = PostPacer(per_second, burst) if per_second is not None else None

    def response_url(
        self,
        *,
        channel: str | None = None,
        user: str | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """A fresh ``http://127.0.0.1:PORT/respond/<id>`` URL, as a slash command carries.

        With ``channel``, ``"response_type": "in_channel"`` bodies post there as the bot,
        and ephemeral ones (the default) are recorded for ``user``.
        """
        return f"{self.base_url}/respond/{self.response_url_target(channel, user, thread_ts)}"

    def responses(self, target_id: str) -> list[dict[str, Any]]:
        """The JSON bodies a response URL (given as the URL or its id) accepted, oldest first."""
        return super().responses(target_id.rstrip("/").rsplit("/", 1)[-1])

    @property
    def calls(self) -> list[SlackCall]:
        """A copy of the request log, oldest first."""
        with self._log_lock:
            return list(self._log)

    def calls_to(self, method: str) -> list[SlackCall]:
        """The logged calls of one Web API method (``"response_url"`` for response URLs)."""
        with self._log_lock:
            return [call for call in self._log if call.method == method]

    def reset_calls(self) -> None:
        """Empty the request log."""
        with self._log_lock:
            self._log.clear()

    @property
    def socket_connected(self) -> bool:
        """Whether a Socket Mode client holds an open connection."""
        return self._sockets.connected

    def wait_for_socket(self, timeout: float = 10.0) -> None:
        """Block until a Socket Mode client has connected (``TimeoutError`` otherwise)."""
        self._sockets.wait_connected(timeout)

    def socket_send(self, type: str, payload: Mapping[str, Any]) -> str:
        """Push a ``slash_commands``, ``events_api`` or ``interactive`` envelope; its id."""
        return self._sockets.send(type, payload)

    def socket_acks(self) -> list[SocketAck]:
        """The Socket Mode acknowledgements received, oldest first."""
        return self._sockets.acks()

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> SocketAck:
        """The ack of one envelope, waiting up to ``timeout`` (``TimeoutError``)."""
        return self._sockets.wait_for_ack(envelope_id, timeout)

    def subscribe_events(self, names: set[str] | frozenset[str]) -> None:
        """Make the app's bot events exactly ``names`` (``{"message.channels"}``; empty: none).

        Known events: ``message.channels``, ``message.groups``, ``message.im``,
        ``app_mention``, ``reaction_added``; each needs its scope on the bot token
        (``ValueError`` otherwise, as Slack's app settings refuse it).
        """
        with self.lock:
            check_subscriptions(names, self.scopes)
            self._subscriptions = frozenset(names)

    @property
    def subscriptions(self) -> frozenset[str]:
        """The bot events the app is subscribed to."""
        with self.lock:
            return self._subscriptions

    @property
    def event_url(self) -> str | None:
        """The app's Request URL for events; None sends them over Socket Mode."""
        return self._events.url

    @event_url.setter
    def event_url(self, url: str | None) -> None:
        self._events.url = url

    @property
    def signing_secret(self) -> str:
        """The app's signing secret, which signs every event POSTed to ``event_url``."""
        return self._events.signing_secret

    @signing_secret.setter
    def signing_secret(self, secret: str) -> None:
        self._events.signing_secret = secret

    @property
    def event_timeout(self) -> float:
        """Seconds Slack waits for the app's 2xx or ack before it retries (3)."""
        return self._events.timeout

    @event_timeout.setter
    def event_timeout(self, seconds: float) -> None:
        self._events.timeout = float(seconds)

    @property
    def event_retry_delays(self) -> tuple[float, ...]:
        """Seconds before each of the three retries (Slack: 1, 60, 300; shorten in tests)."""
        return self._events.retry_delays

    @event_retry_delays.setter
    def event_retry_delays(self, delays: tuple[float, ...]) -> None:
        if len(delays) != 3 or any(delay < 0 for delay in delays):
            raise ValueError("Slack retries three times: give three delays of 0 or more")
        self._events.retry_delays = tuple(float(delay) for delay in delays)

    def events_sent(self) -> list[SentEvent]:
        """Every event sent to the app, oldest first, each with its attempts so far."""
        return self._events.sent()

    def wait_for_events(self, timeout: float = 10.0) -> list[SentEvent]:
        """``events_sent()`` once every event is delivered or out of retries."""
        return self._events.wait_finished(timeout)

    def on_message_posted(self, message: Message) -> None:
        """Send the app the events of a new message (the lock is held)."""
        if self._subscriptions:
            channel = self._channels[message.channel]
            for event in posted_events(self, channel, message, self._subscriptions):
                self._events.send(callback(self, event, token=self.verification_token))

    def on_message_changed(self, message: Message, previous: Message) -> None:
        """Send the app the ``message_changed`` event of an edit (the lock is held)."""
        if self._subscriptions:
            channel = self._channels[message.channel]
            for event in changed_events(self, channel, message, previous, self._subscriptions):
                self._events.send(callback(self, event, token=self.verification_token))

    def on_reaction_added(self, user_id: str, message: Message, name: str) -> None:
        """Send the app the ``reaction_added`` event (the lock is held)."""
        if "reaction_added" in self._subscriptions:
            channel = self._channels[message.channel]
            events = reaction_events(
                self, channel, user_id, message, name, self.next_ts(), self._subscriptions
            )
            for event in events:
                self._events.send(callback(self, event, token=self.verification_token))

    def _record(self, call: SlackCall) -> None:
        with self._log_lock:
            self._log.append(call)

    def _handle(self, handler: LocalHandler) -> None:
        split = urlsplit(handler.path)
        if split.path == "/socket":
            self._sockets.serve(handler, split.query)
            return
        body = handler.read_body()
        exchange = _Exchange(self, handler, split.path)
        if split.path.startswith("/api/"):
            self._api(exchange, split.path.removeprefix("/api/"), split.query, body)
        elif split.path.startswith("/respond/"):
            self._respond(exchange, split.path.removeprefix("/respond/"), body)
        else:
            exchange.finish(404, text="not_found")

    def _faulted(self, exchange: _Exchange) -> bool:
        """Apply drop, latency and HTTP-level faults; True when the call was answered."""
        if self.faults.take(("drop_connection",), exchange.method) is not None:
            exchange.finish(0, fault="drop_connection")
            exchange.handler.drop()
            return True
        delay = self.faults.delay
        if delay:
            time.sleep(delay)
        fault = self.faults.take(("rate_limit", "http_error"), exchange.method)
        if fault is None:
            return False
        _answer_fault(exchange, fault)
        return True

    def _api(self, exchange: _Exchange, method: str, query: str, body: bytes) -> None:
        params, problem = _parse_params(exchange.content_type, query, body)
        exchange.method = method
        exchange.params = _logged(params)
        if self._faulted(exchange):
            return
        if problem is not None:
            exchange.finish(200, {"ok": False, "error": problem})
            return
        handler = METHODS.get(method)
        if handler is None:
            exchange.finish(200, {"ok": False, "error": "unknown_method", "req_method": method})
            return
        token = exchange.handler.bearer_token() or _form_token(exchange.content_type, query, params)
        refusal = self._refuse_token(token if isinstance(token, str) else None, method)
        if refusal is not None:
            exchange.finish(200, {"ok": False, "error": refusal})
            return
        channel = self._fault_channel(params.get("channel"))
        fault = self.faults.take(("error",), method, channel)
        if fault is not None:
            exchange.finish(200, {"ok": False, "error": fault.error}, fault="error")
            return
        pacer = self._pacer
        if method == "chat.postMessage" and pacer is not None:
            wait = pacer.check(channel or str(params.get("channel")))
            if wait is not None:
                exchange.finish(
                    429,
                    {"ok": False, "error": "ratelimited"},
                    headers={"Retry-After": str(wait)},
                    fault="post_rate",
                )
                return
        context = CallContext(self.base_url)
        try:
            with self.lock:
                result = handler(self, Params(params), context)
        except SlackError as refused:
            result = {"ok": False, "error": refused.code, **refused.extra}
            self._answer(exchange, result)
            return
        except Exception as crash:
            detail = f"{type(crash).__name__}: {crash}"
            exchange.finish(
                500, {"ok": False, "error": "fatal_error", "detail": detail}, fault="crash"
            )
            return
        if method == "apps.connections.open":
            self._sockets.admit(str(result["url"]))
        self._answer(exchange, {"ok": True, **result})

    def _answer(self, exchange: _Exchange, payload: Mapping[str, Any]) -> None:
        if self.faults.take(("drop_after",), exchange.method) is not None:
            exchange.finish(0, payload, fault="drop_after")
            exchange.handler.drop()
            return
        scopes = ",".join(sorted(self.scopes))
        exchange.finish(200, payload, headers={"X-OAuth-Scopes": scopes})

    def _refuse_token(self, token: str | None, method: str) -> str | None:
        if not token:
            return "not_authed"
        with self.lock:
            revoked = token in self._revoked
        if revoked:
            return "token_revoked"
        if token not in (self.bot_token, self.app_token):
            return "invalid_auth"
        wants_app = method in APP_TOKEN_METHODS
        if (token == self.app_token) != wants_app:
            return "not_allowed_token_type"
        return None

    def _fault_channel(self, ref: Any) -> str | None:
        if not isinstance(ref, str) or not ref:
            return None
        try:
            return self.channel_id(ref)
        except KeyError:
            return ref

    def _respond(self, exchange: _Exchange, target_id: str, body: bytes) -> None:
        exchange.method = "response_url"
        payload = decode_json(body) if body else None
        exchange.params = payload if isinstance(payload, dict) else {}
        if self._faulted(exchange):
            return
        if exchange.handler.command != "POST":
            exchange.finish(405, text="invalid_method", headers={"Allow": "POST"})
            return
        status, text = self.use_response_url(target_id, payload)
        exchange.finish(status, text=text, content_type="text/html")


def _answer_fault(exchange: _Exchange, fault: Fault) -> None:
    if fault.status == 429:
        exchange.finish(
            429,
            {"ok": False, "error": "ratelimited"},
            headers={"Retry-After": str(fault.retry_after or 1)},
            fault="rate_limit",
        )
        return
    code = _SERVER_ERRORS.get(fault.status)
    if code is not None:
        exchange.finish(fault.status, {"ok": False, "error": code}, fault="http_error")
        return
    try:
        phrase = HTTPStatus(fault.status).phrase
    except ValueError:
        phrase = "Error"
    page = f"<html><body><h1>{fault.status} {phrase}</h1></body></html>"
    exchange.finish(
        fault.status,
        text=page,
        content_type="text/html",
        fault="http_error",
        error=f"http_{fault.status}",
    )


__all__ = ["SlackCall", "SlackSandbox"]
