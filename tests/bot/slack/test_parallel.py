"""Channels delivered in parallel, and one welcome for a channel's new projects, over real
HTTP to the local Slack and a real database file."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from bot.service import stoppable_sleep
from bot.slack.cards import Cards
from bot.slack.client import SlackClient
from bot.slack.delivery import Deliverer
from bot.slack.limits import MESSAGE, within
from jobs.nexar import NexarClient
from jobs.poll import Poller, refresh_catalog
from sandbox import AltiumSandbox, SlackSandbox
from sandbox.scenario import PROJECT, play_review_round
from state.claims import Claims
from state.clock import stamp
from state.model import EVENT_GROUPS
from state.outbox import Outbox
from state.store import Store
from tests.conftest import FakeClock, wait_for

BUSY = "#design-review"
"""Sorted first, so a delivery one channel after another would start with it."""
QUIET = ("#hw-review", "#layout-review")
OTHERS = ("IoT Sensor Node", "Parallel Board")


class Bot:
    """Poll, then deliver to three channels: ``BUSY`` follows the demo project's review
    round (10 posts); each of ``QUIET`` follows a project of its own."""

    def __init__(self, store: Store, client: NexarClient, slack: SlackSandbox,
                 altium: AltiumSandbox, clock: FakeClock) -> None:
        self.store, self.slack, self.altium, self.clock = store, slack, altium, clock
        altium.add_project(OTHERS[1], copy_bom_from=PROJECT)
        slack.add_channel(QUIET[1])
        refresh_catalog(client, store)
        for project, channel in zip((PROJECT, *OTHERS), (BUSY, *QUIET), strict=True):
            store.subscribe(store.find_project(project), channel, EVENT_GROUPS,
                            at="2026-11-28T08:00:00.000Z")
        self.poller = Poller(client=client, store=store, clock=clock)
        self.poller.poll_once()
        self.deliverer(lambda seconds: None).deliver()  # the welcomes

    def deliverer(self, sleep: object, **options: object) -> Deliverer:
        return Deliverer(store=self.store, slack=SlackClient(token=self.slack.bot_token,
                                                             api_url=self.slack.api_url),
                         renderer=Cards(), clock=self.clock, sleep=sleep,  # type: ignore[arg-type]
                         **options)  # type: ignore[arg-type]

    def backlog(self) -> None:
        """10 posts owed to ``BUSY``; two new threads (a card each) to each of ``QUIET``."""
        play_review_round(self.altium)
        for project in OTHERS:
            for n in range(2):
                self.altium.open_thread(project, author="bob.schmidt", text=f"Is J{n} right?")
        self.clock.advance(minutes=5)
        self.poller.poll_once()

    def keys(self) -> Counter[tuple[str, str]]:
        return Counter((m.channel, m.metadata["event_payload"]["key"])
                       for m in self.slack.all_posts() if m.metadata)


@pytest.fixture
def bot(store: Store, client: NexarClient, slack: SlackSandbox, altium: AltiumSandbox,
        clock: FakeClock) -> Bot:
    return Bot(store, client, slack, altium, clock)


def event_order(store: Store, slack: SlackSandbox, channel: str) -> list[int]:
    """The first event each of a channel's posts carries, in the order Slack took them
    (welcomes, and cards started by a reply, carry none)."""
    carried = {r["key"]: min(Outbox(store).post(channel, r["key"]).event_ids or (0,))
               for r in store.rows("select key from posts where channel = ?", [channel])}
    channel_id = slack.channel_id(channel.lstrip("#"))
    return [carried[m.metadata["event_payload"]["key"]] for m in slack.all_posts()
            if m.channel == channel_id and m.metadata
            and m.metadata["event_payload"]["key"] in carried
            and carried[m.metadata["event_payload"]["key"]] > 0]


def test_channels_go_out_at_once_each_in_order(bot: Bot, slack: SlackSandbox) -> None:
    bot.backlog()
    slack.faults.latency(0.01)
    waited_in: set[str] = set()

    def sleep(seconds: float) -> None:
        waited_in.add(threading.current_thread().name)

    report = bot.deliverer(sleep).deliver()
    assert report.ok and report.posted == 14 and report.pending == 0, report
    # Every channel waited for its turn on a worker of its own.
    assert len(waited_in) == 3 and all(n.startswith("deliver-") for n in waited_in)
    for channel in (BUSY, *QUIET):
        order = event_order(bot.store, slack, channel)
        assert order and order == sorted(order), (channel, order)
    assert max(bot.keys().values()) == 1 and Claims(bot.store).held() == []


def test_one_channels_retry_after_holds_back_no_other(bot: Bot, slack: SlackSandbox) -> None:
    bot.backlog()
    # Slack's pace per channel: a burst of 3, then one post every 7 s (Retry-After: 7).
    slack.enforce_post_rate(1 / 7, burst=3)
    quiet_done: list[bool] = []

    def sleep(seconds: float) -> None:
        # Only the busy channel ever waits; the quiet ones must finish meanwhile.
        wait_for(lambda: all(len(slack.messages(c)) == 3 for c in QUIET), timeout=10)
        quiet_done.append(True)

    report = bot.deliverer(sleep, min_interval=0, max_rate_limit_waits=2).deliver()
    assert quiet_done, "the busy channel never met Slack's pace"
    assert list(report.failures) == [BUSY] and "rate limited" in report.failures[BUSY]
    assert all(Outbox(bot.store).undelivered(c) == 0 for c in QUIET)
    slack.enforce_post_rate(None)
    again = bot.deliverer(lambda seconds: None).deliver()
    assert again.ok and again.pending == 0 and max(bot.keys().values()) == 1


def test_a_stop_ends_every_worker_and_loses_nothing(bot: Bot, slack: SlackSandbox) -> None:
    bot.backlog()
    posts = len(slack.all_posts())
    stop = threading.Event()
    stoppable = stoppable_sleep(stop)

    def sleep(seconds: float) -> None:
        stop.set()  # the bot is told to stop while the first channel waits its turn
        stoppable(seconds)

    report = bot.deliverer(sleep).deliver()
    assert report.stopped and not report.failures, report
    # Each channel's second post waits for its turn, and no wait outlives the stop.
    assert len(slack.all_posts()) - posts <= 3 and report.pending >= 11
    assert Claims(bot.store).held() == []
    again = bot.deliverer(lambda seconds: None).deliver()
    assert again.ok and again.pending == 0 and max(bot.keys().values()) == 1


def test_a_dead_token_pauses_every_channel_mid_run(bot: Bot, slack: SlackSandbox) -> None:
    bot.backlog()
    slack.revoke_token()
    report = bot.deliverer(lambda seconds: None).deliver()
    assert set(report.paused) == {BUSY, *QUIET} and not report.stopped
    assert set(report.paused.values()) == {"token_revoked"}
    assert Claims(bot.store).held() == []


def test_a_ctrl_c_in_one_worker_ends_the_run_and_releases_every_claim(
        bot: Bot, slack: SlackSandbox) -> None:
    bot.backlog()

    def ctrl_c(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bot.deliverer(ctrl_c).deliver()
    assert Claims(bot.store).held() == []
    again = bot.deliverer(lambda seconds: None).deliver()
    assert again.ok and again.pending == 0 and max(bot.keys().values()) == 1


# -- one welcome per channel ---------------------------------------------------------------

def subscribe_all(store: Store, client: NexarClient, channel: str) -> list[int]:
    refresh_catalog(client, store)
    ids = [store.subscribe(store.find_project(name), channel, EVENT_GROUPS,
                           at="2026-11-28T08:00:00.000Z").id
           for name in (PROJECT, *OTHERS)]
    return ids


@pytest.fixture
def three(store: Store, client: NexarClient, altium: AltiumSandbox,
          clock: FakeClock) -> list[int]:
    """Three projects newly subscribed to one channel, baselined."""
    altium.add_project(OTHERS[1], copy_bom_from=PROJECT)
    ids = subscribe_all(store, client, BUSY)
    Poller(client=client, store=store, clock=clock).poll_once()
    return ids


def deliverer(store: Store, slack: SlackSandbox, clock: FakeClock) -> Deliverer:
    return Deliverer(store=store, slack=SlackClient(token=slack.bot_token,
                                                    api_url=slack.api_url),
                     renderer=Cards(), clock=clock, sleep=lambda seconds: None)


def test_projects_new_to_a_channel_are_welcomed_in_one_post(
        store: Store, slack: SlackSandbox, clock: FakeClock, three: list[int]) -> None:
    report = deliverer(store, slack, clock).deliver()
    [welcome] = slack.messages(BUSY)
    assert report.posted == 1 and welcome.text == "Now tracking 3 projects"
    blocks = str(welcome.blocks)
    assert all(name in blocks for name in (PROJECT, *OTHERS)) and "open thread" in blocks
    assert welcome.metadata["event_payload"]["key"] == f"welcome:{three[0]}-{three[-1]}"
    assert all(s.welcomed for s in store.subscriptions(channel=BUSY))
    deliverer(store, slack, clock).deliver()
    assert len(slack.messages(BUSY)) == 1


def test_a_welcome_posted_by_a_killed_run_is_reconciled_not_posted_again(
        store: Store, slack: SlackSandbox, clock: FakeClock, three: list[int]) -> None:
    # What a run killed between the post and its record leaves: the post in Slack, its
    # record still "attempting".
    key = f"welcome:{three[0]}-{three[-1]}"
    channel_id = slack.channel_id(BUSY.lstrip("#"))
    Outbox(store).begin_post(BUSY, key, channel_id=channel_id, thread_ts=None,
                             at=stamp(clock()), welcomes=three)
    SlackClient(token=slack.bot_token, api_url=slack.api_url).post(
        channel_id, text="Now tracking 3 projects", blocks=[], key=key)
    report = deliverer(store, slack, clock).deliver()
    assert report.reconciled == 1 and report.posted == 0, report
    assert len(slack.messages(BUSY)) == 1
    assert all(s.welcomed for s in store.subscriptions(channel=BUSY))


def test_a_welcome_that_never_left_goes_out_once_after_a_kill(
        store: Store, slack: SlackSandbox, clock: FakeClock, three: list[int]) -> None:
    key = f"welcome:{three[0]}-{three[-1]}"
    Outbox(store).begin_post(BUSY, key, channel_id=slack.channel_id(BUSY.lstrip("#")),
                             thread_ts=None, at=stamp(clock()), welcomes=three)
    report = deliverer(store, slack, clock).deliver()
    assert report.reconciled == 0 and report.posted == 1
    [welcome] = slack.messages(BUSY)
    assert welcome.text == "Now tracking 3 projects"
    assert all(s.welcomed for s in store.subscriptions(channel=BUSY))


def test_only_a_welcome_carries_subscriptions(store: Store) -> None:
    with pytest.raises(ValueError, match="only a welcome"):
        Outbox(store).begin_post("#x", "event:1", channel_id="C1", thread_ts=None,
                                 at="2026-11-28T09:00:00.000Z", welcomes=[1])


def test_a_welcome_of_500_projects_fits_one_message_and_says_how_many_more(
        store: Store, three: list[int]) -> None:
    [sub] = [s for s in store.subscriptions(channel=BUSY) if s.id == three[0]]
    line = "• *" + "Power Stage Board " * 4 + "*: *3* open threads (2 resolved) · BOM: …"
    message = Cards().now_tracking_many([(f"{line} {n}", sub) for n in range(500)])
    assert within(message.blocks, MESSAGE) and message.text == "Now tracking 500 projects"
    shown = str(message.blocks).count("Power Stage Board " * 4)
    assert 20 < shown < 500 and f"…and {500 - shown} more, all tracked here." in str(
        message.blocks)
