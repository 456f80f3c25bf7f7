"""A local identity.nexar.com: OAuth2 authorization code with PKCE, refresh tokens, rate limits.

``IdentitySandbox`` is a separate HTTP server (identity.nexar.com is a separate host from the
API) shaped like IdentityServer/Duende, which Nexar runs: ``GET /connect/authorize`` answers a
signed-in browser with a 302 to the client's redirect URI, ``POST /connect/token`` exchanges
codes and refresh tokens for JWT-shaped access tokens. Every access token is registered with
the ``AltiumSandbox`` it serves, with its scopes and expiry, so the GraphQL stand-in accepts
it until ``exp`` by the shared clock and then answers ``AuthExpiredToken``; a field its
scopes do not cover (design data without ``design.domain``, supply data without
``supply.domain``) gets ``AUTH_NOT_AUTHORIZED``.

Choices where Nexar's behaviour is unknown or loose:

- A registered redirect URI matches one with the same scheme, host, path and query; port 0 in
  the registered URI means "any port" (``http://localhost:0/login`` accepts
  ``http://localhost:3000/login``), any other port must be equal.
- A code is consumed by the first exchange attempt of its client, even a failing one (as in
  Duende); it lives 5 minutes by the sandbox clock.
- ``refresh_lifetime`` counts from the sign-in and is not renewed by refreshing or rotation.
- Without ``rotate_refresh_tokens`` a refresh answer carries no ``refresh_token`` (the client
  must keep the one it has); with it, each refresh answers a new one and the old one dies.
- Rate limits count per client id the token requests that were not themselves refused with
  429: 2 per second on ``monotonic`` (real time by default, since a test clock stands still),
  and 200 per 15 minutes, 3,000 per 12 hours and 40,000 per week on the sandbox clock.
- Beside ``authorization_code`` and ``refresh_token``, ``client_credentials`` issues an app's
  own token (no user, no refresh token, ``access_lifetime``) for ``supply.domain`` only, as
  Nexar allows client credentials for supply data and refuses them for design: any other
  scope is ``invalid_scope``, and so is supply for a client registered without
  ``allow_supply``. Without ``scope`` the grant asks for ``supply.domain``.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import html
import json
import math
import re
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, unquote_plus, urlencode, urlsplit

from ..http import LocalHandler, LocalServer
from .activity import Clock, UserRef
from .model import User, Workspace
from .server import AltiumSandbox

SCOPES = (
    "openid",
    "profile",
    "email",
    "design.domain",
    "user.access",
    "offline_access",
    "supply.domain",
)
"""The scopes the identity server knows; any other is ``invalid_scope``."""

DESIGN_SCOPE = "design.domain"
SUPPLY_SCOPE = "supply.domain"
APP_SCOPES = (SUPPLY_SCOPE,)
"""The scopes a client-credentials token may carry."""
OFFLINE_SCOPE = "offline_access"
CODE_LIFETIME = timedelta(minutes=5)
ID_TOKEN_LIFETIME = timedelta(minutes=5)
REDACTED = "[redacted]"
SECRET_PARAMETERS = frozenset(
    {"client_secret", "code", "code_verifier", "refresh_token", "access_token", "id_token"}
)
"""Request parameters the request log never shows."""

BURST_LIMIT = 2
"""Token requests per client per second (``monotonic``)."""
CLOCK_LIMITS: tuple[tuple[int, timedelta], ...] = (
    (200, timedelta(minutes=15)),
    (3000, timedelta(hours=12)),
    (40000, timedelta(days=7)),
)
"""Token requests per client per window (sandbox clock)."""

_JSON = "application/json; charset=utf-8"
_HTML = "text/html; charset=utf-8"
_PKCE_VALUE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_DEFAULT_REDIRECTS = ("http://localhost:0/login", "http://127.0.0.1:0/login")


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """A registered application: its credentials, redirect URIs and what it may ask for."""

    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    allow_offline_access: bool = True
    allow_design: bool = True
    allow_supply: bool = True

    def accepts_redirect(self, uri: str) -> bool:
        """Whether ``uri`` matches a registered redirect URI (port 0 there means any port)."""
        return any(_redirect_matches(registered, uri) for registered in self.redirect_uris)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """An access token the token endpoint handed out (``user`` None: an app's own token)."""

    access_token: str
    client_id: str
    user: User | None
    scopes: tuple[str, ...]
    grant_type: str
    issued_at: datetime
    expires_at: datetime
    refresh_token: str | None = None


@dataclass(frozen=True, slots=True)
class RefreshGrant:
    """A refresh token and the sign-in it continues."""

    token: str
    client_id: str
    user: User
    scopes: tuple[str, ...]
    workspaces: tuple[str, ...] | None
    issued_at: datetime
    expires_at: datetime
    revoked: bool = False

    def usable(self, now: datetime) -> bool:
        """Whether the token can still be exchanged at ``now``."""
        return not self.revoked and now < self.expires_at


@dataclass(frozen=True, slots=True)
class IdentityRequest:
    """One request the identity server answered; secret parameters show as ``[redacted]``."""

    method: str
    path: str
    status: int
    at: datetime
    client_id: str | None = None
    grant_type: str | None = None
    error: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _Code:
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    user: User
    workspaces: tuple[str, ...] | None
    challenge: str
    nonce: str | None
    session_id: str
    expires_at: datetime


@dataclass(slots=True)
class _Failure:
    status: int
    remaining: int | None
    retry_after: int | None


@dataclass(slots=True)
class _Answer:
    status: int
    body: bytes = b""
    content_type: str = _JSON
    headers: dict[str, str] = field(default_factory=dict)
    client_id: str | None = None
    grant_type: str | None = None
    error: str | None = None


class _Refused(Exception):
    """A token request refused with an OAuth error answer."""

    def __init__(
        self, status: int, error: str, description: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.headers = dict(headers or {})


def _redirect_matches(registered: str, given: str) -> bool:
    try:
        want = urlsplit(registered)
        got = urlsplit(given)
        want_port, got_port = want.port, got.port
    except ValueError:
        return False
    if got.fragment or not got.hostname or want.hostname is None:
        return False
    defaults = {"http": 80, "https": 443}
    if want_port != 0 and (want_port or defaults.get(want.scheme)) != (
        got_port or defaults.get(got.scheme)
    ):
        return False
    return (
        want.scheme.lower() == got.scheme.lower()
        and want.hostname.lower() == got.hostname.lower()
        and (want.path or "/") == (got.path or "/")
        and want.query == got.query
    )


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of ``verifier``: base64url(sha256(verifier)), unpadded."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def _jwt(claims: Mapping[str, Any], typ: str = "at+jwt") -> str:
    def part(value: Mapping[str, Any]) -> str:
        return _b64url(json.dumps(value, separators=(",", ":")).encode())

    header = {"alg": "RS256", "kid": "sandbox", "typ": typ}
    return f"{part(header)}.{part(claims)}.{_b64url(secrets.token_bytes(64))}"


def _single(query: str) -> tuple[dict[str, str], list[str]]:
    """Parameters of a query or form string, and the names given more than once."""
    parsed = parse_qs(query, keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}, [
        name for name, values in parsed.items() if len(values) > 1
    ]


def _redacted(params: Mapping[str, str]) -> dict[str, str]:
    return {
        name: REDACTED if name in SECRET_PARAMETERS else value for name, value in params.items()
    }


def _json(status: int, payload: Any, **headers: str) -> _Answer:
    return _Answer(status, json.dumps(payload).encode(), _JSON, dict(headers))


def _page(status: int, error: str, title: str, message: str) -> _Answer:
    body = (
        f"<!DOCTYPE html><html><head><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )
    return _Answer(status, body.encode(), _HTML, error=error)


class IdentitySandbox(LocalServer):
    """A local identity.nexar.com issuing tokens the ``AltiumSandbox`` accepts.

    ``with IdentitySandbox(altium) as idp:`` listens on a free 127.0.0.1 port. One client is
    registered (``client_id`` / ``client_secret``, redirects to ``http://localhost:<any
    port>/login`` and ``http://127.0.0.1:<any port>/login``) and the altium sandbox's default
    owner is signed in (``login_as`` changes who). ``clock`` defaults to the altium sandbox's,
    so code, token and refresh-token lifetimes and GraphQL expiry agree. ``monotonic`` times
    the per-second rate limit.
    """

    _server_name = "identity sandbox"

    def __init__(
        self,
        altium: AltiumSandbox,
        *,
        clock: Clock | None = None,
        access_lifetime: timedelta = timedelta(hours=24),
        refresh_lifetime: timedelta = timedelta(days=30),
        rotate_refresh_tokens: bool = False,
        enforce_rate_limits: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.altium = altium
        self._clock: Clock = clock or altium.now
        self.access_lifetime = access_lifetime
        self.refresh_lifetime = refresh_lifetime
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.enforce_rate_limits = enforce_rate_limits
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._clients: dict[str, OAuthClient] = {}
        self._user: User = altium.workspace().owner
        self._workspaces: tuple[str, ...] | None = None
        self._deny = 0
        self._codes: dict[str, _Code] = {}
        self._used_codes: set[str] = set()
        self._refresh: dict[str, RefreshGrant] = {}
        self._issued: list[IssuedToken] = []
        self._log: list[IdentityRequest] = []
        self._token_requests = 0
        self._failures: list[_Failure] = []
        self._burst: dict[str, deque[float]] = {}
        self._recent: dict[str, list[datetime]] = {}
        self._client_id = "review-bot-test"
        self._client_secret = secrets.token_urlsafe(24)
        self.register_client(self._client_id, self._client_secret, redirect_uris=_DEFAULT_REDIRECTS)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server (also the token issuer)."""
        return super().base_url

    @property
    def authorize_url(self) -> str:
        """The authorization endpoint (``https://identity.nexar.com/connect/authorize``)."""
        return f"{self.base_url}/connect/authorize"

    @property
    def token_url(self) -> str:
        """The token endpoint (``https://identity.nexar.com/connect/token``)."""
        return f"{self.base_url}/connect/token"

    @property
    def discovery_url(self) -> str:
        """The OpenID Connect discovery document."""
        return f"{self.base_url}/.well-known/openid-configuration"

    @property
    def client_id(self) -> str:
        """The pre-registered client's id."""
        return self._client_id

    @property
    def client_secret(self) -> str:
        """The pre-registered client's secret (random per sandbox)."""
        return self._client_secret

    @property
    def redirect_uri(self) -> str:
        """A redirect URI the pre-registered client accepts (the Nexar samples' one)."""
        return "http://localhost:3000/login"

    def register_client(
        self,
        client_id: str,
        client_secret: str,
        *,
        redirect_uris: Sequence[str] = ("http://localhost:3000/login",),
        allow_offline_access: bool = True,
        allow_design: bool = True,
        allow_supply: bool = True,
    ) -> None:
        """Register (or replace) an application.

        Port 0 in a redirect URI accepts any port. Without ``allow_offline_access``, asking
        for ``offline_access`` gets ``invalid_scope``; without ``allow_design``, so does
        asking for ``design.domain``, and without ``allow_supply`` for ``supply.domain``.
        """
        client = OAuthClient(
            client_id,
            client_secret,
            tuple(redirect_uris),
            allow_offline_access,
            allow_design,
            allow_supply,
        )
        with self._lock:
            self._clients[client_id] = client

    def client(self, client_id: str) -> OAuthClient:
        """A registered client by id."""
        with self._lock:
            return self._clients[client_id]

    @property
    def user(self) -> User:
        """Who is signed in at the authorization endpoint."""
        with self._lock:
            return self._user

    def login_as(
        self, user: UserRef, *, workspaces: Sequence[Workspace | str] | None = None
    ) -> User:
        """Sign ``user`` (userName, email or id) in for the next authorizations.

        With ``workspaces``, their tokens are limited to those (as when the user picks one
        workspace at sign-in); otherwise they name and see every workspace of the tenant (the
        altium sandbox's tenant is what one account sees).
        """
        found = self.altium.user(user)
        chosen = (
            tuple(self.altium.workspace(item).url for item in workspaces)
            if workspaces is not None
            else None
        )
        with self._lock:
            self._user = found
            self._workspaces = chosen
        return found

    def deny_consent(self, times: int = 1) -> None:
        """Make the user refuse consent at the next ``times`` valid authorizations."""
        with self._lock:
            self._deny = times

    def http_error(
        self, status: int = 503, times: int | None = 1, retry_after: int | None = None
    ) -> None:
        """Answer the next ``times`` token requests (``None``: all) with HTTP ``status``."""
        with self._lock:
            self._failures.append(_Failure(status, times, retry_after))

    def clear_faults(self) -> None:
        """Disarm ``http_error`` and ``deny_consent``."""
        with self._lock:
            self._failures.clear()
            self._deny = 0

    def revoke_refresh_token(self, token: str) -> None:
        """Make ``token`` answer ``invalid_grant`` from now on."""
        with self._lock:
            grant = self._refresh.get(token)
            if grant is not None:
                self._refresh[token] = replace(grant, revoked=True)

    def revoke_all(self) -> None:
        """Revoke every refresh token, pending code and access token (the user removed the app).

        Revoked access tokens get ``AuthInvalidToken`` from the GraphQL stand-in.
        """
        with self._lock:
            for token, grant in self._refresh.items():
                self._refresh[token] = replace(grant, revoked=True)
            self._codes.clear()
            issued = [item.access_token for item in self._issued]
        for access_token in issued:
            self.altium.revoke_token(access_token)

    @property
    def issued_tokens(self) -> list[IssuedToken]:
        """Every access token issued, oldest first."""
        with self._lock:
            return list(self._issued)

    @property
    def refresh_tokens(self) -> dict[str, RefreshGrant]:
        """Every refresh token issued (revoked ones too), by token."""
        with self._lock:
            return dict(self._refresh)

    @property
    def requests(self) -> list[IdentityRequest]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._log)

    @property
    def token_requests(self) -> int:
        """How many requests reached the token endpoint (refused ones included)."""
        with self._lock:
            return self._token_requests

    def reset_requests(self) -> None:
        """Empty the request log and the token request count (rate limits keep counting)."""
        with self._lock:
            self._log.clear()
            self._token_requests = 0

    def _handle(self, handler: LocalHandler) -> None:
        split = urlsplit(handler.path)
        body = handler.read_body()
        params: dict[str, str] = {}
        if split.path == "/connect/authorize":
            params, duplicates = _single(split.query)
            answer = self._authorize(handler.command, params, duplicates)
        elif split.path == "/connect/token":
            with self._lock:
                self._token_requests += 1
            answer, params = self._token(handler, body)
        elif split.path == "/.well-known/openid-configuration" and handler.command == "GET":
            answer = _json(200, self._discovery())
        else:
            answer = _json(404, {"error": "not_found"})
        record = IdentityRequest(
            method=handler.command,
            path=split.path,
            status=answer.status,
            at=self._clock(),
            client_id=answer.client_id,
            grant_type=answer.grant_type,
            error=answer.error,
            params=_redacted(params),
        )
        with self._lock:
            self._log.append(record)
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache", **answer.headers}
        handler.reply(answer.status, answer.body, answer.content_type, headers)

    def _discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.base_url,
            "authorization_endpoint": self.authorize_url,
            "token_endpoint": self.token_url,
            "scopes_supported": list(SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "authorization_response_iss_parameter_supported": True,
        }

    def _authorize(self, method: str, params: dict[str, str], duplicates: list[str]) -> _Answer:
        if method != "GET":
            return _page(
                405,
                "invalid_request",
                "Method not allowed",
                "The authorization endpoint takes GET.",
            )
        client_id = params.get("client_id", "")
        with self._lock:
            client = self._clients.get(client_id)
        if client is None:
            return _page(
                400, "invalid_client", "Unknown client", "The client_id is not registered."
            )
        redirect_uri = params.get("redirect_uri", "")
        if "redirect_uri" in duplicates or not client.accepts_redirect(redirect_uri):
            answer = _page(
                400,
                "invalid_request",
                "Invalid redirect_uri",
                "The redirect_uri is not registered.",
            )
            answer.client_id = client_id
            return answer
        state = params.get("state")

        def redirect(values: Mapping[str, str | None], error: str | None = None) -> _Answer:
            query = {
                **{name: value for name, value in values.items() if value is not None},
                **({"state": state} if state is not None else {}),
                "iss": self.base_url,
            }
            separator = "&" if urlsplit(redirect_uri).query else "?"
            location = redirect_uri + separator + urlencode(query, quote_via=quote)
            return _Answer(302, b"", _HTML, {"Location": location}, client_id, error=error)

        def refuse(error: str, description: str) -> _Answer:
            return redirect({"error": error, "error_description": description}, error)

        if duplicates:
            return refuse("invalid_request", f"Duplicate parameters: {', '.join(duplicates)}.")
        if params.get("response_type") != "code":
            return refuse("invalid_request", "response_type must be code.")
        if params.get("code_challenge_method") != "S256":
            return refuse("invalid_request", "code_challenge_method must be S256.")
        challenge = params.get("code_challenge", "")
        if not _PKCE_VALUE.fullmatch(challenge):
            return refuse(
                "invalid_request", "A code_challenge of 43 to 128 characters is required."
            )
        scopes = tuple(dict.fromkeys(params.get("scope", "").split()))
        if not scopes:
            return refuse("invalid_request", "scope is required.")
        unknown = [scope for scope in scopes if scope not in SCOPES]
        if unknown:
            return refuse("invalid_scope", f"Unknown scope: {' '.join(unknown)}.")
        if OFFLINE_SCOPE in scopes and not client.allow_offline_access:
            return refuse("invalid_scope", "The client is not allowed offline_access.")
        if DESIGN_SCOPE in scopes and not client.allow_design:
            return refuse("invalid_scope", "The client is not allowed design.domain.")
        if SUPPLY_SCOPE in scopes and not client.allow_supply:
            return refuse("invalid_scope", "The client is not allowed supply.domain.")
        with self._lock:
            denied = self._deny > 0
            if denied:
                self._deny -= 1
            user, workspaces = self._user, self._workspaces
        if denied:
            return refuse("access_denied", "The user denied the request.")
        code = secrets.token_hex(32).upper()
        session_id = secrets.token_hex(16).upper()
        grant = _Code(
            client_id=client_id,
            redirect_uri=redirect_uri,
            scopes=scopes,
            user=user,
            workspaces=workspaces,
            challenge=challenge,
            nonce=params.get("nonce"),
            session_id=session_id,
            expires_at=self._clock() + CODE_LIFETIME,
        )
        with self._lock:
            self._codes[code] = grant
        session_state = f"{_b64url(secrets.token_bytes(32))}.{secrets.token_hex(16)}"
        return redirect({"code": code, "scope": " ".join(scopes), "session_state": session_state})

    def _token(self, handler: LocalHandler, body: bytes) -> tuple[_Answer, dict[str, str]]:
        params: dict[str, str] = {}
        client_id: str | None = None
        grant_type: str | None = None
        try:
            if handler.command != "POST":
                raise _Refused(405, "invalid_request", "Use POST.", {"Allow": "POST"})
            content_type = handler.headers.get("Content-Type") or ""
            if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
                raise _Refused(400, "invalid_request", "Send the form url-encoded.")
            try:
                params, duplicates = _single(body.decode("utf-8"))
            except UnicodeDecodeError:
                raise _Refused(400, "invalid_request", "The form is not UTF-8.") from None
            grant_type = params.get("grant_type")
            client_id, secret = self._credentials(handler.headers.get("Authorization"), params)
            self._admit(client_id)
            if duplicates:
                raise _Refused(400, "invalid_request", f"Duplicate: {', '.join(duplicates)}.")
            client = self._authenticate(client_id, secret, handler.headers.get("Authorization"))
            if not grant_type:
                raise _Refused(400, "invalid_request", "grant_type is required.")
            if grant_type == "authorization_code":
                payload = self._exchange_code(client, params)
            elif grant_type == "refresh_token":
                payload = self._exchange_refresh(client, params)
            elif grant_type == "client_credentials":
                payload = self._client_credentials(client, params)
            else:
                raise _Refused(400, "unsupported_grant_type", f"{grant_type} is not supported.")
        except _Refused as refused:
            if refused.error == "http_error":
                answer = _Answer(
                    refused.status,
                    refused.description.encode(),
                    "text/plain; charset=utf-8",
                    refused.headers,
                )
            else:
                content = {"error": refused.error, "error_description": refused.description}
                answer = _json(refused.status, content, **refused.headers)
            answer.error = refused.error
        else:
            answer = _json(200, payload)
        answer.client_id = client_id
        answer.grant_type = grant_type
        return answer, params

    def _credentials(
        self, authorization: str | None, params: Mapping[str, str]
    ) -> tuple[str | None, str | None]:
        form_id, form_secret = params.get("client_id"), params.get("client_secret")
        if not authorization:
            return form_id, form_secret
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "basic":
            return form_id, form_secret
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except ValueError:
            raise _Refused(401, "invalid_client", "Malformed Basic credentials.") from None
        raw_id, colon, raw_secret = decoded.partition(":")
        if not colon:
            raise _Refused(401, "invalid_client", "Malformed Basic credentials.")
        basic_id, basic_secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        if form_secret is not None:
            raise _Refused(400, "invalid_request", "Use one client authentication method.")
        if form_id is not None and form_id != basic_id:
            raise _Refused(401, "invalid_client", "client_id differs from the Basic credentials.")
        return basic_id, basic_secret

    def _authenticate(
        self, client_id: str | None, secret: str | None, authorization: str | None
    ) -> OAuthClient:
        with self._lock:
            client = self._clients.get(client_id or "")
        if (
            client is None
            or secret is None
            or not hmac.compare_digest(secret.encode(), client.client_secret.encode())
        ):
            basic = (authorization or "").strip().lower().startswith("basic ")
            headers = {"WWW-Authenticate": 'Basic realm="identity"'} if basic else {}
            raise _Refused(401, "invalid_client", "Unknown client or wrong secret.", headers)
        return client

    def _admit(self, client_id: str | None) -> None:
        """Raise the armed HTTP failure or a 429; otherwise count the request."""
        with self._lock:
            for failure in self._failures:
                if failure.remaining is not None:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        self._failures.remove(failure)
                headers = (
                    {} if failure.retry_after is None else {"Retry-After": str(failure.retry_after)}
                )
                raise _Refused(failure.status, "http_error", f"HTTP {failure.status}", headers)
            if not self.enforce_rate_limits:
                return
            key = client_id or ""
            moment, now = self._monotonic(), self._clock()
            burst = self._burst.setdefault(key, deque())
            while burst and moment - burst[0] >= 1.0:
                burst.popleft()
            recent = self._recent.setdefault(key, [])
            del recent[: bisect.bisect_right(recent, now - CLOCK_LIMITS[-1][1])]
            waits: list[float] = []
            if len(burst) >= BURST_LIMIT:
                waits.append(1.0 - (moment - burst[-BURST_LIMIT]))
            for limit, window in CLOCK_LIMITS:
                inside = len(recent) - bisect.bisect_right(recent, now - window)
                if inside >= limit:
                    waits.append((recent[-limit] + window - now).total_seconds())
            if waits:
                retry = str(max(1, math.ceil(max(waits))))
                raise _Refused(
                    429, "rate_limited", "Too many token requests.", {"Retry-After": retry}
                )
            burst.append(moment)
            bisect.insort(recent, now)

    def _exchange_code(self, client: OAuthClient, params: Mapping[str, str]) -> dict[str, Any]:
        code, redirect_uri = params.get("code"), params.get("redirect_uri")
        if not code:
            raise _Refused(400, "invalid_request", "code is required.")
        if not redirect_uri:
            raise _Refused(400, "invalid_request", "redirect_uri is required.")
        digest = hashlib.sha256(code.encode()).hexdigest()
        with self._lock:
            grant = self._codes.get(code)
            if grant is None or grant.client_id != client.client_id:
                used = digest in self._used_codes
                description = "The code was already used." if used else "Invalid code."
                raise _Refused(400, "invalid_grant", description)
            del self._codes[code]
            self._used_codes.add(digest)
        if self._clock() >= grant.expires_at:
            raise _Refused(400, "invalid_grant", "The code has expired.")
        if redirect_uri != grant.redirect_uri:
            raise _Refused(400, "invalid_grant", "redirect_uri differs from the authorization.")
        verifier = params.get("code_verifier") or ""
        if not _PKCE_VALUE.fullmatch(verifier) or not hmac.compare_digest(
            s256(verifier), grant.challenge
        ):
            raise _Refused(400, "invalid_grant", "PKCE verification failed.")
        refresh: RefreshGrant | None = None
        if OFFLINE_SCOPE in grant.scopes:
            now = self._clock()
            refresh = RefreshGrant(
                token=secrets.token_hex(32).upper(),
                client_id=client.client_id,
                user=grant.user,
                scopes=grant.scopes,
                workspaces=grant.workspaces,
                issued_at=now,
                expires_at=now + self.refresh_lifetime,
            )
            with self._lock:
                self._refresh[refresh.token] = refresh
        return self._issue(
            client,
            grant.user,
            grant.scopes,
            grant.workspaces,
            "authorization_code",
            refresh.token if refresh else None,
            nonce=grant.nonce,
            session_id=grant.session_id,
        )

    def _exchange_refresh(self, client: OAuthClient, params: Mapping[str, str]) -> dict[str, Any]:
        token = params.get("refresh_token")
        if not token:
            raise _Refused(400, "invalid_request", "refresh_token is required.")
        now = self._clock()
        with self._lock:
            grant = self._refresh.get(token)
            if grant is None or grant.client_id != client.client_id:
                raise _Refused(400, "invalid_grant", "Invalid refresh token.")
            if grant.revoked:
                raise _Refused(400, "invalid_grant", "The refresh token was revoked.")
            if now >= grant.expires_at:
                raise _Refused(400, "invalid_grant", "The refresh token has expired.")
            scopes = grant.scopes
            if params.get("scope"):
                scopes = tuple(dict.fromkeys(params["scope"].split()))
                extra = [scope for scope in scopes if scope not in grant.scopes]
                if extra:
                    message = f"Not granted at sign-in: {' '.join(extra)}."
                    raise _Refused(400, "invalid_scope", message)
            answered: str | None = None
            if self.rotate_refresh_tokens:
                self._refresh[token] = replace(grant, revoked=True)
                answered = secrets.token_hex(32).upper()
                self._refresh[answered] = replace(grant, token=answered, issued_at=now)
        return self._issue(
            client,
            grant.user,
            scopes,
            grant.workspaces,
            "refresh_token",
            answered,
            nonce=None,
            session_id=None,
        )

    def _client_credentials(
        self, client: OAuthClient, params: Mapping[str, str]
    ) -> dict[str, Any]:
        """An app's own supply token: design and user scopes are refused."""
        scopes = tuple(dict.fromkeys((params.get("scope") or SUPPLY_SCOPE).split()))
        refused = [scope for scope in scopes if scope not in APP_SCOPES]
        if refused:
            message = f"Not allowed with client credentials: {' '.join(refused)}."
            raise _Refused(400, "invalid_scope", message)
        if not client.allow_supply:
            raise _Refused(400, "invalid_scope", "The client is not allowed supply.domain.")
        now = self._clock()
        issued = int(now.timestamp())
        lifetime = int(self.access_lifetime.total_seconds())
        expires_at = datetime.fromtimestamp(issued + lifetime, UTC)
        claims = {
            "iss": self.base_url,
            "nbf": issued,
            "iat": issued,
            "exp": issued + lifetime,
            "aud": "https://api.nexar.com",
            "client_id": client.client_id,
            "scope": list(scopes),
            "jti": uuid.uuid4().hex.upper(),
        }
        access_token = _jwt(claims)
        self.altium.add_app_token(access_token, scopes=scopes, expires_at=expires_at)
        record = IssuedToken(
            access_token, client.client_id, None, scopes, "client_credentials", now, expires_at
        )
        with self._lock:
            self._issued.append(record)
        return {
            "access_token": access_token,
            "expires_in": lifetime,
            "token_type": "Bearer",
            "scope": " ".join(scopes),
        }

    def _issue(
        self,
        client: OAuthClient,
        user: User,
        scopes: tuple[str, ...],
        workspaces: tuple[str, ...] | None,
        grant_type: str,
        refresh_token: str | None,
        *,
        nonce: str | None,
        session_id: str | None,
    ) -> dict[str, Any]:
        """Mint an access token (and id token), register it with the altium sandbox."""
        now = self._clock()
        issued = int(now.timestamp())
        lifetime = int(self.access_lifetime.total_seconds())
        expires_at = datetime.fromtimestamp(issued + lifetime, UTC)
        auth_ids = [item.auth_id for item in self._token_workspaces(workspaces)]
        common = {
            "iss": self.base_url,
            "nbf": issued,
            "iat": issued,
            "sub": user.user_id,
            "auth_time": issued,
            "idp": "local",
            "amr": ["pwd"],
            **({"sid": session_id} if session_id else {}),
        }
        claims = {
            **common,
            "exp": issued + lifetime,
            "aud": "https://api.nexar.com",
            "client_id": client.client_id,
            "email": user.email,
            "scope": [*scopes, *(f"a365:workspace:{auth_id}" for auth_id in auth_ids)],
            "jti": uuid.uuid4().hex.upper(),
        }
        access_token = _jwt(claims)
        self.altium.add_token(
            access_token, user=user, workspaces=workspaces, expires_at=expires_at, scopes=scopes
        )
        payload: dict[str, Any] = {}
        if "openid" in scopes:
            identity = {
                **common,
                "aud": client.client_id,
                "exp": issued + int(ID_TOKEN_LIFETIME.total_seconds()),
                **({"nonce": nonce} if nonce else {}),
            }
            payload["id_token"] = _jwt(identity, "JWT")
        payload.update(
            access_token=access_token,
            expires_in=lifetime,
            token_type="Bearer",
            scope=" ".join(scopes),
        )
        if refresh_token is not None:
            payload["refresh_token"] = refresh_token
        record = IssuedToken(
            access_token, client.client_id, user, scopes, grant_type, now, expires_at, refresh_token
        )
        with self._lock:
            self._issued.append(record)
        return payload

    def _token_workspaces(self, workspaces: Iterable[str] | None) -> list[Workspace]:
        """The workspaces a token names: the sign-in's choice, else all the tenant has."""
        if workspaces is not None:
            return [self.altium.workspace(url) for url in workspaces]
        return list(self.altium.tenant.workspaces)


__all__ = [
    "IdentityRequest",
    "IdentitySandbox",
    "IssuedToken",
    "OAuthClient",
    "RefreshGrant",
    "s256",
]
