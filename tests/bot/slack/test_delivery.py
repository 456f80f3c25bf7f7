"""Delivery to the sandbox Slack over real HTTP: threading, batching, faults, exactly once."""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError

from bot import usecases
from bot.digests import DigestRunner
from bot.service import set_aside_notice, stoppable_sleep
from bot.slack.cards import REPLY_HINT, Cards
from bot.slack.client import SlackClient
from bot.slack.delivery import CLAIM_LEASE, CLAIM_WAIT, Deliverer, DeliveryReport
from bot.slack.digest_layout import render_digest
from bot.slack.message import Message, People, Unrendered
from jobs.nexar import NexarClient
from jobs.poll import Poller, refresh_catalog
from sandbox import AltiumSandbox, SlackSandbox
from sandbox.scenario import HOSTILE_TEXT, PROJECT, REPLY_TEXT, play_review_round
from sandbox.slack.render import render_channel
from state.claims import Claims, Owner, channel_claim
from state.clock import stamp
from state.directory import Directory
from state.errors import BusyError, SetAsideError
from state.filters import Filters
from state.model import Event, ProjectInfo, Snapshot, Thread
from state.outbox import Outbox
from state.store import Store, Subscription
from state.supply import PartKey, Supply, SupplyFacts, Thresholds, new_parts
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


def test_a_card_says_replies_go_to_altium_only_where_they_do(
        bot: Bot, slack: SlackSandbox, altium: AltiumSandbox) -> None:
    """One thread's card has the reply line in the channel subscribed with ``replies`` and
    not in the other; subscribing again without it takes the line off at the next edit."""
    mc = bot.store.find_project(PROJECT)
    bot.store.subscribe(mc, "#hw-review", ["comments"], at="2026-11-28T08:00:00.000Z",
                        replies=True)
    bot.cycle()
    number, _ = altium.open_thread(PROJECT, author="alice.nguyen", text="Is R5 right?")
    bot.cycle()
    [answering] = [m for m in slack.messages("#hw-review") if f"thread #{number} " in texts(m)]
    [elsewhere] = [m for m in slack.messages(CHANNEL) if f"thread #{number} " in texts(m)]
    assert REPLY_HINT in texts(answering) and REPLY_HINT not in texts(elsewhere)
    bot.store.subscribe(mc, "#hw-review", ["comments"], at="2026-11-28T09:00:00.000Z")
    altium.reply(PROJECT, number, author="bob.schmidt", text="Yes")
    bot.cycle()
    [edit] = slack.edits("#hw-review", answering.ts)
    assert "1 reply in Altium 365" in str(edit.blocks) and REPLY_HINT not in str(edit.blocks)


def test_turning_replies_on_or_off_brings_the_cards_already_posted_up_to_date(
        bot: Bot, slack: SlackSandbox, altium: AltiumSandbox) -> None:
    mc = bot.store.find_project(PROJECT)
    bot.cycle()
    number, _ = altium.open_thread(PROJECT, author="alice.nguyen", text="Is R5 right?")
    bot.cycle()
    [card] = [m for m in slack.messages(CHANNEL) if f"thread #{number} " in texts(m)]
    assert REPLY_HINT not in texts(card)
    now = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    usecases.subscribe(bot.store, mc, CHANNEL, [], filters=Filters(), now=now, replies=True)
    bot.deliverer.deliver()
    [on] = slack.edits(CHANNEL, card.ts)
    assert REPLY_HINT in str(on.blocks)
    usecases.subscribe(bot.store, mc, CHANNEL, [], filters=Filters(), now=now, replies=True)
    bot.deliverer.deliver()
    assert len(slack.edits(CHANNEL, card.ts)) == 1, "nothing changed: no edit"
    usecases.subscribe(bot.store, mc, CHANNEL, [], filters=Filters(), now=now)
    bot.deliverer.deliver()
    off = slack.edits(CHANNEL, card.ts)[-1]
    assert len(slack.edits(CHANNEL, card.ts)) == 2 and REPLY_HINT not in str(off.blocks)


@pytest.mark.parametrize("distinct", [False, True])
def test_a_2000_line_bom_change_is_one_message_within_limits(
        bot: Bot, slack: SlackSandbox, clock: FakeClock, distinct: bool) -> None:
    """With the supply facts of every new part, the same part on each line or 2000 parts."""
    bot.cycle()
    mc = bot.store.find_project(PROJECT)
    snap = bot.store.load_snapshot(mc.id)
    assert snap is not None
    events = [Event(kind="part_replaced", project_id=mc.id, project=PROJECT,
                    at="2026-11-28T10:00:00.000Z", variant="Default", designator=f"R{i}",
                    old_mpn="RC0603FR-0710KL",
                    new_mpn=f"RC0603FR-07{i:04d}L" if distinct else "RC0603FR-0747KL",
                    old_manufacturer="Yageo", new_manufacturer="Yageo") for i in range(2000)]
    Supply(bot.store).keep([
        SupplyFacts(key=key, found=True, checked_at=stamp(clock()), lifecycle="EOL",
                    stock=0, price_1k=0.0011, currency="USD", lead_days=200,
                    url=f"https://octopart.com/{key.mpn.lower()}")
        for key in new_parts(events)], at=clock(), asked=2000)
    bot.store.save_snapshot(snap, snap, events, detected_at="2026-11-28T10:00:01.000Z")
    bot.deliverer.deliver()
    [batch] = [m for m in slack.messages(CHANNEL) if "bom:" in m.metadata["event_payload"]["key"]]
    assert len(batch.blocks) <= 50 and "more changes" in texts(batch)
    assert "⚠️ *EOL; no stock; lead time 29 weeks*" in texts(batch)
    assert ("_supply risk as above_" in texts(batch)) is not distinct
    assert Outbox(bot.store).undelivered() == 0


BUCK = PartKey(mpn="TPS62133RGTR", manufacturer="Texas Instruments")
TEST_POINT = PartKey(mpn="5019", manufacturer="Keystone Electronics")


def bom_posts(slack: SlackSandbox) -> dict[str, str]:
    """The BOM change messages of the channel by variant, as text."""
    found = {}
    for message in slack.messages(CHANNEL):
        if "bom:" in message.metadata["event_payload"]["key"]:
            variant = "Lite" if "(Lite)" in texts(message) else "Default"
            found[variant] = texts(message)
    return found


def test_a_bom_change_shows_the_kept_supply_facts_of_its_new_parts(
        bot: Bot, slack: SlackSandbox, altium: AltiumSandbox, clock: FakeClock) -> None:
    bot.cycle()
    Supply(bot.store).keep([SupplyFacts(key=BUCK, found=True, checked_at=stamp(clock()),
                                        lifecycle="NRND", stock=0, lead_days=140,
                                        url="https://octopart.com/tps62133rgtr")],
                           at=clock(), asked=1)
    told: list[list[PartKey]] = []

    def note(keys: list[PartKey]) -> str:
        told.append(keys)
        return "Supply data follows"

    bot.deliverer = Deliverer(
        store=bot.store, slack=SlackClient(token=slack.bot_token, api_url=slack.api_url),
        renderer=Cards(), clock=clock, sleep=bot.sleeps.append, supply_note=note,
        supply_thresholds=Thresholds(max_lead_weeks=30))
    play_review_round(altium)
    bot.cycle()
    boms = bom_posts(slack)
    assert "⚠️ *NRND; no stock* · lead time 20 weeks" in boms["Default"]
    assert "⚠️ *NRND; no stock* · lead time 20 weeks" in boms["Lite"]
    assert boms["Default"].count("Supply data follows") == 1
    assert "Supply data follows" not in boms["Lite"], "every new part of Lite has facts"
    assert told == [[TEST_POINT]]


def test_stock_is_judged_for_how_many_the_variant_places(
        bot: Bot, slack: SlackSandbox, altium: AltiumSandbox, clock: FakeClock) -> None:
    """150 test points in stock cover one placement, not two (100 per placement)."""
    bot.cycle()
    Supply(bot.store).keep([SupplyFacts(key=TEST_POINT, found=True, checked_at=stamp(clock()),
                                        lifecycle="Production", stock=150)],
                           at=clock(), asked=1)
    for designator in ("TP9", "TP10"):
        altium.add_part(PROJECT, designator, mpn=TEST_POINT.mpn,
                        manufacturer=TEST_POINT.manufacturer or "", name="Test point",
                        variant="Default")
    altium.add_part(PROJECT, "TP11", mpn=TEST_POINT.mpn,
                    manufacturer=TEST_POINT.manufacturer or "", name="Test point",
                    variant="Lite")
    bot.cycle()
    boms = bom_posts(slack)
    assert "↳ ⚠️ *low stock (150)* · Production" in boms["Default"]
    assert "↳ Production · 150 in stock" in boms["Lite"]


def test_a_supply_failure_never_holds_a_bom_change_back(
        bot: Bot, slack: SlackSandbox, altium: AltiumSandbox, clock: FakeClock) -> None:
    bot.cycle()

    def broken(keys: list[PartKey]) -> str:
        raise RuntimeError("the note cannot be written")

    bot.deliverer = Deliverer(
        store=bot.store, slack=SlackClient(token=slack.bot_token, api_url=slack.api_url),
        renderer=Cards(), clock=clock, sleep=bot.sleeps.append, supply_note=broken)
    bot.store.db.execute("drop table supply_parts")
    play_review_round(altium)
    bot.poller.poll_once()
    report = bot.deliverer.deliver()
    assert report.ok and report.newly_set_aside == 0
    boms = bom_posts(slack)
    assert set(boms) == {"Default", "Lite"}
    assert "TPS62133RGTR" in boms["Default"] and "↳" not in boms["Default"]
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


# -- poison isolation ----------------------------------------------------------------------

POISON = "POISON-PILL"
OPS = "#hw-review"


class Fragile(Cards):
    """The real cards, failing the way a renderer bug does for a thread opened or a reply
    marked POISON, and building a message far beyond Slack's limits (in full and as plain
    text) for the BOM batch of variant Lite."""

    def thread_card(self, project: ProjectInfo, thread: Thread, *, people: People,
                    deleted: bool = False, replies: bool = False) -> Message:
        if thread.comments and POISON in thread.comments[0].text:
            raise SlackObjectFormationError("text attribute cannot exceed 3000 characters")
        return super().thread_card(project, thread, people=people, deleted=deleted,
                                   replies=replies)

    def thread_activity(self, project: ProjectInfo, event: Event, *,
                        people: People) -> Message:
        if POISON in (event.text or ""):
            raise ValueError("no room for this reply")
        return super().thread_activity(project, event, people=people)

    def bom_change(self, project: ProjectInfo, variant: str, events: Sequence[Event], *,
                   people: People, **supply: Any) -> Message:
        if variant == "Lite":
            section = {"type": "section", "text": {"type": "mrkdwn", "text": "R" * 2900}}
            return Message(text="R" * 41_000, blocks=[section] * 5)
        return super().bom_change(project, variant, events, people=people, **supply)

    def plain(self, message: Message) -> Message:
        if message.text.startswith("R" * 100):
            return message  # its plain form is as big: Slack refuses that too
        return super().plain(message)


def fragile(bot: Bot, clock: FakeClock, renderer: Cards | None = None) -> Deliverer:
    """The bot's delivery with ``Fragile`` cards (or ``renderer``) and an ops channel."""
    bot.deliverer = Deliverer(
        store=bot.store, slack=SlackClient(token=bot.slack.bot_token,
                                           api_url=bot.slack.api_url),
        renderer=renderer or Fragile(), clock=clock, sleep=bot.sleeps.append,
        ops_channel=OPS, ops_notice=set_aside_notice)
    return bot.deliverer


def test_a_post_that_cannot_be_rendered_or_sent_is_set_aside_and_the_rest_goes_out(
        bot: Bot, slack: SlackSandbox, altium: AltiumSandbox, clock: FakeClock) -> None:
    bot.cycle()
    fragile(bot, clock)
    poisoned, _ = altium.open_thread(PROJECT, author="bob.schmidt", text=f"{POISON} R1..R600")
    altium.reply(PROJECT, poisoned, author="carla.rossi", text="An ordinary answer")
    altium.reply(PROJECT, 3, author="dev.patel", text=f"{POISON} in a reply")
    play_review_round(altium)
    bot.poller.poll_once()
    report = bot.deliverer.deliver()

    # Set aside: the card of the poisoned thread, the poisoned reply, the Lite BOM batch.
    assert report.ok and report.newly_set_aside == 3, report
    held = {i.kind: i for i in report.set_aside[CHANNEL]}
    assert set(held) == {"thread card", "thread reply", "BOM batch"}
    assert "SlackObjectFormationError" in held["thread card"].reason
    assert "ValueError: no room for this reply" in held["thread reply"].reason
    assert held["BOM batch"].reason == ("Slack refused it (msg_blocks_too_long, and "
                                        "msg_blocks_too_long as plain text)")
    assert "3 set aside" in report.health_line()
    # Everything else of the same poll went out, once.
    assert Outbox(bot.store).undelivered() == 0
    top = [texts(m) for m in slack.messages(CHANNEL)]
    assert sum("thread #6 " in t for t in top) == 1            # the ordinary new thread
    assert sum("(Default)" in t for t in top) == 1 and not any("(Lite)" in t for t in top)
    assert any(REPLY_TEXT in texts(r) for m in slack.messages(CHANNEL)
               for r in slack.replies(CHANNEL, m.ts))
    # The answer on the poisoned thread is not held back by its card: top level, saying so.
    [outside] = [t for t in top if "An ordinary answer" in t]
    assert f"On thread #{poisoned}" in outside and "set aside" in outside
    assert max(bot.keys().values()) == 1
    # The operators hear once, about all three.
    [notice] = slack.messages(OPS)
    assert "set aside 3 Slack post(s)" in texts(notice) and "review-bot resume" in texts(notice)

    # Later runs neither retry them nor tell the operators again; later events still go.
    posts = len(slack.calls_to("chat.postMessage"))
    again = bot.deliverer.deliver()
    assert again.ok and again.newly_set_aside == 0 and len(again.set_aside[CHANNEL]) == 3
    assert len(slack.calls_to("chat.postMessage")) == posts
    altium.reply(PROJECT, 1, author="bob.schmidt", text="Later, and fine")
    bot.poller.poll_once()
    assert bot.deliverer.deliver().posted == 1
    assert len(slack.messages(OPS)) == 1

    # After an upgrade (the real cards, a sound BOM message), resume sends them once.
    fragile(bot, clock, renderer=Cards())
    assert Outbox(bot.store).resume_set_aside() == 3
    done = bot.deliverer.deliver()
    assert done.ok and done.set_aside == {} and done.posted == 3, done
    assert Outbox(bot.store).undelivered() == 0 and max(bot.keys().values()) == 1
    [card] = [m for m in slack.messages(CHANNEL) if f"thread #{poisoned} " in texts(m)
              and "On thread" not in texts(m)]
    assert POISON in texts(card)
    assert any("(Lite)" in texts(m) for m in slack.messages(CHANNEL))
    assert len(slack.messages(OPS)) == 1


class NoWelcome(Cards):
    def now_tracking(self, project: ProjectInfo, snapshot: Snapshot,
                     subscription: Subscription) -> Message:
        raise TypeError("cannot summarise this project")


def test_a_welcome_that_cannot_be_rendered_holds_back_nothing(
        bot: Bot, slack: SlackSandbox, altium: AltiumSandbox, clock: FakeClock) -> None:
    fragile(bot, clock, renderer=NoWelcome())
    bot.cycle()
    [item] = Outbox(bot.store).set_aside_items()
    assert (item.kind, item.key) == ("now-tracking welcome", "welcome:1")
    assert slack.messages(CHANNEL) == [] and Outbox(bot.store).channels_with_work() == []
    play_review_round(altium)
    bot.cycle()
    assert len(slack.messages(CHANNEL)) == 7 and Outbox(bot.store).undelivered() == 0
    fragile(bot, clock, renderer=Cards())
    Outbox(bot.store).resume_set_aside(CHANNEL)
    bot.cycle()
    assert "Now tracking" in texts(slack.messages(CHANNEL)[-1])


def test_a_digest_set_aside_is_told_once_and_not_sent_again_until_resumed(
        bot: Bot, slack: SlackSandbox, clock: FakeClock) -> None:
    deliverer = fragile(bot, clock)
    broken = Unrendered(text="", blocks=[], reason="could not be rendered (KeyError: 'x')")
    for _ in range(2):
        with pytest.raises(SetAsideError, match="KeyError"):
            deliverer.post_once(CHANNEL, "digest:2026-11-28", broken)
    assert slack.messages(CHANNEL) == [] and len(slack.messages(OPS)) == 1
    Outbox(bot.store).resume_set_aside()
    deliverer.post_once(CHANNEL, "digest:2026-11-28", Message(text="digest", blocks=[]))
    assert [m.text for m in slack.messages(CHANNEL)] == ["digest"]


# -- bounded waits -------------------------------------------------------------------------

def test_a_long_retry_after_stops_the_channel_for_this_run_without_waiting(
        bot: Bot, slack: SlackSandbox, altium: AltiumSandbox, clock: FakeClock) -> None:
    bot.cycle()
    play_review_round(altium)
    bot.poller.poll_once()
    bot.deliverer.max_wait = 10
    slack.faults.rate_limit(times=None, retry_after=60)
    report = bot.deliverer.deliver()
    assert "60s, longer than 10s" in report.failures[CHANNEL] and report.pending == 10
    assert all(wait <= 10 for wait in bot.sleeps)
    slack.faults.clear()
    bot.cycle()
    assert Outbox(bot.store).undelivered() == 0 and max(bot.keys().values()) == 1


def test_a_stop_during_a_wait_ends_delivery_and_loses_nothing(
        bot: Bot, slack: SlackSandbox, altium: AltiumSandbox) -> None:
    bot.cycle()
    play_review_round(altium)
    bot.poller.poll_once()
    stop = threading.Event()
    stop.set()
    bot.deliverer.sleep = stoppable_sleep(stop)
    slack.faults.rate_limit(method="chat.postMessage", times=1, retry_after=3)
    report = bot.deliverer.deliver()
    assert report.stopped and report.pending == 10
    bot.deliverer.sleep = bot.sleeps.append
    bot.cycle()
    assert Outbox(bot.store).undelivered() == 0 and max(bot.keys().values()) == 1


def test_a_600_line_comment_and_a_50000_character_name_go_out_clipped_beside_the_rest(
        bot: Bot, slack: SlackSandbox, altium: AltiumSandbox, client: NexarClient,
        clock: FakeClock) -> None:
    huge = altium.add_project("N" * 50_000, copy_bom_from=PROJECT)
    refresh_catalog(client, bot.store)
    bot.store.subscribe(bot.store.find_project(huge.name), CHANNEL,
                        ["comments", "bom", "revisions"], at="2026-11-28T08:00:00.000Z")
    bot.cycle()
    [welcome] = slack.messages(CHANNEL)  # one "now tracking" list of both projects
    assert "NNNN…" in str(welcome.blocks) and PROJECT in str(welcome.blocks)
    lines = "\n".join(f"R{i}" for i in range(1, 601))
    altium.open_thread(PROJECT, author="bob.schmidt", text=lines)
    altium.open_thread(huge.name, author="carla.rossi", text="Keep-out zone overlaps J2.")
    altium.reply(PROJECT, 3, author="carla.rossi", text=REPLY_TEXT)
    clock.advance(minutes=5)
    bot.cycle()
    assert Outbox(bot.store).set_aside_items() == []
    texts = [str(m.blocks) for m in slack.messages(CHANNEL)]
    assert any(">R1\\n>R2\\n" in t for t in texts)
    assert any("Keep-out zone overlaps J2." in t and "NNNN…" in t for t in texts)
    assert any(REPLY_TEXT in str(r.blocks) for m in slack.messages(CHANNEL)
               for r in slack.replies(CHANNEL, m.ts))
    assert max(bot.keys().values()) == 1
    runner = DigestRunner(store=bot.store, post=bot.deliverer.post_once, render=render_digest,
                          clock=clock)
    assert runner.run_now(CHANNEL) is not None
    assert "NNNN…" in str(slack.messages(CHANNEL)[-1].blocks)


# -- several workers on one database -------------------------------------------------------

OTHER_PROJECT = "IoT Sensor Node"
HW = "#hw-review"
ELSEWHERE = Owner(id="crashed-run", pid=4242, host="ci-3", machine="ci-3/pid:[4026531836]")
"""A worker on another host, which stopped renewing its claims: killed, or its host gone."""


def backlog(bot: Bot, altium: AltiumSandbox, client: NexarClient) -> None:
    """Two channels following two projects, with new threads, replies and BOM changes of
    several polls owed to both, welcomes included."""
    bot.store.subscribe(bot.store.find_project(PROJECT), HW, ["comments", "bom", "revisions"],
                        at="2026-11-28T08:00:00.000Z")
    for channel in (CHANNEL, HW):
        bot.store.subscribe(bot.store.find_project(OTHER_PROJECT), channel,
                            ["comments", "bom", "revisions"], at="2026-11-28T08:00:00.000Z")
    bot.poller.poll_once()
    play_review_round(altium)
    for n in range(4):
        number, _ = altium.open_thread(OTHER_PROJECT, author="bob.schmidt", text=f"Q{n}")
        altium.reply(OTHER_PROJECT, number, author="carla.rossi", text=f"A{n}")
    bot.poller.poll_once()
    altium.swap_part(PROJECT, "U5", mpn="INA240A2PWR", manufacturer="Texas Instruments")
    altium.reply(PROJECT, 1, author="alice.nguyen", text="Moved it.")
    bot.poller.poll_once()


def worker(slack: SlackSandbox, store: Store, clock: FakeClock, **options: Any) -> Deliverer:
    return Deliverer(store=store, slack=SlackClient(token=slack.bot_token,
                                                    api_url=slack.api_url),
                     renderer=Cards(), clock=clock, sleep=lambda seconds: None, **options)


def posted_keys(slack: SlackSandbox) -> Counter[tuple[str, str]]:
    return Counter((m.channel, m.metadata["event_payload"]["key"]) for m in slack.all_posts()
                   if m.metadata)


def test_two_deliverers_at_once_post_every_event_once_per_channel(
        bot: Bot, slack: SlackSandbox, altium: AltiumSandbox, client: NexarClient,
        clock: FakeClock, db_path: Path) -> None:
    backlog(bot, altium, client)
    slack.faults.latency(0.02)
    start = threading.Barrier(2)
    reports: list[DeliveryReport] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        with Store.open(db_path) as own:
            deliverer = worker(slack, own, clock, min_interval=0)
            start.wait()
            try:
                reports.append(deliverer.deliver())
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    keys = posted_keys(slack)
    assert [k for k, n in keys.items() if n > 1] == []
    assert errors == [] and len(reports) == 2
    assert all(r.ok and not r.failures for r in reports), reports
    assert Outbox(bot.store).undelivered() == 0
    owed = bot.store.rows("select channel, post_key from deliveries")
    ids = {name: Directory(bot.store).channel_id(name) for name in (CHANNEL, HW)}
    assert len(owed) > 30 and all((ids[r["channel"]], r["post_key"]) in keys for r in owed)
    assert {c for c, _ in keys} == set(ids.values())
    # Each channel went to one worker; the other skipped it, naming who delivers it.
    skipped = [channel for r in reports for channel in r.busy]
    for r in reports:
        for channel, holder in r.busy.items():
            assert holder.startswith(f"pid {os.getpid()} on host "), holder
            assert f"{channel}: being delivered by pid {os.getpid()}" in r.health_line()
    assert skipped and Claims(bot.store).held() == []


def crash_leftovers(bot: Bot, slack: SlackSandbox, clock: FakeClock) -> tuple[str, str]:
    """What a worker killed mid-delivery leaves in CHANNEL: its claim, a post that reached
    Slack but was never recorded as posted, and one recorded as begun that never left.
    Returns their keys."""
    outbox = Outbox(bot.store)
    assert Claims(bot.store).take(channel_claim(CHANNEL), ELSEWHERE, now=clock(),
                                  lease=CLAIM_LEASE).granted
    outbox.plan(at=stamp(clock()))
    pending = outbox.pending(CHANNEL)
    revision = next(d for d in pending if d.event.kind == "revision_committed")
    bom = next(d for d in pending if d.event.kind.startswith("part_"))
    channel_id = slack.channel_id(CHANNEL.lstrip("#"))
    landed, lost = f"event:{revision.event_id}", f"bom:{bom.event_id}"
    outbox.begin_post(CHANNEL, landed, channel_id=channel_id, thread_ts=None,
                      at=stamp(clock()), event_ids=[revision.event_id])
    SlackClient(token=slack.bot_token, api_url=slack.api_url).post(
        channel_id, text="new revision", blocks=[], key=landed)
    outbox.begin_post(CHANNEL, lost, channel_id=channel_id, thread_ts=None,
                      at=stamp(clock()), event_ids=[bom.event_id])
    return landed, lost


def test_a_channel_claimed_by_a_live_worker_is_left_to_it(
        bot: Bot, slack: SlackSandbox, altium: AltiumSandbox, clock: FakeClock) -> None:
    bot.cycle()
    play_review_round(altium)
    bot.poller.poll_once()
    crash_leftovers(bot, slack, clock)
    posts = len(slack.all_posts())
    clock.advance(seconds=CLAIM_LEASE.total_seconds() - 1)
    report = bot.deliverer.deliver()
    assert len(slack.all_posts()) == posts and report.posted == 0
    assert report.busy == {CHANNEL: "pid 4242 on host ci-3 since 2026-11-28 09:00:00 UTC"}
    assert report.ok and report.pending == 10
    assert [p.key for p in Outbox(bot.store).attempting(CHANNEL)] != []


def test_an_expired_claim_is_taken_over_and_its_posts_reconciled(
        bot: Bot, slack: SlackSandbox, altium: AltiumSandbox, clock: FakeClock,
        caplog: pytest.LogCaptureFixture) -> None:
    bot.cycle()
    play_review_round(altium)
    bot.poller.poll_once()
    landed, lost = crash_leftovers(bot, slack, clock)
    clock.advance(seconds=CLAIM_LEASE.total_seconds())
    with caplog.at_level(logging.WARNING, logger="bot.slack.delivery"):
        report = bot.deliverer.deliver()
    assert report.ok and report.busy == {} and report.reconciled == 1, report
    assert "taking over #design-review from pid 4242 on host ci-3" in caplog.text
    keys = bot.keys()
    assert max(keys.values()) == 1, "the post that landed is not sent again"
    channel_id = slack.channel_id(CHANNEL.lstrip("#"))
    assert keys[(channel_id, landed)] == 1 and keys[(channel_id, lost)] == 1
    assert Outbox(bot.store).undelivered() == 0 and Outbox(bot.store).attempting(CHANNEL) == []
    assert Claims(bot.store).held() == []


def test_the_claim_is_renewed_through_a_long_wait(
        bot: Bot, slack: SlackSandbox, altium: AltiumSandbox, clock: FakeClock,
        db_path: Path) -> None:
    bot.cycle()
    play_review_round(altium)
    bot.poller.poll_once()
    lease = timedelta(seconds=60)
    rival = Store.open(db_path)
    tries: list[bool] = []

    def sleep(seconds: float) -> None:
        # Time passes; another worker keeps asking for the channel meanwhile.
        clock.advance(seconds=seconds)
        tries.append(Claims(rival).take(channel_claim(CHANNEL), Owner.new(), now=clock(),
                                        lease=lease).granted)

    deliverer = worker(slack, bot.store, clock, lease=lease)
    deliverer.sleep = sleep
    slack.faults.rate_limit(method="chat.postMessage", times=1, retry_after=100)
    report = deliverer.deliver()
    rival.close()
    assert report.ok and report.posted == 10 and report.busy == {}, report
    assert clock.now - FakeClock().now >= timedelta(seconds=100)
    assert len(tries) >= 10 and not any(tries), "a renewed claim is never free"
    assert max(bot.keys().values()) == 1 and Claims(bot.store).held() == []


def test_a_claim_lost_while_stalled_stops_the_channel_before_its_next_post(
        bot: Bot, slack: SlackSandbox, altium: AltiumSandbox, clock: FakeClock,
        db_path: Path) -> None:
    bot.cycle()
    play_review_round(altium)
    bot.poller.poll_once()
    lease = timedelta(seconds=60)
    rival = Store.open(db_path)

    def stall(seconds: float) -> None:
        # The process froze for longer than its lease, and another worker took over.
        clock.advance(seconds=61)
        assert Claims(rival).take(channel_claim(CHANNEL), ELSEWHERE, now=clock(),
                                  lease=lease).granted

    deliverer = worker(slack, bot.store, clock, lease=lease)
    deliverer.sleep = stall
    slack.faults.rate_limit(method="chat.postMessage", times=1, retry_after=5)
    posts = len(slack.all_posts())
    report = deliverer.deliver()
    rival.close()
    assert len(slack.all_posts()) == posts and report.posted == 0
    assert report.busy == {CHANNEL: "pid 4242 on host ci-3 since 2026-11-28 09:01:01 UTC"}
    # The post it had begun is left to the new holder, which reconciles it: once, all of it.
    [begun] = Outbox(bot.store).attempting(CHANNEL)
    taker = worker(slack, bot.store, clock, owner=ELSEWHERE).deliver()
    assert taker.ok and taker.posted == 10 and Outbox(bot.store).undelivered() == 0
    assert bot.keys()[(str(begun.channel_id), begun.key)] == 1 and max(bot.keys().values()) == 1


def test_claims_are_released_when_done_on_errors_and_on_ctrl_c(
        bot: Bot, slack: SlackSandbox, altium: AltiumSandbox, clock: FakeClock) -> None:
    bot.cycle()
    assert Claims(bot.store).held() == []
    play_review_round(altium)
    bot.poller.poll_once()
    slack.faults.http_error(status=503, times=None)
    assert CHANNEL in bot.deliverer.deliver().failures
    assert Claims(bot.store).held() == []

    def ctrl_c(seconds: float) -> None:
        raise KeyboardInterrupt

    slack.faults.clear()
    slack.faults.rate_limit(method="chat.postMessage", times=1, retry_after=2)
    bot.deliverer.sleep = ctrl_c
    with pytest.raises(KeyboardInterrupt):
        bot.deliverer.deliver()
    assert Claims(bot.store).held() == []
    bot.deliverer.sleep = bot.sleeps.append
    bot.cycle()
    assert Outbox(bot.store).undelivered() == 0 and max(bot.keys().values()) == 1


def test_a_keyed_post_waits_for_a_channel_being_delivered_then_goes_out_once(
        bot: Bot, slack: SlackSandbox, clock: FakeClock, db_path: Path) -> None:
    bot.cycle()
    other = Store.open(db_path)
    holder = Owner.new()
    assert Claims(other).take(channel_claim(CHANNEL), holder, now=clock(),
                              lease=CLAIM_LEASE).granted
    waits: list[float] = []
    bot.deliverer.sleep = waits.append
    with pytest.raises(BusyError, match=f"#design-review is being delivered by pid "
                                        f"{os.getpid()} on host "):
        bot.deliverer.post_once(CHANNEL, "digest:2026-11-28", Message(text="d", blocks=[]))
    assert sum(waits) == pytest.approx(CLAIM_WAIT) and len(slack.messages(CHANNEL)) == 1

    def holder_finishes(seconds: float) -> None:
        waits.append(seconds)
        Claims(other).release(channel_claim(CHANNEL), holder.id)

    waits.clear()
    bot.deliverer.sleep = holder_finishes
    assert Claims(other).take(channel_claim(CHANNEL), holder, now=clock(),
                              lease=CLAIM_LEASE).granted
    bot.deliverer.post_once(CHANNEL, "digest:2026-11-28", Message(text="d", blocks=[]))
    other.close()
    assert waits[0] == 0.5 and [m.text for m in slack.messages(CHANNEL)][1:] == ["d"]
    assert Claims(bot.store).held() == []
