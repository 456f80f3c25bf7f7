"""Delivery to the sandbox Slack over real HTTP: threading, batching, faults, exactly once."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.cards import Cards
from jobs.deliver import Deliverer
from jobs.nexar import NexarClient
from jobs.poll import Poller, refresh_catalog
from jobs.slack import SlackClient
from sandbox import AltiumSandbox, SlackSandbox
from sandbox.scenario import HOSTILE_TEXT, PROJECT, REPLY_TEXT, play_review_round
from sandbox.slack.render import render_channel
from state.filters import Filters
from state.model import Event
from state.outbox import Outbox
from state.store import Store
from tests.conftest import FakeClock

CHANNEL = "#design-review"


class Bot:
    """The poll-then-deliver loop of ``review-bot`` wired to both sandboxes."""

    def __init__(self, store: Store, client: NexarClient, slack: SlackSandbox,
                 clock: FakeClock) -> None:
        self.store, self.slack, self.sleeps = store, slack, []  # type: list[float]
        self.poller = Poller(client=client, store=store, clock=clock)
        self.deliverer = Deliverer(
            store=store, slack=SlackClient(token=slack.bot_token, api_url=slack.api_url),
            renderer=Cards(), clock=clock, sleep=self.sleeps.append)

    def cycle(self) -> None:
        self.poller.poll_once()
        report = self.deliverer.deliver()
        assert report.failures == {} and report.paused == {}, report

    def keys(self) -> Counter[tuple[str, str]]:
        """How often each (channel, post key) was posted."""
        return Counter((m.channel, m.metadata["event_payload"]["key"])
                       for m in self.slack.all_posts() if m.metadata)


@pytest.fixture
def bot(store: Store, client: NexarClient, slack: SlackSandbox, clock: FakeClock) -> Bot:
    refresh_catalog(client, store)
    store.subscribe(store.find_project(PROJECT), CHANNEL, ["comments", "bom", "revisions"],
                    at="2026-11-28T08:00:00.000Z")
    return Bot(store, client, slack, clock)


def texts(message: object) -> str:
    return str(getattr(message, "blocks", "")) + str(getattr(message, "text", ""))


def test_first_delivery_is_one_now_tracking_summary(bot: Bot, slack: SlackSandbox) -> None:
    bot.cycle()
    [welcome] = slack.messages(CHANNEL)
    assert "Now tracking" in texts(welcome) and "open threads" in texts(welcome)
    bot.cycle()
    assert len(slack.messages(CHANNEL)) == 1


def test_a_review_round_lands_threaded_batched_and_once(
        bot: Bot, slack: SlackSandbox, altium: AltiumSandbox) -> None:
    bot.cycle()
    play_review_round(altium)
    bot.cycle()
    top = slack.messages(CHANNEL)
    keys = [m.metadata["event_payload"]["key"] for m in top]
    # welcome, then revision, cards for threads 1-3 (started by their activity), 6, BOM x2
    assert [k.split(":")[0] for k in keys] == [
        "welcome", "event", "thread", "thread", "thread", "thread", "bom", "bom"]
    cards = {m.metadata["event_payload"]["key"]: m for m in top if "thread:" in
             m.metadata["event_payload"]["key"]}
    assert len(cards) == 4
    numbers = {}
    for message in cards.values():
        for n in (1, 2, 3, 6):
            if f"thread #{n} " in texts(message):
                numbers[n] = message
    assert set(numbers) == {1, 2, 3, 6}
    assert [len(slack.replies(CHANNEL, numbers[n].ts)) for n in (1, 2, 3, 6)] == [1, 1, 1, 0]
    assert "reopened the thread" in texts(slack.replies(CHANNEL, numbers[1].ts)[0])
    assert REPLY_TEXT in texts(slack.replies(CHANNEL, numbers[3].ts)[0])
    assert "✅ Resolved" in texts(slack.message(CHANNEL, numbers[2].ts))
    assert "🟢 Open" in texts(slack.message(CHANNEL, numbers[1].ts))
    assert slack.edits(CHANNEL, numbers[2].ts)
    boms = [m for m in top if "bom:" in m.metadata["event_payload"]["key"]]
    assert "(Default)" in texts(boms[0]) and "(Lite)" in texts(boms[1])
    assert "1 replaced · 1 removed · 1 added · 1 fitted" in texts(boms[0])
    assert max(bot.keys().values()) == 1
    posts = len(slack.all_posts())
    bot.cycle()
    assert len(slack.all_posts()) == posts
    assert Outbox(bot.store).undelivered() == 0


def test_hostile_text_reaches_slack_as_text(bot: Bot, slack: SlackSandbox,
                                            altium: AltiumSandbox) -> None:
    bot.cycle()
    play_review_round(altium)
    bot.cycle()
    [card] = [m for m in slack.messages(CHANNEL) if "thread #6" in texts(m)]
    raw = texts(card)
    for ping in ("<!channel>", "<@U024BE7LH>", "<https://evil.example"):
        assert ping not in raw
    assert "&lt;!channel&gt;" in raw
    shown = render_channel(slack, CHANNEL)
    assert HOSTILE_TEXT.split(" see ")[0] in shown


def test_every_thread_kind_goes_into_its_thread(bot: Bot, slack: SlackSandbox,
                                                altium: AltiumSandbox) -> None:
    bot.cycle()
    number, _ = altium.open_thread(PROJECT, author="alice.nguyen", text="Is R5 right?")
    bot.cycle()
    altium.reply(PROJECT, number, author="bob.schmidt", text="Yes")
    altium.edit_comment(PROJECT, number, text="Is R5 really right?")
    altium.assign(PROJECT, number, to="dev.patel", by="alice.nguyen")
    altium.resolve(PROJECT, number, by="alice.nguyen")
    bot.cycle()
    altium.reopen(PROJECT, number, by="carla.rossi")
    altium.assign(PROJECT, number, to=None, by="carla.rossi")
    bot.cycle()
    altium.delete_thread(PROJECT, number)
    bot.cycle()
    [card] = [m for m in slack.messages(CHANNEL) if f"thread #{number} " in texts(m)]
    replies = [texts(r) for r in slack.replies(CHANNEL, card.ts)]
    # Status and assignee changes found in one poll share the thread's modifiedAt; the
    # assignment is reported first.
    expected = ["replied", "edited a comment", "assigned the thread to", "resolved the thread",
                "unassigned the thread", "reopened the thread", "deleted in Altium 365"]
    assert len(replies) == len(expected)
    for reply, needle in zip(replies, expected, strict=True):
        assert needle in reply
    assert "🗑 Deleted" in texts(slack.message(CHANNEL, card.ts))


def test_people_are_mentioned_when_slack_knows_them(bot: Bot, slack: SlackSandbox,
                                                    altium: AltiumSandbox) -> None:
    bot.cycle()
    altium.open_thread(PROJECT, author="alice.nguyen", text="A")
    altium.open_thread(PROJECT, author="erik.johansson", text="B")
    altium.open_thread(PROJECT, author="erik.johansson", text="C")
    bot.cycle()
    alice = slack.user("alice.nguyen@acme-robotics.example").id
    cards = [texts(m) for m in slack.messages(CHANNEL)[-3:]]
    assert f"<@{alice}>" in cards[0]
    assert "Erik Johansson" in cards[1] and "<@" not in cards[1].split("Erik")[0][-5:]
    lookups = [c.params.get("email") for c in slack.calls_to("users.lookupByEmail")]
    assert lookups.count("erik.johansson@acme-robotics.example") == 1


def test_a_429_storm_and_500s_delay_but_lose_nothing(bot: Bot, slack: SlackSandbox,
                                                     altium: AltiumSandbox) -> None:
    bot.cycle()
    play_review_round(altium)
    slack.faults.rate_limit(method="chat.postMessage", times=6, retry_after=3)
    slack.faults.http_error(status=500, method="chat.postMessage", times=1)
    slack.faults.drop_connection(method="chat.postMessage", times=1, after=True)
    bot.cycle()
    assert bot.sleeps.count(3.0) == 6
    slack.faults.http_error(status=500, method="chat.postMessage", times=5)
    altium.reply(PROJECT, 3, author="bob.schmidt", text="After the storm")
    bot.poller.poll_once()
    assert bot.deliverer.deliver().failures
    bot.cycle()
    assert max(bot.keys().values()) == 1
    assert Outbox(bot.store).undelivered() == 0
    assert len(slack.messages(CHANNEL)) == 8


def test_slack_down_keeps_events_for_the_next_round(bot: Bot, slack: SlackSandbox,
                                                    altium: AltiumSandbox) -> None:
    bot.cycle()
    play_review_round(altium)
    bot.poller.poll_once()
    slack.faults.http_error(status=503, times=None)
    report = bot.deliverer.deliver()
    assert CHANNEL in report.failures and report.pending > 0
    slack.faults.clear()
    bot.cycle()
    assert Outbox(bot.store).undelivered() == 0
    assert max(bot.keys().values()) == 1


@pytest.mark.parametrize(("breakage", "reason"), [
    ("archive", "is_archived"), ("kick", "not_in_channel")])
def test_a_permanent_error_pauses_and_keeps_events(bot: Bot, slack: SlackSandbox,
                                                   altium: AltiumSandbox, breakage: str,
                                                   reason: str) -> None:
    bot.cycle()
    play_review_round(altium)
    bot.poller.poll_once()
    (slack.archive if breakage == "archive" else slack.kick_bot)(CHANNEL)
    report = bot.deliverer.deliver()
    assert report.paused == {CHANNEL: reason}
    [sub] = bot.store.subscriptions()
    assert sub.paused_reason == reason
    kept = Outbox(bot.store).undelivered(CHANNEL)
    assert kept == 10
    (slack.unarchive if breakage == "archive" else slack.invite_bot)(CHANNEL)
    # Fixed in Slack but not resumed: still paused, still reported, nothing sent.
    again = bot.deliverer.deliver()
    assert again.paused == {CHANNEL: reason} and not again.ok
    assert again.paused_since[CHANNEL] == sub.paused_at
    assert "1 channels paused" in again.health_line() and reason in again.health_line()
    assert Outbox(bot.store).undelivered(CHANNEL) == kept
    bot.store.resume(channel=CHANNEL)
    bot.cycle()
    assert Outbox(bot.store).undelivered() == 0 and max(bot.keys().values()) == 1


def test_a_revoked_token_pauses_everything(bot: Bot, slack: SlackSandbox,
                                           altium: AltiumSandbox) -> None:
    bot.cycle()
    altium.reply(PROJECT, 3, author="bob.schmidt", text="ok")
    bot.poller.poll_once()
    slack.revoke_token()
    report = bot.deliverer.deliver()
    assert report.paused == {CHANNEL: "token_revoked"}
    assert all(s.paused_reason == "token_revoked" for s in bot.store.subscriptions())


def test_a_refused_card_goes_out_as_plain_text(bot: Bot, slack: SlackSandbox,
                                               altium: AltiumSandbox) -> None:
    bot.cycle()
    altium.open_thread(PROJECT, author="bob.schmidt", text="plain please")
    bot.poller.poll_once()
    slack.faults.error("invalid_blocks", method="chat.postMessage", times=1)
    assert bot.deliverer.deliver().ok
    card = slack.messages(CHANNEL)[-1]
    assert "plain please" in texts(card) and len(card.blocks) == 1


def test_filters_hold_back_what_a_channel_does_not_want(
        bot: Bot, slack: SlackSandbox, altium: AltiumSandbox) -> None:
    mc = bot.store.find_project(PROJECT)
    bot.store.subscribe(mc, "#hw-review", ["comments", "bom"], at="2026-11-28T08:00:00.000Z",
                        filters=Filters(exclude_designators=("U",),
                                        include_documents=("*.PcbDoc",)))
    bot.cycle()
    play_review_round(altium)
    bot.cycle()
    hw = slack.messages("#hw-review")
    body = "".join(texts(m) for m in hw)
    assert "`U3`" not in body and "`TP9`" in body
    assert "thread #6" not in body and "new revision" not in body


def test_a_2000_line_bom_change_is_one_message_within_limits(
        bot: Bot, slack: SlackSandbox) -> None:
    bot.cycle()
    mc = bot.store.find_project(PROJECT)
    snap = bot.store.load_snapshot(mc.id)
    assert snap is not None
    events = [Event(kind="part_replaced", project_id=mc.id, project=PROJECT,
                    at="2026-11-28T10:00:00.000Z", variant="Default", designator=f"R{i}",
                    old_mpn="RC0603FR-0710KL", new_mpn="RC0603FR-0747KL",
                    old_manufacturer="Yageo", new_manufacturer="Yageo") for i in range(2000)]
    bot.store.save_snapshot(snap, snap, events, detected_at="2026-11-28T10:00:01.000Z")
    bot.deliverer.deliver()
    [batch] = [m for m in slack.messages(CHANNEL) if "bom:" in m.metadata["event_payload"]["key"]]
    assert len(batch.blocks) <= 50 and "more changes" in texts(batch)
    assert Outbox(bot.store).undelivered() == 0


def test_posts_are_paced_per_channel(bot: Bot, altium: AltiumSandbox) -> None:
    bot.cycle()
    play_review_round(altium)
    bot.cycle()
    assert bot.sleeps and all(0 < s <= 1.0 for s in bot.sleeps)


def test_unsubscribing_drops_what_the_channel_was_still_owed(
        bot: Bot, slack: SlackSandbox, altium: AltiumSandbox) -> None:
    bot.cycle()
    play_review_round(altium)
    bot.poller.poll_once()
    outbox = Outbox(bot.store)
    outbox.plan(at="2026-11-28T10:00:00.000Z")
    assert outbox.undelivered(CHANNEL) == 10
    bot.store.unsubscribe(bot.store.find_project(PROJECT).id, CHANNEL)
    assert outbox.undelivered() == 0
    assert bot.deliverer.deliver().posted == 0


def test_a_paused_channel_is_left_alone(bot: Bot, slack: SlackSandbox,
                                        altium: AltiumSandbox) -> None:
    bot.cycle()
    play_review_round(altium)
    bot.cycle()
    # A card left to refresh when the channel broke must wait for the resume too.
    bot.store.db.execute("update posts set needs_update = 1 where key like 'thread:%'")
    bot.store.db.conn.commit()
    bot.store.pause("is_archived", at="2026-11-28T10:00:00.000Z", channel=CHANNEL)
    calls = len(slack.calls)
    report = bot.deliverer.deliver()
    assert report.paused == {CHANNEL: "is_archived"} and not report.ok
    assert len(slack.calls) == calls
    bot.store.resume(channel=CHANNEL)
    assert bot.deliverer.deliver().updated == 4
