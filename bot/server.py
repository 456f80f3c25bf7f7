"""How ``review-bot run`` meets Slack: Socket Mode, or HTTP behind a threaded server.

bolt's built-in server answers one request at a time; a threaded WSGI server keeps each
slash command's acknowledgement fast while another request is in flight.
"""

from __future__ import annotations

import errno
import http.client
import logging
import threading
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.errors import SlackApiError

from bot.errors import SlackAuthError, SlackError, SlackUnavailableError
from bot.slack.client import AUTH_ERRORS
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
        """Open the connection; Slack's refusals and network failures become our errors."""
        try:
            self._handler.connect()  # type: ignore[no-untyped-call]
        except SlackApiError as exc:
            code = str(exc.response.get("error") or "error")
            self._handler.close()  # type: ignore[no-untyped-call]
            if code in AUTH_ERRORS:
                raise SlackAuthError(f"Slack refused the app-level token ({code}): check "
                                     "SLACK_APP_TOKEN (xapp-..., with connections:write)",
                                     code=code) from None
            raise SlackError(f"Slack refused the Socket Mode connection ({code})",
                             code=code) from None
        except (OSError, http.client.HTTPException) as exc:
            self._handler.close()  # type: ignore[no-untyped-call]
            raise SlackUnavailableError(f"could not reach Slack to open the Socket Mode "
                                        f"connection ({type(exc).__name__}): check the "
                                        "network and SLACK_API_URL",
                                        code="unreachable") from None
        return self

    def stop(self) -> None:
        self._handler.close()  # type: ignore[no-untyped-call]
