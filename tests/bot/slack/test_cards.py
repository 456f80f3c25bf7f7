"""Cards: every kind renders within Slack's limits, and Altium text is always escaped."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack.cards import REPLY_HINT, Cards
from state.model import Event, Person
from state.store import Subscription
from tests.bot.messages import HOSTILE, assert_escaped, assert_within_limits, event, texts
from tests.factories import comment, line, project, snapshot, thread

CARDS = Cards()
PROJECT = project()
SLACK_USERS = {"alice@example.com": "U0ALICE"}


def people(email: str | None) -> str | None:
    return SLACK_USERS.get(email or "")


def nobody(email: str | None) -> str | None:
    return None










def test_thread_card_open_with_mention_and_link() -> None:
    t = thread("t1", 6, comment("c1", HOSTILE, author="alice"), comment("c2"), assigned="bob")
    card = CARDS.thread_card(PROJECT, t, people=people)
    assert_within_limits(card)
    assert_escaped(card)
    body = texts(card)
    assert "<@U0ALICE>" in body and "Bob" in body
    assert "🟢 Open" in body and "1 reply in Altium 365" in body
    assert "thread #6 on _Main.PcbDoc_" in body
    assert "<https://acme.example/designs/prj-1|Open in Altium 365>" in body


def test_thread_card_counts_replies_where_they_are() -> None:
    """Replies made in Altium 365 before the channel followed the project are not in the
    card's Slack thread: the count says where it counts."""
    two = thread("t1", 6, comment("c1"), comment("c2"), comment("c3"))
    assert "· 2 replies in Altium 365 ·" in texts(CARDS.thread_card(PROJECT, two,
                                                                     people=nobody))
    alone = texts(CARDS.thread_card(PROJECT, thread("t2", 7), people=nobody))
    assert "· no replies yet ·" in alone and "0 replies" not in alone


def test_thread_card_resolved_and_deleted() -> None:
    t = thread("t1", 2, status=0)
    assert "✅ Resolved" in texts(CARDS.thread_card(PROJECT, t, people=nobody))
    assert "🗑 Deleted" in texts(CARDS.thread_card(PROJECT, t, people=nobody, deleted=True))


def test_thread_card_in_a_replies_channel_says_where_a_reply_goes() -> None:
    t = thread("t1", 6, comment("c1", HOSTILE), assigned="bob")
    card = CARDS.thread_card(PROJECT, t, people=nobody, replies=True)
    assert_within_limits(card)
    assert_escaped(card)
    last = card.blocks[-1]
    assert last["type"] == "context" and last["elements"][-1]["text"] == REPLY_HINT
    assert "🟢 Open" in last["elements"][0]["text"]
    assert REPLY_HINT not in texts(CARDS.thread_card(PROJECT, t, people=nobody))
    deleted = CARDS.thread_card(PROJECT, t, people=nobody, deleted=True, replies=True)
    assert REPLY_HINT not in texts(deleted)


def test_reply_hint_survives_long_text_and_the_plain_fallback() -> None:
    """The card at its longest keeps the hint within Slack's limits, and so does the plain
    card sent when Slack refuses the full one."""
    long_name = "N" * 400
    t = replace(thread("t1", 6, comment("c1", "x" * 5000)), assigned_to=Person(name=long_name))
    card = CARDS.thread_card(replace(PROJECT, name=long_name), t, people=nobody, replies=True)
    assert_within_limits(card)
    assert card.blocks[-1]["elements"][-1]["text"] == REPLY_HINT
    plain = CARDS.plain(card)
    assert_within_limits(plain)
    assert REPLY_HINT in texts(plain) and len(plain.blocks) == 2
    without = CARDS.plain(CARDS.thread_card(PROJECT, t, people=nobody))
    assert REPLY_HINT not in texts(without) and len(without.blocks) == 1


@pytest.mark.parametrize(("kind", "extra", "needle"), [
    ("thread_replied", {"text": HOSTILE}, "replied:"),
    ("comment_edited", {"text": HOSTILE}, "edited a comment"),
    ("thread_resolved", {}, "resolved the thread"),
    ("thread_reopened", {}, "reopened the thread"),
    ("thread_assigned", {"assignee": "Dev Patel"}, "assigned the thread to *Dev Patel*"),
    ("thread_assigned", {}, "unassigned the thread"),
    ("thread_deleted", {}, "deleted in Altium 365"),
])
def test_thread_activity(kind: str, extra: dict[str, object], needle: str) -> None:
    message = CARDS.thread_activity(PROJECT, event(kind, thread_number=3, author="Alice",
                                                   author_email="alice@example.com", **extra),
                                    people=people)
    assert_within_limits(message)
    assert needle in texts(message)
    if "text" in extra:
        assert_escaped(message)


def test_notification_texts_read_like_the_alerts() -> None:
    """The short text Slack notifies with (and posts when it refuses a card)."""
    reply = CARDS.thread_activity(PROJECT, event("thread_replied", thread_number=3,
                                                 author="Carla", text="Agreed & done"),
                                  people=nobody)
    assert reply.text == "Motor Controller: Carla replied in thread #3: Agreed &amp; done"
    anonymous = CARDS.revision(PROJECT, event("revision_committed", text="Swap U3"),
                               people=nobody)
    assert anonymous.text == "Motor Controller: New revision by Someone: Swap U3"


def bom_events(count: int) -> list[Event]:
    kinds = ["part_replaced", "part_removed", "part_added", "part_fitted_changed"]
    return [event(kinds[i % 4], variant="Default", designator=f"R{i}", old_mpn="RC0603FR-0710KL",
                  new_mpn=f"ERJ-3EKF{i:04d}V", old_manufacturer="Yageo",
                  new_manufacturer="Panasonic <!here>", fitted=bool(i % 2)) for i in range(count)]


def test_bom_change_is_one_message_grouped_replaced_first() -> None:
    message = CARDS.bom_change(PROJECT, "Default", bom_events(8), people=nobody)
    assert_within_limits(message)
    body = texts(message)
    assert body.index("*Replaced*") < body.index("*Removed*") < body.index("*Added*")
    assert "2 replaced · 2 removed · 2 added · 2 fitted / not fitted" in body
    assert "`R0` Yageo RC0603FR-0710KL → Panasonic &lt;!here&gt; ERJ-3EKF0000V" in body
    assert "more change" not in body


@pytest.mark.parametrize("count", [60, 400, 2000])
def test_a_huge_bom_change_is_trimmed_with_a_count(count: int) -> None:
    message = CARDS.bom_change(PROJECT, "Default", bom_events(count), people=nobody)
    assert_within_limits(message)
    body = texts(message)
    shown = len(re.findall(r"^`R\d+`", body, flags=re.M))
    more = re.search(r"and (\d+) more change", body)
    rest = int(more.group(1)) if more else 0
    assert shown + rest == count and shown > 0


def test_revision_and_now_tracking() -> None:
    rev = CARDS.revision(PROJECT, event("revision_committed", author="Carol <!here>",
                                        text="Swap U3", revision_id="r2"), people=nobody)
    assert_within_limits(rev)
    assert "new revision by *Carol &lt;!here&gt;*" in texts(rev)
    snap = snapshot([thread("t1", 1), thread("t2", 2, status=0)],
                    [line("R1"), line("R1", variant="Lite")])
    sub = Subscription(id=1, project_id="P1", project="Motor Controller", channel="#hw",
                       groups=("comments", "bom"), created_at="")
    tracking = CARDS.now_tracking(PROJECT, snap, sub)
    body = texts(tracking)
    assert "*1* open thread (1 resolved)" in body
    assert "BOM: *1* line · *1* placed in each of 2 variants" in body
    assert "you will see comment threads and BOM changes." in body


def test_now_tracking_counts_bom_lines_not_placements() -> None:
    """A BOM line is one part with all its designators; "placed" counts fitted ones."""
    default = [line(f"R{i}") for i in range(1, 6)] + [line("C1", "GRM188"), line("C2", "GRM188")]
    lite = [line(f"R{i}", variant="Lite", fitted=i < 4) for i in range(1, 6)]
    snap = snapshot([], default + lite)
    sub = Subscription(id=1, project_id="P1", project="Motor Controller", channel="#hw",
                       groups=("bom",), created_at="")
    body = texts(CARDS.now_tracking(PROJECT, snap, sub))
    assert ("BOM: Default *2* lines · *7* placed; "
            "Lite *1* line · *3* placed (2 not fitted)") in body
    assert "BOM lines" not in body


def test_bom_change_header_is_escaped_too() -> None:
    """Slack reads entities in plain_text as well: a header is escaped like any text."""
    evil = replace(PROJECT, name="A&B <!here>")
    message = CARDS.bom_change(evil, "Lite", bom_events(1), people=nobody)
    assert message.blocks[0]["text"]["text"] == "BOM change · A&amp;B &lt;!here&gt; (Lite)"


def test_plain_fallback_is_a_single_section() -> None:
    card = CARDS.thread_card(PROJECT, thread("t1", 1, comment("c1", HOSTILE)), people=nobody)
    plain = CARDS.plain(card)
    assert len(plain.blocks) == 1 and plain.text == card.text


@given(st.text(max_size=5000))
def test_any_comment_text_is_escaped_and_fits(text: str) -> None:
    t = replace(thread("t1", 1), comments=(comment("c1", text),))
    card = CARDS.thread_card(PROJECT, t, people=nobody)
    assert_within_limits(card)
    body = card.blocks[1]["text"]["text"]
    assert "<" not in body and ">" not in body.replace("\n>", "\n").lstrip(">")
