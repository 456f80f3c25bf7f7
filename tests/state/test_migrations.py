"""Concurrent first starts: several processes open one fresh database at the same moment.

Each process is a real interpreter opening the store the way every command does; a file
barrier releases them together, so their migrations race for real.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlite_utils import Database

from state.errors import StoreError, StoreLockedError
from state.schema import migrations
from state.store import Store
from tests.conftest import wait_for

PROCESSES = 4
ROUNDS = 10
EVERY_MIGRATION = sorted(m.name for m in migrations.pending(Database(memory=True)))

OPENER = """
import os, sys, time
from pathlib import Path
from state.errors import ReviewBotError
from state.store import Store
db, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
ready.touch()
while not go.exists():
    time.sleep(0.001)
try:
    Store.open(db).close()
except ReviewBotError as exc:
    print(f"Error: {exc}")
    sys.exit(1)
print("opened")
"""


def open_at_once(db: Path, barrier: Path, count: int) -> list[subprocess.CompletedProcess[str]]:
    """Start ``count`` processes that open ``db`` as soon as all are ready, and wait for them."""
    barrier.mkdir()
    go = barrier / "go"
    readies = [barrier / f"ready-{n}" for n in range(count)]
    processes = [subprocess.Popen([sys.executable, "-c", OPENER, str(db), str(ready), str(go)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for ready in readies]
    try:
        wait_for(lambda: all(r.exists() for r in readies), timeout=60)
        go.touch()
        results = []
        for process in processes:
            out, err = process.communicate(timeout=60)
            results.append(subprocess.CompletedProcess(process.args, process.returncode,
                                                       out, err))
        return results
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_four_processes_opening_a_fresh_database_create_the_schema_once(
        tmp_path: Path) -> None:
    failures: list[str] = []
    for n in range(ROUNDS):
        db = tmp_path / f"round-{n}.db"
        for result in open_at_once(db, tmp_path / f"barrier-{n}", PROCESSES):
            if result.returncode != 0 or result.stdout.strip() != "opened":
                failures.append(f"round {n}: {result.stdout.strip()} {result.stderr.strip()}")
        with Store.open(db) as store:
            applied = store.rows("select name, count(*) as n from _sqlite_migrations "
                                 "group by name order by name")
            assert store.db.execute("pragma journal_mode").fetchone()[0] == "wal"
        assert [(r["name"], r["n"]) for r in applied] == [(name, 1) for name in EVERY_MIGRATION]
    assert failures == []


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
