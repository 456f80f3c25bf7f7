"""Nexar JSON to state records."""

from __future__ import annotations

import pytest

from jobs import records
from state.supply import PartKey, SupplyFacts


@pytest.mark.parametrize(("raw", "normal"), [
    ("2026-11-28T09:15:02.123Z", "2026-11-28T09:15:02.123Z"),
    ("2026-11-28T09:15:02Z", "2026-11-28T09:15:02.000Z"),
    ("2026-11-28T09:15:02.1234567+01:00", "2026-11-28T08:15:02.123Z"),
    ("2026-11-28T09:15:02", "2026-11-28T09:15:02.000Z"),
])
def test_times_are_normalised(raw: str, normal: str) -> None:
    assert records.normalize_time(raw) == normal


@pytest.mark.parametrize(("user", "name"), [
    ({"firstName": "Alice", "lastName": "Nguyen", "userName": "alice"}, "Alice Nguyen"),
    ({"firstName": None, "lastName": None, "userName": "alice"}, "alice"),
    ({"email": "x@example.com"}, None),
])
def test_person_names(user: dict[str, str | None], name: str | None) -> None:
    found = records.person(user)
    assert found is not None and found.name == name


def test_person_with_nothing_is_none() -> None:
    assert records.person({"userId": None, "email": None}) is None
    assert records.person(None) is None


def component(cid: str, *parts: tuple[str, str, int]) -> dict[str, object]:
    return {"id": cid, "name": cid, "comment": "", "description": "d",
            "manufacturerParts": [{"companyName": c, "partNumber": p, "priority": pr}
                                  for c, p, pr in parts]}


def test_bom_lines_one_per_designator_with_primary_part_and_alternates() -> None:
    items = [
        {"quantity": 2, "component": component("res", ("Vishay", "CRCW060310K0FKEA", 2),
                                                ("Yageo", "RC0603FR-0710KL", 1)),
         "bomItemInstances": [
             {"designator": "R1", "isFitted": True, "alternateComponent": None},
             {"designator": "R2", "isFitted": False,
              "alternateComponent": component("alt", ("Panasonic", "ERJ-3EKF1002V", 1))},
         ]},
    ]
    lines = {b.designator: b for b in records.bom_lines("Default", items)}
    assert (lines["R1"].mpn, lines["R1"].manufacturer, lines["R1"].fitted) == (
        "RC0603FR-0710KL", "Yageo", True)
    assert (lines["R2"].mpn, lines["R2"].component_id, lines["R2"].fitted) == (
        "ERJ-3EKF1002V", "alt", False)


def test_component_without_manufacturer_parts() -> None:
    [b] = records.bom_lines("Default", [{"component": component("tp"), "bomItemInstances": [
        {"designator": "TP1", "isFitted": True}]}])
    assert (b.mpn, b.manufacturer) == (None, None)


def test_thread_comments_sorted_and_document_named() -> None:
    raw = {
        "commentThreadId": "t1", "threadNumber": 4, "status": 1,
        "createdAt": "2026-11-28T09:00:00Z", "modifiedAt": "2026-11-28T09:05:00Z",
        "createdBy": {"userName": "alice"}, "modifiedBy": {"userName": "bob"},
        "assignedTo": None, "context": {"documentId": "d1"},
        "comments": [
            {"commentId": "c2", "text": "second", "createdAt": "2026-11-28T09:05:00Z",
             "modifiedAt": "2026-11-28T09:05:00Z", "createdBy": {"userName": "bob"}},
            {"commentId": "c1", "text": "first", "createdAt": "2026-11-28T09:00:00Z",
             "modifiedAt": "2026-11-28T09:00:00Z", "createdBy": {"userName": "alice"}},
        ],
    }
    t = records.thread(raw, {"d1": "Power.SchDoc"})
    assert [c.text for c in t.comments] == ["first", "second"]
    assert (t.document_name, t.number, t.is_open) == ("Power.SchDoc", 4, True)


def test_documents_from_pcb_and_schematics() -> None:
    variants = [{"pcb": {"documentId": "p", "documentName": "Board.PcbDoc"},
                 "schematics": [{"documentId": "s", "documentName": "MCU.SchDoc"}]},
                {"pcb": None, "schematics": []}]
    assert records.documents(variants) == {"p": "Board.PcbDoc", "s": "MCU.SchDoc"}


def _spec(shortname: str, value: str, display: str = "") -> dict[str, object]:
    return {"attribute": {"shortname": shortname}, "value": value, "displayValue": display}


def test_supply_facts_from_a_match() -> None:
    key = PartKey("TPS62133RGTR", "TI")
    match = {"reference": "0", "hits": 2, "error": None, "parts": [{
        "mpn": "TPS62133RGTR", "manufacturer": {"name": "Texas Instruments"},
        "octopartUrl": "https://octopart.com/tps62133rgtr", "totalAvail": 0,
        "medianPrice1000": {"price": 1, "currency": "EUR"}, "estimatedFactoryLeadDays": 98,
        "specs": [_spec("case_package", "VQFN"), _spec("lifecyclestatus", "nrnd")]}]}
    facts = records.supply_facts(key, match, "2026-11-28T09:00:00.000000Z")
    assert facts == SupplyFacts(
        key=key, found=True, checked_at="2026-11-28T09:00:00.000000Z", lifecycle="NRND",
        stock=0, price_1k=1.0, currency="EUR", lead_days=98,
        url="https://octopart.com/tps62133rgtr", manufacturer="Texas Instruments")


@pytest.mark.parametrize(("specs", "lifecycle"), [
    ([], None),
    ([_spec("lifecyclestatus", "")], None),
    ([_spec("lifecyclestatus", "", "Obsolete")], "Obsolete"),
    ([_spec("lifecyclestatus", "Production (Last Time Buy)")], "Production (Last Time Buy)"),
])
def test_lifecycle_from_specs(specs: list[dict[str, object]], lifecycle: str | None) -> None:
    assert records.lifecycle(specs) == lifecycle


def test_supply_facts_without_parts_or_facts() -> None:
    key = PartKey("NOPE")
    none = records.supply_facts(key, {"hits": 0, "parts": []}, "t")
    assert none == SupplyFacts(key=key, found=False, checked_at="t")
    bare = records.supply_facts(key, {"hits": 1, "parts": [{
        "mpn": "NOPE", "manufacturer": {"name": ""}, "totalAvail": None,
        "medianPrice1000": None, "specs": []}]}, "t")
    assert bare == SupplyFacts(key=key, found=True, checked_at="t")
