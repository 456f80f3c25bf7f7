"""``review-bot auth login``: the browser sign-in with a local redirect listener.

Listens on the redirect URI's port, shows (and where it can, opens) the authorization
URL, waits for the browser to come back, checks ``state``, exchanges the code. When the
app may not ask for ``offline_access`` it signs in without it and says that a daily
sign-in will be needed.
"""

from __future__ import annotations

import errno
import logging
import queue
import threading
import webbrowser
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from jobs.auth import LoginRefused, TokenManager, Tokens, authorization, authorization_code
from jobs.errors import NexarAuthError
from state.errors import ConfigError

log = logging.getLogger(__name__)

PAGE = ("<!doctype html><meta charset=utf-8><title>review-bot</title>"
        "<body style='font-family:sans-serif;margin:3em'><h2>{title}</h2><p>{text}</p>")


class RedirectListener:
    """Catches the first request to the redirect path and hands its full URL over."""

    def __init__(self, redirect_uri: str) -> None:
        parts = urlsplit(redirect_uri)
        if parts.scheme != "http" or parts.hostname not in {"localhost", "127.0.0.1"}:
            raise ConfigError(f"the redirect URI {redirect_uri} must be http://localhost:PORT/"
                              "PATH (or 127.0.0.1) so this machine can catch the sign-in")
        self.path = parts.path or "/"
        self.base = redirect_uri.split("?")[0]
        self.arrived: queue.Queue[str] = queue.Queue()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if urlsplit(self.path).path != listener.path:
                    self.send_error(404)
                    return
                query = urlsplit(self.path).query
                failed = "error=" in query
                body = PAGE.format(
                    title="Sign-in failed" if failed else "Signed in to Nexar",
                    text="Return to the terminal to see why." if failed
                    else "You can close this tab and return to the terminal.")
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                listener.arrived.put(f"{listener.base}?{query}")

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("login listener: " + format, *args)

        host = "127.0.0.1" if parts.hostname == "localhost" else parts.hostname
        try:
            self.server = ThreadingHTTPServer((host, parts.port or 80), Handler)
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise ConfigError(
                    f"port {parts.port} is in use, so the sign-in cannot come back to "
                    f"{redirect_uri}: stop what uses it, or set NEXAR_REDIRECT_URI to another "
                    "port registered for the Nexar app") from None
            raise ConfigError(f"cannot listen on {redirect_uri}: {exc.strerror}") from None
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> RedirectListener:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait(self, timeout: float) -> str:
        try:
            return self.arrived.get(timeout=timeout)
        except queue.Empty:
            raise NexarAuthError(f"no sign-in came back within {timeout:g} seconds; run "
                                 "'review-bot auth login' again") from None


def login(manager: TokenManager, *, scopes: tuple[str, ...], echo: Callable[[str], None],
          open_browser: bool = True, timeout: float = 300.0,
          on_url: Callable[[str], None] | None = None) -> Tokens:
    """Sign in through the browser and keep the tokens; returns them."""
    with RedirectListener(manager.settings.redirect_uri) as listener:
        while True:
            auth = authorization(manager.settings, scopes)
            echo(f"Open this address to sign in to Nexar:\n\n  {auth.url}\n")
            if on_url is not None:
                on_url(auth.url)
            elif open_browser:
                _open(auth.url)
            redirect = listener.wait(timeout)
            try:
                code = authorization_code(redirect, auth)
            except LoginRefused as refused:
                if refused.error == "invalid_scope" and "offline_access" in scopes:
                    echo("Warning: this Nexar app may not use offline_access, so the sign-in "
                         "lasts one day and must then be repeated. Signing in without it.")
                    scopes = tuple(s for s in scopes if s != "offline_access")
                    continue
                raise
            return manager.exchange(code, auth.verifier)


def _open(url: str) -> None:
    try:
        webbrowser.get()
    except webbrowser.Error:
        return
    webbrowser.open(url)
