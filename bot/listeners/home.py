"""App Home: the watched projects, their open threads and the bot's health.

Only projects shared with Slack (``REVIEW_BOT_PROJECTS``) are named; the view goes
through ``bot.slack.limits.fit`` for the Home tab's 100 blocks.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.review.context import Policy, every_project_name
from bot.slack.cards import NAME_LIMIT, named
from bot.slack.limits import VIEW, Block, context, divider, fit, header, section
from bot.slack.mrkdwn import escape, link
from state.outbox import Outbox
from state.store import Store

log = logging.getLogger(__name__)

MAX_PROJECTS = 40
REPLIES = "replies go to Altium 365"
"""How a channel whose thread-card replies are written to Altium 365 is marked."""


def home_view(store: Store, user_channels: set[str] | None = None,
              policy: Policy | None = None) -> dict[str, Any]:
    """The Home tab: the watched projects, what the user's channels follow, the health.

    ``user_channels`` holds the ids and ``#names`` of the channels the user is in;
    ``policy`` says which projects Slack may see.
    """
    policy = policy or Policy()
    blocks: list[Block] = [header("Design review")]
    subs = [s for s in store.subscriptions() if policy.is_shared(s.project)]
    by_project: dict[str, list[str]] = {}
    for sub in subs:
        notes = [REPLIES] if sub.replies else []
        if sub.paused_reason:
            notes.append(f"paused: {escape(sub.paused_reason, 300, flat=True)}")
        marks = f" ({'; '.join(notes)})" if notes else ""
        by_project.setdefault(sub.project_id, []).append(named(sub.channel) + marks)
    if not by_project:
        blocks.append(section("No project is watched yet. Subscribe a channel with "
                               "`/review subscribe <project>`."))
    for project_id, channels in list(by_project.items())[:MAX_PROJECTS]:
        snapshot = store.load_snapshot(project_id, with_bom=False)
        if snapshot is None:
            name = named(next(s.project for s in subs if s.project_id == project_id))
            blocks.append(section(f"*{name}*\nWaiting for the first poll · "
                                   f"{', '.join(channels)}"))
            continue
        open_threads = sum(1 for t in snapshot.threads.values() if t.is_open)
        last = store.events(project_id=project_id)
        changed = last[-1].event.at[:16].replace("T", " ") + " UTC" if last else "never"
        title = link(snapshot.project.url, snapshot.project.name, NAME_LIMIT)
        plural = "s" if open_threads != 1 else ""
        blocks.append(section(f"*{title}*\n{open_threads} open thread{plural} · last change "
                               f"{changed} · {', '.join(channels)}"))
    mine = [s for s in subs if user_channels and s.channel in user_channels]
    if mine:
        blocks.append(divider())
        blocks.append(section("*Your channels follow*\n" + "\n".join(
            f"• {named(s.channel)}: *{named(s.project)}* ({', '.join(s.groups)})"
            + (f" — {REPLIES}" if s.replies else "")
            + (f" — paused: {escape(s.paused_reason, 300, flat=True)}" if s.paused_reason
               else "")
            for s in mine[:40])))
    poll = store.last_poll()
    if poll is not None:
        shown = policy.visible(poll.failures, every_project_name(store))
        failures = ", ".join(named(k) for k in shown) or "none"
        pending = Outbox(store).undelivered()
        blocks.append(context(
            f"Last poll {poll.finished_at[:16].replace('T', ' ')} UTC · "
            f"{poll.projects} projects · failures: {failures} · "
            f"{pending} events waiting for Slack"))
    return {"type": "home", "blocks": fit("", blocks, VIEW)[1]}


def register(app: App, *, db_path: str, policy: Policy | None = None) -> None:
    def publish_home(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab") not in (None, "home"):
            return
        channels: set[str] = set()
        try:
            found = client.users_conversations(user=event["user"], limit=200,
                                               types="public_channel,private_channel")
            for channel in found.get("channels") or ():
                channels.update({channel["id"], f"#{channel['name']}"})
        except SlackApiError as exc:
            log.info("could not list the user's channels for App Home: %s", exc)
        with Store.open(db_path) as store:
            view = home_view(store, channels, policy)
        client.views_publish(user_id=event["user"], view=view)

    app.event("app_home_opened")(ack=lambda ack: ack(), lazy=[publish_home])
