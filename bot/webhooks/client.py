"""The HTTP client webhook sending runs on, built here so ``bot.webhooks`` stays the only
part of ``bot`` that speaks HTTP itself (the wiring in ``bot.service`` only asks for one)."""

from __future__ import annotations

import httpx

from bot.webhooks.http import DEADLINE


def new_client() -> httpx.Client:
    """A client for webhook POSTs: redirects never followed, every timeout the 15 s deadline.
    The caller owns it and closes it (``with new_client() as client:``)."""
    return httpx.Client(follow_redirects=False, timeout=httpx.Timeout(DEADLINE))
