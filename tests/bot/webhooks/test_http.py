"""One POST over real HTTP: answers, failures and faults all become outcomes in time."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from bot.webhooks.http import LIMIT, Outcome, post
from bot.webhooks.signing import headers
from sandbox import WebhookReceiver
from sandbox.webhooks import Respond
from tests.bot.webhooks.conftest import SECRET

BODY = '{"type":"ping","timestamp":"2026-11-28T09:00:00.000Z","data":{}}'



def send(http: httpx.Client, url: str, *, deadline: float = 15.0) -> tuple[Outcome, float]:
    signed = headers(message_id="msg_h", body=BODY, secrets=[SECRET], at=datetime.now(UTC))
    started = time.monotonic()
    outcome = post(http, url, body=BODY.encode(), headers=signed, deadline=deadline)
    for value in (url, SECRET, *signed.values()):
        assert value not in (outcome.error or "")
    return outcome, time.monotonic() - started


def test_a_2xx_is_a_success(http: httpx.Client, receiver: WebhookReceiver) -> None:
    outcome, _ = send(http, receiver.url)
    assert outcome.succeeded and (outcome.status, outcome.error) == (204, None)
    [request] = receiver.received()
    assert request.verified and request.headers["connection"] == "close"


def test_any_other_status_is_a_failure_and_410_says_gone(
        http: httpx.Client, receiver: WebhookReceiver) -> None:
    receiver.answer(Respond(status=500), Respond(status=410), Respond(status=404))
    outcomes = [send(http, receiver.url)[0] for _ in range(3)]
    assert [(o.status, o.succeeded, o.gone) for o in outcomes] == [
        (500, False, False), (410, False, True), (404, False, False)]
    assert outcomes[0].error == "HTTP 500"


def test_a_10_mb_answer_is_read_no_further_than_64_kb(
        http: httpx.Client, receiver: WebhookReceiver) -> None:
    receiver.always(Respond(body=b"x" * (10 * 1024 * 1024)))
    outcome, took = send(http, receiver.url)
    assert outcome.succeeded and outcome.read == LIMIT and took < 5


def test_a_redirect_is_a_failure_and_is_not_followed(
        http: httpx.Client, receiver: WebhookReceiver) -> None:
    with WebhookReceiver(secrets=[SECRET]) as elsewhere:
        receiver.always(Respond(status=307, location=elsewhere.url))
        outcome, _ = send(http, receiver.url)
        assert (outcome.status, outcome.succeeded) == (307, False)
        assert outcome.error is not None and "redirect" in outcome.error
        assert elsewhere.received() == [] and len(receiver.received()) == 1


def test_a_receiver_that_never_answers_is_cut_at_the_deadline(
        http: httpx.Client, receiver: WebhookReceiver) -> None:
    receiver.always(Respond(hang=60.0))
    outcome, took = send(http, receiver.url, deadline=1.0)
    assert (outcome.status, outcome.error) == (None, "no answer within 1 s")
    assert 0.9 < took < 2.5


def test_a_trickled_body_is_cut_at_the_deadline_after_the_answer(
        http: httpx.Client, receiver: WebhookReceiver) -> None:
    receiver.always(Respond(trickle=60))
    outcome, took = send(http, receiver.url, deadline=2.0)
    assert outcome.succeeded and outcome.status == 200 and outcome.read < 5
    assert 1.9 < took < 3.5


@pytest.fixture
def trickled_headers() -> Iterator[str]:
    """A server that reads a request, then sends its status line a byte every 0.2 s."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 500:
                if stop.wait(0.2):
                    return
                try:
                    connection.send(bytes([byte]))
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/hooks"
    stop.set()
    listener.close()
    thread.join(5)


def test_headers_trickled_to_keep_each_read_alive_are_cut_at_the_deadline(
        http: httpx.Client, trickled_headers: str) -> None:
    outcome, took = send(http, trickled_headers, deadline=1.5)
    assert (outcome.status, outcome.error) == (None, "no answer within 1.5 s")
    assert 1.4 < took < 3


def test_a_refused_connection_says_so(http: httpx.Client, receiver: WebhookReceiver) -> None:
    receiver.refuse()
    outcome, _ = send(http, receiver.url)
    assert outcome.status is None and outcome.error == "could not connect (Connection refused)"


@pytest.mark.parametrize("url", ["ftp://files.example/hooks", "https:///hooks", "http://[::1"])
def test_a_url_that_cannot_be_sent_to_is_an_outcome_too(http: httpx.Client, url: str) -> None:
    outcome, _ = send(http, url)
    assert (outcome.status, outcome.error) == (
        None, "the URL is not a complete http:// or https:// address")
