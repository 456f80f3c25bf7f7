"""``/review digest``: show, set, stop or post this channel's scheduled digest."""

from __future__ import annotations

from bot import usecases
from bot.cadence import Now, Off, ScheduleError, Show, describe, parse_schedule
from bot.review.context import Context
from bot.review.reply import Reply
from bot.review.request import CommandError
from bot.slack.mrkdwn import escape


def digest(ctx: Context) -> Reply:
    try:
        parsed = parse_schedule(ctx.request.words, default_tz=ctx.digest_tz)
    except ScheduleError as exc:
        return Reply(text=escape(str(exc)))
    channel = ctx.channel_key()
    share = ctx.request.share
    if isinstance(parsed, Show):
        current = usecases.digest_setting(ctx.store, channel)
        if current is None:
            return Reply(text="This channel gets no digest. Try `/review digest daily "
                              "09:00` or `/review digest weekly mon 09:00 Europe/Berlin`.",
                         share=share)
        return Reply(text=f"Digest: {escape(describe(current, now=ctx.clock()))}",
                     share=share)
    ctx.admin_only()
    if isinstance(parsed, Now):
        if ctx.digest_now is None:
            raise CommandError("Digests cannot be posted from here.")
        run = ctx.digest_now(channel)
        return Reply(text="Posted this channel's digest." if run else
                     "A digest was just posted; nothing new since.")
    if isinstance(parsed, Off):
        text = ("Digest turned off for this channel." if usecases.stop_digest(ctx.store, channel)
                else "This channel had no digest.")
    else:
        usecases.set_digest(ctx.store, channel, parsed, now=ctx.clock())
        text = f"This channel gets a digest {escape(describe(parsed, now=ctx.clock()))}."
    if ctx.on_digest_change is not None:
        ctx.on_digest_change()
    return Reply(text=text, share=share)
