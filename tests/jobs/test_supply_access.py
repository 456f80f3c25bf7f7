"""Supply access over real HTTP: the off switch, a token carrying ``supply.domain``, a
client-credentials token kept across processes, and every failure turning supply off."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from jobs.auth import DESIGN_SCOPES, FileTokenStore, OAuthSettings, RateLimit, TokenManager
from jobs.login import login
from jobs.supply import NO_ACCESS, SUPPLY_TOKENS_KEY, TURNED_OFF, SupplyAccess, supply_access
from sandbox import AltiumSandbox
from sandbox.altium import IdentitySandbox
from sandbox.altium.server import TOKEN_SCOPES
from state.clock import utc_now
from state.errors import ConfigError
from state.store import Store
from state.supply import PartKey
from tests.jobs.conftest import free_port
from tests.jobs.test_auth import browser

SWAP = PartKey("TPS62133RGTR", "Texas Instruments")

# A second process asking for supply access, as the next cron run would.
SECOND_RUN = """
import os, sys
from jobs.auth import OAuthSettings
from jobs.supply import supply_access
from state.supply import PartKey
oauth = OAuthSettings(client_id=os.environ["ID"], client_secret=os.environ["SECRET"],
                      identity_url=os.environ["IDENTITY"])
access = supply_access(oauth=oauth, db_path=sys.argv[1], api_url=os.environ["API"])
print(access.describe())
with access.client() as client:
    print(client.supply_match([PartKey("5019")], at="t")[PartKey("5019")].found)
"""


@pytest.fixture
def identity(altium: AltiumSandbox) -> Iterator[IdentitySandbox]:
    """The local identity server, on the real clock like ``altium``."""
    with IdentitySandbox(altium) as sandbox:
        yield sandbox


@pytest.fixture
def oauth(identity: IdentitySandbox) -> OAuthSettings:
    return OAuthSettings(client_id=identity.client_id, client_secret=identity.client_secret,
                         identity_url=identity.base_url,
                         redirect_uri=f"http://127.0.0.1:{free_port()}/login")


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "review-bot.db"
    Store.open(path).close()
    return str(path)


def works(access: SupplyAccess) -> bool:
    """Whether the access reads supply data from the sandbox."""
    with access.client(timeout=5.0) as client:
        return client.supply_match([SWAP], at="t")[SWAP].found


def test_off_switch_asks_nothing(altium: AltiumSandbox, identity: IdentitySandbox,
                                 oauth: OAuthSettings, db: str) -> None:
    token = altium.make_token(scopes=(*TOKEN_SCOPES, "supply.domain"))
    access = supply_access(enabled=False, signed_in=token, oauth=oauth, db_path=db,
                           api_url=altium.api_url)
    assert (access.on, access.why) == (False, TURNED_OFF)
    assert access.describe() == "Supply data is off: turned off by REVIEW_BOT_SUPPLY=off."
    with pytest.raises(ConfigError, match="REVIEW_BOT_SUPPLY=off"):
        access.client()
    assert identity.token_requests == 0 and altium.supply.requests == 0


def test_a_fixed_token_with_supply_scope_is_used_as_is(
        altium: AltiumSandbox, identity: IdentitySandbox, oauth: OAuthSettings, db: str) -> None:
    token = altium.make_token(scopes=(*TOKEN_SCOPES, "supply.domain"))
    access = supply_access(signed_in=token, oauth=oauth, db_path=db, api_url=altium.api_url)
    assert access.on and access.why == "NEXAR_TOKEN carries supply.domain"
    assert access.tokens == token and works(access)
    assert identity.token_requests == 0


def test_without_supply_scope_or_app_credentials_supply_is_off(altium: AltiumSandbox,
                                                               db: str) -> None:
    access = supply_access(signed_in=altium.token, db_path=db, api_url=altium.api_url)
    assert (access.on, access.why) == (False, NO_ACCESS)
    assert "auth login --supply" in access.describe()
    assert supply_access(api_url=altium.api_url) == access


def test_a_sign_in_with_supply_is_used(altium: AltiumSandbox, identity: IdentitySandbox,
                                      oauth: OAuthSettings, tmp_path: Path, db: str) -> None:
    manager = TokenManager(settings=oauth, store=FileTokenStore(tmp_path / "tokens.json"))
    login(manager, scopes=(*DESIGN_SCOPES, "supply.domain"), echo=lambda line: None,
          on_url=browser(), timeout=10)
    asked = identity.token_requests
    access = supply_access(signed_in=manager, oauth=oauth, db_path=db, api_url=altium.api_url)
    assert access.on and access.why == "the Nexar sign-in carries supply.domain"
    assert access.tokens is manager and works(access)
    assert identity.token_requests == asked


def test_client_credentials_are_fetched_once_and_kept_across_processes(
        altium: AltiumSandbox, identity: IdentitySandbox, oauth: OAuthSettings,
        db: str) -> None:
    first = supply_access(signed_in=altium.token, oauth=oauth, db_path=db,
                          api_url=altium.api_url)
    assert first.on and first.why.startswith("a client-credentials token of NEXAR_CLIENT_ID")
    assert works(first)
    assert identity.token_requests == 1
    [issued] = identity.issued_tokens
    assert (issued.grant_type, issued.scopes) == ("client_credentials", ("supply.domain",))

    env = {**os.environ, "ID": oauth.client_id, "SECRET": oauth.client_secret,
           "IDENTITY": oauth.identity_url, "API": altium.api_url}
    second = subprocess.run([sys.executable, "-c", SECOND_RUN, db], env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines()[0].startswith("Supply data is on: a client-credentials")
    assert second.stdout.splitlines()[1] == "True"
    assert identity.token_requests == 1

    later = supply_access(oauth=oauth, db_path=db, api_url=altium.api_url,
                          clock=lambda: utc_now() + timedelta(hours=24))
    assert later.on and identity.token_requests == 2
    assert works(later)


def test_an_expired_supply_token_is_renewed_mid_request(
        altium: AltiumSandbox, identity: IdentitySandbox, oauth: OAuthSettings,
        db: str) -> None:
    access = supply_access(oauth=oauth, db_path=db, api_url=altium.api_url)
    assert access.on
    altium.expire_token(identity.issued_tokens[-1].access_token)
    assert works(access)
    assert identity.token_requests == 2


def test_an_app_refused_supply_turns_it_off_with_the_reason(
        altium: AltiumSandbox, identity: IdentitySandbox, db: str) -> None:
    identity.register_client("design-only", "s3cret", allow_supply=False)
    app = OAuthSettings(client_id="design-only", client_secret="s3cret",
                        identity_url=identity.base_url)
    access = supply_access(oauth=app, db_path=db, api_url=altium.api_url)
    assert not access.on and access.tokens is None
    assert "refused the app a supply token (invalid_scope)" in access.why
    wrong = OAuthSettings(client_id=identity.client_id, client_secret="wrong",
                          identity_url=identity.base_url)
    assert "NEXAR_CLIENT_SECRET" in supply_access(oauth=wrong, db_path=db).why


def test_a_refused_app_is_asked_again_only_after_an_hour(
        altium: AltiumSandbox, identity: IdentitySandbox, db: str) -> None:
    """Supply access is decided after every poll: a refusal is not asked for again each time."""
    identity.register_client("design-only", "s3cret", allow_supply=False)
    app = OAuthSettings(client_id="design-only", client_secret="s3cret",
                        identity_url=identity.base_url)
    now = utc_now()
    first = supply_access(oauth=app, db_path=db, api_url=altium.api_url, clock=lambda: now)
    asked = identity.token_requests
    later = now + timedelta(minutes=59)
    again = supply_access(oauth=app, db_path=db, api_url=altium.api_url, clock=lambda: later)
    assert not first.on and not again.on and identity.token_requests == asked
    assert "invalid_scope" in again.why and "asked again after" in again.why
    hour = now + timedelta(minutes=61)
    assert not supply_access(oauth=app, db_path=db, api_url=altium.api_url,
                             clock=lambda: hour).on
    assert identity.token_requests == asked + 1


def test_an_identity_server_down_or_limited_turns_it_off_for_now(
        altium: AltiumSandbox, identity: IdentitySandbox, oauth: OAuthSettings,
        db: str) -> None:
    identity.http_error(503, times=None)
    down = supply_access(oauth=oauth, db_path=db, api_url=altium.api_url)
    assert not down.on and down.why.startswith("no supply token from NEXAR_CLIENT_ID/SECRET "
                                               "for now: ")
    identity.clear_faults()
    limited = supply_access(oauth=oauth, db_path=db, api_url=altium.api_url,
                            limit=RateLimit(per_window=0))
    assert not limited.on and "too many Nexar token requests" in limited.why
    assert identity.token_requests == 1
    gone = OAuthSettings(client_id="x", client_secret="y",
                         identity_url=f"http://127.0.0.1:{free_port()}")
    unreachable = supply_access(oauth=gone, db_path=db, api_url=altium.api_url)
    assert not unreachable.on and "could not reach" in unreachable.why


def test_a_database_others_can_read_keeps_no_supply_token(
        altium: AltiumSandbox, identity: IdentitySandbox, oauth: OAuthSettings,
        db: str) -> None:
    os.chmod(db, 0o644)
    access = supply_access(oauth=oauth, db_path=db, api_url=altium.api_url)
    assert not access.on and "chmod 600" in access.why


def test_a_damaged_kept_token_is_replaced(altium: AltiumSandbox, identity: IdentitySandbox,
                                          oauth: OAuthSettings, db: str) -> None:
    with Store.open(db) as store:
        store.set_meta(SUPPLY_TOKENS_KEY, "{not json")
    access = supply_access(oauth=oauth, db_path=db, api_url=altium.api_url)
    assert access.on and works(access) and identity.token_requests == 1
    with Store.open(db) as store:
        kept = store.get_meta(SUPPLY_TOKENS_KEY)
    assert kept is not None and "access_token" in kept
