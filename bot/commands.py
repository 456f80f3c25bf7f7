"""The ``/review`` slash command."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot.mrkdwn import escape
from state.outbox import Outbox
from state.store import Store

HELP = (
    "*/review* — Altium 365 design review in Slack\n"
    "• `/review subscriptions` — what this channel follows, and any pause\n"
    "• `/review help` — this list\n"
    "Operators subscribe channels with `review-bot subscribe PROJECT CHANNEL`."
)


def subscriptions_text(store: Store, channel_id: str, channel_name: str | None) -> str:
    names = {channel_id, f"#{channel_name}" if channel_name else channel_id}
    subs = [s for s in store.subscriptions() if s.channel in names]
    if not subs:
        return "This channel follows no project yet."
    outbox = Outbox(store)
    lines = []
    for sub in subs:
        state = f"paused: {escape(sub.paused_reason)}" if sub.paused_reason else "active"
        pending = outbox.undelivered(sub.channel)
        extra = sub.filters.describe()
        lines.append(f"• *{escape(sub.project)}* — {', '.join(sub.groups)}"
                     f"{' (' + escape(extra) + ')' if extra else ''} — {state}"
                     f"{f' — {pending} waiting' if pending else ''}")
    return "This channel follows:\n" + "\n".join(lines)


def register(app: App, *, db_path: str) -> None:
    @app.command("/review")
    def review(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        ack()
        words = (command.get("text") or "").split()
        if words[:1] == ["subscriptions"]:
            with Store.open(db_path) as store:
                respond(subscriptions_text(store, command["channel_id"],
                                           command.get("channel_name")))
            return
        respond(HELP)
