"""The real Nexar SDL made executable: graphql-core resolvers bound onto the built schema.

The schema is built once per process and path (``executable_schema``); resolvers read all
per-request state (the store, the endpoint's region, the signed-in user, armed faults) from
``info.context``, a ``RequestContext``, so several sandboxes can share one schema object.
Fields without a resolver here use ``default_resolver``: a dict key of the field name, else
the snake_case attribute of the model object (``projectId`` -> ``project_id``), else null.
Connections follow HotChocolate's offset paging: default 10 items, at most 100, cursors are
base64 of the 0-based item index.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Generic, TypeAlias, TypeVar

from graphql import (
    GraphQLError,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    StringValueNode,
    ValueNode,
    build_schema,
)

from .activity import Store
from .faults import NOT_AUTHORIZED, FaultSession
from .model import (
    BomInstance,
    BomLine,
    CommentThread,
    Component,
    Document,
    Layer,
    Net,
    Pad,
    Project,
    Release,
    Revision,
    Track,
    User,
    Variant,
    Via,
    Workspace,
    decode_node_id,
)
from .supply import SupplyCatalog

T = TypeVar("T")
Resolver = Callable[..., Any]

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
DISCOVERY_FIELDS = frozenset(
    {"desWorkspaceInfos", "desUserByAuth", "desWorkspaces", "desWorkspaceLocations"}
)
"""Root fields the discovery endpoint answers; every other one needs a regional endpoint,
except the supply fields (``sup*``), which only the discovery endpoint answers."""

SUPPLY_PREFIX = "sup"
SUPPLY_SCOPE = "supply.domain"
"""The scope the supply fields need; every other field needs ``DESIGN_SCOPE``."""
DESIGN_SCOPE = "design.domain"

PROJECT_DATA_FIELDS = ("design", "revisions", "parameters", "workflows", "tasks")
"""``DesProject`` fields a project fault breaks; a listing of its name and dates still works."""

SCHEMA_ENV = "NEXAR_SCHEMA_PATH"
BUNDLED_SCHEMA = Path(__file__).with_name("nexar-schema.graphql")
"""The public Nexar schema shipped with the package (MIT; see ``NEXAR-SCHEMA-LICENSE``)."""


def default_schema_path() -> Path:
    """``$NEXAR_SCHEMA_PATH`` when set (to try a newer schema), else the bundled copy."""
    configured = os.environ.get(SCHEMA_ENV)
    return Path(configured).expanduser() if configured else BUNDLED_SCHEMA


def sandbox_error(message: str, code: str | None, **extensions: Any) -> GraphQLError:
    """A GraphQL error shaped like HotChocolate's: ``extensions.code`` plus extras."""
    if code is not None:
        extensions = {"code": code, **extensions}
    return GraphQLError(message, extensions=extensions or None)


def format_datetime(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as the API writes DateTime."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_datetime(value: Any) -> datetime:
    """A DateTime input (ISO 8601; no offset means UTC) as an aware datetime."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("z", "Z").replace("Z", "+00:00"))
        except ValueError as error:
            raise GraphQLError(f"DateTime cannot parse the given value `{value}`.") from error
    else:
        raise GraphQLError(f"DateTime cannot parse the given value `{value!r}`.")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _datetime_out(value: Any) -> str:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, str):
        return value
    raise TypeError(f"DateTime cannot serialize {value!r}")


def _datetime_literal(node: ValueNode) -> datetime:
    if isinstance(node, StringValueNode):
        return parse_datetime(node.value)
    raise GraphQLError("DateTime expects a string literal.")


def _decimal_out(value: Any) -> int | float:
    if isinstance(value, bool):
        raise TypeError("Decimal cannot serialize a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        return float(value)
    raise TypeError(f"Decimal cannot serialize {value!r}")


def _decimal_in(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise GraphQLError(f"Decimal cannot parse the given value `{value!r}`.")
    return Decimal(str(value))


def _decimal_literal(node: ValueNode) -> Decimal:
    return _decimal_in(getattr(node, "value", None))


@dataclass(slots=True)
class RequestContext:
    """What resolvers know about the request being executed."""

    store: Store
    region: str | None
    base_url: str
    user: User | None
    """Who signed in; None for an app's own token (client credentials)."""
    allowed_workspaces: frozenset[str] | None
    faults: FaultSession
    scopes: frozenset[str] = frozenset({DESIGN_SCOPE})
    supply: SupplyCatalog | None = None

    @property
    def signed_in(self) -> User:
        """The signed-in user, or the error Nexar gives a token that names none."""
        if self.user is None:
            raise sandbox_error(NOT_AUTHORIZED, "AUTH_NOT_AUTHENTICATED")
        return self.user

    def may_see(self, workspace: Workspace) -> bool:
        """Whether the token may see ``workspace`` at all."""
        return self.allowed_workspaces is None or workspace.url in self.allowed_workspaces

    def serves(self, workspace: Workspace) -> bool:
        """Whether this endpoint serves ``workspace``'s data."""
        return workspace.region == self.region and self.may_see(workspace)

    def visible_workspaces(self) -> list[Workspace]:
        """Every workspace the token may see, any region."""
        return [item for item in self.store.tenant.workspaces if self.may_see(item)]

    def served_workspaces(self) -> list[Workspace]:
        """The workspaces this endpoint serves."""
        return [item for item in self.store.tenant.workspaces if self.serves(item)]

    def workspace(self, url: str | None) -> Workspace:
        """The served workspace at ``url`` (None: the default one here), or a GraphQL error."""
        if url is None:
            served = self.served_workspaces()
            for item in served:
                if item.is_default:
                    return item
            if served:
                return served[0]
            raise sandbox_error(
                "No workspace is available at this endpoint.", "WORKSPACE_NOT_FOUND"
            )
        found = self.store.workspace_by_url(url)
        if found is None or not self.serves(found):
            raise sandbox_error(f"The workspace `{url}` was not found.", "WORKSPACE_NOT_FOUND")
        return found

    def project(self, value: str) -> Project | None:
        """The served project whose node id is ``value``."""
        found = self.store.project_by_node_id(value)
        if found is None:
            return None
        workspace = self.store.workspace_by_url(found.workspace_url)
        return found if workspace is not None and self.serves(workspace) else None

    def location(self, region: str) -> dict[str, str]:
        """The ``DesWorkspaceLocation`` of a region on this server."""
        return {
            "name": region,
            "apiServiceUrl": f"{self.base_url}/{region}/graphql",
            "filesServiceUrl": f"{self.base_url}/{region}/files",
        }


Info: TypeAlias = GraphQLResolveInfo


def _ctx(info: Info) -> RequestContext:
    context: RequestContext = info.context
    return context


_SNAKE: dict[str, str] = {}
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def default_resolver(source: Any, info: Info, **_args: Any) -> Any:
    """A dict's key, else the snake_case attribute, else None (methods are never called)."""
    return read_field(source, info.field_name)


def read_field(source: Any, name: str) -> Any:
    """The value of field ``name`` on ``source``, as ``default_resolver`` reads it."""
    if type(source) is dict:
        return source.get(name)
    attribute = _SNAKE.get(name)
    if attribute is None:
        attribute = _SNAKE.setdefault(name, _CAMEL.sub(r"_\1", name).lower())
    return getattr(source, attribute, None)


def encode_cursor(index: int) -> str:
    """HotChocolate's offset cursor: base64 of the decimal 0-based index."""
    return base64.b64encode(str(index).encode()).decode("ascii")


def decode_cursor(cursor: str) -> int:
    """The index inside a cursor, or the error HotChocolate gives for a bad one."""
    try:
        index = int(base64.b64decode(cursor.encode("ascii"), validate=True).decode("ascii"))
    except (ValueError, UnicodeError, binascii.Error):
        raise sandbox_error("The cursor has an invalid format.", None) from None
    if index < 0:
        raise sandbox_error("The cursor has an invalid format.", None)
    return index


class Page(Generic[T]):
    """One page of a Relay connection; nodes are built only when a field asks for them."""

    __slots__ = ("_build", "_end", "_items", "_start")

    def __init__(
        self, items: Sequence[T], start: int, end: int, build: Callable[[T], Any] | None = None
    ) -> None:
        self._items = items
        self._start = start
        self._end = end
        self._build = build

    @property
    def total_count(self) -> int:
        """Items before paging."""
        return len(self._items)

    @property
    def nodes(self) -> list[Any]:
        """This page's items."""
        window = self._items[self._start : self._end]
        return [self._build(item) for item in window] if self._build else list(window)

    @property
    def edges(self) -> list[dict[str, Any]]:
        """This page's items with their cursors."""
        return [
            {"cursor": encode_cursor(index), "node": node}
            for index, node in enumerate(self.nodes, start=self._start)
        ]

    @property
    def page_info(self) -> dict[str, Any]:
        """Relay ``PageInfo``."""
        empty = self._end <= self._start
        return {
            "hasNextPage": self._end < len(self._items),
            "hasPreviousPage": self._start > 0,
            "startCursor": None if empty else encode_cursor(self._start),
            "endCursor": None if empty else encode_cursor(self._end - 1),
        }


def paginate(
    items: Sequence[T],
    info: Info,
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    build: Callable[[T], Any] | None = None,
    **_ignored: Any,
) -> Page[T]:
    """Slice ``items`` by Relay arguments the way HotChocolate's offset paging does."""
    label = f"{info.parent_type.name}.{info.field_name}"
    for requested in (first, last):
        if requested is None:
            continue
        if requested > MAX_PAGE_SIZE:
            raise sandbox_error(
                "The maximum allowed items per page were exceeded.",
                "HC0051",
                field=label,
                requestedItems=requested,
                maxAllowedItems=MAX_PAGE_SIZE,
            )
        if requested < 0:
            raise sandbox_error(
                "The requested number of items must be non-negative.", "HC0051", field=label
            )
    total = len(items)
    start = decode_cursor(after) + 1 if after is not None else 0
    end = decode_cursor(before) if before is not None else total
    start = min(start, total)
    end = max(start, min(end, total))
    if first is None and last is None:
        first = DEFAULT_PAGE_SIZE
    if first is not None:
        end = min(end, start + first)
    if last is not None:
        start = max(start, end - last)
    return Page(items, start, end, build)


def _empty_page() -> Page[Any]:
    return Page((), 0, 0)


Accessor = Callable[[Any], Any]


def _compare(value: Any, op: str, operand: Any) -> bool:
    if op == "and":
        return all(_matches_ops(value, item) for item in operand)
    if op == "or":
        return any(_matches_ops(value, item) for item in operand)
    if op == "eq":
        return bool(value == operand)
    if op == "neq":
        return bool(value != operand)
    if op == "in":
        return value in operand
    if op == "nin":
        return value not in operand
    if operand is None or value is None:
        return False
    negate = op.startswith("n") and op not in ("nin", "neq")
    base = op[1].lower() + op[2:] if negate else op
    if base == "contains":
        result = operand in value
    elif base == "startsWith":
        result = value.startswith(operand)
    elif base == "endsWith":
        result = value.endswith(operand)
    elif base == "gt":
        result = value > operand
    elif base == "gte":
        result = value >= operand
    elif base == "lt":
        result = value < operand
    elif base == "lte":
        result = value <= operand
    else:
        raise sandbox_error(
            f"The filter operation `{op}` is not supported.", "FILTER_NOT_SUPPORTED"
        )
    return bool(result) != negate


def _matches_ops(value: Any, ops: Mapping[str, Any]) -> bool:
    return all(_compare(value, op, operand) for op, operand in ops.items())


Nested = tuple[Accessor, Mapping[str, Any]]
"""A field whose filter is itself an object filter: the getter and the sub-fields' accessors."""


def matches(
    item: Any, where: Mapping[str, Any], accessors: Mapping[str, Accessor | Nested]
) -> bool:
    """Whether ``item`` passes a HotChocolate ``*FilterInput`` (``and``/``or`` and field ops)."""
    for key, condition in where.items():
        if condition is None:
            continue
        if key == "and":
            if not all(matches(item, sub, accessors) for sub in condition):
                return False
        elif key == "or":
            if not any(matches(item, sub, accessors) for sub in condition):
                return False
        else:
            spec = accessors.get(key)
            if spec is None:
                raise sandbox_error(
                    f"Filtering on `{key}` is not supported by the sandbox.", "FILTER_NOT_SUPPORTED"
                )
            if isinstance(spec, tuple):
                getter, sub_accessors = spec
                value = getter(item)
                if value is None or not matches(value, condition, sub_accessors):
                    return False
            elif not _matches_ops(spec(item), condition):
                return False
    return True


def filtered(
    items: Iterable[T], where: Mapping[str, Any] | None, accessors: Mapping[str, Accessor | Nested]
) -> list[T]:
    """``items`` passing ``where`` (all of them without one)."""
    if not where:
        return list(items)
    return [item for item in items if matches(item, where, accessors)]


def _attr(name: str) -> Accessor:
    return lambda item: getattr(item, name)


PROJECT_FILTER: dict[str, Accessor] = {
    "url": _attr("url"),
    "workspaceUrl": _attr("workspace_url"),
    "projectId": _attr("project_id"),
    "name": _attr("name"),
    "description": _attr("description"),
    "projectType": _attr("project_type"),
    "createdAt": _attr("created_at"),
    "updatedAt": _attr("updated_at"),
}
NAME_FILTER: dict[str, Accessor] = {"name": _attr("name")}
DOCUMENT_FILTER: dict[str, Accessor] = {
    "documentId": _attr("document_id"),
    "documentName": _attr("document_name"),
}
COMPONENT_FILTER: dict[str, Accessor] = {
    "name": _attr("name"),
    "comment": _attr("comment"),
    "description": _attr("description"),
}
RELEASE_FILTER: dict[str, Accessor] = {
    "createdAt": _attr("created_at"),
    "description": _attr("description"),
    "releaseId": _attr("release_id"),
}
WORKSPACE_FILTER: dict[str, Accessor] = {
    "name": _attr("name"),
    "url": _attr("url"),
    "authId": _attr("auth_id"),
    "description": _attr("description"),
    "isDefault": _attr("is_default"),
}
TRACK_FILTER: dict[str, Accessor | Nested] = {
    "layer": (_attr("layer"), {"name": _attr("name")}),
}


def _mils(mm: float) -> float:
    return mm / 0.0254


def _mm(internal_units: int) -> float:
    return internal_units / 10000 * 0.0254


def size(mm: float) -> dict[str, Any]:
    """A ``DesSize``; ``x`` is in Altium internal units (1/10000 mil)."""
    mils = _mils(mm)
    return {"x": round(mils * 10000), "xMm": round(mm, 4), "xMils": round(mils, 3)}


def position(x_mm: float, y_mm: float) -> dict[str, Any]:
    """A ``DesPosition2D``."""
    x_mils, y_mils = _mils(x_mm), _mils(y_mm)
    return {
        "x": round(x_mils * 10000),
        "y": round(y_mils * 10000),
        "xMm": round(x_mm, 4),
        "yMm": round(y_mm, 4),
        "xMils": round(x_mils, 3),
        "yMils": round(y_mils, 3),
    }


def size2d(x_mm: float, y_mm: float) -> dict[str, Any]:
    """A ``DesSize2D``."""
    return position(x_mm, y_mm)


def _empty(*_args: Any, **_kwargs: Any) -> list[Any]:
    return []


def _empty_connection(*_args: Any, **_kwargs: Any) -> Page[Any]:
    return _empty_page()


# --- Root fields ---------------------------------------------------------------------------


def _node(ctx: RequestContext, value: str) -> Any:
    decoded = decode_node_id(value)
    if decoded is None:
        return None
    kind = decoded[0]
    if kind == "DesProject":
        return ctx.project(value)
    if kind == "DesComponent":
        return ctx.store.component_by_id(value)
    if kind == "DesRelease":
        release = ctx.store.release_by_id(value)
        return (
            release
            if release and release.variants and ctx.project(release.variants[0].project.id)
            else None
        )
    if kind == "DesWorkspace":
        for workspace in ctx.served_workspaces():
            if workspace.id == value:
                return workspace
    return None


def _q_node(ctx: RequestContext, info: Info, **args: Any) -> Any:
    return _node(ctx, args["id"])


def _q_nodes(ctx: RequestContext, info: Info, **args: Any) -> Any:
    return [_node(ctx, value) for value in args["ids"]]


def _q_workspace_infos(ctx: RequestContext, info: Info, **args: Any) -> Any:
    return ctx.visible_workspaces()


def _q_workspaces(ctx: RequestContext, info: Info, **args: Any) -> Any:
    return filtered(ctx.visible_workspaces(), args.get("where"), WORKSPACE_FILTER)


def _q_workspace_locations(ctx: RequestContext, info: Info, **args: Any) -> Any:
    regions = dict.fromkeys(workspace.region for workspace in ctx.store.tenant.workspaces)
    return [ctx.location(region) for region in regions]


def _q_user_by_auth(ctx: RequestContext, info: Info, **args: Any) -> Any:
    return ctx.signed_in


def _q_users(ctx: RequestContext, info: Info, **args: Any) -> Any:
    members = {user.user_id: user for user in ctx.workspace(args.get("workspaceUrl")).members}
    return [members.get(value) for value in args["ids"]]


def _q_user_by_global_id(ctx: RequestContext, info: Info, **args: Any) -> Any:
    for user in ctx.store.tenant.users:
        if user.global_user_id == args["id"]:
            return user
    return None


def _q_team(ctx: RequestContext, info: Info, **args: Any) -> Any:
    return {"users": ctx.workspace(args.get("workspaceUrl")).members, "groups": []}


def _q_workspace_by_url(ctx: RequestContext, info: Info, **args: Any) -> Any:
    found = ctx.store.workspace_by_url(args["workspaceUrl"])
    return found if found is not None and ctx.serves(found) else None


def _q_workspace_by_id(ctx: RequestContext, info: Info, **args: Any) -> Any:
    for workspace in ctx.served_workspaces():
        if workspace.id == args["id"]:
            return workspace
    return None


def _q_projects(ctx: RequestContext, info: Info, **args: Any) -> Any:
    workspace = ctx.workspace(args.pop("workspaceUrl", None))
    projects = filtered(workspace.projects, args.pop("where", None), PROJECT_FILTER)
    return paginate(projects, info, **args)


def _q_project_by_id(ctx: RequestContext, info: Info, **args: Any) -> Any:
    return ctx.project(args["id"])


def _q_projects_by_ids(ctx: RequestContext, info: Info, **args: Any) -> Any:
    return [ctx.project(value) for value in args["ids"]]


def _project_arg(ctx: RequestContext, value: str) -> Project:
    project = ctx.project(value)
    if project is None:
        raise sandbox_error(f"The project `{value}` was not found.", "PROJECT_NOT_FOUND")
    ctx.faults.check_project(project)
    return project


def _q_comment_threads(ctx: RequestContext, info: Info, **args: Any) -> Any:
    project = _project_arg(ctx, args["projectId"])
    if ctx.faults.odd(project, "empty_threads"):
        return []
    return list(project.threads)


def _q_comment_thread(ctx: RequestContext, info: Info, **args: Any) -> Any:
    for thread in _project_arg(ctx, args["projectId"]).threads:
        if thread.comment_thread_id == args["threadId"]:
            return thread
    return None


def _q_wip_variant(ctx: RequestContext, info: Info, **args: Any) -> Any:
    project = ctx.project(args["projectId"])
    if project is None:
        return None
    ctx.faults.check_project(project)
    for variant in project.variants:
        if variant.name == args["variantName"]:
            return variant
    return None


def _q_release_by_id(ctx: RequestContext, info: Info, **args: Any) -> Any:
    found = _node(ctx, args["id"])
    return found if isinstance(found, Release) else None


def _q_release_variant(ctx: RequestContext, info: Info, **args: Any) -> Any:
    release = _node(ctx, args["releaseId"])
    if not isinstance(release, Release):
        return None
    for variant in release.variants:
        if variant.name == args["variantName"]:
            return variant
    return None


def _q_library(ctx: RequestContext, info: Info, **args: Any) -> Any:
    return ctx.workspace(args.get("workspaceUrl"))


def _q_component_by_id(ctx: RequestContext, info: Info, **args: Any) -> Any:
    return ctx.store.component_by_id(args["id"])


def _q_components_by_ids(ctx: RequestContext, info: Info, **args: Any) -> Any:
    result: list[Any] = []
    for value in args["ids"]:
        component = ctx.store.component_by_id(value)
        result.append(
            component
            if component is not None
            else {"message": f"The component `{value}` was not found."}
        )
    return result


def _q_sup_multi_match(ctx: RequestContext, info: Info, **args: Any) -> Any:
    if ctx.supply is None:
        raise sandbox_error("The sandbox serves no supply data.", "NOT_IMPLEMENTED")
    return ctx.supply.multi_match(args["queries"])


def _payload(*fields: str, errors: Sequence[str] = ()) -> dict[str, Any]:
    payload: dict[str, Any] = dict.fromkeys(fields, "")
    payload["errors"] = [{"message": message} for message in errors]
    return payload


def _mutation_project(ctx: RequestContext, entity_id: str) -> Project | None:
    project = ctx.project(entity_id)
    if project is not None:
        ctx.faults.check_project(project)
    return project


def _m_create_thread(ctx: RequestContext, info: Info, **args: Any) -> Any:
    data = args["input"]
    project = _mutation_project(ctx, data["entityId"])
    if project is None:
        return _payload("commentThreadId", "commentId", errors=["The project was not found."])
    area = data.get("area")
    rectangle = None
    if area:
        rectangle = (
            _mm(area["pos1"]["x"]),
            _mm(area["pos1"]["y"]),
            _mm(area["pos2"]["x"]),
            _mm(area["pos2"]["y"]),
        )
    object_id = (
        data.get("itemAsDesignItemPcbUniqueId")
        or data.get("itemAsDesignItemSchUniqueId")
        or data.get("itemAsInternalObjectId")
    )
    try:
        number, thread_id = ctx.store.open_thread(
            project,
            author=ctx.signed_in,
            text=data["text"],
            document=data["documentId"],
            object_id=object_id,
            area=rectangle,
        )
    except LookupError as error:
        return _payload("commentThreadId", "commentId", errors=[str(error)])
    thread = project.thread(number)
    return {"commentThreadId": thread_id, "commentId": thread.comments[0].comment_id, "errors": []}


def _mutation_thread(ctx: RequestContext, data: Mapping[str, Any]) -> CommentThread | str:
    """The thread a comment mutation names, checked as Nexar does: the project (``entityId``)
    must be one the token may see here, and the thread must be in it; else the payload's
    error message."""
    project = _mutation_project(ctx, data["entityId"])
    if project is None:
        return "The project was not found."
    for thread in project.threads:
        if thread.comment_thread_id == data["commentThreadId"]:
            return thread
    return f"The comment thread `{data['commentThreadId']}` was not found."


def _m_create_comment(ctx: RequestContext, info: Info, **args: Any) -> Any:
    data = args["input"]
    thread = _mutation_thread(ctx, data)
    if isinstance(thread, str):
        return _payload("commentId", errors=[thread])
    if not data["text"].strip():
        return _payload("commentId", errors=["The comment text must not be empty."])
    project = ctx.store.project(data["entityId"])
    comment_id = ctx.store.reply(
        project, thread.comment_thread_id, author=ctx.signed_in, text=data["text"]
    )
    return {"commentId": comment_id, "errors": []}


def _m_update_comment(ctx: RequestContext, info: Info, **args: Any) -> Any:
    data = args["input"]
    thread = _mutation_thread(ctx, data)
    if isinstance(thread, str):
        return _payload(errors=[thread])
    found = [item for item in thread.comments if item.comment_id == data["commentId"]]
    if not found:
        return _payload(errors=[f"The comment `{data['commentId']}` was not found."])
    if found[0].created_by.user_id != ctx.signed_in.user_id:
        return _payload(errors=["Only the author of a comment can edit it."])
    if not data["text"].strip():
        return _payload(errors=["The comment text must not be empty."])
    ctx.store.edit_comment(
        ctx.store.project(data["entityId"]),
        thread.comment_thread_id,
        data["commentId"],
        text=data["text"],
    )
    return _payload()


def _m_delete_comment(ctx: RequestContext, info: Info, **args: Any) -> Any:
    data = args["input"]
    project = _mutation_project(ctx, data["entityId"])
    if project is None:
        return _payload(errors=["The project was not found."])
    try:
        ctx.store.delete_comment(project, data["commentThreadId"], data["commentId"])
    except LookupError as error:
        return _payload(errors=[str(error)])
    return _payload()


def _m_delete_thread(ctx: RequestContext, info: Info, **args: Any) -> Any:
    data = args["input"]
    project = _mutation_project(ctx, data["entityId"])
    if project is None:
        return _payload(errors=["The project was not found."])
    try:
        ctx.store.delete_thread(project, data["commentThreadId"])
    except LookupError as error:
        return _payload(errors=[str(error)])
    return _payload()


RootResolver = Callable[..., Any]

QUERY: dict[str, RootResolver] = {
    "node": _q_node,
    "nodes": _q_nodes,
    "desWorkspaceInfos": _q_workspace_infos,
    "desWorkspaces": _q_workspaces,
    "desWorkspaceLocations": _q_workspace_locations,
    "desUserByAuth": _q_user_by_auth,
    "desUsers": _q_users,
    "desUserByGlobalId": _q_user_by_global_id,
    "desTeam": _q_team,
    "desWorkspaceByUrl": _q_workspace_by_url,
    "desWorkspaceById": _q_workspace_by_id,
    "desProjects": _q_projects,
    "desProjectById": _q_project_by_id,
    "desProjectsByIds": _q_projects_by_ids,
    "desCommentThreads": _q_comment_threads,
    "desCommentThread": _q_comment_thread,
    "desWipVariantByVariantName": _q_wip_variant,
    "desReleaseById": _q_release_by_id,
    "desReleaseVariantByVariantName": _q_release_variant,
    "desLibrary": _q_library,
    "desComponentById": _q_component_by_id,
    "desComponentsByIds": _q_components_by_ids,
    "supMultiMatch": _q_sup_multi_match,
}
MUTATION: dict[str, RootResolver] = {
    "desCreateCommentThread": _m_create_thread,
    "desCreateComment": _m_create_comment,
    "desUpdateComment": _m_update_comment,
    "desDeleteComment": _m_delete_comment,
    "desDeleteCommentThread": _m_delete_thread,
}


# --- Object fields -------------------------------------------------------------------------


def _project_preview(project: Project, info: Info, **args: Any) -> str:
    if args.get("isDirectLink"):
        ctx = _ctx(info)
        region = ctx.store.workspace_of(project).region
        return f"{ctx.base_url}/{region}/files/previews/{project.project_id}.png"
    return f"{project.url}/preview"


def _project_parameters(project: Project, info: Info, **args: Any) -> Any:
    names = args.get("names")
    return [
        {"name": key, "value": value}
        for key, value in project.parameters.items()
        if names is None or key in names
    ]


def _variants(project: Project, info: Info, **args: Any) -> Any:
    return filtered(project.variants, args.get("where"), NAME_FILTER)


def _releases(project: Project, info: Info, **args: Any) -> Any:
    return paginate(
        filtered(project.releases, args.pop("where", None), RELEASE_FILTER), info, **args
    )


def _schematics(variant: Variant, info: Info, **args: Any) -> Any:
    return filtered(variant.project.schematics, args.get("where"), DOCUMENT_FILTER)


def _document_threads(document: Document, info: Info, **args: Any) -> Any:
    return [
        thread for thread in document.project.threads if thread.document_id == document.document_id
    ]


def _design_item(document: Document) -> Callable[[tuple[BomLine, BomInstance, int]], Any]:
    top = document.layers[0] if document.layers else None

    def build(entry: tuple[BomLine, BomInstance, int]) -> dict[str, Any]:
        line, instance, index = entry
        component = instance.alternate_component or line.component
        prefix = f"{instance.designator}-"
        return {
            "schId": f"SCH-{index:05d}",
            "pcbId": f"PCB-{index:05d}",
            "component": component,
            "commentThreads": [
                thread
                for thread in document.project.threads
                if thread.object_id == instance.designator
            ],
            "designator": instance.designator,
            "description": component.description,
            "comment": component.comment,
            "layer": top,
            "position": position(5.0 + (index % 20) * 4.0, 5.0 + (index // 20) * 4.0),
            "footprintName": component.footprint or "UNKNOWN",
            "rotation": 0.0,
            "parameters": [
                {"name": item.name, "value": item.value} for item in component.parameters
            ],
            "pads": [pad for pad in document.pads if pad.global_designator.startswith(prefix)],
            "vias": [],
            "tracks": [],
        }

    return build


def _design_items(document: Document, info: Info, **args: Any) -> Any:
    project = document.project
    entries: list[tuple[BomLine, BomInstance, int]] = []
    if project.variants:
        sheets = project.schematics
        sheet = sheets.index(document) if document in sheets else None
        index = 0
        for line in project.variants[0].lines:
            for instance in line.instances:
                if sheet is None or index % len(sheets) == sheet:
                    entries.append((line, instance, index))
                index += 1
    where = args.pop("where", None)
    designators = args.pop("designators", None)
    if designators is not None:
        wanted = set(designators)
        entries = [entry for entry in entries if entry[1].designator in wanted]
    if where:
        entries = filtered(entries, where, {"designator": lambda entry: entry[1].designator})
    return paginate(entries, info, build=_design_item(document), **args)


def _nets(document: Document, info: Info, **args: Any) -> Any:
    names = args.get("names")
    if names is None:
        return document.nets
    wanted = set(names)
    return [net for net in document.nets if net.name in wanted]


def _tracks_of(tracks: Iterable[Track], where: Mapping[str, Any] | None) -> list[Track]:
    return filtered(tracks, where, TRACK_FILTER)


def _pcb_outline(document: Document, info: Info) -> Any:
    w, h = document.width_mm, document.height_mm
    return {"vertices": [position(0, 0), position(w, 0), position(w, h), position(0, h)]}


def _pcb_area(document: Document, info: Info) -> Any:
    mm2 = document.width_mm * document.height_mm
    return {"x": mm2 / 0.0254**2 * 1e8, "xMm2": round(mm2, 4), "xMils2": round(mm2 / 0.0254**2, 2)}


def _thread_area(thread: CommentThread, info: Info) -> Any:
    x1, y1, x2, y2 = thread.area
    return {"pos1": position(x1, y1), "pos2": position(x2, y2)}


def _design(project: Project, info: Info) -> Project | None:
    return None if _ctx(info).faults.odd(project, "null_design") else project


def _wip_bom(variant: Variant, info: Info) -> Variant | None:
    return None if _ctx(info).faults.odd(variant.project, "null_bom", variant.name) else variant


def _bom_lines(variant: Variant, info: Info) -> Sequence[BomLine]:
    if variant.release is None and _ctx(info).faults.odd(variant.project, "empty_bom",
                                                         variant.name):
        return ()
    return variant.lines


def _release_download(variant: Variant, info: Info) -> str:
    release_id = variant.release.release_id if variant.release else "wip"
    return f"{variant.project.url}/releases/{release_id}/{variant.name}.zip"


def _library_updated(workspace: Workspace, info: Info) -> datetime:
    return max((item.modified_at for item in workspace.library), default=workspace.created_at)


def _library_components(workspace: Workspace, info: Info, **args: Any) -> Any:
    components = filtered(workspace.library, args.pop("where", None), COMPONENT_FILTER)
    return paginate(components, info, **args)


OBJECTS: dict[str, dict[str, Resolver]] = {
    "DesWorkspaceInfo": {
        "location": lambda ws, info: _ctx(info).location(ws.region),
    },
    "DesWorkspace": {
        "location": lambda ws, info: _ctx(info).location(ws.region),
        "library": lambda ws, info, **_: ws,
        "configuration": lambda ws, info: {"projectTemplates": None},
        "team": lambda ws, info: {"users": ws.members, "groups": []},
        "projects": lambda ws, info, **args: filtered(
            ws.projects, args.get("where"), PROJECT_FILTER
        ),
        "tasks": _empty,
    },
    "DesLibrary": {
        "createdBy": lambda ws, info: ws.owner,
        "updatedBy": lambda ws, info: ws.owner,
        "folders": _empty,
        "components": _library_components,
        "componentTemplates": _empty_connection,
        "reuseBlocks": _empty_connection,
        "symbols": _empty_connection,
        "footprints": _empty_connection,
        "datasheets": _empty_connection,
        "downloadUrlsByTokens": lambda ws, info, **args: [None for _ in args["tokens"]],
        "name": lambda ws, info: f"{ws.name} Library",
        "description": lambda ws, info: f"Components of {ws.name}",
        "version": lambda ws, info: "1.0",
        "eventChannel": lambda ws, info: f"library/{ws.workspace_id}",
        "createdAt": lambda ws, info: ws.created_at,
        "updatedAt": _library_updated,
    },
    "DesProject": {
        "parameters": _project_parameters,
        "previewUrl": _project_preview,
        "latestRevision": lambda project, info: project.latest_revision(),
        "revisions": lambda project, info, **args: paginate(project.revisions[::-1], info, **args),
        "projectPermissions": _empty,
        "tasks": _empty,
        "variantCount": lambda project, info: len(project.variants),
        "design": _design,
    },
    "DesDesign": {
        "variants": _variants,
        "releases": _releases,
        "workInProgress": lambda project, info: project,
    },
    "DesWorkInProgress": {"variants": _variants},
    "DesWipVariant": {
        "projectId": lambda variant, info: variant.project.id,
        "bom": _wip_bom,
        "pcb": lambda variant, info: variant.project.pcb,
        "schematics": _schematics,
    },
    "DesReleaseVariant": {
        "releaseId": lambda variant, info: variant.release.id if variant.release else "",
        "downloadUrl": _release_download,
        "bom": lambda variant, info: variant,
        "pcb": lambda variant, info: variant.project.pcb,
        "schematics": _schematics,
    },
    "DesRelease": {
        "variants": lambda release, info, **args: filtered(
            release.variants, args.get("where"), NAME_FILTER
        ),
        "manufacturePackages": _empty,
    },
    "DesBom": {
        "bomItems": _bom_lines,
        "items": lambda variant, info, **args: paginate(_bom_lines(variant, info), info, **args),
    },
    "DesBomItem": {"bomItemInstances": lambda line, info: line.instances},
    "DesComponent": {
        "details": lambda component, info: component,
        "revision": lambda component, info: {"revisionId": component.revision_id, "details": None},
    },
    "DesComponentDetails": {
        "itemParameters": _empty,
        "symbols": _empty,
        "footprints": _empty,
        "simulations": _empty,
        "datasheets": _empty,
    },
    "DesPcb": {
        "outline": _pcb_outline,
        "designItems": _design_items,
        "nets": _nets,
        "tracks": lambda document, info, **args: _tracks_of(
            (track for net in document.nets for track in net.tracks), args.get("where")
        ),
        "vias": lambda document, info: [via for net in document.nets for via in net.vias],
        "commentThreads": _document_threads,
        "size": lambda document, info: size2d(document.width_mm, document.height_mm),
        "area": _pcb_area,
        "origin": lambda document, info: position(0.0, 0.0),
    },
    "DesSchematic": {
        "designItems": _design_items,
        "commentThreads": _document_threads,
    },
    "DesNet": {
        "cumulativeLength": lambda net, info: size(net.length_mm),
        "tracks": lambda net, info, **args: _tracks_of(net.tracks, args.get("where")),
    },
    "DesLayer": {"layerProperties": _empty},
    "DesPad": {
        "isPlated": lambda pad, info: pad.hole_mm > 0,
        "holeSize": lambda pad, info: size(pad.hole_mm),
        "size": lambda pad, info: size2d(pad.width_mm, pad.height_mm),
        "position": lambda pad, info: position(pad.x_mm, pad.y_mm),
    },
    "DesVia": {
        "layer": lambda via, info: via.begin_layer,
        "holeDiameter": lambda via, info: size(via.hole_mm),
        "padDiameter": lambda via, info: size(via.pad_mm),
        "shape": lambda via, info: "ROUND",
        "position": lambda via, info: position(via.x_mm, via.y_mm),
    },
    "DesTrack": {
        "width": lambda track, info: size(track.width_mm),
        "begin": lambda track, info: position(*track.begin),
        "end": lambda track, info: position(*track.end),
    },
    "DesCommentThread": {"context": lambda thread, info: thread},
    "DesCommentContext": {"area": _thread_area},
    "DesComment": {"mentions": lambda comment, info: [{"user": user} for user in comment.mentions]},
    "DesVcsRevision": {
        "files": lambda revision, info: [
            {"kind": kind, "path": path} for kind, path in revision.files
        ],
    },
}

_TYPE_NAMES: dict[type, str] = {
    Project: "DesProject",
    Component: "DesComponent",
    Release: "DesRelease",
    Workspace: "DesWorkspace",
    Revision: "DesVcsRevision",
    Net: "DesNet",
    Pad: "DesPad",
    Via: "DesVia",
    Layer: "DesLayer",
}


def _resolve_type(value: Any, info: Info, abstract: Any) -> str | None:
    if isinstance(value, dict):
        return "DesErrorPayload" if "message" in value else None
    return _TYPE_NAMES.get(type(value))


def _root_field(name: str, resolver: RootResolver | None, *, mutation: bool) -> Resolver:
    supply = name.startswith(SUPPLY_PREFIX)
    scope = SUPPLY_SCOPE if supply else DESIGN_SCOPE

    def resolve(_root: Any, info: Info, **args: Any) -> Any:
        ctx = _ctx(info)
        if scope not in ctx.scopes:
            raise sandbox_error(NOT_AUTHORIZED, "AUTH_NOT_AUTHORIZED")
        if supply:
            misrouted = ctx.region is not None
        else:
            misrouted = ctx.region is None and (mutation or name not in DISCOVERY_FIELDS)
        if misrouted:
            raise sandbox_error("Token validation failed", "AUTH_NOT_AUTHORIZED")
        ctx.faults.check_root()
        if resolver is None:
            raise sandbox_error(f"The sandbox does not implement `{name}`.", "NOT_IMPLEMENTED")
        return resolver(ctx, info, **args)

    return resolve


def _project_field(resolver: Resolver) -> Resolver:
    def resolve(project: Project, info: Info, **args: Any) -> Any:
        _ctx(info).faults.check_project(project)
        return resolver(project, info, **args)

    return resolve


def _bind(schema: GraphQLSchema) -> None:
    for scalar_name, out, parse, literal in (
        ("DateTime", _datetime_out, parse_datetime, _datetime_literal),
        ("Decimal", _decimal_out, _decimal_in, _decimal_literal),
    ):
        scalar: Any = schema.get_type(scalar_name)
        scalar.serialize = scalar.coerce_output_value = out
        scalar.parse_value = scalar.coerce_input_value = parse
        scalar.coerce_input_literal = literal
    for root_type, table, mutation in (
        (schema.query_type, QUERY, False),
        (schema.mutation_type, MUTATION, True),
    ):
        assert root_type is not None
        for name, field in root_type.fields.items():
            field.resolve = _root_field(name, table.get(name), mutation=mutation)
    for type_name, fields in OBJECTS.items():
        object_type = schema.get_type(type_name)
        if not isinstance(object_type, GraphQLObjectType):
            raise TypeError(f"{type_name} is not an object type of the schema")
        for field_name, resolver in fields.items():
            if field_name not in object_type.fields:
                raise KeyError(f"{type_name}.{field_name} is not in the schema")
            object_type.fields[field_name].resolve = resolver
    project_type = schema.get_type("DesProject")
    assert isinstance(project_type, GraphQLObjectType)
    for name in PROJECT_DATA_FIELDS:
        field = project_type.fields[name]
        field.resolve = _project_field(field.resolve or default_resolver)
    for abstract_name in ("Node", "DesUnionPayload"):
        abstract: Any = schema.get_type(abstract_name)
        abstract.resolve_type = _resolve_type


_LOCK = threading.Lock()


@functools.cache
def _executable(path: Path) -> GraphQLSchema:
    schema = build_schema(path.read_text(encoding="utf-8"))
    _bind(schema)
    return schema


def executable_schema(schema_path: str | Path | None = None) -> GraphQLSchema:
    """The Nexar schema at ``schema_path`` (default: ``default_schema_path()``) with resolvers.

    Built and bound once per process for each path.
    """
    path = Path(schema_path) if schema_path is not None else default_schema_path()
    if not path.is_file():
        source = f"{SCHEMA_ENV} names" if os.environ.get(SCHEMA_ENV) else "the bundled schema is"
        raise FileNotFoundError(f"Nexar schema not found: {source} {path}, which is not a file")
    with _LOCK:
        return _executable(path.resolve())
