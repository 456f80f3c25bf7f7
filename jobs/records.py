"""From Nexar's JSON to the state records a snapshot is made of.

Pure functions: the client calls them on each answer, and tests call them on fixtures.
Every time is normalised to one UTC form, so the store can compare and sort them as text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from state.clock import stamp
from state.model import BomLine, Comment, Person, ProjectInfo, Revision, Thread
from state.supply import LIFECYCLES, PartKey, SupplyFacts

Json = Mapping[str, Any]

_STORED_FORM = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")


def normalize_time(text: str) -> str:
    """Any ISO 8601 time Nexar sends, in the store's form (naive times are taken as UTC)."""
    if _STORED_FORM.match(text):
        return text  # already in the store's form: the common case, and the cheap one
    value = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if "." in value:
        head, _, rest = value.partition(".")
        digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
        zone = rest[len(digits):]
        value = f"{head}.{(digits + '000000')[:6]}{zone}"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return stamp(moment)


def person(data: Json | None) -> Person | None:
    if not data:
        return None
    full = " ".join(p for p in (data.get("firstName"), data.get("lastName")) if p).strip()
    name = full or data.get("userName") or None
    email = data.get("email") or None
    user_id = data.get("userId") or None
    if not (name or email or user_id):
        return None
    return Person(user_id=user_id, name=name, email=email)


def revision(data: Json | None) -> Revision | None:
    if not data:
        return None
    return Revision(revision_id=str(data["revisionId"]), message=data.get("message") or "",
                    author=data.get("author") or "", created_at=normalize_time(data["createdAt"]))


def project(data: Json, workspace_url: str) -> ProjectInfo:
    return ProjectInfo(
        id=str(data["id"]),
        project_id=str(data["projectId"]),
        workspace_url=data.get("workspaceUrl") or workspace_url,
        name=data.get("name") or str(data["projectId"]),
        description=data.get("description") or "",
        url=data.get("url") or "",
        updated_at=normalize_time(data["updatedAt"]),
        revision=revision(data.get("latestRevision")),
    )


def thread(data: Json, documents: Mapping[str, str] | None = None) -> Thread:
    """One comment thread; ``documents`` maps document ids to names where known."""
    context = data.get("context") or {}
    document_id = context.get("documentId") or None
    comments = tuple(
        Comment(
            comment_id=str(c["commentId"]),
            text=c.get("text") or "",
            author=person(c.get("createdBy")),
            created_at=normalize_time(c["createdAt"]),
            modified_at=normalize_time(c["modifiedAt"]),
        )
        for c in data.get("comments") or ()
    )
    return Thread(
        thread_id=str(data["commentThreadId"]),
        number=int(data["threadNumber"]),
        status=int(data["status"]),
        created_at=normalize_time(data["createdAt"]),
        modified_at=normalize_time(data["modifiedAt"]),
        created_by=person(data.get("createdBy")),
        modified_by=person(data.get("modifiedBy")),
        assigned_to=person(data.get("assignedTo")),
        document_id=document_id,
        document_name=(documents or {}).get(document_id) if document_id else None,
        comments=tuple(sorted(comments, key=lambda c: (c.created_at, c.comment_id))),
    )


def documents(variants: Iterable[Json]) -> dict[str, str]:
    """Document id to name, over the PCB and schematic documents of every variant."""
    names: dict[str, str] = {}
    for variant in variants:
        docs = [variant.get("pcb"), *(variant.get("schematics") or ())]
        for doc in docs:
            if doc and doc.get("documentId"):
                names[str(doc["documentId"])] = doc.get("documentName") or str(doc["documentId"])
    return names


def bom_lines(variant: str, items: Iterable[Json]) -> list[BomLine]:
    """One line per designator; an instance's alternate component is the one placed there."""
    lines = []
    for item in items:
        placed = None
        for instance in item.get("bomItemInstances") or ():
            alternate = instance.get("alternateComponent")
            if alternate:
                fields = _placed(alternate)
            else:
                fields = placed = placed or _placed(item["component"])
            lines.append(BomLine(variant, str(instance["designator"]), *fields,
                                 fitted=bool(instance.get("isFitted", True))))
    return lines


def _placed(component: Json) -> tuple[str, str, str, str, str | None, str | None]:
    """A component's fields of a BOM line: id, name, comment, description, and the
    manufacturer and MPN of its first-priority part (read once for all its designators)."""
    parts = component.get("manufacturerParts") or ()
    if len(parts) > 1:
        parts = sorted(parts, key=lambda p: (p.get("priority") is None, p.get("priority")))
    primary = parts[0] if parts else {}
    return (str(component.get("id") or ""), component.get("name") or "",
            component.get("comment") or "", component.get("description") or "",
            primary.get("companyName") or None, primary.get("partNumber") or None)


def supply_facts(key: PartKey, match: Json, checked_at: str) -> SupplyFacts:
    """The facts of one ``SupPartMatch`` from its first part; no part: ``found`` False."""
    parts = [p for p in match.get("parts") or () if isinstance(p, Mapping)]
    if not parts:
        return SupplyFacts(key=key, found=False, checked_at=checked_at)
    part = parts[0]
    price = part.get("medianPrice1000") or {}
    return SupplyFacts(
        key=key, found=True, checked_at=checked_at,
        lifecycle=lifecycle(part.get("specs") or ()),
        stock=_whole(part.get("totalAvail")),
        price_1k=_number(price.get("price")),
        currency=price.get("currency") or None,
        lead_days=_whole(part.get("estimatedFactoryLeadDays")),
        url=part.get("octopartUrl") or None,
        manufacturer=(part.get("manufacturer") or {}).get("name") or None,
    )


def lifecycle(specs: Iterable[Json]) -> str | None:
    """The part's lifecycle: the spec ``lifecyclestatus``, in Nexar's spelling when known."""
    for spec in specs:
        if (spec.get("attribute") or {}).get("shortname") != "lifecyclestatus":
            continue
        text = str(spec.get("value") or spec.get("displayValue") or "").strip()
        if not text:
            return None
        known = {name.casefold(): name for name in LIFECYCLES}
        return known.get(text.casefold(), text)
    return None


def _whole(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)

@dataclass(frozen=True)
class Fingerprint:
    """What a cheap read says of a project's comment threads: which there are, and a digest
    of each one's id, ``modifiedAt`` and status. Equal digests mean no thread was opened,
    deleted, resolved, reopened or modified (a reply moves the thread's ``modifiedAt``)."""

    digest: str
    thread_ids: frozenset[str]


def fingerprint(items: Iterable[tuple[str, str, int]]) -> Fingerprint:
    """The fingerprint of (thread id, modified at in the store's form, status) triples."""
    ordered = sorted(items)
    digest = hashlib.blake2b(digest_size=16)
    for thread_id, modified_at, status in ordered:
        digest.update(f"{thread_id}\x1f{modified_at}\x1f{status}\x1e".encode())
    return Fingerprint(digest=digest.hexdigest(), thread_ids=frozenset(t for t, _, _ in ordered))


def threads_fingerprint(threads: Iterable[Thread]) -> Fingerprint:
    """The fingerprint of threads read in full (what a snapshot stores)."""
    return fingerprint((t.thread_id, t.modified_at, t.status) for t in threads)


def printed_threads(data: Iterable[Json]) -> Fingerprint:
    """The fingerprint of a ``ThreadPrint`` answer (fields aliased ``i``, ``m``, ``s``)."""
    return fingerprint((str(t["i"]), normalize_time(t["m"]), int(t["s"])) for t in data)
