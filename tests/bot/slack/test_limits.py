"""Slack's limits: ``fit`` and ``pages`` against the local Slack's own checks, and every
renderer with the inputs that once stopped delivery: a comment of 600 short lines and a
project name of 50,000 characters."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from bot.listeners.home import home_view
from bot.review.answers import Answers
from bot.review.context import Asker
from bot.review.reply import Reply, page_request
from bot.review.request import Request
from bot.slack.limits import (
    CUT_NOTE,
    MESSAGE,
    RESPONSE,
    VIEW,
    actions,
    button,
    context,
    divider,
    fit,
    header,
    pages,
    section,
    text_size,
    within,
)
from sandbox.slack.blocks import refusal
from state.model import BomLine
from state.store import Store
from tests import factories
from tests.bot.slack.test_escaping import FIELDS, NOW, answer_pages, assert_slack_takes, build_world
from tests.bot.slack.test_escaping import every_payload as payloads

SIX_HUNDRED_LINES = "\n".join(f"R{i}" for i in range(1, 601))


def test_the_six_hundred_line_comment_is_as_the_issue_says() -> None:
    assert len(SIX_HUNDRED_LINES) == 2891


# -- fit -----------------------------------------------------------------------------------

def test_fit_clips_every_block_and_never_sends_an_empty_section() -> None:
    blocks = [header("h" * 400), section("x" * 3500), section(" \n "), section(""),
              context(*(f"c{i}" for i in range(14))), divider(),
              actions(button("b" * 100, "long_label", "v"), button("ok", "too_big", "v" * 2001))]
    assert refusal(blocks) is not None
    text, fitted = fit("", blocks, MESSAGE)
    assert refusal(fitted) is None and text == "review-bot"
    assert [b["type"] for b in fitted] == ["header", "section", "context", "divider", "actions"]
    assert len(fitted[0]["text"]["text"]) == 150 and fitted[0]["text"]["text"].endswith("…")
    assert len(fitted[1]["text"]["text"]) == 3000
    assert len(fitted[2]["elements"]) == 10 and "c13" in fitted[2]["elements"][-1]["text"]
    assert [e["action_id"] for e in fitted[4]["elements"]] == ["long_label"]


def test_fit_keeps_the_total_under_budget_and_the_buttons_last() -> None:
    blocks = [section(f"{i} " + "y" * 2900) for i in range(8)]
    nav = actions(button("Next page ›", "review_page_2", "{}"))
    text, fitted = fit("*head*", [*blocks, nav], MESSAGE)
    assert text == "*head*" and within(fitted, MESSAGE) and refusal(fitted) is None
    assert fitted[-1] == nav and fitted[-2] == context(CUT_NOTE)
    assert text_size(fitted) > MESSAGE.chars - 3000
    many = [section(str(i)) for i in range(120)]
    assert len(fit("t", many, MESSAGE)[1]) == MESSAGE.blocks


def test_fit_never_cuts_inside_an_entity_or_a_link() -> None:
    link = "<https://acme.example/p|" + "y" * 3500 + ">"
    fitted = fit("t", [section("&amp;" * 700), section("a " + link)], MESSAGE)[1]
    first, second = (b["text"]["text"] for b in fitted)
    assert re.search(r"&[a-z]*…", first) is None and second == "a …"
    assert fit("t", [section(link)], MESSAGE)[1] == []


# -- pages ---------------------------------------------------------------------------------

def test_pages_keep_every_line_once_in_order_and_each_page_fits() -> None:
    lines = [f"`R{i}` " + "w" * (50 + i % 200) for i in range(300)]
    chosen = pages(lines, room=RESPONSE, head="*BOM*")
    assert len(chosen) > 2
    shown = [line for page in chosen for text in page for line in text.split("\n")]
    assert shown == lines
    for page in chosen:
        blocks = [section("*BOM*"), *(section(t) for t in page), context("page 1 of 9"),
                  actions(button("Next page ›", "review_page_2", "{}"))]
        assert refusal(blocks, path="response_url") is None and within(blocks, RESPONSE)


def test_a_line_longer_than_a_section_is_clipped_never_empty() -> None:
    lines = ["a" * 2950, "&amp;" * 1000, "b" * 5000, "tail"]
    chosen = pages(lines, room=RESPONSE)
    texts = [t for page in chosen for t in page]
    assert all(0 < len(t) <= 3000 and t.strip() for t in texts)
    assert texts[-1].endswith("tail")


def test_pages_of_a_fixed_size() -> None:
    chosen = pages([f"line {i}" for i in range(14)], room=RESPONSE, per_page=10)
    assert [len(t.split("\n")) for page in chosen for t in page] == [10, 4]
    assert pages([], room=RESPONSE) == [[]]


# -- a 300-line BOM, answered page by page -------------------------------------------------

def big_bom(db: Path, count: int = 300, *, extra: str = "") -> Answers:
    lines = [BomLine(variant="Default", designator=f"R{i}", component_id=f"cmp-{i}",
                     name=f"Thick film chip resistor {i} ohm", comment=f"{i}R 1% 0603 {extra}",
                     description="Thick film resistor, 0603, 1%, 100 mW, AEC-Q200",
                     manufacturer="Yageo Corporation", mpn=f"RC0603FR-07{i:04d}L",
                     fitted=True) for i in range(1, count + 1)]
    with Store.open(db) as store:
        store.sync_catalog("https://acme.example", [factories.project()])
        store.save_snapshot(None, factories.snapshot([], lines), [],
                            detected_at="2026-11-02T08:00:00.000Z")
    return Answers(db_path=str(db), clock=lambda: NOW)


def rows(reply: Reply) -> list[str]:
    return [line for b in reply.blocks or () if b["type"] == "section"
            for line in b["text"]["text"].split("\n") if line.startswith("`")]


def test_a_300_line_bom_answer_comes_in_pages_that_each_fit(db_path: Path) -> None:
    answers = big_bom(db_path)
    request = Request(name="bom", words=("Motor Controller",))
    replies = list(answer_pages(answers, request, Asker(user_id="U1", channel_id="C1")))
    assert len(replies) > 3
    for number, reply in enumerate(replies, 1):
        assert_slack_takes("response_url", reply.text, reply.blocks or [])
        assert_slack_takes("message", reply.text, reply.blocks or [])
        assert f"page {number} of {len(replies)}" in str(reply.blocks)
    shown = [row.split("`")[1] for reply in replies for row in rows(reply)]
    assert shown == [f"R{i}" for i in range(1, 301)]
    assert "Previous" not in str(replies[0].blocks) and "Next" not in str(replies[-1].blocks)


def test_a_request_too_long_for_a_button_asks_for_a_narrower_query(db_path: Path) -> None:
    """A typed command has at most 1,000 characters, but quotes double in a button's JSON."""
    quotes = '"\\' * 500
    answers = big_bom(db_path, extra=quotes)
    words = ("Motor Controller", "Default", quotes)
    reply = answers.answer(Request(name="bom", words=words), Asker(user_id="U1", channel_id="C1"))
    assert_slack_takes("response_url", reply.text, reply.blocks or [])
    assert "*300* of 300 lines" in reply.text and "page 1 of" in str(reply.blocks)
    assert "narrow the question" in str(reply.blocks) and "actions" not in str(reply.blocks)


@pytest.mark.parametrize("value", ["", "[]", "{}", '{"command": "subscribe", "words": ["x"], '
                                   '"page": 2}', '{"command": "bom", "words": "x", "page": 2}'])
def test_a_forged_page_button_is_refused(value: str) -> None:
    assert page_request(value) is None


def test_an_old_projects_pager_button_still_works() -> None:
    assert page_request('{"text": "motor", "page": 2, "share": true}') == Request(
        name="projects", words=("motor",), share=True, options={"page": "2"})


# -- the inputs that once stopped delivery, on every renderer ------------------------------

@pytest.mark.parametrize("fields", [
    {"comment": SIX_HUNDRED_LINES, "reply": SIX_HUNDRED_LINES},
    {"project": "N" * 50_000},
    {"project": "<&>" * 17_000, "variant": "V" * 50_000, "document": "D" * 50_000},
    {"comment": "\n".join(">" for _ in range(1500)), "revision": "&" * 20_000},
], ids=["600-line-comment", "50k-name", "50k-entities", "quote-marks"])
def test_hostile_sizes_fit_every_path(db_path: Path, fields: dict[str, str]) -> None:
    raw = {f: fields.get(f, f"plain {f}") for f in FIELDS}
    world = build_world(db_path, raw)
    seen = set()
    for path, text, blocks in payloads(world):
        assert_slack_takes(path, text, blocks)
        seen.add(path)
    assert seen == {"message", "response_url", "view", "unfurl"}


def test_app_home_of_many_projects_with_huge_names_fits_a_home_tab(db_path: Path) -> None:
    projects = [replace(factories.project(name=f"{i:03d} " + "N" * 5000), id=f"P{i}")
                for i in range(150)]
    with Store.open(db_path) as store:
        store.sync_catalog("https://acme.example", projects)
        for project in projects:
            for channel in ("#a", "#b"):
                store.subscribe(project, channel, ["comments"], at="2026-11-02T08:00:00.000Z",
                                replies=channel == "#a")
        view = home_view(store, {"#a", "#b"})
    assert refusal(view["blocks"], path="view") is None and within(view["blocks"], VIEW)
