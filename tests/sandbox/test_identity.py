"""The identity sandbox over real HTTP: authorization code + PKCE, refresh, expiry, limits.

The "browser" is an httpx client that reads the authorization endpoint's redirect; tokens are
then checked against the Altium sandbox's GraphQL endpoint, which shares the test clock.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox.altium import AltiumSandbox, IdentitySandbox
from tests.conftest import FakeClock

START = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
DESIGN = "openid profile email design.domain user.access offline_access"
WHO = "{ desUserByAuth { userName } }"
SUPPLY = '{ supMultiMatch(queries: [{mpn: "TPS62133RGTR", limit: 1}]) { hits } }'




class Ticker:
    """A settable monotonic clock for the per-second rate limit."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now




@pytest.fixture
def idp(sb: AltiumSandbox) -> Iterator[IdentitySandbox]:
    with IdentitySandbox(sb, enforce_rate_limits=False) as identity:
        yield identity


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def pkce() -> tuple[str, str]:
    """A fresh (verifier, S256 challenge) pair, built as RFC 7636 says."""
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize(
    http: httpx.Client,
    idp: IdentitySandbox,
    challenge: str,
    **overrides: str | None,
) -> httpx.Response:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": idp.client_id,
        "redirect_uri": "http://localhost:3000/login",
        "scope": DESIGN,
        "state": "st-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **overrides,
    }
    sent = {name: value for name, value in params.items() if value is not None}
    return http.get(idp.authorize_url, params=sent)


def redirected(response: httpx.Response) -> tuple[str, dict[str, str]]:
    """The redirect target without its query, and the query's parameters."""
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    target = f"{location.scheme}://{location.netloc}{location.path}"
    return target, {name: values[0] for name, values in parse_qs(location.query).items()}


def sign_in(http: httpx.Client, idp: IdentitySandbox, **overrides: str | None) -> tuple[str, str]:
    """Run the browser half; returns (code, verifier)."""
    verifier, challenge = pkce()
    _, params = redirected(authorize(http, idp, challenge, **overrides))
    assert "error" not in params, params
    return params["code"], verifier


def token(
    http: httpx.Client,
    idp: IdentitySandbox,
    form: dict[str, str],
    *,
    secret: str | None = None,
    basic: bool = False,
    client_id: str | None = None,
) -> httpx.Response:
    client_id = client_id or idp.client_id
    secret = idp.client_secret if secret is None else secret
    if basic:
        return http.post(idp.token_url, data=form, auth=(client_id, secret))
    return http.post(idp.token_url, data={**form, "client_id": client_id, "client_secret": secret})


def redeem(
    http: httpx.Client,
    idp: IdentitySandbox,
    code: str,
    verifier: str,
    *,
    redirect_uri: str = "http://localhost:3000/login",
    **options: Any,
) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": redirect_uri,
    }
    return token(http, idp, form, **options)


def refresh(
    http: httpx.Client, idp: IdentitySandbox, refresh_token: str, **options: Any
) -> httpx.Response:
    return token(
        http, idp, {"grant_type": "refresh_token", "refresh_token": refresh_token}, **options
    )


def tokens(http: httpx.Client, idp: IdentitySandbox, **overrides: str | None) -> dict[str, Any]:
    code, verifier = sign_in(http, idp, **overrides)
    response = redeem(http, idp, code, verifier)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def claims(jwt: str) -> dict[str, Any]:
    parts = jwt.split(".")
    assert len(parts) == 3
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload))
    return decoded


def graphql(
    http: httpx.Client, sb: AltiumSandbox, access_token: str, query: str = WHO
) -> dict[str, Any]:
    response = http.post(
        sb.api_url,
        json={"query": query},
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
    )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def who(http: httpx.Client, sb: AltiumSandbox, access_token: str) -> str:
    """The signed-in userName, or the error code GraphQL answers."""
    body = graphql(http, sb, access_token)
    if body.get("errors"):
        return str(body["errors"][0]["extensions"]["code"])
    return str(body["data"]["desUserByAuth"]["userName"])


def test_authorization_code_with_pkce_signs_the_user_in(
    http: httpx.Client, sb: AltiumSandbox, idp: IdentitySandbox, clock: FakeClock
) -> None:
    discovery = http.get(idp.discovery_url).json()
    assert discovery["authorization_endpoint"] == idp.authorize_url
    assert discovery["token_endpoint"] == idp.token_url
    assert discovery["code_challenge_methods_supported"] == ["S256"]

    verifier, challenge = pkce()
    target, params = redirected(authorize(http, idp, challenge, nonce="n-1"))
    assert target == "http://localhost:3000/login"
    assert params["state"] == "st-123"
    assert params["scope"] == DESIGN
    assert params["session_state"] and params["iss"] == idp.base_url

    response = redeem(http, idp, params["code"], verifier)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    answer = response.json()
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == 24 * 3600
    assert answer["scope"] == DESIGN
    assert answer["refresh_token"]
    assert claims(answer["id_token"])["nonce"] == "n-1"

    alice = sb.user("alice.nguyen")
    access = claims(answer["access_token"])
    assert access["sub"] == alice.user_id
    assert access["client_id"] == idp.client_id
    assert access["iat"] == int(clock().timestamp())
    assert access["exp"] - access["iat"] == 24 * 3600
    workspace_scopes = {s for s in access["scope"] if s.startswith("a365:workspace:")}
    assert workspace_scopes == {f"a365:workspace:{w.auth_id}" for w in sb.tenant.workspaces}
    assert {"design.domain", "offline_access"} <= set(access["scope"])

    assert who(http, sb, answer["access_token"]) == "alice.nguyen"
    issued = idp.issued_tokens
    assert [item.grant_type for item in issued] == ["authorization_code"]
    assert issued[0].user is alice
    assert idp.refresh_tokens[answer["refresh_token"]].usable(clock())


def test_basic_auth_other_user_any_port_and_workspace_limit(
    http: httpx.Client, sb: AltiumSandbox, idp: IdentitySandbox
) -> None:
    idp.login_as("bob.schmidt", workspaces=["Acme Robotics"])
    redirect_uri = "http://127.0.0.1:8765/login"
    code, verifier = sign_in(http, idp, redirect_uri=redirect_uri)
    response = redeem(http, idp, code, verifier, redirect_uri=redirect_uri, basic=True)
    assert response.status_code == 200, response.text
    access_token = response.json()["access_token"]
    assert who(http, sb, access_token) == "bob.schmidt"
    acme = sb.workspace("Acme Robotics")
    workspace_scopes = [s for s in claims(access_token)["scope"] if s.startswith("a365:")]
    assert workspace_scopes == [f"a365:workspace:{acme.auth_id}"]
    names = graphql(http, sb, access_token, "{ desWorkspaceInfos { name } }")
    assert [item["name"] for item in names["data"]["desWorkspaceInfos"]] == ["Acme Robotics"]


def test_access_token_expires_by_the_shared_clock_and_refresh_renews_it(
    http: httpx.Client, sb: AltiumSandbox, idp: IdentitySandbox, clock: FakeClock
) -> None:
    answer = tokens(http, idp)
    clock.advance(hours=23, minutes=59, seconds=59)
    assert who(http, sb, answer["access_token"]) == "alice.nguyen"
    clock.advance(seconds=1)
    assert who(http, sb, answer["access_token"]) == "AuthExpiredToken"

    renewed = refresh(http, idp, answer["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    body = renewed.json()
    assert "refresh_token" not in body
    assert body["scope"] == DESIGN
    assert who(http, sb, body["access_token"]) == "alice.nguyen"

    narrowed = refresh(http, idp, answer["refresh_token"], basic=True)
    assert narrowed.status_code == 200
    widened = token(
        http,
        idp,
        {
            "grant_type": "refresh_token",
            "refresh_token": answer["refresh_token"],
            "scope": "design.domain supply.domain",
        },
    )
    assert widened.status_code == 400
    assert widened.json()["error"] == "invalid_scope"
    assert [item.grant_type for item in idp.issued_tokens] == [
        "authorization_code",
        "refresh_token",
        "refresh_token",
    ]


def test_rotation_replaces_the_refresh_token(
    http: httpx.Client, sb: AltiumSandbox, clock: FakeClock
) -> None:
    with IdentitySandbox(sb, rotate_refresh_tokens=True, enforce_rate_limits=False) as idp:
        first = tokens(http, idp)["refresh_token"]
        rotated = refresh(http, idp, first)
        assert rotated.status_code == 200
        second = rotated.json()["refresh_token"]
        assert second != first
        reused = refresh(http, idp, first)
        assert reused.status_code == 400
        assert reused.json()["error"] == "invalid_grant"
        again = refresh(http, idp, second)
        assert again.status_code == 200
        assert who(http, sb, again.json()["access_token"]) == "alice.nguyen"
        assert not idp.refresh_tokens[first].usable(clock())


def test_refresh_token_revoked_or_expired_is_invalid_grant(
    http: httpx.Client, sb: AltiumSandbox, idp: IdentitySandbox, clock: FakeClock
) -> None:
    revoked = tokens(http, idp)["refresh_token"]
    idp.revoke_refresh_token(revoked)
    answer = refresh(http, idp, revoked)
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_grant")

    lasting = tokens(http, idp)["refresh_token"]
    clock.advance(days=29, hours=23)
    assert refresh(http, idp, lasting).status_code == 200
    clock.advance(hours=1)
    answer = refresh(http, idp, lasting)
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_grant")
    assert refresh(http, idp, "no-such-token").json()["error"] == "invalid_grant"


def test_revoke_all_invalidates_access_and_refresh_tokens(
    http: httpx.Client, sb: AltiumSandbox, idp: IdentitySandbox
) -> None:
    answer = tokens(http, idp)
    pending, verifier = sign_in(http, idp)
    idp.revoke_all()
    assert who(http, sb, answer["access_token"]) == "AuthInvalidToken"
    assert refresh(http, idp, answer["refresh_token"]).json()["error"] == "invalid_grant"
    assert redeem(http, idp, pending, verifier).json()["error"] == "invalid_grant"


def test_codes_are_single_use_short_lived_and_bound(
    http: httpx.Client, sb: AltiumSandbox, idp: IdentitySandbox, clock: FakeClock
) -> None:
    code, verifier = sign_in(http, idp)
    assert redeem(http, idp, code, verifier).status_code == 200
    reused = redeem(http, idp, code, verifier)
    assert reused.status_code == 400
    assert reused.json() == {
        "error": "invalid_grant",
        "error_description": "The code was already used.",
    }

    code, verifier = sign_in(http, idp)
    wrong_verifier, _ = pkce()
    mismatch = redeem(http, idp, code, wrong_verifier)
    assert (mismatch.status_code, mismatch.json()["error"]) == (400, "invalid_grant")
    assert redeem(http, idp, code, verifier).json()["error"] == "invalid_grant"

    code, verifier = sign_in(http, idp)
    moved = redeem(http, idp, code, verifier, redirect_uri="http://localhost:3001/login")
    assert (moved.status_code, moved.json()["error"]) == (400, "invalid_grant")

    code, verifier = sign_in(http, idp)
    clock.advance(minutes=5)
    late = redeem(http, idp, code, verifier)
    assert (late.status_code, late.json()["error"]) == (400, "invalid_grant")

    missing = token(http, idp, {"grant_type": "authorization_code", "code_verifier": verifier})
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
    other = token(http, idp, {"grant_type": "password", "username": "x", "password": "y"})
    assert (other.status_code, other.json()["error"]) == (400, "unsupported_grant_type")


def test_client_authentication(http: httpx.Client, idp: IdentitySandbox) -> None:
    code, verifier = sign_in(http, idp)
    for options in ({"secret": "wrong"}, {"secret": "wrong", "basic": True}):
        refused = redeem(http, idp, code, verifier, **options)
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_client"
    assert "WWW-Authenticate" in refused.headers
    unknown = redeem(http, idp, code, verifier, client_id="stranger")
    assert (unknown.status_code, unknown.json()["error"]) == (401, "invalid_client")
    assert redeem(http, idp, code, verifier).status_code == 200


def test_authorize_refuses_without_redirect_for_unknown_client_or_redirect(
    http: httpx.Client, idp: IdentitySandbox
) -> None:
    _, challenge = pkce()
    for overrides in (
        {"client_id": "stranger"},
        {"client_id": None},
        {"redirect_uri": "http://evil.example:3000/login"},
        {"redirect_uri": "http://localhost:3000/callback"},
        {"redirect_uri": "https://localhost:3000/login"},
    ):
        response = authorize(http, idp, challenge, **overrides)
        assert response.status_code == 400, overrides
        assert "Location" not in response.headers
        assert response.headers["Content-Type"].startswith("text/html")

    idp.register_client("fixed-port", "s3cret", redirect_uris=["http://localhost:3000/login"])
    exact = authorize(http, idp, challenge, client_id="fixed-port")
    assert redirected(exact)[0] == "http://localhost:3000/login"
    other_port = authorize(
        http, idp, challenge, client_id="fixed-port", redirect_uri="http://localhost:3001/login"
    )
    assert other_port.status_code == 400


def test_authorize_errors_redirect_back_with_state(
    http: httpx.Client, sb: AltiumSandbox, idp: IdentitySandbox
) -> None:
    verifier, challenge = pkce()
    cases: list[tuple[dict[str, str | None], str]] = [
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"response_type": "token"}, "invalid_request"),
        ({"scope": "openid design.domain everything"}, "invalid_scope"),
    ]
    for overrides, error in cases:
        target, params = redirected(authorize(http, idp, challenge, **overrides))
        assert target == "http://localhost:3000/login"
        assert (params["error"], params["state"]) == (error, "st-123"), overrides
        assert params["error_description"]
        assert "code" not in params

    idp.deny_consent()
    _, params = redirected(authorize(http, idp, challenge))
    assert (params["error"], params["state"]) == ("access_denied", "st-123")
    assert params["error_description"]
    _, params = redirected(authorize(http, idp, challenge))
    assert "code" in params

    idp.register_client(
        "online-only",
        "s3cret",
        redirect_uris=["http://localhost:0/login"],
        allow_offline_access=False,
    )
    _, params = redirected(authorize(http, idp, challenge, client_id="online-only"))
    assert params["error"] == "invalid_scope"
    online = DESIGN.replace(" offline_access", "")
    _, params = redirected(authorize(http, idp, challenge, client_id="online-only", scope=online))
    answer = redeem(
        http, idp, params["code"], verifier, client_id="online-only", secret="s3cret"
    ).json()
    assert "refresh_token" not in answer
    assert who(http, sb, answer["access_token"]) == "alice.nguyen"


def test_tokens_without_design_scope_are_refused_design_data(
    http: httpx.Client, sb: AltiumSandbox, idp: IdentitySandbox
) -> None:
    answer = tokens(http, idp, scope="openid profile supply.domain")
    assert "refresh_token" not in answer
    assert who(http, sb, answer["access_token"]) == "AUTH_NOT_AUTHORIZED"
    body = graphql(http, sb, answer["access_token"], SUPPLY)
    assert body["data"]["supMultiMatch"][0]["hits"] == 1


def test_rate_limits_per_second_and_per_fifteen_minutes(
    http: httpx.Client, sb: AltiumSandbox, clock: FakeClock
) -> None:
    ticker = Ticker()
    with IdentitySandbox(sb, monotonic=ticker) as idp:
        form = {"grant_type": "refresh_token", "refresh_token": "unknown"}
        assert token(http, idp, form).status_code == 400
        ticker.now += 0.5
        assert token(http, idp, form).status_code == 400
        limited = token(http, idp, form)
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "1"
        assert limited.json()["error"] == "rate_limited"
        ticker.now += 0.5
        assert token(http, idp, form).status_code == 400

        for _ in range(197):
            ticker.now += 1
            assert token(http, idp, form).status_code == 400
        ticker.now += 1
        limited = token(http, idp, form)
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == str(15 * 60)
        other = token(http, idp, form, client_id="another-app")
        assert other.status_code == 401
        clock.advance(minutes=15)
        assert token(http, idp, form).status_code == 400
        assert idp.token_requests == 204


def test_armed_http_errors_answer_token_requests(http: httpx.Client, idp: IdentitySandbox) -> None:
    code, verifier = sign_in(http, idp)
    idp.http_error(503, retry_after=2)
    failed = redeem(http, idp, code, verifier)
    assert (failed.status_code, failed.headers["Retry-After"]) == (503, "2")
    assert redeem(http, idp, code, verifier).status_code == 200


def test_request_log_never_shows_secrets(http: httpx.Client, idp: IdentitySandbox) -> None:
    code, verifier = sign_in(http, idp)
    answer = redeem(http, idp, code, verifier).json()
    refresh(http, idp, answer["refresh_token"], basic=True)
    redeem(http, idp, code, verifier, secret="wrong-secret")
    log = idp.requests
    assert [(r.method, r.path, r.status) for r in log] == [
        ("GET", "/connect/authorize", 302),
        ("POST", "/connect/token", 200),
        ("POST", "/connect/token", 200),
        ("POST", "/connect/token", 401),
    ]
    assert [r.grant_type for r in log[1:]] == [
        "authorization_code",
        "refresh_token",
        "authorization_code",
    ]
    assert {r.client_id for r in log} == {idp.client_id}
    assert log[1].params["code"] == "[redacted]"
    assert log[3].error == "invalid_client"
    text = repr(log)
    for secret in (
        idp.client_secret,
        "wrong-secret",
        code,
        verifier,
        answer["access_token"],
        answer["refresh_token"],
        answer["id_token"],
    ):
        assert secret not in text
    assert idp.token_requests == 3


def test_altium_tokens_expire_by_the_sandbox_clock(
    http: httpx.Client, sb: AltiumSandbox, clock: FakeClock
) -> None:
    short = sb.make_token(lifetime=timedelta(hours=1))
    forever = sb.make_token(lifetime=None)
    assert "exp" not in claims(forever)
    clock.advance(minutes=59)
    assert who(http, sb, short) == "alice.nguyen"
    clock.advance(minutes=1)
    assert who(http, sb, short) == "AuthExpiredToken"
    sb.add_token(short)
    assert who(http, sb, short) == "alice.nguyen"
    clock.advance(days=400)
    assert who(http, sb, forever) == "alice.nguyen"
    assert who(http, sb, sb.token) == "AuthExpiredToken"


def test_client_credentials_issue_a_supply_only_token(
    http: httpx.Client, sb: AltiumSandbox, idp: IdentitySandbox, clock: FakeClock
) -> None:
    assert "client_credentials" in http.get(idp.discovery_url).json()["grant_types_supported"]
    response = token(http, idp, {"grant_type": "client_credentials", "scope": "supply.domain"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["expires_in"] == 24 * 3600 and answer["scope"] == "supply.domain"
    assert "refresh_token" not in answer and "id_token" not in answer
    payload = claims(answer["access_token"])
    assert payload["scope"] == ["supply.domain"] and "sub" not in payload
    assert payload["client_id"] == idp.client_id
    [issued] = idp.issued_tokens
    assert (issued.grant_type, issued.user) == ("client_credentials", None)

    supply = graphql(http, sb, answer["access_token"], SUPPLY)
    assert supply["data"]["supMultiMatch"][0]["hits"] == 1
    assert who(http, sb, answer["access_token"]) == "AUTH_NOT_AUTHORIZED"
    unscoped = token(http, idp, {"grant_type": "client_credentials"}, basic=True)
    assert unscoped.json()["scope"] == "supply.domain"

    clock.advance(hours=24)
    expired = graphql(http, sb, answer["access_token"], SUPPLY)
    assert expired["errors"][0]["extensions"]["code"] == "AuthExpiredToken"


@pytest.mark.parametrize("scope", ["design.domain", "supply.domain openid",
                                   "supply.domain offline_access", "user.access"])
def test_client_credentials_are_refused_design_and_user_scopes(
    http: httpx.Client, idp: IdentitySandbox, scope: str
) -> None:
    refused = token(http, idp, {"grant_type": "client_credentials", "scope": scope})
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_scope")
    assert idp.issued_tokens == []


def test_client_credentials_need_the_app_secret_and_supply_access(
    http: httpx.Client, idp: IdentitySandbox
) -> None:
    form = {"grant_type": "client_credentials", "scope": "supply.domain"}
    wrong = token(http, idp, form, secret="wrong")
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    idp.register_client("design-only", "s3cret", allow_supply=False)
    refused = token(http, idp, form, client_id="design-only", secret="s3cret")
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_scope")
    assert idp.issued_tokens == []
