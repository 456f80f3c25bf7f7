"""Webhook endpoints, the messages owed to them and the log of every attempt to send one.

An *endpoint* is an HTTP address that receives every event it wants (its projects, event
groups and document/designator filters mean what they mean for a Slack subscription; no
project means every watched project), signed with its secret the Standard Webhooks way.
A *message* is one event owed to one endpoint (or a ``ping``); its id is the
``webhook-id`` header, the same on every retry, so receivers can drop duplicates. The
outbox plans messages in the same transaction and under the same high-water mark as Slack
deliveries (``Outbox.plan``); a new endpoint receives only events logged after it was added.

Failures back off per endpoint, not per message: after a failed attempt the endpoint gets a
``retry_at`` before which nothing is sent to it, so a dead endpoint costs one attempt per
retry. A disabled endpoint is sent nothing, but its messages keep being planned and wait for
``enable``. Each endpoint is sent to only under its claim (``state.claims.endpoint_claim``).
The schedule, the HTTP and the payloads are the sender's (``bot.webhooks``); this module
keeps only what was owed, tried and landed.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import ipaddress
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from state.clock import parse_stamp, stamp
from state.errors import ConfigError, NotFoundError
from state.filters import Filters, wants
from state.model import EVENT_GROUPS, Event
from state.store import Store, StoredEvent, stored_event

EndpointState = Literal["enabled", "disabled"]
MessageState = Literal["pending", "delivered", "set_aside"]

WEBHOOK_PREFIX: Final = "webhook:"
"""The prefix of an endpoint's claim name (``webhook:<endpoint id>``)."""

SECRET_PREFIX: Final = "whsec_"
"""How a signing secret begins (the Standard Webhooks form: ``whsec_`` + base64)."""

_ERROR_LENGTH: Final = 500
"""An attempt's error is kept to one line of at most this many characters."""


def new_endpoint_id() -> str:
    """``ep_`` + 12 random url-safe characters."""
    return "ep_" + secrets.token_urlsafe(9)


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + base64 of 24 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def message_id(endpoint_id: str, event_id: int) -> str:
    """The ``webhook-id`` of one event sent to one endpoint: stable, opaque."""
    digest = hashlib.sha256(f"{endpoint_id}:{event_id}".encode()).hexdigest()
    return "msg_" + digest[:24]


def mask_secret(secret: str) -> str:
    """A secret as it may be shown once stored: its prefix and last four characters."""
    return f"{SECRET_PREFIX}…{secret[-4:]}" if len(secret) > len(SECRET_PREFIX) + 8 else "…"


def check_url(url: str, *, allow_http: bool = False) -> str:
    """``url`` when an endpoint may use it: ``https://``, or ``http://`` to a loopback host
    or with ``allow_http``; ``ConfigError`` otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"webhook URL {url!r} is not an http(s) address.")
    if parts.scheme == "http" and not allow_http and not _loopback(parts.hostname):
        raise ConfigError(f"webhook URL {url!r} is not https; use --allow-http to send "
                          "events unencrypted.")
    return url


def _loopback(host: str) -> bool:
    if host.casefold() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """One HTTP endpoint that receives events: where, which, signed with what, and how its
    sending goes (enabled or disabled, last success, failures, when it may be tried again)."""

    id: str
    url: str
    project_ids: tuple[str, ...]
    """Empty: every watched project."""
    groups: tuple[str, ...]
    """``EVENT_GROUPS`` names."""
    filters: Filters
    """Documents/designators, meaning as for subscriptions."""
    allow_http: bool
    secret: str = field(repr=False)
    """The current signing secret (never in a repr, so never in a log line)."""
    previous_secret: str | None = field(repr=False)
    previous_until: str | None
    """Store-form time the previous secret stops being sent."""
    state: EndpointState
    disabled_reason: str | None
    disabled_at: str | None
    created_at: str
    last_success_at: str | None
    failing_since: str | None
    """The first failure since the last success."""
    failures: int
    """Consecutive failed attempts."""
    retry_at: str | None
    """Nothing is sent before this."""

    def signing_secrets(self, now: datetime) -> tuple[str, ...]:
        """The secrets to sign with at ``now``: the current one, then the previous one while
        it is still valid (a rotation's overlap)."""
        if (self.previous_secret is not None and self.previous_until is not None
                and now < parse_stamp(self.previous_until)):
            return (self.secret, self.previous_secret)
        return (self.secret,)

    def wants(self, event: Event) -> bool:
        """Whether ``event`` is for this endpoint: its project, its groups and its filters."""
        if self.project_ids and event.project_id not in self.project_ids:
            return False
        return wants(self.groups, self.filters, event)

    @property
    def enabled(self) -> bool:
        return self.state == "enabled"


@dataclass(frozen=True, kw_only=True)
class WebhookMessage:
    """One event owed to one endpoint, or a ping; ``id`` is its ``webhook-id``."""

    id: str
    """The webhook-id, the same on every retry."""
    endpoint_id: str
    event_id: int | None
    """None for a ping."""
    stored: StoredEvent | None
    """None for a ping."""
    state: MessageState
    attempts: int
    created_at: str
    delivered_at: str | None

    @property
    def is_ping(self) -> bool:
        return self.event_id is None


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """One try to send a message: when, the HTTP status (None: no answer), how long, why
    it failed."""

    id: int
    message_id: str
    endpoint_id: str
    event_id: int | None
    attempted_at: str
    status: int | None
    """HTTP status, None when no answer."""
    latency_ms: int
    error: str | None
    """One line, never a secret."""
    succeeded: bool


class Webhooks:
    """Endpoints, messages and attempts in the store's SQLite file."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    # -- endpoints -------------------------------------------------------------------------

    def add(self, url: str, *, secret: str, at: str, project_ids: Sequence[str] = (),
            groups: Sequence[str] = EVENT_GROUPS, filters: Filters | None = None,
            allow_http: bool = False) -> Endpoint:
        """Add an endpoint; it receives only events logged after now, never history."""
        check_url(url, allow_http=allow_http)
        chosen = tuple(g for g in EVENT_GROUPS if g in set(groups))
        if not chosen:
            raise ValueError("at least one event group is needed")
        if not secret.startswith(SECRET_PREFIX):
            raise ValueError(f"a signing secret begins with {SECRET_PREFIX}")
        f = filters or Filters()
        endpoint_id = new_endpoint_id()
        with self.store.transaction():
            newest = self.store.rows("select coalesce(max(id), 0) as id from events")[0]["id"]
            self.db.table("webhook_endpoints").insert({
                "id": endpoint_id, "url": url, "project_ids": _csv(project_ids),
                "groups": ",".join(chosen),
                "include_documents": _csv(f.include_documents),
                "exclude_documents": _csv(f.exclude_documents),
                "include_designators": _csv(f.include_designators),
                "exclude_designators": _csv(f.exclude_designators),
                "allow_http": int(allow_http), "secret": secret, "previous_secret": None,
                "previous_until": None, "state": "enabled", "disabled_reason": None,
                "disabled_at": None, "disabled_notified_at": None, "created_at": at,
                "after_event_id": int(newest), "last_success_at": None,
                "failing_since": None, "failures": 0, "retry_at": None})
        return self.get(endpoint_id)

    def get(self, endpoint_id: str) -> Endpoint:
        """One endpoint by id; ``NotFoundError`` (with the closest ids) when there is none."""
        rows = self.store.rows("select * from webhook_endpoints where id = ?", [endpoint_id])
        if not rows:
            known = [r["id"] for r in self.store.rows("select id from webhook_endpoints")]
            raise NotFoundError(f"no webhook endpoint {endpoint_id!r}.",
                                suggestions=difflib.get_close_matches(endpoint_id, known, n=3))
        return _endpoint(rows[0])

    def endpoints(self) -> list[Endpoint]:
        """Every endpoint, oldest first."""
        return [_endpoint(r) for r in self.store.rows(
            "select * from webhook_endpoints order by created_at, id")]

    def remove(self, endpoint_id: str) -> Endpoint:
        """Remove an endpoint with its messages and their attempts; returns what it was."""
        with self.store.transaction():
            endpoint = self.get(endpoint_id)
            self.db.execute("delete from webhook_attempts where endpoint_id = ?", [endpoint_id])
            self.db.execute("delete from webhook_messages where endpoint_id = ?", [endpoint_id])
            self.db.execute("delete from webhook_endpoints where id = ?", [endpoint_id])
        return endpoint

    def rotate(self, endpoint_id: str, *, secret: str, now: datetime,
               overlap: timedelta = timedelta(hours=24)) -> Endpoint:
        """Sign with ``secret`` from now on; the current secret stays valid for ``overlap``
        (both signatures are sent meanwhile)."""
        if not secret.startswith(SECRET_PREFIX):
            raise ValueError(f"a signing secret begins with {SECRET_PREFIX}")
        with self.store.transaction():
            current = self.get(endpoint_id)
            self._update(endpoint_id, secret=secret, previous_secret=current.secret,
                         previous_until=stamp(now + overlap))
        return self.get(endpoint_id)

    def enable(self, endpoint_id: str, *, at: str) -> Endpoint:
        """Send to an endpoint again, its failures forgotten: what waited goes out next,
        oldest first."""
        with self.store.transaction():
            self.get(endpoint_id)
            self._update(endpoint_id, state="enabled", disabled_reason=None, disabled_at=None,
                         disabled_notified_at=None, failures=0, failing_since=None,
                         retry_at=None)
        return self.get(endpoint_id)

    def disable(self, endpoint_id: str, *, reason: str, at: str) -> Endpoint:
        """Stop sending to an endpoint (its messages keep being planned and wait); the ops
        channel is to be told once. An endpoint already disabled keeps its first reason."""
        with self.store.transaction():
            if self.get(endpoint_id).state != "disabled":
                self._update(endpoint_id, state="disabled", disabled_reason=_one_line(reason),
                             disabled_at=at, disabled_notified_at=None)
        return self.get(endpoint_id)

    def unnotified(self) -> list[Endpoint]:
        """Disabled endpoints the operators have not been told about yet."""
        return [_endpoint(r) for r in self.store.rows(
            "select * from webhook_endpoints where state = 'disabled' "
            "and disabled_notified_at is null order by disabled_at, id")]

    def mark_notified(self, endpoint_ids: Iterable[str], *, at: str) -> None:
        """Record that the operators were told these endpoints are disabled."""
        with self.store.transaction():
            for endpoint_id in endpoint_ids:
                self.db.execute("update webhook_endpoints set disabled_notified_at = ? "
                                "where id = ? and state = 'disabled'", [at, endpoint_id])

    # -- planning --------------------------------------------------------------------------

    def plan(self, events: Sequence[StoredEvent], *, at: str) -> int:
        """Owe each of ``events`` to every endpoint that wants it (disabled ones too: theirs
        wait); returns messages added. Called inside ``Outbox.plan``'s transaction, which
        hands each event over once."""
        if not events:
            return 0
        with self.store.transaction():
            endpoints = [(_endpoint(r), int(r["after_event_id"]))
                         for r in self.store.rows("select * from webhook_endpoints")]
            rows = [
                {"id": message_id(endpoint.id, stored.id), "endpoint_id": endpoint.id,
                 "event_id": stored.id, "state": "pending", "attempts": 0, "created_at": at,
                 "delivered_at": None, "requeued_at": None}
                for stored in events if stored.event.kind != "project_created"
                for endpoint, after in endpoints
                if stored.id > after and endpoint.wants(stored.event)
            ]
            if rows:
                self.db.table("webhook_messages").insert_all(rows, ignore=True,
                                                             batch_size=500)
        return len(rows)

    # -- what is owed ----------------------------------------------------------------------

    def with_work(self, now: datetime) -> list[Endpoint]:
        """Enabled endpoints with a pending message and no back-off still running."""
        return [_endpoint(r) for r in self.store.rows(
            "select * from webhook_endpoints e where e.state = 'enabled' "
            "and (e.retry_at is null or e.retry_at <= ?) and exists (select 1 from "
            "webhook_messages m where m.endpoint_id = e.id and m.state = 'pending') "
            "order by e.created_at, e.id", [stamp(now)])]

    def due(self, endpoint_id: str, *, limit: int = 100) -> list[WebhookMessage]:
        """An endpoint's pending messages: pings first, then events oldest first."""
        return [_message(r) for r in self.store.rows(
            _MESSAGES + "where m.endpoint_id = ? and m.state = 'pending' "
            "order by m.event_id is not null, m.event_id, m.created_at, m.id limit ?",
            [endpoint_id, int(limit)])]

    def pending(self, endpoint_id: str | None = None) -> int:
        """How many messages wait (for one endpoint)."""
        sql = "select count(*) as n from webhook_messages where state = 'pending'"
        params: list[str] = []
        if endpoint_id is not None:
            sql += " and endpoint_id = ?"
            params.append(endpoint_id)
        return int(self.store.rows(sql, params)[0]["n"])

    def ping(self, endpoint_id: str, *, at: str) -> WebhookMessage:
        """Owe an endpoint a ``ping`` (sent before its events)."""
        ping_id = "msg_" + secrets.token_hex(12)
        with self.store.transaction():
            self.get(endpoint_id)
            self.db.table("webhook_messages").insert({
                "id": ping_id, "endpoint_id": endpoint_id, "event_id": None,
                "state": "pending", "attempts": 0, "created_at": at, "delivered_at": None,
                "requeued_at": None})
        return self.message(ping_id)

    def message(self, message_id: str) -> WebhookMessage:
        """One message by its id (the ``webhook-id``); ``NotFoundError`` when there is none."""
        rows = self.store.rows(_MESSAGES + "where m.id = ?", [message_id])
        if not rows:
            raise NotFoundError(f"no webhook delivery {message_id!r}.")
        return _message(rows[0])

    # -- attempts --------------------------------------------------------------------------

    def record_attempt(self, message_id: str, *, at: str, status: int | None, latency_ms: int,
                       error: str | None, succeeded: bool) -> Attempt:
        """Log one try to send a message. A success marks the message delivered and clears
        its endpoint's failures; a failure only counts (``back_off`` schedules the retry)."""
        with self.store.transaction():
            message = self.message(message_id)
            endpoint = self.get(message.endpoint_id)
            cursor = self.db.execute(
                "insert into webhook_attempts (message_id, endpoint_id, event_id, "
                "attempted_at, status, latency_ms, error, succeeded) "
                "values (?, ?, ?, ?, ?, ?, ?, ?)",
                [message_id, message.endpoint_id, message.event_id, at, status,
                 int(latency_ms), _scrub(error, endpoint), int(succeeded)])
            attempt_id = int(cursor.lastrowid or 0)
            if succeeded:
                self.db.execute("update webhook_messages set attempts = attempts + 1, "
                                "state = 'delivered', delivered_at = ? where id = ?",
                                [at, message_id])
                self._update(message.endpoint_id, last_success_at=at, failures=0,
                             failing_since=None, retry_at=None)
            else:
                self.db.execute("update webhook_messages set attempts = attempts + 1 "
                                "where id = ?", [message_id])
        return _attempt(self.store.rows("select * from webhook_attempts where id = ?",
                                        [attempt_id])[0])

    def back_off(self, endpoint_id: str, *, at: str, retry_at: str) -> Endpoint:
        """Count a failed attempt against an endpoint and send it nothing before
        ``retry_at``; ``failing_since`` keeps the first failure since the last success."""
        with self.store.transaction():
            self.get(endpoint_id)
            self.db.execute(
                "update webhook_endpoints set failures = failures + 1, "
                "failing_since = coalesce(failing_since, ?), retry_at = ? where id = ?",
                [at, retry_at, endpoint_id])
        return self.get(endpoint_id)

    def attempts(self, endpoint_id: str, *, failed_only: bool = False,
                 limit: int = 50) -> list[Attempt]:
        """An endpoint's latest attempts, newest first (only the failed ones)."""
        sql = "select * from webhook_attempts where endpoint_id = ?"
        if failed_only:
            sql += " and succeeded = 0"
        return [_attempt(r) for r in self.store.rows(sql + " order by id desc limit ?",
                                                     [endpoint_id, int(limit)])]

    def set_aside(self, message_id: str, *, reason: str, at: str) -> Attempt:
        """Keep a message that cannot be sent as it is (it cannot be rendered) out of its
        endpoint's queue, with ``reason`` logged as a failed attempt, so the messages after it
        go on; ``resend`` puts it back."""
        with self.store.transaction():
            attempt = self.record_attempt(message_id, at=at, status=None, latency_ms=0,
                                          error=reason, succeeded=False)
            self.db.execute("update webhook_messages set state = 'set_aside' where id = ?",
                            [message_id])
        return attempt

    def resend(self, message_id: str, *, at: str) -> WebhookMessage:
        """Put a message back in its endpoint's queue, with the same ``webhook-id``."""
        with self.store.transaction():
            self.message(message_id)
            self.db.execute("update webhook_messages set state = 'pending', "
                            "delivered_at = null, requeued_at = ? where id = ?",
                            [at, message_id])
        return self.message(message_id)

    def _update(self, endpoint_id: str, **values: Any) -> None:
        self.db.table("webhook_endpoints").update(endpoint_id, values)


_MESSAGES: Final = (
    "select m.id as m_id, m.endpoint_id as m_endpoint_id, m.event_id as m_event_id, "
    "m.state as m_state, m.attempts as m_attempts, m.created_at as m_created_at, "
    "m.delivered_at as m_delivered_at, e.* from webhook_messages m "
    "left join events e on e.id = m.event_id ")


def _csv(values: Sequence[str]) -> str | None:
    return ",".join(values) if values else None


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(v for v in (text or "").split(",") if v)


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _ERROR_LENGTH else line[:_ERROR_LENGTH - 1] + "…"


def _scrub(error: str | None, endpoint: Endpoint) -> str | None:
    """An attempt's error as kept: one line, with no secret of the endpoint in it."""
    if error is None:
        return None
    for secret in (endpoint.secret, endpoint.previous_secret):
        if secret:
            error = error.replace(secret, mask_secret(secret))
    return _one_line(error)


def _endpoint(r: Mapping[str, Any]) -> Endpoint:
    return Endpoint(
        id=r["id"], url=r["url"], project_ids=_split(r["project_ids"]),
        groups=_split(r["groups"]),
        filters=Filters(include_documents=_split(r["include_documents"]),
                        exclude_documents=_split(r["exclude_documents"]),
                        include_designators=_split(r["include_designators"]),
                        exclude_designators=_split(r["exclude_designators"])),
        allow_http=bool(r["allow_http"]), secret=r["secret"],
        previous_secret=r["previous_secret"], previous_until=r["previous_until"],
        state="disabled" if r["state"] == "disabled" else "enabled",
        disabled_reason=r["disabled_reason"], disabled_at=r["disabled_at"],
        created_at=r["created_at"], last_success_at=r["last_success_at"],
        failing_since=r["failing_since"], failures=int(r["failures"] or 0),
        retry_at=r["retry_at"])


def _message(r: Mapping[str, Any]) -> WebhookMessage:
    return WebhookMessage(
        id=r["m_id"], endpoint_id=r["m_endpoint_id"], event_id=r["m_event_id"],
        stored=stored_event(r) if r["m_event_id"] is not None and r["id"] is not None
        else None,
        state="delivered" if r["m_state"] == "delivered" else "pending",
        attempts=int(r["m_attempts"] or 0), created_at=r["m_created_at"],
        delivered_at=r["m_delivered_at"])


def _attempt(r: Mapping[str, Any]) -> Attempt:
    return Attempt(id=int(r["id"]), message_id=r["message_id"], endpoint_id=r["endpoint_id"],
                   event_id=r["event_id"], attempted_at=r["attempted_at"], status=r["status"],
                   latency_ms=int(r["latency_ms"]), error=r["error"],
                   succeeded=bool(r["succeeded"]))
