"""A 300-line BOM and a broad part search, asked every way Slack can ask, over real HTTP:
every answer fits the path it takes (the ack body, ``response_url``, a mention's
``chat.postEphemeral`` or ``chat.postMessage``, App Home, an unfurl) and the strict local
Slack takes it; "Next page" walks through every line once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk import WebClient

from bot.app import build_app
from bot.review.context import Policy
from bot.server import HttpServer
from bot.slack.limits import RESPONSE, within
from jobs.nexar import NexarClient
from jobs.poll import Poller, refresh_catalog
from sandbox import AltiumSandbox, SlackSandbox
from sandbox.slack.blocks import refusal
from state.store import Store
from tests.bot.listeners.test_commands import SECRET, payload, signed
from tests.conftest import wait_for

CHANNEL = "#design-review"
BOARD = "Big Board"
LINES = 300


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A project with a 300-line BOM, watched and polled, and the bot serving HTTP."""
    db = tmp_path_factory.mktemp("big") / "bot.db"
    with AltiumSandbox() as altium, SlackSandbox() as slack:
        altium.add_project(BOARD)
        for i in range(1, LINES + 1):
            altium.add_part(BOARD, f"R{i}", mpn=f"RC0603FR-07{i:04d}L",
                            manufacturer="Yageo Corporation",
                            name=f"Thick film chip resistor {i} ohm",
                            description="Thick film resistor, 0603, 1%, 100 mW, AEC-Q200")
        with Store.open(db) as store, NexarClient(token=altium.token,
                                                  api_url=altium.api_url) as client:
            refresh_catalog(client, store)
            store.subscribe(store.find_project(BOARD), CHANNEL, ["comments", "bom"],
                            at="2026-11-28T08:00:00.000Z")
            Poller(client=client, store=store).poll_once()
        app = build_app(client=WebClient(token=slack.bot_token, base_url=slack.api_url),
                        signing_secret=SECRET, db_path=str(db),
                        nexar=lambda: NexarClient(token=altium.token, api_url=altium.api_url),
                        policy=Policy())
        server = HttpServer(app, host="127.0.0.1", port=0).start()
        try:
            yield {"altium": altium, "slack": slack, "db": db,
                   "url": f"http://127.0.0.1:{server.port}/slack/events"}
        finally:
            server.stop()


def post(world: dict[str, Any], form: str) -> httpx.Response:
    answer = httpx.post(world["url"], content=form, headers=signed(form), timeout=5)
    assert answer.status_code == 200
    return answer


def assert_ack_taken(answer: httpx.Response) -> None:
    """The ack body, checked as Slack checks an immediate response."""
    if answer.content:
        body = answer.json()
        assert body.get("text") or body.get("blocks")
        if "blocks" in body:
            assert refusal(body["blocks"], path="response_url") is None


def taken(slack: SlackSandbox, path: str) -> list[Any]:
    """Every call on ``path`` was accepted; their blocks."""
    calls = slack.calls_to(path)
    assert calls and all(c.ok for c in calls), [(c.status, c.error) for c in calls]
    return [c.params.get("blocks") for c in calls]


def rows(blocks: list[dict[str, Any]]) -> list[str]:
    return [line.split("`")[1] for b in blocks if b["type"] == "section"
            for line in b["text"]["text"].split("\n") if line.startswith("`")]


def next_button(blocks: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((e for b in blocks if b["type"] == "actions" for e in b["elements"]
                 if e["text"]["text"].startswith("Next")), None)


def press(world: dict[str, Any], button: dict[str, Any], response_url: str,
          user: str = "alice.nguyen") -> None:
    """A person presses a button: Slack posts ``block_actions``, signed, to the bot."""
    slack: SlackSandbox = world["slack"]
    action = {"type": "block_actions", "user": {"id": slack.user(user).id},
              "channel": {"id": slack.channel_id(CHANNEL)}, "team": {"id": slack.team_id},
              "api_app_id": "A1", "response_url": response_url, "trigger_id": "1.2",
              "actions": [{"action_id": button["action_id"], "value": button["value"],
                           "type": "button", "block_id": "b", "action_ts": "1"}]}
    assert_ack_taken(post(world, urlencode({"payload": json.dumps(action)})))


def walk(world: dict[str, Any], text: str) -> list[list[dict[str, Any]]]:
    """``/review TEXT`` over HTTP, then Next page until the last page: each page's blocks."""
    slack: SlackSandbox = world["slack"]
    body = payload(slack, text)
    assert_ack_taken(post(world, urlencode(body)))
    wait_for(lambda: bool(slack.responses(body["response_url"])))
    shown = [slack.responses(body["response_url"])[0]["blocks"]]
    while (button := next_button(shown[-1])) is not None:
        url = slack.response_url(channel=slack.channel_id(CHANNEL),
                                 user=slack.user("alice.nguyen").id)
        press(world, button, url)
        wait_for(lambda: bool(slack.responses(url)))  # noqa: B023 - waited for at once
        [said] = slack.responses(url)
        assert said.get("replace_original") is True
        shown.append(said["blocks"])
        assert len(shown) < 40
    return shown


def test_a_300_line_bom_is_paged_on_response_url_and_every_line_is_shown(
        world: dict[str, Any]) -> None:
    slack: SlackSandbox = world["slack"]
    slack.reset_calls()
    shown = walk(world, "bom big board")
    assert len(shown) > 3
    for number, blocks in enumerate(shown, 1):
        assert within(blocks, RESPONSE)
        assert f"page {number} of {len(shown)}" in json.dumps(blocks)
    assert rows([b for page in shown for b in page]) == [f"R{i}" for i in range(1, LINES + 1)]
    assert len(taken(slack, "response_url")) == len(shown)


def test_a_broad_part_search_is_paged_too(world: dict[str, Any]) -> None:
    slack: SlackSandbox = world["slack"]
    slack.reset_calls()
    shown = walk(world, "part RC0603")
    assert len(shown) > 1 and "Big Board" in json.dumps(shown[0])
    taken(slack, "response_url")


@pytest.mark.parametrize(("text", "method"), [("bom big board", "chat.postEphemeral"),
                                              ("bom big board --share", "chat.postMessage")])
def test_a_mention_gets_the_first_page_and_a_next_page_button(
        world: dict[str, Any], text: str, method: str) -> None:
    slack: SlackSandbox = world["slack"]
    slack.reset_calls()
    alice = slack.user("alice.nguyen").id
    said = f"<@{slack.bot_user_id}> {text}"
    ts = slack.post_as("alice.nguyen", CHANNEL, said)
    event = {"type": "event_callback", "team_id": slack.team_id, "api_app_id": "A1",
             "event_id": f"Ev{ts}", "event_time": int(time.time()),
             "event": {"type": "app_mention", "user": alice, "ts": ts, "text": said,
                       "channel": slack.channel_id(CHANNEL)}}
    form = json.dumps(event)
    answer = httpx.post(world["url"], content=form, timeout=5,
                        headers={**signed(form), "Content-Type": "application/json"})
    assert answer.status_code == 200
    wait_for(lambda: bool(slack.calls_to(method)))
    [blocks] = taken(slack, method)
    assert rows(blocks)[0] == "R1" and next_button(blocks) is not None
    assert refusal(blocks, path="message") is None


def test_app_home_and_an_unfurl_of_the_big_board_fit(world: dict[str, Any]) -> None:
    slack: SlackSandbox = world["slack"]
    altium: AltiumSandbox = world["altium"]
    slack.reset_calls()
    alice = slack.user("alice.nguyen").id
    url = f"{altium.workspace_url}/designs/{altium.project(BOARD).project_id}"
    ts = slack.post_as("alice.nguyen", CHANNEL, f"see <{url}>")
    for n, inner in enumerate([
            {"type": "app_home_opened", "user": alice, "channel": "D1", "tab": "home"},
            {"type": "link_shared", "user": alice, "channel": slack.channel_id(CHANNEL),
             "message_ts": ts, "links": [{"domain": "365.altium.com", "url": url}]}]):
        form = json.dumps({"type": "event_callback", "team_id": slack.team_id,
                           "api_app_id": "A1", "event_id": f"EvHome{n}",
                           "event_time": int(time.time()), "event": inner})
        answer = httpx.post(world["url"], content=form, timeout=5,
                            headers={**signed(form), "Content-Type": "application/json"})
        assert answer.status_code == 200
    wait_for(lambda: bool(slack.calls_to("views.publish")) and bool(
        slack.calls_to("chat.unfurl")))
    taken(slack, "views.publish")
    taken(slack, "chat.unfurl")
    assert "Big Board" in json.dumps(slack.unfurls(CHANNEL, ts))


def test_a_mention_slack_will_not_answer_is_one_log_line(
        world: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    """Someone who left the channel mentions the bot: Slack refuses the ephemeral answer
    (user_not_in_channel), and the log says so in one line, without a traceback."""
    slack: SlackSandbox = world["slack"]
    slack.reset_calls()
    carla = next(u for u in slack.users() if u.name.startswith("carla"))
    said = f"<@{slack.bot_user_id}> status"
    ts = slack.post_as("alice.nguyen", "#leads", said)
    event = {"type": "event_callback", "team_id": slack.team_id, "api_app_id": "A1",
             "event_id": "EvGone", "event_time": int(time.time()),
             "event": {"type": "app_mention", "user": carla.id, "ts": ts, "text": said,
                       "channel": slack.channel_id("#leads")}}
    form = json.dumps(event)
    with caplog.at_level("INFO"):
        answer = httpx.post(world["url"], content=form, timeout=5,
                            headers={**signed(form), "Content-Type": "application/json"})
        assert answer.status_code == 200
        wait_for(lambda: any("mention" in r.getMessage() for r in caplog.records))
    [call] = slack.calls_to("chat.postEphemeral")
    assert call.error == "user_not_in_channel"
    [line] = [r for r in caplog.records if "mention" in r.getMessage()]
    assert "user_not_in_channel" in line.getMessage() and line.exc_info is None
    assert not any(r.exc_info for r in caplog.records if r.levelname in {"ERROR", "WARNING"})
