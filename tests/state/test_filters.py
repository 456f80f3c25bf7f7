"""Subscription filters: event groups, document globs, designator prefixes."""

from __future__ import annotations

import pytest

from state.filters import Filters, designator_prefix, wants
from state.model import Event

ALL = ("comments", "bom", "revisions")


def ev(kind: str, **fields: object) -> Event:
    return Event(kind=kind, project_id="P", project="X", at="t", **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(("designator", "prefix"), [("R12", "R"), ("tp3", "TP"), ("U1A", "U"),
                                                    ("RV1", "RV"), ("42", "")])
def test_designator_prefix(designator: str, prefix: str) -> None:
    assert designator_prefix(designator) == prefix


@pytest.mark.parametrize(("groups", "event", "expected"), [
    (ALL, ev("thread_opened", document="Power.SchDoc"), True),
    (("bom",), ev("thread_opened"), False),
    (("comments",), ev("revision_committed"), False),
    (ALL, ev("project_created"), False),
])
def test_groups(groups: tuple[str, ...], event: Event, expected: bool) -> None:
    assert wants(groups, Filters(), event) is expected


@pytest.mark.parametrize(("filters", "document", "expected"), [
    (Filters(include_documents=("*.pcbdoc",)), "Board.PcbDoc", True),
    (Filters(include_documents=("*.PcbDoc",)), "Power.SchDoc", False),
    (Filters(exclude_documents=("power.*",)), "Power.SchDoc", False),
    (Filters(exclude_documents=("power.*",)), "MCU.SchDoc", True),
    (Filters(include_documents=("*.PcbDoc",)), None, False),
])
def test_document_filters(filters: Filters, document: str | None, expected: bool) -> None:
    assert wants(ALL, filters, ev("thread_replied", document=document)) is expected


@pytest.mark.parametrize(("filters", "designator", "expected"), [
    (Filters(include_designators=("u", "J")), "U3", True),
    (Filters(include_designators=("U",)), "R3", False),
    (Filters(exclude_designators=("TP",)), "TP1", False),
    (Filters(exclude_designators=("R",)), "RV1", True),
])
def test_designator_filters(filters: Filters, designator: str, expected: bool) -> None:
    assert wants(ALL, filters, ev("part_added", designator=designator)) is expected


def test_describe() -> None:
    assert Filters(include_documents=("*.PcbDoc",), exclude_designators=("TP",)).describe() == \
        "documents *.PcbDoc; not designators TP"
