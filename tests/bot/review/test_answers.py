"""/review answers straight from a small snapshot: BOM rows, ages and counts that read right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.review.answers import Answers
from bot.review.context import Asker
from bot.review.request import Request
from jobs.nexar import NexarClient
from jobs.poll import Poller, refresh_catalog
from sandbox import AltiumSandbox
from sandbox.scenario import PROJECT
from state.clock import ago
from state.model import BomLine
from state.store import PollStatus, Store
from tests import factories

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ASKER = Asker(user_id="U1", channel_id="C1")


def part(designator: str, *, name: str, comment: str, description: str,
         mpn: str = "TPS62133RGTR") -> BomLine:
    return BomLine(variant="Default", designator=designator, component_id=f"cmp-{name}",
                   name=name, comment=comment, description=description,
                   manufacturer="Texas Instruments", mpn=mpn, fitted=True)


def answer(db: Path, command: str, *words: str) -> str:
    reply = Answers(db_path=str(db), clock=lambda: NOW).answer(
        Request(name=command, words=words), ASKER)
    return "\n".join(b["text"]["text"] if "text" in b else b["elements"][0]["text"]
                     for b in reply.blocks or [])


def test_bom_rows_never_repeat_a_name(db_path: Path) -> None:
    """Name, comment, MPN and description are said once each, whatever their case."""
    lines = [part("U3", name="TPS62133RGTR", comment="tps62133rgtr", description="Buck 3 A"),
             part("TP1", name="Test point, SMD", comment="Test point, SMD",
                  description="test point,  smd", mpn="5019"),
             part("TP2", name="Test point, SMD", comment="Test point, SMD",
                  description="test point,  smd", mpn="5019")]
    with Store.open(db_path) as store:
        store.sync_catalog("https://acme.example", [factories.project()])
        store.save_snapshot(None, factories.snapshot([], lines), [],
                            detected_at="2026-11-02T08:00:00.000Z")
    body = answer(db_path, "bom", "Motor Controller")
    assert "*2* lines · *3* placed" in body
    assert "`U3` ×1 · fitted · *Texas Instruments TPS62133RGTR* — Buck 3 A\n" in body
    assert "`TP1, TP2` ×2 · fitted · *Texas Instruments 5019* · Test point, SMD\n" in body
    assert "tps62133rgtr tps62133rgtr" not in body.casefold().replace("*", "")
    assert "smd test point" not in body.casefold()


def test_ages_never_say_just_now_ago(db_path: Path) -> None:
    assert ago("2026-11-02T08:59:30.000Z", NOW) == "just now"
    assert ago("2026-11-02T08:55:00.000Z", NOW) == "5 min ago"
    assert ago("2026-10-29T09:00:00.000Z", NOW) == "4 d ago"
    stamp = (NOW - timedelta(seconds=20)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    with Store.open(db_path) as store:
        store.sync_catalog("https://acme.example", [factories.project()])
        store.save_snapshot(None, factories.snapshot([factories.thread("t1", 1, at=stamp)], []),
                            [], detected_at=stamp)
        store.record_poll(PollStatus(started_at=stamp, finished_at=stamp, projects=1, events=0,
                                     failures={}))
    for command in ("status", "comments", "project"):
        words = () if command == "status" else ("Motor Controller",)
        body = answer(db_path, command, *words)
        assert "just now" in body and "just now ago" not in body, command


def test_a_bom_nexar_did_not_give_is_not_read_yet_not_empty(db_path: Path,
                                                           altium: AltiumSandbox) -> None:
    """A first poll whose BOM came back null keeps the threads; answers say the BOM is unread."""
    altium.faults.null_bom(PROJECT, times=None)
    with Store.open(db_path) as store, NexarClient(token=altium.token,
                                                   api_url=altium.api_url) as client:
        refresh_catalog(client, store)
        store.subscribe(store.find_project(PROJECT), "#hw", ["comments", "bom"],
                        at="2026-11-28T08:00:00.000Z")
        Poller(client=client, store=store).poll_once()
    asked = Answers(db_path=str(db_path), clock=lambda: NOW)
    bom = asked.answer(Request(name="bom", words=("motor",)), ASKER)
    assert bom.text == f"The BOM of *{PROJECT}* is not read yet (the next poll reads it)."
    project = answer(db_path, "project", "motor")
    assert "BOM: not read yet" in project and "Threads: *" in project
