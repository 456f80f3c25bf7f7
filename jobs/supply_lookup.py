"""After a poll: the parts its events put into a BOM, looked up in Nexar's supply data.

Only ``part_added`` and the new side of ``part_replaced`` are asked for, in one request for
the whole batch of events since the last lookup, and only parts whose facts are older than
a day (``state.supply``): the baseline and unchanged parts never are, since every matched
part counts against the Nexar app's monthly part limit. The alert never waits for this:
delivery posts BOM changes at once and this step, run after it, has their messages brought
up to date when the facts arrive. When the supply API keeps failing for ``GIVE_UP_AFTER``,
those events are left without facts (their messages say so) and later polls go on. Events
detected more than a day ago are never looked up (a first lookup after supply checks were
turned on does not reach back into the log).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from jobs.errors import NexarError
from state.clock import Clock, parse_stamp, stamp, utc_now
from state.outbox import Outbox
from state.store import Store
from state.supply import FRESH, PartKey, Supply, SupplyFacts, new_parts

log = logging.getLogger(__name__)

Match = Callable[[Sequence[PartKey]], Mapping[PartKey, SupplyFacts]]
"""One supply request for these parts: the facts of each answered (a miss with ``found``
False; a part left out was not answered and may be asked again)."""

GIVE_UP_AFTER: Final = timedelta(hours=1)
FAILING_SINCE = "supply_failing_since"
LAST_FAILURE = "supply_last_failure"


@dataclass
class LookupReport:
    """What one lookup did."""

    events: int = 0
    parts: int = 0
    """Distinct new parts in those events."""
    asked: int = 0
    """Parts asked for now (the rest had fresh facts)."""
    matched: int = 0
    refreshed: int = 0
    """Messages already posted that are brought up to date."""
    failed: str | None = None
    gave_up: bool = False

    def health_line(self) -> str:
        line = (f"supply: {self.parts} new parts, {self.asked} asked, {self.matched} "
                "matched")
        if self.failed:
            line += f" (failed: {self.failed}" + ("; left without supply data)" if self.gave_up
                                                  else "; trying again after the next poll)")
        return line


def look_up_new_parts(store: Store, match: Match, *, clock: Clock = utc_now,
                      give_up_after: timedelta = GIVE_UP_AFTER) -> LookupReport:
    """Look up the new parts of every event since the last lookup, in one request."""
    supply = Supply(store)
    mark = supply.mark()
    logged = store.events(after_id=mark)
    if not logged:
        return LookupReport()
    last = logged[-1].id
    now = clock()
    # A first lookup, or one after supply was off for a while, skips what is old news.
    stored = [s for s in logged if now - parse_stamp(s.detected_at) < FRESH]
    keys = new_parts(s.event for s in stored)
    stale = supply.stale(keys, now=now)
    report = LookupReport(events=len(stored), parts=len(keys), asked=len(stale))
    asked = {k.id for k in stale}
    # The messages that may already show these parts without their facts.
    with_parts = [s.id for s in stored if (key := PartKey.of_new_part(s.event)) is not None
                  and key.id in asked]
    if stale:
        try:
            found = match(stale)
        except NexarError as exc:
            report.failed = str(exc)
            since = store.get_meta(FAILING_SINCE)
            if since is None:
                store.set_meta(FAILING_SINCE, stamp(now))
            elif now - parse_stamp(since) >= give_up_after:
                report.gave_up = True
                store.set_meta(FAILING_SINCE, None)
                supply.move_mark(last)
                report.refreshed = Outbox(store).refresh_posts_of(with_parts)
            store.set_meta(LAST_FAILURE, str(exc))
            log.warning("supply lookup of %d part(s) failed: %s", len(stale), exc)
            return report
        supply.keep(list(found.values()), at=now, asked=len(stale))
        report.matched = sum(1 for f in found.values() if f.found)
    store.set_meta(FAILING_SINCE, None)
    supply.move_mark(last)
    report.refreshed = Outbox(store).refresh_posts_of(with_parts)
    return report
