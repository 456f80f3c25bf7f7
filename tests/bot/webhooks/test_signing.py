"""Signing: the headers of one attempt verify with the standardwebhooks library."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from importlib import metadata

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from bot.errors import WebhookError
from bot.webhooks.signing import headers, package_version, user_agent
from state.webhooks import new_secret

BODY = '{"type":"ping","timestamp":"2026-11-28T09:00:00.000Z","data":{}}'


def test_the_headers_verify_with_the_standard_library_at_the_real_time() -> None:
    secret = new_secret()
    now = datetime.now(UTC)
    sent = headers(message_id="msg_1", body=BODY, secrets=[secret], at=now, version="9.9")
    assert Webhook(secret).verify(BODY, sent) == {"type": "ping",
                                                  "timestamp": "2026-11-28T09:00:00.000Z",
                                                  "data": {}}
    assert sent["webhook-id"] == "msg_1"
    assert sent["webhook-timestamp"] == str(int(now.timestamp()))
    assert sent["User-Agent"] == "review-bot/9.9"
    assert sent["Content-Type"] == "application/json"
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, sent)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace("ping", "pong"), sent)


def test_each_secret_signs_once_and_either_verifies() -> None:
    current, previous = new_secret(), new_secret()
    sent = headers(message_id="msg_2", body=BODY, secrets=[current, previous],
                   at=datetime.now(UTC))
    entries = sent["webhook-signature"].split(" ")
    assert len(entries) == 2 and all(e.startswith("v1,") for e in entries)
    Webhook(current).verify(BODY, sent)
    Webhook(previous).verify(BODY, sent)


def test_a_moment_in_another_zone_is_signed_as_the_same_instant() -> None:
    secret = new_secret()
    now = datetime.now(UTC)
    elsewhere = now.astimezone(timezone(timedelta(hours=-7)))
    sent = headers(message_id="msg_3", body=BODY, secrets=[secret], at=elsewhere)
    assert sent == headers(message_id="msg_3", body=BODY, secrets=[secret], at=now)
    Webhook(secret).verify(BODY, sent)


def test_an_unreadable_secret_is_a_webhook_error_that_does_not_show_it() -> None:
    broken = "whsec_" + "x" * 5
    with pytest.raises(WebhookError) as raised:
        headers(message_id="msg_4", body=BODY, secrets=[broken], at=datetime.now(UTC))
    assert broken not in str(raised.value) and "x" * 5 not in str(raised.value)
    with pytest.raises(WebhookError):
        headers(message_id="msg_4", body=BODY, secrets=[], at=datetime.now(UTC))


def test_the_user_agent_names_the_installed_version() -> None:
    assert package_version() == metadata.version("design-review-bot")
    assert user_agent() == f"review-bot/{metadata.version('design-review-bot')}"
