"""Claims on posting work: one holder at a time, renewed while held, taken over once the
holder's lease ran out or its process is gone, released only by their owner."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from state.claims import Claims, Owner, channel_claim, process_alive
from state.clock import stamp
from state.store import Store
from tests.conftest import FakeClock

NAME = channel_claim("#design-review")
LEASE = timedelta(minutes=2)


def gone_pid() -> int:
    """The pid of a process of this machine that has exited (and was reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_the_migration_adds_the_claims_table(store: Store) -> None:
    assert "claims" in store.db.table_names()
    assert store.db.table("claims").pks == ["name"]


def test_a_live_holder_keeps_its_claim_and_is_named(store: Store, clock: FakeClock) -> None:
    claims = Claims(store)
    mine, other = Owner.new(), Owner.new()
    assert claims.take(NAME, mine, now=clock(), lease=LEASE).granted
    refused = claims.take(NAME, other, now=clock(), lease=LEASE)
    assert not refused.granted and refused.holder is not None
    assert refused.holder.owner == mine.id
    assert refused.holder.describe() == (f"pid {os.getpid()} on host {mine.host} since "
                                         "2026-11-28 09:00:00 UTC")
    assert claims.take(channel_claim("#hw-review"), other, now=clock(), lease=LEASE).granted


def test_taking_again_renews_and_renewing_extends_the_lease(store: Store,
                                                           clock: FakeClock) -> None:
    claims, mine, other = Claims(store), Owner.new(), Owner.new()
    assert claims.take(NAME, mine, now=clock(), lease=LEASE).granted
    for _ in range(3):
        clock.advance(seconds=90)
        assert claims.renew(NAME, mine, now=clock(), lease=LEASE)
    assert not claims.take(NAME, other, now=clock(), lease=LEASE).granted
    clock.advance(seconds=90)
    assert claims.take(NAME, mine, now=clock(), lease=LEASE).granted
    holder = claims.holder(NAME)
    assert holder is not None and holder.expires_at == stamp(clock() + LEASE)
    assert holder.claimed_at == "2026-11-28T09:00:00.000Z", "renewing keeps 'since'"


def test_an_expired_claim_is_taken_over_and_its_old_owner_has_lost_it(
        store: Store, clock: FakeClock) -> None:
    claims, crashed, next_one = Claims(store), Owner.new(), Owner.new()
    assert claims.take(NAME, crashed, now=clock(), lease=LEASE).granted
    clock.advance(seconds=LEASE.total_seconds() - 1)
    assert not claims.take(NAME, next_one, now=clock(), lease=LEASE).granted
    clock.advance(seconds=1)
    taken = claims.take(NAME, next_one, now=clock(), lease=LEASE)
    assert taken.granted and taken.lapsed is not None and taken.lapsed.owner == crashed.id
    assert not claims.renew(NAME, crashed, now=clock(), lease=LEASE)
    assert not claims.release(NAME, crashed.id), "a stale owner cannot release"
    holder = claims.holder(NAME)
    assert holder is not None and holder.owner == next_one.id
    assert claims.release(NAME, next_one.id) and claims.holder(NAME) is None


def test_a_claim_whose_process_is_gone_is_taken_over_at_once(store: Store,
                                                             clock: FakeClock) -> None:
    claims, me = Claims(store), Owner.new()
    killed = replace(Owner.new(), pid=gone_pid())
    assert not process_alive(killed.pid)
    assert claims.take(NAME, killed, now=clock(), lease=LEASE).granted
    taken = claims.take(NAME, me, now=clock(), lease=LEASE)
    assert taken.granted and taken.lapsed is not None and taken.lapsed.pid == killed.pid


def test_a_killed_child_not_yet_reaped_counts_as_gone(store: Store, clock: FakeClock) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        claims, me = Claims(store), Owner.new()
        assert claims.take(NAME, replace(me, id="child", pid=child.pid), now=clock(),
                           lease=LEASE).granted
        assert not claims.take(NAME, me, now=clock(), lease=LEASE).granted, "alive"
        child.kill()
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # a zombie until reaped
        assert claims.take(NAME, me, now=clock(), lease=LEASE).granted
    finally:
        child.kill()
        child.wait()


def test_a_holder_on_another_machine_waits_for_its_lease(store: Store,
                                                         clock: FakeClock) -> None:
    claims, me = Claims(store), Owner.new()
    elsewhere = replace(Owner.new(), pid=gone_pid(), host="ci-3", machine="ci-3/pid:[1]")
    assert claims.take(NAME, elsewhere, now=clock(), lease=LEASE).granted
    refused = claims.take(NAME, me, now=clock(), lease=LEASE)
    assert not refused.granted and refused.holder is not None
    assert "on host ci-3" in refused.holder.describe()
    clock.advance(seconds=LEASE.total_seconds())
    assert claims.take(NAME, me, now=clock(), lease=LEASE).granted


def test_another_worker_of_the_same_process_is_alive(store: Store, clock: FakeClock) -> None:
    claims = Claims(store)
    assert claims.take(NAME, Owner.new(), now=clock(), lease=LEASE).granted
    assert not claims.take(NAME, Owner.new(), now=clock(), lease=LEASE).granted


def test_racing_takers_on_many_connections_grant_one(db_path: Path, store: Store,
                                                     clock: FakeClock) -> None:
    barrier = threading.Barrier(8)
    granted: list[bool] = []
    lock = threading.Lock()

    def race() -> None:
        with Store.open(db_path) as own:
            barrier.wait()
            taken = Claims(own).take(NAME, Owner.new(), now=clock(), lease=LEASE)
        with lock:
            granted.append(taken.granted)

    threads = [threading.Thread(target=race) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(granted) == [False] * 7 + [True]


def test_taking_within_a_wait_tries_again_until_the_holder_lets_go(store: Store,
                                                                  clock: FakeClock) -> None:
    claims = Claims(store)
    first, second = Owner.new(), Owner.new()
    claims.take("channel:#hw", first, now=clock(), lease=LEASE)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 3:
            claims.release("channel:#hw", first.id)

    taken = claims.take_within("channel:#hw", second, clock=clock, lease=LEASE, wait=10.0,
                               sleep=sleep, poll=0.5)
    assert taken.granted and slept == [0.5, 0.5, 0.5]
    slept.clear()
    refused = claims.take_within("channel:#hw", first, clock=clock, lease=LEASE, wait=1.0,
                                 sleep=slept.append, poll=0.5)
    assert not refused.granted and refused.holder is not None
    assert refused.holder.owner == second.id and slept == [0.5, 0.5]
