"""Fixtures of the webhook tests: a local receiver that trusts ``SECRET``, and an HTTP client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox import WebhookReceiver
from state.webhooks import new_secret

SECRET = new_secret()


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(secrets=[SECRET]) as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client
