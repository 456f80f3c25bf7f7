"""``/review risk``: a whole stored BOM checked on request, from the cache when fresh, the rest
asked in one request, and many parts only with ``--yes``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.review.answers import Answers
from bot.review.context import Asker
from bot.review.reply import Reply
from bot.review.request import CommandError, Request, parse
from jobs.errors import NexarUnavailableError
from state.clock import stamp
from state.model import BomLine
from state.store import Store
from state.supply import PartKey, Supply, SupplyFacts
from tests import factories
from tests.bot.messages import HOSTILE

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
ASKER = Asker(user_id="U1", channel_id="C1")
BOARD = "Motor Controller"
BUCK = PartKey(mpn="TPS62133RGTR", manufacturer="Texas Instruments")
RESISTOR = PartKey(mpn="RC0603FR-0710KL", manufacturer="Yageo")
TEST_POINT = PartKey(mpn="5019", manufacturer="Keystone Electronics")


def placed(designator: str, key: PartKey, *, variant: str = "Default",
           fitted: bool = True) -> BomLine:
    return factories.line(designator, key.mpn, manufacturer=key.manufacturer or "",
                          variant=variant, fitted=fitted)


def facts(key: PartKey, *, at: datetime = NOW, **values: Any) -> SupplyFacts:
    return SupplyFacts(key=key, found=True, checked_at=stamp(at), **values)


class Remote:
    """The supply data the lookup asks: ``known`` answers by MPN (others are no match, and
    ``failing`` ones are left out as a failed match is); every call is recorded."""

    def __init__(self, known: dict[str, dict[str, Any]], failing: tuple[str, ...] = ()
                 ) -> None:
        self.known = known
        self.failing = failing
        self.calls: list[list[PartKey]] = []

    def __call__(self, keys: list[PartKey]) -> dict[PartKey, SupplyFacts]:
        self.calls.append(list(keys))
        return {k: SupplyFacts(key=k, found=k.mpn in self.known, checked_at=stamp(NOW),
                               **self.known.get(k.mpn, {}))
                for k in keys if k.mpn not in self.failing}


def board(db_path: Path, lines: list[BomLine]) -> None:
    with Store.open(db_path) as store:
        store.sync_catalog("https://acme.example", [factories.project()])
        store.save_snapshot(None, factories.snapshot([], lines), [],
                            detected_at="2026-11-28T08:00:00.000Z")


def standard(db_path: Path) -> None:
    """Two bucks, a resistor and a test point in Default; a buck and the resistor in Lite;
    a line without an MPN and a part not fitted, which are never asked."""
    board(db_path, [placed("U1", BUCK), placed("U2", BUCK), placed("R1", RESISTOR),
                    placed("TP1", TEST_POINT), factories.line("J1", "", manufacturer=""),
                    placed("C1", PartKey(mpn="GRM188", manufacturer="Murata"), fitted=False),
                    placed("U1", BUCK, variant="Lite"), placed("R1", RESISTOR, variant="Lite")])


def ask(db_path: Path, *words: str, lookup: Remote | None = None, clock: datetime = NOW,
        **options: str) -> Reply:
    answers = Answers(db_path=str(db_path), clock=lambda: clock, supply_lookup=lookup,
                      supply_off="turned off by REVIEW_BOT_SUPPLY=off")
    return answers.answer(Request(name="risk", words=words, options=options), ASKER)


def text(reply: Reply) -> str:
    return "\n".join([reply.text] + [
        b["text"]["text"] if "text" in b else b["elements"][0]["text"]
        for b in reply.blocks or [] if b["type"] in ("section", "context")])


def test_the_command_parses_with_yes_and_needs_a_project() -> None:
    assert parse("risk Motor Controller Lite --yes") == Request(
        name="risk", words=("Motor", "Controller", "Lite"), options={"yes": "on"})
    with pytest.raises(CommandError, match="needs more"):
        parse("risk")


def test_without_supply_access_it_says_why(db_path: Path) -> None:
    standard(db_path)
    reply = ask(db_path, BOARD)
    assert reply.text == "Supply data is off: turned off by REVIEW_BOT_SUPPLY=off."
    assert not Answers(db_path=str(db_path)).needs_nexar(Request(name="risk", words=(BOARD,)))


def test_fresh_facts_come_from_the_cache_and_the_rest_is_asked_once(db_path: Path) -> None:
    standard(db_path)
    with Store.open(db_path) as store:
        Supply(store).keep([facts(BUCK, at=NOW - timedelta(hours=1), lifecycle="NRND",
                                  stock=150),
                            facts(RESISTOR, at=NOW - timedelta(days=2), lifecycle="EOL")],
                           at=NOW - timedelta(days=2), asked=2)
    remote = Remote({RESISTOR.mpn: {"lifecycle": "Production", "stock": 1_000_000},
                     TEST_POINT.mpn: {"lifecycle": "Obsolete", "stock": 80,
                                      "url": "https://octopart.com/5019"}})
    body = text(ask(db_path, BOARD, lookup=remote))
    assert remote.calls == [[RESISTOR, TEST_POINT]], "the fresh buck is not asked again"
    assert ("*Supply risk of Motor Controller* · 2 variants · *2* of 3 parts at risk"
            in body)
    lines = body.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("⚠️"))
    assert lines[first] == ("⚠️ `TP1` ×1 · *Keystone Electronics 5019* — Obsolete; "
                            "low stock (80) · <https://octopart.com/5019|Octopart>")
    assert lines[first + 1] == ("⚠️ `U1, U2` ×2 · *Texas Instruments TPS62133RGTR* — NRND; "
                                "low stock (150)")
    assert lines[first + 2] == "✅ *1* healthy"
    assert "2 parts asked now (4 this month)" in body
    again = text(ask(db_path, BOARD, lookup=remote))
    assert len(remote.calls) == 1 and "0 parts asked now (4 this month)" in again
    assert again.splitlines()[1:] == [*body.splitlines()[1:-1], again.splitlines()[-1]]


def test_one_variant_is_judged_for_its_own_quantities(db_path: Path) -> None:
    standard(db_path)
    with Store.open(db_path) as store:
        Supply(store).keep([facts(BUCK, lifecycle="Production", stock=150),
                            facts(RESISTOR, lifecycle="Production", stock=10**6)],
                           at=NOW, asked=2)
    remote = Remote({})
    lite = text(ask(db_path, "motor", "lite", lookup=remote))
    assert remote.calls == [] and "variant *Lite* · *0* of 2 parts at risk" in lite
    assert "✅ *2* healthy" in lite
    default = text(ask(db_path, BOARD, "Default", lookup=remote))
    assert remote.calls == [[TEST_POINT]]
    assert "⚠️ `U1, U2` ×2" in default and "*1* without supply data" in default
    unknown = ask(db_path, BOARD, "Pro", lookup=remote)
    assert unknown.text == ("*Motor Controller* has no variant “Pro”; its variants: "
                            "Default, Lite.")


def test_many_parts_are_asked_only_with_yes_and_a_page_never_asks(db_path: Path) -> None:
    keys = [PartKey(mpn=f"RC0603FR-07{i:04d}L", manufacturer="Yageo") for i in range(60)]
    board(db_path, [placed(f"R{i}", key) for i, key in enumerate(keys)])
    with Store.open(db_path) as store:
        Supply(store).keep([], at=NOW - timedelta(days=3), asked=7)
    remote = Remote({k.mpn: {"lifecycle": "EOL"} for k in keys}, failing=(keys[59].mpn,))
    held = ask(db_path, BOARD, lookup=remote)
    assert remote.calls == []
    assert "*60* parts not checked in the last 24 hours" in held.text
    assert "(*7* parts asked this month)" in held.text
    assert "`/review risk Motor Controller --yes`" in held.text
    done = text(ask(db_path, BOARD, lookup=remote, yes="on"))
    assert [len(c) for c in remote.calls] == [60]
    assert "*59* of 60 parts at risk" in done and "*1* not checked yet" in done
    assert "60 parts asked now (67 this month)" in done
    paged = ask(db_path, BOARD, lookup=remote, page="2")
    assert len(remote.calls) == 1, "a page shows what is kept, it never asks"
    assert "0 parts asked now (67 this month)" in text(paged)


def test_a_failed_request_is_one_line(db_path: Path) -> None:
    standard(db_path)

    def down(keys: list[PartKey]) -> dict[PartKey, SupplyFacts]:
        raise NexarUnavailableError("Nexar did not answer within 30 s")

    answers = Answers(db_path=str(db_path), clock=lambda: NOW, supply_lookup=down)
    assert answers.needs_nexar(Request(name="risk", words=(BOARD,)))
    reply = answers.answer(Request(name="risk", words=(BOARD,)), ASKER)
    assert reply.text == "Supply data could not be asked: Nexar did not answer within 30 s"
    assert reply.blocks is None


@pytest.mark.parametrize("field", ["designator", "mpn", "manufacturer", "lifecycle"])
def test_text_from_altium_and_the_supply_data_is_escaped(db_path: Path, field: str) -> None:
    key = PartKey(mpn=HOSTILE if field == "mpn" else "X1",
                  manufacturer=HOSTILE if field == "manufacturer" else "Acme")
    board(db_path, [placed(HOSTILE if field == "designator" else "R1", key)])
    lifecycle = HOSTILE if field == "lifecycle" else "EOL"
    remote = Remote({key.mpn: {"lifecycle": lifecycle,
                               "url": "https://evil.example|<!channel>"}})
    reply = ask(db_path, BOARD, lookup=remote)
    body = text(reply)
    assert "*1* of 1 part at risk" in body
    for raw in ("<!channel>", "<@U024BE7LH>", "<https://evil.example|", "<#C123>"):
        assert raw not in body
    assert "&lt;!channel&gt;" in body


def test_one_bad_part_never_breaks_the_answer(db_path: Path) -> None:
    standard(db_path)
    remote = Remote({RESISTOR.mpn: {"lifecycle": "EOL", "stock": "plenty"},
                     TEST_POINT.mpn: {"lifecycle": "EOL"}, BUCK.mpn: {"lifecycle": "New"}})
    body = text(ask(db_path, BOARD, lookup=remote))
    assert "*1* of 3 parts at risk" in body and "⚠️ `TP1` ×1" in body
    assert "✅ *1* healthy · *1* not checked yet" in body
