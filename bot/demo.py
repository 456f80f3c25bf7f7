"""``review-bot demo``: the whole loop on the local Altium 365 sandbox, in the terminal.

Starts the sandbox, subscribes a channel, takes the silent baseline, plays a scripted
round of review activity, polls again and prints what the bot recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from jobs.nexar import NexarClient
from jobs.parse import format_time
from jobs.poll import Poller, refresh_catalog
from sandbox import AltiumSandbox
from sandbox.scenario import PROJECT, play_review_round
from state.store import Store

DEMO_CHANNEL = "#design-review"

Echo = Callable[[str], None]


def run_demo(db_path: Path, echo: Echo, *, summarize: Callable[..., str]) -> int:
    """Play the demo into ``db_path``; returns how many events the review round produced."""
    started = time.monotonic()
    with AltiumSandbox() as altium, Store.open(db_path) as store, NexarClient(
            token=altium.token, api_url=altium.api_url) as client:
        echo(f"Local Altium 365 at {altium.api_url} (workspace {altium.workspace_url})")
        refresh_catalog(client, store)
        project = store.find_project(PROJECT)
        store.subscribe(project, DEMO_CHANNEL, ["comments", "bom", "revisions"],
                        at=format_time(datetime.now(UTC)))
        echo(f"Subscribed {DEMO_CHANNEL} to {project.name}.")
        poller = Poller(client=client, store=store)
        baseline = poller.poll_once()
        echo(f"Baseline poll: {baseline.projects} project, {baseline.boms_read} BOM read, "
             f"{baseline.events} event (project_created: silent, no history replayed).")
        mark = max((s.id for s in store.events()), default=0)

        echo("\nReview happens in Altium 365: a new thread, a reply, a resolve, a reopen, "
             "a part swap, a removal, an addition, a part not fitted, a new revision.")
        play_review_round(altium)
        report = poller.poll_once()
        echo(f"Second poll: {report.events} events, {report.boms_read} BOM read, "
             f"{report.requests} requests.\n")
        found = store.events(after_id=mark)
        for stored in found:
            event = stored.event
            echo(f"  {event.kind:<20} {summarize(event)}")
        again = poller.poll_once()
        echo(f"\nThird poll, nothing changed: {again.events} events, {again.requests} requests."
             f"\nDone in {time.monotonic() - started:.1f}s.")
        return len(found)
