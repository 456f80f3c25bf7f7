"""The Nexar GraphQL client: discovery, regional endpoints, paging, batching, retries.

httpx and GraphQL failures are translated here into ``state.errors`` exceptions. A
response that carries ``errors`` is a failed fetch even beside partial ``data``: a field
that failed alone must never read as "the project now has no threads". Likewise a null
where the schema allows one but the bot needs data (a variant's ``bom``) is a failed read,
never an empty one.

The client asks for ``application/json`` and reads a GraphQL body on any HTTP status before
deciding what failed: a HotChocolate 13+ gateway answers ``application/graphql-response+json``
with 400 for invalid queries and 500 when ``data`` is null, so a status alone says little.

Writes (``create_comment``, ``update_comment``) are retried only while Nexar cannot have
applied them: a connection never made, HTTP 429 (rate limited before execution) and 503
(not served). Once the request may have reached Nexar, a lost answer (a read timeout, a
dropped connection, a gateway's bare 500, 502 or 504) raises ``NexarUnknownOutcomeError``
at once instead of sending the write again: the comment may exist, and only a read of the
thread can tell. A payload whose ``errors`` list is not empty raises ``NexarWriteError``.
Nexar has no public mutation to resolve a thread, so the client writes comments only.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any, Protocol

import httpx
import orjson

from jobs import records
from jobs.errors import (
    NexarAuthError,
    NexarError,
    NexarQueryError,
    NexarUnavailableError,
    NexarUnknownOutcomeError,
    NexarWriteError,
)
from jobs.records import Fingerprint
from state.model import BomLine, Person, ProjectInfo, Thread
from state.supply import PartKey, SupplyFacts

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.nexar.com/graphql"
MAX_PAGE_SIZE = 100
_OPERATION = re.compile(r"^\s*(?:query|mutation)\s+(\w+)", re.MULTILINE)
AUTH_CODES = {"AuthExpiredToken", "AuthInvalidToken", "AUTH_NOT_AUTHORIZED",
              "AUTH_NOT_AUTHENTICATED"}
ACCEPT = "application/json"
"""What the client asks for: the classic GraphQL JSON answer, HTTP 200 for any GraphQL result."""
SUPPLY_BATCH = 100
"""Parts one ``supMultiMatch`` may ask for: Nexar refuses more than 100 in one request."""
NO_SUPPLY_SCOPE = ("the Nexar token may not read supply data (no supply.domain scope): sign in "
                   "with 'review-bot auth login --supply' or set NEXAR_CLIENT_ID/SECRET for an "
                   "app with supply access")
UNPROCESSED_STATUSES = frozenset({429, 503})
"""HTTP statuses that say the request was turned away before it ran: a write may be resent."""
NEVER_SENT: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError,
    httpx.UnsupportedProtocol, httpx.LocalProtocolError)
"""Transport failures before the request left this process: a write may be resent."""


@cache
def query(name: str) -> str:
    """The text of ``jobs/queries/<name>.graphql``."""
    return resources.files("jobs.queries").joinpath(f"{name}.graphql").read_text("utf-8")


@cache
def thread_query() -> str:
    """``CommentThread``: one thread of one project, with the fields of a snapshot's thread."""
    source = query("comment_threads")
    fragments = source[source.index("fragment "):]
    return ("query CommentThread($projectId: ID!, $threadId: String!) {\n"
            "  desCommentThread(projectId: $projectId, threadId: $threadId) {\n"
            "    ...ThreadFields\n  }\n}\n\n" + fragments)


def batch_threads_query(count: int) -> str:
    """``CommentThreads`` for ``count`` projects in one request, one alias ``pN`` each."""
    source = query("comment_threads")
    fragments = source[source.index("fragment "):]
    params = ", ".join(f"$p{i}: ID!" for i in range(count))
    fields = "\n".join(
        f"  p{i}: desCommentThreads(projectId: $p{i}) {{\n    ...ThreadFields\n  }}"
        for i in range(count)
    )
    return f"query CommentThreadsBatch({params}) {{\n{fields}\n}}\n\n{fragments}"


def _fragments(name: str) -> str:
    """The fragment definitions of a query file (every line from the first one on)."""
    source = query(name)
    found = re.search(r"^fragment ", source, re.MULTILINE)
    if found is None:
        raise ValueError(f"query {name} defines no fragment")
    return source[found.start():]


@cache
def batch_fingerprints_query(count: int) -> str:
    """``ThreadFingerprintsBatch``: ``ThreadPrint`` of ``count`` projects, alias ``pN`` each."""
    params = ", ".join(f"$p{i}: ID!" for i in range(count))
    fields = "\n".join(f"  p{i}: desCommentThreads(projectId: $p{i}) {{ ...ThreadPrint }}"
                       for i in range(count))
    return (f"query ThreadFingerprintsBatch({params}) {{\n{fields}\n}}\n\n"
            + _fragments("thread_fingerprints"))


@cache
def batch_designs_query(count: int) -> str:
    """``DesignsBatch``: documents and first BOM pages of ``count`` projects, alias ``dN``."""
    params = ", ".join(["$first: Int!", *(f"$d{i}: ID!" for i in range(count))])
    fields = "\n".join(f"  d{i}: desProjectById(id: $d{i}) {{ ...DesignFields }}"
                       for i in range(count))
    return f"query DesignsBatch({params}) {{\n{fields}\n}}\n\n" + _fragments("design")


class TokenSource(Protocol):
    """Where the client gets its bearer token, and a fresh one when Nexar says it expired."""

    def token(self) -> str: ...

    def refresh(self, stale: str) -> str | None: ...


class FixedToken:
    """A token given as is (``NEXAR_TOKEN``): used until it expires, never refreshed."""

    def __init__(self, token: str) -> None:
        self._token = token

    def token(self) -> str:
        return self._token

    def refresh(self, stale: str) -> str | None:
        return None


class _Expired(Exception):
    def __init__(self, error: NexarAuthError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential back-off for timeouts, dropped connections, 429 and 5xx."""

    attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        return float(min(self.backoff * 2 ** (attempt - 1), self.max_backoff))


@dataclass(frozen=True)
class Workspace:
    url: str
    name: str
    api_url: str
    region: str
    is_default: bool = False


@dataclass(frozen=True)
class Design:
    """What the bot reads of a project's design: document names and the BOM of each variant."""

    documents: dict[str, str]
    bom: dict[tuple[str, str], BomLine]


@dataclass(frozen=True)
class Net:
    name: str
    length_mm: float
    pads: int


@dataclass(frozen=True)
class LibraryPart:
    """A component of the workspace library, as ``/review part`` shows it."""

    name: str
    comment: str
    description: str
    manufacturer_parts: tuple[tuple[str, str], ...]
    parameters: tuple[tuple[str, str], ...]


@dataclass
class Response:
    data: Mapping[str, Any] | None
    errors: list[Mapping[str, Any]] = field(default_factory=list)
    request_id: str | None = None

    def error_text(self) -> str:
        first = self.errors[0]
        code = (first.get("extensions") or {}).get("code")
        message = str(first.get("message") or "unknown error")
        more = f" (+{len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        return f"{message} [{code}]{more}" if code else f"{message}{more}"


class NexarClient:
    """Reads workspaces, projects, comment threads and BOMs from Nexar over HTTP, writes
    comments into comment threads, and looks up the supply facts of manufacturer parts."""

    def __init__(
        self,
        *,
        token: str | TokenSource,
        api_url: str = DEFAULT_API_URL,
        workspace_url: str | None = None,
        http: httpx.Client | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30.0,
        page_size: int = MAX_PAGE_SIZE,
        batch_size: int = 50,
        fingerprint_batch_size: int = 250,
        design_batch_size: int = 10,
    ) -> None:
        """``batch_size``: projects whose threads are read in full in one request;
        ``fingerprint_batch_size``: projects whose thread fingerprints are read in one;
        ``design_batch_size``: projects whose first BOM pages are read in one."""
        if isinstance(token, str) and not token:
            raise NexarAuthError("no Nexar token: set NEXAR_TOKEN or run 'review-bot auth "
                                 "login'")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
        self.api_url = api_url
        self.workspace_url = workspace_url.rstrip("/") if workspace_url else None
        self.retry = retry or RetryPolicy()
        self.page_size = page_size
        self.batch_size = batch_size
        self.fingerprint_batch_size = fingerprint_batch_size
        self.design_batch_size = design_batch_size
        self._source: TokenSource = FixedToken(token) if isinstance(token, str) else token
        self._sleep = sleep
        self._own_http = http is None
        self._http = http or httpx.Client(timeout=timeout)
        self._count_lock = threading.Lock()
        self.requests = 0
        self.bytes_received = 0
        """Bytes of every answer body read (as decoded, before JSON parsing)."""

    def close(self) -> None:
        if self._own_http:
            self._http.close()

    def __enter__(self) -> NexarClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------------

    def execute(self, url: str, document: str, variables: Mapping[str, Any] | None = None,
                *, scoped: bool = False, write: bool = False) -> Response:
        """POST one GraphQL document with retries; auth failures raise, other errors return.

        An ``AuthExpiredToken`` answer refreshes the token once (when the token source can)
        and sends the request again (Nexar checks the token before running anything). With
        ``scoped``, the document reads per-project fields (aliased threads,
        ``desProjectById``): an authorisation error with a ``path`` there is that project's
        failure, returned like any field error, not a dead sign-in. With ``write``, the
        document is a mutation: it is sent again only after a failure that proves it did not
        run, and ``NexarUnknownOutcomeError`` is raised once it may have run.
        """
        token = self._source.token()
        try:
            return self._send(url, document, variables, token, scoped, write)
        except _Expired as expired:
            fresh = self._source.refresh(token)
            if fresh is None:
                raise expired.error from None
            log.info("Nexar token expired mid-request; refreshed and retrying")
            try:
                return self._send(url, document, variables, fresh, scoped, write)
            except _Expired as again:
                raise again.error from None

    def _send(self, url: str, document: str, variables: Mapping[str, Any] | None,
              token: str, scoped: bool, write: bool = False) -> Response:
        payload: dict[str, Any] = {"query": document, "variables": dict(variables or {})}
        named = _OPERATION.search(document)
        if named:
            payload["operationName"] = named.group(1)
        headers = {"Authorization": f"Bearer {token}", "Accept": ACCEPT}
        problem = "no attempt made"
        for attempt in range(1, self.retry.attempts + 1):
            retry_after: float | None = None
            with self._count_lock:
                self.requests += 1
            try:
                reply = self._http.post(url, json=payload, headers=headers)
            except httpx.TransportError as exc:
                if isinstance(exc, httpx.TimeoutException):
                    problem = f"timed out talking to {_host(url)}"
                else:
                    problem = f"could not reach {_host(url)} ({type(exc).__name__})"
                if write and not isinstance(exc, NEVER_SENT):
                    raise _unknown_outcome(payload, problem) from None
            else:
                with self._count_lock:
                    self.bytes_received += len(reply.content)
                answer = self._answer(url, reply, scoped)
                if isinstance(answer, Response):
                    return answer
                problem = answer
                if write and reply.status_code not in UNPROCESSED_STATUSES:
                    raise _unknown_outcome(payload, problem)
                retry_after = _retry_after(reply.headers.get("Retry-After"))
            if attempt < self.retry.attempts:
                wait = self.retry.delay(attempt, retry_after)
                # Info, not warning: the caller reports the final failure in one line.
                log.info("Nexar: %s; retry %d/%d in %.1fs", problem, attempt,
                         self.retry.attempts - 1, wait)
                self._sleep(wait)
        raise NexarUnavailableError(f"Nexar unavailable: {problem} "
                                    f"(after {self.retry.attempts} attempts)")

    def _answer(self, url: str, reply: httpx.Response, scoped: bool) -> Response | str:
        """What one HTTP answer means: a GraphQL result, or a problem worth retrying (str).

        The body is read first, whatever the status: token errors decide over the status,
        and a GraphQL result (``data`` present, even null) on a 5xx is decided by its error
        codes. Only 429, and a 5xx without a GraphQL result (an HTML page, an empty body, a
        gateway's bare error), count as Nexar being unavailable.
        """
        status = reply.status_code
        body = _graphql_body(reply)
        if body is not None:
            _check_token(body, scoped)
        if status == 429:
            return f"{_host(url)} answered HTTP 429"
        if status in (401, 403):
            raise NexarAuthError(
                f"Nexar refused the token (HTTP {status}): set a valid NEXAR_TOKEN "
                "or run 'review-bot auth login'")
        if body is not None and (status < 500 or "data" in body):
            return _response(body)
        if status >= 500:
            return f"{_host(url)} answered HTTP {status}"
        if status >= 300:
            raise NexarQueryError(f"{_host(url)} answered HTTP {status}")
        try:
            reply.json()
        except ValueError:
            raise NexarQueryError("Nexar answered with something that is not JSON") from None
        raise NexarQueryError("Nexar answered with an unexpected JSON shape")

    def _data(self, url: str, document: str, variables: Mapping[str, Any] | None = None,
              *, scoped: bool = False) -> Mapping[str, Any]:
        response = self.execute(url, document, variables, scoped=scoped)
        if response.errors or response.data is None:
            text = response.error_text() if response.errors else "no data"
            raise NexarQueryError(f"Nexar query failed: {text}", request_id=response.request_id)
        return response.data

    # -- reads -----------------------------------------------------------------------------

    def workspaces(self) -> list[Workspace]:
        """The signed-in user's workspaces (only ``workspace_url`` when one was chosen)."""
        data = self._data(self.api_url, query("workspaces"))
        found = [
            Workspace(url=w["url"].rstrip("/"), name=w["name"],
                      api_url=w["location"]["apiServiceUrl"], region=w["location"]["name"],
                      is_default=bool(w.get("isDefault")))
            for w in data.get("desWorkspaceInfos") or ()
        ]
        if self.workspace_url is None:
            return found
        chosen = [w for w in found if w.url.casefold() == self.workspace_url.casefold()]
        if not chosen:
            known = ", ".join(w.url for w in found) or "none"
            raise NexarQueryError(
                f"workspace {self.workspace_url} is not among this token's workspaces ({known}); "
                "fix NEXAR_WORKSPACE_URL")
        return chosen

    def me(self) -> Person | None:
        """The signed-in user, asked at the discovery endpoint."""
        data = self._data(self.api_url, query("me"))
        return records.person(data.get("desUserByAuth"))

    def projects(self, workspace: Workspace) -> list[ProjectInfo]:
        """Every project of a workspace, following ``pageInfo`` to the last page."""
        found: list[ProjectInfo] = []
        after: str | None = None
        while True:
            data = self._data(workspace.api_url, query("projects"), {
                "workspaceUrl": workspace.url, "first": self.page_size, "after": after})
            page = data.get("desProjects")
            if page is None:
                raise NexarQueryError(f"Nexar returned no project list for {workspace.url}")
            found.extend(records.project(node, workspace.url) for node in page.get("nodes") or ())
            info = page["pageInfo"]
            if not info["hasNextPage"]:
                return found
            if not info.get("endCursor") or info["endCursor"] == after:
                raise NexarQueryError("Nexar paging did not advance (endCursor repeated)")
            after = info["endCursor"]

    def comment_threads(self, workspace: Workspace, project_ids: Sequence[str],
                        ) -> dict[str, list[Thread] | NexarError]:
        """Threads of many projects in one aliased request; a failure is kept per project.

        When the batch fails as a whole (HTTP error, an error without a path), each project
        is asked alone, so one broken project cannot hide the others.
        """
        if not project_ids:
            return {}
        ids = list(project_ids)
        try:
            response = self.execute(workspace.api_url, batch_threads_query(len(ids)),
                                    {f"p{i}": pid for i, pid in enumerate(ids)}, scoped=True)
        except NexarAuthError:
            raise
        except NexarError as exc:
            if len(ids) == 1:
                return {ids[0]: exc}
            return self._threads_one_by_one(workspace, ids)
        failed: dict[str, NexarError] = {}
        for error in response.errors:
            path = error.get("path") or []
            alias = path[0] if path else None
            if not (isinstance(alias, str) and alias.startswith("p") and alias[1:].isdigit()):
                if len(ids) == 1:
                    return {ids[0]: NexarQueryError(f"Nexar query failed: {response.error_text()}",
                                                    request_id=response.request_id)}
                return self._threads_one_by_one(workspace, ids)
            failed.setdefault(ids[int(alias[1:])], NexarQueryError(
                f"Nexar could not read comment threads: {_error_line(error)}",
                request_id=response.request_id))
        data = response.data or {}
        results: dict[str, list[Thread] | NexarError] = dict(failed)
        missing = [pid for i, pid in enumerate(ids)
                   if pid not in failed and data.get(f"p{i}") is None]
        if missing and failed:
            # A failed non-null field blanks the whole answer: ask again for the others.
            results.update(self.comment_threads(workspace, missing))
        elif missing:
            results.update({pid: NexarQueryError("Nexar returned no comment threads",
                                                 request_id=response.request_id)
                            for pid in missing})
        for i, pid in enumerate(ids):
            raw = data.get(f"p{i}")
            if pid not in results and raw is not None:
                results[pid] = [records.thread(t) for t in raw]
        return results

    def supply_match(self, keys: Sequence[PartKey], *, at: str) -> dict[PartKey, SupplyFacts]:
        """Supply facts of ``keys`` checked at ``at``, in one ``supMultiMatch`` request at the
        discovery endpoint (one per ``SUPPLY_BATCH`` distinct parts), one part each.

        Every key answered is in the result, an unmatched one (or one without an MPN) with
        ``found`` False: that answer is worth keeping. A key whose match came back with an
        ``error`` was not looked up and is left out, to be asked again. Each part answered
        counts against the Nexar app's monthly part limit. Raises ``NexarAuthError`` when
        the token may not read supply data, and the other Nexar errors as every read does.
        """
        distinct: dict[str, PartKey] = {}
        for key in keys:
            distinct.setdefault(key.id, key)
        answered: dict[str, SupplyFacts] = {}
        asked = [k for k in distinct.values() if k.mpn.strip()]
        for key in distinct.values():
            if not key.mpn.strip():
                answered[key.id] = SupplyFacts(key=key, found=False, checked_at=at)
        for start in range(0, len(asked), SUPPLY_BATCH):
            answered.update(self._supply_batch(asked[start:start + SUPPLY_BATCH], at))
        return {key: replace(answered[key.id], key=key) for key in keys if key.id in answered}

    def _supply_batch(self, keys: Sequence[PartKey], at: str) -> dict[str, SupplyFacts]:
        """One ``supMultiMatch`` for at most ``SUPPLY_BATCH`` keys; facts by ``PartKey.id``."""
        queries = [{"mpn": key.mpn.strip(), "limit": 1, "reference": str(i),
                    **({"manufacturer": key.manufacturer.strip()}
                       if key.manufacturer and key.manufacturer.strip() else {})}
                   for i, key in enumerate(keys)]
        response = self.execute(self.api_url, query("supply_match"), {"queries": queries},
                                scoped=True)
        if response.errors or response.data is None:
            if "AUTH_NOT_AUTHORIZED" in {_code(e) for e in response.errors}:
                raise NexarAuthError(NO_SUPPLY_SCOPE, request_id=response.request_id)
            text = response.error_text() if response.errors else "no data"
            raise NexarQueryError(f"Nexar supply query failed: {text}",
                                  request_id=response.request_id)
        matches = response.data.get("supMultiMatch")
        if not isinstance(matches, list):
            raise NexarQueryError("Nexar answered the supply query without its matches",
                                  request_id=response.request_id)
        found: dict[str, SupplyFacts] = {}
        for match in matches:
            reference = match.get("reference") if isinstance(match, Mapping) else None
            if not (isinstance(reference, str) and reference.isdigit()
                    and int(reference) < len(keys)):
                continue
            key = keys[int(reference)]
            if match.get("error"):
                log.info("Nexar could not match %s: %s", key.mpn, match["error"])
                continue
            found[key.id] = records.supply_facts(key, match, at)
        return found

    def thread_fingerprints(self, workspace: Workspace, project_ids: Sequence[str],
                            ) -> dict[str, Fingerprint | NexarError]:
        """The thread fingerprints of many projects in one aliased request; a failure is
        kept per project (the caller reads those projects in full)."""
        ids = list(project_ids)
        if not ids:
            return {}
        try:
            raw = self._aliased(workspace, batch_fingerprints_query(len(ids)),
                                {f"p{i}": pid for i, pid in enumerate(ids)}, ids, "p",
                                "comment threads")
        except NexarAuthError:
            raise
        except NexarError as exc:
            return dict.fromkeys(ids, exc)
        results: dict[str, Fingerprint | NexarError] = {}
        failed = any(isinstance(v, NexarError) for v in raw.values())
        missing = [pid for pid, value in raw.items() if value is None]
        if missing and failed:
            # A failed non-null field blanks the whole answer: ask again for the others.
            results.update(self.thread_fingerprints(workspace, missing))
        for pid, value in raw.items():
            if isinstance(value, NexarError):
                results[pid] = value
            elif value is None:
                results.setdefault(pid, NexarQueryError("Nexar returned no comment threads"))
            else:
                results[pid] = records.printed_threads(value)
        return results

    def _aliased(self, workspace: Workspace, document: str, variables: Mapping[str, Any],
                 ids: Sequence[str], prefix: str, what: str) -> dict[str, Any]:
        """Run a document with one alias ``<prefix>N`` per id: each id's answer (None when
        Nexar gave none) or, for an error with a path into one alias, its ``NexarError``.

        Raises ``NexarError`` when the request failed as a whole.
        """
        response = self.execute(workspace.api_url, document, variables, scoped=True)
        failed: dict[str, NexarError] = {}
        for error in response.errors:
            path = error.get("path") or []
            alias = path[0] if path else None
            if not (isinstance(alias, str) and alias.startswith(prefix)
                    and alias[len(prefix):].isdigit() and int(alias[len(prefix):]) < len(ids)):
                raise NexarQueryError(f"Nexar query failed: {response.error_text()}",
                                      request_id=response.request_id)
            failed.setdefault(ids[int(alias[len(prefix):])], NexarQueryError(
                f"Nexar could not read {what}: {_error_line(error)}",
                request_id=response.request_id))
        data = response.data or {}
        return {pid: failed[pid] if pid in failed else data.get(f"{prefix}{i}")
                for i, pid in enumerate(ids)}

    def comment_thread(self, workspace: Workspace, project_id: str, thread_id: str,
                       ) -> Thread | None:
        """One thread with every comment (id, text, author, times); None once it is gone.

        The read to reconcile a write whose outcome is unknown: look for the comment there
        before writing it again.
        """
        data = self._data(workspace.api_url, thread_query(),
                          {"projectId": project_id, "threadId": thread_id}, scoped=True)
        raw = data.get("desCommentThread")
        return records.thread(raw) if raw is not None else None

    def _threads_one_by_one(self, workspace: Workspace, ids: Sequence[str],
                            ) -> dict[str, list[Thread] | NexarError]:
        results: dict[str, list[Thread] | NexarError] = {}
        for pid in ids:
            results.update(self.comment_threads(workspace, [pid]))
        return results

    def design(self, workspace: Workspace, project_id: str) -> Design:
        """Document names and the whole BOM of every variant, each paged to its end.

        A null design, a variant whose ``bom`` (or its ``items``, or a page's ``nodes``) is
        null, raises: Nexar may answer null without an error, and that is a failed read of
        the BOM, never an empty BOM.
        """
        data = self._data(workspace.api_url, query("design"),
                          {"id": project_id, "first": self.page_size}, scoped=True)
        return self._design_from(workspace, project_id, data)

    def designs(self, workspace: Workspace, project_ids: Sequence[str],
                ) -> dict[str, Design | NexarError]:
        """``design`` of many projects: their first BOM pages in one aliased request, the
        further pages per project; a failure is kept per project.

        When the batch fails as a whole, each project is read alone, so one broken project
        cannot hide the others.
        """
        ids = list(project_ids)
        if not ids:
            return {}
        variables: dict[str, Any] = {"first": self.page_size}
        variables.update({f"d{i}": pid for i, pid in enumerate(ids)})
        try:
            raw = self._aliased(workspace, batch_designs_query(len(ids)), variables, ids, "d",
                                "the design")
        except NexarAuthError:
            raise
        except NexarError as exc:
            if len(ids) == 1:
                return {ids[0]: exc}
            return {pid: self._design_or_error(workspace, pid) for pid in ids}
        results: dict[str, Design | NexarError] = {}
        failed = any(isinstance(v, NexarError) for v in raw.values())
        for pid, value in raw.items():
            if isinstance(value, NexarError):
                results[pid] = value
            elif value is None and failed:
                # An error elsewhere may have blanked this one too: read it alone.
                results[pid] = self._design_or_error(workspace, pid)
            else:
                try:
                    results[pid] = self._design_from(workspace, pid, {"desProjectById": value})
                except NexarAuthError:
                    raise
                except NexarError as exc:
                    results[pid] = exc
        return results

    def _design_or_error(self, workspace: Workspace, project_id: str) -> Design | NexarError:
        try:
            return self.design(workspace, project_id)
        except NexarAuthError:
            raise
        except NexarError as exc:
            return exc

    def _design_from(self, workspace: Workspace, project_id: str, data: Mapping[str, Any],
                     ) -> Design:
        """The ``Design`` of a first answer (``desProjectById``), its BOM paged to its end."""
        variants = _variants(data, project_id, workspace)
        bom: dict[tuple[str, str], BomLine] = {}
        for variant in variants:
            name = variant["name"]
            page = _bom_items(variant, name)
            while True:
                nodes = page.get("nodes")
                if nodes is None:
                    raise NexarQueryError(f"Nexar answered a page of the BOM of variant "
                                          f"{name!r} without its items (nodes: null)")
                for line in records.bom_lines(name, nodes):
                    bom[line.key] = line
                info = page["pageInfo"]
                if not info["hasNextPage"]:
                    break
                page = self._bom_page(workspace, project_id, name, info.get("endCursor"))
        return Design(documents=records.documents(variants), bom=bom)

    def nets(self, workspace: Workspace, project_id: str) -> tuple[str, list[Net]]:
        """The board's document name and its nets (of the first variant with a PCB)."""
        data = self._data(workspace.api_url, query("nets"), {"id": project_id}, scoped=True)
        for variant in _variants(data, project_id, workspace):
            pcb = variant.get("pcb")
            if pcb:
                nets = [Net(name=n["name"], length_mm=float(n["cumulativeLength"]["xMm"]),
                            pads=len(n.get("pads") or ())) for n in pcb.get("nets") or ()]
                return str(pcb.get("documentName") or ""), nets
        return "", []

    def library(self, workspace: Workspace, *, max_pages: int = 20) -> list[LibraryPart]:
        """The workspace library's components (at most ``max_pages`` pages of 100)."""
        found: list[LibraryPart] = []
        after: str | None = None
        for _ in range(max_pages):
            data = self._data(workspace.api_url, query("library"), {
                "workspaceUrl": workspace.url, "first": self.page_size, "after": after})
            page = (data.get("desLibrary") or {}).get("components")
            if page is None:
                break
            for node in page.get("nodes") or ():
                parts = sorted(node.get("manufacturerParts") or (),
                               key=lambda p: p.get("priority") or 0)
                found.append(LibraryPart(
                    name=node.get("name") or "", comment=node.get("comment") or "",
                    description=node.get("description") or "",
                    manufacturer_parts=tuple((p.get("companyName") or "", p.get("partNumber")
                                              or "") for p in parts),
                    parameters=tuple((p.get("name") or "", p.get("value") or "")
                                     for p in (node.get("details") or {}).get("parameters")
                                     or ())))
            info = page["pageInfo"]
            if not info["hasNextPage"] or not info.get("endCursor"):
                break
            after = info["endCursor"]
        return found

    # -- writes ----------------------------------------------------------------------------

    def create_comment(self, workspace: Workspace, *, project_id: str, thread_id: str,
                       text: str) -> str:
        """Add a comment, as the signed-in user, to a thread of a project; its ``commentId``.

        ``project_id`` is the project's ``DesProject.id`` (Nexar's ``entityId``). Nexar's
        payload says only the new id: its times are read with ``comment_thread``. Raises
        ``NexarWriteError`` when Nexar refuses (the thread was deleted, no permission),
        ``NexarUnavailableError`` when every attempt was turned away unexecuted, and
        ``NexarUnknownOutcomeError`` when the answer was lost: the comment may exist, so
        read the thread before creating it again.
        """
        payload = self._write(workspace, "create_comment", "desCreateComment", {
            "entityId": project_id, "threadId": thread_id, "text": text},
            action=f"add a comment to thread {thread_id}")
        comment_id = payload.get("commentId")
        if not comment_id:
            raise NexarUnknownOutcomeError(
                f"Nexar accepted a comment on thread {thread_id} without saying its id; read the "
                "thread before writing it again")
        return str(comment_id)

    def update_comment(self, workspace: Workspace, *, project_id: str, thread_id: str,
                       comment_id: str, text: str) -> None:
        """Replace the text of a comment the signed-in user wrote (its ``modifiedAt`` moves).

        Raises as ``create_comment`` does; ``NexarWriteError`` also when the comment is gone
        or another user wrote it. Sending the same text again is harmless, so after
        ``NexarUnknownOutcomeError`` the update may simply be repeated.
        """
        self._write(workspace, "update_comment", "desUpdateComment", {
            "entityId": project_id, "threadId": thread_id, "commentId": comment_id,
            "text": text}, action=f"edit comment {comment_id}")

    def _write(self, workspace: Workspace, name: str, field_name: str,
               variables: Mapping[str, Any], *, action: str) -> Mapping[str, Any]:
        """Send the mutation ``name`` once (see ``execute``); its payload when it has no errors."""
        response = self.execute(workspace.api_url, query(name), variables, scoped=True,
                                write=True)
        if response.errors or response.data is None:
            text = response.error_text() if response.errors else "no data"
            raise NexarQueryError(f"Nexar could not {action}: {text}",
                                  request_id=response.request_id)
        payload = response.data.get(field_name)
        if not isinstance(payload, Mapping):
            raise NexarQueryError(f"Nexar answered the request to {action} without its payload",
                                  request_id=response.request_id)
        errors = [e for e in payload.get("errors") or () if isinstance(e, Mapping)]
        if errors or payload.get("errors"):
            messages = tuple(str(e.get("message") or "error") for e in errors) or ("error",)
            raise NexarWriteError(f"Nexar refused to {action}: {'; '.join(messages)}",
                                  messages=messages, request_id=response.request_id)
        return payload

    def _bom_page(self, workspace: Workspace, project_id: str, variant: str,
                  after: str | None) -> Mapping[str, Any]:
        if not after:
            raise NexarQueryError("Nexar paging did not advance (no endCursor)")
        data = self._data(workspace.api_url, query("bom_page"), {
            "id": project_id, "variant": variant, "first": self.page_size, "after": after},
            scoped=True)
        match = [v for v in _variants(data, project_id, workspace) if v["name"] == variant]
        if not match:
            raise NexarQueryError(f"BOM of variant {variant!r} vanished while paging")
        return _bom_items(match[0], variant)


def _unknown_outcome(payload: Mapping[str, Any], problem: str) -> NexarUnknownOutcomeError:
    operation = payload.get("operationName") or "a write"
    return NexarUnknownOutcomeError(
        f"Nexar's answer to {operation} was lost ({problem}): it may have been applied; read "
        "before writing it again")


def _graphql_body(reply: httpx.Response) -> Mapping[str, Any] | None:
    """The body as a GraphQL result (an object with ``data`` or an ``errors`` list), or None."""
    if not reply.content:
        return None
    try:
        body = _decoded(reply.content)
    except ValueError:
        return None
    if not isinstance(body, Mapping):
        return None
    if "data" in body or isinstance(body.get("errors"), list):
        return body
    return None


def _decoded(content: bytes) -> Any:
    """JSON by orjson (a first BOM page of ten projects parses 7x faster than with the
    standard library), and by the standard library whatever orjson refuses (non-UTF-8,
    NaN, huge integers), so an odd answer passes or fails exactly as it always did."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return json.loads(content)


def _code(error: Any) -> Any:
    return (error.get("extensions") or {}).get("code") if isinstance(error, Mapping) else None


def _request_id(body: Mapping[str, Any]) -> str | None:
    extensions = body.get("extensions")
    found = extensions.get("requestId") if isinstance(extensions, Mapping) else None
    return str(found) if found else None


def _check_token(body: Mapping[str, Any], scoped: bool) -> None:
    """Raise when the answer says the token itself is expired or refused.

    An expired token is expired everywhere, so ``AuthExpiredToken`` always asks for the one
    refresh. Other authorisation codes are the sign-in's failure unless the document is
    ``scoped`` and the error has a ``path``: then one project's field was refused.
    """
    errors = body.get("errors") or []
    codes = {_code(e) for e in errors} & AUTH_CODES
    if not codes:
        return
    request_id = _request_id(body)
    if "AuthExpiredToken" in codes:
        raise _Expired(_auth_error(codes, request_id))
    token_wide = {_code(e) for e in errors if _code(e) in AUTH_CODES
                  and not (scoped and isinstance(e, Mapping) and e.get("path"))}
    if token_wide:
        raise _auth_error(token_wide, request_id)


def _response(body: Mapping[str, Any]) -> Response:
    data = body.get("data")
    response = Response(
        data=data if isinstance(data, Mapping) else None,
        errors=[e for e in body.get("errors") or [] if isinstance(e, Mapping)],
        request_id=_request_id(body),
    )
    if response.errors:
        log.info("Nexar errors (request %s): %s", response.request_id, response.error_text())
    return response


def _variants(data: Mapping[str, Any], project_id: str, workspace: Workspace,
              ) -> list[Mapping[str, Any]]:
    """The variants under ``desProjectById.design``; a null on the way is a failed read."""
    project = data.get("desProjectById")
    if project is None:
        raise NexarQueryError(f"project {project_id} was not found in {workspace.url}")
    design = project.get("design")
    if design is None:
        raise NexarQueryError("Nexar answered the project without its design (design: null)")
    variants = design.get("variants")
    if variants is None:
        raise NexarQueryError("Nexar answered the design without its variants (variants: null)")
    return list(variants)


def _bom_items(variant: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """A variant's ``bom.items`` page; null means Nexar did not read it, not an empty BOM."""
    bom = variant.get("bom")
    if bom is None:
        raise NexarQueryError(f"Nexar answered variant {name!r} without its BOM (bom: null)")
    items = bom.get("items")
    if items is None:
        raise NexarQueryError(f"Nexar answered the BOM of variant {name!r} without its items "
                              "(items: null)")
    result: Mapping[str, Any] = items
    return result


def _error_line(error: Mapping[str, Any]) -> str:
    message = str(error.get("message") or "error")
    code = _code(error)
    return f"{message} [{code}]" if code else message


def _host(url: str) -> str:
    return httpx.URL(url).host or url


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _auth_error(codes: set[Any], request_id: str | None) -> NexarAuthError:
    if "AuthExpiredToken" in codes:
        text = ("the Nexar token has expired: run 'review-bot auth login' (or set a fresh "
                "NEXAR_TOKEN)")
    elif "AUTH_NOT_AUTHORIZED" in codes:
        text = "the Nexar token is not authorized for this workspace: check NEXAR_TOKEN"
    else:
        text = "Nexar rejected the token as invalid: set a valid NEXAR_TOKEN"
    return NexarAuthError(text, request_id=request_id)
