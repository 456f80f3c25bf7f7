"""Answering from Slack, end to end: a person's reply in a thread card's Slack thread reaches
the local Altium 365 as one comment, over real HTTP (signed events at ``/slack/events``) and
over Socket Mode, and comes back to Slack only where it should."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.app import build_app
from bot.replies import ReplyWriter, incoming
from bot.server import EVENTS_PATH, HttpServer, SocketMode
from bot.slack.cards import Cards
from bot.slack.client import SlackClient
from bot.slack.delivery import Deliverer
from jobs.nexar import NexarClient, RetryPolicy
from jobs.poll import Poller, refresh_catalog
from sandbox import AltiumSandbox, SlackSandbox
from sandbox.scenario import PROJECT
from state.claims import Claims, reply_claim
from state.replies import REFUSED, WRITTEN, Replies
from state.store import Store
from tests.bot.conftest import REVIEW_BOT
from tests.conftest import FakeClock, wait_for

CHANNEL = "#design-review"
OTHER = "#hw-review"
BOB = "bob.schmidt"
CARLA = "carla.rossi"
FAST = (0.05, 0.1, 0.15)
QUESTION = "Is the 22R gate resistor final?"
MODES = ["http", "socket_mode"]
N = 6
"""The number of the thread the tests reply to, opened after the baseline."""


class TwoWay:
    """Poll and deliver as ``review-bot`` does, with the app listening for Slack's events."""

    def __init__(self, store: Store, db_path: Path, altium: AltiumSandbox,
                 slack: SlackSandbox, clock: FakeClock, mode: str) -> None:
        self.store, self.altium, self.slack = store, altium, slack
        self.db_path = str(db_path)
        self.nexar = NexarClient(token=altium.token, api_url=altium.api_url,
                                 retry=RetryPolicy(attempts=2), sleep=lambda s: None,
                                 timeout=5.0)
        self.poller = Poller(client=self.nexar, store=store, clock=clock)
        self.deliverer = Deliverer(store=store, slack=self.slack_client(), renderer=Cards(),
                                   clock=clock, sleep=lambda s: None)
        self.writer = self.new_writer()
        app = build_app(client=WebClient(token=slack.bot_token, base_url=slack.api_url),
                        signing_secret=slack.signing_secret, db_path=self.db_path,
                        replies=self.writer)
        self.connection: HttpServer | SocketMode
        if mode == "http":
            self.connection = HttpServer(app, host="127.0.0.1", port=0).start()
            slack.event_url = f"http://127.0.0.1:{self.connection.port}{EVENTS_PATH}"
        else:
            self.connection = SocketMode(app, app_token=slack.app_token).start()
            slack.wait_for_socket(timeout=30)
        slack.subscribe_events({"message.channels", "message.groups"})
        slack.event_retry_delays = FAST

    def slack_client(self) -> SlackClient:
        return SlackClient(token=self.slack.bot_token, api_url=self.slack.api_url)

    def new_writer(self, *, delays: tuple[float, ...] = (0.0, 0.0, 0.0)) -> ReplyWriter:
        def nexar() -> NexarClient:
            return NexarClient(token=self.altium.token, api_url=self.altium.api_url,
                               retry=RetryPolicy(attempts=2), sleep=lambda s: None,
                               timeout=5.0)

        return ReplyWriter(db_path=self.db_path, nexar=nexar, slack=self.slack_client(),
                           delays=delays)

    def cycle(self) -> None:
        self.poller.poll_once()
        report = self.deliverer.deliver()
        assert report.failures == {} and report.paused == {}, report

    def card(self, channel: str, number: int) -> str:
        """The ``ts`` of thread ``number``'s card in ``channel``."""
        [ts] = [m.ts for m in self.slack.messages(channel)
                if m.metadata and m.metadata["event_payload"]["key"].startswith("thread:")
                and f"thread #{number}" in str(m.blocks)]
        return ts

    def comments(self, number: int) -> list[Any]:
        return list(self.altium.project(PROJECT).thread(number).comments)

    def close(self) -> None:
        self.connection.stop()
        self.nexar.close()


@pytest.fixture(params=MODES)
def two_way(request: pytest.FixtureRequest, store: Store, db_path: Path,
            altium: AltiumSandbox, slack: SlackSandbox, clock: FakeClock) -> Iterator[TwoWay]:
    """#design-review sends replies, #hw-review only reads; thread #6 is new and carded."""
    bot = TwoWay(store, db_path, altium, slack, clock, request.param)
    try:
        refresh_catalog(bot.nexar, store)
        info = store.find_project(PROJECT)
        store.subscribe(info, CHANNEL, ["comments"], at="2026-11-28T08:00:00.000Z",
                        replies=True)
        store.subscribe(info, OTHER, ["comments"], at="2026-11-28T08:00:00.000Z")
        bot.cycle()
        number, _ = altium.open_thread(PROJECT, author="dev.patel", text=QUESTION)
        assert number == N
        bot.cycle()
        # The events of the bot's own posts are handed over first: a fault a test arms
        # must meet only what the test does.
        slack.wait_for_events(timeout=30)
        yield bot
    finally:
        bot.close()


def written(bot: TwoWay, count: int) -> None:
    """Wait until thread #6 has ``count`` comments and every event was handed over."""
    wait_for(lambda: len(bot.comments(N)) == count, timeout=30)
    bot.slack.wait_for_events(timeout=30)


def link_of(bot: TwoWay, channel: str, ts: str) -> str:
    return str(bot.slack_client().permalink(bot.slack.channel_id(channel), ts))


def test_a_reply_becomes_one_attributed_comment_and_is_marked(two_way: TwoWay) -> None:
    bot, slack = two_way, two_way.slack
    carla = slack.user(CARLA).id
    text = (f"Yes &amp; final: <@{carla}> measured it, see "
            "<https://scope.example/r17|the capture> &lt;3")
    ts = slack.post_as(BOB, CHANNEL, text, thread_ts=bot.card(CHANNEL, N))
    written(bot, 2)
    comment = bot.comments(N)[-1]
    assert comment.text == (
        "Bob Schmidt (via Slack): Yes & final: @Carla Rossi measured it, see the capture "
        f"(https://scope.example/r17) <3\nSlack message: {link_of(bot, CHANNEL, ts)}")
    assert comment.created_by.user_name == bot.altium.user("alice.nguyen").user_name, \
        "written with the bot's own Nexar sign-in"
    wait_for(lambda: "white_check_mark" in slack.message(CHANNEL, ts).reactions)
    reply = Replies(bot.store).get(slack.channel_id(CHANNEL), ts)
    assert reply is not None and (reply.state, reply.comment_id) == (
        WRITTEN, comment.comment_id)
    bob = slack.user(BOB).id
    assert [[a.outcome for a in e.attempts] for e in slack.events_sent()
            if e.event.get("user") == bob] == [["ok"]]


def test_three_retries_of_the_event_make_no_second_comment(two_way: TwoWay) -> None:
    bot, slack = two_way, two_way.slack
    slack.faults.lose_event_answer(times=3)
    slack.post_as(BOB, CHANNEL, "Retried three times", thread_ts=bot.card(CHANNEL, N))
    written(bot, 2)
    bob = slack.user(BOB).id
    [event] = [e for e in slack.wait_for_events(timeout=30) if e.event.get("user") == bob]
    assert len(event.attempts) == 4 and event.attempts[-1].outcome == "ok"
    assert len(bot.comments(N)) == 2
    assert sum("Retried three times" in c.text for c in bot.comments(N)) == 1


def test_the_next_poll_echoes_nothing_here_and_posts_it_in_the_other_channel(
        two_way: TwoWay) -> None:
    bot, slack = two_way, two_way.slack
    card = bot.card(CHANNEL, N)
    ts = slack.post_as(BOB, CHANNEL, "Final, ship it", thread_ts=card)
    written(bot, 2)
    bot.cycle()
    here = slack.replies(CHANNEL, card)
    assert [m.ts for m in here] == [ts], "the reply must not come back into its own thread"
    [there] = slack.replies(OTHER, bot.card(OTHER, N))
    shown = str(there.blocks)
    assert "Bob Schmidt (via Slack)" in shown and "Final, ship it" in shown
    assert "Alice Nguyen" not in shown and "Slack message:" not in shown
    assert "2 replies" not in str(slack.message(CHANNEL, card).blocks)
    bot.cycle()
    assert len(slack.replies(CHANNEL, card)) == 1
    assert len(slack.replies(OTHER, bot.card(OTHER, N))) == 1


def test_an_edit_updates_the_comment(two_way: TwoWay) -> None:
    bot, slack = two_way, two_way.slack
    ts = slack.post_as(BOB, CHANNEL, "22R is final", thread_ts=bot.card(CHANNEL, N))
    written(bot, 2)
    first = bot.comments(N)[-1]
    slack.edit_as(BOB, CHANNEL, ts, "27R is final, sorry")
    wait_for(lambda: "27R is final, sorry" in bot.comments(N)[-1].text, timeout=30)
    comments = bot.comments(N)
    assert len(comments) == 2 and comments[-1].comment_id == first.comment_id
    assert comments[-1].text.startswith("Bob Schmidt (via Slack): 27R is final, sorry\n")


def test_messages_that_are_not_replies_to_a_card_make_nothing(two_way: TwoWay,
                                                              caplog: Any) -> None:
    bot, slack = two_way, two_way.slack
    bot_user = slack.bot_user_id
    before = len(slack.wait_for_events(timeout=30))
    top = slack.post_as(BOB, CHANNEL, "Top-level chatter")
    slack.post_as(CARLA, CHANNEL, "A thread that is not a card", thread_ts=top)
    slack.post_as(BOB, OTHER, "This channel does not send replies",
                  thread_ts=bot.card(OTHER, N))
    slack.post_as(BOB, CHANNEL, f"<@{bot_user}> help", thread_ts=bot.card(CHANNEL, N))
    WebClient(token=slack.bot_token, base_url=slack.api_url).chat_postMessage(
        channel=slack.channel_id(CHANNEL), text="The bot itself",
        thread_ts=bot.card(CHANNEL, N))
    events = slack.wait_for_events(timeout=30)[before:]
    assert len(events) == 5 and all(e.delivered for e in events)
    assert len(bot.comments(N)) == 1
    assert Replies(bot.store).counts() == {}


def test_a_deleted_thread_tells_the_person_in_the_thread(two_way: TwoWay) -> None:
    bot, slack = two_way, two_way.slack
    card = bot.card(CHANNEL, N)
    bot.altium.delete_thread(PROJECT, N)
    ts = slack.post_as(BOB, CHANNEL, "Too late?", thread_ts=card)
    wait_for(lambda: bool(slack.ephemerals(CHANNEL, user=BOB)), timeout=30)
    [note] = slack.ephemerals(CHANNEL, user=BOB)
    assert note.thread_ts == card
    assert "could not be added to Altium 365" in note.text and "not found" in note.text
    channel_id = slack.channel_id(CHANNEL)
    wait_for(lambda: (Replies(bot.store).get(channel_id, ts) or _none()).notice is None)
    reply = Replies(bot.store).get(channel_id, ts)
    assert reply is not None and reply.state == REFUSED and reply.last_error
    assert "white_check_mark" not in slack.message(CHANNEL, ts).reactions


def test_an_unknown_outcome_is_reconciled_not_written_twice(two_way: TwoWay) -> None:
    bot, slack = two_way, two_way.slack
    bot.altium.faults.lose_answer(times=1)
    ts = slack.post_as(BOB, CHANNEL, "Lost on the way back", thread_ts=bot.card(CHANNEL, N))
    written(bot, 2)
    channel_id = slack.channel_id(CHANNEL)
    wait_for(lambda: settled(bot, channel_id, ts), timeout=30)
    report = bot.new_writer().drain()
    assert report.written == 1
    reply = Replies(bot.store).get(channel_id, ts)
    assert reply is not None and reply.state == WRITTEN
    assert reply.comment_id == bot.comments(N)[-1].comment_id
    assert len(bot.comments(N)) == 2


def test_nexar_down_is_retried_then_told(two_way: TwoWay, caplog: Any) -> None:
    bot, slack = two_way, two_way.slack
    bot.altium.faults.http_error(503, times=None)
    ts = slack.post_as(BOB, CHANNEL, "Anyone there?", thread_ts=bot.card(CHANNEL, N))
    channel_id = slack.channel_id(CHANNEL)
    wait_for(lambda: settled(bot, channel_id, ts), timeout=30)
    writer = bot.new_writer(delays=(0.0, 0.0))
    with caplog.at_level(logging.WARNING, logger="bot.replies"):
        for _ in range(3):
            writer.drain()
    reply = Replies(bot.store).get(channel_id, ts)
    assert reply is not None and reply.state == REFUSED
    [note] = slack.ephemerals(CHANNEL, user=BOB)
    assert "could not be reached after 3 tries" in note.text
    assert any("was not written to Altium 365" in r.getMessage() for r in caplog.records)
    bot.altium.faults.clear()
    assert len(bot.comments(N)) == 1


def settled(bot: TwoWay, channel_id: str, ts: str) -> bool:
    """The event's own handler tried the reply, failed for now, and let it go."""
    reply = Replies(bot.store).get(channel_id, ts)
    return (reply is not None and reply.last_error is not None
            and Claims(bot.store).holder(reply_claim(channel_id, ts)) is None)


def _none() -> Any:
    class Nothing:
        last_error = None
        attempts = 0
        notice = "not recorded yet"
    return Nothing()


# -- which events carry a reply (pure) -------------------------------------------------------

BOT = "UBOT"
BASE: dict[str, Any] = {"type": "message", "channel": "C1", "user": "U1", "ts": "2.0",
                        "thread_ts": "1.0",
        "text": "hello"}


@pytest.mark.parametrize(("change", "wanted"), [
    ({}, True),
    ({"subtype": "file_share", "files": [{"name": "a.png", "permalink": "https://f/a"}]}, True),
    ({"subtype": "thread_broadcast"}, True),
    ({"subtype": "channel_join"}, False),
    ({"subtype": "message_deleted"}, False),
    ({"bot_id": "B1"}, False),
    ({"user": BOT}, False),
    ({"thread_ts": None}, False),
    ({"thread_ts": "2.0"}, False),
    ({"text": f"<@{BOT}> bom Motor"}, False),
    ({"text": f"thanks <@{BOT}>"}, True),
])
def test_which_messages_are_replies(change: dict[str, Any], wanted: bool) -> None:
    event = {k: v for k, v in {**BASE, **change}.items() if v is not None}
    assert (incoming(event, bot_user_id=BOT) is not None) == wanted


def test_an_edit_is_read_from_the_changed_message() -> None:
    changed = {**{k: v for k, v in BASE.items() if k != "channel"},
               "text": "hello again", "edited": {"user": "U1", "ts": "3.0"}}
    event: dict[str, Any] = {"type": "message", "subtype": "message_changed", "channel": "C1",
                             "ts": "3.0", "message": changed}
    found = incoming(event, bot_user_id=BOT)
    assert found is not None and (found.ts, found.edited_ts, found.text) == (
        "2.0", "3.0", "hello again")
    bot_edit = {**event, "message": {**event["message"], "bot_id": "B1"}}
    assert incoming(bot_edit, bot_user_id=BOT) is None


def test_files_are_kept_with_their_links() -> None:
    found = incoming({**BASE, "subtype": "file_share", "files": [
        {"name": "scope.png", "permalink": "https://files.example/scope.png"}]})
    assert found is not None and [(f.name, f.link) for f in found.files] == [
        ("scope.png", "https://files.example/scope.png")]



# -- a kill between the write and its record --------------------------------------------------

def test_a_kill_between_the_write_and_its_record_makes_no_second_comment(
        store: Store, db_path: Path, altium: AltiumSandbox, slack: SlackSandbox,
        clock: FakeClock, bot_env: dict[str, str], tmp_path: Path) -> None:
    """``review-bot run`` is killed while Nexar holds the answer to a write it already
    made; the next ``run`` finds the comment by its link instead of writing it again."""
    with NexarClient(token=altium.token, api_url=altium.api_url) as nexar:
        refresh_catalog(nexar, store)
        store.subscribe(store.find_project(PROJECT), CHANNEL, ["comments"],
                        at="2026-11-28T08:00:00.000Z", replies=True)
        poller = Poller(client=nexar, store=store, clock=clock)
        deliverer = Deliverer(store=store, renderer=Cards(), clock=clock, sleep=lambda s: None,
                              slack=SlackClient(token=slack.bot_token, api_url=slack.api_url))
        poller.poll_once()
        deliverer.deliver()
        altium.open_thread(PROJECT, author="dev.patel", text=QUESTION)
        poller.poll_once()
        deliverer.deliver()
    [card] = [m.ts for m in slack.messages(CHANNEL) if "thread #6" in str(m.blocks)]
    env = {**bot_env, "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.api_url,
           "SLACK_SIGNING_SECRET": slack.signing_secret, "PORT": "0",
           "REVIEW_BOT_POLL_INTERVAL": "3600", "PYTHONUNBUFFERED": "1"}
    slack.subscribe_events({"message.channels", "message.groups"})
    slack.event_retry_delays = FAST

    def comments() -> list[Any]:
        return list(altium.project(PROJECT).thread(N).comments)

    first, url = _start(env, tmp_path)
    try:
        slack.event_url = url
        altium.faults.hold_answer()
        ts = slack.post_as(BOB, CHANNEL, "Written, then killed", thread_ts=card)
        assert altium.faults.wait_held(timeout=30)
        assert len(comments()) == 2
        first.kill()
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    altium.faults.release_answer()
    channel_id = slack.channel_id(CHANNEL)
    left = Replies(store).get(channel_id, ts)
    assert left is not None and left.state == "writing"

    second, _ = _start(env, tmp_path)
    try:
        wait_for(lambda: "white_check_mark" in slack.message(CHANNEL, ts).reactions, timeout=30)
    finally:
        second.kill()
        second.wait()
    done = Replies(store).get(channel_id, ts)
    assert done is not None and done.state == WRITTEN
    assert [c.comment_id for c in comments()][-1] == done.comment_id
    assert len(comments()) == 2


def _start(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[str], str]:
    """``review-bot run`` in HTTP mode, once it listens; and its events URL."""
    process = subprocess.Popen([str(REVIEW_BOT), "run"], env=env, cwd=cwd, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    line = process.stdout.readline()
    if "Listening for Slack on" not in line:
        process.kill()
        raise AssertionError(line + process.communicate()[0])
    port = line.split("http://0.0.0.0:")[1].split("/")[0]
    return process, f"http://127.0.0.1:{port}{EVENTS_PATH}"
