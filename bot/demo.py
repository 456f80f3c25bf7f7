"""``review-bot demo``: the whole loop on local stand-ins, shown in the terminal.

Starts a local Altium 365 and a local Slack, subscribes a channel, takes the silent
baseline, plays a scripted round of review activity, polls and delivers, then prints the
channel as a person would read it in Slack. With a real bot token and ``channel`` the same
messages go to a real Slack channel instead.

The same events also go out as webhooks, signed, to a local receiver (an endpoint of the
project on its 127.0.0.1 address, a ``ping`` first), which verifies each request with the
``standardwebhooks`` library; after the channel the demo prints one line per request it
got: type, ``webhook-id``, verified or not, the status it answered.
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
from bot.webhooks.client import new_client
from bot.webhooks.sender import WebhookSender
from jobs.nexar import NexarClient
from jobs.poll import Poller, refresh_catalog
from sandbox import AltiumSandbox, SlackSandbox, WebhookReceiver
from sandbox.scenario import PROJECT, play_review_round
from sandbox.slack.render import render_channel
from sandbox.webhooks import Received
from state.clock import stamp
from state.digests import Digests, DigestSetting
from state.store import Store
from state.webhooks import Webhooks, new_secret

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
        secret = new_secret()
        receiver = stack.enter_context(WebhookReceiver(secrets=[secret]))
        webhooks = Webhooks(store)
        endpoint = webhooks.add(receiver.url, secret=secret, at=stamp(datetime.now(UTC)),
                                project_ids=[project.id])
        webhooks.ping(endpoint.id, at=stamp(datetime.now(UTC)))
        sender = WebhookSender(db_path=db_path, http=stack.enter_context(new_client()))
        poller = Poller(client=nexar, store=store)
        deliverer = Deliverer(store=store, slack=slack, renderer=Cards(),
                              min_interval=0.0 if local else post_interval)
        baseline = poller.poll_once()
        first = deliverer.deliver()
        sender.deliver()
        echo(f"Subscribed {target} to {project.name}; baseline poll read "
             f"{baseline.boms_read} BOM, posted {first.posted} summary (no history replayed).")

        echo("Review happens in Altium 365: a new thread, a reply, a resolve, a reopen, "
             "a part swap, a removal, an addition, a part not fitted, a new revision.")
        play_review_round(altium)
        report = poller.poll_once()
        delivered = deliverer.deliver()
        sender.deliver()
        echo(f"Next poll: {report.events} events in {report.requests} requests; "
             f"{delivered.posted} Slack posts, {delivered.updated} thread cards updated.")
        again = poller.poll_once()
        quiet = deliverer.deliver()
        sender.deliver()
        echo(f"A poll with nothing new: {again.events} events, {quiet.posted} posts.")
        digests = Digests(store)
        digests.set(target, DigestSetting(kind="daily", time="09:00", tz="UTC"),
                    at=datetime.now(UTC))
        runner = DigestRunner(store=store, post=deliverer.post_once, render=render_digest)
        digest = runner.run_now(target)
        echo(f"Daily digest set for {target}; one posted now ({'yes' if digest else 'no'}).\n")
        if local is not None:
            echo(render_channel(local, target))
        echo(render_received(endpoint.id, receiver.url, receiver.received()))
        echo(f"Done in {time.monotonic() - started:.1f}s.")
        return first.posted + delivered.posted + quiet.posted + (1 if digest else 0)


def render_received(endpoint_id: str, url: str, received: list[Received]) -> str:
    """What the local webhook receiver got: a heading, then one line per request."""
    verified = sum(r.verified for r in received)
    lines = [f"Webhook endpoint {endpoint_id}: the local receiver at {url} got "
             f"{len(received)} requests, {verified} verified with its signing secret:"]
    for request in received:
        kind = request.payload.get("type", "?") if isinstance(request.payload, dict) else "?"
        lines.append(f"  {kind:<22} {request.webhook_id or '(no webhook-id)'}  "
                     f"{'verified' if request.verified else 'NOT verified':<12}  "
                     f"HTTP {request.status}")
    return "\n".join(lines) + "\n"
