"""Logging set-up: one line per record on stderr, with every known secret masked.

At the default level (WARNING) only the bot's own records pass: a library's view of an
error the bot reports itself (slack_sdk's failed request, bolt's notices) would only
repeat it, less clearly. ``--log-level info`` lets library warnings through, ``debug``
everything. Health lines (one per poll and per delivery of ``run``) go through
``HEALTH`` and show at the default level.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

OWN_PACKAGES = ("bot", "jobs", "state", "sandbox")
HEALTH = logging.getLogger("bot.health")


class RedactSecrets(logging.Filter):
    """Replaces any secret value in a record's final text with ``[redacted]``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        masked = text
        for secret in self.secrets:
            masked = masked.replace(secret, "[redacted]")
        if masked != text:
            record.msg, record.args = masked, None
        return True


class OwnRecords(logging.Filter):
    """Lets a library's record through only at or above ``library_level``."""

    def __init__(self, library_level: int) -> None:
        super().__init__()
        self.library_level = library_level

    def filter(self, record: logging.LogRecord) -> bool:
        own = record.name.split(".", 1)[0] in OWN_PACKAGES
        return own or record.levelno >= self.library_level


def configure(level: str = "WARNING", *, secrets: Iterable[str] = ()) -> None:
    """Log to stderr at ``level``; library records only from ``info`` down."""
    name = level.upper() if level.upper() in logging.getLevelNamesMapping() else "WARNING"
    chosen = logging.getLevelNamesMapping()[name]
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    handler.addFilter(OwnRecords(chosen if chosen <= logging.INFO else logging.CRITICAL + 1))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(chosen)
    HEALTH.setLevel(min(chosen, logging.INFO) if chosen <= logging.WARNING else chosen)
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
