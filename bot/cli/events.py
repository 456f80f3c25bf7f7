"""``events``: the event log as a table or as JSON lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import click

from bot import usecases
from bot.cli.group import cli, open_store, print_table
from bot.slack.sentences import summary
from bot.webhooks.payload import with_supply
from state.part_supply import PartSupply
from state.store import StoredEvent
from state.supply import new_parts


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@click.option("--since", metavar="WHEN",
              help="Only events at or after WHEN: an ISO 8601 time or an age like 2h, 7d.")
@click.option("--project", metavar="NAME", help="Only this project's events.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many (the newest).")
def events(as_json: bool, since: str | None, project: str | None, limit: int | None) -> None:
    """Show the event log: what changed in design review, oldest first."""
    cutoff = _since(since) if since else None
    with open_store() as store:
        project_id = store.find_project(project).id if project else None
        found = usecases.changes(store, since=cutoff, project_id=project_id)
        if limit is not None:
            found = found[-limit:]
        if as_json:
            parts = PartSupply(store)
            parts.facts(new_parts(s.event for s in found))
            for stored in found:
                click.echo(json.dumps(_event_json(stored, parts), ensure_ascii=False))
            return
    if not found:
        click.echo("No events." if cutoff is None else f"No events since {cutoff}.")
        return
    rows = [(str(s.id), s.event.at[:16].replace("T", " "), s.event.project, s.event.kind,
             summary(s.event)) for s in found]
    print_table(("ID", "AT (UTC)", "PROJECT", "KIND", "WHAT"), rows)


def _event_json(stored: StoredEvent, parts: PartSupply) -> dict[str, Any]:
    """An event as a webhook's ``data`` has it, but for the project, which is its name:
    a part event with the kept supply facts of the part it puts in (``supply``)."""
    fields = {"id": stored.id, **stored.event.to_dict(), "detected_at": stored.detected_at}
    return with_supply(fields, stored.event, parts.judge(stored.event))


def _since(text: str) -> str:
    try:
        return usecases.since(text, datetime.now(UTC))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither an ISO 8601 time (2026-11-28T09:00:00Z) nor an age "
            "(30m, 2h, 7d, 1w)", param_hint="--since") from None
