"""The webhook sender over real HTTP, against the local receiver that verifies every request."""

from __future__ import annotations

import logging
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from bot.errors import WebhookError
from bot.webhooks.payload import event_type
from bot.webhooks.sender import WebhookReport, WebhookSender
from sandbox import WebhookReceiver
from sandbox.webhooks import Received, Respond
from state.claims import Claims, Owner, endpoint_claim
from state.clock import Clock, parse_stamp, stamp, utc_now
from state.diff import diff
from state.filters import Filters
from state.model import Event
from state.outbox import Outbox
from state.store import Store, StoredEvent
from state.supply import PartKey, Supply, SupplyFacts, Thresholds
from state.webhooks import Endpoint, Webhooks, new_secret
from tests.bot.webhooks.conftest import SECRET
from tests.bot.webhooks.history import NEW, SENT_KINDS, log_baseline, log_changes, validator
from tests.conftest import FakeClock, wait_for
from tests.factories import comment, snapshot, thread

LATER_AT = "2026-11-28T09:10:00.000Z"
NEWER = snapshot([*NEW.threads.values(),
                  thread("t6", 6, comment("c6", "One more", at=LATER_AT), at=LATER_AT)],
                 list(NEW.bom.values()) if NEW.bom else [], revision="r2",
                 updated_at=NEW.project.updated_at)
EVERY_TYPE = {event_type(k) for k in SENT_KINDS}


@pytest.fixture
def near() -> FakeClock:
    """A clock that moves only when told, starting 2 min before the real time: the receiver
    checks each signature's time against its own clock (5 min either way), so a test can
    advance it past two back-offs and still be believed."""
    return FakeClock(datetime.now(UTC) - timedelta(minutes=2))




def add(store: Store, url: str, clock: Clock, *, secret: str = SECRET,
        **options: Any) -> Endpoint:
    return Webhooks(store).add(url, secret=secret, at=stamp(clock()), **options)


def sender(db_path: Path, http: httpx.Client, clock: Clock, **options: Any) -> WebhookSender:
    return WebhookSender(db_path=db_path, http=http, clock=clock, rng=random.Random(1),
                         version="1.2.3", **options)


def logged(store: Store, clock: Clock, *urls: str, **options: Any) -> tuple[
        list[Endpoint], list[StoredEvent]]:
    """Endpoints for ``urls`` added after the project's first look, then a poll that logs
    one event of every kind."""
    log_baseline(store)
    endpoints = [add(store, url, clock, **options) for url in urls]
    return endpoints, log_changes(store)


def after_back_off(store: Store, clock: FakeClock, endpoint_id: str) -> None:
    """Move the clock just past the endpoint's ``retry_at``."""
    retry_at = Webhooks(store).get(endpoint_id).retry_at
    assert retry_at is not None
    clock.now = parse_stamp(retry_at) + timedelta(milliseconds=1)


def test_every_event_arrives_once_signed_in_order_and_valid_against_the_schema(
        store: Store, db_path: Path, http: httpx.Client, receiver: WebhookReceiver) -> None:
    [endpoint], events = logged(store, utc_now, receiver.url)
    report = sender(db_path, http, utc_now).deliver()
    assert (report.sent, report.failed, report.pending, report.ok) == (12, 0, 0, True)
    requests = receiver.received()
    assert all(r.verified for r in requests)
    for request in requests:  # as a receiver would, with the library and the real clock
        Webhook(SECRET).verify(request.body, request.headers)
        assert request.headers["user-agent"] == "review-bot/1.2.3"
        assert request.headers["content-type"] == "application/json"
    check = validator()
    for document in receiver.delivered():
        check.validate(document)
    assert [d["data"]["id"] for d in receiver.delivered()] == [s.id for s in events]
    assert {d["type"] for d in receiver.delivered()} == EVERY_TYPE
    assert len({r.webhook_id for r in requests}) == 12
    again = sender(db_path, http, utc_now).deliver()
    assert (again.sent, len(receiver.received())) == (0, 12)
    attempts = Webhooks(store).attempts(endpoint.id)
    assert len(attempts) == 12 and all(a.succeeded and a.status == 204 for a in attempts)


def test_a_receiver_failing_twice_gets_each_event_once_with_one_id_per_event(
        store: Store, db_path: Path, http: httpx.Client, receiver: WebhookReceiver,
        near: FakeClock) -> None:
    [endpoint], events = logged(store, near, receiver.url)
    receiver.answer(Respond(status=500), Respond(status=503))
    first = sender(db_path, http, near).deliver()
    assert (first.sent, first.failed, first.errors) == (0, 1, {endpoint.id: "HTTP 500"})
    backing_off = Webhooks(store).get(endpoint.id)
    assert backing_off.failures == 1 and backing_off.retry_at is not None
    assert timedelta(seconds=4) <= parse_stamp(backing_off.retry_at) - near() <= timedelta(
        seconds=6)
    assert sender(db_path, http, near).deliver().sent == 0  # nothing before retry_at
    assert len(receiver.received()) == 1
    after_back_off(store, near, endpoint.id)
    assert sender(db_path, http, near).deliver().failed == 1
    assert Webhooks(store).get(endpoint.id).failures == 2
    after_back_off(store, near, endpoint.id)
    last = sender(db_path, http, near).deliver()
    assert (last.sent, last.failed, last.pending) == (12, 0, 0)
    requests = receiver.received()
    assert len(requests) == 14 and all(r.verified for r in requests)
    assert [r.status for r in requests[:3]] == [500, 503, 204]
    assert requests[0].webhook_id == requests[1].webhook_id == requests[2].webhook_id
    assert [d["data"]["id"] for d in receiver.delivered()] == [s.id for s in events]
    healed = Webhooks(store).get(endpoint.id)
    assert (healed.failures, healed.retry_at, healed.failing_since) == (0, None, None)


def test_410_gone_disables_the_endpoint_and_enable_sends_what_waited(
        store: Store, db_path: Path, http: httpx.Client, receiver: WebhookReceiver) -> None:
    [endpoint], events = logged(store, utc_now, receiver.url)
    receiver.always(Respond(status=410))
    report = sender(db_path, http, utc_now).deliver()
    assert report.disabled == {endpoint.id: "the receiver answered 410 Gone"}
    assert not report.ok and report.pending == 12
    disabled = Webhooks(store).get(endpoint.id)
    assert disabled.state == "disabled" and disabled.retry_at is None
    assert sender(db_path, http, utc_now).deliver().sent == 0
    assert len(receiver.received()) == 1
    receiver.always(Respond())
    Webhooks(store).enable(endpoint.id, at=stamp(utc_now()))
    assert sender(db_path, http, utc_now).deliver().sent == 12
    assert [d["data"]["id"] for d in receiver.delivered()] == [s.id for s in events]


def test_a_hanging_receiver_delays_nothing_else(
        store: Store, db_path: Path, http: httpx.Client, receiver: WebhookReceiver) -> None:
    with WebhookReceiver(secrets=[SECRET]) as hanging:
        hanging.always(Respond(hang=60.0))
        [dead, alive], _ = logged(store, utc_now, hanging.url, receiver.url)
        started = time.monotonic()
        report = sender(db_path, http, utc_now).deliver()
        took = time.monotonic() - started
        assert took < 17.0
        assert (report.sent, report.failed) == (12, 1)
        assert report.errors == {dead.id: "no answer within 15 s"}
        hung = hanging.received()
        assert len(hung) == 1
        # Every event reached the live endpoint while the dead one still held its request.
        assert len(receiver.delivered()) == 12
        assert receiver.received()[-1].at < hung[0].at + 5.0
        assert Webhooks(store).get(dead.id).retry_at is not None
        assert Webhooks(store).get(alive.id).retry_at is None


def test_a_redirect_is_a_failure_and_is_not_followed(
        store: Store, db_path: Path, http: httpx.Client, receiver: WebhookReceiver) -> None:
    with WebhookReceiver(secrets=[SECRET]) as elsewhere:
        receiver.always(Respond(status=308, location=elsewhere.url))
        [endpoint], _ = logged(store, utc_now, receiver.url)
        report = sender(db_path, http, utc_now).deliver()
        assert report.failed == 1 and "redirect" in report.errors[endpoint.id]
        assert elsewhere.received() == []
        [attempt] = Webhooks(store).attempts(endpoint.id)
        assert (attempt.status, attempt.succeeded) == (308, False)
        assert Webhooks(store).get(endpoint.id).state == "enabled"


def test_after_a_rotation_both_secrets_verify_until_the_old_one_expires(
        store: Store, db_path: Path, http: httpx.Client, receiver: WebhookReceiver) -> None:
    new = new_secret()
    [endpoint], _ = logged(store, utc_now, receiver.url)
    Webhooks(store).rotate(endpoint.id, secret=new, now=utc_now())
    receiver.secrets = [SECRET]  # a receiver not yet told of the new secret
    assert sender(db_path, http, utc_now).deliver().sent == 12
    for request in receiver.received():
        assert len(request.signatures) == 2 and request.verified
        Webhook(new).verify(request.body, request.headers)
        Webhook(SECRET).verify(request.body, request.headers)
    # Once the overlap is over, only the new secret signs: the old one verifies nothing.
    Webhooks(store).rotate(endpoint.id, secret=new_secret(), now=utc_now() - timedelta(days=2))
    ping = Webhooks(store).ping(endpoint.id, at=stamp(utc_now()))
    attempt = sender(db_path, http, utc_now).send(ping.id)
    assert (attempt.succeeded, attempt.status) == (False, 400)
    assert len(receiver.received()[-1].signatures) == 1


def test_filters_exclude_what_they_should(
        store: Store, db_path: Path, http: httpx.Client, receiver: WebhookReceiver) -> None:
    with WebhookReceiver(secrets=[SECRET]) as bom, WebhookReceiver(
            secrets=[SECRET]) as power, WebhookReceiver(secrets=[SECRET]) as other:
        log_baseline(store)
        add(store, bom.url, utc_now, groups=["bom"], filters=Filters(
            exclude_designators=("C",)))
        add(store, power.url, utc_now, groups=["comments"],
            filters=Filters(include_documents=("power.*",)))
        add(store, other.url, utc_now, project_ids=["P-other"])
        add(store, receiver.url, utc_now, project_ids=["P1"])
        log_changes(store)
        assert sender(db_path, http, utc_now).deliver().sent == 12 + 2 + 2
        assert [(d["type"], d["data"]["designator"]) for d in bom.delivered()] == [
            ("part.replaced", "R1"), ("part.fitted_changed", "R2")]
        assert {(d["type"], d["data"]["thread"]["number"]) for d in power.delivered()} == {
            ("thread.deleted", 4), ("thread.opened", 5)}
        assert other.received() == []
        assert {d["type"] for d in receiver.delivered()} == EVERY_TYPE


def test_the_secret_never_appears_in_logs_errors_or_reports(
        store: Store, db_path: Path, http: httpx.Client, receiver: WebhookReceiver,
        near: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    broken = "whsec_" + "s3cr3"  # five characters: not base64
    [good, bad], _ = logged(store, near, receiver.url, receiver.url)
    Webhooks(store).rotate(bad.id, secret=broken, now=near())
    receiver.answer(Respond(status=500))
    reports = [sender(db_path, http, near).deliver()]
    after_back_off(store, near, good.id)
    receiver.refuse()
    reports.append(sender(db_path, http, near).deliver())
    assert reports[0].errors[bad.id].startswith("a signing secret of this endpoint")
    assert reports[1].errors[good.id] == "could not connect (Connection refused)"
    attempts = [a.error or "" for e in (good, bad) for a in Webhooks(store).attempts(e.id)]
    said = [caplog.text, *attempts, *(r.health_line() for r in reports),
            *(str(r.errors) for r in reports)]
    for secret in (SECRET, broken, "s3cr3"):
        assert not any(secret in text for text in said)
    assert "webhook" in caplog.text


def test_an_endpoint_failing_for_three_days_is_disabled(
        store: Store, db_path: Path, http: httpx.Client, receiver: WebhookReceiver,
        near: FakeClock) -> None:
    [endpoint], _ = logged(store, near, receiver.url)
    receiver.always(Respond(status=503))
    started = near()
    runs: list[WebhookReport] = []
    while Webhooks(store).get(endpoint.id).state == "enabled":
        runs.append(sender(db_path, http, near).deliver())
        assert len(runs) < 20
        if Webhooks(store).get(endpoint.id).state == "enabled":
            after_back_off(store, near, endpoint.id)
    disabled = Webhooks(store).get(endpoint.id)
    assert near() - started >= timedelta(days=3)
    assert disabled.failing_since == stamp(started)
    assert disabled.disabled_reason is not None and "3 days" in disabled.disabled_reason
    assert runs[-1].disabled == {endpoint.id: disabled.disabled_reason}
    assert all(r.failed == 1 and r.sent == 0 for r in runs)


def test_an_endpoint_another_process_is_sending_to_is_skipped(
        store: Store, db_path: Path, http: httpx.Client, receiver: WebhookReceiver) -> None:
    [endpoint], _ = logged(store, utc_now, receiver.url)
    other = Owner(id="someone-else", pid=1, host="ci-3", machine="elsewhere")
    Claims(store).take(endpoint_claim(endpoint.id), other, now=utc_now(),
                       lease=timedelta(minutes=2))
    report = sender(db_path, http, utc_now).deliver()
    assert report.sent == 0 and "pid 1 on host ci-3" in report.busy[endpoint.id]
    assert receiver.received() == []
    Claims(store).release(endpoint_claim(endpoint.id), other.id)
    assert sender(db_path, http, utc_now).deliver().sent == 12


def test_send_delivers_a_ping_now_whatever_the_back_off(
        store: Store, db_path: Path, http: httpx.Client, receiver: WebhookReceiver) -> None:
    [endpoint], _ = logged(store, utc_now, receiver.url)
    receiver.answer(Respond(status=500), Respond(status=500))
    sender(db_path, http, utc_now).deliver()
    backing_off = Webhooks(store).get(endpoint.id)
    # A failed hand-sent message is logged, but the runs' back-off stays as it was.
    failed = sender(db_path, http, utc_now).send(
        Webhooks(store).ping(endpoint.id, at=stamp(utc_now())).id)
    assert (failed.succeeded, failed.status) == (False, 500)
    assert Webhooks(store).get(endpoint.id) == backing_off
    ping = Webhooks(store).ping(endpoint.id, at=stamp(utc_now()))
    attempt = sender(db_path, http, utc_now).send(ping.id)
    assert attempt.succeeded and attempt.message_id == ping.id
    last: Received = receiver.received()[-1]
    assert last.webhook_id == ping.id and last.payload["type"] == "ping"
    validator().validate(last.payload)
    assert Webhooks(store).message(ping.id).state == "delivered"
    # A success proves the endpoint works again: its back-off is over.
    assert Webhooks(store).get(endpoint.id).retry_at is None
    receiver.always(Respond(status=410))
    gone = sender(db_path, http, utc_now).send(Webhooks(store).ping(
        endpoint.id, at=stamp(utc_now())).id)
    assert gone.status == 410 and Webhooks(store).get(endpoint.id).state == "disabled"


def test_a_message_that_cannot_be_rendered_is_set_aside_and_the_rest_go_on(
        store: Store, db_path: Path, http: httpx.Client, receiver: WebhookReceiver) -> None:
    [endpoint], events = logged(store, utc_now, receiver.url)
    lost = events[2]
    Outbox(store).plan(at=stamp(utc_now()))
    store.db.execute("delete from events where id = ?", [lost.id])  # owed, then gone
    report = sender(db_path, http, utc_now).deliver()
    assert (report.sent, report.set_aside, report.failed, report.pending) == (11, 1, 0, 0)
    assert [d["data"]["id"] for d in receiver.delivered()] == [
        s.id for s in events if s.id != lost.id]
    [failed] = Webhooks(store).attempts(endpoint.id, failed_only=True)
    assert failed.status is None and failed.error is not None
    assert "could not be rendered" in failed.error and str(lost.id) in failed.error
    assert "1 set aside" in report.health_line()
    assert sender(db_path, http, utc_now).deliver().set_aside == 0  # not tried every run
    message = Webhooks(store).resend(failed.message_id, at=stamp(utc_now()))
    assert message.state == "pending"
    with pytest.raises(WebhookError, match="could not be rendered"):
        sender(db_path, http, utc_now).send(message.id)
    assert len(receiver.received()) == 11


def test_in_a_long_running_bot_a_hanging_endpoint_holds_back_no_other_step(
        store: Store, db_path: Path, http: httpx.Client, receiver: WebhookReceiver) -> None:
    with WebhookReceiver(secrets=[SECRET]) as hanging:
        hanging.always(Respond(hang=60.0))
        [live, stuck], events = logged(store, utc_now, receiver.url, hanging.url)
        bot = sender(db_path, http, utc_now, deadline=8.0)
        started = time.monotonic()
        reports = [bot.tick()]  # starts both endpoints and returns at once
        assert time.monotonic() - started < 2.0 and reports[0].sent == 0
        hanging.wait_for(1, timeout=10)
        wait_for(lambda: reports.append(bot.tick()) or sum(r.sent for r in reports) == 12)
        later = store.save_snapshot(NEW, NEWER, diff(NEW, NEWER, at=LATER_AT),
                                    detected_at=LATER_AT)
        bot.tick()  # the live endpoint's next step, while the other one still hangs
        receiver.wait_for(13, timeout=5)
        assert time.monotonic() - started < 8.0  # before the hanging attempt's deadline
        assert [d["data"]["id"] for d in receiver.delivered()] == [
            *(s.id for s in events), *later]
        assert len(hanging.received()) == 1  # never started twice, never reported busy
        assert not any(r.busy for r in reports)
        assert bot.close(timeout=15)  # the hanging attempt ends at its deadline
    assert Webhooks(store).get(stuck.id).failures == 1
    assert Webhooks(store).get(live.id).failures == 0


def test_part_events_carry_the_kept_supply_facts_and_go_out_without_them_when_unreadable(
        store: Store, db_path: Path, http: httpx.Client, receiver: WebhookReceiver) -> None:
    [_], _ = logged(store, utc_now, receiver.url)
    key = PartKey(mpn="RC0603-Z", manufacturer="Yageo")
    Supply(store).keep([SupplyFacts(key=key, found=True, checked_at=stamp(utc_now()),
                                    lifecycle="EOL", stock=1_000_000)],
                       at=utc_now(), asked=1)
    bot = WebhookSender(db_path=db_path, http=http, clock=utc_now, rng=random.Random(1),
                        version="1.2.3", supply_thresholds=Thresholds(healthy=("EOL",)))
    assert bot.deliver().sent == 12
    by_type = {d["type"]: d["data"] for d in receiver.delivered()}
    assert by_type["part.replaced"]["supply"]["lifecycle"] == "EOL"
    assert by_type["part.replaced"]["supply"]["risks"] == [], "EOL counts as healthy here"
    assert by_type["part.added"]["supply"] is None and "supply" not in by_type["thread.opened"]
    store.db.execute("drop table supply_parts")
    added = Event(kind="part_added", project_id="P1", project="Motor Controller", at=LATER_AT,
                  variant="Default", designator="R7", new_mpn=key.mpn,
                  new_manufacturer=key.manufacturer)
    store.save_snapshot(NEW, NEW, [added], detected_at=LATER_AT)
    report = sender(db_path, http, utc_now).deliver()
    assert (report.sent, report.set_aside) == (1, 0)
    assert receiver.delivered()[-1]["data"]["supply"] is None
