"""What a webhook carries: one event (or a ping) as a JSON object, and its schema.

``{"type": "thread.opened", "timestamp": "2026-11-28T09:00:00.000Z", "data": {...}}``:
``type`` is the event kind with its first ``_`` made a dot, ``timestamp`` the moment the
poll detected the event (the store's form), and ``data`` what ``review-bot events --json``
prints for it, with ``project`` an object (``id``, ``name``, ``link``) in place of the
project's name, and for events of a comment thread a ``thread`` object (``id``,
``number``, ``link``). Nexar gives no address for one thread, so a thread's link is its
project's. A part event carries ``supply``: the kept supply facts of the part it puts into
the BOM, with why it is a supply risk (``risks``), or null when there are none (no new part,
or none known yet). ``payload.schema.json`` beside this module describes every type (JSON
Schema 2020-12); ``schema()`` reads it.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, Final

from state.model import Event, ProjectInfo
from state.part_supply import Judged
from state.store import StoredEvent

PING: Final = "ping"
"""The type of the test message ``review-bot webhooks test`` sends."""

SCHEMA_FILE: Final = "payload.schema.json"


def event_type(kind: str) -> str:
    """The payload type of an event kind: ``thread_opened`` -> ``thread.opened``,
    ``part_fitted_changed`` -> ``part.fitted_changed``."""
    return kind.replace("_", ".", 1)


def supply_data(judged: Judged | None) -> dict[str, Any] | None:
    """A new part's supply facts and risks as plain values, or None without facts."""
    if judged is None:
        return None
    return {**judged.facts.to_dict(), "risks": list(judged.reasons)}


def with_supply(fields: dict[str, Any], event: Event, judged: Judged | None) -> dict[str, Any]:
    """``fields`` of ``event`` with its ``supply`` when it is a part event."""
    if event.kind.startswith("part_"):
        return {**fields, "supply": supply_data(judged)}
    return fields


def payload(stored: StoredEvent, project_info: ProjectInfo | None,
            supply: Judged | None = None) -> dict[str, Any]:
    """The JSON object sent for ``stored``; ``project_info`` (the catalog's entry for its
    project, None when the catalog no longer has it) gives the Altium 365 links, and
    ``supply`` the facts of the part a part event puts in."""
    event = stored.event
    link = project_info.url if project_info is not None and project_info.url else None
    fields = event.to_dict()
    del fields["project"]
    data: dict[str, Any] = with_supply(
        {"id": stored.id, **fields, "detected_at": stored.detected_at,
         "project": {"id": event.project_id, "name": event.project, "link": link}},
        event, supply)
    if event.thread_id is not None:
        data["thread"] = {"id": event.thread_id, "number": event.thread_number, "link": link}
    return {"type": event_type(event.kind), "timestamp": stored.detected_at, "data": data}


def ping_payload(*, endpoint_id: str, at: str) -> dict[str, Any]:
    """The test message: proves the URL, the signature and the receiver's answer."""
    return {"type": PING, "timestamp": at,
            "data": {"endpoint_id": endpoint_id,
                     "text": "A test message from design-review-bot: this endpoint is "
                             "receiving and verifying its webhooks."}}


def body(document: dict[str, Any]) -> str:
    """A payload as the text that is signed and sent (compact, UTF-8 kept as is)."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def schema() -> dict[str, Any]:
    """The JSON Schema of every payload (package data beside this module)."""
    text = resources.files("bot.webhooks").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded
