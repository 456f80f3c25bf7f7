"""The ``/review`` command table: each subcommand's handler, in one place.

``bot.review.answers.Answers`` looks a request's name up here; a name not in the table is
answered with the help text.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.review import (
    bom,
    changes,
    digest,
    follow,
    library,
    nets,
    projects,
    risk,
    status,
    threads,
)
from bot.review.context import Context
from bot.review.reply import Reply
from bot.review.request import help_text

Handler = Callable[[Context], Reply]


def show_help(ctx: Context) -> Reply:
    return Reply(text=help_text())


COMMANDS: dict[str, Handler] = {
    "help": show_help,
    "workspaces": projects.workspaces,
    "projects": projects.projects,
    "project": projects.project,
    "bom": bom.bom,
    "comments": threads.comments,
    "thread": threads.thread,
    "nets": nets.nets,
    "part": library.part,
    "changes": changes.changes,
    "risk": risk.risk,
    "subscribe": follow.subscribe,
    "unsubscribe": follow.unsubscribe,
    "subscriptions": follow.subscriptions,
    "status": status.status,
    "digest": digest.digest,
}

NEXAR_COMMANDS = frozenset({"workspaces", "nets", "part"})
"""The commands that always ask Nexar, so their answer comes after the acknowledgement."""

SNAPSHOT_OR_NEXAR = frozenset({"project", "bom", "comments", "thread"})
"""The commands that read the snapshot, or Nexar for a project nobody follows yet."""
