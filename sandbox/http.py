"""The HTTP plumbing the stand-ins share: a keep-alive server on a local port, in a thread.

``LocalServer`` gives a stand-in ``start``/``stop``, ``with`` support, ``running`` and
``base_url``, and hands each request to the stand-in's ``_handle``. Connections are HTTP/1.1
keep-alive with ``TCP_NODELAY`` (small answers are not held back waiting for an ACK), are cut
when the server stops (so ``stop`` never waits on an idle client), and never write to stderr:
each stand-in keeps its own request log.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self


class LocalHandler(BaseHTTPRequestHandler):
    """One client connection; every GET and POST goes to the server's ``dispatch``."""

    protocol_version = "HTTP/1.1"
    server: LocalHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        self.server.untrack(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        self.server.dispatch(self)

    def do_POST(self) -> None:
        self.server.dispatch(self)

    def log_message(self, format: str, *args: Any) -> None:
        """The request log replaces http.server's stderr lines."""

    def read_body(self) -> bytes:
        """The request body, ``Content-Length`` bytes of it (empty without that header)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def bearer_token(self) -> str | None:
        """The token of an ``Authorization: Bearer`` header, or None."""
        header = self.headers.get("Authorization")
        if not header:
            return None
        scheme, _, value = header.strip().partition(" ")
        return value.strip() or None if scheme.lower() == "bearer" else None

    def reply(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Send a whole answer with its ``Content-Length``, so the connection can stay open."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def drop(self) -> None:
        """Hang up without answering, as a failing network or proxy would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class LocalHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its open connections, so stopping can cut them."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], dispatch: Callable[[LocalHandler], None]) -> None:
        self.dispatch = dispatch
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, LocalHandler)

    def track(self, connection: socket.socket) -> None:
        """Remember an open connection."""
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        """Forget a connection its handler is done with."""
        with self._connections_lock:
            self._connections.discard(connection)

    def cut_connections(self) -> None:
        """Shut down every open connection, waking handlers blocked on keep-alive reads."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that hang up; the request log tells the story."""


class LocalServer:
    """A stand-in served over HTTP on ``host:port`` (port 0: a free one) by a daemon thread.

    Subclasses answer requests in ``_handle`` and name themselves in ``_server_name``
    (``"slack sandbox"``), which names the serving thread (``slack-sandbox``) and the error
    ``base_url`` raises while stopped.
    """

    _server_name: ClassVar[str]

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._address = (host, port)
        self._server: LocalHTTPServer | None = None
        self._serve_thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> Self:
        """Listen on a free port in a daemon thread (no-op when already running)."""
        if self._server is None:
            self._server = LocalHTTPServer(self._address, self._handle)
            self._serve_thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=self._server_name.replace(" ", "-"),
                daemon=True,
            )
            self._serve_thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut open keep-alive connections."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.cut_connections()
        server.server_close()
        if self._serve_thread is not None:
            self._serve_thread.join(timeout=5)
            self._serve_thread = None

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return self._server is not None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server."""
        if self._server is None:
            raise RuntimeError(f"the {self._server_name} is not running; call start() first")
        host, port = self._server.server_address[:2]
        host_text = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://{host_text}:{port}"

    def _handle(self, handler: LocalHandler) -> None:
        """Answer one request (each stand-in routes its own paths)."""
        raise NotImplementedError


__all__ = ["LocalHTTPServer", "LocalHandler", "LocalServer"]
