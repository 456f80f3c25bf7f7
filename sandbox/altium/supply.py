"""Supply data for the local Nexar: manufacturer parts answering ``supMultiMatch``.

``SupplyCatalog`` holds one ``SupplyPart`` per manufacturer part: lifecycle, stock across
distributors, median price at 1,000 units, estimated factory lead time. ``demo_catalog``
seeds every MPN of the demo workspace's library, the parts ``sandbox.scenario`` swaps in,
and a few risky parts for tests; the facts are invented. Tests change facts and add parts
(``set``, ``add``) and read what was asked (``requests``, ``matched``).

Matching, as far as Nexar's documentation settles it: an MPN matches case-insensitively,
a manufacturer by its name or an alias, ignoring case and punctuation; ``limit`` must be
0-100 and ``start`` 0-1000, and one request may ask for at most 100 parts in all (the sum
of its limits). Every part answered counts against the app's monthly part limit, so
``matched`` counts parts answered, not hits. Choices where Nexar is unknown: ``sku`` alone
never matches (the sandbox has no distributor SKUs), a query with no MPN gets the match
``error`` "No mpn, sku or mpnOrSku given.", ``options`` and ``seller`` are ignored.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from graphql import GraphQLError

from .seed import CATALOG

LIFECYCLES = ("Production", "New", "NRND", "EOL", "Obsolete")
"""Nexar's lifecycle values (the spec ``lifecyclestatus``)."""
MAX_LIMIT = 100
MAX_START = 1000
MAX_PARTS_PER_REQUEST = 100
"""Nexar refuses a ``supMultiMatch`` whose limits add up to more parts than this."""

_ALIASES: Mapping[str, tuple[str, ...]] = {
    "Texas Instruments": ("TI",),
    "onsemi": ("ON Semiconductor", "ON Semi"),
    "Würth Elektronik": ("Wurth Elektronik", "Wurth Electronics"),
    "Analog Devices": ("Analog Devices Inc.", "Maxim Integrated"),
}
_NOT_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True, slots=True)
class SupplyPart:
    """One manufacturer part as the supply data knows it; any fact may be missing."""

    mpn: str
    manufacturer: str
    lifecycle: str | None = "Production"
    stock: int = 0
    """Units in stock across distributors (``totalAvail``)."""
    price: float | None = None
    """Median price per unit at 1,000 units (``medianPrice1000``)."""
    currency: str = "USD"
    lead_days: int | None = None
    """Estimated factory lead time (``estimatedFactoryLeadDays``)."""
    description: str = ""
    part_id: str = ""
    """Octopart's id; derived from the MPN and manufacturer when empty."""

    @property
    def id(self) -> str:
        """The part's Octopart id."""
        if self.part_id:
            return self.part_id
        digest = hashlib.sha256(f"{self.manufacturer}|{self.mpn}".encode()).hexdigest()
        return str(int(digest[:12], 16) % 90_000_000 + 10_000_000)

    @property
    def slug(self) -> str:
        """Path of the part's page, e.g. ``/tps62133rgtr-texas+instruments-12345678``."""
        mpn = _NOT_WORD.sub("", self.mpn.lower()) or "part"
        maker = "+".join(_NOT_WORD.sub(" ", self.manufacturer).lower().split())
        return f"/{mpn}-{maker}-{self.id}"

    @property
    def url(self) -> str:
        """The part's page (``octopartUrl``)."""
        return f"https://octopart.com{self.slug}"

    def makes(self, manufacturer: str) -> bool:
        """Whether ``manufacturer`` names this part's maker (its name or an alias)."""
        wanted = _folded(manufacturer)
        names = (self.manufacturer, *_ALIASES.get(self.manufacturer, ()))
        return any(_folded(name) == wanted for name in names)

    def graphql(self) -> dict[str, Any]:
        """The part as a ``SupPart`` (every non-null field the sandbox can fill)."""
        company = {
            "id": str(int(hashlib.sha256(self.manufacturer.encode()).hexdigest()[:6], 16)),
            "name": self.manufacturer,
            "aliases": list(_ALIASES.get(self.manufacturer, ())),
            "slug": "-".join(_NOT_WORD.sub(" ", self.manufacturer).lower().split()),
            "isVerified": False,
            "isBroker": False,
            "isDistributorApi": False,
            "isOctocartSupported": False,
        }
        price = None
        if self.price is not None:
            price = {"_cacheId": f"price-{self.id}", "quantity": 1000, "price": self.price,
                     "currency": self.currency, "convertedPrice": self.price,
                     "convertedCurrency": self.currency, "conversionRate": 1.0}
        specs = []
        if self.lifecycle is not None:
            specs.append({
                "attribute": {"id": "1", "name": "Lifecycle Status", "shortname":
                              "lifecyclestatus", "group": "Compliance", "valueType": "text",
                              "unitsName": "", "unitsSymbol": "",
                              "shortDisplayname": "Lifecycle"},
                "value": self.lifecycle, "siValue": self.lifecycle, "valueType": "text",
                "units": "", "unitsName": "", "unitsSymbol": "", "displayValue": self.lifecycle,
            })
        return {
            "_cacheId": f"part-{self.id}", "id": self.id, "v3uid": self.id,
            "name": f"{self.manufacturer} {self.mpn}", "mpn": self.mpn,
            "genericMpn": self.mpn, "manufacturer": company, "shortDescription":
            self.description, "descriptions": [], "images": [], "documentCollections": [],
            "specs": specs, "slug": self.slug, "octopartUrl": self.url, "similarParts": [],
            "companionProducts": [], "referenceDesigns": [], "simModels": [], "sellers": [],
            "cadModels": {"hasSymbol": False, "hasFootprint": False, "has3dModel": False,
                          "highestLevel": 0, "models": []},
            "counts": {}, "medianPrice1000": price, "totalAvail": self.stock,
            "avgAvail": float(self.stock), "estimatedFactoryLeadDays": self.lead_days,
            "akaMpns": [], "altiumInternalId": "",
        }


@dataclass(slots=True)
class _MatchError:
    mpn: str
    message: str
    remaining: int | None


class SupplyCatalog:
    """The parts ``supMultiMatch`` finds, and what was asked of them (thread-safe)."""

    def __init__(self, parts: Iterable[SupplyPart] = ()) -> None:
        self._lock = threading.Lock()
        self._parts: list[SupplyPart] = list(parts)
        self._errors: list[_MatchError] = []
        self._requests = 0
        self._matched = 0

    @property
    def parts(self) -> list[SupplyPart]:
        """Every part, in the order they were added."""
        with self._lock:
            return list(self._parts)

    def get(self, mpn: str, manufacturer: str | None = None) -> SupplyPart:
        """The part with ``mpn`` (made by ``manufacturer`` when given); ``KeyError`` if none."""
        found = self.find(mpn, manufacturer)
        if not found:
            raise KeyError(f"no supply data for {mpn!r}")
        return found[0]

    def find(self, mpn: str, manufacturer: str | None = None) -> list[SupplyPart]:
        """The parts an MPN (and manufacturer) query matches, as Nexar matches them."""
        wanted = mpn.strip().casefold()
        with self._lock:
            return [part for part in self._parts if part.mpn.casefold() == wanted
                    and (not manufacturer or part.makes(manufacturer))]

    def add(self, mpn: str, manufacturer: str, **facts: Any) -> SupplyPart:
        """Add a part (another maker's part of the same MPN is a second hit)."""
        part = SupplyPart(mpn=mpn, manufacturer=manufacturer, **facts)
        _check(part)
        with self._lock:
            self._parts.append(part)
        return part

    def set(self, mpn: str, manufacturer: str | None = None, **facts: Any) -> SupplyPart:
        """Change the facts of the part with ``mpn`` (``lifecycle``, ``stock``, ``price``,
        ``currency``, ``lead_days``, ``description``); ``None`` makes a fact unknown.

        An unknown MPN is added when ``manufacturer`` is given, else it is a ``KeyError``.
        """
        found = self.find(mpn, manufacturer)
        if not found:
            if manufacturer is None:
                raise KeyError(f"no supply data for {mpn!r}: give a manufacturer to add it")
            return self.add(mpn, manufacturer, **facts)
        changed = replace(found[0], **facts)
        _check(changed)
        with self._lock:
            self._parts[self._parts.index(found[0])] = changed
        return changed

    def remove(self, mpn: str) -> int:
        """Forget every part with ``mpn``: it then gives no hit. Returns how many went."""
        wanted = mpn.strip().casefold()
        with self._lock:
            before = len(self._parts)
            self._parts = [part for part in self._parts if part.mpn.casefold() != wanted]
            return before - len(self._parts)

    def match_error(self, mpn: str, message: str = "Internal error matching the part.",
                    times: int | None = 1) -> None:
        """Answer the next ``times`` matches of ``mpn`` (``None``: all) with a match ``error``
        and no parts, as Nexar does for a query it could not run."""
        with self._lock:
            self._errors.append(_MatchError(mpn.strip().casefold(), message, times))

    @property
    def requests(self) -> int:
        """HTTP requests that asked ``supMultiMatch`` (refused ones included)."""
        with self._lock:
            return self._requests

    @property
    def matched(self) -> int:
        """Parts answered: what the app's monthly part limit would be charged."""
        with self._lock:
            return self._matched

    def reset_counts(self) -> None:
        """Set ``requests`` and ``matched`` back to 0."""
        with self._lock:
            self._requests = self._matched = 0

    def count_request(self) -> None:
        """Count one HTTP request that asks ``supMultiMatch``."""
        with self._lock:
            self._requests += 1

    def multi_match(self, queries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The ``SupPartMatch`` of each query, in order; raises as Nexar does for bad limits."""
        for query in queries:
            _limits(query)
        if sum(int(query.get("limit", 3)) for query in queries) > MAX_PARTS_PER_REQUEST:
            raise _supply_error(f"The total number of parts requested must not exceed "
                                f"{MAX_PARTS_PER_REQUEST}.")
        answers = [self._match(query) for query in queries]
        with self._lock:
            self._matched += sum(len(answer["parts"]) for answer in answers)
        return answers

    def _match(self, query: Mapping[str, Any]) -> dict[str, Any]:
        reference = query.get("reference")
        mpn = query.get("mpn") or query.get("mpnOrSku")
        if not mpn:
            error = None if query.get("sku") else "No mpn, sku or mpnOrSku given."
            return {"reference": reference, "hits": 0, "parts": [], "error": error}
        failed = self._take_error(str(mpn))
        if failed is not None:
            return {"reference": reference, "hits": 0, "parts": [], "error": failed}
        found = self.find(str(mpn), query.get("manufacturer"))
        start, limit = int(query.get("start", 0)), int(query.get("limit", 3))
        return {"reference": reference, "hits": len(found),
                "parts": [part.graphql() for part in found[start:start + limit]],
                "error": None}

    def _take_error(self, mpn: str) -> str | None:
        wanted = mpn.strip().casefold()
        with self._lock:
            for armed in self._errors:
                if armed.mpn != wanted:
                    continue
                if armed.remaining is not None:
                    armed.remaining -= 1
                    if armed.remaining <= 0:
                        self._errors.remove(armed)
                return armed.message
        return None


def _folded(name: str) -> str:
    return _NOT_WORD.sub("", name.casefold())


def _check(part: SupplyPart) -> None:
    if part.lifecycle is not None and part.lifecycle not in LIFECYCLES:
        raise ValueError(f"lifecycle must be one of {', '.join(LIFECYCLES)} or None, "
                         f"not {part.lifecycle!r}")
    if part.stock < 0:
        raise ValueError("stock must not be negative")


def _limits(query: Mapping[str, Any]) -> None:
    if not 0 <= int(query.get("limit", 3)) <= MAX_LIMIT:
        raise _supply_error(f"limit must be between 0 and {MAX_LIMIT}")
    if not 0 <= int(query.get("start", 0)) <= MAX_START:
        raise _supply_error(f"start must be between 0 and {MAX_START}")


def _supply_error(message: str) -> GraphQLError:
    """An error as Nexar's supply service answers it: no code, the remote message."""
    return GraphQLError(message, extensions={"remote": {"message": message},
                                             "schemaName": "Supply"})


# Lifecycle, stock, price at 1k, lead days and description of the demo's parts beyond the
# library, and of the risky parts tests use.
_EXTRA: tuple[SupplyPart, ...] = (
    SupplyPart("TPS62133RGTR", "Texas Instruments", "Production", 14_200, 1.08, "USD", 42,
               "3-17V 3A step-down converter, 3.3 V fixed, VQFN-16"),
    SupplyPart("5019", "Keystone Electronics", "Production", 250_000, 0.19, "USD", None,
               "Test point, SMT, miniature"),
    SupplyPart("TPS54331DR", "Texas Instruments", "NRND", 18_500, 0.62, "USD", 70,
               "3.5-28V 3A step-down converter, SOIC-8"),
    SupplyPart("MAX3232ECPE+", "Analog Devices", "EOL", 1_150, 2.85, "USD", 84,
               "RS-232 transceiver, 3-5.5V, PDIP-16"),
    SupplyPart("LPC1768FBD100", "NXP Semiconductors", "Obsolete", 0, None, "USD", None,
               "Cortex-M3 MCU 512 KB flash, LQFP-100"),
    SupplyPart("ATMEGA328P-AU", "Microchip Technology", "Production", 0, 1.72, "USD", 182,
               "AVR MCU 32 KB flash, TQFP-32"),
    SupplyPart("STM32H743ZIT6", "STMicroelectronics", "New", 340, 9.80, "USD", 112,
               "Cortex-M7 MCU 2 MB flash, LQFP-144"),
    SupplyPart("BSS138", "Diodes Incorporated", "Production", 95_000, 0.03, "USD", 56,
               "N-channel MOSFET 50V 200mA, SOT-23"),
)
RISKY = ("TPS54331DR", "MAX3232ECPE+", "LPC1768FBD100", "ATMEGA328P-AU", "STM32H743ZIT6")
"""Seeded parts that are a supply risk by the default thresholds."""

_PRICES: Mapping[str, tuple[float, float]] = {
    "R": (0.002, 0.02), "C": (0.004, 0.30), "U": (0.40, 8.50), "Q": (0.03, 0.90),
    "D": (0.02, 0.25), "L": (0.05, 0.60), "J": (0.10, 1.80), "Y": (0.15, 0.45),
}


def demo_catalog() -> SupplyCatalog:
    """Every MPN of the demo library (healthy, in stock, lead under 12 weeks), the parts the
    scenario swaps in, and the risky parts in ``RISKY``."""
    parts: list[SupplyPart] = []
    for spec in CATALOG:
        low, high = _PRICES.get(spec.prefix, (0.05, 1.50))
        for maker, mpn in spec.parts:
            rng = random.Random(f"{maker}|{mpn}")
            parts.append(SupplyPart(
                mpn=mpn, manufacturer=maker, lifecycle="Production",
                stock=rng.randrange(5_000, 2_000_000, 100),
                price=round(rng.uniform(low, high), 4), lead_days=rng.randrange(21, 85, 7),
                description=spec.description))
    return SupplyCatalog([*parts, *_EXTRA])


__all__ = ["LIFECYCLES", "RISKY", "SupplyCatalog", "SupplyPart", "demo_catalog"]
