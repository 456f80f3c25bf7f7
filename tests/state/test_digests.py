"""Digest settings and the period ledger: atomic claims, leases, takeovers."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from state.claims import Claims, Owner, period_claim
from state.clock import stamp
from state.digests import LEASE, Digests, DigestSetting
from state.store import Store
from tests.conftest import FakeClock
from tests.state.test_claims import gone_pid

CHANNEL = "#design-review"
PERIOD = "digest:2026-11-27T09:00:00.000Z"
DAILY = DigestSetting(kind="daily", time="09:00", tz="Europe/Berlin")


def test_the_migration_adds_settings_and_ledger(store: Store) -> None:
    tables = set(store.db.table_names())
    assert {"digest_settings", "digest_ledger"} <= tables
    assert store.db.table("digest_ledger").pks == ["channel", "period"]


def test_settings_set_get_list_delete(store: Store, clock: FakeClock) -> None:
    digests = Digests(store)
    assert digests.get(CHANNEL) is None
    weekly = DigestSetting(kind="weekly", day="mon", time="08:30", tz="UTC", quiet=True)
    digests.set(CHANNEL, DAILY, at=clock())
    digests.set("#leads", weekly, at=clock())
    stored = digests.get("#leads")
    assert stored is not None and stored.setting == weekly
    assert [c.channel for c in digests.all()] == [CHANNEL, "#leads"]
    assert digests.delete("#leads") is True
    assert digests.delete("#leads") is False
    assert [c.channel for c in digests.all()] == [CHANNEL]


def test_setting_the_same_schedule_again_keeps_its_time(store: Store, clock: FakeClock) -> None:
    digests = Digests(store)
    first = digests.set(CHANNEL, DAILY, at=clock())
    clock.advance(hours=2)
    assert digests.set(CHANNEL, DAILY, at=clock()).updated_at == first.updated_at
    changed = digests.set(CHANNEL, DigestSetting(kind="daily", time="10:00", tz="UTC"),
                          at=clock())
    assert changed.updated_at == stamp(clock())


@pytest.mark.parametrize("kwargs", [
    {"kind": "weekly", "time": "09:00", "tz": "UTC"},
    {"kind": "daily", "time": "09:00", "tz": "UTC", "day": "mon"},
    {"kind": "weekly", "time": "09:00", "tz": "UTC", "day": "someday"},
    {"kind": "hourly", "time": "09:00", "tz": "UTC"},
])
def test_inconsistent_settings_are_refused(kwargs: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        DigestSetting(**kwargs)  # type: ignore[arg-type]


def test_a_period_is_claimed_once_and_stays_posted(store: Store, clock: FakeClock) -> None:
    digests = Digests(store)
    claim = digests.claim(CHANNEL, PERIOD, now=clock())
    assert claim is not None and not claim.took_over
    assert digests.claim(CHANNEL, PERIOD, now=clock()) is None
    assert digests.claim("#other", PERIOD, now=clock()) is not None
    digests.mark_posted(claim, ts="1700000000.000100", now=clock())
    clock.advance(days=3)
    assert digests.claim(CHANNEL, PERIOD, now=clock()) is None
    entry = digests.entry(CHANNEL, PERIOD)
    assert entry is not None and entry.state == "posted" and entry.ts == "1700000000.000100"


def test_a_claim_that_never_posted_is_taken_over_after_the_lease(
        store: Store, clock: FakeClock) -> None:
    digests = Digests(store)
    crashed = digests.claim(CHANNEL, PERIOD, now=clock())
    assert crashed is not None
    clock.advance(seconds=LEASE.total_seconds() - 60)
    assert digests.claim(CHANNEL, PERIOD, now=clock()) is None
    clock.advance(seconds=61)
    second = digests.claim(CHANNEL, PERIOD, now=clock())
    assert second is not None and second.took_over
    assert digests.claim(CHANNEL, PERIOD, now=clock()) is None
    digests.release(crashed)
    assert digests.claimed_by(CHANNEL, PERIOD) == second.token, "a stale claimer cannot release"
    digests.release(second)
    assert digests.claimed_by(CHANNEL, PERIOD) is None
    assert digests.entry(CHANNEL, PERIOD) is None, "nothing went out"
    assert digests.claim(CHANNEL, PERIOD, now=clock()) is not None


def test_a_period_claimed_by_a_process_that_is_gone_is_taken_over_at_once(
        store: Store, clock: FakeClock) -> None:
    digests = Digests(store)
    killed = replace(Owner.new(), pid=gone_pid())
    assert Claims(store).take(period_claim(CHANNEL, PERIOD), killed, now=clock(),
                              lease=LEASE).granted
    claim = digests.claim(CHANNEL, PERIOD, now=clock())
    assert claim is not None and claim.took_over
    assert digests.claimed_by(CHANNEL, PERIOD) == claim.token
    digests.mark_posted(claim, ts="1.1", now=clock())
    assert Claims(store).held() == [], "posting gives the claim back"
    assert digests.claim(CHANNEL, PERIOD, now=clock()) is None


def test_last_posted_skips_quiet_periods(store: Store, clock: FakeClock) -> None:
    digests = Digests(store)
    start = clock()
    for day, ts in ((0, "1.1"), (1, None)):
        period_start = start + timedelta(days=day)
        claim = digests.claim(CHANNEL, f"digest:{stamp(period_start)}", now=clock(),
                              start=period_start, end=period_start + timedelta(days=1))
        assert claim is not None
        digests.mark_posted(claim, ts=ts, now=clock())
    last = digests.last_posted(CHANNEL)
    assert last is not None and last.ts == "1.1"
    assert last.period_end == stamp(start + timedelta(days=1))
    assert [e.ts for e in digests.entries(CHANNEL)] == ["1.1", None]


def test_racing_claims_from_many_connections_grant_one(db_path: Path, store: Store,
                                                      clock: FakeClock) -> None:
    barrier = threading.Barrier(8)
    granted: list[bool] = []
    lock = threading.Lock()

    def race() -> None:
        with Store.open(db_path) as own:
            barrier.wait()
            claim = Digests(own).claim(CHANNEL, PERIOD, now=clock())
        with lock:
            granted.append(claim is not None)

    threads = [threading.Thread(target=race) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(granted) == [False] * 7 + [True]
