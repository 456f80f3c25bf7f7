"""Payloads: type names, what ``data`` carries, and every kind valid against the schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.webhooks.payload import body, event_type, payload, ping_payload, schema
from state.part_supply import PartSupply
from state.store import Store, StoredEvent
from state.supply import PartKey, Supply, SupplyFacts
from tests.bot.webhooks.history import (
    CHANGED_AT,
    SENT_KINDS,
    log_baseline,
    log_changes,
    validator,
)
from tests.factories import project

LINK = project().url


@pytest.fixture
def logged(store: Store) -> list[StoredEvent]:
    log_baseline(store)
    return log_changes(store)


@pytest.mark.parametrize(("kind", "name"), [
    ("thread_opened", "thread.opened"), ("part_fitted_changed", "part.fitted_changed"),
    ("revision_committed", "revision.committed"), ("comment_edited", "comment.edited"),
])
def test_a_type_is_the_kind_with_its_first_underscore_made_a_dot(kind: str, name: str) -> None:
    assert event_type(kind) == name


def test_the_payload_of_every_kind_validates_against_the_schema(
        logged: list[StoredEvent]) -> None:
    check = validator()
    documents = [payload(s, project()) for s in logged]
    assert {d["type"] for d in documents} == {event_type(k) for k in SENT_KINDS}
    for document in documents:
        check.validate(json.loads(body(document)))


def test_data_is_what_events_json_prints_with_the_project_and_thread_as_objects(
        logged: list[StoredEvent]) -> None:
    stored = next(s for s in logged if s.event.kind == "thread_replied")
    document = payload(stored, project())
    assert document["type"] == "thread.replied" and document["timestamp"] == CHANGED_AT
    data = document["data"]
    event = stored.event.to_dict()
    assert data["project"] == {"id": "P1", "name": event.pop("project"), "link": LINK}
    assert {k: data[k] for k in event} == event
    assert data["id"] == stored.id and data["detected_at"] == stored.detected_at
    assert data["thread"] == {"id": "t1", "number": 1, "link": LINK}


def test_only_thread_events_carry_a_thread_and_unknown_projects_have_no_link(
        logged: list[StoredEvent]) -> None:
    check = validator()
    for stored in logged:
        document = payload(stored, None)
        check.validate(document)
        assert document["data"]["project"]["link"] is None
        assert ("thread" in document["data"]) == stored.event.kind.startswith(
            ("thread_", "comment_"))


def test_the_schema_refuses_what_is_not_a_payload(logged: list[StoredEvent]) -> None:
    check = validator()
    opened = payload(next(s for s in logged if s.event.kind == "thread_opened"), project())
    no_thread = json.loads(body(opened))
    del no_thread["data"]["thread"]
    wrong_kind = json.loads(body(opened))
    wrong_kind["data"]["kind"] = "part_added"
    created = json.loads(body(opened))
    created["type"] = "project.created"
    bad_time = json.loads(body(opened))
    bad_time["timestamp"] = "yesterday"
    for broken in (no_thread, wrong_kind, created, bad_time):
        assert not check.is_valid(broken)


def test_a_ping_validates_and_the_schema_is_draft_2020_12() -> None:
    check = validator()
    check.validate(ping_payload(endpoint_id="ep_abcdefghijkl", at=CHANGED_AT))
    assert schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_a_body_is_compact_json_that_keeps_unicode() -> None:
    assert body({"text": "Ω ok", "n": 1}) == '{"text":"Ω ok","n":1}'


# -- supply facts of part events -------------------------------------------------------------

REPLACED_BY = PartKey(mpn="RC0603-Z", manufacturer="Yageo")
"""The part the logged poll puts in at R1 (in place of RC0603-A)."""


def keep(store: Store, *facts: SupplyFacts) -> None:
    Supply(store).keep(list(facts), at=datetime(2026, 11, 28, 9, tzinfo=UTC), asked=len(facts))


def test_a_part_event_carries_supply_null_until_facts_are_known(
        logged: list[StoredEvent], store: Store) -> None:
    check = validator()
    parts = PartSupply(store)
    for stored in logged:
        document = payload(stored, project(), parts.judge(stored.event))
        check.validate(document)
        if stored.event.kind.startswith("part_"):
            assert document["data"]["supply"] is None
        else:
            assert "supply" not in document["data"]


def test_a_new_part_s_facts_and_risks_go_out_as_the_schema_says(
        logged: list[StoredEvent], store: Store) -> None:
    keep(store, SupplyFacts(key=REPLACED_BY, found=True, checked_at=CHANGED_AT,
                            lifecycle="NRND", stock=40, price_1k=0.0012, currency="USD",
                            lead_days=35, url="https://octopart.com/rc0603-z",
                            manufacturer="YAGEO"),
         SupplyFacts(key=PartKey(mpn="GRM-2", manufacturer="Yageo"), found=False,
                     checked_at=CHANGED_AT))
    check = validator()
    parts = PartSupply(store)
    documents = {(s.event.kind, s.event.designator): payload(s, project(), parts.judge(s.event))
                 for s in logged if s.event.kind.startswith("part_")}
    for document in documents.values():
        check.validate(json.loads(body(document)))
    assert documents[("part_replaced", "R1")]["data"]["supply"] == {
        "mpn": "RC0603-Z", "manufacturer": "YAGEO", "found": True, "lifecycle": "NRND",
        "stock": 40, "median_price_1000": 0.0012, "currency": "USD", "factory_lead_days": 35,
        "url": "https://octopart.com/rc0603-z", "checked_at": CHANGED_AT,
        "risks": ["NRND", "low stock (40)"]}
    unmatched = documents[("part_added", "C2")]["data"]["supply"]
    assert unmatched["found"] is False and unmatched["risks"] == []
    assert documents[("part_removed", "C1")]["data"]["supply"] is None


def test_the_schema_refuses_supply_where_it_does_not_belong(
        logged: list[StoredEvent], store: Store) -> None:
    keep(store, SupplyFacts(key=REPLACED_BY, found=True, checked_at=CHANGED_AT))
    check = validator()
    parts = PartSupply(store)
    replaced = next(s for s in logged if s.event.kind == "part_replaced")
    good = json.loads(body(payload(replaced, project(), parts.judge(replaced.event))))
    without = json.loads(body(good))
    del without["data"]["supply"]
    no_risks = json.loads(body(good))
    del no_risks["data"]["supply"]["risks"]
    removed = next(s for s in logged if s.event.kind == "part_removed")
    on_removed = json.loads(body(payload(removed, project())))
    on_removed["data"]["supply"] = good["data"]["supply"]
    check.validate(good)
    for broken in (without, no_risks, on_removed):
        assert not check.is_valid(broken)
