"""A project's history that yields every event kind through the real diff, and the payload
schema's validator, for the webhook tests."""

from __future__ import annotations

import jsonschema

from bot.webhooks.payload import schema
from state.diff import diff
from state.model import EVENT_KINDS
from state.store import Store, StoredEvent
from tests.factories import comment, line, project, snapshot, thread

BASELINE_AT = "2026-11-28T09:00:00.000Z"
CHANGED_AT = "2026-11-28T09:05:00.000Z"
T1 = "2026-11-28T09:04:00.000Z"

BASE = snapshot(
    [thread("t1", 1, comment("c1", "Check C4")), thread("t2", 2), thread("t3", 3, status=0),
     thread("t4", 4, document="Power.SchDoc")],
    [line("R1", "RC0603-A"), line("R2", "RC0603-B"), line("C1", "GRM-1")],
    revision="r1")

NEW = snapshot(
    [thread("t1", 1, comment("c1", "Check C4 and C5", at=T1), comment("c2", "Done", at=T1),
            at=T1),
     thread("t2", 2, status=0, assigned="dave", at=T1),
     thread("t3", 3, status=1, at=T1),
     thread("t5", 5, comment("c5", "Is this net right?"), document="Power.SchDoc", at=T1)],
    [line("R1", "RC0603-Z"), line("R2", "RC0603-B", fitted=False), line("C2", "GRM-2")],
    revision="r2", updated_at=T1)

SENT_KINDS = tuple(k for k in EVENT_KINDS if k != "project_created")


def log_baseline(store: Store) -> None:
    """The project's first look (a silent ``project_created``) and its catalog entry."""
    store.sync_catalog("https://acme.example", [project()])
    store.save_snapshot(None, BASE, diff(None, BASE, at=BASELINE_AT), detected_at=BASELINE_AT)


def log_changes(store: Store) -> list[StoredEvent]:
    """One poll that finds every kind of change; returns the events it logged."""
    events = diff(BASE, NEW, at=CHANGED_AT)
    ids = store.save_snapshot(BASE, NEW, events, detected_at=CHANGED_AT)
    return [s for s in store.events() if s.id in set(ids)]


def validator() -> jsonschema.Draft202012Validator:
    checked = schema()
    jsonschema.Draft202012Validator.check_schema(checked)
    return jsonschema.Draft202012Validator(checked)
