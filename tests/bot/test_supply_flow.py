"""Supply facts where the part changes, end to end over real HTTP: the poll, the alert at
once, one supply request for the poll's new parts, the message brought up to date."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot import service
from bot.config import Config
from bot.review.answers import Answers
from bot.review.context import Asker
from bot.review.request import Request
from jobs.poll import refresh_catalog
from sandbox import AltiumSandbox, SlackSandbox
from sandbox.altium.server import TOKEN_SCOPES
from sandbox.scenario import PROJECT
from state.model import Event
from state.store import Store
from state.supply import PartKey, Supply, new_parts
from tests.conftest import FakeClock

CHANNEL = "#design-review"
NRND = ("TPS54331DR", "Texas Instruments")
NO_STOCK = ("ATMEGA328P-AU", "Microchip Technology")
UNKNOWN = ("NO-SUCH-PART-42", "Nobody Inc")


def config_for(altium: AltiumSandbox, slack: SlackSandbox, db_path: Path, *,
               token: str, supply: bool = True) -> Config:
    return Config(nexar_token=token, nexar_api_url=altium.api_url, db_path=str(db_path),
                  slack_bot_token=slack.bot_token, slack_api_url=slack.api_url,
                  post_interval=0.0, supply=supply)


@pytest.fixture
def supply_token(altium: AltiumSandbox) -> str:
    return altium.make_token(scopes=(*TOKEN_SCOPES, "supply.domain"))


@pytest.fixture
def config(altium: AltiumSandbox, slack: SlackSandbox, db_path: Path,
           supply_token: str) -> Config:
    return config_for(altium, slack, db_path, token=supply_token)


def subscribed(config: Config, clock: FakeClock) -> None:
    """#design-review follows the project; the baseline is polled and delivered."""
    with service.nexar_client(config) as client, Store.open(config.db_path) as store:
        refresh_catalog(client, store)
        store.subscribe(store.find_project(PROJECT), CHANNEL, ["bom"],
                        at="2026-11-28T08:00:00.000Z")
    service.poll_once(config, clock=clock)
    service.deliver_once(config, sleep=lambda s: None)


def change_parts(altium: AltiumSandbox) -> None:
    altium.swap_part(PROJECT, "U3", mpn=NRND[0], manufacturer=NRND[1], variant="Default")
    altium.swap_part(PROJECT, "U5", mpn=NO_STOCK[0], manufacturer=NO_STOCK[1],
                     variant="Default")
    altium.add_part(PROJECT, "U99", mpn=UNKNOWN[0], manufacturer=UNKNOWN[1],
                    name="Mystery part", variant="Default")


def alerted(config: Config, altium: AltiumSandbox, clock: FakeClock) -> None:
    """After a first lookup (nothing to ask), the parts change and their alert is posted."""
    subscribed(config, clock)
    service.look_up_supply(config, clock=clock)
    change_parts(altium)
    service.poll_once(config, clock=clock)
    service.deliver_once(config, sleep=lambda s: None)


def bom_posts(slack: SlackSandbox) -> list[object]:
    return [m for m in slack.messages(CHANNEL)
            if m.metadata and m.metadata["event_payload"]["key"].startswith("bom:")]


def test_nothing_is_asked_at_the_baseline(config: Config, altium: AltiumSandbox,
                                          clock: FakeClock) -> None:
    subscribed(config, clock)
    report = service.look_up_supply(config, clock=clock)
    assert report is not None and report.asked == 0
    assert altium.supply.requests == 0


def test_the_alert_goes_out_first_then_one_request_brings_its_facts(
        config: Config, altium: AltiumSandbox, slack: SlackSandbox, clock: FakeClock) -> None:
    subscribed(config, clock)
    service.look_up_supply(config, clock=clock)
    change_parts(altium)
    clock.advance(minutes=5)
    service.poll_once(config, clock=clock)
    service.deliver_once(config, sleep=lambda s: None)
    [first] = bom_posts(slack)
    assert altium.supply.requests == 0, "the alert never waits for supply data"
    assert "Supply data follows" in str(first.blocks)  # type: ignore[attr-defined]

    report = service.look_up_supply(config, clock=clock)
    assert report is not None and (report.asked, report.matched, report.refreshed) == (3, 2, 1)
    assert altium.supply.requests == 1 and altium.supply.matched == 2
    service.deliver_once(config, sleep=lambda s: None)
    [edit] = slack.edits(CHANNEL, first.ts)  # type: ignore[attr-defined]
    shown = str(edit.blocks)
    assert "NRND" in shown and "no stock" in shown and "lead time" in shown
    assert "no supply data" in shown and "⚠️" in shown
    assert "Supply data follows" not in shown
    with Store.open(config.db_path) as store:
        assert Supply(store).usage(clock().strftime("%Y-%m"))["matched"] == 2


def test_a_part_is_asked_again_only_after_a_day(
        config: Config, altium: AltiumSandbox, clock: FakeClock) -> None:
    subscribed(config, clock)
    service.look_up_supply(config, clock=clock)
    altium.swap_part(PROJECT, "U3", mpn=NRND[0], manufacturer=NRND[1], variant="Default")
    service.poll_once(config, clock=clock)
    service.look_up_supply(config, clock=clock)
    assert altium.supply.requests == 1
    altium.swap_part(PROJECT, "U3", mpn=NRND[0], manufacturer=NRND[1], variant="Lite")
    clock.advance(hours=23)
    service.poll_once(config, clock=clock)
    again = service.look_up_supply(config, clock=clock)
    assert again is not None and again.parts == 1 and again.asked == 0
    assert altium.supply.requests == 1
    altium.swap_part(PROJECT, "U5", mpn=NRND[0], manufacturer=NRND[1], variant="Lite")
    clock.advance(hours=2)
    service.poll_once(config, clock=clock)
    later = service.look_up_supply(config, clock=clock)
    assert later is not None and later.asked == 1 and altium.supply.requests == 2


def test_a_supply_failure_leaves_the_alert_and_its_facts_follow(
        config: Config, altium: AltiumSandbox, slack: SlackSandbox, clock: FakeClock) -> None:
    alerted(config, altium, clock)
    [posted] = bom_posts(slack)
    altium.faults.http_error(503, times=None)
    failed = service.look_up_supply(config, clock=clock)
    assert failed is not None and failed.failed and not failed.gave_up
    altium.faults.clear()
    clock.advance(minutes=5)
    fine = service.look_up_supply(config, clock=clock)
    assert fine is not None and fine.asked == 3 and fine.refreshed == 1
    service.deliver_once(config, sleep=lambda s: None)
    assert "NRND" in str(slack.edits(CHANNEL, posted.ts)[-1].blocks)  # type: ignore[attr-defined]


def test_a_supply_api_down_for_an_hour_is_given_up_with_a_note(
        config: Config, altium: AltiumSandbox, slack: SlackSandbox, clock: FakeClock) -> None:
    alerted(config, altium, clock)
    altium.faults.http_error(503, times=None)
    assert service.look_up_supply(config, clock=clock) is not None
    clock.advance(minutes=61)
    gave_up = service.look_up_supply(config, clock=clock)
    assert gave_up is not None and gave_up.gave_up
    service.deliver_once(config, sleep=lambda s: None)
    [posted] = bom_posts(slack)
    shown = str(slack.edits(CHANNEL, posted.ts)[-1].blocks)  # type: ignore[attr-defined]
    assert "No supply data could be had" in shown
    altium.faults.clear()
    after = service.look_up_supply(config, clock=clock)
    assert after is not None and after.asked == 0, "given up: those parts are not asked again"


@pytest.mark.parametrize("how", ["no scope", "switched off"])
def test_without_access_nothing_is_asked_and_nothing_fails(
        how: str, altium: AltiumSandbox, slack: SlackSandbox, db_path: Path,
        supply_token: str, clock: FakeClock) -> None:
    config = (config_for(altium, slack, db_path, token=altium.token) if how == "no scope"
              else config_for(altium, slack, db_path, token=supply_token, supply=False))
    subscribed(config, clock)
    change_parts(altium)
    service.poll_once(config, clock=clock)
    assert service.look_up_supply(config, clock=clock) is None
    report = service.deliver_once(config, sleep=lambda s: None)
    assert report.ok
    [posted] = bom_posts(slack)
    shown = str(posted.blocks)  # type: ignore[attr-defined]
    assert "Supply data" not in shown and "no supply data" not in shown
    assert altium.supply.requests == 0
    with Store.open(config.db_path) as store:
        state = Supply(store).state()
    assert state is not None and state[0] is False


def test_new_parts_are_the_added_and_the_new_side_of_a_replacement() -> None:
    base: dict[str, Any] = {"project_id": "P1", "project": "MC",
                            "at": "2026-11-28T10:00:00.000Z", "variant": "Default"}
    events = [Event(kind="part_replaced", designator="U3", old_mpn="A", new_mpn="B",
                    new_manufacturer="TI", **base),
              Event(kind="part_added", designator="U9", new_mpn="C", **base),
              Event(kind="part_removed", designator="U7", old_mpn="D", **base),
              Event(kind="part_fitted_changed", designator="U5", fitted=False, **base),
              Event(kind="part_added", designator="U10", new_mpn="b", new_manufacturer="ti",
                    **base)]
    assert new_parts(events) == [PartKey("B", "TI"), PartKey("C")]


def reply_text(reply: Any) -> str:
    return "\n".join(b["text"]["text"] if "text" in b else b["elements"][0]["text"]
                     for b in reply.blocks or [])


def test_status_and_risk_use_the_real_supply_lookup(
        config: Config, altium: AltiumSandbox, clock: FakeClock) -> None:
    subscribed(config, clock)
    change_parts(altium)
    service.poll_once(config, clock=clock)
    service.look_up_supply(config, clock=clock)
    lookup, off = service.supply_lookup(config)
    assert lookup is not None and off == ""
    answers = Answers(db_path=config.db_path, clock=clock, supply_lookup=lookup,
                      supply_thresholds=config.thresholds())
    asker = Asker(user_id="U1", channel_id="C1")
    status = reply_text(answers.answer(Request(name="status"), asker))
    assert "Supply data is on: 2 part(s) matched this month in 1 request(s)." in status
    before = altium.supply.requests
    risk = reply_text(answers.answer(
        Request(name="risk", words=(PROJECT, "Default"), options={"yes": "on"}), asker))
    assert "TPS54331DR" in risk and "NRND" in risk and "ATMEGA328P-AU" in risk
    assert altium.supply.requests > before


def test_status_says_why_supply_data_is_off(altium: AltiumSandbox, slack: SlackSandbox,
                                            db_path: Path, clock: FakeClock) -> None:
    config = config_for(altium, slack, db_path, token=altium.token)
    subscribed(config, clock)
    assert service.look_up_supply(config, clock=clock) is None
    lookup, off = service.supply_lookup(config)
    assert lookup is None and "supply" in off
    answers = Answers(db_path=config.db_path, clock=clock, supply_lookup=None, supply_off=off)
    status = reply_text(answers.answer(Request(name="status"), Asker(user_id="U1",
                                                                      channel_id="C1")))
    assert "Supply data is off: " in status
