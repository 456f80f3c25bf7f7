"""Settings from the environment (and a ``.env`` file), checked once at start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.cadence import resolve_timezone
from jobs.auth import (
    DEFAULT_IDENTITY_URL,
    DEFAULT_REDIRECT_URI,
    DatabaseTokenStore,
    FileTokenStore,
    OAuthSettings,
    TokenStore,
)
from jobs.nexar import DEFAULT_API_URL
from state.errors import ConfigError
from state.supply import Thresholds


@dataclass(frozen=True)
class Config:
    """Everything the CLI needs; secrets stay out of ``repr`` so they never reach a log."""

    nexar_api_url: str = DEFAULT_API_URL
    nexar_token: str | None = field(default=None, repr=False)
    nexar_workspace_url: str | None = None
    db_path: str = "./review-bot.db"
    poll_interval: float = 300.0
    slack_api_url: str = "https://slack.com/api/"
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    port: int = 3000
    post_interval: float = 1.0
    nexar_client_id: str | None = None
    nexar_client_secret: str | None = field(default=None, repr=False)
    nexar_identity_url: str = DEFAULT_IDENTITY_URL
    nexar_redirect_uri: str = DEFAULT_REDIRECT_URI
    token_store: str = ""
    ops_channel: str | None = None
    admins: frozenset[str] = frozenset()
    digest_tz: str = "UTC"
    shared_projects: frozenset[str] | None = None
    supply: bool = True
    """Supply checks when Nexar access allows them; ``REVIEW_BOT_SUPPLY=off`` turns them off."""
    supply_stock_factor: int = 100
    """A new part with stock below its BOM quantity times this is a supply risk."""
    supply_max_lead_weeks: float = 12.0
    """A new part whose factory lead time is longer than this is a supply risk."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        return cls(
            nexar_api_url=env.get("NEXAR_API_URL") or DEFAULT_API_URL,
            nexar_token=(env.get("NEXAR_TOKEN") or "").strip() or None,
            nexar_workspace_url=env.get("NEXAR_WORKSPACE_URL") or None,
            db_path=env.get("REVIEW_BOT_DB") or "./review-bot.db",
            poll_interval=_seconds(env.get("REVIEW_BOT_POLL_INTERVAL"), 300.0,
                                   "REVIEW_BOT_POLL_INTERVAL"),
            slack_api_url=env.get("SLACK_API_URL") or "https://slack.com/api/",
            slack_bot_token=(env.get("SLACK_BOT_TOKEN") or "").strip() or None,
            slack_app_token=(env.get("SLACK_APP_TOKEN") or "").strip() or None,
            slack_signing_secret=(env.get("SLACK_SIGNING_SECRET") or "").strip() or None,
            port=_port(env.get("PORT")),
            post_interval=_interval(env.get("REVIEW_BOT_POST_INTERVAL")),
            nexar_client_id=(env.get("NEXAR_CLIENT_ID") or "").strip() or None,
            nexar_client_secret=(env.get("NEXAR_CLIENT_SECRET") or "").strip() or None,
            nexar_identity_url=env.get("NEXAR_IDENTITY_URL") or DEFAULT_IDENTITY_URL,
            nexar_redirect_uri=env.get("NEXAR_REDIRECT_URI") or DEFAULT_REDIRECT_URI,
            token_store=(env.get("REVIEW_BOT_TOKEN_STORE") or "").strip()
            or f"file:{_default_token_file(env)}",
            ops_channel=(env.get("REVIEW_BOT_OPS_CHANNEL") or "").strip() or None,
            admins=frozenset(_items(env.get("REVIEW_BOT_ADMINS"))),
            digest_tz=_timezone(env.get("REVIEW_BOT_TZ")),
            shared_projects=_shared(env.get("REVIEW_BOT_PROJECTS")),
            supply=_switch(env.get("REVIEW_BOT_SUPPLY"), "REVIEW_BOT_SUPPLY"),
            supply_stock_factor=int(_number(env.get("REVIEW_BOT_SUPPLY_STOCK_FACTOR"), 100,
                                            "REVIEW_BOT_SUPPLY_STOCK_FACTOR", whole=True)),
            supply_max_lead_weeks=_number(env.get("REVIEW_BOT_SUPPLY_MAX_LEAD_WEEKS"), 12.0,
                                          "REVIEW_BOT_SUPPLY_MAX_LEAD_WEEKS"),
        )

    def thresholds(self) -> Thresholds:
        """When a new part counts as a supply risk."""
        return Thresholds(stock_factor=self.supply_stock_factor,
                          max_lead_weeks=self.supply_max_lead_weeks)

    def secrets(self) -> list[str]:
        """Values that must never be printed or logged."""
        return [s for s in (self.nexar_token, self.slack_bot_token, self.slack_app_token,
                            self.slack_signing_secret, self.nexar_client_secret) if s]

    def oauth(self) -> OAuthSettings:
        """The Nexar app's credentials, for signing in and refreshing."""
        if not (self.nexar_client_id and self.nexar_client_secret):
            raise ConfigError("NEXAR_CLIENT_ID and NEXAR_CLIENT_SECRET are not set: create an "
                              "app with the Design scope at nexar.com and put its client id "
                              "and secret in the environment or .env")
        return OAuthSettings(client_id=self.nexar_client_id,
                             client_secret=self.nexar_client_secret,
                             identity_url=self.nexar_identity_url,
                             redirect_uri=self.nexar_redirect_uri)

    def tokens(self) -> TokenStore:
        """Where signed-in tokens are kept: ``file:PATH`` (mode 0600) or ``db``."""
        kind, _, where = self.token_store.partition(":")
        if kind == "db":
            return DatabaseTokenStore(self.db_path)
        if kind == "file" and where:
            return FileTokenStore(Path(where).expanduser())
        raise ConfigError(f"REVIEW_BOT_TOKEN_STORE must be 'db' or 'file:PATH', not "
                          f"{self.token_store!r}")

    def can_sign_in(self) -> bool:
        """A fixed token, or app credentials to sign in and refresh with."""
        return bool(self.nexar_token or (self.nexar_client_id and self.nexar_client_secret))


    def require_slack(self) -> str:
        if not self.slack_bot_token:
            raise ConfigError("SLACK_BOT_TOKEN is not set: install the Slack app (manifest.yml) "
                              "and put its bot token (xoxb-...) in the environment or .env")
        return self.slack_bot_token


def _timezone(value: str | None) -> str:
    try:
        return resolve_timezone(value.strip()) if value and value.strip() else "UTC"
    except ValueError:
        raise ConfigError(f"REVIEW_BOT_TZ must be a time zone like Europe/Berlin or UTC, "
                          f"not {value!r}") from None


def _switch(value: str | None, name: str) -> bool:
    """``on`` (the default) or ``off``."""
    text = (value or "").strip().lower()
    if text in ("", "on"):
        return True
    if text == "off":
        return False
    raise ConfigError(f"{name} must be 'on' or 'off', not {value!r}")


def _items(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").replace(";", ",").split(",") if v.strip()]


def _shared(value: str | None) -> frozenset[str] | None:
    """Project names Slack may show (folded), or None for every project (``*``)."""
    names = _items(value)
    if not names or "*" in names:
        return None
    return frozenset(n.casefold() for n in names)


def _default_token_file(env: Mapping[str, str]) -> str:
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or "~") / ".config")
    return str(Path(base) / "review-bot" / "nexar-tokens.json")


def _interval(value: str | None) -> float:
    if value is None or not value.strip():
        return 1.0
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 60:
        raise ConfigError(f"REVIEW_BOT_POST_INTERVAL must be 0-60 seconds, not {value!r}")
    return seconds


def _port(value: str | None) -> int:
    if value is None or not value.strip():
        return 3000
    if not value.strip().isdigit() or not 0 <= int(value) <= 65535:
        raise ConfigError(f"PORT must be a port number (0-65535), not {value!r}")
    return int(value)


def _number(value: str | None, default: float, name: str, *, whole: bool = False) -> float:
    if value is None or not value.strip():
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number < 0 or (whole and not number.is_integer()) or number > 1_000_000:
        kind = "a whole number" if whole else "a number"
        raise ConfigError(f"{name} must be {kind} from 0 up, not {value!r}")
    return number


def _seconds(value: str | None, default: float, name: str) -> float:
    if value is None or not value.strip():
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {value!r}") from None
    if seconds < 10:
        raise ConfigError(f"{name} must be at least 10 seconds, not {value!r}")
    return seconds
