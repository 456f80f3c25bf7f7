"""``review-bot``: a thin command line over the poller, the store, delivery and the Slack app.

``group`` holds the root group and what every command shares; each other module holds one
group of commands and registers them on the root group when it is imported, here.
"""

from __future__ import annotations

# Imported for their effect: each module adds its commands to ``cli``.
from bot.cli import auth, delivery, demo, events, follow, poll, webhooks  # noqa: F401
from bot.cli.group import add_common_options, cli, main

# Every command is registered by now, so each gets ``--db`` and ``--log-level``.
add_common_options(cli)

__all__ = ["cli", "main"]
