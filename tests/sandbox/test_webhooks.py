"""The local webhook receiver: strict checks, the request log, scripted answers and faults."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from sandbox import WebhookReceiver
from sandbox.webhooks import Respond

PAYLOAD = {"type": "thread.opened", "timestamp": "2026-11-28T09:00:00Z", "data": {"id": "t1"}}


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


SECRET = new_secret()


def signed(
    payload: Any = PAYLOAD,
    *secrets: str,
    webhook_id: str = "msg_1",
    when: datetime | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A body and the headers a Standard Webhooks sender gives it, signed with each secret."""
    body = json.dumps(payload).encode()
    when = when or datetime.now(UTC)
    signatures = [Webhook(s).sign(webhook_id, when, body.decode()) for s in secrets or [SECRET]]
    return body, {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": " ".join(signatures),
        "Content-Type": "application/json",
    }


def post(receiver: WebhookReceiver, *secrets: str, **options: Any) -> httpx.Response:
    body, headers = signed(PAYLOAD, *secrets, **options)
    return httpx.post(receiver.url, content=body, headers=headers, timeout=10)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(secrets=[SECRET]) as server:
        yield server


def test_a_signed_json_post_is_verified_recorded_and_delivered(receiver: WebhookReceiver) -> None:
    before = time.monotonic()
    response = post(receiver, webhook_id="msg_42")
    assert response.status_code == 204
    [received] = receiver.received()
    assert received.method == "POST" and received.path == "/hooks"
    assert received.verified and received.status == 204 and received.error is None
    assert received.payload == PAYLOAD and json.loads(received.body) == PAYLOAD
    assert received.headers["webhook-id"] == received.webhook_id == "msg_42"
    assert received.headers["content-type"] == "application/json"
    assert len(received.signatures) == 1 and received.signatures[0].startswith("v1,")
    assert before <= received.at <= time.monotonic()
    assert receiver.delivered() == [PAYLOAD]
    assert receiver.url.startswith("http://127.0.0.1:") and receiver.url.endswith("/hooks")


def test_a_bad_signature_is_answered_400_and_recorded_unverified(
    receiver: WebhookReceiver,
) -> None:
    assert post(receiver, new_secret()).status_code == 400
    body, headers = signed()
    tampered = body.replace(b"t1", b"t2")
    assert httpx.post(receiver.url, content=tampered, headers=headers).status_code == 400
    assert [r.status for r in receiver.received()] == [400, 400]
    assert not any(r.verified for r in receiver.received())
    assert receiver.received()[0].error == "no signature verifies with an accepted secret"
    assert receiver.delivered() == []


def test_a_stale_timestamp_does_not_verify(receiver: WebhookReceiver) -> None:
    stale = datetime.now(UTC) - timedelta(minutes=6)
    assert post(receiver, when=stale).status_code == 400
    assert not receiver.received()[0].verified


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_each_webhook_header_is_required(receiver: WebhookReceiver, missing: str) -> None:
    body, headers = signed()
    del headers[missing]
    response = httpx.post(receiver.url, content=body, headers=headers)
    assert response.status_code == 400 and missing in response.text
    [received] = receiver.received()
    assert not received.verified and received.error == f"missing headers: {missing}"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_application_json_is_refused(
    receiver: WebhookReceiver, content_type: str
) -> None:
    body, headers = signed()
    headers["Content-Type"] = content_type
    assert httpx.post(receiver.url, content=body, headers=headers).status_code == 400
    [received] = receiver.received()
    assert not received.verified and received.payload == PAYLOAD


def test_a_charset_parameter_is_still_json(receiver: WebhookReceiver) -> None:
    body, headers = signed()
    headers["Content-Type"] = "application/json; charset=utf-8"
    assert httpx.post(receiver.url, content=body, headers=headers).status_code == 204


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_only_post_is_accepted(receiver: WebhookReceiver, method: str) -> None:
    body, headers = signed()
    response = httpx.request(method, receiver.url, content=body, headers=headers)
    assert response.status_code == 400
    [received] = receiver.received()
    assert received.method == method and not received.verified


def test_a_chunked_body_is_read_whole(receiver: WebhookReceiver) -> None:
    body, headers = signed()
    halves = iter([body[:10], body[10:]])
    response = httpx.post(receiver.url, content=halves, headers=headers)
    assert response.status_code == 204
    assert receiver.received()[0].headers["transfer-encoding"] == "chunked"
    assert receiver.delivered() == [PAYLOAD]


def test_scripted_answers_come_in_order_then_the_default(receiver: WebhookReceiver) -> None:
    receiver.answer(Respond(status=500), Respond(status=410))
    receiver.answer(Respond(body=b'{"ok": true}', content_type="application/json"))
    with httpx.Client(timeout=10) as client:
        answers = []
        for number in range(5):
            body, headers = signed(webhook_id=f"msg_{number}")
            answers.append(client.post(receiver.url, content=body, headers=headers))
    assert [a.status_code for a in answers] == [500, 410, 200, 204, 204]
    assert answers[2].json() == {"ok": True}
    assert [r.status for r in receiver.received()] == [500, 410, 200, 204, 204]
    assert len(receiver.delivered()) == 3


def test_always_sets_the_default_answer(receiver: WebhookReceiver) -> None:
    receiver.always(Respond(status=503))
    receiver.answer(Respond(status=200))
    assert [post(receiver).status_code for _ in range(3)] == [200, 503, 503]


def test_a_bad_request_does_not_use_up_the_script(receiver: WebhookReceiver) -> None:
    receiver.answer(Respond(status=500))
    assert post(receiver, new_secret()).status_code == 400
    assert post(receiver).status_code == 500


def test_a_redirect_carries_its_location_and_is_not_followed(receiver: WebhookReceiver) -> None:
    elsewhere = receiver.url + "/elsewhere"
    receiver.answer(Respond(status=302, location=elsewhere))
    response = post(receiver)
    assert response.status_code == 302 and response.headers["location"] == elsewhere
    assert len(receiver.received()) == 1 and receiver.received()[0].status == 302


def test_a_large_body_is_sent_whole_or_cut_off_by_the_client(receiver: WebhookReceiver) -> None:
    big = b"x" * (10 * 1024 * 1024)
    receiver.answer(Respond(body=big), Respond(body=big))
    assert len(post(receiver).content) == len(big)
    body, headers = signed()
    with (
        httpx.Client(timeout=10) as client,
        client.stream("POST", receiver.url, content=body, headers=headers) as response,
    ):
        assert response.headers["content-length"] == str(len(big))
        read = 0
        for chunk in response.iter_raw(chunk_size=16 * 1024):
            read += len(chunk)
            if read >= 64 * 1024:
                break
    assert post(receiver).status_code == 204
    assert [r.status for r in receiver.received()] == [200, 200, 204]


def _post_in_thread(receiver: WebhookReceiver) -> tuple[threading.Thread, list[object]]:
    """POST a good webhook from another thread; the list gets its response or error."""
    outcome: list[object] = []
    body, headers = signed()

    def send() -> None:
        try:
            outcome.append(httpx.post(receiver.url, content=body, headers=headers, timeout=30))
        except httpx.HTTPError as error:
            outcome.append(error)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread, outcome


def test_a_hang_answers_nothing_and_closing_releases_it_at_once() -> None:
    receiver = WebhookReceiver(secrets=[SECRET]).start()
    receiver.answer(Respond(hang=60.0))
    thread, outcome = _post_in_thread(receiver)
    [received] = receiver.wait_for(1, timeout=5)
    assert received.status == 0 and received.payload == PAYLOAD
    assert not outcome
    started = time.monotonic()
    receiver.close()
    thread.join(timeout=5)
    assert time.monotonic() - started < 1.0
    assert isinstance(outcome[0], httpx.TransportError)
    assert receiver.delivered() == []


def test_a_hang_that_runs_out_hangs_up_and_the_next_request_is_answered(
    receiver: WebhookReceiver,
) -> None:
    receiver.answer(Respond(hang=0.2))
    with pytest.raises(httpx.TransportError):
        post(receiver)
    assert post(receiver).status_code == 204
    assert [r.status for r in receiver.received()] == [0, 204]


def test_a_trickle_sends_a_byte_a_second(receiver: WebhookReceiver) -> None:
    receiver.answer(Respond(trickle=2))
    started = time.monotonic()
    response = post(receiver)
    assert response.status_code == 200 and response.content == b".."
    assert 1.8 <= time.monotonic() - started < 5


def test_closing_cuts_a_trickle_short() -> None:
    receiver = WebhookReceiver(secrets=[SECRET]).start()
    receiver.answer(Respond(trickle=60))
    thread, outcome = _post_in_thread(receiver)
    receiver.wait_for(1, timeout=5)
    started = time.monotonic()
    receiver.close()
    thread.join(timeout=5)
    assert time.monotonic() - started < 1.0
    assert isinstance(outcome[0], httpx.TransportError)


def test_refuse_closes_the_port_so_connections_are_refused(receiver: WebhookReceiver) -> None:
    url = receiver.url
    assert post(receiver).status_code == 204
    receiver.refuse()
    assert receiver.url == url and not receiver.running
    with pytest.raises(httpx.ConnectError):
        post(receiver)
    assert len(receiver.received()) == 1


def test_a_second_secret_after_rotation_verifies_and_both_signatures_are_seen(
    receiver: WebhookReceiver,
) -> None:
    rotated = new_secret()
    assert post(receiver, rotated).status_code == 400
    receiver.secrets = [SECRET, rotated]
    assert receiver.secrets == (SECRET, rotated)
    assert post(receiver, rotated).status_code == 204
    assert post(receiver, SECRET, rotated).status_code == 204
    receiver.secrets = [rotated]
    assert post(receiver, SECRET).status_code == 400
    assert [r.verified for r in receiver.received()] == [False, True, True, False]
    assert len(receiver.received()[2].signatures) == 2


def test_secrets_are_checked_when_set() -> None:
    with pytest.raises(TypeError):
        WebhookReceiver(secrets=SECRET)
    with pytest.raises(ValueError, match="signing secret"):
        WebhookReceiver(secrets=["whsec_"])
    with pytest.raises(ValueError, match="signing secret"):
        WebhookReceiver(secrets=["whsec_not*base64"])


def test_wait_for_returns_once_enough_requests_arrived(receiver: WebhookReceiver) -> None:
    threads = [_post_in_thread(receiver)[0] for _ in range(8)]
    received = receiver.wait_for(8, timeout=10)
    assert len(received) >= 8
    for thread in threads:
        thread.join(timeout=10)
    assert len(receiver.delivered()) == 8


def test_wait_for_times_out_with_what_arrived(receiver: WebhookReceiver) -> None:
    post(receiver)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="1 of 2 webhook requests"):
        receiver.wait_for(2, timeout=0.2)
    assert time.monotonic() - started < 2


def test_respond_picks_its_status_and_refuses_nonsense() -> None:
    assert Respond().code == 204
    assert Respond(body=b"x").code == 200
    assert Respond(trickle=3).code == 200
    assert Respond(status=503).code == 503
    with pytest.raises(ValueError):
        Respond(status=204, body=b"x")
    with pytest.raises(ValueError):
        Respond(hang=1.0, body=b"x")
    with pytest.raises(ValueError):
        Respond(status=99)
