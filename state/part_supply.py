"""The supply facts of the parts events put into a BOM, judged as the stored BOM places them.

The BOM change message, the digest, webhooks and ``events --json`` judge a new part the
same way: its kept facts (``Supply.facts`` whatever their age: showing a fact costs
nothing, only asking for one counts against the part limit) against the ``Thresholds``,
with the quantity its variant places (the fitted designators carrying that part in the
stored BOM). A ``PartSupply`` keeps what it read for its own life: make one per run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from state.model import Bom, Event
from state.store import Store
from state.supply import PartKey, Supply, SupplyFacts, Thresholds, risks


def placements(bom: Bom, variant: str | None) -> Counter[str]:
    """How many fitted designators of ``variant`` carry each part, by ``PartKey.id``."""
    counts: Counter[str] = Counter()
    for line in bom.values():
        if line.variant == variant and line.fitted and line.mpn:
            counts[PartKey(mpn=line.mpn, manufacturer=line.manufacturer).id] += 1
    return counts


@dataclass(frozen=True)
class Judged:
    """A new part's facts, the BOM quantity they were judged for, and why it is a risk."""

    facts: SupplyFacts
    quantity: int
    reasons: tuple[str, ...]


class PartSupply:
    """Kept supply facts and stored BOM quantities, each read once, and the judgement."""

    def __init__(self, store: Store, thresholds: Thresholds | None = None) -> None:
        self.store = store
        self.supply = Supply(store)
        self.thresholds = thresholds or Thresholds()
        self._facts: dict[str, SupplyFacts | None] = {}
        self._placements: dict[tuple[str, str | None], Counter[str]] = {}

    def facts(self, keys: Iterable[PartKey]) -> dict[PartKey, SupplyFacts]:
        """The kept facts of ``keys`` (those never looked up are left out)."""
        keys = list(keys)
        unread = {k.id: k for k in keys if k.id not in self._facts}
        if unread:
            found = {f.key.id: f for f in self.supply.facts(unread.values()).values()}
            for key_id in unread:
                self._facts[key_id] = found.get(key_id)
        shown: dict[PartKey, SupplyFacts] = {}
        for key in keys:
            facts = self._facts[key.id]
            if facts is not None:
                shown[key] = facts
        return shown

    def quantity(self, project_id: str, variant: str | None, key: PartKey) -> int:
        """The fitted designators of ``variant`` carrying ``key`` in the stored BOM (at
        least 1: a part just added is used at least once)."""
        cached = (project_id, variant)
        if cached not in self._placements:
            bom = self.store.load_bom(project_id)
            self._placements[cached] = placements(bom, variant)
        return max(1, self._placements[cached][key.id])

    def quantities(self, project_id: str, variant: str | None,
                   keys: Iterable[PartKey]) -> dict[PartKey, int]:
        return {key: self.quantity(project_id, variant, key) for key in keys}

    def judge(self, event: Event) -> Judged | None:
        """The part ``event`` puts into a BOM, judged; None for another event or a part
        never looked up."""
        key = PartKey.of_new_part(event)
        if key is None:
            return None
        facts = self.facts([key]).get(key)
        if facts is None:
            return None
        quantity = self.quantity(event.project_id, event.variant, key)
        return Judged(facts=facts, quantity=quantity,
                      reasons=risks(facts, quantity=quantity, thresholds=self.thresholds))
