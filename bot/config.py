"""Settings from the environment (and a ``.env`` file), checked once at start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from jobs.nexar import DEFAULT_API_URL
from state.errors import ConfigError


@dataclass(frozen=True)
class Config:
    """Everything the CLI needs; secrets stay out of ``repr`` so they never reach a log."""

    nexar_api_url: str = DEFAULT_API_URL
    nexar_token: str | None = field(default=None, repr=False)
    nexar_workspace_url: str | None = None
    db_path: str = "./review-bot.db"
    poll_interval: float = 300.0

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
        )

    def secrets(self) -> list[str]:
        """Values that must never be printed or logged."""
        return [s for s in (self.nexar_token,) if s]

    def require_token(self) -> str:
        if not self.nexar_token:
            raise ConfigError("NEXAR_TOKEN is not set: put a Nexar access token in the "
                              "environment or in .env")
        return self.nexar_token


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
