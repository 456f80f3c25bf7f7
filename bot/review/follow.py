"""``/review subscribe``, ``unsubscribe`` and ``subscriptions``: which projects this channel
follows. Changing them is for the bot's admins (``Context.admin_only``)."""

from __future__ import annotations

from bot import usecases
from bot.review.context import Context
from bot.review.reply import Reply, paged_reply
from bot.review.request import CommandError, split_project, usage
from bot.slack.cards import named
from bot.slack.mrkdwn import escape
from state.filters import Filters
from state.model import EVENT_GROUPS
from state.store import Subscription


def subscribe(ctx: Context) -> Reply:
    ctx.admin_only()
    words = list(ctx.request.words)
    groups: list[str] = []
    while words and words[-1].casefold() in EVENT_GROUPS:
        groups.insert(0, words.pop().casefold())
    info, rest = ctx.resolve(tuple(words))
    if rest:
        raise CommandError(f"I did not understand `{escape(' '.join(rest), 40)}`: "
                           f"{usage('subscribe')}")
    filters = _exclusions(ctx.request.options.get("exclude", ""))
    details = ctx.channel_info(ctx.asker.channel_id) if ctx.channel_info else {}
    if details and not details.get("is_member", True):
        raise CommandError("I am not in this channel, so I could not post here: "
                           "`/invite @review-bot`, then subscribe again. Nothing was "
                           "saved.")
    channel = ctx.channel_key()
    replied = usecases.sends_replies(ctx.store, info, channel)
    sub = usecases.subscribe(ctx.store, info, channel, groups, filters=filters,
                             now=ctx.clock(), replies="replies" in ctx.request.options)
    described = sub.filters.describe()
    extra = f" ({escape(described)})" if described else ""
    text = (f"This channel now follows *{named(info.name)}*: "
            f"{', '.join(sub.groups)}{extra}. A “now tracking” summary comes after the "
            "next poll; from then on every change is posted here.")
    if sub.replies:
        text += ("\n:leftwards_arrow_with_hook: Replies in the threads of its thread cards "
                 "go to Altium 365 as comments, under each person's Slack name.")
    elif replied:
        text += ("\nReplies here no longer go to Altium 365 (add `--replies` to keep "
                 "them).")
    if details and not details.get("is_private", True):
        text += ("\n:information_source: This is a public channel: anyone in the "
                 "workspace can read these design-review posts"
                 + (", and join to answer in Altium 365." if sub.replies else "."))
    return Reply(text=text, share=ctx.request.share)


def unsubscribe(ctx: Context) -> Reply:
    ctx.admin_only()

    def choose(subs: list[Subscription]) -> Subscription:
        if not subs:
            raise CommandError("This channel follows no project.")
        name, _ = split_project(ctx.request.words, [s.project for s in subs])
        return next(s for s in subs if s.project == name)

    sub = usecases.unsubscribe(ctx.store, {ctx.channel_key(), ctx.asker.channel_id}, choose,
                               shared=ctx.policy.is_shared)
    return Reply(text=f"This channel no longer follows *{named(sub.project)}*.",
                 share=ctx.request.share)


def subscriptions(ctx: Context) -> Reply:
    names = {ctx.asker.channel_id}
    if ctx.asker.channel_name:
        names.add(f"#{ctx.asker.channel_name}")
    following = usecases.subscriptions(ctx.store, channels=names, shared=ctx.policy.is_shared)
    if not following:
        return Reply(text="This channel follows no project yet. "
                          "Try `/review subscribe <project>`.", share=ctx.request.share)
    lines = [_subscription_line(f.subscription, f.waiting) for f in following]
    return paged_reply(ctx.request, lines, head="*This channel follows*")


def _subscription_line(sub: Subscription, waiting: int) -> str:
    state = (f"paused: {escape(sub.paused_reason, 300, flat=True)}" if sub.paused_reason
             else "active")
    extra = sub.filters.describe()
    shown = f" ({escape(extra, 300, flat=True)})" if extra else ""
    pending = f" — {waiting} waiting" if waiting else ""
    replies = " — replies go to Altium 365" if sub.replies else ""
    return (f"• *{named(sub.project)}* — {', '.join(sub.groups)}{shown}{replies} — "
            f"{state}{pending}")


def _exclusions(text: str) -> Filters:
    values = [v.strip() for v in text.split(",") if v.strip()]
    documents = tuple(v for v in values if "." in v or "*" in v)
    prefixes = tuple(v.upper() for v in values if v not in documents)
    bad = [v for v in prefixes if not v.isalpha()]
    if bad:
        raise CommandError(f"`{escape(bad[0], 30)}` is neither a designator prefix "
                           "(R, TP) nor a document pattern (*.SchDoc).")
    return Filters(exclude_documents=documents, exclude_designators=prefixes)
