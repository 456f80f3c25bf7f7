"""The sandbox's supply data over real HTTP: ``supMultiMatch`` on the real schema, matching,
limits, the ``supply.domain`` scope, counting, and the faults every request can meet."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from graphql import parse, validate

from sandbox import AltiumSandbox
from sandbox.altium.seed import CATALOG
from sandbox.altium.server import TOKEN_SCOPES
from sandbox.altium.supply import RISKY
from tests.sandbox.test_altium import _select_all

MATCH = """
query Match($queries: [SupPartMatchQuery!]!) {
  supMultiMatch(queries: $queries) {
    reference hits error
    parts {
      mpn manufacturer { name } octopartUrl totalAvail
      medianPrice1000 { price currency } estimatedFactoryLeadDays
      specs { attribute { shortname } value displayValue }
    }
  }
}
"""
SUPPLY_SCOPES = (*TOKEN_SCOPES, "supply.domain")


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, headers={"Accept": "application/json"}) as client:
        yield client


@pytest.fixture
def supply_token(altium: AltiumSandbox) -> str:
    return altium.make_token(scopes=SUPPLY_SCOPES)


def ask(http: httpx.Client, altium: AltiumSandbox, token: str, queries: list[dict[str, Any]],
        *, document: str = MATCH, url: str | None = None) -> dict[str, Any]:
    """The whole GraphQL answer to a query that must validate against the real schema."""
    assert validate(altium.schema, parse(document)) == []
    response = http.post(url or altium.api_url,
                         json={"query": document, "variables": {"queries": queries}},
                         headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def matches(http: httpx.Client, altium: AltiumSandbox, token: str,
            queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    body = ask(http, altium, token, queries)
    assert "errors" not in body, body["errors"]
    found: list[dict[str, Any]] = body["data"]["supMultiMatch"]
    return found


def lifecycle(part: dict[str, Any]) -> str | None:
    return next((s["value"] for s in part["specs"]
                 if s["attribute"]["shortname"] == "lifecyclestatus"), None)


def test_every_mpn_the_demo_uses_has_supply_data(
    http: httpx.Client, altium: AltiumSandbox, supply_token: str
) -> None:
    mpns = [(maker, mpn) for spec in CATALOG for maker, mpn in spec.parts]
    mpns += [("Texas Instruments", "TPS62133RGTR"), ("Keystone Electronics", "5019")]
    answers: list[dict[str, Any]] = []
    for start in range(0, len(mpns), 100):
        chunk = mpns[start:start + 100]
        answers += matches(http, altium, supply_token, [
            {"mpn": mpn, "manufacturer": maker, "limit": 1, "reference": str(start + i)}
            for i, (maker, mpn) in enumerate(chunk)])
    assert [a["reference"] for a in answers] == [str(i) for i in range(len(mpns))]
    for (maker, mpn), answer in zip(mpns, answers, strict=True):
        assert answer["hits"] == 1 and answer["error"] is None, mpn
        [part] = answer["parts"]
        assert (part["mpn"], part["manufacturer"]["name"]) == (mpn, maker)
        assert lifecycle(part) == "Production" and part["totalAvail"] >= 5_000
        assert part["octopartUrl"].startswith("https://octopart.com/")
    assert altium.supply.requests == 1 + len(mpns) // 100
    assert altium.supply.matched == len(mpns)


def test_the_scenario_parts_and_the_risky_ones_carry_their_facts(
    http: httpx.Client, altium: AltiumSandbox, supply_token: str
) -> None:
    [swap, test_point, *risky] = matches(http, altium, supply_token, [
        {"mpn": mpn, "limit": 1} for mpn in ("TPS62133RGTR", "5019", *RISKY)])
    [part] = swap["parts"]
    assert part["manufacturer"] == {"name": "Texas Instruments"}
    assert part["medianPrice1000"] == {"price": 1.08, "currency": "USD"}
    assert (part["totalAvail"], part["estimatedFactoryLeadDays"]) == (14_200, 42)
    assert test_point["parts"][0]["estimatedFactoryLeadDays"] is None
    facts = {a["parts"][0]["mpn"]: (lifecycle(a["parts"][0]), a["parts"][0]["totalAvail"])
             for a in risky}
    assert facts["TPS54331DR"] == ("NRND", 18_500)
    assert facts["MAX3232ECPE+"] == ("EOL", 1_150)
    assert facts["LPC1768FBD100"] == ("Obsolete", 0)
    assert facts["ATMEGA328P-AU"] == ("Production", 0)
    obsolete = next(a for a in risky if a["parts"][0]["mpn"] == "LPC1768FBD100")["parts"][0]
    assert obsolete["medianPrice1000"] is None


def test_matching_by_mpn_manufacturer_limit_and_reference(
    http: httpx.Client, altium: AltiumSandbox, supply_token: str
) -> None:
    answers = matches(http, altium, supply_token, [
        {"mpn": "tps62133rgtr ", "limit": 1, "reference": "a"},
        {"mpn": "BSS138", "limit": 1, "reference": "b"},
        {"mpn": "BSS138", "limit": 5, "reference": "c"},
        {"mpn": "BSS138", "manufacturer": "Diodes Incorporated", "limit": 1, "reference": "d"},
        {"mpn": "BSS138", "manufacturer": "ON Semiconductor", "limit": 1, "reference": "e"},
        {"mpn": "TPS62133RGTR", "manufacturer": "Murata", "limit": 1, "reference": "f"},
        {"mpn": "NO-SUCH-PART-1", "limit": 1, "reference": "g"},
        {"sku": "296-TPS62133RGTR-ND", "limit": 1, "reference": "h"},
        {"manufacturer": "Texas Instruments", "limit": 1, "reference": "i"},
        {"mpnOrSku": "5019", "limit": 1},
    ])
    by_ref = {a["reference"]: a for a in answers}
    assert [a["reference"] for a in answers] == [*"abcdefghi", None]
    assert by_ref["a"]["parts"][0]["mpn"] == "TPS62133RGTR"
    assert (by_ref["b"]["hits"], len(by_ref["b"]["parts"])) == (2, 1)
    assert (by_ref["c"]["hits"], len(by_ref["c"]["parts"])) == (2, 2)
    assert by_ref["d"]["parts"][0]["manufacturer"]["name"] == "Diodes Incorporated"
    assert by_ref["e"]["parts"][0]["manufacturer"]["name"] == "onsemi"
    for missing in "fgh":
        assert (by_ref[missing]["hits"], by_ref[missing]["parts"]) == (0, [])
        assert by_ref[missing]["error"] is None
    assert by_ref["i"]["error"] and by_ref["i"]["parts"] == []
    assert answers[-1]["hits"] == 1
    assert altium.supply.matched == 1 + 1 + 2 + 1 + 1 + 1


def test_tests_change_facts_add_parts_and_fail_matches(
    http: httpx.Client, altium: AltiumSandbox, supply_token: str
) -> None:
    altium.supply.set("TPS62133RGTR", lifecycle="NRND", stock=0, lead_days=140)
    altium.supply.add("ACME-42", "Acme Components", stock=12, price=None, lifecycle=None)
    altium.supply.match_error("5019", "Timed out matching the part.")
    first = matches(http, altium, supply_token, [
        {"mpn": m, "limit": 1} for m in ("TPS62133RGTR", "ACME-42", "5019")])
    swap, acme, failed = (a["parts"] for a in first)
    assert (lifecycle(swap[0]), swap[0]["totalAvail"]) == ("NRND", 0)
    assert swap[0]["estimatedFactoryLeadDays"] == 140
    assert acme[0]["specs"] == [] and acme[0]["totalAvail"] == 12
    assert failed == [] and first[2]["error"] == "Timed out matching the part."
    again = matches(http, altium, supply_token, [{"mpn": "5019", "limit": 1}])
    assert again[0]["error"] is None and again[0]["hits"] == 1
    assert altium.supply.remove("ACME-42") == 1
    assert matches(http, altium, supply_token, [{"mpn": "ACME-42"}])[0]["hits"] == 0
    with pytest.raises(KeyError):
        altium.supply.set("NOT-THERE", stock=1)
    with pytest.raises(ValueError, match="lifecycle"):
        altium.supply.set("5019", lifecycle="Active")


def test_limits_are_checked_as_nexar_does(
    http: httpx.Client, altium: AltiumSandbox, supply_token: str
) -> None:
    too_many = ask(http, altium, supply_token, [{"mpn": "5019", "limit": 101}])
    assert too_many["data"] is None
    assert too_many["errors"][0]["message"] == "limit must be between 0 and 100"
    assert too_many["errors"][0]["extensions"]["schemaName"] == "Supply"
    total = ask(http, altium, supply_token, [{"mpn": "5019", "limit": 1}] * 101)
    assert total["data"] is None and "100" in total["errors"][0]["message"]
    default_limit = ask(http, altium, supply_token, [{"mpn": "5019"}] * 34)
    assert default_limit["data"] is None
    assert altium.supply.matched == 0
    assert altium.supply.requests == 3


def test_supply_needs_the_supply_scope_and_the_discovery_endpoint(
    http: httpx.Client, altium: AltiumSandbox, supply_token: str
) -> None:
    refused = ask(http, altium, altium.token, [{"mpn": "5019", "limit": 1}])
    assert refused["data"] is None
    [error] = refused["errors"]
    assert error["extensions"]["code"] == "AUTH_NOT_AUTHORIZED"
    assert error["path"] == ["supMultiMatch"]
    regional = ask(http, altium, supply_token, [{"mpn": "5019", "limit": 1}],
                   url=altium.regional_url)
    assert regional["errors"][0]["message"] == "Token validation failed"
    assert altium.supply.requests == 2 and altium.supply.matched == 0
    app = altium.add_app_token("app-token", scopes=["supply.domain"])
    assert matches(http, altium, app, [{"mpn": "5019", "limit": 1}])[0]["hits"] == 1
    design = ask(http, altium, app, [], document="{ desWorkspaceInfos { name } }")
    assert design["errors"][0]["extensions"]["code"] == "AUTH_NOT_AUTHORIZED"
    both = ask(http, altium, supply_token, [{"mpn": "5019", "limit": 1}],
               document=MATCH.replace("supMultiMatch(queries: $queries) {",
                                      "desWorkspaceInfos { name }\n"
                                      "  supMultiMatch(queries: $queries) {"))
    assert "errors" not in both and both["data"]["desWorkspaceInfos"]


def test_every_supply_part_field_resolves_schema_valid(
    http: httpx.Client, altium: AltiumSandbox, supply_token: str
) -> None:
    selection = _select_all(altium.schema, "SupPart", 1)
    document = ("query Match($queries: [SupPartMatchQuery!]!) {\n"
                f"  supMultiMatch(queries: $queries) {{ hits parts {selection} }}\n}}")
    body = ask(http, altium, supply_token, [{"mpn": "TPS62133RGTR", "limit": 1}],
               document=document)
    assert "errors" not in body, body["errors"][:3]
    assert body["data"]["supMultiMatch"][0]["parts"][0]["mpn"] == "TPS62133RGTR"


def test_faults_reach_supply_requests(
    http: httpx.Client, altium: AltiumSandbox, supply_token: str
) -> None:
    queries = [{"mpn": "5019", "limit": 1}]
    altium.faults.http_error(503)
    failed = http.post(altium.api_url, json={"query": MATCH, "variables": {"queries": queries}},
                       headers={"Authorization": f"Bearer {supply_token}"})
    assert failed.status_code == 503
    altium.faults.drop_connection()
    with pytest.raises(httpx.TransportError):
        ask(http, altium, supply_token, queries)
    altium.faults.graphql_error(code="INTERNAL_ERROR")
    assert ask(http, altium, supply_token, queries)["data"] is None
    altium.faults.latency(0.3)
    started = time.monotonic()
    assert matches(http, altium, supply_token, queries)[0]["hits"] == 1
    assert time.monotonic() - started >= 0.3
    assert [r.fault for r in altium.requests][-4:] == [
        "http_error", "drop_connection", "graphql_error", None]
