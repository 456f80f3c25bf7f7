"""The retry schedule: exponential, jittered 20 % either way, first retry within 10 s."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from bot.webhooks.backoff import SCHEDULE, delay, given_up, retry_at


class Edge(random.Random):
    """A random source that always jitters to one end."""

    def __init__(self, end: float) -> None:
        super().__init__(0)
        self.end = end

    def uniform(self, a: float, b: float) -> float:
        return a if self.end < 0 else b


def test_the_schedule_before_jitter() -> None:
    expected = (timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30),
                timedelta(hours=2), timedelta(hours=5), timedelta(hours=10))
    assert expected == SCHEDULE


def test_jitter_stays_within_a_fifth_either_way_and_the_last_wait_repeats() -> None:
    rng = random.Random(7)
    for failures in range(1, 12):
        base = SCHEDULE[min(failures, len(SCHEDULE)) - 1]
        for _ in range(50):
            assert base * 0.8 <= delay(failures, rng) <= base * 1.2
    assert delay(1, Edge(-1)) == timedelta(seconds=4)
    assert delay(1, Edge(1)) == timedelta(seconds=6) <= timedelta(seconds=10)
    assert delay(40, Edge(1)) == timedelta(hours=12)


def test_the_same_seed_gives_the_same_schedule() -> None:
    now = datetime(2026, 11, 28, 9, tzinfo=UTC)
    first = [retry_at(now, n, random.Random(3)) for n in range(1, 8)]
    assert first == [retry_at(now, n, random.Random(3)) for n in range(1, 8)]


def test_three_days_of_failing_is_enough() -> None:
    start = datetime(2026, 11, 28, 9, tzinfo=UTC)
    assert not given_up(start, start + timedelta(days=3) - timedelta(seconds=1))
    assert given_up(start, start + timedelta(days=3))
