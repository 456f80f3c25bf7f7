"""Supply facts for the parts a BOM change brings in: lifecycle, stock, price, lead time.

Nexar's supply API answers by manufacturer part (``PartKey``); every part it matches counts
against the Nexar app's monthly part limit. So only the parts a poll's events put into a
BOM (``part_added``, and the new side of ``part_replaced``) are looked up, each at most once
a day (``FRESH``): the answers are kept here, misses included (``SupplyFacts.found`` False),
with how many parts were asked each month (``usage``).

``risks`` is the pure judgement of one part against the thresholds: why it is a supply
risk, in a few words each, or nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from state.clock import parse_stamp, stamp
from state.model import Event
from state.store import Store

FRESH: Final = timedelta(hours=24)
"""How long a looked-up part's facts are used before it is asked again."""
LIFECYCLES: Final = ("Production", "New", "NRND", "EOL", "Obsolete")
"""Nexar's lifecycle values (the spec ``lifecyclestatus``)."""
SUPPLY_MARK: Final = "supply_event_id"
"""The last event whose new parts were looked up (or given up on)."""
SUPPLY_STATE: Final = "supply_state"
"""``on``, or ``off: <why>``, as the last supply lookup found it."""


@dataclass(frozen=True, order=True)
class PartKey:
    """A manufacturer part as it is asked for: its MPN and, when known, its manufacturer."""

    mpn: str
    manufacturer: str | None = None

    @property
    def id(self) -> str:
        """The key in the cache: case and surrounding spaces do not matter."""
        return f"{(self.manufacturer or '').strip().casefold()}|{self.mpn.strip().casefold()}"

    @classmethod
    def of_new_part(cls, event: Event) -> PartKey | None:
        """The part an event puts into a BOM (None for other events, or without an MPN)."""
        if event.kind not in ("part_added", "part_replaced") or not event.new_mpn:
            return None
        return cls(mpn=event.new_mpn, manufacturer=event.new_manufacturer)


@dataclass(frozen=True)
class SupplyFacts:
    """What the supply data says of one part when it was checked; ``found`` False: no
    match (shown as "no supply data"). Every fact may be missing."""

    key: PartKey
    found: bool
    checked_at: str
    lifecycle: str | None = None
    stock: int | None = None
    """Units in stock across distributors (``totalAvail``)."""
    price_1k: float | None = None
    """Median price per unit at 1,000 units (``medianPrice1000``)."""
    currency: str | None = None
    lead_days: int | None = None
    """Estimated factory lead time in days."""
    url: str | None = None
    manufacturer: str | None = None
    """The manufacturer as the supply data names it."""

    def to_dict(self) -> dict[str, Any]:
        """The facts as plain values, for webhooks and ``events --json``."""
        return {"mpn": self.key.mpn, "manufacturer": self.manufacturer or self.key.manufacturer,
                "found": self.found, "lifecycle": self.lifecycle, "stock": self.stock,
                "median_price_1000": self.price_1k, "currency": self.currency,
                "factory_lead_days": self.lead_days, "url": self.url,
                "checked_at": self.checked_at}


@dataclass(frozen=True)
class Thresholds:
    """When a new part counts as a supply risk."""

    stock_factor: int = 100
    """Stock below the BOM quantity times this is a risk (0 stock always is)."""
    max_lead_weeks: float = 12.0
    healthy: tuple[str, ...] = ("Production", "New")


def risks(facts: SupplyFacts, *, quantity: int, thresholds: Thresholds = Thresholds()
          ) -> tuple[str, ...]:
    """Why ``facts`` make a part a supply risk for a BOM using ``quantity`` of it."""
    if not facts.found:
        return ()
    found: list[str] = []
    if facts.lifecycle and facts.lifecycle not in thresholds.healthy:
        found.append(facts.lifecycle)
    if facts.stock is not None:
        if facts.stock <= 0:
            found.append("no stock")
        elif facts.stock < max(1, quantity) * thresholds.stock_factor:
            found.append(f"low stock ({facts.stock:,})")
    if facts.lead_days is not None and facts.lead_days > thresholds.max_lead_weeks * 7:
        found.append(f"lead time {round(facts.lead_days / 7)} weeks")
    return tuple(found)


def new_parts(events: Iterable[Event]) -> list[PartKey]:
    """The distinct parts ``events`` put into a BOM, in order."""
    seen: dict[str, PartKey] = {}
    for event in events:
        key = PartKey.of_new_part(event)
        if key is not None:
            seen.setdefault(key.id, key)
    return list(seen.values())


class Supply:
    """The supply cache and the month's usage, in the same SQLite file as the events."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    def facts(self, keys: Iterable[PartKey], *, now: datetime | None = None,
              fresh: timedelta = FRESH) -> dict[PartKey, SupplyFacts]:
        """The kept facts of ``keys`` (only those checked within ``fresh`` of ``now``, when
        given)."""
        wanted = {k.id: k for k in keys}
        if not wanted:
            return {}
        found: dict[PartKey, SupplyFacts] = {}
        ids = list(wanted)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self.store.rows(
                f"select * from supply_parts where id in ({','.join('?' * len(chunk))})", chunk)
            for row in rows:
                facts = _facts(row, wanted[row["id"]])
                if now is None or now - parse_stamp(facts.checked_at) < fresh:
                    found[facts.key] = facts
        return found

    def stale(self, keys: Iterable[PartKey], *, now: datetime,
              fresh: timedelta = FRESH) -> list[PartKey]:
        """``keys`` without facts checked within ``fresh``: those to ask for."""
        keys = list(keys)
        known = self.facts(keys, now=now, fresh=fresh)
        return [k for k in keys if k not in known]

    def keep(self, facts: Sequence[SupplyFacts], *, at: datetime, asked: int) -> None:
        """Keep the answers of one request that asked for ``asked`` parts; the month's
        usage counts the parts it matched (those count against the part limit)."""
        month = stamp(at)[:7]
        matched = sum(1 for f in facts if f.found)
        with self.store.transaction():
            if facts:
                self.db.table("supply_parts").upsert_all(
                    [_row(f) for f in facts], pk="id")
            self.db.execute(
                "insert into supply_usage (month, requests, asked, matched) values (?, 1, ?, ?) "
                "on conflict(month) do update set requests = requests + 1, "
                "asked = asked + excluded.asked, matched = matched + excluded.matched",
                [month, asked, matched])

    def usage(self, month: str) -> Mapping[str, int]:
        """``requests``, parts ``asked`` and ``matched`` in a month (``2026-12``)."""
        rows = self.store.rows("select * from supply_usage where month = ?", [month])
        if not rows:
            return {"requests": 0, "asked": 0, "matched": 0}
        return {k: int(rows[0][k]) for k in ("requests", "asked", "matched")}

    # -- the poll's new parts --------------------------------------------------------------

    def mark(self) -> int:
        """The last event whose new parts were looked up."""
        return int(self.store.get_meta(SUPPLY_MARK) or 0)

    def move_mark(self, event_id: int) -> None:
        self.store.set_meta(SUPPLY_MARK, str(event_id))

    def state(self) -> tuple[bool, str] | None:
        """Whether the last lookup found supply checks on, and why not; None before any."""
        value = self.store.get_meta(SUPPLY_STATE)
        if value is None:
            return None
        return (True, "") if value == "on" else (False, value.removeprefix("off: "))

    def note_state(self, on: bool, why: str) -> None:
        self.store.set_meta(SUPPLY_STATE, "on" if on else f"off: {why}")


def _row(f: SupplyFacts) -> dict[str, Any]:
    return {"id": f.key.id, "mpn": f.key.mpn, "manufacturer": f.key.manufacturer,
            "found": int(f.found), "checked_at": f.checked_at, "lifecycle": f.lifecycle,
            "stock": f.stock, "price_1k": f.price_1k, "currency": f.currency,
            "lead_days": f.lead_days, "url": f.url, "supplier_manufacturer": f.manufacturer}


def _facts(r: Mapping[str, Any], key: PartKey) -> SupplyFacts:
    return SupplyFacts(key=key, found=bool(r["found"]), checked_at=r["checked_at"],
                       lifecycle=r["lifecycle"], stock=r["stock"], price_1k=r["price_1k"],
                       currency=r["currency"], lead_days=r["lead_days"], url=r["url"],
                       manufacturer=r["supplier_manufacturer"])
