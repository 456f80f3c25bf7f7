"""Altium text is escaped for Slack exactly once, on every renderer, and Slack takes it.

The mrkdwn API first, then a property: arbitrary text (entities, pings, formatting
characters, emoji, newlines, very long text) in every Altium field, rendered by every card,
answer (every page of it), digest, App Home and unfurl, reads back, once unescaped, as the
text typed (or a clipped start of it), no ``<`` or ``>`` of it reaches Slack raw, and every
payload passes the local Slack's own checks for the path it takes (``refusal``).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.listeners.home import home_view
from bot.listeners.unfurls import unfurl_blocks
from bot.review.answers import Answers
from bot.review.context import Asker
from bot.review.reply import page_request
from bot.review.request import Request
from bot.slack.cards import Cards
from bot.slack.digest_layout import render_digest
from bot.slack.limits import MESSAGE, RESPONSE, UNFURL, VIEW, Room, within
from bot.slack.message import Message
from bot.slack.mrkdwn import Mrkdwn, cut, escape, link, mention
from sandbox.slack.blocks import refusal
from sandbox.slack.render import unescape
from state.clock import parse_stamp
from state.diff import diff
from state.digest_contents import build_digest
from state.model import BomLine, Comment, Person, ProjectInfo, Revision, Snapshot, Thread
from state.store import PollStatus, Store
from state.supply import PartKey, Supply, SupplyFacts
from tests.bot.messages import assert_within_limits

# -- the mrkdwn API ------------------------------------------------------------------------


def test_escape_escapes_the_three_characters_slack_reads() -> None:
    assert escape("a & b <!channel> > c") == "a &amp; b &lt;!channel&gt; &gt; c"
    assert isinstance(escape("x"), Mrkdwn)


def test_escape_cuts_to_the_characters_sent_never_inside_an_entity() -> None:
    assert escape("&&&&", 12) == "&amp;&amp;…"
    assert escape("abcdef", 6) == "abcdef" and escape("abcdefg", 6) == "abcde…"
    assert escape("a\n  b\tc", flat=True) == "a b c"


def test_escaping_twice_fails_loudly() -> None:
    """The mistake that showed people ``-&gt;``: escaping what is already escaped."""
    with pytest.raises(TypeError, match="already escaped"):
        escape(escape("->"), 40)
    with pytest.raises(TypeError):
        link("https://acme.example", escape("A & B"))
    with pytest.raises(TypeError):
        mention(None, escape("Bob <b>"))


def test_cut_never_splits_an_entity_or_a_token() -> None:
    text = "x &amp; <https://acme.example/p|Motor> end"
    for limit in range(1, len(text)):
        shown = cut(text, limit)
        assert len(shown) <= limit and shown.endswith("…")
        assert re.search(r"&[a-z]*…", shown) is None and re.search(r"<[^>]*…", shown) is None
    assert cut(text, len(text)) == text


def test_link_and_mention_escape_their_labels_once() -> None:
    assert link("https://acme.example/p", "A|B & <C>") == \
        "<https://acme.example/p|A¦B &amp; &lt;C&gt;>"
    assert link("javascript:alert(1)", "A & B") == "A &amp; B"
    assert mention("U1", "Bob") == "<@U1>" and mention(None, "Bob & Co") == "Bob &amp; Co"


# -- every renderer, any text --------------------------------------------------------------

FIELDS = ("project", "description", "comment", "reply", "author", "replier", "assignee",
          "document", "designator", "mpn", "manufacturer", "part", "part_comment",
          "part_description", "revision", "variant", "lifecycle")
SPECIAL = ["&", "<", ">", "*", "_", "~", "`", "😀", "\n", " ", "|", "<!channel>", "&amp;",
           "&lt;", "<@U024BE7LH>", "<https://evil.example|x>", "\t\r"]
_piece = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="⟦⟧…"), max_size=10))
_short = st.lists(_piece, max_size=6).map("".join)
_long = st.tuples(st.sampled_from(["&", "<>", "a b ", "😀", "x\n", "*_~`"]),
                  st.integers(min_value=100, max_value=1200)).map(lambda t: t[0] * t[1])
TEXTS = st.fixed_dictionaries({f: st.one_of(_short, _short, _short, _long) for f in FIELDS})

URL = "https://acme.example/designs/prj-1"
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
T_OLD = "2026-11-20T09:00:00.000Z"
T_BASE = "2026-11-27T09:00:00.000Z"
T_NEW = "2026-11-28T08:00:00.000Z"
CHANNEL = "#review"
_TOKEN = re.compile(r"<(!date\^\d+\^[^|<>]*\|[^<>]*|" + re.escape(URL) + r"\|[^<>]*|@U\w+)>")


def marked(field: str, text: str) -> str:
    """The field's text between markers, so it can be found again in what is sent."""
    return f"⟦{field}⟧{text}⟦/{field}⟧"


def _fold(text: str) -> str:
    return " ".join(text.split()).replace("|", "¦")


def readback(sent: str) -> str:
    """What a person reads: our links, dates and mentions by their labels, quote marks
    gone, entities unescaped. Fails when a raw ``<`` or ``>`` of Altium text is left."""
    plain = _TOKEN.sub(lambda m: m.group(1).rpartition("|")[2], sent)
    plain = re.sub(r"(?m)^>", "", plain)
    assert "<" not in plain and ">" not in plain, plain[:400]
    return unescape(plain)


def check(name: str, texts: list[str], values: Mapping[str, str],
          required: tuple[str, ...]) -> None:
    """Each field shown reads back as its text, or a clipped start of it ending in "…"."""
    shown = "\n".join(readback(t) for t in texts)
    for field in FIELDS:
        start = f"⟦{field}⟧"
        found = [m.end() for m in re.finditer(re.escape(start), shown)]
        if field in required:
            assert found, f"{name}: {field} not shown"
        for at in found:
            rest = shown[at:]
            end, clipped = rest.find(f"⟦/{field}⟧"), rest.find("…")
            whole = _fold(values[field])
            if end >= 0 and (clipped < 0 or end < clipped):
                assert _fold(rest[:end]) == whole, f"{name}: {field} changed"
            else:
                assert clipped >= 0, f"{name}: {field} has no end"
                start_of = rest[:clipped].partition("⟦")[0]  # a cut end marker dropped
                assert whole.startswith(_fold(start_of)), f"{name}: {field} changed"


def message_texts(message: Message) -> list[str]:
    return [message.text, *_walk(message.blocks)]


def _walk(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                yield item
            else:
                yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


@dataclass(frozen=True)
class World:
    """A store holding one watched project whose every Altium field is the given text."""

    db: Path
    info: ProjectInfo
    old: Snapshot
    new: Snapshot
    values: Mapping[str, str]


def build_world(db: Path, raw: Mapping[str, str]) -> World:
    v = {f: marked(f, t) for f, t in raw.items()}
    author, replier = Person(name=v["author"]), Person(name=v["replier"])
    info = ProjectInfo(id="P1", project_id="prj-1", workspace_url="https://acme.example",
                       name=v["project"], description=v["description"], url=URL,
                       updated_at=T_NEW,
                       revision=Revision("r2", v["revision"], v["author"], T_NEW))
    first = Comment("c1", v["comment"], author, T_OLD, T_OLD)
    quiet = Thread("t1", 1, 1, T_OLD, T_OLD, author, author, None, "d1", v["document"],
                   (first,))
    talked = replace(quiet, thread_id="t2", number=2, comments=(replace(first, comment_id="c2"),))
    def part(variant: str, designator: str, mpn: str, manufacturer: str) -> BomLine:
        return BomLine(variant=variant, designator=designator, component_id=f"cmp-{mpn}",
                       name=v["part"], comment=v["part_comment"],
                       description=v["part_description"], manufacturer=manufacturer,
                       mpn=mpn, fitted=True)
    fixed = BomLine(variant="Default", designator="R1", component_id="cmp-r", name="10k",
                    comment="10k", description="", manufacturer="Yageo", mpn="RC0603",
                    fitted=True)
    old_bom = {b.key: b for b in (part("Default", v["designator"], "OLD-1", "Old Co"),
                                  part(v["variant"], v["designator"], "OLD-1", "Old Co"),
                                  fixed)}
    new_bom = {b.key: b for b in (part("Default", v["designator"], v["mpn"], v["manufacturer"]),
                                  part(v["variant"], v["designator"], v["mpn"],
                                       v["manufacturer"]), fixed)}
    old = Snapshot(project=replace(info, revision=Revision("r1", "first", "Carol", T_BASE)),
                   threads={"t1": quiet, "t2": talked}, bom=old_bom)
    reply = Comment("c3", v["reply"], replier, T_NEW, T_NEW)
    opened = Thread("t3", 3, 1, T_NEW, T_NEW, author, author, None, "d1", v["document"],
                    (replace(first, comment_id="c4", created_at=T_NEW),))
    new = Snapshot(project=info, threads={
        "t1": quiet,
        "t2": replace(talked, comments=(*talked.comments, reply),
                      assigned_to=Person(name=v["assignee"])),
        "t3": opened}, bom=new_bom)
    with Store.open(db) as store:
        store.sync_catalog("https://acme.example", [info])
        store.save_snapshot(None, old, diff(None, old, at=T_BASE), detected_at=T_BASE)
        store.subscribe(info, CHANNEL, ["comments", "bom", "revisions"], at=T_BASE)
        store.save_snapshot(old, new, diff(old, new, at=T_NEW), detected_at=T_NEW)
        store.record_poll(PollStatus(started_at=T_NEW, finished_at=T_NEW, projects=1, events=9,
                                     failures={v["project"]: f"Nexar refused {v['project']}"}))
        Supply(store).keep([supply_facts(v)], at=parse_stamp(T_NEW), asked=1)
    return World(db=db, info=info, old=old, new=new, values=raw)


def supply_facts(values: Mapping[str, str]) -> SupplyFacts:
    """What the supply data says of the new part: its lifecycle is the world's text."""
    key = PartKey(mpn=values["mpn"], manufacturer=values["manufacturer"])
    return SupplyFacts(key=key, found=True, checked_at=T_NEW, lifecycle=values["lifecycle"],
                       stock=0, price_1k=0.25, currency="USD", lead_days=30,
                       url=URL)


def supplied(world: World) -> dict[PartKey, SupplyFacts]:
    facts = supply_facts({f: marked(f, t) for f, t in world.values.items()})
    return {facts.key: facts}


def no_answer(keys: list[PartKey]) -> dict[PartKey, SupplyFacts]:
    """The supply lookup of ``/review risk``: the new part is fresh in the cache, the other
    part gets no answer (it stays not checked)."""
    assert all(k.mpn == "RC0603" for k in keys), keys
    return {}


def nobody(email: str | None) -> str | None:
    return None


CARD_FIELDS = {
    "thread_opened": ("project", "document", "comment", "author"),
    "thread_replied": ("replier", "reply"),
    "thread_assigned": ("assignee",),
}


def check_cards(world: World) -> None:
    cards, info, values = Cards(), world.info, world.values
    with Store.open(world.db) as store:
        events = [s.event for s in store.events(project_id="P1")]
        [sub] = store.subscriptions()
    for thread, required in ((world.new.threads["t3"], ("project", "document", "comment",
                                                        "author")),
                             (world.new.threads["t2"], ("assignee", "comment"))):
        for deleted in (False, True):
            card = cards.thread_card(info, thread, people=nobody, deleted=deleted)
            assert_within_limits(card)
            check(f"thread card #{thread.number}", message_texts(card), values,
                  ("project", "document") if deleted else required)
    for e in events:
        if e.thread_id is not None:
            message = cards.thread_activity(info, e, people=nobody)
            check(f"activity {e.kind}", message_texts(message), values,
                  CARD_FIELDS.get(e.kind, ()) if e.kind != "thread_opened" else ())
    bom = [e for e in events if e.designator is not None]
    assert bom
    for variant in {e.variant or "" for e in bom}:
        message = cards.bom_change(info, variant, [e for e in bom if e.variant == variant],
                                   people=nobody, supply=supplied(world),
                                   supply_note=values["lifecycle"])
        assert_within_limits(message)
        check("bom change", message_texts(message), values,
              ("project", "designator", "mpn", "manufacturer", "lifecycle"))
    [revision] = [e for e in events if e.kind == "revision_committed"]
    message = cards.revision(info, revision, people=nobody)
    assert_within_limits(message)
    check("revision", message_texts(message), values, ("project", "revision", "author"))
    message = cards.now_tracking(info, world.new, sub)
    assert_within_limits(message)
    check("now tracking", message_texts(message), values, ("project", "revision", "variant"))


ANSWERS = [
    ("project", (), ("project", "description", "revision", "author", "variant")),
    ("bom", (), ("project", "designator", "mpn", "manufacturer", "part")),
    ("comments", ("all",), ("project", "document", "author", "comment")),
    ("thread", ("2",), ("project", "document", "assignee", "author", "replier", "reply")),
    ("changes", (), ("project", "author", "replier", "designator", "revision", "document")),
    ("subscriptions", (), ("project",)),
    ("status", (), ("project",)),
    ("projects", (), ("project", "description")),
    ("risk", (), ("project", "designator", "mpn", "manufacturer", "lifecycle")),
]


def check_answers(world: World) -> None:
    answers = Answers(db_path=str(world.db), clock=lambda: NOW, supply_lookup=no_answer)
    asker = Asker(user_id="U1", channel_id="C1", channel_name=CHANNEL.lstrip("#"))
    name = world.info.name
    for command, extra, required in ANSWERS:
        words = () if command in {"subscriptions", "status", "projects"} else (name, *extra)
        reply = answers.answer(Request(name=command, words=words), asker)
        assert reply.blocks, (command, reply.text)
        assert len(reply.blocks) <= 50 and len(reply.text) <= 3000
        assert all(len(t) <= 3000 for t in _walk(reply.blocks))
        check(f"/review {command}", [reply.text, *_walk(reply.blocks)], world.values,
              required)
    blocks = unfurl_blocks(answers, world.info, user="U1", channel="C1")
    check("unfurl", list(_walk(blocks)), world.values, ("project",))


def check_digest_and_home(world: World) -> None:
    with Store.open(world.db) as store:
        digest = build_digest(store, CHANNEL, NOW - timedelta(days=1), NOW)
        view = home_view(store, {CHANNEL})
    message = render_digest(digest)
    assert_within_limits(message)
    check("digest", message_texts(message), world.values,
          ("project", "document", "author", "designator", "mpn", "revision", "variant",
           "lifecycle"))
    assert all(len(t) <= 3000 for t in _walk(view["blocks"]))
    check("home", list(_walk(view["blocks"])), world.values, ("project",))


ROOMS: dict[str, Room] = {"message": MESSAGE, "response_url": RESPONSE, "view": VIEW,
                          "unfurl": UNFURL}


def answer_pages(answers: Answers, request: Request, asker: Asker) -> Iterator[Any]:
    """Every page of an answer, following its Next page buttons as a person would."""
    seen = 0
    while True:
        reply = answers.answer(request, asker)
        yield reply
        seen += 1
        buttons = [e for b in reply.blocks or () if b["type"] == "actions"
                   for e in b["elements"] if e["text"]["text"].startswith("Next")]
        if not buttons:
            return
        following = page_request(buttons[0]["value"])
        assert following is not None and seen < 200
        request = following


def every_payload(world: World) -> Iterator[tuple[str, str, list[dict[str, Any]]]]:
    """(path, text, blocks) of everything the bot would send about ``world``: every card,
    every page of every answer (on response_url, and as a mention's message), the digest,
    the Home view and an unfurl."""
    cards, info = Cards(), world.info
    with Store.open(world.db) as store:
        events = [s.event for s in store.events(project_id="P1")]
        [sub] = store.subscriptions()
        digest = build_digest(store, CHANNEL, NOW - timedelta(days=1), NOW)
        view = home_view(store, {CHANNEL})
    messages = [cards.thread_card(info, t, people=nobody, deleted=d)
                for t in world.new.threads.values() for d in (False, True)]
    messages += [cards.thread_activity(info, e, people=nobody) for e in events
                 if e.thread_id is not None]
    bom = [e for e in events if e.designator is not None]
    messages += [cards.bom_change(info, v, [e for e in bom if e.variant == v], people=nobody,
                                  supply=supplied(world))
                 for v in {e.variant or "" for e in bom}]
    messages += [cards.revision(info, e, people=nobody) for e in events
                 if e.kind == "revision_committed"]
    messages += [cards.now_tracking(info, world.new, sub), render_digest(digest)]
    messages.append(cards.plain(messages[0]))
    for message in messages:
        yield "message", message.text, message.blocks
    answers = Answers(db_path=str(world.db), clock=lambda: NOW, supply_lookup=no_answer)
    asker = Asker(user_id="U1", channel_id="C1", channel_name=CHANNEL.lstrip("#"))
    for command, extra, _ in ANSWERS:
        words = () if command in {"subscriptions", "status", "projects"} else (info.name, *extra)
        for reply in answer_pages(answers, Request(name=command, words=words), asker):
            yield "response_url", reply.text, reply.blocks or []
            yield "message", reply.text, reply.blocks or []
    yield "view", "home", view["blocks"]
    yield "unfurl", "unfurl", unfurl_blocks(answers, info, user="U1", channel="C1")


def assert_slack_takes(path: str, text: str, blocks: list[dict[str, Any]]) -> None:
    """What the local Slack checks on ``path``, and the bot's own budget under it."""
    assert refusal(blocks, path=path) is None, (path, refusal(blocks, path=path))
    assert within(blocks, ROOMS[path]), path
    assert text.strip() and len(text) <= 3000


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS)
def test_any_altium_text_reads_back_on_every_renderer(raw: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        world = build_world(Path(folder) / "bot.db", raw)
        check_cards(world)
        check_answers(world)
        check_digest_and_home(world)
        for path, text, blocks in every_payload(world):
            assert_slack_takes(path, text, blocks)


def test_the_property_catches_double_escaping() -> None:
    """The check itself: text escaped twice does not read back as typed."""
    values = {f: "a -> b" for f in FIELDS}
    sent = f"x {escape(marked('project', 'a -> b'))} y"
    check("once", [sent], values, ("project",))
    twice = sent.replace("&gt;", "&amp;gt;")
    with pytest.raises(AssertionError, match="project changed"):
        check("twice", [twice], values, ("project",))
