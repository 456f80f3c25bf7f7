"""Nexar sign-in against the sandbox identity server over real HTTP: login, refresh, store."""

from __future__ import annotations

import os
import socket
import stat
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from jobs.auth import (
    DESIGN_SCOPES,
    DatabaseTokenStore,
    FileTokenStore,
    OAuthSettings,
    RateLimit,
    TokenManager,
    Tokens,
)
from jobs.errors import NexarAuthError
from jobs.login import login
from jobs.nexar import NexarClient
from jobs.poll import Poller, refresh_catalog
from sandbox import AltiumSandbox
from sandbox.altium import IdentitySandbox
from sandbox.scenario import PROJECT, play_review_round
from state.errors import ConfigError
from state.store import Store
from tests.conftest import FakeClock
from tests.jobs.conftest import free_port


@pytest.fixture
def settings(identity: IdentitySandbox) -> OAuthSettings:
    return OAuthSettings(client_id=identity.client_id, client_secret=identity.client_secret,
                         identity_url=identity.base_url,
                         redirect_uri=f"http://127.0.0.1:{free_port()}/login")


@pytest.fixture
def token_file(tmp_path: Path) -> FileTokenStore:
    return FileTokenStore(tmp_path / "cfg" / "nexar-tokens.json")


@pytest.fixture
def manager(settings: OAuthSettings, token_file: FileTokenStore,
            clock: FakeClock) -> TokenManager:
    return TokenManager(settings=settings, store=token_file, clock=clock,
                        limit=RateLimit(sleep=lambda s: None))


def browser(tamper: Callable[[str], str] = lambda url: url) -> Callable[[str], None]:
    """Plays the person at the browser: open the URL, follow the redirect home."""

    def visit(url: str) -> None:
        answer = httpx.get(url, follow_redirects=False)
        assert answer.status_code == 302, answer.text
        httpx.get(tamper(answer.headers["location"]))

    return visit


def sign_in(manager: TokenManager, scopes: tuple[str, ...] = DESIGN_SCOPES,
            tamper: Callable[[str], str] = lambda url: url) -> Tokens:
    said: list[str] = []
    tokens = login(manager, scopes=scopes, echo=said.append, on_url=browser(tamper),
                   timeout=10)
    assert "Open this address" in said[0]
    return tokens


def test_login_stores_tokens_the_api_accepts(manager: TokenManager, sb: AltiumSandbox,
                                             token_file: FileTokenStore) -> None:
    tokens = sign_in(manager)
    assert tokens.refresh_token and "offline_access" in tokens.scope
    assert stat.S_IMODE(token_file.path.stat().st_mode) == 0o600
    assert token_file.load() == tokens
    with NexarClient(token=manager, api_url=sb.api_url) as client:
        me = client.me()
    assert me is not None and me.name == "Alice Nguyen"


def test_denied_consent(manager: TokenManager, identity: IdentitySandbox) -> None:
    identity.deny_consent()
    with pytest.raises(NexarAuthError, match="consent was denied"):
        sign_in(manager)


def test_without_offline_access_it_signs_in_for_a_day(
        identity: IdentitySandbox, token_file: FileTokenStore, clock: FakeClock) -> None:
    identity.register_client("no-offline", "s3cret", allow_offline_access=False,
                             redirect_uris=("http://127.0.0.1:0/login",))
    settings = OAuthSettings(client_id="no-offline", client_secret="s3cret",
                             identity_url=identity.base_url,
                             redirect_uri=f"http://127.0.0.1:{free_port()}/login")
    manager = TokenManager(settings=settings, store=token_file, clock=clock)
    said: list[str] = []
    tokens = login(manager, scopes=DESIGN_SCOPES, echo=said.append, on_url=browser(),
                   timeout=10)
    assert tokens.refresh_token is None
    assert any("daily" in line or "one day" in line for line in said)


def test_a_redirect_with_a_wrong_state_is_refused(manager: TokenManager) -> None:
    with pytest.raises(NexarAuthError, match="wrong state"):
        sign_in(manager, tamper=lambda url: url.replace("state=", "state=x"))


def test_a_redirect_without_code_is_refused(manager: TokenManager) -> None:
    def drop_code(url: str) -> str:
        head, _, query = url.partition("?")
        return head + "?" + "&".join(p for p in query.split("&") if not p.startswith("code="))

    with pytest.raises(NexarAuthError, match="no code"):
        sign_in(manager, tamper=drop_code)


def test_a_wrong_client_secret(identity: IdentitySandbox, token_file: FileTokenStore,
                               clock: FakeClock) -> None:
    settings = OAuthSettings(client_id=identity.client_id, client_secret="wrong",
                             identity_url=identity.base_url,
                             redirect_uri=f"http://127.0.0.1:{free_port()}/login")
    manager = TokenManager(settings=settings, store=token_file, clock=clock)
    with pytest.raises(NexarAuthError, match="NEXAR_CLIENT_SECRET"):
        sign_in(manager)


def test_the_port_in_use(manager: TokenManager) -> None:
    port = int(manager.settings.redirect_uri.split(":")[2].split("/")[0])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        with pytest.raises(ConfigError, match=f"port {port} is in use"):
            sign_in(manager)


def test_refresh_shortly_before_expiry(manager: TokenManager, identity: IdentitySandbox,
                                       clock: FakeClock) -> None:
    first = sign_in(manager)
    assert manager.token() == first.access_token
    clock.advance(hours=23, minutes=56)
    before = identity.token_requests
    fresh = manager.token()
    assert fresh != first.access_token and identity.token_requests == before + 1
    assert manager.store.load() is not None
    assert manager.store.load().refresh_token == first.refresh_token  # type: ignore[union-attr]


def test_concurrent_requests_share_one_refresh(manager: TokenManager,
                                               identity: IdentitySandbox) -> None:
    stale = sign_in(manager).access_token
    before = identity.token_requests
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(manager.refresh(stale)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert identity.token_requests == before + 1 and len(set(results)) == 1


def test_expired_mid_poll_refreshes_once_and_loses_nothing(
        manager: TokenManager, sb: AltiumSandbox, identity: IdentitySandbox,
        clock: FakeClock, tmp_path: Path) -> None:
    sign_in(manager)
    with Store.open(tmp_path / "bot.db") as store, NexarClient(
            token=manager, api_url=sb.api_url) as client:
        refresh_catalog(client, store)
        store.subscribe(store.find_project(PROJECT), "#hw", ["comments", "bom", "revisions"],
                        at="2026-11-28T08:00:00.000Z")
        poller = Poller(client=client, store=store, clock=clock)
        poller.poll_once()
        play_review_round(sb)
        # The token's expiry passes on the server while the bot still thinks it is valid.
        manager.margin = timedelta(0)
        clock.advance(hours=24)
        manager.clock = lambda: clock.now - timedelta(minutes=10)
        before = identity.token_requests
        report = poller.poll_once()
        again = poller.poll_once()
        kinds = [s.event.kind for s in store.events()]
    assert report.ok and report.events == 10 and again.events == 0
    assert identity.token_requests == before + 1
    assert kinds.count("thread_opened") == 1 and kinds.count("revision_committed") == 1


def test_a_revoked_refresh_token_asks_for_a_new_login(
        manager: TokenManager, identity: IdentitySandbox, clock: FakeClock) -> None:
    tokens = sign_in(manager)
    assert tokens.refresh_token is not None
    identity.revoke_refresh_token(tokens.refresh_token)
    clock.advance(hours=24)
    with pytest.raises(NexarAuthError, match="auth login"):
        manager.token()


def test_file_store_refuses_a_file_others_can_read(token_file: FileTokenStore) -> None:
    token_file.save(Tokens(access_token="a", expires_at="2026-11-29T00:00:00.000Z"))
    os.chmod(token_file.path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        token_file.load()


def test_file_store_damaged_and_cleared(token_file: FileTokenStore) -> None:
    token_file.save(Tokens(access_token="a", expires_at="2026-11-29T00:00:00.000Z"))
    token_file.path.write_text("{not json")
    with pytest.raises(ConfigError, match="damaged"):
        token_file.load()
    assert token_file.clear() and not token_file.clear()


def test_database_store_round_trip(db_path: Path) -> None:
    store = DatabaseTokenStore(str(db_path))
    tokens = Tokens(access_token="secret-access", expires_at="2026-11-29T00:00:00.000Z",
                    refresh_token="secret-refresh")
    assert store.load() is None
    store.save(tokens)
    assert store.load() == tokens and "secret" not in repr(store.load())
    assert store.clear() and store.load() is None


def test_a_new_database_is_private_and_a_loose_one_keeps_no_tokens(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.db"
    store = DatabaseTokenStore(str(fresh))
    tokens = Tokens(access_token="a", expires_at="2026-11-29T00:00:00.000Z",
                    refresh_token="secret-refresh")
    store.save(tokens)
    for path in tmp_path.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    fresh.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        store.load()
    with pytest.raises(ConfigError, match="read by others"):
        store.save(tokens)
    loose = tmp_path / "loose.db"
    Store.open(loose).close()
    loose.chmod(0o644)
    assert DatabaseTokenStore(str(loose)).load() is None


def test_token_requests_respect_two_a_second() -> None:
    now = [100.0]
    waits: list[float] = []
    limit = RateLimit(monotonic=lambda: now[0], sleep=waits.append)
    limit.wait()
    limit.wait()
    limit.wait()
    assert waits == [1.0]
    now[0] += 2
    limit.wait()
    assert waits == [1.0]


def test_token_requests_stop_at_the_window_limit() -> None:
    limit = RateLimit(per_window=3, monotonic=lambda: 0.0, sleep=lambda s: None)
    for _ in range(3):
        limit.wait()
    with pytest.raises(NexarAuthError, match="15 minutes"):
        limit.wait()
