"""Whether the bot may ask Nexar for supply data, and with which token.

Supply checks are on when the bot's own token (``NEXAR_TOKEN`` or the stored sign-in) carries
``supply.domain``, or else when the Nexar app's client id and secret get a supply token by
client credentials (Nexar allows those for supply data only). ``REVIEW_BOT_SUPPLY=off``
turns them off. Whatever fails on the way makes supply checks off for now, with the reason
in one line: a poll never fails for want of supply data.

The client-credentials token is kept in memory and in the database (``meta``) until shortly
before it expires, so processes started one after another (cron) share it instead of asking
the identity server each time; a refusal is kept for an hour (``ASK_AGAIN_AFTER``), so an
app without supply access is not asked again at every poll.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from jobs.auth import (
    DatabaseTokenStore,
    OAuthSettings,
    RateLimit,
    TokenManager,
    Tokens,
    jwt_claims,
)
from jobs.errors import NexarRefusedError
from jobs.nexar import DEFAULT_API_URL, NexarClient, TokenSource
from state.clock import Clock, parse_stamp, stamp, utc_now
from state.errors import ConfigError, ReviewBotError
from state.store import Store

log = logging.getLogger(__name__)

SUPPLY_SCOPE = "supply.domain"
SUPPLY_TOKENS_KEY = "nexar_supply_tokens"
"""The ``meta`` row that keeps the client-credentials token."""
REFUSED_KEY = "nexar_supply_refused"
"""The ``meta`` row that keeps the identity server's last refusal of a supply token."""
ASK_AGAIN_AFTER = timedelta(hours=1)
"""How long an app refused a supply token is not asked again (polls come every few minutes)."""
TURNED_OFF = "turned off by REVIEW_BOT_SUPPLY=off"
NO_ACCESS = ("no supply access: sign in with 'review-bot auth login --supply' or set "
             "NEXAR_CLIENT_ID/SECRET")


@dataclass(frozen=True)
class SupplyAccess:
    """Whether supply checks are on, why (one line), and the token to make them with."""

    on: bool
    why: str
    tokens: str | TokenSource | None = field(default=None, repr=False)
    api_url: str = DEFAULT_API_URL

    def describe(self) -> str:
        """The line ``auth status`` and ``/review status`` show."""
        return f"Supply data is {'on' if self.on else 'off'}: {self.why}."

    def client(self, **options: Any) -> NexarClient:
        """A Nexar client for supply reads (``NexarClient.supply_match``); ``options`` go to
        the client. Raises ``ConfigError`` when supply checks are off."""
        if not self.on or self.tokens is None:
            raise ConfigError(f"supply data is off: {self.why}")
        return NexarClient(token=self.tokens, api_url=self.api_url, **options)


def carries_supply(token: str, granted: str = "") -> bool:
    """Whether an access token's JWT ``scope`` claim (a list, or a space-separated string),
    or the scopes granted with it, include ``supply.domain``."""
    claim = jwt_claims(token).get("scope")
    scopes = claim.split() if isinstance(claim, str) else claim if isinstance(claim, list) else []
    return SUPPLY_SCOPE in scopes or SUPPLY_SCOPE in granted.split()


class ClientCredentials(TokenManager):
    """A supply-only token got with the app's client id and secret, renewed shortly before
    it expires (or when Nexar says it expired); there is no refresh token, the grant is
    simply made again. The identity server's rate limits are obeyed (``RateLimit``)."""

    def current(self) -> Tokens:
        tokens = self._tokens or self._kept()
        if tokens is None:
            self.refresh("")
            assert self._tokens is not None
            return self._tokens
        self._tokens = tokens
        return tokens

    def refresh(self, stale: str) -> str:
        """A new token, unless another process or thread got one since ``stale``."""
        with self._lock:
            kept = self._kept()
            if (kept is not None and kept.access_token != stale
                    and kept.expires() - self.clock() > self.margin):
                self._tokens = kept
                return kept.access_token
            fresh = self._request("client_credentials", scope=SUPPLY_SCOPE)
            self.store.save(fresh)
            self._tokens = fresh
            log.info("Nexar supply token issued; valid until %s", fresh.expires_at)
            return fresh.access_token

    def _kept(self) -> Tokens | None:
        """The stored token when it is this app's supply token. One that cannot be read is
        replaced; where the store refuses to keep one, saving the new one says why."""
        try:
            tokens = self.store.load()
        except ConfigError:
            return None
        if tokens is None or not carries_supply(tokens.access_token, tokens.scope):
            return None
        issued_to = jwt_claims(tokens.access_token).get("client_id")
        if issued_to is not None and issued_to != self.settings.client_id:
            return None
        return tokens


def supply_access(
    *,
    enabled: bool = True,
    signed_in: str | TokenManager | None = None,
    oauth: OAuthSettings | None = None,
    db_path: str | None = None,
    api_url: str = DEFAULT_API_URL,
    http: httpx.Client | None = None,
    clock: Clock = utc_now,
    limit: RateLimit | None = None,
) -> SupplyAccess:
    """Decide whether supply checks are on, and with which token; never raises.

    ``signed_in`` is the bot's Nexar token: the fixed ``NEXAR_TOKEN`` or the stored sign-in
    (only read, never refreshed here). Without ``supply.domain`` there, ``oauth`` (the app's
    client id and secret) gets a client-credentials token, kept in the database at
    ``db_path``; a process that calls this often should share one ``limit``.
    """
    if not enabled:
        return SupplyAccess(on=False, why=TURNED_OFF, api_url=api_url)
    if isinstance(signed_in, str):
        if carries_supply(signed_in):
            return SupplyAccess(on=True, why="NEXAR_TOKEN carries supply.domain",
                                tokens=signed_in, api_url=api_url)
    elif signed_in is not None and _signed_in_with_supply(signed_in):
        return SupplyAccess(on=True, why="the Nexar sign-in carries supply.domain",
                            tokens=signed_in, api_url=api_url)
    if oauth is None or db_path is None:
        return SupplyAccess(on=False, why=NO_ACCESS, api_url=api_url)
    refused = _refused(db_path, oauth.client_id, clock())
    if refused is not None:
        return SupplyAccess(on=False, why=refused, api_url=api_url)
    source = ClientCredentials(settings=oauth, store=DatabaseTokenStore(
        db_path, key=SUPPLY_TOKENS_KEY), http=http, clock=clock, limit=limit)
    try:
        source.token()
        expires = source.current().expires_at
    except NexarRefusedError as error:
        # Asking again at every poll would not change a refusal.
        log.info("no Nexar supply token: %s", error)
        return SupplyAccess(on=False, why=_remember_refusal(db_path, oauth.client_id,
                                                            clock(), str(error)),
                            api_url=api_url)
    except ReviewBotError as error:
        log.info("no Nexar supply token: %s", error)
        return SupplyAccess(on=False, why=f"no supply token from NEXAR_CLIENT_ID/SECRET for "
                                          f"now: {error}", api_url=api_url)
    return SupplyAccess(on=True, why=f"a client-credentials token of NEXAR_CLIENT_ID "
                                     f"(valid until {expires})", tokens=source, api_url=api_url)


def _refused(db_path: str, client_id: str, now: datetime) -> str | None:
    """Why the identity server refused this app a supply token, while that is recent."""
    try:
        with Store.open(db_path) as store:
            kept = store.get_meta(REFUSED_KEY)
    except ReviewBotError:
        return None
    if not kept:
        return None
    data = json.loads(kept)
    if data.get("client_id") != client_id:
        return None
    again = parse_stamp(str(data["at"])) + ASK_AGAIN_AFTER
    if now >= again:
        return None
    return _asked_again(data["why"], again)


def _remember_refusal(db_path: str, client_id: str, now: datetime, why: str) -> str:
    """Keep a refusal so the next hour's polls do not ask again; the line to show."""
    text = f"no supply token from NEXAR_CLIENT_ID/SECRET: {why}"
    try:
        with Store.open(db_path) as store:
            store.set_meta(REFUSED_KEY, json.dumps(
                {"client_id": client_id, "at": stamp(now), "why": text}))
    except ReviewBotError as error:
        log.info("could not keep the supply token refusal: %s", error)
    return _asked_again(text, now + ASK_AGAIN_AFTER)


def _asked_again(why: str, at: datetime) -> str:
    return f"{why} (asked again after {stamp(at)[:16].replace('T', ' ')} UTC)"


def _signed_in_with_supply(manager: TokenManager) -> bool:
    """Whether the stored sign-in carries ``supply.domain`` (read without any request)."""
    try:
        tokens = manager.current()
    except ReviewBotError:
        return False
    return carries_supply(tokens.access_token, tokens.scope)
