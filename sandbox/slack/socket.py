"""Socket Mode for the Slack sandbox: the WebSocket that ``apps.connections.open`` points at.

A client that opens a URL the sandbox issued gets Slack's ``hello``; the sandbox then pushes
envelopes to it (``send``) and records each acknowledgement (``acks``). This is RFC 6455 over
the HTTP server's upgrade, with text frames only: pings are answered, a close is echoed, and
anything else ends the connection.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import struct
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..http import LocalHandler

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_CONTINUATION, _TEXT, _BINARY, _CLOSE, _PING, _PONG = 0, 1, 2, 8, 9, 10
_MAX_MESSAGE = 1 << 20
ENVELOPE_TYPES = frozenset({"slash_commands", "events_api", "interactive"})
"""The envelope types ``SocketHub.send`` pushes."""


@dataclass(frozen=True, slots=True)
class SocketAck:
    """A client's acknowledgement of an envelope.

    ``at`` is the sandbox clock's time, ``delay`` the seconds since the envelope was sent.
    """

    envelope_id: str
    type: str
    payload: Mapping[str, Any] | None
    at: datetime
    delay: float


class _Closed(Exception):
    """The connection ended (hang-up, close frame or protocol error)."""


class _Connection:
    """One upgraded client connection; frames are written under a lock from any thread."""

    def __init__(self, handler: LocalHandler) -> None:
        self.handler = handler
        self.open = True
        self._send_lock = threading.Lock()

    def send(self, opcode: int, data: bytes) -> None:
        """Write one unmasked, unfragmented frame."""
        size = len(data)
        if size < 126:
            header = struct.pack("!BB", 0x80 | opcode, size)
        elif size < 1 << 16:
            header = struct.pack("!BBH", 0x80 | opcode, 126, size)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 127, size)
        with self._send_lock:
            if not self.open:
                raise _Closed
            try:
                self.handler.connection.sendall(header + data)
            except OSError:
                self.open = False
                raise _Closed from None

    def close(self, code: int) -> None:
        """Send a close frame (once) and stop writing."""
        with contextlib.suppress(_Closed):
            self.send(_CLOSE, struct.pack("!H", code))
        self.open = False

    def read(self) -> tuple[bool, int, bytes]:
        """The next frame's FIN bit, opcode and unmasked payload."""
        first, second = self._exactly(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._exactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._exactly(8))
        if not second & 0x80 or length > _MAX_MESSAGE:
            self.close(1002 if not second & 0x80 else 1009)
            raise _Closed
        mask = self._exactly(4)
        data = self._exactly(length)
        key = int.from_bytes((mask * (length // 4 + 1))[:length], "big")
        unmasked = (int.from_bytes(data, "big") ^ key).to_bytes(length, "big")
        return bool(first & 0x80), first & 0x0F, unmasked

    def _exactly(self, size: int) -> bytes:
        try:
            data = self.handler.rfile.read(size) if size else b""
        except OSError:
            data = b""
        if len(data) != size:
            raise _Closed
        return data


class SocketHub:
    """Socket Mode connections to the sandbox, the envelopes pushed and the acks received."""

    def __init__(self, *, team_id: str, app_id: str, clock: Callable[[], datetime]) -> None:
        self._team_id = team_id
        self._app_id = app_id
        self._clock = clock
        self._tickets: set[str] = set()
        self._connections: list[_Connection] = []
        self._sent: dict[str, tuple[str, float]] = {}
        self._acks: list[SocketAck] = []
        self._changed = threading.Condition()

    def admit(self, url: str) -> None:
        """Accept connections to ``url`` (as ``apps.connections.open`` answered it)."""
        ticket = parse_qs(urlsplit(url).query).get("ticket", [""])[0]
        with self._changed:
            self._tickets.add(ticket)

    @property
    def connected(self) -> bool:
        """Whether a client holds an open connection."""
        with self._changed:
            return any(connection.open for connection in self._connections)

    def wait_connected(self, timeout: float = 10.0) -> None:
        """Block until a client is connected; ``TimeoutError`` after ``timeout`` seconds."""
        with self._changed:
            if not self._changed.wait_for(
                lambda: any(c.open for c in self._connections), timeout
            ):
                raise TimeoutError(f"no Socket Mode client connected within {timeout:g}s")

    def send(
        self, type: str, payload: Mapping[str, Any], *, retry_attempt: int = 0
    ) -> str:
        """Push an envelope to the newest open connection; returns its ``envelope_id``.

        An ``events_api`` payload gets the ``event_callback`` fields it lacks (team, app,
        event id and time) and, as Slack sends it, does not accept a response payload.
        """
        if type not in ENVELOPE_TYPES:
            raise ValueError(f"unknown envelope type {type!r}; one of {sorted(ENVELOPE_TYPES)}")
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {"envelope_id": envelope_id, "type": type}
        if type == "events_api":
            defaults = {
                "token": "",
                "team_id": self._team_id,
                "api_app_id": self._app_id,
                "type": "event_callback",
                "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
                "event_time": int(self._clock().timestamp()),
            }
            envelope["payload"] = {**defaults, **payload}
            envelope["accepts_response_payload"] = False
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = "timeout" if retry_attempt else ""
        else:
            envelope["payload"] = dict(payload)
            envelope["accepts_response_payload"] = True
        with self._changed:
            connections = [c for c in self._connections if c.open]
            self._sent[envelope_id] = (type, time.monotonic())
        for connection in reversed(connections):
            try:
                connection.send(_TEXT, json.dumps(envelope).encode())
            except _Closed:
                continue
            return envelope_id
        raise RuntimeError("no Socket Mode client is connected")

    def acks(self) -> list[SocketAck]:
        """Every acknowledgement received, oldest first."""
        with self._changed:
            return list(self._acks)

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> SocketAck:
        """The ack of ``envelope_id``, waiting up to ``timeout`` seconds (``TimeoutError``)."""

        def found() -> SocketAck | None:
            return next((a for a in self._acks if a.envelope_id == envelope_id), None)

        with self._changed:
            if not self._changed.wait_for(lambda: found() is not None, timeout):
                raise TimeoutError(f"envelope {envelope_id} not acknowledged in {timeout:g}s")
            ack = found()
        assert ack is not None
        return ack

    def serve(self, handler: LocalHandler, query: str) -> None:
        """Upgrade a ``GET /socket`` to a WebSocket and serve it until it closes."""
        handler.close_connection = True
        key = handler.headers.get("Sec-WebSocket-Key") or ""
        ticket = parse_qs(query).get("ticket", [""])[0]
        with self._changed:
            admitted = ticket in self._tickets
        if (handler.headers.get("Upgrade") or "").lower() != "websocket" or not key:
            handler.reply(400, b"websocket_upgrade_expected", "text/plain; charset=utf-8")
            return
        if not admitted:
            handler.reply(401, b"invalid_ticket", "text/plain; charset=utf-8")
            return
        accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
        handler.send_response(101)
        handler.send_header("Upgrade", "websocket")
        handler.send_header("Connection", "Upgrade")
        handler.send_header("Sec-WebSocket-Accept", accept)
        handler.end_headers()
        connection = _Connection(handler)
        with self._changed:
            self._connections.append(connection)
            count = sum(1 for c in self._connections if c.open)
        try:
            connection.send(_TEXT, json.dumps(self._hello(count)).encode())
            with self._changed:
                self._changed.notify_all()
            self._receive(connection)
        except _Closed:
            pass
        finally:
            connection.open = False
            with self._changed:
                self._connections.remove(connection)
                self._changed.notify_all()

    def _hello(self, connections: int) -> dict[str, Any]:
        return {
            "type": "hello",
            "num_connections": connections,
            "debug_info": {
                "host": "applink-sandbox",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self._app_id},
        }

    def _receive(self, connection: _Connection) -> None:
        parts: list[bytes] = []
        while True:
            fin, opcode, data = connection.read()
            if opcode == _PING:
                connection.send(_PONG, data)
            elif opcode == _PONG:
                continue
            elif opcode == _CLOSE:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1000
                connection.close(code)
                return
            elif opcode in (_TEXT, _CONTINUATION) and (parts or opcode == _TEXT):
                parts.append(data)
                if fin:
                    self._ack(b"".join(parts).decode("utf-8", "replace"))
                    parts = []
            else:
                connection.close(1003 if opcode == _BINARY else 1002)
                return

    def _ack(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        if not isinstance(message, dict) or not isinstance(message.get("envelope_id"), str):
            return
        payload = message.get("payload")
        with self._changed:
            kind, sent = self._sent.get(message["envelope_id"], ("", time.monotonic()))
            self._acks.append(
                SocketAck(
                    envelope_id=message["envelope_id"],
                    type=kind,
                    payload=payload if isinstance(payload, dict) else None,
                    at=self._clock(),
                    delay=time.monotonic() - sent,
                )
            )
            self._changed.notify_all()


__all__ = ["ENVELOPE_TYPES", "SocketAck", "SocketHub"]
