"""The SQLite store on real files: snapshots, events, subscriptions, failures."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from state.diff import diff
from state.errors import NotFoundError, StoreError, StoreLockedError
from state.model import Event
from state.store import PollStatus, Store
from tests.factories import comment, line, project, snapshot, thread

NOW = "2026-11-28T10:00:00.000Z"
BASE = snapshot([thread("t1", 1, comment("c1"), comment("c2")), thread("t2", 2, status=0)],
                [line("R1"), line("C1", "GRM188R71C104KA01D"), line("R1", variant="Lite")])


def changes(store: Store) -> int:
    return int(store.db.conn.total_changes)


def test_open_migrates_once_and_uses_wal(db_path: Path) -> None:
    with Store.open(db_path) as first:
        assert first.db.execute("pragma journal_mode").fetchone()[0] == "wal"
        applied = first.db.execute("select count(*) from _sqlite_migrations").fetchone()[0]
    with Store.open(db_path) as second:
        again = second.db.execute("select count(*) from _sqlite_migrations").fetchone()[0]
    assert applied == again >= 6


def test_snapshot_round_trip(store: Store) -> None:
    store.save_snapshot(None, BASE, diff(None, BASE, at=NOW), detected_at=NOW)
    assert store.load_snapshot("P1") == BASE
    assert store.load_snapshot("P1", with_bom=False) == replace(BASE, bom=None)
    assert store.load_snapshot("nope") is None


def test_unchanged_save_writes_no_rows(store: Store) -> None:
    store.save_snapshot(None, BASE, [], detected_at=NOW)
    before = changes(store)
    store.save_snapshot(BASE, BASE, [], detected_at=NOW)
    assert changes(store) == before


def test_a_change_writes_only_its_rows(store: Store) -> None:
    store.save_snapshot(None, BASE, [], detected_at=NOW)
    t1 = BASE.threads["t1"]
    new = replace(BASE, threads={**BASE.threads,
                                 "t1": replace(t1, comments=(*t1.comments, comment("c3")))})
    before = changes(store)
    store.save_snapshot(BASE, new, diff(BASE, new, at=NOW), detected_at=NOW)
    # the thread row, the new comment row, one event
    assert changes(store) - before == 3
    assert store.load_snapshot("P1") == new


def test_removals_delete_rows(store: Store) -> None:
    store.save_snapshot(None, BASE, [], detected_at=NOW)
    new = replace(BASE, threads={"t2": BASE.threads["t2"]},
                  bom={k: v for k, v in (BASE.bom or {}).items() if k[1] != "C1"})
    store.save_snapshot(BASE, new, diff(BASE, new, at=NOW), detected_at=NOW)
    assert store.load_snapshot("P1") == new
    assert store.db.execute("select count(*) from comments").fetchone()[0] == 1


def test_snapshot_and_events_are_written_together_or_not_at_all(store: Store) -> None:
    store.save_snapshot(None, BASE, [], detected_at=NOW)
    store.db.execute("create trigger refuse before insert on events "
                     "begin select raise(abort, 'disk says no'); end")
    new = replace(BASE, threads={})
    with pytest.raises(StoreError, match="disk says no"):
        store.save_snapshot(BASE, new, diff(BASE, new, at=NOW), detected_at=NOW)
    assert store.load_snapshot("P1") == BASE
    assert store.events() == []


def test_saving_a_bom_against_an_old_snapshot_without_it_is_refused(store: Store) -> None:
    store.save_snapshot(None, BASE, [], detected_at=NOW)
    with pytest.raises(ValueError, match="BOM"):
        store.save_snapshot(replace(BASE, bom=None), BASE, [], detected_at=NOW)


def test_events_round_trip_and_filters(store: Store) -> None:
    events = [
        Event(kind="part_fitted_changed", project_id="P1", project="Motor Controller",
              at="2026-11-28T08:00:00.000Z", variant="Lite", designator="R1", fitted=False),
        Event(kind="thread_opened", project_id="P2", project="Sensor",
              at="2026-11-28T09:00:00.000Z", thread_number=3, text="<!channel> hi"),
    ]
    store.save_snapshot(None, BASE, events, detected_at=NOW)
    stored = store.events()
    assert [s.event for s in stored] == events
    assert [s.id for s in stored] == sorted(s.id for s in stored)
    assert [s.event.kind for s in store.events(since="2026-11-28T08:30:00.000Z")] == [
        "thread_opened"]
    assert [s.event.project for s in store.events(project_id="P1")] == ["Motor Controller"]
    assert store.events(after_id=stored[-1].id) == []


def test_subscriptions_and_last_unsubscribe_forgets_the_snapshot(store: Store) -> None:
    info = project()
    store.subscribe(info, "#hw-review", ["comments", "bom"], at=NOW)
    store.subscribe(info, "C0123ABCD", ["revisions"], at=NOW)
    again = store.subscribe(info, "#hw-review", ["bom"], at=NOW)
    assert again.groups == ("bom",)
    assert store.watched_project_ids() == {"P1"}
    store.save_snapshot(None, BASE, [], detected_at=NOW)
    assert store.unsubscribe("P1", "#hw-review")
    assert store.load_snapshot("P1") is not None
    assert store.unsubscribe("P1", "C0123ABCD")
    assert store.load_snapshot("P1") is None
    assert not store.unsubscribe("P1", "C0123ABCD")
    assert store.watched_project_ids() == set()


def test_subscribe_needs_a_group(store: Store) -> None:
    with pytest.raises(ValueError):
        store.subscribe(project(), "#hw", [], at=NOW)


def test_catalog_sync_writes_only_changes_and_marks_gone(store: Store) -> None:
    a = project(name="Motor Controller")
    b = replace(project(name="Motor Driver"), id="P2", project_id="prj-2")
    store.sync_catalog("https://acme.example", [a, b])
    before = changes(store)
    store.sync_catalog("https://acme.example", [a, b])
    assert changes(store) == before
    store.sync_catalog("https://acme.example", [a])
    assert [p.name for p in store.catalog()] == ["Motor Controller"]


@pytest.mark.parametrize(("query", "found"), [
    ("motor controller", "Motor Controller"),
    ("MOTOR CONTROLLER ", "Motor Controller"),
    ("iot", "IoT Sensor Node"),
])
def test_find_project(store: Store, query: str, found: str) -> None:
    names = ["Motor Controller", "Motor Driver", "IoT Sensor Node"]
    store.sync_catalog("https://acme.example", [
        replace(project(name=n), id=f"P{i}", project_id=f"prj-{i}") for i, n in enumerate(names)])
    assert store.find_project(query).name == found


def test_find_project_misses_explain_themselves(store: Store) -> None:
    names = ["Motor Controller", "Motor Driver", "IoT Sensor Node"]
    store.sync_catalog("https://acme.example", [
        replace(project(name=n), id=f"P{i}", project_id=f"prj-{i}") for i, n in enumerate(names)])
    with pytest.raises(NotFoundError, match="ambiguous") as ambiguous:
        store.find_project("motor")
    assert ambiguous.value.suggestions == ["Motor Controller", "Motor Driver"]
    with pytest.raises(NotFoundError, match="no project named") as missing:
        store.find_project("Motr Controler")
    assert "Motor Controller" in missing.value.suggestions


def test_poll_status_is_one_row_rewritten(store: Store) -> None:
    for i in range(3):
        store.record_poll(PollStatus(started_at=NOW, finished_at=NOW, projects=i, events=0,
                                     failures={"X": "boom"} if i == 2 else {}))
    last = store.last_poll()
    assert last is not None and (last.projects, dict(last.failures)) == (2, {"X": "boom"})
    assert store.db.execute("select count(*) from poll_status").fetchone()[0] == 1


def test_locked_database_is_a_clear_error(db_path: Path) -> None:
    Store.open(db_path).close()
    holder = sqlite3.connect(db_path)
    holder.execute("begin exclusive")
    try:
        with Store.open(db_path, timeout=0.1) as store, pytest.raises(StoreLockedError,
                                                                      match="locked"):
            store.record_poll(PollStatus(started_at=NOW, finished_at=NOW, projects=0,
                                         events=0, failures={}))
    finally:
        holder.rollback()
        holder.close()


def test_unreadable_database_is_a_clear_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"unreadable|not a database"):
        Store.open(garbage)


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(tmp_path / "nowhere" / "bot.db")


def test_a_renamed_project_renames_its_subscriptions(store: Store) -> None:
    store.subscribe(project(), "#hw", ["comments"], at=NOW)
    store.sync_catalog("https://acme.example", [project(name="Motor Controller v2")])
    assert [s.project for s in store.subscriptions()] == ["Motor Controller v2"]


def test_a_transaction_holds_the_write_lock_from_its_start(db_path: Path) -> None:
    """Read, then write, with another writer in between: the other one waits (here it gives
    up after its short busy timeout), never the transaction that read first."""
    first = Store.open(db_path)
    other = Store.open(db_path, timeout=0.2)
    try:
        with first.transaction():
            assert first.get_meta("seen") is None
            with pytest.raises(StoreLockedError):
                other.set_meta("elsewhere", "1")
            first.set_meta("seen", "1")
        assert other.get_meta("seen") == "1" and other.get_meta("elsewhere") is None
        with pytest.raises(RuntimeError), first.transaction():
            first.set_meta("rolled", "back")
            raise RuntimeError("undo")
        assert first.get_meta("rolled") is None
        other.set_meta("elsewhere", "2")
    finally:
        first.close()
        other.close()


def test_bom_counts_match_the_loaded_lines(store: Store) -> None:
    store.save_snapshot(None, BASE, [], detected_at=NOW)
    lines = store.load_bom("P1")
    assert lines
    expected: dict[str, tuple[int, int, int]] = {}
    for variant in {b.variant for b in lines.values()}:
        mine = [b for b in lines.values() if b.variant == variant]
        parts = {(b.component_id, b.mpn) for b in mine}
        placed = sum(1 for b in mine if b.fitted)
        expected[variant] = (len(parts), placed, len(mine) - placed)
    counted = store.bom_counts("P1")
    assert {v: (c.lines, c.placed, c.not_fitted) for v, c in counted.items()} == expected
    assert store.bom_counts("nope") == {}
