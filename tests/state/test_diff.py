"""The diff as a table of cases, plus properties over generated snapshots."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from state.diff import diff
from state.model import EVENT_KINDS, Event, Snapshot
from tests.factories import comment, line, snapshot, thread

NOW = "2026-11-28T10:00:00.000Z"
LATER = "2026-11-28T09:30:00.000Z"

BASE_THREAD = thread("t1", 1, comment("c1", "Check the clearance"))
BASE = snapshot([BASE_THREAD], [line("R1"), line("C1", "GRM188R71C104KA01D",
                                                 manufacturer="Murata")])


def kinds(old: Snapshot | None, new: Snapshot) -> list[str]:
    return [e.kind for e in diff(old, new, at=NOW)]


CASES = [
    ("unchanged", BASE, []),
    ("new thread", snapshot([BASE_THREAD, thread("t2", 2)], BASE.bom.values()),
     ["thread_opened"]),
    ("new thread already answered and resolved",
     snapshot([BASE_THREAD, thread("t2", 2, comment("a"), comment("b"), status=0)],
              BASE.bom.values()),
     ["thread_opened", "thread_replied", "thread_resolved"]),
    ("new thread assigned", snapshot([BASE_THREAD, thread("t2", 2, assigned="dave")],
                                     BASE.bom.values()),
     ["thread_opened", "thread_assigned"]),
    ("reply", snapshot([replace(BASE_THREAD, comments=(*BASE_THREAD.comments,
                                                        comment("c2", "Fixed", at=LATER)))],
                       BASE.bom.values()),
     ["thread_replied"]),
    ("two replies", snapshot([replace(BASE_THREAD, comments=(
        *BASE_THREAD.comments, comment("c2"), comment("c3")))], BASE.bom.values()),
     ["thread_replied", "thread_replied"]),
    ("edit", snapshot([replace(BASE_THREAD, comments=(comment("c1", "Check clearance 0.2"),))],
                      BASE.bom.values()),
     ["comment_edited"]),
    ("resolve", snapshot([replace(BASE_THREAD, status=0)], BASE.bom.values()),
     ["thread_resolved"]),
    ("assign", snapshot([thread("t1", 1, comment("c1", "Check the clearance"),
                                assigned="dave")], BASE.bom.values()),
     ["thread_assigned"]),
    ("delete", snapshot([], BASE.bom.values()), ["thread_deleted"]),
    ("part added", snapshot([BASE_THREAD], [*BASE.bom.values(), line("U1", "LM358DR")]),
     ["part_added"]),
    ("part removed", snapshot([BASE_THREAD], [line("R1")]), ["part_removed"]),
    ("part replaced by MPN", snapshot([BASE_THREAD], [line("R1", "RC0603FR-0747KL"),
                                                      BASE.bom[("Default", "C1")]]),
     ["part_replaced"]),
    ("part replaced by component only",
     snapshot([BASE_THREAD], [line("R1", component_id="cmp-other"),
                              BASE.bom[("Default", "C1")]]),
     ["part_replaced"]),
    ("not fitted", snapshot([BASE_THREAD], [line("R1", fitted=False),
                                            BASE.bom[("Default", "C1")]]),
     ["part_fitted_changed"]),
    ("replaced and not fitted", snapshot([BASE_THREAD], [
        line("R1", "RC0603FR-0747KL", fitted=False), BASE.bom[("Default", "C1")]]),
     ["part_replaced", "part_fitted_changed"]),
    ("same designator in a new variant", snapshot([BASE_THREAD], [
        *BASE.bom.values(), line("R1", variant="Lite")]), ["part_added"]),
    ("description only: no event", snapshot([BASE_THREAD], [
        replace(line("R1"), description="10k 1%"), BASE.bom[("Default", "C1")]]), []),
    ("new revision", snapshot([BASE_THREAD], BASE.bom.values(), revision="r2"),
     ["revision_committed"]),
    ("BOM not read this poll: no BOM events", snapshot([BASE_THREAD], None), []),
]


@pytest.mark.parametrize(("old", "new", "expected"),
                         [(BASE, new, expected) for _, new, expected in CASES],
                         ids=[c[0] for c in CASES])
def test_diff_cases(old: Snapshot, new: Snapshot, expected: list[str]) -> None:
    assert kinds(old, new) == expected


def test_reopen_after_resolve() -> None:
    resolved = snapshot([replace(BASE_THREAD, status=0)], BASE.bom.values())
    assert kinds(resolved, BASE) == ["thread_reopened"]


def test_unassign_is_reported_with_no_assignee() -> None:
    assigned = snapshot([thread("t1", 1, comment("c1", "Check the clearance"),
                                assigned="dave")], BASE.bom.values())
    [event] = diff(assigned, BASE, at=NOW)
    assert (event.kind, event.assignee) == ("thread_assigned", None)


def test_baseline_is_silent_but_marks_the_project() -> None:
    events = diff(None, BASE, at=NOW)
    assert [(e.kind, e.project, e.at) for e in events] == [
        ("project_created", "Motor Controller", NOW)]


def test_thread_event_fields() -> None:
    new = snapshot([replace(BASE_THREAD, comments=(
        *BASE_THREAD.comments, comment("c2", "Moved <@U123> & fixed", author="bob",
                                       at=LATER)))], BASE.bom.values())
    [event] = diff(BASE, new, at=NOW)
    expected = {
        "kind": "thread_replied", "project_id": "P1", "project": "Motor Controller",
        "at": LATER, "thread_id": "t1", "thread_number": 1, "comment_id": "c2",
        "author": "Bob", "author_email": "bob@example.com", "text": "Moved <@U123> & fixed",
        "document": "Main.PcbDoc", "variant": None, "designator": None,
    }
    actual = event.to_dict()
    assert {key: actual[key] for key in expected} == expected


def test_part_event_fields() -> None:
    new = snapshot([BASE_THREAD], [line("R1", "ERJ-3EKF1002V", manufacturer="Panasonic"),
                                   BASE.bom[("Default", "C1")]], updated_at=LATER)
    [event] = diff(BASE, new, at=NOW)
    assert (event.variant, event.designator, event.old_mpn, event.new_mpn,
            event.old_manufacturer, event.new_manufacturer, event.at) == (
        "Default", "R1", "RC0603FR-0710KL", "ERJ-3EKF1002V", "Yageo", "Panasonic", LATER)


def test_fitted_event_carries_the_new_state() -> None:
    new = snapshot([BASE_THREAD], [line("R1", fitted=False), BASE.bom[("Default", "C1")]])
    [event] = diff(BASE, new, at=NOW)
    assert event.fitted is False


def test_revision_event_fields() -> None:
    [event] = diff(BASE, snapshot([BASE_THREAD], BASE.bom.values(), revision="r9"), at=NOW)
    assert (event.revision_id, event.text, event.author) == ("r9", "commit r9", "Carol")


# -- properties ----------------------------------------------------------------------------

MPNS = ["RC0603FR-0710KL", "GRM188R71C104KA01D", "LM358DR", "BSS138", "TPS62130RGTR"]
thread_numbers = st.integers(min_value=1, max_value=8)


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    numbers = draw(st.sets(thread_numbers, max_size=6))
    threads = [
        thread(f"t{n}", n, *[comment(f"t{n}-c{i}", draw(st.sampled_from(["ok", "no", "?"])))
                             for i in range(draw(st.integers(1, 3)))],
               status=draw(st.sampled_from([0, 1])),
               assigned=draw(st.sampled_from([None, "dave", "erin"])))
        for n in sorted(numbers)
    ]
    designators = draw(st.sets(st.sampled_from([f"R{i}" for i in range(1, 9)]), max_size=6))
    bom = [line(d, draw(st.sampled_from(MPNS)), variant=draw(st.sampled_from(["A", "B"])),
                fitted=draw(st.booleans())) for d in sorted(designators)]
    return snapshot(threads, bom, revision=draw(st.sampled_from(["r1", "r2"])))


@given(snapshots())
def test_diff_of_a_snapshot_with_itself_is_empty(snap: Snapshot) -> None:
    assert diff(snap, snap, at=NOW) == []


@st.composite
def changes(draw: st.DrawFn) -> tuple[Snapshot, Snapshot, list[tuple[str, object]]]:
    """An old snapshot, a new one made by random edits, and the events those edits imply."""
    old = draw(snapshots())
    expected: list[tuple[str, object]] = []
    threads = dict(old.threads)
    for tid, t in sorted(old.threads.items()):
        op = draw(st.sampled_from(["keep", "reply", "edit", "toggle", "assign", "delete"]))
        if op == "reply":
            k = draw(st.integers(1, 3))
            extra = tuple(comment(f"{tid}-new{i}") for i in range(k))
            threads[tid] = replace(t, comments=t.comments + extra)
            expected += [("thread_replied", c.comment_id) for c in extra]
        elif op == "edit":
            first = t.comments[0]
            threads[tid] = replace(t, comments=(replace(first, text=first.text + "!"),
                                                *t.comments[1:]))
            expected.append(("comment_edited", first.comment_id))
        elif op == "toggle":
            threads[tid] = replace(t, status=1 - t.status)
            expected.append(("thread_resolved" if t.status == 1 else "thread_reopened", tid))
        elif op == "assign":
            who = "zed" if t.assigned_to is None else None
            threads[tid] = thread(tid, t.number, *t.comments, status=t.status, assigned=who)
            expected.append(("thread_assigned", tid))
        elif op == "delete":
            del threads[tid]
            expected.append(("thread_deleted", tid))
    for n in draw(st.sets(st.integers(20, 25), max_size=2)):
        threads[f"t{n}"] = thread(f"t{n}", n)
        expected.append(("thread_opened", f"t{n}"))
    bom = dict(old.bom or {})
    for key, b in sorted((old.bom or {}).items()):
        op = draw(st.sampled_from(["keep", "replace", "remove", "fit"]))
        if op == "replace":
            bom[key] = replace(b, mpn=b.mpn + "-X", component_id=b.component_id + "-X")
            expected.append(("part_replaced", key))
        elif op == "remove":
            del bom[key]
            expected.append(("part_removed", key))
        elif op == "fit":
            bom[key] = replace(b, fitted=not b.fitted)
            expected.append(("part_fitted_changed", key))
    for d in draw(st.sets(st.sampled_from(["U1", "U2", "J1"]), max_size=2)):
        bom[("A", d)] = line(d, variant="A")
        expected.append(("part_added", ("A", d)))
    revision = old.project.revision
    new_rev = draw(st.sampled_from(["r1", "r2", "r3"]))
    if revision is None or new_rev != revision.revision_id:
        expected.append(("revision_committed", new_rev))
    new = Snapshot(project=snapshot(revision=new_rev).project, threads=threads, bom=bom,
                   documents=old.documents)
    return old, new, expected


def _identity(event_kind: str, e: Event) -> object:
    if event_kind in ("thread_replied", "comment_edited"):
        return e.comment_id
    if event_kind.startswith("thread_"):
        return e.thread_id
    if event_kind.startswith("part_"):
        return (e.variant, e.designator)
    return e.revision_id


@settings(max_examples=300)
@given(changes())
def test_every_change_is_reported_exactly_once(
        case: tuple[Snapshot, Snapshot, list[tuple[str, object]]]) -> None:
    old, new, expected = case
    got = [(e.kind, _identity(e.kind, e)) for e in diff(old, new, at=NOW)]
    assert sorted(got, key=repr) == sorted(expected, key=repr)
    assert {kind for kind, _ in got} <= set(EVENT_KINDS)
