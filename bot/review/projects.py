"""``/review workspaces``, ``projects`` and ``project``: what there is, and one project's
state at a glance."""

from __future__ import annotations

from bot.review.context import Context
from bot.review.reply import PAGE_SIZE, Reply, paged_reply
from bot.review.request import CommandError
from bot.slack.cards import NAME_LIMIT, BomSize, bom_sizes, named, size_facts, variant_order, when
from bot.slack.mrkdwn import escape, link


def workspaces(ctx: Context) -> Reply:
    if ctx.nexar is None:
        raise CommandError("Nexar is not configured for this bot.")
    with ctx.nexar() as client:
        found = client.workspaces()
    lines = [f"• *{link(w.url, w.name, NAME_LIMIT)}* — {named(w.region)}"
             + (" (default)" if w.is_default else "") for w in found]
    return paged_reply(ctx.request, lines, head=f"*{len(found)} workspace"
                       f"{'s' if len(found) != 1 else ''}*")


def projects(ctx: Context) -> Reply:
    text = " ".join(ctx.request.words)
    found = [p for p in ctx.store.catalog() if ctx.policy.is_shared(p.name)
             and text.casefold() in f"{p.name} {p.description}".casefold()]
    watched = ctx.store.watched_project_ids()
    lines = [f"• *{link(p.url, p.name, NAME_LIMIT)}*"
             + (" · watched" if p.id in watched else "")
             + (f" — {escape(p.description, 80, flat=True)}" if p.description else "")
             for p in found]
    what = f" matching “{escape(text, 40, flat=True)}”" if text else ""
    total = len(found)
    head = f"*{total} project{'s' if total != 1 else ''}{what}*"
    return paged_reply(ctx.request, lines, head=head, more=ctx.fresh(), per_page=PAGE_SIZE)


def project(ctx: Context) -> Reply:
    info, _ = ctx.resolve(ctx.request.words)
    stored = ctx.store.load_snapshot(info.id, with_bom=False)
    sizes: dict[str, BomSize] | None
    if stored is not None:
        # Counted in the database: a large BOM is never loaded to say how large it is.
        snap, fresh = stored, ctx.fresh()
        counts = ctx.store.bom_counts(info.id) if ctx.store.has_bom(info.id) else None
        sizes = None if counts is None else {
            v: BomSize(lines=c.lines, placed=c.placed, not_fitted=c.not_fitted)
            for v, c in sorted(counts.items(), key=lambda item: variant_order(item[0]))}
    else:
        snap, fresh = ctx.snapshot(info, bom=True)
        sizes = None if snap.bom is None else bom_sizes(snap.bom)
    threads = list(snap.threads.values())
    open_count = sum(1 for t in threads if t.is_open)
    rev = snap.project.revision
    lines = [escape(info.description, 300, flat=True) if info.description else "",
             (f"Last revision by *{named(rev.author)}* {when(rev.created_at)}: "
              f"{escape(rev.message, 300, flat=True)}") if rev else "No revision yet.",
             f"Threads: *{open_count}* open, *{len(threads) - open_count}* resolved",
             f"BOM: {size_facts(sizes)}",
             link(info.url, "Open in Altium 365") if info.url else ""]
    return paged_reply(ctx.request, [line for line in lines if line],
                       head=f"*{named(info.name)}*", more=fresh)
