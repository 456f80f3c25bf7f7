"""``NexarClient.supply_match`` against the sandbox over real HTTP: one request for many
parts, misses kept, per-match errors asked again, scope and faults translated."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jobs.errors import NexarAuthError, NexarQueryError, NexarUnavailableError
from jobs.nexar import SUPPLY_BATCH, NexarClient, RetryPolicy
from sandbox import AltiumSandbox
from sandbox.altium.seed import CATALOG
from sandbox.altium.server import TOKEN_SCOPES
from state.supply import PartKey, SupplyFacts, risks

AT = "2026-11-28T09:00:00.000000Z"
SWAP = PartKey("TPS62133RGTR", "Texas Instruments")
CATALOG_MPNS = [mpn for spec in CATALOG for _, mpn in spec.parts]


@pytest.fixture
def supply_token(altium: AltiumSandbox) -> str:
    return altium.make_token(scopes=(*TOKEN_SCOPES, "supply.domain"))


@pytest.fixture
def supply(altium: AltiumSandbox, supply_token: str, sleeps: list[float]
           ) -> Iterator[NexarClient]:
    with NexarClient(token=supply_token, api_url=altium.api_url, retry=RetryPolicy(attempts=3),
                     sleep=sleeps.append, timeout=5.0) as nexar:
        yield nexar


def test_many_parts_in_one_request_at_the_discovery_endpoint(
        supply: NexarClient, altium: AltiumSandbox) -> None:
    keys = [SWAP, PartKey("5019", "Keystone Electronics"), PartKey("NO-SUCH-PART-9"),
            PartKey("BSS138", "Diodes Incorporated"), PartKey("tps62133rgtr ", "texas instruments"),
            PartKey("TPS54331DR")]
    found = supply.supply_match(keys, at=AT)
    assert altium.supply.requests == 1 and supply.requests == 1
    [request] = altium.requests
    assert request.path == "/graphql" and request.operation_name == "SupplyMatch"
    sent = request.variables["queries"]
    assert len(sent) == 5 and {q["limit"] for q in sent} == {1}
    assert [q["reference"] for q in sent] == ["0", "1", "2", "3", "4"]
    assert sent[0]["manufacturer"] == "Texas Instruments" and "manufacturer" not in sent[2]
    assert set(found) == set(keys)
    assert altium.supply.matched == 4

    assert found[SWAP] == SupplyFacts(
        key=SWAP, found=True, checked_at=AT, lifecycle="Production", stock=14_200,
        price_1k=1.08, currency="USD", lead_days=42, url=altium.supply.get(SWAP.mpn).url,
        manufacturer="Texas Instruments")
    assert found[keys[4]].key == keys[4] and found[keys[4]].stock == 14_200
    assert found[keys[1]].lead_days is None and found[keys[1]].found
    assert found[keys[2]] == SupplyFacts(key=keys[2], found=False, checked_at=AT)
    assert found[keys[3]].manufacturer == "Diodes Incorporated"
    assert found[keys[5]].lifecycle == "NRND"
    assert risks(found[keys[5]], quantity=1) == ("NRND",)


def test_changed_facts_show_as_risks(supply: NexarClient, altium: AltiumSandbox) -> None:
    altium.supply.set("TPS62133RGTR", lifecycle="EOL", stock=0, lead_days=140)
    facts = supply.supply_match([SWAP], at=AT)[SWAP]
    assert (facts.lifecycle, facts.stock, facts.lead_days) == ("EOL", 0, 140)
    assert risks(facts, quantity=1) == ("EOL", "no stock", "lead time 20 weeks")


def test_nothing_to_ask_sends_nothing(supply: NexarClient, altium: AltiumSandbox) -> None:
    assert supply.supply_match([], at=AT) == {}
    blank = PartKey("  ")
    assert supply.supply_match([blank], at=AT) == {
        blank: SupplyFacts(key=blank, found=False, checked_at=AT)}
    assert altium.supply.requests == 0 and altium.request_count == 0


def test_a_whole_bom_is_asked_in_requests_of_at_most_a_hundred_parts(
        supply: NexarClient, altium: AltiumSandbox) -> None:
    keys = [PartKey(mpn, maker) for spec in CATALOG for maker, mpn in spec.parts]
    keys += [PartKey(f"NO-SUCH-PART-{i}") for i in range(150 - len(keys))]
    found = supply.supply_match(keys, at=AT)
    assert len(found) == 150 and sum(f.found for f in found.values()) == len(CATALOG_MPNS)
    assert altium.supply.requests == 2
    assert [len(r.variables["queries"]) for r in altium.requests] == [SUPPLY_BATCH, 50]


def test_a_match_with_an_error_is_left_out_to_be_asked_again(
        supply: NexarClient, altium: AltiumSandbox) -> None:
    test_point = PartKey("5019", "Keystone Electronics")
    altium.supply.match_error("5019", "Timed out matching the part.")
    first = supply.supply_match([SWAP, test_point], at=AT)
    assert set(first) == {SWAP}
    again = supply.supply_match([test_point], at=AT)
    assert again[test_point].found


def test_a_token_without_supply_scope_is_a_clear_auth_error(
        client: NexarClient, altium: AltiumSandbox) -> None:
    with pytest.raises(NexarAuthError, match=r"supply\.domain") as caught:
        client.supply_match([SWAP], at=AT)
    assert "auth login --supply" in str(caught.value)
    assert altium.supply.requests == 1 and altium.supply.matched == 0


def test_faults_are_retried_then_translated(
        supply: NexarClient, altium: AltiumSandbox, sleeps: list[float]) -> None:
    altium.faults.http_error(503)
    assert supply.supply_match([SWAP], at=AT)[SWAP].found
    assert len(sleeps) == 1
    altium.faults.drop_connection()
    assert supply.supply_match([SWAP], at=AT)[SWAP].found
    altium.faults.http_error(503, times=None)
    with pytest.raises(NexarUnavailableError, match="after 3 attempts"):
        supply.supply_match([SWAP], at=AT)
    altium.faults.clear()
    altium.faults.graphql_error()
    with pytest.raises(NexarQueryError, match="supply query failed"):
        supply.supply_match([SWAP], at=AT)


def test_an_expired_token_is_an_auth_error(supply: NexarClient, altium: AltiumSandbox,
                                           supply_token: str) -> None:
    altium.expire_token(supply_token)
    with pytest.raises(NexarAuthError, match="expired"):
        supply.supply_match([SWAP], at=AT)
