"""``review-bot demo``: the whole loop on local stand-ins, shown in the terminal.

Starts a local Altium 365 and a local Slack, subscribes a channel, takes the silent
baseline, plays a scripted round of review activity, polls and delivers, then prints the
channel as a person would read it in Slack. With a real bot token and ``channel`` the same
messages go to a real Slack channel instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from bot.digests import DigestRunner
from bot.slack.cards import Cards
from bot.slack.client import SlackClient
from bot.slack.delivery import Deliverer
from bot.slack.digest_layout import render_digest
from jobs.nexar import NexarClient
from jobs.poll import Poller, refresh_catalog
from sandbox import AltiumSandbox, SlackSandbox
from sandbox.scenario import PROJECT, play_review_round
from sandbox.slack.render import render_channel
from state.clock import stamp
from state.digests import Digests, DigestSetting
from state.store import Store

DEMO_CHANNEL = "#design-review"

Echo = Callable[[str], None]


def run_demo(db_path: Path, echo: Echo, *, slack_token: str | None = None,
             slack_api_url: str | None = None, channel: str | None = None,
             post_interval: float = 1.0) -> int:
    """Play the demo into ``db_path``; returns how many Slack posts it made."""
    started = time.monotonic()
    with ExitStack() as stack:
        altium = stack.enter_context(AltiumSandbox())
        store = stack.enter_context(Store.open(db_path))
        nexar = stack.enter_context(NexarClient(token=altium.token, api_url=altium.api_url))
        local: SlackSandbox | None = None
        if slack_token and channel:
            slack = SlackClient(token=slack_token, api_url=slack_api_url or
                                "https://slack.com/api/")
            target = channel
            echo(f"Posting to {target} in your Slack workspace.")
        else:
            local = stack.enter_context(SlackSandbox())
            slack = SlackClient(token=local.bot_token, api_url=local.api_url)
            target = DEMO_CHANNEL
        echo(f"Local Altium 365 at {altium.api_url} (workspace {altium.workspace_url})")

        refresh_catalog(nexar, store)
        project = store.find_project(PROJECT)
        store.subscribe(project, target, ["comments", "bom", "revisions"],
                        at=stamp(datetime.now(UTC)))
        poller = Poller(client=nexar, store=store)
        deliverer = Deliverer(store=store, slack=slack, renderer=Cards(),
                              min_interval=0.0 if local else post_interval)
        baseline = poller.poll_once()
        first = deliverer.deliver()
        echo(f"Subscribed {target} to {project.name}; baseline poll read "
             f"{baseline.boms_read} BOM, posted {first.posted} summary (no history replayed).")

        echo("Review happens in Altium 365: a new thread, a reply, a resolve, a reopen, "
             "a part swap, a removal, an addition, a part not fitted, a new revision.")
        play_review_round(altium)
        report = poller.poll_once()
        delivered = deliverer.deliver()
        echo(f"Next poll: {report.events} events in {report.requests} requests; "
             f"{delivered.posted} Slack posts, {delivered.updated} thread cards updated.")
        again = poller.poll_once()
        quiet = deliverer.deliver()
        echo(f"A poll with nothing new: {again.events} events, {quiet.posted} posts.")
        digests = Digests(store)
        digests.set(target, DigestSetting(kind="daily", time="09:00", tz="UTC"),
                    at=datetime.now(UTC))
        runner = DigestRunner(store=store, post=deliverer.post_once, render=render_digest)
        digest = runner.run_now(target)
        echo(f"Daily digest set for {target}; one posted now ({'yes' if digest else 'no'}).\n")
        if local is not None:
            echo(render_channel(local, target))
        echo(f"Done in {time.monotonic() - started:.1f}s.")
        return first.posted + delivered.posted + quiet.posted + (1 if digest else 0)
