"""When an endpoint that failed is tried again: an exponential schedule with jitter.

Failures back off per endpoint, not per message, so a dead endpoint costs one request per
retry. Before jitter the waits are 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, then 10 h for as
long as it keeps failing; each is moved by up to 20 % either way (from the random source
passed in, so tests choose it), which keeps many endpoints that failed together from
coming back together. The first retry therefore comes within 10 s. An endpoint failing
for ``GIVE_UP`` (3 days) without a success is disabled by the sender.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Final

SCHEDULE: Final[tuple[timedelta, ...]] = (
    timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
    timedelta(hours=5), timedelta(hours=10))
"""The wait after the 1st, 2nd, ... consecutive failure; the last one repeats."""

JITTER: Final = 0.2
"""Each wait is moved by up to this fraction of it, either way."""

GIVE_UP: Final = timedelta(days=3)
"""An endpoint failing this long without one success is disabled."""


def delay(failures: int, rng: random.Random) -> timedelta:
    """The wait after ``failures`` consecutive failures (1 for the first), with jitter."""
    base = SCHEDULE[min(max(failures, 1), len(SCHEDULE)) - 1]
    return base * (1 + rng.uniform(-JITTER, JITTER))


def retry_at(now: datetime, failures: int, rng: random.Random) -> datetime:
    """When to try again after the ``failures``-th consecutive failure, which was ``now``."""
    return now + delay(failures, rng)


def given_up(failing_since: datetime, now: datetime) -> bool:
    """Whether an endpoint failing since ``failing_since`` has failed long enough to stop."""
    return now - failing_since >= GIVE_UP
