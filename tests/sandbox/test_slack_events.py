"""The Slack sandbox sends the app Events API events as Slack does, and retries them.

Over HTTP a small receiver here checks every request with slack_sdk's ``SignatureVerifier``
(what bolt checks); in Socket Mode slack_sdk's own ``SocketModeClient`` connects, as the
bot's Socket Mode handler does. People act through the sandbox (``post_as``, ``edit_as``,
``react_as``); the bot posts and reacts through slack_sdk's ``WebClient``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from sandbox.slack import SentEvent, SlackError, SlackSandbox
from tests.conftest import wait_for

ALICE = "alice.nguyen"
BOB = "bob.schmidt"
CARLA = "carla.rossi"
FAST = (0.05, 0.1, 0.15)


@dataclass(frozen=True)
class Answer:
    """What the receiver answers one request: a status, after ``hang`` seconds."""

    status: int = 200
    hang: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Got:
    """One request the receiver took: its headers, JSON body and whether it verified."""

    headers: dict[str, str]
    body: dict[str, Any]
    verified: bool


class Receiver:
    """An app's ``/slack/events`` endpoint on 127.0.0.1 that verifies Slack's signature."""

    def __init__(self, secret: str) -> None:
        self.verifier = SignatureVerifier(secret)
        self.got: list[Got] = []
        self.script: list[Answer] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                verified = receiver.verifier.is_valid_request(raw, headers)
                with receiver.lock:
                    receiver.got.append(Got(headers, json.loads(raw), verified))
                    answer = receiver.script.pop(0) if receiver.script else Answer()
                time.sleep(answer.hang)
                status = answer.status if verified else 401
                self.send_response(status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/slack/events"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def app(slack: SlackSandbox) -> Iterator[Receiver]:
    """The app over HTTP: subscribed to public and private channel messages, fast retries."""
    receiver = Receiver(slack.signing_secret)
    slack.event_url = receiver.url
    slack.event_retry_delays = FAST
    slack.event_timeout = 0.5
    slack.subscribe_events({"message.channels", "message.groups"})
    try:
        yield receiver
    finally:
        slack.stop()
        receiver.close()


@pytest.fixture
def web(slack: SlackSandbox) -> WebClient:
    return WebClient(token=slack.bot_token, base_url=slack.api_url)


def card(web: WebClient, channel: str = "#design-review") -> dict[str, Any]:
    """A bot message to reply under, as a thread card is."""
    posted = web.chat_postMessage(channel=channel, text="Thread on U3: R12 footprint")
    return {"channel": posted["channel"], "ts": posted["ts"]}


def of_person(events: list[SentEvent]) -> list[SentEvent]:
    return [sent for sent in events if "bot_id" not in sent.event]


def error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(SlackApiError) as raised:
        call()
    response: dict[str, Any] = raised.value.response.data
    return response


# --- what Slack sends -------------------------------------------------------------------


def test_a_reply_in_a_thread_reaches_the_app_signed_like_slack(
        slack: SlackSandbox, app: Receiver, web: WebClient) -> None:
    parent = card(web)
    alice = slack.user(ALICE).id
    ts = slack.post_as(ALICE, "#design-review", "R12 &amp; R13 swapped <@U0BOB>",
                       thread_ts=parent["ts"])
    sent = slack.wait_for_events(timeout=5)
    assert [s.delivered for s in sent] == [True, True]
    own, reply = sent
    assert own.event["bot_id"] == slack.bot_id and own.event["user"] == slack.bot_user_id
    assert own.event["app_id"] == slack.app_id and "subtype" not in own.event
    event = reply.event
    assert event["type"] == "message" and "subtype" not in event
    assert event["user"] == alice and event["text"] == "R12 &amp; R13 swapped <@U0BOB>"
    assert event["ts"] == event["event_ts"] == ts and event["thread_ts"] == parent["ts"]
    assert event["parent_user_id"] == slack.bot_user_id
    assert event["channel"] == parent["channel"] and event["channel_type"] == "channel"
    assert event["team"] == slack.team_id and event["client_msg_id"]
    assert "blocks" not in event and "bot_id" not in event
    body = reply.body
    assert body["type"] == "event_callback" and body["event_id"].startswith("Ev")
    assert body["team_id"] == slack.team_id and body["api_app_id"] == slack.app_id
    assert body["token"] == slack.verification_token
    assert body["authorizations"][0]["user_id"] == slack.bot_user_id
    assert [got.verified for got in app.got] == [True, True]
    assert app.got[1].body == body
    headers = app.got[1].headers
    assert headers["content-type"] == "application/json"
    assert abs(int(headers["x-slack-request-timestamp"]) - time.time()) < 60
    assert headers["x-slack-signature"].startswith("v0=")
    assert "x-slack-retry-num" not in headers
    thread = web.conversations_replies(channel=parent["channel"], ts=parent["ts"])
    assert [m["ts"] for m in thread["messages"]] == [parent["ts"], ts]
    assert [a.retry_num for a in reply.attempts] == [0] and reply.attempts[0].status == 200


def test_blocks_files_and_a_broadcast_reply_come_as_slack_sends_them(
        slack: SlackSandbox, app: Receiver, web: WebClient) -> None:
    parent = card(web)
    blocks = [{"type": "rich_text", "block_id": "x1", "elements": [
        {"type": "rich_text_section", "elements": [{"type": "text", "text": "looks good"}]}]}]
    slack.post_as(ALICE, "#design-review", "looks good", thread_ts=parent["ts"], blocks=blocks)
    slack.post_as(BOB, "#design-review", "see the scan", thread_ts=parent["ts"],
                  files=["scan.pdf"])
    slack.post_as(BOB, "#design-review", "everyone look", thread_ts=parent["ts"],
                  broadcast=True)
    rich, shared, broadcast = (s.event for s in of_person(slack.wait_for_events(timeout=5)))
    assert rich["blocks"] == blocks and "subtype" not in rich
    assert shared["subtype"] == "file_share" and shared["upload"] is False
    [file] = shared["files"]
    assert file["name"] == "scan.pdf" and file["permalink"].startswith("https://")
    assert file["url_private"].endswith("/scan.pdf")
    assert broadcast["subtype"] == "thread_broadcast"
    assert broadcast["thread_ts"] == parent["ts"]
    history = web.conversations_history(channel=parent["channel"])["messages"]
    assert history[0]["text"] == "everyone look"


def test_an_edit_is_message_changed_with_the_previous_message(
        slack: SlackSandbox, app: Receiver, web: WebClient) -> None:
    parent = card(web)
    ts = slack.post_as(ALICE, "#design-review", "use 10k", thread_ts=parent["ts"])
    slack.edit_as(ALICE, "#design-review", ts, "use 12k")
    changed = of_person(slack.wait_for_events(timeout=5))[-1].event
    assert changed["type"] == "message" and changed["subtype"] == "message_changed"
    assert changed["hidden"] is True and changed["channel"] == parent["channel"]
    assert changed["ts"] == changed["event_ts"] != ts
    assert changed["channel_type"] == "channel"
    new, old = changed["message"], changed["previous_message"]
    assert new["ts"] == old["ts"] == ts and new["thread_ts"] == parent["ts"]
    assert new["text"] == "use 12k" and old["text"] == "use 10k"
    assert new["edited"] == {"user": slack.user(ALICE).id, "ts": changed["ts"]}
    assert "edited" not in old and new["user"] == slack.user(ALICE).id
    assert slack.replies("#design-review", parent["ts"])[0].text == "use 12k"
    with pytest.raises(SlackError, match="cant_update_message"):
        slack.edit_as(BOB, "#design-review", ts, "mine now")
    with pytest.raises(SlackError, match="message_not_found"):
        slack.edit_as(ALICE, "#design-review", "1.000001", "x")


def test_the_bots_own_edit_comes_with_its_bot_id(
        slack: SlackSandbox, app: Receiver, web: WebClient) -> None:
    parent = card(web)
    web.chat_update(channel=parent["channel"], ts=parent["ts"], text="Thread on U3 (resolved)")
    changed = slack.wait_for_events(timeout=5)[-1].event
    assert changed["subtype"] == "message_changed"
    assert changed["message"]["bot_id"] == slack.bot_id
    assert changed["previous_message"]["text"] == "Thread on U3: R12 footprint"


def test_events_come_only_as_subscribed_and_where_the_bot_is(
        slack: SlackSandbox, app: Receiver, web: WebClient) -> None:
    slack.subscribe_events({"message.channels"})
    slack.post_as(ALICE, "#leads", "private words")
    slack.post_as(ALICE, "#general", "the bot is not here")
    slack.kick_bot("#hw-review")
    slack.post_as(ALICE, "#hw-review", "nor here any more")
    assert slack.wait_for_events(timeout=5) == []
    slack.subscribe_events({"message.groups"})
    slack.post_as(BOB, "#leads", "now heard")
    slack.post_as(BOB, "#design-review", "public, not subscribed")
    [heard] = slack.wait_for_events(timeout=5)
    assert heard.event["text"] == "now heard" and heard.event["channel_type"] == "group"
    slack.subscribe_events(set())
    slack.post_as(BOB, "#leads", "nobody listens")
    assert len(slack.wait_for_events(timeout=5)) == 1


def test_a_subscription_needs_its_scope_and_a_known_name(slack: SlackSandbox) -> None:
    with pytest.raises(ValueError, match="unknown bot event"):
        slack.subscribe_events({"message.everything"})
    slack.set_scopes(slack.scopes - {"groups:history"})
    with pytest.raises(ValueError, match="groups:history"):
        slack.subscribe_events({"message.groups"})
    slack.subscribe_events({"message.channels"})
    assert slack.subscriptions == {"message.channels"}


def test_a_person_posts_only_where_they_can(slack: SlackSandbox) -> None:
    with pytest.raises(SlackError, match="not_in_channel"):
        slack.post_as(CARLA, "#leads", "let me in")
    with pytest.raises(SlackError, match="is_archived"):
        slack.post_as(ALICE, "#old-project", "anyone?")
    with pytest.raises(SlackError, match="thread_not_found"):
        slack.post_as(ALICE, "#design-review", "reply", thread_ts="1.000001")


def test_a_mention_of_the_bot_is_also_an_app_mention(
        slack: SlackSandbox, app: Receiver) -> None:
    slack.subscribe_events({"message.channels", "app_mention"})
    ts = slack.post_as(ALICE, "#design-review", f"<@{slack.bot_user_id}> status")
    message, mention = (s.event for s in slack.wait_for_events(timeout=5))
    assert message["type"] == "message"
    assert mention["type"] == "app_mention" and mention["ts"] == ts
    assert mention["text"] == f"<@{slack.bot_user_id}> status"
    assert mention["channel"] == slack.channel_id("#design-review")


# --- retries over HTTP ------------------------------------------------------------------


def test_an_error_answer_is_retried_with_the_same_event_id(
        slack: SlackSandbox, app: Receiver) -> None:
    app.script = [Answer(500), Answer(503)]
    slack.post_as(ALICE, "#design-review", "hello")
    [sent] = slack.wait_for_events(timeout=5)
    assert sent.delivered and [a.outcome for a in sent.attempts] == [
        "http_error", "http_error", "ok"]
    assert [a.status for a in sent.attempts] == [500, 503, 200]
    assert {got.body["event_id"] for got in app.got} == {sent.event_id}
    assert [got.headers.get("x-slack-retry-num") for got in app.got] == [None, "1", "2"]
    assert [got.headers.get("x-slack-retry-reason") for got in app.got] == [
        None, "http_error", "http_error"]
    assert all(got.verified for got in app.got)


def test_no_answer_within_the_timeout_is_an_http_timeout(
        slack: SlackSandbox, app: Receiver) -> None:
    slack.event_timeout = 0.2
    app.script = [Answer(hang=0.6)]
    slack.post_as(ALICE, "#design-review", "slow app")
    [sent] = slack.wait_for_events(timeout=5)
    assert [a.outcome for a in sent.attempts] == ["http_timeout", "ok"]
    wait_for(lambda: len(app.got) == 2, timeout=5)
    assert app.got[1].headers["x-slack-retry-reason"] == "http_timeout"


def test_slack_gives_up_after_three_retries(slack: SlackSandbox, app: Receiver) -> None:
    app.script = [Answer(500)] * 4
    slack.post_as(ALICE, "#design-review", "never taken")
    [sent] = slack.wait_for_events(timeout=5)
    assert sent.finished and not sent.delivered
    assert [a.retry_num for a in sent.attempts] == [0, 1, 2, 3]
    assert [got.headers.get("x-slack-retry-num") for got in app.got] == [None, "1", "2", "3"]


def test_a_lost_answer_makes_slack_send_the_event_again(
        slack: SlackSandbox, app: Receiver) -> None:
    slack.faults.lose_event_answer(times=3)
    slack.post_as(ALICE, "#design-review", "said once")
    [sent] = slack.wait_for_events(timeout=5)
    assert [a.outcome for a in sent.attempts] == ["lost", "lost", "lost", "ok"]
    assert [a.status for a in sent.attempts] == [200] * 4
    assert [got.body["event_id"] for got in app.got] == [sent.event_id] * 4
    assert [got.headers.get("x-slack-retry-reason") for got in app.got] == [
        None, "http_timeout", "http_timeout", "http_timeout"]


def test_x_slack_no_retry_stops_the_retries(slack: SlackSandbox, app: Receiver) -> None:
    app.script = [Answer(500, headers={"X-Slack-No-Retry": "1"})]
    slack.post_as(ALICE, "#design-review", "do not retry")
    [sent] = slack.wait_for_events(timeout=5)
    assert sent.finished and [a.outcome for a in sent.attempts] == ["http_error"]


def test_a_wrong_signing_secret_is_refused_by_the_app(
        slack: SlackSandbox, app: Receiver) -> None:
    slack.signing_secret = "not-the-apps-secret"
    slack.post_as(ALICE, "#design-review", "forged?")
    [sent] = slack.wait_for_events(timeout=5)
    assert not sent.delivered and {a.status for a in sent.attempts} == {401}
    assert not any(got.verified for got in app.got)


def test_an_app_that_is_not_listening_is_connection_failed(slack: SlackSandbox) -> None:
    receiver = Receiver(slack.signing_secret)
    url = receiver.url
    receiver.close()
    slack.event_url = url
    slack.event_retry_delays = FAST
    slack.subscribe_events({"message.channels"})
    slack.post_as(ALICE, "#design-review", "anyone?")
    [sent] = slack.wait_for_events(timeout=5)
    assert {a.outcome for a in sent.attempts} == {"connection_failed"}
    assert len(sent.attempts) == 4


# --- Socket Mode ------------------------------------------------------------------------


class SocketApp:
    """slack_sdk's Socket Mode client, acking envelopes unless told to skip some."""

    def __init__(self, slack: SlackSandbox, *, skip: int = 0) -> None:
        self.skip = skip
        self.requests: list[SocketModeRequest] = []
        web = WebClient(token=slack.bot_token, base_url=slack.api_url)
        self.client = SocketModeClient(app_token=slack.app_token, web_client=web,
                                       auto_reconnect_enabled=False, ping_interval=0.5)
        self.client.socket_mode_request_listeners.append(self._on_request)
        self.client.connect()
        slack.wait_for_socket(timeout=10)

    def _on_request(self, client: SocketModeClient, request: SocketModeRequest) -> None:
        self.requests.append(request)
        if self.skip:
            self.skip -= 1
            return
        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def socket_slack(slack: SlackSandbox) -> Iterator[SlackSandbox]:
    slack.event_retry_delays = FAST
    slack.event_timeout = 0.5
    slack.subscribe_events({"message.channels"})
    try:
        yield slack
    finally:
        slack.stop()


def test_socket_mode_gets_the_reply_as_an_events_api_envelope(
        socket_slack: SlackSandbox, web: WebClient) -> None:
    slack = socket_slack
    app = SocketApp(slack)
    try:
        parent = card(web)
        ts = slack.post_as(ALICE, "#design-review", "from the thread", thread_ts=parent["ts"])
        sent = slack.wait_for_events(timeout=5)
        assert [s.mode for s in sent] == ["socket", "socket"] and all(
            s.delivered for s in sent)
        wait_for(lambda: len(app.requests) == 2, timeout=5)
        request = app.requests[1]
        assert request.type == "events_api" and request.retry_attempt == 0
        event = request.payload["event"]
        assert event["ts"] == ts and event["thread_ts"] == parent["ts"]
        assert request.payload["event_id"] == sent[1].event_id
        assert sent[1].attempts[0].envelope_id == request.envelope_id
    finally:
        app.close()


def test_socket_mode_redelivers_an_unacked_envelope(socket_slack: SlackSandbox) -> None:
    slack = socket_slack
    app = SocketApp(slack, skip=2)
    try:
        slack.post_as(ALICE, "#design-review", "ack me eventually")
        [sent] = slack.wait_for_events(timeout=10)
        assert [a.outcome for a in sent.attempts] == ["not_acked", "not_acked", "ok"]
        wait_for(lambda: len(app.requests) == 3, timeout=5)
        assert [r.retry_attempt for r in app.requests] == [0, 1, 2]
        assert [r.retry_reason for r in app.requests] == ["", "timeout", "timeout"]
        assert {r.payload["event_id"] for r in app.requests} == {sent.event_id}
        assert len({r.envelope_id for r in app.requests}) == 3
    finally:
        app.close()


def test_socket_mode_resends_when_the_ack_is_lost(socket_slack: SlackSandbox) -> None:
    slack = socket_slack
    app = SocketApp(slack)
    try:
        slack.faults.lose_event_answer(times=1)
        slack.post_as(ALICE, "#design-review", "twice over the socket")
        [sent] = slack.wait_for_events(timeout=10)
        assert [a.outcome for a in sent.attempts] == ["lost", "ok"]
        wait_for(lambda: len(app.requests) == 2, timeout=5)
        assert app.requests[1].retry_attempt == 1
        assert app.requests[0].payload == app.requests[1].payload
    finally:
        app.close()


def test_without_a_socket_client_slack_retries_then_gives_up(
        socket_slack: SlackSandbox) -> None:
    socket_slack.post_as(ALICE, "#design-review", "nobody connected")
    [sent] = socket_slack.wait_for_events(timeout=5)
    assert {a.outcome for a in sent.attempts} == {"no_connection"} and len(sent.attempts) == 4


# --- reactions --------------------------------------------------------------------------


def test_the_bot_reacts_to_a_reply_and_reactions_get_shows_it(
        slack: SlackSandbox, web: WebClient) -> None:
    parent = card(web)
    ts = slack.post_as(ALICE, "#design-review", "done", thread_ts=parent["ts"])
    assert web.reactions_add(channel=parent["channel"], timestamp=ts,
                             name="white_check_mark")["ok"]
    assert slack.reactions("#design-review", ts) == {"white_check_mark": [slack.bot_user_id]}
    thread = web.conversations_replies(channel=parent["channel"], ts=parent["ts"])["messages"]
    assert thread[1]["reactions"] == [
        {"name": "white_check_mark", "users": [slack.bot_user_id], "count": 1}]
    refused = error_of(lambda: web.reactions_get(channel=parent["channel"], timestamp=ts))
    assert refused["error"] == "missing_scope" and refused["needed"] == "reactions:read"
    slack.set_scopes(slack.scopes | {"reactions:read"})
    got = web.reactions_get(channel=parent["channel"], timestamp=ts)
    assert got["type"] == "message" and got["channel"] == parent["channel"]
    assert got["message"]["reactions"][0]["name"] == "white_check_mark"
    slack.react_as(ALICE, "#design-review", ts, "white_check_mark")
    assert slack.reactions("#design-review", ts)["white_check_mark"] == [
        slack.bot_user_id, slack.user(ALICE).id]


def test_reactions_add_answers_slacks_errors(slack: SlackSandbox, web: WebClient) -> None:
    parent = card(web)
    channel = parent["channel"]
    ts = slack.post_as(ALICE, "#design-review", "ok")
    web.reactions_add(channel=channel, timestamp=ts, name="eyes")

    def error(**args: str) -> str:
        return str(error_of(lambda: web.reactions_add(**args))["error"])

    assert error(channel=channel, timestamp=ts, name="eyes") == "already_reacted"
    assert error(channel=channel, timestamp="1.000001", name="eyes") == "message_not_found"
    assert error(channel="C0NOTHERE", timestamp=ts, name="eyes") == "channel_not_found"
    assert error(channel=channel, timestamp=ts, name=":tada:") == "invalid_name"
    assert error(channel=channel, timestamp=ts, name="no_such_emoji_here") == "invalid_name"
    web.reactions_add(channel=channel, timestamp=ts, name="thumbsup::skin-tone-3")
    slack.add_emoji("altium")
    web.reactions_add(channel=channel, timestamp=ts, name="altium")
    slack.kick_bot("#design-review")
    assert error(channel=channel, timestamp=ts, name="tada") == "not_in_channel"
    slack.set_scopes(slack.scopes - {"reactions:write"})
    missing = error_of(lambda: web.reactions_add(channel=channel, timestamp=ts, name="tada"))
    assert missing["error"] == "missing_scope" and missing["needed"] == "reactions:write"
    assert "chat:write" in missing["provided"].split(",")


def test_a_reaction_is_a_reaction_added_event(slack: SlackSandbox, app: Receiver,
                                              web: WebClient) -> None:
    slack.set_scopes(slack.scopes | {"reactions:read"})
    slack.subscribe_events({"reaction_added"})
    parent = card(web)
    slack.react_as(ALICE, "#design-review", parent["ts"], "eyes")
    [sent] = slack.wait_for_events(timeout=5)
    assert sent.event["type"] == "reaction_added" and sent.event["reaction"] == "eyes"
    assert sent.event["item"] == {"type": "message", "channel": parent["channel"],
                                  "ts": parent["ts"]}
    assert sent.event["item_user"] == slack.bot_user_id
