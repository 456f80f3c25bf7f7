"""Every /review command, sent signed over real HTTP and through Socket Mode dispatch,
answered from the snapshot or the sandbox Altium 365, into the sandbox Slack."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot import service
from bot.app import build_app
from bot.config import Config
from bot.review.context import Policy
from bot.server import HttpServer
from jobs.nexar import NexarClient
from jobs.poll import Poller, refresh_catalog
from sandbox import AltiumSandbox, SlackSandbox
from sandbox.scenario import PROJECT, REPLY_TEXT, play_review_round
from state.store import Store
from tests.conftest import wait_for

SECRET = "0c1f9e5ab7d2c4e6f8a0b2c4d6e8f0a1"
CHANNEL = "#design-review"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Both sandboxes, a database polled twice (with a review round between), one app."""
    db = tmp_path_factory.mktemp("commands") / "bot.db"
    with AltiumSandbox() as altium, SlackSandbox() as slack:
        for n in range(6):
            altium.add_project(f"Test Fixture {n:02d}")
        with Store.open(db) as store, NexarClient(token=altium.token,
                                                  api_url=altium.api_url) as client:
            refresh_catalog(client, store)
            for name in (PROJECT, "IoT Sensor Node"):
                store.subscribe(store.find_project(name), CHANNEL, ["comments", "bom"],
                                at="2026-11-28T08:00:00.000Z")
            poller = Poller(client=client, store=store)
            poller.poll_once()
            play_review_round(altium)
            poller.poll_once()
        admins = frozenset({slack.user("alice.nguyen").id})
        config = Config(db_path=str(db), slack_bot_token=slack.bot_token,
                        slack_api_url=slack.api_url, post_interval=0)
        app = build_app(client=WebClient(token=slack.bot_token, base_url=slack.api_url),
                        signing_secret=SECRET, db_path=str(db),
                        nexar=lambda: NexarClient(token=altium.token, api_url=altium.api_url),
                        policy=Policy(admins=admins, shared=None),
                        digest_now=service.digest_runner(config).run_now)
        server = HttpServer(app, host="127.0.0.1", port=0).start()
        try:
            yield {"altium": altium, "slack": slack, "db": db, "app": app,
                   "url": f"http://127.0.0.1:{server.port}/slack/events"}
        finally:
            server.stop()


def signed(body: str, *, secret: str = SECRET, age: float = 0) -> dict[str, str]:
    stamp = str(int(time.time() - age))
    return {"X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": SignatureVerifier(secret).generate_signature(
                timestamp=stamp, body=body),
            "Content-Type": "application/x-www-form-urlencoded"}


def payload(slack: SlackSandbox, text: str, user: str = "alice.nguyen",
            channel: str = CHANNEL) -> dict[str, str]:
    channel_id = slack.channel_id(channel)
    user_id = slack.user(user).id
    return {"token": "x", "team_id": slack.team_id, "channel_id": channel_id,
            "channel_name": channel.lstrip("#"), "user_id": user_id, "user_name": user,
            "command": "/review", "text": text, "trigger_id": "1.2.3",
            "response_url": slack.response_url(channel=channel_id, user=user_id)}




Ask = Callable[..., dict[str, Any]]


@pytest.fixture(params=["http", "socket_mode"])
def ask(request: pytest.FixtureRequest, world: dict[str, Any]) -> Ask:
    """Send ``/review TEXT`` the chosen way; return the answer posted to response_url."""
    slack: SlackSandbox = world["slack"]

    def send(text: str, user: str = "alice.nguyen", channel: str = CHANNEL) -> dict[str, Any]:
        body = payload(slack, text, user, channel)
        started = time.monotonic()
        if request.param == "http":
            form = urlencode(body)
            answer = httpx.post(world["url"], content=form, headers=signed(form), timeout=5)
            assert answer.status_code == 200
        else:
            app: App = world["app"]
            assert app.dispatch(BoltRequest(mode="socket_mode", body=body)).status == 200
        assert time.monotonic() - started < 3
        wait_for(lambda: bool(slack.responses(body["response_url"])))
        [said] = slack.responses(body["response_url"])
        return said

    return send


def shown(answer: dict[str, Any]) -> str:
    return json.dumps(answer, ensure_ascii=False)


@pytest.mark.parametrize(("text", "needles"), [
    ("", ["/review projects", "--share"]),
    ("help", ["/review bom", "| off | now] [--quiet]`", "[--exclude R,TP,*.SchDoc] [--replies]`",
              "only they may `subscribe`, `unsubscribe`, or set, stop (`off`) or post (`now`)"]),
    ("workspaces", ["Acme Robotics", "eu-central"]),
    ("projects", ["14 projects", "page 1 of 2", "Next page"]),
    ("projects fixture", ["6 projects matching", "Test Fixture 00"]),
    ("project motor controller", ["Last revision by", "Threads: *4* open",
                                  "BOM: Default *31* lines · *84* placed (1 not fitted); "
                                  "Lite *30* lines · *80* placed (5 not fitted)"]),
    ("project audio", ["Audio Amplifier", "read from Nexar just now"]),
    ("bom motor lite U3", ["variant *Lite* · *1* of 30 lines matching “U3”", "TPS62133RGTR"]),
    ("bom motor controller TPS62133", ["variant *Default*", "`U3`"]),
    ("bom iot", ["BOM of IoT Sensor Node", "lines"]),
    ("comments motor", ["open threads in Motor Controller", "#6", "Power.SchDoc"]),
    ("comments motor resolved", ["resolved thread", "#2"]),
    ("comments motor all", ["threads in Motor Controller", "#1", "#2"]),
    ("thread motor controller 3", ["thread #3", REPLY_TEXT]),
    ("nets motor", ["nets of Motor Controller", "GND", "mm ·", "pads"]),
    ("nets motor gnd", ["1 net of Motor Controller"]),
    ("part TPS62133", ["Used in", "Motor Controller", "U3"]),
    ("changes motor", ["10 changes in Motor Controller",
                       "U3 replaced: TPS62130RGTR → TPS62133RGTR (Default, Lite)",
                       "Bob Schmidt opened thread #6 on Power.SchDoc: C12 sits",
                       "Dev Patel reopened thread #1 on MotorController.PcbDoc"]),
    ("changes motor 1w", ["changes in Motor Controller"]),
    ("subscriptions", ["This channel follows", "Motor Controller", "comments, bom"]),
    ("status", ["Last poll just now: ", "events waiting for Slack"]),
])
def test_every_command_answers(ask: Ask, text: str, needles: list[str]) -> None:
    answer = ask(text)
    assert answer.get("response_type") == "ephemeral"
    for needle in needles:
        assert needle in shown(answer), needle


def test_digest_from_slack(ask: Ask, world: dict[str, Any]) -> None:
    assert "gets no digest" in shown(ask("digest"))
    refused = shown(ask("digest daily 09:00", user="bob.schmidt"))
    assert "Only the bot's admins" in refused
    posts = len(world["slack"].messages(CHANNEL))
    for change in ("digest now", "digest off", "digest weekly mon 09:00 --quiet"):
        assert "Only the bot's admins" in shown(ask(change, user="bob.schmidt")), change
    assert "gets no digest" in shown(ask("digest", user="bob.schmidt"))
    assert len(world["slack"].messages(CHANNEL)) == posts
    bad = shown(ask("digest weekly someday 9:00"))
    assert "Accepted: daily HH:MM" in bad
    done = shown(ask("digest weekdays 08:30 America/New_York"))
    assert "every weekday at 08:30 (America/New_York)" in done
    assert "every weekday at 08:30" in shown(ask("digest"))
    posted = shown(ask("digest now"))
    assert "Posted this channel's digest" in posted
    slack: SlackSandbox = world["slack"]
    assert any("digest:now:" in str(m.metadata) for m in slack.messages(CHANNEL))
    assert "turned off" in shown(ask("digest off"))


def test_share_posts_in_channel(ask: Ask) -> None:
    assert ask("status --share")["response_type"] == "in_channel"


@pytest.mark.parametrize("text", ["comments motor", "changes motor", "thread motor c 6"])
def test_hostile_text_from_altium_is_escaped_once(ask: Ask, text: str) -> None:
    answer = shown(ask(text))
    assert "<!channel>" not in answer and "&lt;!channel&gt;" in answer
    assert "&amp;lt;" not in answer and "&amp;gt;" not in answer and "&amp;amp;" not in answer


def test_changes_read_like_the_alerts(ask: Ask) -> None:
    """The log says what a person reads in the channel, never the event kinds' names."""
    answer = shown(ask("changes motor"))
    for internal in ("project_created", "revision_committed", "part_replaced", "thread_opened",
                     " -> ", "&amp;"):
        assert internal not in answer.replace("&amp; &lt;@", ""), internal
    assert "New revision by Alice Nguyen: Swap buck converter, add test point" in answer
    assert "TP9 added: Keystone Electronics 5019 (Default)" in answer
    assert "U5 marked not fitted: Texas Instruments INA240A1PWR (Default)" in answer


def test_bom_counts_lines_and_placements_and_lists_every_line(ask: Ask) -> None:
    """A BOM line is one part with its designators: the head's count is the rows shown."""
    answer = ask("bom motor controller")
    body = "\n".join(b["text"]["text"] for b in answer["blocks"] if b["type"] == "section")
    head, *rows = body.splitlines()
    assert head.endswith("variant *Default* · *31* lines · *84* placed (1 not fitted)")
    assert len(rows) == 31 and all(row.startswith("`") for row in rows)
    assert sum(int(row.split(" ×")[1].split()[0]) for row in rows) == 85
    assert "`U5, U6` ×2 · 1 fitted" in body
    assert "`TP9` ×1 · fitted · *Keystone Electronics 5019* · Test point, SMD\n" in body
    assert "`U3` ×1 · fitted · *Texas Instruments TPS62133RGTR*\n" in body


def test_no_age_says_just_now_ago(ask: Ask) -> None:
    for text in ("status", "comments motor", "project motor controller", "bom iot"):
        answer = shown(ask(text))
        assert "just now" in answer and "just now ago" not in answer


@pytest.mark.parametrize(("text", "needle"), [
    ("bom test", "could be several projects"),
    ("bom nonexistent thing", "No project is called"),
    ("thread motor controller 99", "has no thread #99"),
    ("comments motor controller sideways", "Show `open`, `resolved` or `all`"),
    ("changes motor controller yesterday", "is not a time"),
    ("boom", "Did you mean `bom`"),
    ("“bom” “motor controller” U3", "variant *Default*"),
])
def test_bad_input_gets_a_helpful_answer(ask: Ask, text: str, needle: str) -> None:
    assert needle in shown(ask(text))


def test_subscribe_and_unsubscribe_with_admins(ask: Ask, world: dict[str, Any]) -> None:
    refused = shown(ask("subscribe usb-c", user="bob.schmidt", channel="#hw-review"))
    assert "Only the bot's admins" in refused
    done = shown(ask("subscribe usb-c bom --exclude TP,*.SchDoc", channel="#hw-review"))
    assert "now follows *USB-C PD Charger*: bom" in done and "public channel" in done
    assert "not documents *.SchDoc; not designators TP" in done
    listed = shown(ask("subscriptions", channel="#hw-review"))
    assert "USB-C PD Charger" in listed
    gone = shown(ask("unsubscribe usb", channel="#hw-review"))
    assert "no longer follows *USB-C PD Charger*" in gone


def test_subscribe_with_replies_says_so_and_again_without_turns_it_off(
        ask: Ask, world: dict[str, Any]) -> None:
    refused = shown(ask("subscribe usb-c --replies", user="bob.schmidt", channel="#hw-review"))
    assert "Only the bot's admins" in refused
    on = shown(ask("subscribe usb-c --replies", channel="#hw-review"))
    assert "Replies in the threads of its thread cards go to Altium 365 as comments" in on
    assert "can read these design-review posts, and join to answer in Altium 365." in on
    assert "— replies go to Altium 365 —" in shown(ask("subscriptions", channel="#hw-review"))
    with Store.open(world["db"]) as store:
        [sub] = [s for s in store.subscriptions() if s.project == "USB-C PD Charger"]
        assert sub.replies and sub.channel == world["slack"].channel_id("#hw-review")
    off = shown(ask("subscribe usb-c", channel="#hw-review"))
    assert "Replies here no longer go to Altium 365 (add `--replies` to keep them)." in off
    assert "design-review posts." in off and "join to answer" not in off
    assert "replies go to Altium 365" not in shown(ask("subscriptions", channel="#hw-review"))
    assert "no longer follows" in shown(ask("unsubscribe usb", channel="#hw-review"))


def test_subscribe_where_the_bot_is_not_refuses_and_saves_nothing(
        ask: Ask, world: dict[str, Any]) -> None:
    refused = shown(ask("subscribe usb-c", channel="#general"))
    assert "`/invite @review-bot`" in refused and "Nothing was saved" in refused
    with Store.open(world["db"]) as store:
        assert store.subscriptions(channel=world["slack"].channel_id("#general")) == []
        assert store.subscriptions(channel="#general") == []


def test_projects_next_page_button(world: dict[str, Any]) -> None:
    slack: SlackSandbox = world["slack"]
    body = payload(slack, "projects")
    app: App = world["app"]
    app.dispatch(BoltRequest(mode="socket_mode", body=body))
    wait_for(lambda: bool(slack.responses(body["response_url"])))
    first = slack.responses(body["response_url"])[0]
    button = next(e for b in first["blocks"] if b["type"] == "actions" for e in b["elements"])
    action = {"type": "block_actions", "user": {"id": slack.user("bob.schmidt").id},
              "channel": {"id": slack.channel_id(CHANNEL)}, "team": {"id": slack.team_id},
              "response_url": body["response_url"], "trigger_id": "1.2",
              "actions": [{"action_id": button["action_id"], "value": button["value"],
                           "type": "button", "block_id": "b"}]}
    response = app.dispatch(BoltRequest(mode="socket_mode", body=action))
    assert response.status == 200
    wait_for(lambda: len(slack.responses(body["response_url"])) == 2)
    second = shown(slack.responses(body["response_url"])[1])
    assert "page 2 of 2" in second and "replace_original" in second


def test_forged_and_stale_requests_are_refused(world: dict[str, Any]) -> None:
    form = urlencode(payload(world["slack"], "status"))
    forged = httpx.post(world["url"], content=form, headers=signed(form, secret="nope"))
    stale = httpx.post(world["url"], content=form, headers=signed(form, age=360))
    assert (forged.status_code, stale.status_code) == (401, 401)


SHARED = "IoT Sensor Node"


def dispatched(app: App, slack: SlackSandbox, text: str, user: str = "alice.nguyen",
               channel: str = CHANNEL) -> str:
    """``/review TEXT`` through bolt, the answer posted to response_url, as JSON."""
    body = payload(slack, text, user, channel)
    assert app.dispatch(BoltRequest(mode="socket_mode", body=body)).status == 200
    wait_for(lambda: bool(slack.responses(body["response_url"])))
    [said] = slack.responses(body["response_url"])
    return shown(said)


@pytest.fixture(scope="module")
def shared_only(world: dict[str, Any]) -> App:
    """The same bot, with only one project shared with Slack (REVIEW_BOT_PROJECTS)."""
    slack: SlackSandbox = world["slack"]
    altium: AltiumSandbox = world["altium"]
    return build_app(client=WebClient(token=slack.bot_token, base_url=slack.api_url),
                     signing_secret=SECRET, db_path=str(world["db"]),
                     nexar=lambda: NexarClient(token=altium.token, api_url=altium.api_url),
                     policy=Policy(shared=frozenset({SHARED.casefold()})))


@pytest.mark.parametrize("template", [
    "project {}", "bom {}", "bom {} U3", "comments {} all", "thread {} 1", "changes {}",
    "nets {}", "subscribe {}", "unsubscribe {}", "project {} --share"])
def test_an_unshared_project_is_answered_like_a_missing_one(
        world: dict[str, Any], shared_only: App, template: str) -> None:
    """Not "is not shared with Slack": the same words as for a name nobody uses."""
    slack: SlackSandbox = world["slack"]
    for unshared, missing in (("Motor Controller", "Nowhere Project"),
                              ("motor", "nowhr"), ("a", "q")):
        answer = dispatched(shared_only, slack, template.format(unshared))
        other = dispatched(shared_only, slack, template.format(missing))
        assert answer == other.replace(missing, unshared), (answer, other)
        assert "shared" not in answer


def test_unshared_projects_are_never_named(world: dict[str, Any], shared_only: App) -> None:
    """Suggestions, lists, where-used, subscriptions: only the shared project is named."""
    slack: SlackSandbox = world["slack"]
    altium: AltiumSandbox = world["altium"]
    hidden = [p.name for p in altium.projects() if p.name != SHARED]
    assert "Motor Controller" in hidden
    for text in ("projects", "projects o", "project Motor Controler", "bom moto",
                 "comments audio amp", "part TPS62133", "part R", "subscriptions", "status",
                 "changes moto 1w", "unsubscribe motor", "project t"):
        answer = dispatched(shared_only, slack, text)
        if text.startswith("part"):  # library parts may be described in any words
            answer = answer.partition("Used in")[2].partition("In the library")[0]
            assert answer
        for name in hidden:
            assert name not in answer and name.casefold() not in answer.casefold(), (text, name)
    assert SHARED in dispatched(shared_only, slack, "projects")
    suggested = dispatched(shared_only, slack, "project IoX Sensor Node")
    assert "Did you mean: IoT Sensor Node?" in suggested


@pytest.fixture
def slack_db(world: dict[str, Any]) -> Path:
    return Path(world["db"])


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_any_text_gets_an_answer(world: dict[str, Any], text: str) -> None:
    slack: SlackSandbox = world["slack"]
    body = payload(slack, text)
    response = world["app"].dispatch(BoltRequest(mode="socket_mode", body=body))
    assert response.status == 200
    wait_for(lambda: bool(slack.responses(body["response_url"])))
    [said] = slack.responses(body["response_url"])
    assert said.get("text")


def test_mention_answers_like_the_command(world: dict[str, Any]) -> None:
    slack: SlackSandbox = world["slack"]
    alice = slack.user("alice.nguyen").id
    ts = slack.post_as("alice.nguyen", CHANNEL, f"<@{slack.bot_user_id}> comments motor c")
    event = {"type": "event_callback", "team_id": slack.team_id, "api_app_id": "A1",
             "event_id": "Ev2", "event_time": int(time.time()),
             "event": {"type": "app_mention", "user": alice, "channel":
                       slack.channel_id(CHANNEL), "ts": ts,
                       "text": f"<@{slack.bot_user_id}> comments motor c"}}
    assert world["app"].dispatch(BoltRequest(mode="socket_mode", body=event)).status == 200
    def answered() -> list[object]:
        return [e for e in slack.ephemerals(user=alice) if e.thread_ts == ts]

    wait_for(lambda: bool(answered()))
    assert "open threads in Motor Controller" in str(answered()[-1])


def test_an_altium_link_unfurls(world: dict[str, Any]) -> None:
    slack: SlackSandbox = world["slack"]
    altium: AltiumSandbox = world["altium"]
    project = altium.project(PROJECT)
    url = f"{altium.workspace_url}/designs/{project.project_id}"
    ts = slack.post_as("bob.schmidt", CHANNEL, f"see <{url}>")
    event = {"type": "event_callback", "team_id": slack.team_id, "api_app_id": "A1",
             "event_id": "Ev3", "event_time": int(time.time()),
             "event": {"type": "link_shared", "user": slack.user("bob.schmidt").id,
                       "channel": slack.channel_id(CHANNEL), "message_ts": ts,
                       "links": [{"domain": "acme-robotics.365.altium.com", "url": url}]}}
    assert world["app"].dispatch(BoltRequest(mode="socket_mode", body=event)).status == 200
    wait_for(lambda: bool(slack.unfurls(CHANNEL, ts)))
    assert "Threads: *4* open" in json.dumps(slack.unfurls(CHANNEL, ts))
