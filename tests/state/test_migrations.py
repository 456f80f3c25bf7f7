"""Concurrent first starts: several processes open one fresh database at the same moment.

Each process is a real interpreter opening the store the way every command does, its
imports done beforehand; each round hands them one fresh path at once, so their
migrations race for real.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from state.errors import StoreError, StoreLockedError
from state.migrations import migrations
from state.store import Store
from tests.conftest import warm_processes

PROCESSES = 4
ROUNDS = 60
EVERY_MIGRATION = sorted(m.name for m in migrations.pending(Database(memory=True)))

OPENER = """
import sys
from state.errors import ReviewBotError
from state.store import Store
print("ready", flush=True)
for line in sys.stdin:
    try:
        with Store.open(line.strip()) as store:
            store.subscriptions()  # a first read at once, as every command makes
        print("opened", flush=True)
    except ReviewBotError as exc:
        print(f"Error: {exc}", flush=True)
"""
"""Opens each database path read from stdin, its imports done beforehand, and answers one
line: ``opened`` or the error."""


def test_four_processes_opening_a_fresh_database_create_the_schema_once(
        tmp_path: Path) -> None:
    failures: list[str] = []
    with warm_processes(OPENER, PROCESSES) as release:
        for n in range(ROUNDS):
            db = tmp_path / f"round-{n}.db"
            failures += [f"round {n}: {a}" for a in release(db) if a != "opened"]
            with Store.open(db) as store:
                applied = store.rows("select name, count(*) as n from _sqlite_migrations "
                                     "group by name order by name")
                assert store.db.execute("pragma journal_mode").fetchone()[0] == "wal"
            assert [(r["name"], r["n"]) for r in applied] == [(m, 1) for m in EVERY_MIGRATION]
    assert failures == [], f"{len(failures)} of {PROCESSES * ROUNDS} opens failed"


def test_a_migration_that_fails_says_which_and_keeps_nothing_of_it(db_path: Path) -> None:
    squatter = sqlite3.connect(db_path)
    squatter.execute("create table catalog (something_else text)")
    squatter.commit()
    squatter.close()
    with pytest.raises(StoreError, match=r"could not apply m002_catalog, nothing of it was "
                                         r"kept: table .?catalog.? already exists"):
        Store.open(db_path)
    check = sqlite3.connect(db_path)
    try:
        tables = {r[0] for r in check.execute("select name from sqlite_master")}
    finally:
        check.close()
    assert tables == {"catalog"}


def test_a_database_locked_while_its_tables_are_set_up_says_so(db_path: Path) -> None:
    holder = sqlite3.connect(db_path)
    holder.execute("begin exclusive")
    try:
        with pytest.raises(StoreLockedError, match="locked by another process while setting "
                                                   "up its tables"):
            Store.open(db_path, timeout=0.1)
    finally:
        holder.rollback()
        holder.close()
    with Store.open(db_path) as store:
        assert {r["name"] for r in store.rows("select name from _sqlite_migrations")} == set(
            EVERY_MIGRATION)
