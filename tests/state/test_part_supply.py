"""New parts judged on the kept supply facts, with the quantity the stored BOM places."""

from __future__ import annotations

from datetime import UTC, datetime

from state.clock import stamp
from state.model import Event
from state.part_supply import PartSupply, placements
from state.store import Store
from state.supply import PartKey, Supply, SupplyFacts, Thresholds
from tests.factories import line, snapshot

LONG_AGO = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
"""Months before the tests' events: kept facts are shown however old."""
BUCK = PartKey(mpn="TPS62133RGTR", manufacturer="Texas Instruments")


def facts(key: PartKey, **values: object) -> SupplyFacts:
    return SupplyFacts(key=key, found=True, checked_at=stamp(LONG_AGO),
                       **values)  # type: ignore[arg-type]


def added(designator: str, key: PartKey = BUCK, variant: str = "Default") -> Event:
    return Event(kind="part_added", project_id="P1", project="Motor Controller",
                 at="2026-11-28T09:00:00.000Z", variant=variant, designator=designator,
                 new_mpn=key.mpn, new_manufacturer=key.manufacturer)


def stored_bom(store: Store) -> None:
    """30 fitted bucks and 2 not fitted in Default, 3 in Lite, and a line without an MPN."""
    lines = [line(f"U{i}", BUCK.mpn, manufacturer="Texas Instruments") for i in range(1, 31)]
    lines += [line(f"U{i}", BUCK.mpn, manufacturer="Texas Instruments", fitted=False)
              for i in (31, 32)]
    lines += [line(f"U{i}", "tps62133rgtr ", manufacturer=" TEXAS Instruments", variant="Lite")
              for i in (1, 2, 3)]
    lines.append(line("J1", "", manufacturer=""))
    store.save_snapshot(None, snapshot([], lines), [], detected_at="2026-11-28T08:00:00.000Z")


def test_placements_count_fitted_designators_of_one_variant(store: Store) -> None:
    stored_bom(store)
    bom = store.load_bom("P1")
    assert placements(bom, "Default") == {BUCK.id: 30}
    assert placements(bom, "Lite") == {BUCK.id: 3}, "case and spaces do not matter"
    assert placements(bom, "Nowhere") == {}


def test_a_new_part_is_judged_for_the_quantity_its_variant_places(store: Store) -> None:
    stored_bom(store)
    Supply(store).keep([facts(BUCK, lifecycle="Production", stock=2_500, lead_days=21)],
                       at=LONG_AGO, asked=1)
    parts = PartSupply(store)
    default = parts.judge(added("U1"))
    lite = parts.judge(added("U1", variant="Lite"))
    assert default is not None and lite is not None
    assert (default.quantity, default.reasons) == (30, ("low stock (2,500)",))
    assert (lite.quantity, lite.reasons) == (3, ())
    strict = PartSupply(store, Thresholds(stock_factor=1_000)).judge(added("U1", variant="Lite"))
    assert strict is not None and strict.reasons == ("low stock (2,500)",)


def test_only_a_part_looked_up_that_an_event_puts_in_is_judged(store: Store) -> None:
    stored_bom(store)
    unknown = PartKey(mpn="NEVER-ASKED")
    fresh = PartKey(mpn="NOT-IN-THE-BOM-YET")
    Supply(store).keep([facts(BUCK, lifecycle="EOL"), facts(fresh, lifecycle="NRND")],
                       at=LONG_AGO, asked=2)
    parts = PartSupply(store)
    removed = Event(kind="part_removed", project_id="P1", project="Motor Controller",
                    at="2026-11-28T09:00:00.000Z", variant="Default", designator="U1",
                    old_mpn=BUCK.mpn, old_manufacturer=BUCK.manufacturer)
    assert parts.judge(removed) is None
    assert parts.judge(added("R1", unknown)) is None
    judged = parts.judge(added("U40"))
    assert judged is not None and (judged.reasons, judged.quantity) == (("EOL",), 30)
    newcomer = parts.judge(added("R1", fresh))
    assert newcomer is not None and newcomer.quantity == 1, "never less than one"
    assert parts.facts([unknown, BUCK]) == {BUCK: judged.facts}
