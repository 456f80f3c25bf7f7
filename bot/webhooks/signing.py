"""The headers of one attempt, signed the Standard Webhooks way.

``webhook-id`` (the message's id: the same on every retry, so a receiver can drop a
repeat), ``webhook-timestamp`` (the attempt's time, whole seconds since the epoch: the
receiver refuses one too far from its clock), and ``webhook-signature``: ``v1,`` and the
base64 HMAC-SHA256 of ``id.timestamp.body`` under each signing secret valid now, separated
by spaces (two while a rotated secret's previous one is still valid). The signatures are
made by the ``standardwebhooks`` package, the one receivers verify with.
"""

from __future__ import annotations

import binascii
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from math import floor
from typing import Final

from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError

from bot.errors import WebhookError

DISTRIBUTION: Final = "design-review-bot"


def package_version() -> str:
    """This installation's version, for the ``User-Agent``."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


def user_agent(version: str | None = None) -> str:
    """``review-bot/0.1.0``."""
    return f"review-bot/{version or package_version()}"


def signature(secret: str, *, message_id: str, at: datetime, body: str) -> str:
    """One ``v1,<base64>`` signature of ``body`` under ``secret`` (``whsec_`` + base64).

    ``WebhookError`` (never showing the secret) when the secret is not one.
    """
    try:
        webhook = Webhook(secret)
    except (binascii.Error, ValueError, EmptyWebhookSecretError, RuntimeError):
        raise WebhookError("a signing secret of this endpoint is not a valid whsec_ "
                           "secret; rotate it") from None
    # standardwebhooks reads the moment as UTC whatever its zone (``replace(tzinfo=utc)``),
    # so it is handed a UTC moment.
    return webhook.sign(msg_id=message_id, timestamp=at.astimezone(UTC), data=body)


def headers(*, message_id: str, body: str, secrets: Sequence[str], at: datetime,
            version: str | None = None) -> dict[str, str]:
    """Every header of one attempt to send ``body`` at ``at``, signed with each of
    ``secrets`` (current first)."""
    if not secrets:
        raise WebhookError("this endpoint has no signing secret; rotate it")
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(floor(at.astimezone(UTC).timestamp())),
        "webhook-signature": " ".join(signature(s, message_id=message_id, at=at, body=body)
                                      for s in secrets),
        "User-Agent": user_agent(version),
        "Content-Type": "application/json",
    }
