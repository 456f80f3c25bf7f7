"""Nexar sign-in that lasts: the PKCE login, token storage and refresh before expiry.

The protocol pieces (PKCE challenge, authorization URL, token requests, state check) come
from authlib; this module adds what a long-running bot needs: tokens kept in a file only
their owner can read (or in the database), a refresh shortly before expiry and once when
Nexar says ``AuthExpiredToken``, one refresh shared by concurrent requests, and the
identity server's limits (2 token requests a second, 200 in 15 minutes).
"""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749 import parameters
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from jobs.errors import NexarAuthError, NexarRefusedError, NexarUnavailableError
from state.clock import Clock, parse_stamp, stamp, utc_now
from state.errors import ConfigError
from state.store import Store

log = logging.getLogger(__name__)

DEFAULT_IDENTITY_URL = "https://identity.nexar.com"
DEFAULT_REDIRECT_URI = "http://localhost:3000/login"
DESIGN_SCOPES = ("openid", "profile", "email", "design.domain", "user.access",
                 "offline_access")
REFRESH_MARGIN = timedelta(seconds=300)
RELOGIN = "run 'review-bot auth login' again"


@dataclass(frozen=True)
class OAuthSettings:
    """A Nexar app's credentials and where its identity server lives."""

    client_id: str
    client_secret: str = field(repr=False)
    identity_url: str = DEFAULT_IDENTITY_URL
    redirect_uri: str = DEFAULT_REDIRECT_URI

    @property
    def authorize_url(self) -> str:
        return self.identity_url.rstrip("/") + "/connect/authorize"

    @property
    def token_url(self) -> str:
        return self.identity_url.rstrip("/") + "/connect/token"


@dataclass(frozen=True)
class Tokens:
    """What a sign-in leaves behind; never printed (``repr`` hides the secrets)."""

    access_token: str = field(repr=False)
    expires_at: str
    refresh_token: str | None = field(default=None, repr=False)
    scope: str = ""

    def expires(self) -> datetime:
        return parse_stamp(self.expires_at)

    def to_json(self) -> str:
        return json.dumps({"access_token": self.access_token, "expires_at": self.expires_at,
                           "refresh_token": self.refresh_token, "scope": self.scope})

    @classmethod
    def from_json(cls, text: str) -> Tokens:
        data = json.loads(text)
        return cls(access_token=data["access_token"], expires_at=data["expires_at"],
                   refresh_token=data.get("refresh_token"), scope=data.get("scope") or "")


class TokenStore(Protocol):
    def load(self) -> Tokens | None: ...

    def save(self, tokens: Tokens) -> None: ...

    def clear(self) -> bool: ...

    def describe(self) -> str: ...


class FileTokenStore:
    """Tokens in a JSON file readable by its owner only; a looser file is refused."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def describe(self) -> str:
        return str(self.path)

    def _check(self) -> None:
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            raise ConfigError(f"token file {self.path} can be read by others "
                              f"(mode {mode:o}): run 'chmod 600 {self.path}' or sign in again")

    def load(self) -> Tokens | None:
        if not self.path.exists():
            return None
        self._check()
        try:
            return Tokens.from_json(self.path.read_text(encoding="utf-8"))
        except (ValueError, KeyError):
            raise ConfigError(f"token file {self.path} is damaged: {RELOGIN}") from None

    def save(self, tokens: Tokens) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        scratch = self.path.with_name(self.path.name + ".new")
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(tokens.to_json())
        os.chmod(scratch, 0o600)
        os.replace(scratch, self.path)

    def clear(self) -> bool:
        if not self.path.exists():
            return False
        self.path.unlink()
        return True


class DatabaseTokenStore:
    """Tokens in the bot's SQLite file, for hosts where the database is the one secret.

    Like the token file, a database that others can read is refused: it would hand them
    the refresh token. New databases are created readable by their owner only. ``key`` names
    the ``meta`` row (the sign-in's by default).
    """

    KEY = "nexar_tokens"

    def __init__(self, db_path: str, key: str = KEY) -> None:
        self.db_path = db_path
        self.key = key

    def describe(self) -> str:
        return f"the database {self.db_path}"

    def _check(self) -> None:
        path = Path(self.db_path)
        if self.db_path == ":memory:" or not path.exists():
            return
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigError(f"database {path} can be read by others (mode {mode:o}) and "
                              f"would hold the Nexar tokens: run 'chmod 600 {path}'")

    def load(self) -> Tokens | None:
        with Store.open(self.db_path) as store:
            text = store.get_meta(self.key)
        if text:
            self._check()
        try:
            return Tokens.from_json(text) if text else None
        except (ValueError, KeyError):
            raise ConfigError(f"the tokens in {self.describe()} are damaged: {RELOGIN}") from None

    def save(self, tokens: Tokens) -> None:
        self._check()
        with Store.open(self.db_path) as store:
            store.set_meta(self.key, tokens.to_json())

    def clear(self) -> bool:
        with Store.open(self.db_path) as store:
            had = store.get_meta(self.key) is not None
            store.set_meta(self.key, None)
        return had


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT access token, unverified (for expiry and display only)."""
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class RateLimit:
    """The identity server's limits on token requests: 2 a second, 200 in 15 minutes."""

    def __init__(self, *, per_second: int = 2, per_window: int = 200,
                 window: float = 900.0, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.per_second, self.per_window, self.window = per_second, per_window, window
        self.monotonic, self.sleep = monotonic, sleep
        self.sent: deque[float] = deque()

    def wait(self) -> None:
        now = self.monotonic()
        while self.sent and now - self.sent[0] > self.window:
            self.sent.popleft()
        if len(self.sent) >= self.per_window:
            raise NexarAuthError("too many Nexar token requests in 15 minutes; "
                                 "the bot waits before signing in again")
        recent = [t for t in self.sent if now - t < 1.0]
        if len(recent) >= self.per_second:
            self.sleep(1.0 - (now - recent[0]))
        self.sent.append(self.monotonic())


class TokenManager:
    """Hands out a valid access token, refreshing it when it is about to expire."""

    def __init__(self, *, settings: OAuthSettings, store: TokenStore,
                 http: httpx.Client | None = None, clock: Clock = utc_now,
                 limit: RateLimit | None = None, margin: timedelta = REFRESH_MARGIN) -> None:
        self.settings = settings
        self.store = store
        self.http = http or httpx.Client(timeout=30.0)
        self.clock = clock
        self.limit = limit or RateLimit()
        self.margin = margin
        self._lock = threading.Lock()
        self._tokens: Tokens | None = None

    def current(self) -> Tokens:
        tokens = self._tokens or self.store.load()
        if tokens is None:
            raise NexarAuthError(f"not signed in to Nexar: {RELOGIN.replace('again', '')}"
                                 .rstrip())
        self._tokens = tokens
        return tokens

    def token(self) -> str:
        """The access token, refreshed first when it expires within the margin."""
        tokens = self.current()
        if tokens.expires() - self.clock() > self.margin:
            return tokens.access_token
        return self.refresh(tokens.access_token)

    def refresh(self, stale: str) -> str:
        """A fresh access token; callers holding the same stale one share one refresh."""
        with self._lock:
            tokens = self.store.load() or self.current()
            if tokens.access_token != stale and tokens.expires() - self.clock() > self.margin:
                self._tokens = tokens
                return tokens.access_token
            if not tokens.refresh_token:
                raise NexarAuthError(f"the Nexar sign-in has expired and has no refresh "
                                     f"token: {RELOGIN}")
            fresh = self._request("refresh_token", refresh_token=tokens.refresh_token,
                                  scope=tokens.scope or None)
            if fresh.refresh_token is None:
                fresh = replace(fresh, refresh_token=tokens.refresh_token)
            self.store.save(fresh)
            self._tokens = fresh
            log.info("Nexar token refreshed; valid until %s", fresh.expires_at)
            return fresh.access_token

    def exchange(self, code: str, verifier: str) -> Tokens:
        """Trade an authorization code for tokens and keep them."""
        tokens = self._request("authorization_code", code=code, code_verifier=verifier,
                               redirect_uri=self.settings.redirect_uri)
        self.store.save(tokens)
        self._tokens = tokens
        return tokens

    def _request(self, grant_type: str, **fields: Any) -> Tokens:
        self.limit.wait()
        body = parameters.prepare_token_request(
            grant_type, client_id=self.settings.client_id,
            client_secret=self.settings.client_secret,
            **{k: v for k, v in fields.items() if v is not None})
        try:
            reply = self.http.post(self.settings.token_url, content=body, headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise NexarUnavailableError(
                f"could not reach the Nexar identity server ({type(exc).__name__})") from None
        try:
            data = reply.json()
        except ValueError:
            data = {}
        if reply.status_code != 200 or "access_token" not in data:
            raise _token_error(reply.status_code, data, grant_type)
        now = self.clock()
        expires = now + timedelta(seconds=float(data.get("expires_in") or 3600))
        return Tokens(access_token=data["access_token"], expires_at=stamp(expires),
                      refresh_token=data.get("refresh_token"), scope=data.get("scope") or "")


def _token_error(status: int, data: dict[str, Any], grant_type: str) -> NexarAuthError:
    code = str(data.get("error") or f"HTTP {status}")
    if code == "invalid_client":
        return NexarRefusedError("Nexar refused the app credentials (invalid_client): check "
                                 "NEXAR_CLIENT_ID and NEXAR_CLIENT_SECRET")
    if code == "invalid_grant" and grant_type == "refresh_token":
        return NexarAuthError(f"the Nexar sign-in has expired or was revoked: {RELOGIN}")
    if code == "invalid_grant":
        return NexarAuthError(f"Nexar refused the sign-in code (invalid_grant): {RELOGIN}")
    if grant_type == "client_credentials" and code in ("invalid_scope", "unauthorized_client"):
        return NexarRefusedError(f"Nexar refused the app a supply token ({code}): give the "
                                 "app access to supply data at nexar.com")
    if status == 429 or code == "rate_limited":
        return NexarAuthError("the Nexar identity server is rate limiting token requests; "
                              "try again in a minute")
    return NexarAuthError(f"Nexar sign-in failed ({code})")


@dataclass(frozen=True)
class Authorization:
    """One login attempt: the URL to open and what proves the answer belongs to it."""

    url: str
    state: str = field(repr=False)
    verifier: str = field(repr=False)
    scopes: tuple[str, ...]


def authorization(settings: OAuthSettings, scopes: tuple[str, ...]) -> Authorization:
    """A fresh authorization URL with PKCE (S256) and a random ``state``."""
    state, verifier = generate_token(32), generate_token(64)
    url = parameters.prepare_grant_uri(
        settings.authorize_url, settings.client_id, "code",
        redirect_uri=settings.redirect_uri, scope=" ".join(scopes), state=state,
        code_challenge=create_s256_code_challenge(verifier), code_challenge_method="S256")
    return Authorization(url=url, state=state, verifier=verifier, scopes=scopes)


def authorization_code(redirect: str, auth: Authorization) -> str:
    """The code in the redirect the browser brought back, after checking ``state``."""
    from urllib.parse import parse_qs, urlsplit

    query = parse_qs(urlsplit(redirect).query)
    error = (query.get("error") or [""])[0]
    if error:
        raise LoginRefused(error, (query.get("error_description") or [""])[0])
    try:
        result = parameters.parse_authorization_code_response(redirect, state=auth.state)
    except Exception as exc:
        name = type(exc).__name__
        if "State" in name:
            raise NexarAuthError("the sign-in answer carried the wrong state (an old or "
                                 f"forged redirect): {RELOGIN}") from None
        raise NexarAuthError(f"the sign-in answer carried no code: {RELOGIN}") from None
    return str(result["code"])


class LoginRefused(NexarAuthError):
    """The identity server sent the browser back with an error instead of a code."""

    def __init__(self, error: str, description: str = "") -> None:
        self.error = error
        text = {"access_denied": "consent was denied in the browser",
                "invalid_scope": "a requested scope was refused"}.get(error, error)
        super().__init__(f"Nexar sign-in refused: {text}"
                         + (f" ({description})" if description else ""))
