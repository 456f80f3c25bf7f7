"""The sandbox's in-memory Altium 365 data: users, workspaces, projects, BOMs, comments.

Plain slotted dataclasses with snake_case attributes named after the GraphQL fields they
serve (``project_id`` serves ``projectId``), so the schema's default resolver reaches most of
them without a hand-written resolver. Objects compare by identity.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

ProjectType = str
"""A ``DesProjectType`` enum value name, e.g. ``"PCB_PROJECT"``."""


def node_id(type_name: str, key: str) -> str:
    """An opaque Relay node id: base64 of ``"<TypeName>\\n<key>"``, as HotChocolate makes them."""
    return base64.b64encode(f"{type_name}\n{key}".encode()).decode("ascii")


def decode_node_id(value: str) -> tuple[str, str] | None:
    """The ``(type name, key)`` inside a node id, or None when it is not one of ours."""
    try:
        text = base64.b64decode(value.encode("ascii"), validate=True).decode()
    except (ValueError, UnicodeError):
        return None
    type_name, sep, key = text.partition("\n")
    return (type_name, key) if sep else None


def truncate_ms(moment: datetime) -> datetime:
    """The moment in UTC, cut to whole milliseconds (what the API shows)."""
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


_NATURAL = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key putting ``R2`` before ``R10``."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in _NATURAL.split(text) if part
    )


@dataclass(slots=True, eq=False)
class User:
    """A workspace member (``DesUser``)."""

    user_id: str
    user_name: str
    email: str
    first_name: str
    last_name: str
    global_user_id: str

    @property
    def full_name(self) -> str:
        """First and last name."""
        return f"{self.first_name} {self.last_name}"


@dataclass(slots=True, eq=False)
class Parameter:
    """A component parameter (``DesComponentParameter``); ``type`` is a ``DesParameterType``."""

    name: str
    value: str
    type: str = "TEXT"


@dataclass(slots=True, eq=False)
class SupplierPrice:
    """One price break of a supplier part."""

    currency: str
    price: float
    break_quantity: int


@dataclass(slots=True, eq=False)
class SupplierStock:
    """Stock of a supplier part at one location."""

    location_name: str
    quantity: float


@dataclass(slots=True, eq=False)
class SupplierPart:
    """A distributor's listing of a manufacturer part."""

    company_name: str
    part_number: str
    prices: list[SupplierPrice] = field(default_factory=list)
    stocks: list[SupplierStock] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class ManufacturerPart:
    """A part choice of a component (``DesManufacturerPart``)."""

    company_name: str
    part_number: str
    priority: int = 1
    octopart_id: str | None = None
    supplier_parts: list[SupplierPart] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Component:
    """A component (``DesComponent``), managed in a library or placed unmanaged in a design."""

    id: str
    name: str
    comment: str
    description: str
    revision_id: str
    is_managed: bool
    created_at: datetime
    modified_at: datetime
    created_by: User
    item_internal_id: str
    footprint: str = ""
    manufacturer_parts: list[ManufacturerPart] = field(default_factory=list)
    parameters: list[Parameter] = field(default_factory=list)

    @property
    def primary_part(self) -> ManufacturerPart | None:
        """The part choice with the best (lowest) priority."""
        if not self.manufacturer_parts:
            return None
        return min(self.manufacturer_parts, key=lambda part: part.priority)


@dataclass(slots=True, eq=False)
class BomInstance:
    """One placed designator of a BOM item (``DesBomItemInstance``)."""

    designator: str
    is_fitted: bool = True
    alternate_component: Component | None = None


@dataclass(slots=True, eq=False)
class BomLine:
    """A BOM item: one component and every designator that places it (``DesBomItem``)."""

    component: Component
    instances: list[BomInstance]

    @property
    def quantity(self) -> int:
        """How many of this component the variant fits."""
        return sum(1 for instance in self.instances if instance.is_fitted)


@dataclass(slots=True, eq=False)
class Variant:
    """A design variant (``DesWipVariant``, or ``DesReleaseVariant`` when ``release`` is set)."""

    name: str
    lines: list[BomLine]
    project: Project = field(repr=False)
    release: Release | None = field(default=None, repr=False)

    def find(self, designator: str) -> tuple[BomLine, BomInstance] | None:
        """The line and instance placing ``designator`` (case-insensitive), if any."""
        wanted = designator.upper()
        for line in self.lines:
            for instance in line.instances:
                if instance.designator.upper() == wanted:
                    return line, instance
        return None

    def detach(self, designator: str) -> BomInstance | None:
        """Take ``designator`` out of its line (dropping an emptied line); the instance or None."""
        found = self.find(designator)
        if found is None:
            return None
        line, instance = found
        line.instances.remove(instance)
        if not line.instances:
            self.lines.remove(line)
        return instance

    def attach(self, component: Component, instance: BomInstance) -> None:
        """Place ``instance`` on the line of ``component``, appending a new line if none has it."""
        for line in self.lines:
            if line.component is component:
                line.instances.append(instance)
                line.instances.sort(key=lambda item: natural_key(item.designator))
                return
        self.lines.append(BomLine(component, [instance]))

    def copy(self, name: str, *, release: Release | None = None) -> Variant:
        """A deep copy of the BOM under another name (instances are new objects)."""
        lines = [
            BomLine(
                line.component,
                [
                    BomInstance(item.designator, item.is_fitted, item.alternate_component)
                    for item in line.instances
                ],
            )
            for line in self.lines
        ]
        return Variant(name, lines, self.project, release)

    def designators(self) -> list[str]:
        """Every placed designator, in BOM order."""
        return [instance.designator for line in self.lines for instance in line.instances]

    def components(self) -> Iterator[Component]:
        """Every component the variant places, alternates included."""
        for line in self.lines:
            yield line.component
            for instance in line.instances:
                if instance.alternate_component is not None:
                    yield instance.alternate_component


@dataclass(slots=True, eq=False)
class Layer:
    """A PCB layer (``DesLayer``); ``layer_type`` is a ``DesLayerType``."""

    name: str
    layer_type: str = "SIGNAL"
    nets: list[Net] = field(default_factory=list, repr=False)


@dataclass(slots=True, eq=False)
class Pad:
    """A component pad on the PCB (``DesPad``)."""

    designator: str
    global_designator: str
    x_mm: float
    y_mm: float
    width_mm: float = 1.0
    height_mm: float = 0.6
    hole_mm: float = 0.0
    shape: str = "ROUNDED_RECTANGLE"
    pad_type: str = "SMD"
    rotation: float = 0.0
    layer: Layer | None = None
    net: Net | None = field(default=None, repr=False)


@dataclass(slots=True, eq=False)
class Via:
    """A via (``DesVia``)."""

    name: str
    x_mm: float
    y_mm: float
    hole_mm: float = 0.3
    pad_mm: float = 0.6
    begin_layer: Layer | None = None
    end_layer: Layer | None = None
    net: Net | None = field(default=None, repr=False)


@dataclass(slots=True, eq=False)
class Track:
    """A straight copper track (``DesTrack``)."""

    width_mm: float
    begin: tuple[float, float]
    end: tuple[float, float]
    layer: Layer | None = None
    net: Net | None = field(default=None, repr=False)


@dataclass(slots=True, eq=False)
class Net:
    """A PCB net with its routed length (``DesNet``)."""

    name: str
    length_mm: float
    layers: list[Layer] = field(default_factory=list)
    pads: list[Pad] = field(default_factory=list)
    vias: list[Via] = field(default_factory=list)
    tracks: list[Track] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Document:
    """A design document: a schematic sheet or the PCB (``DesSchematic`` / ``DesPcb``)."""

    document_id: str
    document_name: str
    kind: str
    project: Project = field(repr=False)
    nets: list[Net] = field(default_factory=list)
    layers: list[Layer] = field(default_factory=list)
    width_mm: float = 100.0
    height_mm: float = 80.0

    @property
    def pads(self) -> list[Pad]:
        """Every pad of every net."""
        return [pad for net in self.nets for pad in net.pads]


@dataclass(slots=True, eq=False)
class Comment:
    """One comment of a thread (``DesComment``); ``mentions`` are the users it @-names."""

    comment_id: str
    text: str
    created_at: datetime
    modified_at: datetime
    created_by: User
    modified_by: User
    mentions: list[User] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class CommentThread:
    """A comment thread pinned to a document (``DesCommentThread``); status 1 active, 0 resolved."""

    comment_thread_id: str
    thread_number: int
    status: int
    created_at: datetime
    modified_at: datetime
    created_by: User
    modified_by: User
    document_id: str
    comments: list[Comment]
    assigned_to: User | None = None
    object_id: str | None = None
    release_id: str | None = None
    area: tuple[float, float, float, float] = (10.0, 10.0, 20.0, 15.0)
    original_state_screenshot_url: str | None = None


@dataclass(slots=True, eq=False)
class Revision:
    """A version-control commit of the project (``DesVcsRevision``)."""

    revision_id: str
    message: str
    author: str
    created_at: datetime
    files: list[tuple[str, str]] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Release:
    """A project release with frozen copies of its variants (``DesRelease``)."""

    id: str
    release_id: str
    description: str
    created_at: datetime
    variants: list[Variant] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Project:
    """A workspace project (``DesProject``)."""

    id: str
    project_id: str
    name: str
    description: str
    workspace_url: str
    created_at: datetime
    updated_at: datetime
    created_by: User
    updated_by: User
    project_type: ProjectType = "PCB_PROJECT"
    variants: list[Variant] = field(default_factory=list)
    pcb: Document | None = None
    schematics: list[Document] = field(default_factory=list)
    threads: list[CommentThread] = field(default_factory=list)
    revisions: list[Revision] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)
    parameters: dict[str, str] = field(default_factory=dict)
    next_thread_number: int = 1

    @property
    def url(self) -> str:
        """The project's page in the workspace."""
        return f"{self.workspace_url}/designs/{self.project_id}"

    @property
    def documents(self) -> list[Document]:
        """The PCB (first) and the schematic sheets."""
        return ([self.pcb] if self.pcb is not None else []) + self.schematics

    def document(self, name: str | None) -> Document:
        """A document by name (case-insensitive); None gives the PCB, else the first sheet."""
        documents = self.documents
        if not documents:
            raise LookupError(f"project {self.name!r} has no documents")
        if name is None:
            return documents[0]
        for document in documents:
            if document.document_name.lower() == name.lower() or document.document_id == name:
                return document
        raise LookupError(f"project {self.name!r} has no document {name!r}")

    def variant(self, name: str) -> Variant:
        """A variant by name (case-insensitive)."""
        for variant in self.variants:
            if variant.name.lower() == name.lower():
                return variant
        raise LookupError(f"project {self.name!r} has no variant {name!r}")

    def thread(self, number: int) -> CommentThread:
        """A comment thread by its number."""
        for thread in self.threads:
            if thread.thread_number == number:
                return thread
        raise LookupError(f"project {self.name!r} has no thread #{number}")

    def latest_revision(self) -> Revision | None:
        """The newest commit, or None before the first."""
        return self.revisions[-1] if self.revisions else None


@dataclass(slots=True, eq=False)
class Workspace:
    """An Altium 365 workspace in one region (``DesWorkspace`` / ``DesWorkspaceInfo``)."""

    workspace_id: str
    name: str
    url: str
    auth_id: str
    region: str
    owner: User
    created_at: datetime
    description: str | None = None
    is_default: bool = False
    members: list[User] = field(default_factory=list)
    projects: list[Project] = field(default_factory=list)
    library: list[Component] = field(default_factory=list)

    @property
    def id(self) -> str:
        """The workspace's node id."""
        return node_id("DesWorkspace", self.workspace_id)


@dataclass(slots=True, eq=False)
class Tenant:
    """Everything one signed-in account can see: its workspaces and their users."""

    workspaces: list[Workspace]
    users: list[User]

    @property
    def default_workspace(self) -> Workspace:
        """The workspace marked default, else the first."""
        for workspace in self.workspaces:
            if workspace.is_default:
                return workspace
        return self.workspaces[0]

    def projects(self) -> Iterator[Project]:
        """Every project of every workspace."""
        for workspace in self.workspaces:
            yield from workspace.projects

    def latest_timestamp(self) -> datetime:
        """The newest time stamped anywhere in the data (activities must come after it)."""
        latest = datetime(2000, 1, 1, tzinfo=UTC)
        for workspace in self.workspaces:
            latest = max(latest, workspace.created_at)
            for project in workspace.projects:
                latest = max(latest, project.updated_at, project.created_at)
                for thread in project.threads:
                    latest = max(latest, thread.modified_at)
                    for comment in thread.comments:
                        latest = max(latest, comment.modified_at)
                if project.revisions:
                    latest = max(latest, project.revisions[-1].created_at)
                for release in project.releases:
                    latest = max(latest, release.created_at)
        return latest
