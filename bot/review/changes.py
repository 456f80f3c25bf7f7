"""``/review changes``: a project's event log since a moment (a week by default)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot import usecases
from bot.review.context import Context
from bot.review.reply import Reply, paged_reply
from bot.review.request import CommandError
from bot.slack.cards import named
from bot.slack.mrkdwn import escape
from bot.slack.sentences import summary
from state.model import Event
from state.store import StoredEvent


def changes(ctx: Context) -> Reply:
    info, rest = ctx.resolve(ctx.request.words)
    word = rest[0] if rest else "7d"
    try:
        since = usecases.since(word, ctx.clock())
    except ValueError:
        raise CommandError(f"`{escape(word, 30)}` is not a time: use an age like 2h, "
                           "3d, 1w, or a date like 2026-11-01.") from None
    events = _across_variants(usecases.changes(ctx.store, since=since, project_id=info.id))
    shown = events[-60:]
    lines = [f"`{e.at[:16].replace('T', ' ')}` {escape(summary(e), 600)}" for e in shown]
    plural = "s" if len(events) != 1 else ""
    head = (f"*{len(events)} change{plural} in {named(info.name)} since "
            f"{since[:16].replace('T', ' ')} UTC*")
    more = f"showing the newest {len(shown)}" if len(events) > len(shown) else ""
    return paged_reply(ctx.request, lines or ["_(nothing changed)_"], head=head,
                       more=" · ".join(x for x in (more, ctx.fresh()) if x))


def _across_variants(events: Sequence[StoredEvent]) -> list[Event]:
    """The log as people read it: the same change of a designator found by one poll in
    several variants is one entry naming the variants ("(Default, Lite)")."""
    merged: dict[tuple[object, ...], list[Event]] = {}
    for stored in events:
        e = stored.event
        key: tuple[object, ...] = (stored.id,)
        if e.designator is not None:
            key = (stored.detected_at, e.kind, e.designator, e.old_manufacturer, e.old_mpn,
                   e.new_manufacturer, e.new_mpn, e.fitted)
        merged.setdefault(key, []).append(e)
    return [replace(group[0], variant=", ".join(e.variant or "?" for e in group))
            if len(group) > 1 else group[0] for group in merged.values()]
