"""The records a snapshot is made of, and the events the diff derives from two snapshots.

All are frozen dataclasses of plain values, so two snapshots compare with ``==`` and the
diff stays a pure function. Times are ISO 8601 strings in UTC, as Nexar sends them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Final, Literal, get_args

EventKind = Literal[
    "project_created",
    "revision_committed",
    "thread_opened",
    "thread_replied",
    "thread_resolved",
    "thread_reopened",
    "thread_assigned",
    "comment_edited",
    "thread_deleted",
    "part_added",
    "part_removed",
    "part_replaced",
    "part_fitted_changed",
]

EVENT_KINDS: Final[tuple[EventKind, ...]] = get_args(EventKind)

EventGroup = Literal["comments", "bom", "revisions"]

EVENT_GROUPS: Final[tuple[EventGroup, ...]] = ("comments", "bom", "revisions")

BOM_ORDER: Final[tuple[EventKind, ...]] = (
    "part_replaced", "part_removed", "part_added", "part_fitted_changed")
"""The BOM change kinds in the order people read them, in cards and in digests."""

STATUS_ACTIVE: Final = 1
STATUS_RESOLVED: Final = 0


def designator_key(designator: str | None) -> tuple[str, int, str]:
    """Natural order of designators: R2 before R10, then by the whole text."""
    d = designator or ""
    letters = d.rstrip("0123456789")
    digits = d[len(letters):]
    return (letters, int(digits) if digits else 0, d)


def event_group(kind: str) -> EventGroup | None:
    """The subscription group an event kind belongs to (None: always delivered)."""
    if kind.startswith(("thread_", "comment_")):
        return "comments"
    if kind.startswith("part_"):
        return "bom"
    if kind == "revision_committed":
        return "revisions"
    return None


@dataclass(frozen=True)
class Person:
    """An Altium 365 user as far as Nexar tells (every field may be missing)."""

    user_id: str | None = None
    name: str | None = None
    email: str | None = None

    @property
    def key(self) -> str | None:
        """Identity for comparisons: a renamed user is still the same user."""
        return self.user_id or (self.email.lower() if self.email else None) or self.name

    @property
    def display(self) -> str:
        return self.name or self.email or "Unknown user"


@dataclass(frozen=True)
class Comment:
    comment_id: str
    text: str
    author: Person | None
    created_at: str
    modified_at: str


@dataclass(frozen=True)
class Thread:
    """One Altium comment thread; ``status`` is 1 while active, 0 once resolved."""

    thread_id: str
    number: int
    status: int
    created_at: str
    modified_at: str
    created_by: Person | None
    modified_by: Person | None
    assigned_to: Person | None
    document_id: str | None
    document_name: str | None
    comments: tuple[Comment, ...]

    @property
    def is_open(self) -> bool:
        return self.status == STATUS_ACTIVE


@dataclass(frozen=True)
class BomLine:
    """One placed designator of one variant's BOM, with the part fitted there."""

    variant: str
    designator: str
    component_id: str
    name: str
    comment: str
    description: str
    manufacturer: str | None
    mpn: str | None
    fitted: bool

    @property
    def key(self) -> tuple[str, str]:
        return (self.variant, self.designator)


@dataclass(frozen=True)
class Revision:
    revision_id: str
    message: str
    author: str
    created_at: str


@dataclass(frozen=True)
class ProjectInfo:
    """A project as the workspace listing shows it. ``id`` is the Nexar node id."""

    id: str
    project_id: str
    workspace_url: str
    name: str
    description: str
    url: str
    updated_at: str
    revision: Revision | None


Bom = Mapping[tuple[str, str], BomLine]


@dataclass(frozen=True)
class Snapshot:
    """What the bot knows of one watched project at one poll.

    ``bom`` is None when the BOM was not read (the design had not moved); the diff then
    leaves the BOM alone, and the store keeps the stored lines.
    """

    project: ProjectInfo
    threads: Mapping[str, Thread]
    bom: Bom | None
    documents: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """One change found by the diff. Fields that do not apply to a kind stay None."""

    kind: EventKind
    project_id: str
    project: str
    at: str
    thread_id: str | None = None
    thread_number: int | None = None
    comment_id: str | None = None
    author: str | None = None
    author_email: str | None = None
    text: str | None = None
    document: str | None = None
    assignee: str | None = None
    assignee_email: str | None = None
    variant: str | None = None
    designator: str | None = None
    old_mpn: str | None = None
    new_mpn: str | None = None
    old_manufacturer: str | None = None
    new_manufacturer: str | None = None
    old_part: str | None = None
    new_part: str | None = None
    fitted: bool | None = None
    revision_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


EVENT_FIELDS: Final[tuple[str, ...]] = tuple(f.name for f in fields(Event))
