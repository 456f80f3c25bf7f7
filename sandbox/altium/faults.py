"""Fault injection for the sandbox: HTTP errors, GraphQL field errors, odd answers, latency,
dropped sockets, lost and held answers to mutations, and a gateway that ignores the request's
``Accept``.

Tests arm faults on ``sandbox.faults``; the server consumes them. Everything is guarded by one
lock so faults can be armed while requests are in flight. ``times=None`` means "until cleared".
Odd answers are the ones the schema allows without an error (a null ``bom``, an empty thread
list); a null where the schema forbids one (``design``) comes with the error HotChocolate gives.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

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


OddKind = Literal["null_bom", "empty_bom", "null_design", "empty_threads"]
"""``null_bom``: a variant's ``bom`` is null; ``empty_bom``: it has no items; ``null_design``:
a project's ``design`` resolves to null; ``empty_threads``: ``desCommentThreads`` is ``[]``."""

NOT_AUTHORIZED = "The current user is not authorized to access this resource."
"""HotChocolate's message for ``AUTH_NOT_AUTHORIZED``."""


@dataclass(slots=True, eq=False)
class OddAnswer:
    """An answer the schema allows but the data does not justify, for one project's reads."""

    project_id: str
    kind: OddKind
    variant: str | None
    remaining: int | None

    def covers(self, variant: str | None) -> bool:
        """Whether this odd answer applies to ``variant`` (every variant when it names none)."""
        return self.variant is None or variant is None or self.variant == variant


@dataclass(slots=True, eq=False)
class HeldAnswer:
    """A mutation's answer held back: sent once released, dropped if the sandbox stops."""

    answer: bool = True
    _done: threading.Event = field(default_factory=threading.Event, init=False)

    def wait(self) -> bool:
        """Block until let go; whether the answer is then sent (False: the sandbox stopped)."""
        self._done.wait()
        return self.answer

    def let_go(self, *, answer: bool) -> None:
        """Wake the request waiting on this answer."""
        self.answer = answer
        self._done.set()


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
        self._odd: list[OddAnswer] = []
        self._graphql_response: int | None = 0
        self._latency = 0.0
        self._drops: int | None = 0
        self._lost_answers: int | None = 0
        self._holds: int | None = 0
        self._held: list[HeldAnswer] = []
        self._held_changed = threading.Condition(self._lock)

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

    def not_authorized(self, project: str, times: int | None = 1) -> None:
        """Refuse ``project``'s data with ``AUTH_NOT_AUTHORIZED`` at its field's ``path``.

        HotChocolate raises it per field: an aliased thread query fails at that alias (the
        non-null list then blanks ``data``), ``desProjectById`` at its ``design``.
        """
        self.graphql_error(project, times=times, code="AUTH_NOT_AUTHORIZED", message=NOT_AUTHORIZED)

    def null_bom(self, project: str, *, variant: str | None = None, times: int | None = 1) -> None:
        """Answer ``bom: null`` without an error (``DesWipVariant.bom`` is nullable) for the
        project's variants (only ``variant`` when given) in the next ``times`` requests."""
        self._odd_answer(project, "null_bom", variant, times)

    def empty_bom(self, project: str, *, variant: str | None = None, times: int | None = 1) -> None:
        """Answer the variants' BOM with no items at all (``totalCount`` 0), without an error."""
        self._odd_answer(project, "empty_bom", variant, times)

    def null_design(self, project: str, times: int | None = 1) -> None:
        """Resolve the project's ``design`` to null. ``DesProject.design`` is non-null, so the
        null reaches ``desProjectById`` with a non-null violation error at the path."""
        self._odd_answer(project, "null_design", None, times)

    def empty_threads(self, project: str, times: int | None = 1) -> None:
        """Answer ``desCommentThreads`` of the project with ``[]``, without an error."""
        self._odd_answer(project, "empty_threads", None, times)

    def graphql_response(self, times: int | None = None) -> None:
        """Answer the next ``times`` GraphQL results as ``application/graphql-response+json``
        whatever the request's ``Accept`` asks (400 without data, 500 with null data), as a
        HotChocolate 13+ gateway does for ``*/*`` and as a proxy that drops ``Accept`` would."""
        with self._lock:
            self._graphql_response = times

    def _odd_answer(self, project: str, kind: OddKind, variant: str | None,
                    times: int | None) -> None:
        project_id = self._resolve(project).id
        with self._lock:
            self._odd.append(OddAnswer(project_id, kind, variant, times))

    def latency(self, seconds: float) -> None:
        """Delay every answer by ``seconds`` (0 clears)."""
        with self._lock:
            self._latency = max(0.0, float(seconds))

    def drop_connection(self, times: int | None = 1) -> None:
        """Close the socket of the next ``times`` requests without answering."""
        with self._lock:
            self._drops = times

    def lose_answer(self, times: int | None = 1) -> None:
        """Run the next ``times`` mutations, then close the socket without answering: the
        write happened but the client cannot know it (a timeout or a proxy cut after the
        request reached Nexar). Queries are answered as usual."""
        with self._lock:
            self._lost_answers = times

    def hold_answer(self, times: int | None = 1) -> None:
        """Run the next ``times`` mutations, then hold each answer until ``release_answer``
        (or ``clear``; a stop drops it unanswered). The write is stored and visible to
        queries meanwhile, so a test can kill the client while it waits for the answer to a
        write that already happened. ``wait_held`` tells when an answer is being held."""
        with self._lock:
            self._holds = times

    def release_answer(self) -> int:
        """Send the held answers; returns how many there were."""
        return self._let_go(answer=True)

    def hang_up_held(self) -> int:
        """Stop holding answers and close the held ones' sockets unanswered, as a server
        going down would; returns how many there were."""
        with self._lock:
            self._holds = 0
        return self._let_go(answer=False)

    @property
    def held(self) -> int:
        """How many answers are being held now."""
        with self._lock:
            return len(self._held)

    def wait_held(self, timeout: float = 5.0, count: int = 1) -> bool:
        """Wait until at least ``count`` answers are being held; False when ``timeout``
        seconds pass first."""
        with self._held_changed:
            return self._held_changed.wait_for(lambda: len(self._held) >= count, timeout)

    def _let_go(self, *, answer: bool) -> int:
        with self._lock:
            held, self._held = self._held, []
        for item in held:
            item.let_go(answer=answer)
        return len(held)

    def clear(self) -> None:
        """Disarm every fault and send the held answers."""
        with self._lock:
            self._http.clear()
            self._graphql.clear()
            self._odd.clear()
            self._graphql_response = 0
            self._latency = 0.0
            self._drops = 0
            self._lost_answers = 0
            self._holds = 0
        self.release_answer()

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

    def take_lost_answer(self) -> bool:
        """Whether this executed mutation's answer is to be lost (consumes one)."""
        with self._lock:
            hit, self._lost_answers = _take(self._lost_answers)
            return hit

    def take_held_answer(self) -> HeldAnswer | None:
        """The hold on this executed mutation's answer, if one is armed (consumes one)."""
        with self._lock:
            hit, self._holds = _take(self._holds)
            if not hit:
                return None
            held = HeldAnswer()
            self._held.append(held)
            self._held_changed.notify_all()
            return held

    def take_graphql_response(self) -> bool:
        """Whether this GraphQL result is to be answered as graphql-response+json (consumes)."""
        with self._lock:
            hit, self._graphql_response = _take(self._graphql_response)
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
            odd = {answer.project_id for answer in self._odd}
        return FaultSession(self, root, frozenset(projects), frozenset(odd))

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

    def _odd_answer_for(self, project_id: str, kind: OddKind, variant: str | None,
                        ) -> OddAnswer | None:
        with self._lock:
            for answer in self._odd:
                if answer.project_id != project_id or answer.kind != kind:
                    continue
                if not answer.covers(variant):
                    continue
                hit, answer.remaining = _take(answer.remaining)
                if answer.remaining == 0:
                    self._odd.remove(answer)
                if hit:
                    return answer
        return None


class FaultSession:
    """GraphQL faults as one request sees them: each fault counts once per request."""

    __slots__ = ("_faults", "_odd", "_odd_projects", "_projects", "_root", "_seen")

    def __init__(self, faults: Faults, root: GraphQLFault | None, projects: frozenset[str],
                 odd_projects: frozenset[str] = frozenset()) -> None:
        self._faults = faults
        self._root = root
        self._projects = projects
        self._odd_projects = odd_projects
        self._seen: dict[str, GraphQLFault] = {}
        self._odd: list[OddAnswer] = []

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

    def odd(self, project: Project, kind: OddKind, variant: str | None = None) -> bool:
        """Whether ``project``'s ``kind`` of data is to be answered oddly in this request.

        An odd answer counts once per request, however many variants the request reads.
        """
        if project.id not in self._odd_projects:
            return False
        for answer in self._odd:
            if answer.project_id == project.id and answer.kind == kind and answer.covers(variant):
                return True
        found = self._faults._odd_answer_for(project.id, kind, variant)
        if found is None:
            return False
        self._odd.append(found)
        return True

    @property
    def odd_answers(self) -> tuple[str, ...]:
        """The kinds of odd answer given in this request."""
        return tuple(dict.fromkeys(answer.kind for answer in self._odd))

    @property
    def triggered(self) -> tuple[str, ...]:
        """Node ids of the projects whose fault fired in this request."""
        return tuple(self._seen)
