"""The client against a gateway that answers application/graphql-response+json (HotChocolate
13+ given ``*/*``): an expired token there is a 500 with a GraphQL body, and must be refreshed
once with the real sign-in, not retried as "Nexar unavailable"."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from jobs.auth import DESIGN_SCOPES, FileTokenStore, OAuthSettings, RateLimit, TokenManager
from jobs.errors import NexarAuthError
from jobs.login import login
from jobs.nexar import NexarClient, RetryPolicy
from sandbox import AltiumSandbox
from sandbox.altium import IdentitySandbox
from tests.conftest import FakeClock
from tests.jobs.conftest import free_port


@pytest.fixture
def manager(identity: IdentitySandbox, tmp_path: Path, clock: FakeClock) -> TokenManager:
    settings = OAuthSettings(client_id=identity.client_id, client_secret=identity.client_secret,
                             identity_url=identity.base_url,
                             redirect_uri=f"http://127.0.0.1:{free_port()}/login")
    manager = TokenManager(settings=settings, store=FileTokenStore(tmp_path / "tokens.json"),
                           clock=clock, limit=RateLimit(sleep=lambda s: None))

    def visit(url: str) -> None:
        httpx.get(httpx.get(url, follow_redirects=False).headers["location"])

    login(manager, scopes=DESIGN_SCOPES, echo=lambda line: None, on_url=visit, timeout=10)
    return manager


def test_an_expired_token_on_a_500_body_is_refreshed_once(
        sb: AltiumSandbox, identity: IdentitySandbox, manager: TokenManager) -> None:
    sleeps: list[float] = []
    with NexarClient(token=manager, api_url=sb.api_url, sleep=sleeps.append,
                     retry=RetryPolicy(attempts=4)) as client:
        sb.faults.graphql_response(times=None)
        sb.expire_token(manager.current().access_token)
        before = identity.token_requests
        sb.reset_requests()
        assert client.workspaces()
    assert [r.status for r in sb.requests] == [500, 200]
    assert sb.requests[0].error_codes == ("AuthExpiredToken",)
    assert identity.token_requests == before + 1
    assert sleeps == []


def test_a_refused_token_on_a_500_body_is_the_sign_in(
        sb: AltiumSandbox, manager: TokenManager) -> None:
    sleeps: list[float] = []
    with NexarClient(token=manager, api_url=sb.api_url, sleep=sleeps.append) as client:
        sb.faults.graphql_response(times=None)
        sb.revoke_token(manager.current().access_token)
        with pytest.raises(NexarAuthError, match="invalid"):
            client.workspaces()
    assert [r.status for r in sb.requests] == [500]
    assert sleeps == []
