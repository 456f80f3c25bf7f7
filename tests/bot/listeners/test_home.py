"""App Home: which channels write their thread-card replies to Altium 365."""

from __future__ import annotations

from dataclasses import replace

from bot.listeners.home import home_view
from bot.slack.message import Message
from state.store import Store
from tests import factories
from tests.bot.messages import texts

AT = "2026-11-02T08:00:00.000Z"


def test_channels_sending_replies_are_marked_in_projects_and_your_channels(
        store: Store) -> None:
    motor = factories.project()
    sensor = replace(factories.project(name="IoT Sensor Node"), id="P2")
    store.sync_catalog("https://acme.example", [motor, sensor])
    store.subscribe(motor, "#hw", ["comments"], at=AT, replies=True)
    store.subscribe(motor, "#mech", ["comments"], at=AT)
    store.subscribe(sensor, "#hw", ["bom"], at=AT)
    store.subscribe(sensor, "#iot", ["comments"], at=AT, replies=True)
    store.pause("is_archived", at=AT, channel="#iot")
    store.save_snapshot(None, factories.snapshot([factories.thread("t1", 1)]), [],
                        detected_at=AT)
    shown = texts(Message(text="", blocks=home_view(store, {"#hw"})["blocks"]))
    assert "1 open thread · last change never · #hw (replies go to Altium 365), #mech" in shown
    assert "Waiting for the first poll · #hw, #iot (replies go to Altium 365; paused: " \
           "is_archived)" in shown
    mine = shown.split("*Your channels follow*\n", 1)[1].splitlines()
    assert mine == ["• #hw: *IoT Sensor Node* (bom)",
                    "• #hw: *Motor Controller* (comments) — replies go to Altium 365"]


def test_subscribing_again_without_replies_unmarks_the_channel(store: Store) -> None:
    motor = factories.project()
    store.sync_catalog("https://acme.example", [motor])
    store.subscribe(motor, "#hw", ["comments"], at=AT, replies=True)
    assert "replies go to Altium 365" in str(home_view(store, {"#hw"}))
    store.subscribe(motor, "#hw", ["comments"], at=AT)
    assert "replies go to Altium 365" not in str(home_view(store, {"#hw"}))
