"""Which events a subscription wants: its event groups and document/designator filters.

Documents match by glob pattern, ignoring case (``*.PcbDoc``, ``Power.SchDoc``);
designators by their letter prefix (``R`` takes R1 and R22, not RV1).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass

from state.model import Event, event_group

_LETTERS = re.compile(r"^[A-Za-z]*")


@dataclass(frozen=True)
class Filters:
    include_documents: tuple[str, ...] = ()
    exclude_documents: tuple[str, ...] = ()
    include_designators: tuple[str, ...] = ()
    exclude_designators: tuple[str, ...] = ()

    def describe(self) -> str:
        parts = []
        for label, values in (("documents", self.include_documents),
                              ("not documents", self.exclude_documents),
                              ("designators", self.include_designators),
                              ("not designators", self.exclude_designators)):
            if values:
                parts.append(f"{label} {','.join(values)}")
        return "; ".join(parts)


def designator_prefix(designator: str) -> str:
    match = _LETTERS.match(designator)
    return (match.group(0) if match else "").upper()


def _document_matches(document: str | None, patterns: Sequence[str]) -> bool:
    name = (document or "").casefold()
    return any(fnmatch.fnmatchcase(name, p.casefold()) for p in patterns)


def wants(groups: Sequence[str], filters: Filters, event: Event) -> bool:
    """True when a subscription with ``groups`` and ``filters`` should receive ``event``."""
    group = event_group(event.kind)
    if group is None or group not in groups:
        return False
    if group == "comments":
        if filters.include_documents and not _document_matches(event.document,
                                                               filters.include_documents):
            return False
        return not _document_matches(event.document, filters.exclude_documents)
    if group == "bom" and event.designator is not None:
        prefix = designator_prefix(event.designator)
        if filters.include_designators and prefix not in {
                p.upper() for p in filters.include_designators}:
            return False
        return prefix not in {p.upper() for p in filters.exclude_designators}
    return True
