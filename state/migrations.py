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


@migrations()
def m007_delivery(db: Database) -> None:
    """The Slack outbox: planned deliveries, posts with their recorded intent, caches.

    Existing subscriptions start after the newest event, so upgrading replays nothing.
    """
    subs = db.table("subscriptions")
    subs.add_column("after_event_id", int, not_null_default=0)
    subs.add_column("include_documents", str)
    subs.add_column("exclude_documents", str)
    subs.add_column("include_designators", str)
    subs.add_column("exclude_designators", str)
    subs.add_column("welcomed", int, not_null_default=0)
    db.execute("update subscriptions set after_event_id = "
               "(select coalesce(max(id), 0) from events)")
    db.table("deliveries").create(
        {
            "event_id": int,
            "channel": str,
            "subscription_id": int,
            "state": str,
            "post_key": str,
            "attempts": int,
            "last_error": str,
            "created_at": str,
        },
        pk=("event_id", "channel"),
        not_null={"subscription_id", "state", "created_at"},
        defaults={"attempts": 0},
    )
    db.table("deliveries").create_index(["channel", "state", "event_id"])
    db.table("posts").create(
        {
            "channel": str,
            "key": str,
            "channel_id": str,
            "state": str,
            "ts": str,
            "thread_ts": str,
            "started_at": str,
            "posted_at": str,
            "needs_update": int,
            "event_ids": str,
            "parent_key": str,
        },
        pk=("channel", "key"),
        not_null={"state", "started_at"},
        defaults={"needs_update": 0},
    )
    db.table("slack_users").create(
        {"email": str, "user_id": str, "checked_at": str}, pk="email")
    db.table("slack_channels").create({"name": str, "id": str}, pk="name")
    db.table("meta").create({"key": str, "value": str}, pk="key")


@migrations()
def m008_digests(db: Database) -> None:
    """Scheduled digests: each channel's schedule, and a ledger of the periods it was sent.

    A ledger row is claimed before a digest is built and marked posted after, so a restart,
    a second scheduler or a re-run finds the period taken and sends nothing twice.
    """
    db.table("digest_settings").create(
        {
            "channel": str,
            "kind": str,
            "day": str,
            "time": str,
            "tz": str,
            "quiet": int,
            "updated_at": str,
        },
        pk="channel",
        not_null={"kind", "time", "tz", "updated_at"},
        defaults={"quiet": 0},
    )
    db.table("digest_ledger").create(
        {
            "channel": str,
            "period": str,
            "state": str,
            "period_start": str,
            "period_end": str,
            "claimed_at": str,
            "claimed_by": str,
            "ts": str,
            "posted_at": str,
        },
        pk=("channel", "period"),
        not_null={"state", "claimed_at"},
    )
    db.table("digest_ledger").create_index(["channel", "state", "period_end"])


@migrations()
def m009_set_aside(db: Database) -> None:
    """Deliveries set aside: one that cannot be rendered or that Slack refuses as a message
    is kept here with its reason (its events' deliveries in state ``set_aside``) instead of
    being retried on every run; ``review-bot resume`` puts them back. ``notified_at`` is
    when the ops channel was told, so it is told once."""
    db.table("set_aside").create(
        {
            "id": int,
            "channel": str,
            "key": str,
            "kind": str,
            "reason": str,
            "event_ids": str,
            "set_aside_at": str,
            "notified_at": str,
        },
        pk="id",
        not_null={"channel", "key", "kind", "reason", "set_aside_at"},
    )
    db.table("set_aside").create_index(["channel", "key"], unique=True)


@migrations()
def m010_poller_lease(db: Database) -> None:
    """Leases (``state.claims``): one poller at a time per database. A row names its holder
    (a random owner id per taking, pid, host), since when, its last heartbeat, and when it
    may be taken over if the heartbeat stops (the holder was killed)."""
    db.table("leases").create(
        {
            "name": str,
            "owner": str,
            "pid": int,
            "host": str,
            "started_at": str,
            "heartbeat_at": str,
            "expires_at": str,
        },
        pk="name",
        not_null={"owner", "pid", "host", "started_at", "heartbeat_at", "expires_at"},
    )


@migrations()
def m011_delivery_claims(db: Database) -> None:
    """Claims on posting work (``state.claims``): a channel's delivery, a digest period.

    One row per piece of work being done: who (a random owner id, its process and host),
    since when, and until when unless renewed. A digest period used to be claimed in its
    ledger row; the ledger now records only what went out, so rows an older version left
    ``claimed`` are dropped (the period's keyed post still keeps it from going out twice).
    """
    db.table("claims").create(
        {
            "name": str,
            "owner": str,
            "pid": int,
            "host": str,
            "machine": str,
            "claimed_at": str,
            "expires_at": str,
        },
        pk="name",
        not_null={"owner", "claimed_at", "expires_at"},
    )
    db.execute("delete from digest_ledger where state = 'claimed'")


@migrations()
def m012_webhooks(db: Database) -> None:
    """Webhook endpoints (``state.webhooks``): each endpoint, the messages owed to it (one per
    event and endpoint, and pings) and the log of every attempt to send one.

    An endpoint receives only events logged after it was added (``after_event_id``), so
    upgrading, like adding one, replays nothing. Back-off is the endpoint's (``retry_at``):
    a dead endpoint costs one attempt per retry, not one per message.
    """
    db.table("webhook_endpoints").create(
        {
            "id": str,
            "url": str,
            "project_ids": str,
            "groups": str,
            "include_documents": str,
            "exclude_documents": str,
            "include_designators": str,
            "exclude_designators": str,
            "allow_http": int,
            "secret": str,
            "previous_secret": str,
            "previous_until": str,
            "state": str,
            "disabled_reason": str,
            "disabled_at": str,
            "disabled_notified_at": str,
            "created_at": str,
            "after_event_id": int,
            "last_success_at": str,
            "failing_since": str,
            "failures": int,
            "retry_at": str,
        },
        pk="id",
        not_null={"url", "groups", "secret", "state", "created_at", "after_event_id"},
        defaults={"allow_http": 0, "failures": 0},
    )
    db.table("webhook_messages").create(
        {
            "id": str,
            "endpoint_id": str,
            "event_id": int,
            "state": str,
            "attempts": int,
            "created_at": str,
            "delivered_at": str,
            "requeued_at": str,
        },
        pk="id",
        foreign_keys=[("endpoint_id", "webhook_endpoints", "id")],
        not_null={"endpoint_id", "state", "created_at"},
        defaults={"attempts": 0},
    )
    db.table("webhook_messages").create_index(["endpoint_id", "state", "event_id"])
    db.table("webhook_attempts").create(
        {
            "id": int,
            "message_id": str,
            "endpoint_id": str,
            "event_id": int,
            "attempted_at": str,
            "status": int,
            "latency_ms": int,
            "error": str,
            "succeeded": int,
        },
        pk="id",
        foreign_keys=[("message_id", "webhook_messages", "id")],
        not_null={"message_id", "endpoint_id", "attempted_at", "latency_ms", "succeeded"},
    )
    db.table("webhook_attempts").create_index(["endpoint_id", "id"])
    db.table("webhook_attempts").create_index(["message_id"])


@migrations()
def m013_replies_from_slack(db: Database) -> None:
    """Answering from Slack (``state.replies``): a channel's opt-in, each Slack reply on its
    way to Altium 365, and the Slack names its attribution uses.

    A reply is keyed by its Slack message (channel id and ``ts``), so an event Slack sends
    again finds its row; it is marked ``writing`` before the comment is sent, so a process
    killed between the write and its record leaves a row that is reconciled (the thread
    read back for the reply's link) before anything is written again.
    """
    db.table("subscriptions").add_column("replies", int, not_null_default=0)
    db.table("slack_replies").create(
        {
            "channel_id": str,
            "ts": str,
            "thread_ts": str,
            "target": str,
            "project_id": str,
            "thread_id": str,
            "user_id": str,
            "text": str,
            "files": str,
            "link": str,
            "edited_ts": str,
            "state": str,
            "comment_id": str,
            "written_text": str,
            "needs_update": int,
            "attempts": int,
            "retry_at": str,
            "last_error": str,
            "reacted": int,
            "notice": str,
            "received_at": str,
            "written_at": str,
        },
        pk=("channel_id", "ts"),
        not_null={"thread_ts", "target", "project_id", "thread_id", "user_id", "text",
                  "state", "received_at"},
        defaults={"needs_update": 0, "attempts": 0, "reacted": 0},
    )
    db.table("slack_replies").create_index(["state", "retry_at"])
    db.table("slack_replies").create_index(["comment_id"])
    db.table("slack_names").create(
        {"user_id": str, "name": str, "checked_at": str}, pk="user_id")


@migrations()
def m014_supply(db: Database) -> None:
    """Supply facts (``state.supply``): each manufacturer part looked up, with when (a miss
    kept too), and each month's requests, parts asked and parts matched (the part limit)."""
    db.table("supply_parts").create(
        {
            "id": str,
            "mpn": str,
            "manufacturer": str,
            "found": int,
            "checked_at": str,
            "lifecycle": str,
            "stock": int,
            "price_1k": float,
            "currency": str,
            "lead_days": int,
            "url": str,
            "supplier_manufacturer": str,
        },
        pk="id",
        not_null={"mpn", "found", "checked_at"},
    )
    db.table("supply_usage").create(
        {"month": str, "requests": int, "asked": int, "matched": int},
        pk="month",
        not_null={"requests", "asked", "matched"},
    )


@migrations()
def m015_poll_fingerprints(db: Database) -> None:
    """Each project's thread fingerprint as last stored (what lets an unchanged project skip
    its snapshot) and when its threads were last read in full; an index for ``events
    --since`` of one project."""
    db.table("poll_fingerprints").create(
        {"project": str, "threads": str, "full_read_at": str},
        pk="project",
        foreign_keys=[("project", "projects", "id")],
        not_null={"threads", "full_read_at"},
    )
    db.table("events").create_index(["project_id", "at"])


@migrations()
def m016_no_mpn_index(db: Database) -> None:
    """Drop the index on BOM lines' MPNs: no query can use it (part searches match inside
    the text), and keeping it cost a scattered page write per line of every BOM saved."""
    db.execute("drop index if exists idx_bom_lines_mpn")
