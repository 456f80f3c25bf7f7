"""Webhook endpoints in the store: what planning owes them, what is due, what was tried."""

from __future__ import annotations

import base64
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from state.claims import endpoint_claim
from state.clock import stamp
from state.errors import ConfigError, NotFoundError
from state.filters import Filters, wants
from state.model import Event
from state.outbox import Outbox
from state.store import Store
from state.webhooks import (
    SECRET_PREFIX,
    WEBHOOK_PREFIX,
    Endpoint,
    Webhooks,
    message_id,
    new_secret,
)
from tests.factories import project, snapshot

T = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
NOW = stamp(T)
LATER = stamp(T + timedelta(minutes=5))
URL = "https://hooks.example/design-review"


def ev(kind: str, *, project_id: str = "P1", **fields: object) -> Event:
    return Event(kind=kind, project_id=project_id,  # type: ignore[arg-type]
                 project=f"Project {project_id}", at=NOW, **fields)  # type: ignore[arg-type]


def log(store: Store, *events: Event, at: str = NOW) -> list[int]:
    """Log ``events`` as one poll would (the snapshot itself stays empty)."""
    return store.save_snapshot(None, snapshot(), events, detected_at=at)


def add(hooks: Webhooks, url: str = URL, **options: Any) -> Endpoint:
    return hooks.add(url, secret=new_secret(), at=NOW, **options)


def owed(hooks: Webhooks, endpoint: Endpoint) -> list[int]:
    return [m.event_id for m in hooks.due(endpoint.id) if m.event_id is not None]


EVENTS = (
    ev("thread_opened", document="Main.PcbDoc", thread_id="t1", thread_number=1),
    ev("thread_replied", document="Power.SchDoc", thread_id="t2", thread_number=2),
    ev("thread_opened", project_id="P2", document="Main.PcbDoc", thread_id="t3",
       thread_number=1),
    ev("part_added", designator="TP1", variant="Default"),
    ev("part_added", designator="R1", variant="Default"),
    ev("part_removed", project_id="P2", designator="TP2", variant="Default"),
    ev("revision_committed", revision_id="r2"),
    ev("project_created"),
)


@pytest.mark.parametrize(("options", "expected"), [
    ({}, [0, 1, 2, 3, 4, 5, 6]),
    ({"project_ids": ["P2"]}, [2, 5]),
    ({"project_ids": ["P1", "P2"], "groups": ["bom"]}, [3, 4, 5]),
    ({"groups": ["comments"], "filters": Filters(include_documents=("*.pcbdoc",))}, [0, 2]),
    ({"groups": ["comments", "revisions"], "filters": Filters(exclude_documents=("power.*",))},
     [0, 2, 6]),
    ({"project_ids": ["P1"], "groups": ["bom"],
      "filters": Filters(exclude_designators=("tp",))}, [4]),
    ({"groups": ["bom"], "filters": Filters(include_designators=("TP",))}, [3, 5]),
])
def test_planning_honours_projects_groups_and_filters(store: Store, options: dict[str, Any],
                                                      expected: list[int]) -> None:
    hooks = Webhooks(store)
    endpoint = add(hooks, **options)
    ids = log(store, *EVENTS)
    Outbox(store).plan(at=NOW)
    assert owed(hooks, endpoint) == [ids[i] for i in expected]
    assert [i for i, e in enumerate(EVENTS) if endpoint.wants(e)] == expected


@pytest.mark.parametrize("filters", [
    Filters(), Filters(include_documents=("*.PcbDoc",)), Filters(exclude_documents=("Power*",)),
    Filters(include_designators=("R", "U")), Filters(exclude_designators=("TP",)),
])
@pytest.mark.parametrize("groups", [("comments",), ("bom",), ("comments", "bom", "revisions")])
def test_an_endpoint_of_one_project_gets_what_a_subscription_with_its_filters_gets(
        store: Store, groups: tuple[str, ...], filters: Filters) -> None:
    hooks = Webhooks(store)
    endpoint = add(hooks, project_ids=["P1"], groups=groups, filters=filters)
    store.subscribe(project(), "#design-review", groups, at=NOW, filters=filters)
    log(store, *EVENTS)
    outbox = Outbox(store)
    outbox.plan(at=NOW)
    slack = [d.event_id for d in outbox.pending("#design-review")]
    assert owed(hooks, endpoint) == slack
    assert endpoint.groups == groups and endpoint.filters == filters
    assert all(wants(groups, filters, e) is endpoint.wants(e) for e in EVENTS
               if e.project_id == "P1")


def test_a_new_endpoint_gets_no_history(store: Store) -> None:
    hooks = Webhooks(store)
    outbox = Outbox(store)
    log(store, EVENTS[0])
    outbox.plan(at=NOW)
    unplanned = log(store, EVENTS[1])
    endpoint = add(hooks)
    assert endpoint.created_at == NOW and endpoint.state == "enabled"
    [new] = log(store, EVENTS[3], at=LATER)
    outbox.plan(at=LATER)
    assert owed(hooks, endpoint) == [new]
    assert unplanned[0] not in owed(hooks, endpoint)


def test_project_created_is_never_planned(store: Store) -> None:
    hooks = Webhooks(store)
    endpoint = add(hooks)
    log(store, ev("project_created"), ev("project_created", project_id="P2"))
    assert Outbox(store).plan(at=NOW) == 0
    assert hooks.pending() == 0 and hooks.with_work(T) == []
    assert endpoint.wants(ev("project_created")) is False


def test_message_ids_are_stable_per_event_and_endpoint_and_differ_across_endpoints(
        store: Store) -> None:
    hooks = Webhooks(store)
    outbox = Outbox(store)
    one, two = add(hooks), add(hooks, "https://other.example/hook")
    assert one.id != two.id and one.id.startswith("ep_") and len(one.id) == 15
    [event_id] = log(store, EVENTS[0])
    assert outbox.plan(at=NOW) == 2
    [first], [second] = hooks.due(one.id), hooks.due(two.id)
    assert first.id == message_id(one.id, event_id) and second.id == message_id(two.id, event_id)
    assert first.id != second.id and first.id.startswith("msg_") and len(first.id) == 28
    assert message_id(one.id, event_id) == first.id
    assert first.stored is not None and first.stored.event == EVENTS[0]
    # Planning the same events again (the mark lost) owes nothing twice.
    store.set_meta("planned_event_id", None)
    outbox.plan(at=LATER)
    assert [m.id for m in hooks.due(one.id)] == [first.id] and hooks.pending() == 2


def test_due_sends_pings_first_then_events_oldest_first(store: Store) -> None:
    hooks = Webhooks(store)
    endpoint = add(hooks)
    ids = log(store, *EVENTS[:3])
    Outbox(store).plan(at=NOW)
    ping = hooks.ping(endpoint.id, at=LATER)
    assert ping.event_id is None and ping.stored is None and ping.is_ping
    assert ping.id.startswith("msg_") and ping.id not in {message_id(endpoint.id, i) for i in ids}
    due = hooks.due(endpoint.id)
    assert [m.id for m in due] == [ping.id, *(message_id(endpoint.id, i) for i in ids)]
    assert [m.event_id for m in hooks.due(endpoint.id, limit=2)] == [None, ids[0]]
    assert all(m.state == "pending" and m.attempts == 0 for m in due)
    assert hooks.pending(endpoint.id) == 4 == hooks.pending()


def test_with_work_honours_retry_at_and_disabled(store: Store) -> None:
    hooks = Webhooks(store)
    busy, idle = add(hooks), add(hooks, "https://idle.example/hook", groups=["revisions"])
    log(store, EVENTS[0])
    Outbox(store).plan(at=NOW)
    assert [e.id for e in hooks.with_work(T)] == [busy.id]
    hooks.back_off(busy.id, at=NOW, retry_at=stamp(T + timedelta(seconds=5)))
    assert hooks.with_work(T + timedelta(seconds=4.999)) == []
    assert [e.id for e in hooks.with_work(T + timedelta(seconds=5))] == [busy.id]
    hooks.disable(busy.id, reason="410 Gone", at=NOW)
    assert hooks.with_work(T + timedelta(days=1)) == []
    log(store, EVENTS[1])
    Outbox(store).plan(at=LATER)  # a disabled endpoint's messages keep being planned
    assert hooks.pending(busy.id) == 2
    enabled = hooks.enable(busy.id, at=LATER)
    assert (enabled.state, enabled.failures, enabled.failing_since, enabled.retry_at,
            enabled.disabled_reason) == ("enabled", 0, None, None, None)
    assert [e.id for e in hooks.with_work(T)] == [busy.id] and hooks.pending(idle.id) == 0


def test_attempts_and_back_off_keep_the_books(store: Store) -> None:
    hooks = Webhooks(store)
    endpoint = add(hooks)
    log(store, *EVENTS[:2])
    Outbox(store).plan(at=NOW)
    first, second = hooks.due(endpoint.id)
    failed = hooks.record_attempt(first.id, at=NOW, status=503, latency_ms=120,
                                  error="HTTP 503\nService Unavailable", succeeded=False)
    assert (failed.message_id, failed.endpoint_id, failed.event_id, failed.status,
            failed.latency_ms, failed.error, failed.succeeded) == (
        first.id, endpoint.id, first.event_id, 503, 120, "HTTP 503 Service Unavailable", False)
    assert hooks.message(first.id).attempts == 1 and hooks.message(first.id).state == "pending"
    backed = hooks.back_off(endpoint.id, at=NOW, retry_at=stamp(T + timedelta(seconds=5)))
    assert (backed.failures, backed.failing_since, backed.retry_at) == (
        1, NOW, stamp(T + timedelta(seconds=5)))
    hooks.record_attempt(first.id, at=LATER, status=None, latency_ms=15000,
                         error="timed out", succeeded=False)
    backed = hooks.back_off(endpoint.id, at=LATER, retry_at=stamp(T + timedelta(hours=1)))
    assert (backed.failures, backed.failing_since) == (2, NOW)
    done = stamp(T + timedelta(hours=1))
    landed = hooks.record_attempt(first.id, at=done, status=204, latency_ms=30, error=None,
                                  succeeded=True)
    assert landed.succeeded and landed.error is None
    message = hooks.message(first.id)
    assert (message.state, message.attempts, message.delivered_at) == ("delivered", 3, done)
    healed = hooks.get(endpoint.id)
    assert (healed.last_success_at, healed.failures, healed.failing_since, healed.retry_at) == (
        done, 0, None, None)
    assert [m.id for m in hooks.due(endpoint.id)] == [second.id]
    assert [(a.status, a.succeeded) for a in hooks.attempts(endpoint.id)] == [
        (204, True), (None, False), (503, False)]
    assert [a.status for a in hooks.attempts(endpoint.id, failed_only=True)] == [None, 503]
    assert [a.status for a in hooks.attempts(endpoint.id, limit=1)] == [204]


def test_an_attempts_error_never_keeps_a_secret(store: Store) -> None:
    hooks = Webhooks(store)
    endpoint = add(hooks)
    ping = hooks.ping(endpoint.id, at=NOW)
    attempt = hooks.record_attempt(ping.id, at=NOW, status=400, latency_ms=5, succeeded=False,
                                   error=f"receiver said: bad key {endpoint.secret} " + "x" * 900)
    assert attempt.error is not None and endpoint.secret not in attempt.error
    assert len(attempt.error) <= 500 and "\n" not in attempt.error


def test_rotate_keeps_the_previous_secret_for_24_hours(store: Store) -> None:
    hooks = Webhooks(store)
    endpoint = add(hooks)
    assert endpoint.secret.startswith(SECRET_PREFIX) and endpoint.signing_secrets(T) == (
        endpoint.secret,)
    fresh = new_secret()
    rotated = hooks.rotate(endpoint.id, secret=fresh, now=T)
    assert (rotated.secret, rotated.previous_secret) == (fresh, endpoint.secret)
    assert rotated.previous_until == stamp(T + timedelta(hours=24))
    assert rotated.signing_secrets(T) == (fresh, endpoint.secret)
    assert rotated.signing_secrets(T + timedelta(hours=23, minutes=59)) == (
        fresh, endpoint.secret)
    assert rotated.signing_secrets(T + timedelta(hours=24)) == (fresh,)
    assert hooks.get(endpoint.id) == rotated


def test_new_secrets_are_standard_webhooks_secrets() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24
    assert new_secret() != secret


def test_remove_takes_the_messages_and_attempts_with_it(store: Store) -> None:
    hooks = Webhooks(store)
    gone, kept = add(hooks), add(hooks, "https://kept.example/hook")
    log(store, EVENTS[0])
    Outbox(store).plan(at=NOW)
    [message] = hooks.due(gone.id)
    hooks.record_attempt(message.id, at=NOW, status=500, latency_ms=3, error="HTTP 500",
                         succeeded=False)
    assert hooks.remove(gone.id) == gone
    assert [e.id for e in hooks.endpoints()] == [kept.id]
    assert hooks.pending() == 1 and hooks.attempts(gone.id) == []
    with pytest.raises(NotFoundError):
        hooks.message(message.id)
    with pytest.raises(NotFoundError):
        hooks.get(gone.id)


def test_resend_puts_a_delivered_message_back_with_its_id(store: Store) -> None:
    hooks = Webhooks(store)
    endpoint = add(hooks)
    log(store, EVENTS[0])
    Outbox(store).plan(at=NOW)
    [message] = hooks.due(endpoint.id)
    hooks.record_attempt(message.id, at=NOW, status=200, latency_ms=3, error=None,
                         succeeded=True)
    assert hooks.due(endpoint.id) == [] and hooks.with_work(T) == []
    again = hooks.resend(message.id, at=LATER)
    assert (again.id, again.state, again.attempts, again.delivered_at) == (
        message.id, "pending", 1, None)
    assert [m.id for m in hooks.due(endpoint.id)] == [message.id]
    with pytest.raises(NotFoundError):
        hooks.resend("msg_nothing", at=LATER)


def test_disabling_is_told_once(store: Store) -> None:
    hooks = Webhooks(store)
    endpoint = add(hooks)
    disabled = hooks.disable(endpoint.id, reason="410 Gone", at=NOW)
    assert (disabled.state, disabled.disabled_reason, disabled.disabled_at) == (
        "disabled", "410 Gone", NOW)
    assert [e.id for e in hooks.unnotified()] == [endpoint.id]
    hooks.mark_notified([endpoint.id], at=NOW)
    assert hooks.unnotified() == []
    again = hooks.disable(endpoint.id, reason="failing for 3 days", at=LATER)
    assert (again.disabled_reason, again.disabled_at) == ("410 Gone", NOW)
    assert hooks.unnotified() == []
    hooks.enable(endpoint.id, at=LATER)
    hooks.disable(endpoint.id, reason="failing for 3 days", at=LATER)
    assert [e.disabled_reason for e in hooks.unnotified()] == ["failing for 3 days"]


def test_an_unknown_endpoint_suggests_the_closest(store: Store) -> None:
    hooks = Webhooks(store)
    endpoint = add(hooks)
    with pytest.raises(NotFoundError, match=f"Did you mean: {endpoint.id}"):
        hooks.get(endpoint.id[:-1] + ("x" if endpoint.id[-1] != "x" else "y"))


@pytest.mark.parametrize(("url", "allow_http", "ok"), [
    ("https://hooks.example/x", False, True),
    ("http://127.0.0.1:8080/x", False, True),
    ("http://localhost/x", False, True),
    ("http://[::1]:9000/x", False, True),
    ("http://hooks.example/x", False, False),
    ("http://hooks.example/x", True, True),
    ("ftp://hooks.example/x", True, False),
    ("hooks.example/x", False, False),
])
def test_endpoints_are_https_unless_loopback_or_allowed(store: Store, url: str,
                                                        allow_http: bool, ok: bool) -> None:
    hooks = Webhooks(store)
    if ok:
        assert add(hooks, url, allow_http=allow_http).allow_http is allow_http
    else:
        with pytest.raises(ConfigError):
            add(hooks, url, allow_http=allow_http)


def test_slack_never_sees_webhook_work(store: Store) -> None:
    hooks = Webhooks(store)
    endpoint = add(hooks)
    log(store, *EVENTS)
    outbox = Outbox(store)
    assert outbox.plan(at=NOW) == 7 == hooks.pending(endpoint.id)
    assert outbox.channels_with_work() == [] and outbox.undelivered() == 0
    assert outbox.pending(endpoint.url) == [] and outbox.pending(endpoint.id) == []


def test_an_endpoint_has_its_own_claim() -> None:
    assert endpoint_claim("ep_abc") == WEBHOOK_PREFIX + "ep_abc" == "webhook:ep_abc"


def test_two_connections_planning_at_once_never_plan_an_event_twice(db_path: Path) -> None:
    rounds, per_round = 15, 4
    with Store.open(db_path) as setup:
        hooks = Webhooks(setup)
        endpoints = [add(hooks), add(hooks, "https://two.example/hook", groups=["comments"])]
        setup.subscribe(project(), "#design-review", ["comments", "bom"], at=NOW)
    start = threading.Barrier(3)
    done = threading.Barrier(3)
    planned: list[int] = []
    errors: list[BaseException] = []

    def planner() -> None:
        try:
            with Store.open(db_path) as store:
                outbox = Outbox(store)
                for _ in range(rounds):
                    start.wait(timeout=30)
                    planned.append(outbox.plan(at=NOW))
                    done.wait(timeout=30)
        except BaseException as exc:
            errors.append(exc)
            start.abort()
            done.abort()

    threads = [threading.Thread(target=planner) for _ in range(2)]
    for t in threads:
        t.start()
    with Store.open(db_path) as writer:
        for n in range(rounds):
            log(writer, *(ev("thread_replied", thread_id=f"t{n}-{i}", thread_number=i,
                             document="Main.PcbDoc") for i in range(per_round)))
            start.wait(timeout=30)
            done.wait(timeout=30)
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    with Store.open(db_path) as check:
        hooks, outbox = Webhooks(check), Outbox(check)
        events = rounds * per_round
        assert [hooks.pending(e.id) for e in endpoints] == [events, events]
        assert outbox.undelivered("#design-review") == events
        # Every row planned was counted by exactly one planner: none was planned twice.
        assert sum(planned) == 3 * events


def test_an_endpoint_never_shows_its_secrets(store: Store) -> None:
    hooks = Webhooks(store)
    endpoint = add(hooks)
    rotated = hooks.rotate(endpoint.id, secret=new_secret(), now=T)
    assert endpoint.secret not in repr(rotated) and rotated.secret not in repr(rotated)
    assert endpoint.id in repr(rotated)


def test_a_project_an_endpoint_names_is_watched_without_a_channel(store: Store) -> None:
    hooks = Webhooks(store)
    add(hooks)  # every watched project: watches nothing by itself
    assert store.watched_project_ids() == set()
    add(hooks, project_ids=["P1", "P2"])
    assert store.watched_project_ids() == {"P1", "P2"}
