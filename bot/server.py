"""How ``review-bot run`` meets Slack: Socket Mode, or HTTP behind a threaded server.

bolt's built-in server answers one request at a time; a threaded WSGI server keeps each
slash command's acknowledgement fast while another request is in flight.
"""

from __future__ import annotations

import errno
import logging
import threading
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler

from state.errors import ConfigError

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # The default listen queue of 5 drops connections under a burst of slash commands,
    # and each dropped SYN costs the client a one-second retransmit.
    request_queue_size = 128


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: " + format, *args)


class HttpServer:
    """Serves the app at ``/slack/events`` on its own thread."""

    def __init__(self, app: App, *, host: str = "0.0.0.0", port: int = 3000) -> None:
        try:
            self._server = make_server(host, port, SlackRequestHandler(app, path=EVENTS_PATH),
                                       server_class=_ThreadingServer,
                                       handler_class=_QuietHandler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"port {port} is in use by another program: stop it, or set "
                                  "PORT to a free port (and the app's Request URL to match)"
                                  ) from None
            if exc.errno == errno.EACCES:
                raise ConfigError(f"port {port} needs more privileges than this user has: set "
                                  "PORT to 1024 or above") from None
            raise ConfigError(f"cannot listen on port {port}: {exc.strerror}") from None
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="slack-http")

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> HttpServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class SocketMode:
    """Keeps a Socket Mode connection open with the app-level token."""

    def __init__(self, app: App, *, app_token: str) -> None:
        self._handler = SocketModeHandler(app, app_token)

    def start(self) -> SocketMode:
        self._handler.connect()  # type: ignore[no-untyped-call]
        return self

    def stop(self) -> None:
        self._handler.close()  # type: ignore[no-untyped-call]
