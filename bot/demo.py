"""``review-bot demo``: the whole loop on local stand-ins, shown in the terminal.

Starts a local Altium 365 and a local Slack, subscribes a channel, takes the silent
baseline, plays a scripted round of review activity, polls and delivers, then prints the
channel as a person would read it in Slack. With a real bot token and ``channel`` the same
messages go to a real Slack channel instead.

On the local Slack the channel also answers from Slack: a person replies in a thread card's
Slack thread, the bot (listening for Slack's signed events on 127.0.0.1) writes the reply to
the Altium 365 thread as a comment, and the next poll posts it in a second channel
following the project, "via Slack", but not back into the thread it came from.

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

from slack_sdk import WebClient

from bot.app import build_app
from bot.digests import DigestRunner
from bot.replies import ReplyWriter
from bot.server import EVENTS_PATH, HttpServer
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
from sandbox.slack.render import render_channel, render_message
from sandbox.webhooks import Received
from state.clock import stamp
from state.digests import Digests, DigestSetting
from state.outbox import Outbox
from state.replies import REFUSED, WRITTEN, Replies, Reply
from state.store import Store
from state.webhooks import Webhooks, new_secret

DEMO_CHANNEL = "#design-review"
SECOND_CHANNEL = "#hw-review"
"""A second channel following the project, without replies: it shows a reply from Slack."""
ANSWER = ("Agreed with <@{carla}>: 22R it is. I will update the schematic &amp; the BOM; "
          "see <https://wiki.example/gate-drive|our gate-drive notes>.")
ANSWER_WAIT = 15.0

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
                        at=stamp(datetime.now(UTC)), replies=local is not None)
        if local is not None:
            store.subscribe(project, SECOND_CHANNEL, ["comments"], at=stamp(datetime.now(UTC)))
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
        also = (f" (replies there go to Altium 365) and {SECOND_CHANNEL} (comments only)"
                if local is not None else "")
        summaries = "summary" if first.posted == 1 else "summaries"
        echo(f"Subscribed {target}{also} to {project.name}; baseline poll read "
             f"{baseline.boms_read} BOM, posted {first.posted} 'now tracking' {summaries} (no "
             "history replayed).")

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
        echo(f"Daily digest set for {target}; one posted now ({'yes' if digest else 'no'}).")
        if local is not None:
            answered = answer_from_slack(local, store, db_path, altium, echo)
            poller.poll_once()
            after = deliverer.deliver()
            sender.deliver()
            echo(f"Next poll: {after.posted} Slack post ({SECOND_CHANNEL} gets the reply, "
                 f"{target} does not get it back).\n")
            echo(render_channel(local, target))
            if answered:
                echo(render_last_reply(local, store, SECOND_CHANNEL, 3))
        else:
            echo("Answering from Slack needs Slack to reach the bot: try it with "
                 "'review-bot run' (see README, \"Answer from Slack\").\n")
        echo(render_received(endpoint.id, receiver.url, receiver.received()))
        echo(f"Done in {time.monotonic() - started:.1f}s.")
        return first.posted + delivered.posted + quiet.posted + (1 if digest else 0)


def answer_from_slack(local: SlackSandbox, store: Store, db_path: Path,
                      altium: AltiumSandbox, echo: Echo) -> bool:
    """Bob answers thread #3 in its Slack thread; the bot, listening for the local Slack's
    events, writes it to Altium 365. Returns whether it got there."""
    with Store.open(db_path) as mine:
        nexar_url, token = altium.api_url, altium.token
        writer = ReplyWriter(db_path=str(db_path),
                             nexar=lambda: NexarClient(token=token, api_url=nexar_url),
                             slack=SlackClient(token=local.bot_token, api_url=local.api_url))
        app = build_app(client=WebClient(token=local.bot_token, base_url=local.api_url),
                        signing_secret=local.signing_secret, db_path=str(db_path),
                        replies=writer)
        server = HttpServer(app, host="127.0.0.1", port=0).start()
        try:
            local.event_url = f"http://127.0.0.1:{server.port}{EVENTS_PATH}"
            local.subscribe_events({"message.channels", "message.groups"})
            card = thread_card_ts(mine, DEMO_CHANNEL, 3)
            if card is None:
                echo("Thread #3 has no card in the channel, so there is nothing to answer.")
                return False
            carla = local.user("carla.rossi").id
            ts = local.post_as("bob.schmidt", DEMO_CHANNEL, ANSWER.format(carla=carla),
                               thread_ts=card)
            reply = wait_written(mine, local.channel_id(DEMO_CHANNEL), ts)
        finally:
            local.event_url = None
            server.stop()
    if reply is None or reply.state != WRITTEN:
        echo("Bob's answer in Slack did not reach Altium 365 in time"
             + (f" ({reply.last_error})." if reply and reply.last_error else "."))
        return False
    [comment] = [c for c in altium.project(PROJECT).thread(3).comments
                 if c.comment_id == reply.comment_id]
    echo(f"Answer from Slack: Bob replied in the Slack thread of thread #3; the bot wrote it "
         f"to Altium 365 as a comment and marked it ✅:\n  {comment.text.splitlines()[0]}")
    return True


def thread_card_ts(store: Store, channel: str, number: int) -> str | None:
    """The Slack ``ts`` of thread ``number``'s card in ``channel`` (the demo project's)."""
    project = store.find_project(PROJECT)
    snapshot = store.load_snapshot(project.id, with_bom=False)
    if snapshot is None:
        return None
    for thread in snapshot.threads.values():
        if thread.number == number:
            post = Outbox(store).post(channel, f"thread:{project.id}:{thread.thread_id}")
            return post.remote_id if post is not None else None
    return None


def render_last_reply(local: SlackSandbox, store: Store, channel: str, number: int) -> str:
    """The newest reply under thread ``number``'s card in ``channel``, as Slack shows it."""
    card = thread_card_ts(store, channel, number)
    replies = local.replies(channel, card) if card else []
    if not replies:
        return f"{channel} has no reply under thread #{number}'s card.\n"
    shown = render_message(replies[-1], users=local.user_names())
    return (f"In {channel}, under thread #{number}'s card:\n"
            + "\n".join(f"  {line}" for line in shown.splitlines()) + "\n")


def wait_written(store: Store, channel_id: str, ts: str) -> Reply | None:
    """The reply once the bot has finished with it (written or refused), waiting up to
    ``ANSWER_WAIT`` seconds for the event to arrive and be handled."""
    deadline = time.monotonic() + ANSWER_WAIT
    replies = Replies(store)
    while True:
        reply = replies.get(channel_id, ts)
        if reply is not None and (reply.state == REFUSED or (
                reply.state == WRITTEN and reply.reacted)):
            return reply
        if time.monotonic() > deadline:
            return reply
        time.sleep(0.05)


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
