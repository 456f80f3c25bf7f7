"""Cards: every kind renders within Slack's limits, and Altium text is always escaped."""

from __future__ import annotations

import re
from dataclasses import replace
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack.cards import REPLY_HINT, Cards
from state.model import Event, Person
from state.store import Subscription
from state.supply import PartKey, SupplyFacts, Thresholds
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


# -- supply facts beside new parts ---------------------------------------------------------

BUCK = PartKey(mpn="TPS62133RGTR", manufacturer="Texas Instruments")
CONNECTOR = PartKey(mpn="5019", manufacturer="Keystone Electronics")
OLD_BUCK = PartKey(mpn="TPS62130RGTR", manufacturer="Texas Instruments")
CHECKED = "2026-11-28T08:00:00.000Z"


def supplied(key: PartKey, **values: object) -> SupplyFacts:
    base: dict[str, object] = {"lifecycle": "Production", "stock": 12_400, "price_1k": 0.4213,
                               "currency": "USD", "lead_days": 56,
                               "url": f"https://octopart.com/{key.mpn.lower()}"}
    return SupplyFacts(key=key, found=True, checked_at=CHECKED,
                       **{**base, **values})  # type: ignore[arg-type]


def change(kind: str, designator: str, new: PartKey | None, old: PartKey | None = None
           ) -> Event:
    return event(kind, variant="Default", designator=designator,
                 new_mpn=new.mpn if new else None,
                 new_manufacturer=new.manufacturer if new else None,
                 old_mpn=old.mpn if old else None,
                 old_manufacturer=old.manufacturer if old else None)


def sub_lines(body: str) -> dict[str, str]:
    """Each BOM line's designator -> the supply line below it."""
    lines = body.splitlines()
    return {re.match(r"`([^`]+)`", above).group(1): below  # type: ignore[union-attr]
            for above, below in pairwise(lines)
            if above.startswith("`") and below.startswith("  ↳ ")}


def test_a_new_part_shows_its_supply_facts_and_a_risky_one_says_why() -> None:
    events = [change("part_replaced", "U3", BUCK, OLD_BUCK),
              change("part_added", "TP9", CONNECTOR),
              change("part_removed", "U7", None, OLD_BUCK)]
    supply = {BUCK: supplied(BUCK, lifecycle="NRND", stock=0, lead_days=140),
              CONNECTOR: supplied(CONNECTOR), OLD_BUCK: supplied(OLD_BUCK, lifecycle="EOL")}
    message = CARDS.bom_change(PROJECT, "Default", events, people=nobody, supply=supply)
    assert_within_limits(message)
    body = texts(message)
    below = sub_lines(body)
    assert set(below) == {"U3", "TP9"}, "the removed part is not judged"
    assert below["U3"].startswith("  ↳ ⚠️ *NRND; no stock; lead time 20 weeks* · ")
    assert "0.4213 USD at 1k" in below["U3"] and "<https://octopart.com/tps62133rgtr|Octopart>" \
        in below["U3"]
    assert below["TP9"] == ("  ↳ Production · 12,400 in stock · 0.4213 USD at 1k · "
                            "lead time 8 weeks · <https://octopart.com/5019|Octopart>")
    assert "⚠️ 1 part at supply risk" in body and "⚠️ 1 part at supply risk" in message.text


def test_stock_is_judged_for_the_quantity_the_variant_places() -> None:
    events = [change("part_added", "R1", CONNECTOR)]
    supply = {CONNECTOR: supplied(CONNECTOR, stock=5_000)}
    one = texts(CARDS.bom_change(PROJECT, "Default", events, people=nobody, supply=supply))
    sixty = texts(CARDS.bom_change(PROJECT, "Default", events, people=nobody, supply=supply,
                                   quantities={CONNECTOR: 60}))
    assert "⚠️" not in one and "5,000 in stock" in one
    assert "⚠️ *low stock (5,000)*" in sixty and "5,000 in stock" not in sixty
    lenient = texts(CARDS.bom_change(PROJECT, "Default", events, people=nobody, supply=supply,
                                     quantities={CONNECTOR: 60},
                                     thresholds=Thresholds(stock_factor=10)))
    assert "⚠️" not in lenient


def test_no_match_says_no_supply_data_and_unknown_facts_say_nothing_but_the_note() -> None:
    unknown = PartKey(mpn="NOT-ASKED-YET")
    events = [change("part_added", "R1", CONNECTOR), change("part_added", "R2", unknown),
              change("part_added", "R3", PartKey(mpn="ALSO-NOT-ASKED"))]
    supply = {CONNECTOR: SupplyFacts(key=CONNECTOR, found=False, checked_at=CHECKED)}
    quiet = CARDS.bom_change(PROJECT, "Default", events, people=nobody, supply=supply)
    assert sub_lines(texts(quiet)) == {"R1": "  ↳ _no supply data_"}
    noted = CARDS.bom_change(PROJECT, "Default", events, people=nobody, supply=supply,
                             supply_note="Supply data follows")
    assert texts(noted).count("Supply data follows") == 1
    assert texts(noted).replace("Supply data follows · ", "") == texts(quiet)
    complete = CARDS.bom_change(PROJECT, "Default", events[:1], people=nobody, supply=supply,
                                supply_note="Supply data follows")
    assert "Supply data follows" not in texts(complete), "no part lacks facts"


def test_the_same_part_on_many_lines_has_its_facts_once() -> None:
    events = [change("part_added", f"R{i}", CONNECTOR) for i in range(1, 6)]
    events.append(change("part_added", "U1", BUCK))
    supply = {CONNECTOR: supplied(CONNECTOR), BUCK: supplied(BUCK, lifecycle="EOL")}
    body = texts(CARDS.bom_change(PROJECT, "Default", events, people=nobody, supply=supply))
    assert set(sub_lines(body)) == {"R1", "U1"}
    assert body.count("_supply as above_") == 4
    assert "⚠️ *EOL*" in body


def test_one_bad_part_never_breaks_the_message() -> None:
    """Facts that cannot be judged (a stock that is no number) leave that part without a
    supply line; the other parts keep theirs."""
    events = [change("part_added", "R1", CONNECTOR), change("part_added", "U1", BUCK)]
    supply = {CONNECTOR: supplied(CONNECTOR, stock="plenty"), BUCK: supplied(BUCK)}
    message = CARDS.bom_change(PROJECT, "Default", events, people=nobody, supply=supply,
                               supply_note="Supply data unavailable: bad answer")
    assert_within_limits(message)
    assert set(sub_lines(texts(message))) == {"U1"}
    assert "Supply data unavailable: bad answer" in texts(message)


@pytest.mark.parametrize("field", ["lifecycle", "currency", "url", "manufacturer", "mpn"])
def test_text_from_the_supply_data_is_escaped(field: str) -> None:
    hostile = PartKey(mpn=HOSTILE if field == "mpn" else "X1",
                      manufacturer=HOSTILE if field == "manufacturer" else "Acme")
    values: dict[str, object] = {
        "lifecycle": {"lifecycle": HOSTILE},
        "currency": {"currency": HOSTILE},
        "url": {"url": "https://evil.example/a|<!channel>>x&y"},
    }.get(field, {})
    events = [change("part_added", "R1", hostile)]
    message = CARDS.bom_change(PROJECT, "Default", events, people=nobody,
                               supply={hostile: supplied(hostile, **values)},
                               supply_note=HOSTILE)
    assert_within_limits(message)
    body = texts(message)
    for raw in ("<!channel>", "<@U024BE7LH>", "<https://evil.example|", "<#C123>"):
        assert raw not in body and raw not in message.text
    if field == "url":
        assert "<https://evil.example/a%7C%3C!channel%3E%3Ex&amp;y|Octopart>" in body
    else:
        assert "&lt;!chan" in body


@pytest.mark.parametrize("url", ["javascript:alert(1)", "", "https://octopart.com/" + "x" * 600])
def test_a_link_that_is_odd_or_overlong_is_left_out(url: str) -> None:
    events = [change("part_added", "R1", CONNECTOR)]
    body = texts(CARDS.bom_change(PROJECT, "Default", events, people=nobody,
                                  supply={CONNECTOR: supplied(CONNECTOR, url=url)}))
    assert "Octopart" not in body and "javascript" not in body
    assert "12,400 in stock" in body


@pytest.mark.parametrize("count", [60, 2000])
def test_a_huge_bom_change_with_supply_facts_stays_one_message(count: int) -> None:
    events = bom_events(count)
    long_note = "Supply data unavailable: " + "x" * 2000
    supply = {k: supplied(k, lifecycle=HOSTILE * 3, url="https://octopart.com/" + "p" * 400)
              for k in (PartKey.of_new_part(e) for e in events) if k is not None}
    message = CARDS.bom_change(PROJECT, "Default", events, people=nobody, supply=supply,
                               supply_note=long_note,
                               quantities={k: 1000 for k in supply})
    assert_within_limits(message)
    body = texts(message)
    shown = len(re.findall(r"^`R\d+`", body, flags=re.M))
    more = re.search(r"and (\d+) more change", body)
    assert shown + (int(more.group(1)) if more else 0) == count and shown > 0
    assert "Supply data unavailable" not in body, "every new part has facts"
