"""The database schema as an ordered list of migrations (sqlite-utils ``Migrations``).

Append new migrations at the end; never edit one that has shipped. Snapshot tables hold
only the current state of each watched project, so storage grows with changes, not polls.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from state.model import EVENT_FIELDS

migrations = Migrations("design-review-bot")


@migrations(transactional=False)
def m001_wal(db: Database) -> None:
    """WAL lets the Slack side read while the poller writes."""
    db.enable_wal()


@migrations()
def m002_catalog(db: Database) -> None:
    """Every project of the watched workspaces, as last listed: what names resolve against."""
    db.table("catalog").create(
        {
            "id": str,
            "project_id": str,
            "workspace_url": str,
            "name": str,
            "description": str,
            "url": str,
            "updated_at": str,
            "revision_id": str,
            "gone": int,
        },
        pk="id",
        not_null={"project_id", "workspace_url", "name"},
        defaults={"gone": 0},
    )
    db.table("catalog").create_index(["workspace_url"])


@migrations()
def m003_snapshots(db: Database) -> None:
    """The current snapshot of each watched project: header, threads, comments, BOM lines."""
    db.table("projects").create(
        {
            "id": str,
            "project_id": str,
            "workspace_url": str,
            "name": str,
            "description": str,
            "url": str,
            "updated_at": str,
            "revision_id": str,
            "revision_message": str,
            "revision_author": str,
            "revision_at": str,
            "documents": str,
            "baseline_at": str,
        },
        pk="id",
        not_null={"project_id", "workspace_url", "name", "updated_at"},
    )
    db.table("threads").create(
        {
            "thread_id": str,
            "project": str,
            "number": int,
            "status": int,
            "created_at": str,
            "modified_at": str,
            "created_by": str,
            "modified_by": str,
            "assigned_to": str,
            "document_id": str,
            "document_name": str,
        },
        pk="thread_id",
        foreign_keys=[("project", "projects", "id")],
        not_null={"project", "number", "status"},
    )
    db.table("threads").create_index(["project", "number"])
    db.table("comments").create(
        {
            "comment_id": str,
            "thread_id": str,
            "project": str,
            "position": int,
            "text": str,
            "author": str,
            "created_at": str,
            "modified_at": str,
        },
        pk="comment_id",
        foreign_keys=[("thread_id", "threads", "thread_id")],
        not_null={"thread_id", "project", "position", "text"},
    )
    db.table("comments").create_index(["project"])
    db.table("comments").create_index(["thread_id", "position"])
    db.table("bom_lines").create(
        {
            "project": str,
            "variant": str,
            "designator": str,
            "component_id": str,
            "name": str,
            "comment": str,
            "description": str,
            "manufacturer": str,
            "mpn": str,
            "fitted": int,
        },
        pk=("project", "variant", "designator"),
        foreign_keys=[("project", "projects", "id")],
    )
    db.table("bom_lines").create_index(["mpn"])


@migrations()
def m004_events(db: Database) -> None:
    """The append-only event log; ``id`` orders it, ``detected_at`` is when a poll saw it."""
    columns: dict[str, type] = {"id": int, "detected_at": str}
    for name in EVENT_FIELDS:
        columns[name] = int if name in {"thread_number", "fitted"} else str
    events = db.table("events")
    events.create(columns, pk="id", not_null={"kind", "project_id", "at", "detected_at"})
    events.create_index(["project_id", "id"])
    events.create_index(["at"])


@migrations()
def m005_subscriptions(db: Database) -> None:
    """Which channel follows which project, for which event groups."""
    db.table("subscriptions").create(
        {
            "id": int,
            "project_id": str,
            "project": str,
            "channel": str,
            "groups": str,
            "created_at": str,
            "paused_reason": str,
            "paused_at": str,
        },
        pk="id",
        not_null={"project_id", "project", "channel", "groups", "created_at"},
    )
    db.table("subscriptions").create_index(["project_id", "channel"], unique=True)
    db.table("subscriptions").create_index(["channel"])


@migrations()
def m006_poll_status(db: Database) -> None:
    """The last poll's health, one row rewritten in place so polls do not grow the file."""
    db.table("poll_status").create(
        {
            "id": int,
            "started_at": str,
            "finished_at": str,
            "projects": int,
            "events": int,
            "failures": str,
        },
        pk="id",
    )
