"""The poller's lease on a real SQLite file, two holders on two connections, a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from state.claims import Lease
from state.store import Store
from tests.conftest import FakeClock

TIMEOUT = timedelta(seconds=30)


@pytest.fixture
def other(db_path: Path, store: Store) -> Iterator[Store]:
    """A second connection to the same file, as another process would have."""
    with Store.open(db_path) as opened:
        yield opened


def lease(store: Store, clock: FakeClock, pid: int, host: str = "build-01") -> Lease:
    return Lease(store, clock=clock, timeout=TIMEOUT, pid=pid, host=host)


def test_the_second_taker_learns_who_holds_it_since_when(
        store: Store, other: Store, clock: FakeClock) -> None:
    first, second = lease(store, clock, 101), lease(other, clock, 202, "build-02")
    assert first.acquire() is None
    clock.advance(seconds=5)
    held = second.acquire()
    assert held is not None and held.owner == first.owner
    assert held.describe() == "pid 101 on build-01 since 2026-11-28 09:00:00 UTC"
    assert second.holder() == held and first.beat()


def test_a_lease_whose_heartbeat_stopped_is_taken_over_after_the_timeout(
        store: Store, other: Store, clock: FakeClock) -> None:
    first, second = lease(store, clock, 101), lease(other, clock, 202)
    assert first.acquire() is None
    for _ in range(4):  # a live holder beating every 20 s keeps it well past the timeout
        clock.advance(seconds=20)
        assert first.beat() and second.acquire() is not None
    clock.advance(seconds=29)  # the holder stopped beating (killed)
    assert second.acquire() is not None
    clock.advance(seconds=1)
    assert second.acquire() is None
    assert second.taken_over is not None and second.taken_over.pid == 101
    holder = first.holder()
    assert holder is not None and (holder.owner, holder.pid) == (second.owner, 202)
    assert not first.beat(), "a holder that was taken over learns it at its next beat"
    first.release()
    assert second.holder() == holder


def test_release_frees_it_at_once_and_only_for_its_own_holder(
        store: Store, other: Store, clock: FakeClock) -> None:
    first, second = lease(store, clock, 101), lease(other, clock, 202)
    assert first.acquire() is None
    first.release()
    assert first.holder() is None
    assert second.acquire() is None and first.acquire() is not None
    first.release()
    assert first.holder() is not None
