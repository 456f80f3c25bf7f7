"""The sandbox's HTTP server and the ``AltiumSandbox`` facade tests, the demo and the bench use.

``POST /graphql`` is the discovery endpoint (workspaces, the signed-in user, and supply
data: ``supMultiMatch``); ``POST /<region>/graphql`` serves one region's workspaces. A
token's scopes decide what it reads: ``supply.domain`` the ``sup*`` fields, ``design.domain``
every other one; a missing scope is ``AUTH_NOT_AUTHORIZED`` at the field, as Nexar answers.
Answers are shaped like Nexar's HotChocolate gateway: ``data`` and ``errors``
(``extensions.code``) and a top-level ``extensions.requestId``; token problems are GraphQL
errors too.

The media type follows the request's ``Accept`` as HotChocolate 13+ does: a client asking
for ``application/json`` gets HTTP 200 for every GraphQL result; any other ``Accept``
(``*/*``, none, ``application/graphql-response+json``) gets
``application/graphql-response+json`` with 400 when there is no ``data`` (an invalid query)
and 500 when ``data`` is null (a token error, a null that reached the root).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any, TypeGuard, cast
from urllib.parse import urlsplit

import orjson
from graphql import (
    ExecutionContext,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    execute,
    parse,
    validate,
)
from graphql.language import DocumentNode

from ..http import LocalHandler, LocalServer
from . import seed
from .activity import Clock, Store, UserRef, utc_now
from .execution import ScalarShortcut
from .faults import Faults, HttpFault
from .model import Project, Tenant, User, Workspace
from .resolvers import RequestContext, default_resolver, executable_schema
from .supply import SupplyCatalog, demo_catalog

RootField = tuple[str, str]
"""A requested root field: (response key, i.e. the alias or the name; field name)."""

_JSON = "application/json; charset=utf-8"
_TEXT = "text/plain; charset=utf-8"
_GRAPHQL_RESPONSE = "application/graphql-response+json; charset=utf-8"
_NON_NULL = "Cannot return null for non-nullable field"
TOKEN_SCOPES = ("openid", "profile", "email", "design.domain", "user.access", "offline_access")
"""The scopes of a token made by ``make_token`` unless it names others: a design sign-in."""
SUPPLY_FIELD = "supMultiMatch"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the sandbox answered (or dropped), for assertions and request counting."""

    method: str
    path: str
    region: str | None
    operation_name: str | None
    variables: Mapping[str, Any]
    root_fields: tuple[RootField, ...]
    status: int
    duration: float
    request_id: str | None = None
    fault: str | None = None
    error_codes: tuple[str, ...] = ()
    accept: str | None = None
    content_type: str | None = None

    @property
    def fields(self) -> tuple[str, ...]:
        """The requested root field names (one per alias)."""
        return tuple(name for _, name in self.root_fields)


@dataclass(slots=True)
class TokenInfo:
    """What a bearer token stands for; past ``expires_at`` (sandbox clock) it is expired.

    ``user`` is None for an app's own token (client credentials); ``scopes`` decide which
    fields it may read (``design.domain``: all but ``sup*``; ``supply.domain``: ``sup*``).
    """

    user: User | None
    workspaces: frozenset[str] | None = None
    expired: bool = False
    expires_at: datetime | None = None
    scopes: frozenset[str] = frozenset(TOKEN_SCOPES)

    def is_expired(self, now: datetime) -> bool:
        """Whether the token is expired at ``now`` (by ``expire_token`` or by its lifetime)."""
        return self.expired or (self.expires_at is not None and now >= self.expires_at)


@dataclass(slots=True)
class _Prepared:
    document: DocumentNode | None
    errors: list[dict[str, Any]]
    roots: dict[str | None, tuple[RootField, ...]] = field(default_factory=dict)


def _root_fields(document: DocumentNode) -> dict[str | None, tuple[RootField, ...]]:
    fragments = {
        item.name.value: item
        for item in document.definitions
        if isinstance(item, FragmentDefinitionNode)
    }

    def collect(selection_set: SelectionSetNode, seen: set[str]) -> list[RootField]:
        found: list[RootField] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if not name.startswith("__"):
                    found.append((selection.alias.value if selection.alias else name, name))
            elif isinstance(selection, InlineFragmentNode):
                found += collect(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                fragment_name = selection.name.value
                fragment = fragments.get(fragment_name)
                if fragment is not None and fragment_name not in seen:
                    found += collect(fragment.selection_set, seen | {fragment_name})
        return found

    roots: dict[str | None, tuple[RootField, ...]] = {}
    operations = [
        item for item in document.definitions if isinstance(item, OperationDefinitionNode)
    ]
    for operation in operations:
        fields = tuple(collect(operation.selection_set, set()))
        roots[operation.name.value if operation.name else None] = fields
        if len(operations) == 1:
            roots[None] = fields
    return roots


def _error_codes(errors: list[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(
        str(error["extensions"]["code"])
        for error in errors
        if isinstance(error.get("extensions"), dict) and "code" in error["extensions"]
    )


def _format_error(error: GraphQLError) -> dict[str, Any]:
    original = error.original_error
    if isinstance(original, TypeError) and str(original).startswith(_NON_NULL):
        # HotChocolate's non-null violation: the null travels up to the nearest nullable field.
        violation: dict[str, Any] = {"message": f"{_NON_NULL}."}
        if error.locations:
            violation["locations"] = [loc.formatted for loc in error.locations]
        if error.path is not None:
            violation["path"] = error.path
        violation["extensions"] = {"code": "HC0018"}
        return violation
    if original is not None and not isinstance(original, GraphQLError):
        formatted: dict[str, Any] = {"message": "Unexpected Execution Error"}
        if error.locations:
            formatted["locations"] = [loc.formatted for loc in error.locations]
        if error.path is not None:
            formatted["path"] = error.path
        formatted["extensions"] = {
            "code": "INTERNAL_ERROR",
            "message": f"{type(original).__name__}: {original}",
        }
        return formatted
    return dict(error.formatted)


def _encoded(payload: Any) -> bytes:
    """Compact JSON, as Nexar sends it: by orjson (a page of a large BOM encodes ten times
    faster), else by the standard library (integer keys, huge integers)."""
    try:
        return orjson.dumps(payload)
    except TypeError:
        return json.dumps(payload, separators=(",", ":")).encode()


def _fake_jwt(claims: Mapping[str, Any]) -> str:
    def part(value: Mapping[str, Any]) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    signature = base64.urlsafe_b64encode(uuid.uuid4().bytes * 2).rstrip(b"=").decode("ascii")
    return f"{part({'alg': 'RS256', 'typ': 'JWT', 'kid': 'sandbox'})}.{part(claims)}.{signature}"


class AltiumSandbox(Store, LocalServer):
    """A local Altium 365 / Nexar GraphQL service on 127.0.0.1, with faults and activities.

    ``with AltiumSandbox() as sb:`` starts it on a free port; ``sb.api_url`` is the discovery
    endpoint, ``sb.regional_url`` the default workspace's endpoint and ``sb.token`` a valid
    bearer token (Alice Nguyen's). The activity methods (``open_thread``, ``swap_part``, ...)
    come from ``Store``.
    """

    _server_name = "altium sandbox"

    def __init__(
        self,
        *,
        workspace: Tenant | Workspace | None = None,
        clock: Clock | None = None,
        schema_path: str | Path | None = None,
        supply: SupplyCatalog | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if workspace is None:
            tenant = seed.demo_workspace((clock or utc_now)())
        elif isinstance(workspace, Workspace):
            tenant = Tenant([workspace], list(workspace.members) or [workspace.owner])
        else:
            tenant = workspace
        Store.__init__(self, tenant, clock)
        LocalServer.__init__(self, host, port)
        self.schema: GraphQLSchema = executable_schema(schema_path)
        self.execution: type[ExecutionContext] = ScalarShortcut
        """How queries execute: graphql-core's executor with a shortcut for plain scalar
        fields (``graphql.ExecutionContext`` is the standard one, which tests compare)."""
        self.faults = Faults(self.project)
        self.supply: SupplyCatalog = supply if supply is not None else demo_catalog()
        """The parts ``supMultiMatch`` finds, and how many requests and parts it answered."""
        self._tokens: dict[str, TokenInfo] = {}
        self._tokens_lock = threading.Lock()
        self._log: list[RequestRecord] = []
        self._log_lock = threading.Lock()
        self._prepared: OrderedDict[str, _Prepared] = OrderedDict()
        self._prepared_lock = threading.Lock()
        self.token = self.make_token()

    def stop(self) -> None:
        """Stop serving; answers still held are dropped unanswered, as a server going down
        would (and stopping never waits on them)."""
        self.faults.hang_up_held()
        LocalServer.stop(self)

    @property
    def api_url(self) -> str:
        """The discovery endpoint (``https://api.nexar.com/graphql`` in production)."""
        return f"{self.base_url}/graphql"

    def endpoint(self, workspace: Workspace | str | None = None) -> str:
        """The regional GraphQL endpoint serving ``workspace`` (default: the default one)."""
        return f"{self.base_url}/{self.workspace(workspace).region}/graphql"

    @property
    def regional_url(self) -> str:
        """The default workspace's regional endpoint."""
        return self.endpoint()

    @property
    def workspace_url(self) -> str:
        """The default workspace's url, e.g. ``https://acme-robotics.365.altium.com``."""
        return self.workspace().url

    @property
    def regions(self) -> tuple[str, ...]:
        """The regions that have a workspace."""
        return tuple(dict.fromkeys(item.region for item in self.tenant.workspaces))

    def make_token(
        self,
        user: UserRef | None = None,
        *,
        workspaces: Sequence[Workspace | str] | None = None,
        lifetime: timedelta | None = timedelta(hours=24),
        scopes: Sequence[str] = TOKEN_SCOPES,
    ) -> str:
        """Register and return a JWT-shaped token for ``user`` (default: the default owner).

        With ``workspaces``, the token sees only those (``a365:workspace:<authId>`` scopes).
        ``scopes`` are the sign-in's (add ``supply.domain`` for supply data).
        Once ``lifetime`` has passed by the sandbox clock (the ``exp`` claim) the token gets
        ``AuthExpiredToken``, as does any token after ``expire_token``; ``lifetime=None``
        makes a token without ``exp`` that never expires on its own.
        """
        owner = self.user(user) if user is not None else self.workspace().owner
        chosen = [self.workspace(item) for item in workspaces] if workspaces else []
        now = self._clock()
        issued = int(now.timestamp())
        claims: dict[str, Any] = {
            "iss": "https://identity.nexar.com",
            "sub": owner.user_id,
            "email": owner.email,
            "client_id": "design-review-bot-sandbox",
            "iat": issued,
            "scope": [*scopes, *(f"a365:workspace:{item.auth_id}" for item in chosen)],
            "jti": uuid.uuid4().hex,
        }
        expires_at: datetime | None = None
        if lifetime is not None:
            expires_at = now + lifetime
            claims["exp"] = issued + int(lifetime.total_seconds())
        token = _fake_jwt(claims)
        self.add_token(token, user=owner, workspaces=chosen or None, expires_at=expires_at,
                       scopes=scopes)
        return token

    def add_token(
        self,
        token: str,
        *,
        user: UserRef | None = None,
        workspaces: Sequence[Workspace | str] | None = None,
        expires_at: datetime | None = None,
        scopes: Iterable[str] | None = None,
    ) -> str:
        """Accept ``token`` (again: this also un-expires it); returns it.

        With ``expires_at`` (aware), the token gets ``AuthExpiredToken`` from that moment
        on by the sandbox clock; without, it never expires on its own. ``scopes`` default to
        the token's earlier ones, else to a design sign-in's (``TOKEN_SCOPES``).
        """
        with self._tokens_lock:
            previous = self._tokens.get(token)
        owner = (
            self.user(user)
            if user is not None
            else previous.user
            if previous is not None
            else self.workspace().owner
        )
        if workspaces is not None:
            allowed: frozenset[str] | None = frozenset(self.workspace(w).url for w in workspaces)
        else:
            allowed = previous.workspaces if previous is not None else None
        if scopes is not None:
            granted = frozenset(scopes)
        else:
            granted = previous.scopes if previous is not None else frozenset(TOKEN_SCOPES)
        with self._tokens_lock:
            self._tokens[token] = TokenInfo(owner, allowed, expires_at=expires_at,
                                            scopes=granted)
        return token

    def add_app_token(self, token: str, *, scopes: Iterable[str],
                      expires_at: datetime | None = None) -> str:
        """Accept ``token`` as an app's own token (client credentials): no user, no
        workspace, only ``scopes``; returns it."""
        with self._tokens_lock:
            self._tokens[token] = TokenInfo(None, frozenset(), expires_at=expires_at,
                                            scopes=frozenset(scopes))
        return token

    def revoke_token(self, token: str) -> None:
        """Forget ``token``: it now gets ``AuthInvalidToken``."""
        with self._tokens_lock:
            self._tokens.pop(token, None)

    def expire_token(self, token: str | None = None) -> None:
        """Make ``token`` (default ``sb.token``) answer ``AuthExpiredToken`` until re-added."""
        with self._tokens_lock:
            info = self._tokens.get(token or self.token)
            if info is not None:
                info.expired = True

    def now(self) -> datetime:
        """The sandbox clock's current time (token expiry and activities go by it)."""
        return self._clock()

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first."""
        with self._log_lock:
            return list(self._log)

    @property
    def request_count(self) -> int:
        """How many requests the log holds."""
        with self._log_lock:
            return len(self._log)

    def reset_requests(self) -> None:
        """Empty the request log."""
        with self._log_lock:
            self._log.clear()

    def _record(self, record: RequestRecord) -> None:
        with self._log_lock:
            self._log.append(record)

    def _prepare(self, query: str) -> _Prepared:
        with self._prepared_lock:
            cached = self._prepared.get(query)
            if cached is not None:
                self._prepared.move_to_end(query)
                return cached
        try:
            document = parse(query)
        except GraphQLError as error:
            prepared = _Prepared(None, [_with_code(error, "SYNTAX_ERROR")])
        else:
            errors = validate(self.schema, document)
            prepared = _Prepared(
                None if errors else document,
                [_with_code(error, "GRAPHQL_VALIDATION_FAILED") for error in errors],
                _root_fields(document),
            )
        with self._prepared_lock:
            self._prepared[query] = prepared
            while len(self._prepared) > 512:
                self._prepared.popitem(last=False)
        return prepared

    def _region(self, path: str) -> tuple[bool, str | None]:
        parts = [part for part in path.split("/") if part]
        if parts == ["graphql"]:
            return True, None
        if len(parts) == 2 and parts[1] == "graphql" and parts[0] in self.regions:
            return True, parts[0]
        return False, None

    def _handle(self, handler: LocalHandler) -> None:
        started = time.perf_counter()
        path = urlsplit(handler.path).path
        body = handler.read_body()
        known, region = self._region(path)
        exchange = _Exchange(self, handler, started, path, region)
        if not known:
            exchange.finish(404, _errors(f"No endpoint at {path}.", "NOT_FOUND"))
            return
        if self.faults.take_drop():
            exchange.finish(0, fault="drop_connection")
            handler.drop()
            return
        delay = self.faults.delay
        if delay:
            time.sleep(delay)
        http_fault = self.faults.take_http(body)
        if http_fault is not None:
            _answer_fault(exchange, http_fault)
            return
        if handler.command != "POST":
            exchange.finish(
                405,
                _errors("Send GraphQL requests with POST.", "METHOD_NOT_ALLOWED"),
                headers={"Allow": "POST"},
            )
            return
        self._graphql(exchange, body)

    def _graphql(self, exchange: _Exchange, body: bytes) -> None:
        request_id = str(uuid.uuid4())
        exchange.request_id = request_id
        extensions = {"requestId": request_id}
        try:
            payload = json.loads(body or b"null")
        except (ValueError, UnicodeDecodeError):
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            message = "The request body must be a JSON object with a `query` string."
            exchange.finish(400, _errors(message, "INVALID_REQUEST", extensions=extensions))
            return
        variables = payload.get("variables") or {}
        operation_name = payload.get("operationName") or None
        if not isinstance(variables, dict) or not isinstance(operation_name, str | None):
            message = "`variables` must be an object and `operationName` a string."
            exchange.finish(400, _errors(message, "INVALID_REQUEST", extensions=extensions))
            return
        prepared = self._prepare(payload["query"])
        exchange.variables = variables
        exchange.operation_name = operation_name
        exchange.root_fields = prepared.roots.get(operation_name, ())
        if SUPPLY_FIELD in exchange.fields:
            self.supply.count_request()
        token = exchange.handler.bearer_token()
        now = self._clock()
        with self._tokens_lock:
            info = self._tokens.get(token) if token else None
            expired = info.is_expired(now) if info is not None else False
        if info is None or expired:
            if expired:
                refused = _errors("The access token has expired.", "AuthExpiredToken")
            else:
                refused = _errors("The access token is missing or invalid.", "AuthInvalidToken")
            exchange.result({**refused, "data": None, "extensions": extensions})
            return
        if prepared.document is None:
            exchange.result({"errors": prepared.errors, "extensions": extensions})
            return
        context = RequestContext(
            store=self,
            region=exchange.region,
            base_url=self.base_url,
            user=info.user,
            allowed_workspaces=info.workspaces,
            faults=self.faults.session(),
            scopes=info.scopes,
            supply=self.supply,
        )
        try:
            with self.lock:
                result: Any = execute(
                    self.schema,
                    prepared.document,
                    context_value=context,
                    variable_values=variables,
                    operation_name=operation_name,
                    field_resolver=default_resolver,
                    is_awaitable=_never_awaitable,
                    execution_context_class=self.execution,
                )
        except Exception as error:
            crashed = _errors("Unexpected Execution Error", "INTERNAL_ERROR", extensions=extensions)
            crashed["errors"][0]["extensions"]["message"] = f"{type(error).__name__}: {error}"
            exchange.finish(500, crashed)
            return
        mutation = _is_mutation(prepared.document, operation_name)
        if mutation and self.faults.take_lost_answer():
            exchange.finish(0, fault="lost_answer")
            exchange.handler.drop()
            return
        held = self.faults.take_held_answer() if mutation else None
        if held is not None and not held.wait():
            exchange.finish(0, fault="held_answer")
            exchange.handler.drop()
            return
        response: dict[str, Any] = {}
        if result.errors:
            response["errors"] = [_format_error(error) for error in result.errors]
        response["data"] = result.data
        response["extensions"] = extensions
        fired = context.faults.root_fault is not None or bool(context.faults.triggered)
        kinds = ["graphql_error"] if fired else []
        kinds += context.faults.odd_answers
        if held is not None:
            kinds.append("held_answer")
        exchange.result(response, fault=",".join(kinds) or None)


class _Exchange:
    """One HTTP request being answered: what the request log will record about it."""

    def __init__(
        self,
        sandbox: AltiumSandbox,
        handler: LocalHandler,
        started: float,
        path: str,
        region: str | None,
    ) -> None:
        self.sandbox = sandbox
        self.handler = handler
        self.started = started
        self.path = path
        self.region = region
        self.request_id: str | None = None
        self.operation_name: str | None = None
        self.variables: Mapping[str, Any] = {}
        self.root_fields: tuple[RootField, ...] = ()
        self.accept = handler.headers.get("Accept")

    @property
    def fields(self) -> tuple[str, ...]:
        """The requested root field names."""
        return tuple(name for _, name in self.root_fields)

    def result(self, payload: dict[str, Any], *, fault: str | None = None) -> None:
        """Answer a GraphQL result in the media type the request's ``Accept`` gets."""
        forced = self.sandbox.faults.take_graphql_response()
        if forced or prefers_graphql_response(self.accept):
            data_missing = "data" not in payload
            status = 400 if data_missing else 500 if payload["data"] is None else 200
            self.finish(status, payload, fault=fault, content_type=_GRAPHQL_RESPONSE)
        else:
            self.finish(200, payload, fault=fault)

    def finish(
        self,
        status: int,
        payload: Any = None,
        *,
        fault: str | None = None,
        headers: Mapping[str, str] | None = None,
        text: str | None = None,
        content_type: str = _JSON,
    ) -> None:
        """Log the request, then send the answer (none for status 0).

        Logging first means a client that has its answer always finds the request logged.
        """
        codes: tuple[str, ...] = ()
        body: bytes | None = None
        if text is None and status:
            if isinstance(payload, dict) and isinstance(payload.get("errors"), list):
                codes = _error_codes(payload["errors"])
            body = _encoded(payload)
        self.sandbox._record(
            RequestRecord(
                method=self.handler.command,
                path=self.path,
                region=self.region,
                operation_name=self.operation_name,
                variables=self.variables,
                root_fields=self.root_fields,
                status=status,
                duration=time.perf_counter() - self.started,
                request_id=self.request_id,
                fault=fault,
                error_codes=codes,
                accept=self.accept,
                content_type=(_TEXT if text is not None else content_type) if status else None,
            )
        )
        if text is not None:
            self.handler.reply(status, text.encode(), _TEXT, headers)
        elif body is not None:
            self.handler.reply(status, body, content_type, headers)


def prefers_graphql_response(accept: str | None) -> bool:
    """Whether HotChocolate 13+ answers this ``Accept`` with ``application/graphql-response+json``.

    The classic ``application/json`` is given only to a client that asks for it at least as
    much as for the new type; ``*/*``, ``application/*`` and no header at all get the new one.
    """
    best: tuple[tuple[float, bool, int], bool] | None = None
    for index, part in enumerate((accept or "*/*").split(",")):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        if quality <= 0 or media not in (
            "application/json", "application/graphql-response+json", "application/*", "*/*"
        ):
            continue
        explicit = "*" not in media
        rank = (quality, explicit, -index)
        if best is None or rank > best[0]:
            best = (rank, media != "application/json")
    return True if best is None else best[1]


def _is_mutation(document: DocumentNode, operation_name: str | None) -> bool:
    """Whether the operation executed from ``document`` is a mutation."""
    operations = [
        item for item in document.definitions if isinstance(item, OperationDefinitionNode)
    ]
    for operation in operations:
        name = operation.name.value if operation.name else None
        if operation_name is None or name == operation_name:
            return operation.operation == OperationType.MUTATION
    return False


def _never_awaitable(_value: Any) -> TypeGuard[Awaitable[Any]]:
    """Every resolver is synchronous, so graphql-core can skip its awaitable checks."""
    return False


def _errors(message: str, code: str, **top: Any) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": code}}], **top}


def _answer_fault(exchange: _Exchange, fault: HttpFault) -> None:
    headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
    try:
        phrase = HTTPStatus(fault.status).phrase
    except ValueError:
        phrase = "Error"
    if fault.status in (502, 503, 504):
        exchange.finish(
            fault.status, text=f"{fault.status} {phrase}", fault="http_error", headers=headers
        )
        return
    exchange.finish(
        fault.status, _errors(phrase, f"HTTP_{fault.status}"), fault="http_error", headers=headers
    )


def _with_code(error: GraphQLError, code: str) -> dict[str, Any]:
    formatted = dict(error.formatted)
    extensions = dict(cast(dict[str, Any], formatted.get("extensions") or {}))
    extensions.setdefault("code", code)
    formatted["extensions"] = extensions
    return formatted


__all__ = ["TOKEN_SCOPES", "AltiumSandbox", "Project", "RequestRecord", "TokenInfo"]
