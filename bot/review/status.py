"""``/review status``: the last poll, what waits for Slack, and what is paused or set aside."""

from __future__ import annotations

from bot.review.context import Context
from bot.review.reply import Reply, paged_reply
from bot.slack.cards import named
from bot.slack.mrkdwn import escape
from state.clock import ago, stamp
from state.outbox import Outbox
from state.supply import Supply


def status(ctx: Context) -> Reply:
    store = ctx.store
    poll = store.last_poll()
    outbox = Outbox(store)
    lines = []
    if poll is None:
        lines.append("No poll has run yet.")
    else:
        lines.append(f"Last poll {ago(poll.finished_at, ctx.clock())}: "
                     f"{poll.projects} projects, {poll.events} new events.")
        for project, reason in sorted(ctx.shown(poll.failures).items()):
            lines.append(f"• :warning: {named(project)}: {escape(reason, 300, flat=True)}")
    lines.append(f"{outbox.undelivered()} events waiting for Slack.")
    lines.append(_supply_line(ctx))
    for sub in store.paused_subscriptions():
        if sub.paused_reason and ctx.policy.is_shared(sub.project):
            lines.append(f"• :double_vertical_bar: {named(sub.channel)} / "
                         f"{named(sub.project)} paused: "
                         f"{escape(sub.paused_reason, 300, flat=True)}")
    held: dict[str, list[str]] = {}
    for item in outbox.set_aside_items():
        held.setdefault(item.channel, []).append(f"{item.kind}: {item.reason}")
    for channel, reasons in sorted(held.items()):
        lines.append(f"• :no_entry: {named(channel)}: {len(reasons)} post(s) set aside "
                     f"({escape('; '.join(reasons[:3]), 300, flat=True)}); "
                     "`review-bot resume` tries them again")
    return paged_reply(ctx.request, lines, head="*review-bot status*")


def _supply_line(ctx: Context) -> str:
    """Whether supply data is on (as the last lookup after a poll found it), and the part
    limit spent this month."""
    supply = Supply(ctx.store)
    state = supply.state()
    on, why = state if state is not None else (ctx.supply_lookup is not None, ctx.supply_off)
    if not on:
        return f"Supply data is off: {escape(why, 300, flat=True)}."
    used = supply.usage(stamp(ctx.clock())[:7])
    return (f"Supply data is on: {used['matched']} part(s) matched this month in "
            f"{used['requests']} request(s).")
