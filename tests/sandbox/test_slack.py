"""The Slack sandbox over real HTTP, driven by slack_sdk's own WebClient.

Every call goes through ``WebClient(token=..., base_url=sb.api_url)`` as the bot's does, so
what passes here is what slack_sdk sends and how it reads Slack's answers (errors, 429s,
retry handlers) — not a hand-rolled client's idea of them.
"""

from __future__ import annotations

import json
import re
import time
import types
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    FixedValueRetryIntervalCalculator,
    RateLimitErrorRetryHandler,
    builtin_handlers,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from sandbox.slack import SlackSandbox, render_channel, render_message
from sandbox.slack.render import mrkdwn
from tests.conftest import FakeClock

TS = re.compile(r"^\d{10}\.\d{6}$")
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{8,10}$")
ALICE = "alice.nguyen@acme-robotics.example"


@pytest.fixture
def sb(clock: FakeClock) -> Iterator[SlackSandbox]:
    with SlackSandbox(clock=clock) as sandbox:
        yield sandbox


@pytest.fixture
def client(sb: SlackSandbox) -> WebClient:
    return WebClient(token=sb.bot_token, base_url=sb.api_url, retry_handlers=[], timeout=5)


def error_of(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as caught:
        call()
    return caught.value


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


# --- workspace and auth ---------------------------------------------------------------


def test_seeded_workspace(sb: SlackSandbox, client: WebClient) -> None:
    auth = client.auth_test()
    assert auth["user_id"] == sb.bot_user_id and auth["team_id"] == sb.team_id
    assert auth["bot_id"].startswith("B") and auth["url"] == "https://acme-robotics.slack.com/"
    assert sb.api_url.startswith("http://127.0.0.1:") and sb.api_url.endswith("/api/")
    assert sb.bot_token.startswith("xoxb-") and sb.app_token.startswith("xapp-")
    names = {c.name: c for c in sb.channels()}
    assert set(names) == {"general", "design-review", "hw-review", "leads", "old-project"}
    assert all(CHANNEL_ID.match(c.id) for c in names.values())
    assert not names["general"].bot_member and names["leads"].is_private
    assert names["old-project"].is_archived and sb.channel_id("#hw-review") == names["hw-review"].id
    assert sb.user(ALICE).real_name == "Alice Nguyen" and sb.user(ALICE).id.startswith("U")
    for email in ("bob.schmidt", "carla.rossi", "dev.patel"):
        sb.user(f"{email}@acme-robotics.example")
    with pytest.raises(KeyError):
        sb.user("erik.johansson@acme-robotics.example")


def test_tokens_are_checked(sb: SlackSandbox) -> None:
    bad = WebClient(token="xoxb-0-0-nope", base_url=sb.api_url, retry_handlers=[])
    assert error_of(bad.auth_test).response["error"] == "invalid_auth"
    anonymous = WebClient(base_url=sb.api_url, retry_handlers=[])
    assert error_of(anonymous.auth_test).response["error"] == "not_authed"
    client = WebClient(token=sb.bot_token, base_url=sb.api_url, retry_handlers=[])
    denied = error_of(lambda: client.apps_connections_open(app_token=sb.bot_token))
    assert denied.response["error"] == "not_allowed_token_type"
    opened = client.apps_connections_open(app_token=sb.app_token)
    assert opened["url"].startswith(sb.base_url.replace("http://", "ws://") + "/socket")
    sb.revoke_token()
    assert error_of(client.auth_test).response["error"] == "token_revoked"


def test_token_revoked_fault_then_heals(sb: SlackSandbox, client: WebClient) -> None:
    sb.faults.error("token_revoked")
    assert error_of(client.auth_test).response["error"] == "token_revoked"
    assert client.auth_test()["ok"]


def test_get_query_and_form_token_are_accepted(sb: SlackSandbox) -> None:
    got = httpx.get(
        sb.api_url + "users.lookupByEmail", params={"email": ALICE, "token": sb.bot_token}
    )
    assert got.status_code == 200 and got.json()["user"]["real_name"] == "Alice Nguyen"
    form = httpx.post(
        sb.api_url + "chat.postMessage",
        data={
            "token": sb.bot_token,
            "channel": "design-review",
            "text": "hi",
            "blocks": json.dumps([section("*hi*")]),
        },
    )
    assert form.json()["ok"] and form.headers["content-type"].startswith("application/json")
    call = sb.calls_to("chat.postMessage")[-1]
    assert call.params["blocks"][0]["type"] == "section" and "token" not in call.params
    assert sb.messages("#design-review")[0].blocks[0]["text"]["text"] == "*hi*"  # type: ignore[index]


def test_token_in_a_json_body_is_not_read(sb: SlackSandbox) -> None:
    answer = httpx.post(sb.api_url + "auth.test", json={"token": sb.bot_token})
    assert answer.json() == {"ok": False, "error": "not_authed"}
    answer = httpx.post(
        sb.api_url + "auth.test", headers={"Authorization": f"Bearer {sb.bot_token}"}
    )
    assert answer.json()["ok"]


def test_unknown_method(client: WebClient) -> None:
    assert (
        error_of(lambda: client.api_call("chat.frobnicate")).response["error"] == "unknown_method"
    )


# --- posting, threads, editing --------------------------------------------------------


def test_post_by_name_or_id(sb: SlackSandbox, client: WebClient, clock: FakeClock) -> None:
    first = client.chat_postMessage(channel="#design-review", text="one", unfurl_links=False)
    second = client.chat_postMessage(channel=sb.channel_id("design-review"), text="two")
    third = client.chat_postMessage(channel="design-review", text="three")
    assert (
        first["channel"] == second["channel"] == third["channel"] == sb.channel_id("design-review")
    )
    stamps = [first["ts"], second["ts"], third["ts"]]
    assert all(TS.match(ts) for ts in stamps) and stamps == sorted(set(stamps))
    assert first["ts"].startswith(str(int(clock.now.timestamp())))
    message = first["message"]
    assert message["user"] == sb.bot_user_id and message["bot_id"] and message["text"] == "one"
    stored = sb.messages("#design-review")
    assert [m.text for m in stored] == ["one", "two", "three"]
    assert stored[0].unfurl_links is False and stored[0].user == sb.bot_user_id
    assert [p.text for p in sb.all_posts()] == ["one", "two", "three"]


def test_blocks_get_block_ids_and_survive(sb: SlackSandbox, client: WebClient) -> None:
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": "R&amp;D"}}, section("x")]
    posted = client.chat_postMessage(channel="#hw-review", text="fallback", blocks=blocks)
    shown = posted["message"]["blocks"]
    assert [b["type"] for b in shown] == ["header", "section"] and all(b["block_id"] for b in shown)
    assert sb.messages("#hw-review")[0].blocks == shown


def test_threads(sb: SlackSandbox, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="#design-review", text="card")
    one = client.chat_postMessage(channel=parent["channel"], thread_ts=parent["ts"], text="r1")
    two = client.chat_postMessage(channel=parent["channel"], thread_ts=one["ts"], text="r2")
    assert one["message"]["thread_ts"] == two["message"]["thread_ts"] == parent["ts"]
    top = sb.messages("#design-review")
    assert len(top) == 1 and top[0].reply_count == 2 and top[0].latest_reply == two["ts"]
    assert [r.text for r in sb.replies("#design-review", parent["ts"])] == ["r1", "r2"]
    thread = client.conversations_replies(channel=parent["channel"], ts=parent["ts"])
    assert [m["text"] for m in thread["messages"]] == ["card", "r1", "r2"]
    assert thread["messages"][0]["reply_count"] == 2
    paged = client.conversations_replies(channel=parent["channel"], ts=parent["ts"], limit=2)
    assert paged["has_more"] is True
    rest = client.conversations_replies(
        channel=parent["channel"], ts=parent["ts"], cursor=paged["response_metadata"]["next_cursor"]
    )
    assert [m["text"] for m in rest["messages"]] == ["r2"] and rest["has_more"] is False
    history = client.conversations_history(channel=parent["channel"])
    assert [m["text"] for m in history["messages"]] == ["card"]


def test_broadcast_reply_shows_in_history(sb: SlackSandbox, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="#design-review", text="card")
    client.chat_postMessage(
        channel=parent["channel"], thread_ts=parent["ts"], text="resolved", reply_broadcast=True
    )
    history = client.conversations_history(channel=parent["channel"])["messages"]
    assert [(m["text"], m.get("subtype")) for m in history] == [
        ("resolved", "thread_broadcast"),
        ("card", None),
    ]
    assert sb.messages("#design-review")[0].reply_count == 1


def test_update_keeps_history(sb: SlackSandbox, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="#design-review", text="v1", blocks=[section("v1")])
    updated = client.chat_update(channel=posted["channel"], ts=posted["ts"], text="v2")
    assert updated["ts"] == posted["ts"] and updated["text"] == "v2"
    client.chat_update(
        channel=posted["channel"], ts=posted["ts"], text="v3", blocks=[section("v3")]
    )
    message = sb.messages("#design-review")[0]
    assert message.edited and message.text == "v3"
    assert message.blocks is not None and message.blocks[0]["text"]["text"] == "v3"
    edits = sb.edits("#design-review", posted["ts"])
    assert [(e.previous_text, e.text) for e in edits] == [("v1", "v2"), ("v2", "v3")]
    assert edits[0].blocks == edits[0].previous_blocks
    missing = error_of(
        lambda: client.chat_update(channel=posted["channel"], ts="1.000001", text="x")
    )
    assert missing.response["error"] == "message_not_found"
    human = sb.post_as(ALICE, "#design-review", "my own words")
    refused = error_of(lambda: client.chat_update(channel=posted["channel"], ts=human, text="x"))
    assert refused.response["error"] == "cant_update_message"


def test_ephemeral_and_dm(sb: SlackSandbox, client: WebClient) -> None:
    alice = sb.user(ALICE).id
    shown = client.chat_postEphemeral(channel="#design-review", user=alice, text="only you")
    assert TS.match(shown["message_ts"]) and sb.messages("#design-review") == []
    assert [e.text for e in sb.ephemerals(user=alice)] == ["only you"]
    carla = sb.user("carla.rossi@acme-robotics.example").id
    outside = error_of(lambda: client.chat_postEphemeral(channel="#leads", user=carla, text="x"))
    assert outside.response["error"] == "user_not_in_channel"
    dm = client.chat_postMessage(channel=alice, text="psst")
    assert dm["channel"].startswith("D") and sb.messages(dm["channel"])[0].text == "psst"


def test_permalink(client: WebClient) -> None:
    parent = client.chat_postMessage(channel="#design-review", text="card")
    reply = client.chat_postMessage(channel=parent["channel"], thread_ts=parent["ts"], text="r")
    link = client.chat_getPermalink(channel=reply["channel"], message_ts=reply["ts"])["permalink"]
    assert link.startswith(f"https://acme-robotics.slack.com/archives/{parent['channel']}/p")
    assert f"thread_ts={parent['ts']}" in link


def test_concurrent_posts_get_unique_increasing_ts(sb: SlackSandbox, client: WebClient) -> None:
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda n: client.chat_postMessage(channel="#hw-review", text=str(n)), range(24)
            )
        )
    stamps = [a["ts"] for a in answers]
    assert len(set(stamps)) == 24
    assert [m.ts for m in sb.messages("#hw-review")] == sorted(stamps)


# --- reading --------------------------------------------------------------------------


def test_history_metadata_only_when_asked(client: WebClient) -> None:
    metadata = {"event_type": "thread_opened", "event_payload": {"thread": "T-1"}}
    posted = client.chat_postMessage(channel="#design-review", text="card", metadata=metadata)
    assert posted["message"]["metadata"] == metadata and "warning" not in posted.data
    plain = client.conversations_history(channel=posted["channel"])["messages"][0]
    assert "metadata" not in plain
    full = client.conversations_history(channel=posted["channel"], include_all_metadata=True)
    assert full["messages"][0]["metadata"] == metadata
    thread = client.conversations_replies(
        channel=posted["channel"], ts=posted["ts"], include_all_metadata=True
    )
    assert thread["messages"][0]["metadata"] == metadata


def test_metadata_with_bad_event_type_is_dropped_with_a_warning(
    sb: SlackSandbox, client: WebClient
) -> None:
    metadata = {"event_type": "review.thread_opened", "event_payload": {"x": 1}}
    posted = client.chat_postMessage(channel="#design-review", text="card", metadata=metadata)
    assert posted["ok"] and posted["warning"] == "invalid_metadata_schema"
    assert posted["response_metadata"]["warnings"] == ["invalid_metadata_schema"]
    assert sb.messages("#design-review")[0].metadata is None
    assert sb.calls_to("chat.postMessage")[-1].warning == "invalid_metadata_schema"


def test_history_paging_and_bounds(sb: SlackSandbox, client: WebClient) -> None:
    channel = sb.channel_id("#hw-review")
    stamps = [client.chat_postMessage(channel=channel, text=f"m{n}")["ts"] for n in range(7)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = client.conversations_history(channel=channel, limit=3, cursor=cursor)
        seen += [m["text"] for m in page["messages"]]
        pages += 1
        if not page["has_more"]:
            break
        cursor = page["response_metadata"]["next_cursor"]
    assert pages == 3 and seen == [f"m{n}" for n in reversed(range(7))]
    window = client.conversations_history(channel=channel, oldest=stamps[1], latest=stamps[4])
    assert [m["text"] for m in window["messages"]] == ["m3", "m2"]
    inclusive = client.conversations_history(
        channel=channel, oldest=stamps[1], latest=stamps[4], inclusive=True
    )
    assert [m["text"] for m in inclusive["messages"]] == ["m4", "m3", "m2", "m1"]
    bad = error_of(lambda: client.conversations_history(channel=channel, cursor="bm9wZQ=="))
    assert bad.response["error"] == "invalid_cursor"


def test_conversations_list_and_info(sb: SlackSandbox, client: WebClient) -> None:
    names: list[str] = []
    cursor = ""
    while True:
        page = client.conversations_list(limit=2, cursor=cursor or None)
        assert len(page["channels"]) <= 2
        names += [c["name"] for c in page["channels"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert names == ["general", "design-review", "hw-review", "old-project"]
    every = client.conversations_list(types="public_channel,private_channel", exclude_archived=True)
    by_name = {c["name"]: c for c in every["channels"]}
    assert set(by_name) == {"general", "design-review", "hw-review", "leads"}
    assert by_name["leads"]["is_private"] and not by_name["general"]["is_member"]
    assert by_name["design-review"]["is_member"] and not by_name["design-review"]["is_archived"]
    info = client.conversations_info(channel=sb.channel_id("old-project"))["channel"]
    assert info["name"] == "old-project" and info["is_archived"]
    sb.kick_bot("#leads")
    hidden = client.conversations_list(types="private_channel")["channels"]
    assert hidden == []


def test_users(sb: SlackSandbox, client: WebClient) -> None:
    found = client.users_lookupByEmail(email="Alice.Nguyen@acme-robotics.example")["user"]
    assert found["real_name"] == "Alice Nguyen" and found["profile"]["email"] == ALICE
    assert found["id"] == sb.user(ALICE).id and found["profile"]["display_name"]
    missing = error_of(
        lambda: client.users_lookupByEmail(email="erik.johansson@acme-robotics.example")
    )
    assert missing.response["error"] == "users_not_found"
    new = sb.add_user("fatima.khan", "fatima.khan@acme-robotics.example", "Fatima Khan")
    assert client.users_info(user=new)["user"]["real_name"] == "Fatima Khan"
    assert (
        error_of(lambda: client.users_info(user="U0NOBODY00")).response["error"] == "user_not_found"
    )


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "channel", "error"),
    [
        (None, "#no-such-channel", "channel_not_found"),
        (None, "C0NOTHERE1", "channel_not_found"),
        (None, "#general", "not_in_channel"),
        ("kick_public", "#hw-review", "not_in_channel"),
        ("kick_private", "#leads", "channel_not_found"),
        (None, "#old-project", "is_archived"),
        ("archive", "#design-review", "is_archived"),
    ],
)
def test_channel_errors(
    sb: SlackSandbox, client: WebClient, setup: str | None, channel: str, error: str
) -> None:
    if setup == "kick_public":
        sb.kick_bot("#hw-review")
    elif setup == "kick_private":
        sb.kick_bot("#leads")
    elif setup == "archive":
        sb.archive("#design-review")
    refused = error_of(lambda: client.chat_postMessage(channel=channel, text="hello"))
    assert refused.response.status_code == 200 and refused.response["error"] == error
    assert sb.all_posts() == []


def test_reading_where_the_bot_is_not(sb: SlackSandbox, client: WebClient) -> None:
    general = sb.channel_id("#general")
    refused = error_of(lambda: client.conversations_history(channel=general))
    assert refused.response["error"] == "not_in_channel"
    by_name = error_of(lambda: client.conversations_history(channel="#design-review"))
    assert by_name.response["error"] == "channel_not_found"


def test_added_channels(sb: SlackSandbox, client: WebClient) -> None:
    new = sb.add_channel("pcb-layout")
    assert CHANNEL_ID.match(new) and client.chat_postMessage(channel=new, text="x")["ok"]
    outside = sb.add_channel("mech", member=False)
    assert (
        error_of(lambda: client.chat_postMessage(channel=outside, text="x")).response["error"]
        == "not_in_channel"
    )
    joined = client.conversations_join(channel=outside)
    assert joined["channel"]["is_member"] and client.chat_postMessage(channel=outside, text="y")


def test_message_content_errors(sb: SlackSandbox, client: WebClient) -> None:
    channel = sb.channel_id("#design-review")
    with pytest.warns(UserWarning, match="top-level `text`"):
        empty = error_of(lambda: client.chat_postMessage(channel=channel))
    assert empty.response["error"] == "no_text"
    too_long = error_of(lambda: client.chat_postMessage(channel=channel, text="x" * 40_001))
    assert too_long.response["error"] == "msg_too_long"
    lost = error_of(
        lambda: client.chat_postMessage(channel=channel, thread_ts="1700000000.000001", text="r")
    )
    assert lost.response["error"] == "thread_not_found"
    elsewhere = client.chat_postMessage(channel="#hw-review", text="p")
    cross = error_of(
        lambda: client.chat_postMessage(channel=channel, thread_ts=elsewhere["ts"], text="r")
    )
    assert cross.response["error"] == "thread_not_found"


def _header(text: str, kind: str = "plain_text") -> dict[str, Any]:
    return {"type": "header", "text": {"type": kind, "text": text}}


def _fields(count: int, size: int = 10) -> dict[str, Any]:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * size}] * count}


@pytest.mark.parametrize(
    "blocks",
    [
        pytest.param({"type": "section"}, id="not-a-list"),
        pytest.param([{"type": "carousel"}], id="unknown-type"),
        pytest.param(["section"], id="not-an-object"),
        pytest.param([section("x")] * 51, id="51-blocks"),
        pytest.param([section("x" * 3001)], id="section-3001"),
        pytest.param([section("")], id="section-empty"),
        pytest.param([section(" \n\t")], id="section-whitespace"),
        pytest.param([{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}],
                     id="context-11"),
        pytest.param(
            [{"type": "actions", "elements": [
                {"type": "button", "action_id": "a", "value": "v" * 2001,
                 "text": {"type": "plain_text", "text": "x"}}]}],
            id="button-value-2001",
        ),
        pytest.param([{"type": "section"}], id="section-without-text"),
        pytest.param([_header("h" * 151)], id="header-151"),
        pytest.param([_header("*h*", "mrkdwn")], id="header-mrkdwn"),
        pytest.param([_fields(11)], id="11-fields"),
        pytest.param([_fields(1, 2001)], id="field-2001"),
        pytest.param(
            [
                {
                    "type": "actions",
                    "elements": [{"type": "button", "text": {"type": "mrkdwn", "text": "x"}}],
                }
            ],
            id="button-mrkdwn",
        ),
        pytest.param(
            [{**section("a"), "block_id": "b"}, {**section("b"), "block_id": "b"}], id="dup-id"
        ),
    ],
)
def test_invalid_blocks(sb: SlackSandbox, client: WebClient, blocks: Any) -> None:
    refused = error_of(
        lambda: client.chat_postMessage(channel="#design-review", text="t", blocks=blocks)
    )
    assert refused.response["error"] == "invalid_blocks"
    assert refused.response["errors"] and "[json-pointer:/blocks" in refused.response["errors"][0]
    assert sb.all_posts() == []


def test_block_limits_are_inclusive(client: WebClient) -> None:
    fine = [_header("h" * 150), section("x" * 3000), _fields(10, 200), {"type": "divider"}]
    assert client.chat_postMessage(channel="#design-review", text="t", blocks=fine)["ok"]
    assert client.chat_postMessage(channel="#design-review", text="t", blocks=[section("x")] * 50)


def test_msg_blocks_too_long(client: WebClient) -> None:
    blocks = [section("x" * 2900) for _ in range(5)]
    refused = error_of(
        lambda: client.chat_postMessage(channel="#design-review", text="t", blocks=blocks)
    )
    assert refused.response["error"] == "msg_blocks_too_long"


def test_ephemeral_checks_blocks_like_a_message(sb: SlackSandbox, client: WebClient) -> None:
    alice = sb.user(ALICE).id
    for blocks, code in (([section("")], "invalid_blocks"),
                         ([section("x" * 2900) for _ in range(5)], "msg_blocks_too_long")):
        refused = error_of(lambda b=blocks: client.chat_postEphemeral(
            channel="#design-review", user=alice, text="t", blocks=b))
        assert refused.response["error"] == code
    assert sb.ephemerals() == []


def test_response_url_checks_blocks_and_size(sb: SlackSandbox) -> None:
    """Slack answers a response_url it refuses with a 4xx and the code as plain text."""
    url = sb.response_url(channel="#design-review", user=ALICE)
    hook = WebhookClient(url)
    bad = hook.send(text="t", blocks=[section(" ")])
    assert (bad.status_code, bad.body) == (400, "invalid_blocks")
    long = hook.send(text="t", blocks=[section("x" * 3000)] * 4 + [section("x" * 1)])
    assert (long.status_code, long.body) == (400, "msg_blocks_too_long")
    header = hook.send(text="t", blocks=[_header("h" * 151)])
    assert (header.status_code, header.body) == (400, "invalid_blocks")
    fine = hook.send(text="t", blocks=[section("x" * 3000)] * 4)
    assert (fine.status_code, fine.body) == (200, "ok")
    assert len(sb.responses(url)) == 1 and len(sb.ephemerals(user=ALICE)) == 1
    assert [c.error for c in sb.calls_to("response_url")] == [
        "invalid_blocks", "msg_blocks_too_long", "invalid_blocks", None]


def test_unfurl_checks_blocks_and_size(sb: SlackSandbox, client: WebClient) -> None:
    ts = client.chat_postMessage(channel="#design-review", text="see https://x.example")["ts"]
    for blocks, code in (([section("")], "invalid_unfurls"),
                         ([section("x" * 2900) for _ in range(5)], "msg_blocks_too_long")):
        refused = error_of(lambda b=blocks: client.chat_unfurl(
            channel=sb.channel_id("#design-review"), ts=ts,
            unfurls={"https://x.example": {"blocks": b}}))
        assert refused.response["error"] == code
    assert sb.unfurls("#design-review", ts) == {}


# --- faults ---------------------------------------------------------------------------


def test_rate_limit_is_a_429_with_retry_after(sb: SlackSandbox, client: WebClient) -> None:
    sb.faults.rate_limit(method="chat.postMessage", retry_after=7)
    refused = error_of(lambda: client.chat_postMessage(channel="#design-review", text="x"))
    assert refused.response.status_code == 429 and refused.response["error"] == "ratelimited"
    assert refused.response.headers["Retry-After"] == "7"
    assert client.chat_postMessage(channel="#design-review", text="x")["ok"]
    assert [c.status for c in sb.calls_to("chat.postMessage")] == [429, 200]
    assert sb.calls_to("chat.postMessage")[0].fault == "rate_limit"


def test_rate_limit_retry_handler_recovers(
    sb: SlackSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(builtin_handlers, "time", types.SimpleNamespace(sleep=sleeps.append))
    client = WebClient(
        token=sb.bot_token, base_url=sb.api_url, retry_handlers=[RateLimitErrorRetryHandler()]
    )
    sb.faults.rate_limit(method="chat.postMessage", retry_after=3)
    assert client.chat_postMessage(channel="#design-review", text="once")["ok"]
    assert len(sleeps) == 1 and 3 <= sleeps[0] < 4
    assert [c.status for c in sb.calls_to("chat.postMessage")] == [429, 200]
    assert [m.text for m in sb.messages("#design-review")] == ["once"]


def test_server_errors(sb: SlackSandbox, client: WebClient) -> None:
    sb.faults.http_error(500)
    failed = error_of(client.auth_test)
    assert failed.response.status_code == 500
    sb.faults.http_error(502, method="auth.test")
    assert error_of(client.auth_test).response.status_code == 502
    assert sb.calls[-1].error == "http_502" and sb.calls[-1].fault == "http_error"
    retrying = WebClient(
        token=sb.bot_token,
        base_url=sb.api_url,
        retry_handlers=[ServerErrorRetryHandler(1, FixedValueRetryIntervalCalculator(0.01))],
    )
    sb.faults.http_error(503, method="chat.postMessage")
    assert retrying.chat_postMessage(channel="#design-review", text="x")["ok"]
    assert [c.status for c in sb.calls_to("chat.postMessage")] == [503, 200]


def test_error_fault_targets_a_channel_until_cleared(sb: SlackSandbox, client: WebClient) -> None:
    sb.faults.error(
        "channel_not_found", method="chat.postMessage", channel="#hw-review", times=None
    )
    for _ in range(2):
        refused = error_of(lambda: client.chat_postMessage(channel="hw-review", text="x"))
        assert refused.response["error"] == "channel_not_found"
    assert client.chat_postMessage(channel="#design-review", text="x")["ok"]
    sb.faults.clear()
    assert client.chat_postMessage(channel="#hw-review", text="x")["ok"]


def test_latency(sb: SlackSandbox, client: WebClient) -> None:
    sb.faults.latency(0.3)
    started = time.perf_counter()
    client.auth_test()
    assert time.perf_counter() - started >= 0.3
    sb.faults.latency(0)


def test_dropped_connections(sb: SlackSandbox, client: WebClient) -> None:
    sb.faults.drop_connection(method="chat.postMessage")
    with pytest.raises(Exception) as caught:
        client.chat_postMessage(channel="#design-review", text="lost")
    assert not isinstance(caught.value, SlackApiError)
    assert sb.calls[-1].status == 0 and sb.calls[-1].fault == "drop_connection"
    assert sb.all_posts() == []
    retrying = WebClient(
        token=sb.bot_token,
        base_url=sb.api_url,
        retry_handlers=[ConnectionErrorRetryHandler(1, FixedValueRetryIntervalCalculator(0.01))],
    )
    sb.faults.drop_connection(method="chat.postMessage", after=True)
    assert retrying.chat_postMessage(channel="#design-review", text="twice")["ok"]
    assert [m.text for m in sb.messages("#design-review")] == ["twice", "twice"]


def test_post_pacing(sb: SlackSandbox, client: WebClient) -> None:
    sb.enforce_post_rate(per_second=0.2, burst=3)
    for n in range(3):
        client.chat_postMessage(channel="#design-review", text=str(n))
    paced = error_of(lambda: client.chat_postMessage(channel="#design-review", text="3"))
    assert paced.response.status_code == 429 and int(paced.response.headers["Retry-After"]) >= 1
    assert client.chat_postMessage(channel="#hw-review", text="other channel")["ok"]
    sb.enforce_post_rate(None)
    assert client.chat_postMessage(channel="#design-review", text="3")["ok"]


# --- response_url, App Home -----------------------------------------------------------


def test_response_url_five_uses(sb: SlackSandbox) -> None:
    url = sb.response_url(channel="#design-review", user=ALICE)
    hook = WebhookClient(url)
    for n in range(5):
        answer = hook.send(text=f"answer {n}")
        assert answer.status_code == 200 and answer.body == "ok"
    spent = hook.send(text="again")
    assert spent.status_code == 404 and spent.body == "used_url"
    assert [b["text"] for b in sb.responses(url)] == [f"answer {n}" for n in range(5)]
    assert len(sb.ephemerals(user=ALICE)) == 5 and sb.messages("#design-review") == []
    shared = WebhookClient(sb.response_url(channel="#design-review"))
    assert shared.send(text="for everyone", response_type="in_channel").status_code == 200
    assert [m.text for m in sb.messages("#design-review")] == ["for everyone"]
    assert sb.calls_to("response_url")[5].error == "used_url"


def test_response_url_expires(sb: SlackSandbox, clock: FakeClock) -> None:
    url = sb.response_url()
    clock.advance(minutes=29)
    assert WebhookClient(url).send(text="in time").status_code == 200
    clock.advance(minutes=2)
    late = WebhookClient(url).send(text="too late")
    assert late.status_code == 404 and late.body == "expired_url"


def test_views_publish(sb: SlackSandbox, client: WebClient) -> None:
    alice = sb.user(ALICE).id
    view = {"type": "home", "blocks": [section("*Your reviews*")]}
    published = client.views_publish(user_id=alice, view=view)["view"]
    assert published["id"].startswith("V") and published["type"] == "home"
    stored = sb.home_view(alice)
    assert stored is not None and stored["blocks"][0]["text"]["text"] == "*Your reviews*"
    assert client.views_publish(user_id=alice, view=view, hash=published["hash"])["ok"]
    stale = error_of(lambda: client.views_publish(user_id=alice, view=view, hash=published["hash"]))
    assert stale.response["error"] == "hash_conflict"
    many = {"type": "home", "blocks": [section("x")] * 101}
    refused = error_of(lambda: client.views_publish(user_id=alice, view=many))
    assert refused.response["error"] == "invalid_arguments"
    assert client.views_publish(
        user_id=alice, view={"type": "home", "blocks": [section("x")] * 100}
    )
    heavy = {"type": "home", "blocks": [section("x" * 2900)] * 5}
    too_long = error_of(lambda: client.views_publish(user_id=alice, view=heavy))
    assert too_long.response["error"] == "invalid_arguments"
    empty = {"type": "home", "blocks": [section("")]}
    assert error_of(lambda: client.views_publish(user_id=alice, view=empty)).response[
        "error"] == "invalid_arguments"
    modal = error_of(
        lambda: client.views_publish(user_id=alice, view={"type": "modal", "blocks": []})
    )
    assert modal.response["error"] == "invalid_arguments"


# --- rendering ------------------------------------------------------------------------


def test_render_escaped_text_versus_bot_made_markup(sb: SlackSandbox, client: WebClient) -> None:
    alice = sb.user(ALICE).id
    blocks = [
        _header("Thread on U3 &amp; U4"),
        section(f"<@{alice}> wrote: &lt;!channel&gt; swap &lt;@U123&gt; R1 &amp;lt; 10k"),
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": "*Project*\n<https://a365.example/p|Motor>"}],
        },
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "<!channel> via bot"}]},
        {"type": "divider"},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open in Altium"},
                    "url": "https://a365.example",
                }
            ],
        },
    ]
    posted = client.chat_postMessage(channel="#design-review", text="fallback", blocks=blocks)
    text = render_message(sb.messages("#design-review")[0], users=sb.user_names())
    assert "Thread on U3 & U4" in text
    assert "@Alice Nguyen wrote: <!channel> swap <@U123> R1 &lt; 10k" in text
    assert "Motor (https://a365.example/p)" in text and "@channel via bot" in text
    assert "[Open in Altium]" in text and "─" * 10 in text
    assert render_message(posted["message"], users=sb.user_names()) == text


def test_render_channel_threads_and_edits(sb: SlackSandbox, client: WebClient) -> None:
    parent = client.chat_postMessage(channel="#design-review", text="card &lt;v1&gt;")
    client.chat_update(channel=parent["channel"], ts=parent["ts"], text="card v2")
    client.chat_postMessage(channel=parent["channel"], thread_ts=parent["ts"], text="reply")
    sb.post_as(ALICE, "#design-review", "thanks", thread_ts=parent["ts"])
    shown = render_channel(sb, "#design-review")
    lines = shown.splitlines()
    assert lines[0] == "#design-review"
    assert "Design Review Bot" in lines[2] and lines[2].endswith("(edited)")
    assert lines[3] == "  card v2" and "2 replies" in lines[4]
    assert any("Alice Nguyen" in line and line.startswith("  ┆ ") for line in lines)
    assert "  ┆   thanks" in lines


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>&@!|#abc ;lgtmp")), max_size=40))
def test_escaped_text_renders_as_typed(typed: str) -> None:
    escaped = typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert mrkdwn(escaped, users={"U1": "Alice"}) == typed
