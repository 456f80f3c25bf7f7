"""Fault injection for the sandbox: HTTP errors, GraphQL field errors, latency, dropped sockets.

Tests arm faults on ``sandbox.faults``; the server consumes them. Everything is guarded by one
lock so faults can be armed while requests are in flight. ``times=None`` means "until cleared".
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from graphql import GraphQLError

from .model import Project


@dataclass(slots=True)
class HttpFault:
    """An HTTP status answered instead of executing the query."""

    status: int
    remaining: int | None
    needles: tuple[bytes, ...] | None
    retry_after: int | float | str | None


@dataclass(slots=True, eq=False)
class GraphQLFault:
    """A resolver failure: on one project's data, or (project None) on every root field."""

    project_id: str | None
    remaining: int | None
    code: str
    message: str

    def error(self) -> GraphQLError:
        """The error the failing resolver raises."""
        return GraphQLError(self.message, extensions={"code": self.code})


def _take(remaining: int | None) -> tuple[bool, int | None]:
    if remaining is None:
        return True, None
    if remaining <= 0:
        return False, 0
    return True, remaining - 1


class Faults:
    """The armed faults of one sandbox (thread-safe)."""

    def __init__(self, resolve_project: Callable[[str], Project]) -> None:
        self._resolve = resolve_project
        self._lock = threading.Lock()
        self._http: list[HttpFault] = []
        self._graphql: list[GraphQLFault] = []
        self._latency = 0.0
        self._drops: int | None = 0

    def http_error(
        self,
        status: int = 500,
        times: int | None = 1,
        project: str | None = None,
        retry_after: int | float | str | None = None,
    ) -> None:
        """Answer the next ``times`` requests with HTTP ``status``.

        With ``project`` (a name), only requests whose body mentions that project's node id or
        projectId count. ``retry_after`` adds a ``Retry-After`` header (429 for rate limits).
        """
        needles = None
        if project is not None:
            target = self._resolve(project)
            needles = (target.id.encode(), target.project_id.encode())
        with self._lock:
            self._http.append(HttpFault(status, times, needles, retry_after))

    def graphql_error(
        self,
        project: str | None = None,
        times: int | None = 1,
        code: str = "INTERNAL_ERROR",
        message: str = "Unexpected Execution Error",
    ) -> None:
        """Make resolvers fail with a GraphQL error for the next ``times`` requests.

        With ``project``: resolving that project's design data (``design``,
        ``revisions``, ...), or its threads or variant through the root fields, raises;
        nulls propagate as graphql-core does, beside the rest of the data. Without: every
        root field of the next requests raises.
        """
        project_id = self._resolve(project).id if project is not None else None
        with self._lock:
            self._graphql.append(GraphQLFault(project_id, times, code, message))

    def latency(self, seconds: float) -> None:
        """Delay every answer by ``seconds`` (0 clears)."""
        with self._lock:
            self._latency = max(0.0, float(seconds))

    def drop_connection(self, times: int | None = 1) -> None:
        """Close the socket of the next ``times`` requests without answering."""
        with self._lock:
            self._drops = times

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._http.clear()
            self._graphql.clear()
            self._latency = 0.0
            self._drops = 0

    @property
    def delay(self) -> float:
        """The armed latency in seconds."""
        with self._lock:
            return self._latency

    def take_drop(self) -> bool:
        """Whether this request's socket should be dropped (consumes one drop)."""
        with self._lock:
            hit, self._drops = _take(self._drops)
            return hit

    def take_http(self, body: bytes) -> HttpFault | None:
        """The HTTP fault this request body triggers, if any (consumes one use)."""
        with self._lock:
            for fault in self._http:
                if fault.needles is not None and not any(n in body for n in fault.needles):
                    continue
                hit, fault.remaining = _take(fault.remaining)
                if fault.remaining == 0:
                    self._http.remove(fault)
                if hit:
                    return fault
            return None

    def session(self) -> FaultSession:
        """The GraphQL-fault view of one request."""
        with self._lock:
            root: GraphQLFault | None = None
            for fault in self._graphql:
                if fault.project_id is None:
                    hit, fault.remaining = _take(fault.remaining)
                    if fault.remaining == 0:
                        self._graphql.remove(fault)
                    if hit:
                        root = fault
                        break
            projects = {fault.project_id for fault in self._graphql if fault.project_id}
        return FaultSession(self, root, frozenset(projects))

    def _project_fault(self, project_id: str, seen: dict[str, GraphQLFault]) -> GraphQLFault | None:
        if project_id in seen:
            return seen[project_id]
        with self._lock:
            for fault in self._graphql:
                if fault.project_id != project_id:
                    continue
                hit, fault.remaining = _take(fault.remaining)
                if fault.remaining == 0:
                    self._graphql.remove(fault)
                if hit:
                    seen[project_id] = fault
                    return fault
        return None


class FaultSession:
    """GraphQL faults as one request sees them: each fault counts once per request."""

    __slots__ = ("_faults", "_projects", "_root", "_seen")

    def __init__(self, faults: Faults, root: GraphQLFault | None, projects: frozenset[str]) -> None:
        self._faults = faults
        self._root = root
        self._projects = projects
        self._seen: dict[str, GraphQLFault] = {}

    @property
    def root_fault(self) -> GraphQLFault | None:
        """The fault failing every root field of this request, if any."""
        return self._root

    def check_root(self) -> None:
        """Raise if this request's root fields are to fail."""
        if self._root is not None:
            raise self._root.error()

    def check_project(self, project: Project) -> None:
        """Raise if resolving ``project``'s data is to fail in this request."""
        if project.id not in self._projects:
            return
        fault = self._faults._project_fault(project.id, self._seen)
        if fault is not None:
            raise fault.error()

    @property
    def triggered(self) -> tuple[str, ...]:
        """Node ids of the projects whose fault fired in this request."""
        return tuple(self._seen)
