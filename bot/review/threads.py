"""``/review comments`` and ``thread``: a project's comment threads, and one in full."""

from __future__ import annotations

from datetime import datetime

from bot.review.context import Context
from bot.review.reply import Reply, paged_reply
from bot.review.request import CommandError, thread_number, usage
from bot.slack.cards import named, when
from bot.slack.mrkdwn import escape
from state.clock import ago
from state.model import Thread


def comments(ctx: Context) -> Reply:
    info, rest = ctx.resolve(ctx.request.words)
    state = rest[0].casefold() if rest else "open"
    if state not in {"open", "resolved", "all"}:
        raise CommandError(f"Show `open`, `resolved` or `all` threads: {usage('comments')}")
    snap, fresh = ctx.snapshot(info, bom=False)
    now = ctx.clock()
    threads = sorted((t for t in snap.threads.values()
                      if state == "all" or (t.is_open == (state == "open"))),
                     key=lambda t: t.number)
    lines = [_thread_line(t, now) for t in threads]
    label = "" if state == "all" else f" {state}"
    plural = "s" if len(threads) != 1 else ""
    head = f"*{len(threads)}{label} thread{plural} in {named(info.name)}*"
    return paged_reply(ctx.request, lines or ["_(none)_"], head=head, more=fresh)


def thread(ctx: Context) -> Reply:
    words = ctx.request.words
    info, _ = ctx.resolve(words[:-1])
    number = thread_number(words[-1])
    snap, fresh = ctx.snapshot(info, bom=False)
    found = [t for t in snap.threads.values() if t.number == number]
    if not found:
        raise CommandError(f"{named(info.name)} has no thread #{number}.")
    chosen = found[0]
    state = "🟢 open" if chosen.is_open else "✅ resolved"
    where = f" on _{named(chosen.document_name)}_" if chosen.document_name else ""
    head = f"*{named(info.name)} · thread #{number}*{where} · {state}"
    if chosen.assigned_to is not None:
        head += f" · assigned to {named(chosen.assigned_to.display)}"
    lines = [f"*{named(c.author.display if c.author else None)}* "
             f"{when(c.created_at)}\n>{escape(c.text, 1200, flat=True)}"
             for c in chosen.comments]
    return paged_reply(ctx.request, lines or ["_(no comments)_"], head=head, more=fresh)


def _thread_line(t: Thread, now: datetime) -> str:
    first = t.comments[0] if t.comments else None
    who = first.author.display if first and first.author else None
    replies = max(0, len(t.comments) - 1)
    state = "🟢" if t.is_open else "✅"
    where = f" · {named(t.document_name)}" if t.document_name else ""
    noun = "reply" if replies == 1 else "replies"
    return (f"{state} *#{t.number}*{where} · {named(who)} · {ago(t.created_at, now)}"
            f" · {replies} {noun}: {escape(first.text if first else '', 100, flat=True)}")
