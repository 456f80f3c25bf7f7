"""``/review part``: where a part is used in the watched projects, and the library's
components that match (read from Nexar, kept ``LIBRARY_TTL`` seconds)."""

from __future__ import annotations

import time

from bot.review.context import Context
from bot.review.reply import Reply, paged_reply
from bot.review.request import CommandError
from bot.slack.cards import named
from bot.slack.mrkdwn import escape
from jobs.nexar import LibraryPart
from state.model import designator_key

LIBRARY_TTL = 600.0


def part(ctx: Context) -> Reply:
    query = " ".join(ctx.request.words).strip()
    folded = query.casefold()
    library = _library_parts(ctx)
    hits = [p for p in library if folded in " ".join(
        [p.name, p.comment, p.description, *(m for _, m in p.manufacturer_parts)]
    ).casefold()]
    used = _where_used(ctx, folded)
    plural = "s" if len(hits) != 1 else ""
    head = (f"*{len(hits)} library component{plural} matching "
            f"“{escape(query, 40, flat=True)}”*")
    lines = ["*Used in*", *(used or ["_(not used in any watched project)_"]),
             "*In the library*", *([_part_line(p) for p in hits]
                                   or ["_(none in the library)_"])]
    return paged_reply(ctx.request, lines, head=head, more=ctx.fresh())


def _library_parts(ctx: Context) -> list[LibraryPart]:
    if ctx.nexar is None:
        raise CommandError("Nexar is not configured for this bot.")
    now = time.monotonic()
    fresh = {u: parts for u, (at, parts) in ctx.library.items() if now - at < LIBRARY_TTL}
    if not fresh:
        with ctx.nexar() as client:
            for workspace in client.workspaces():
                fresh[workspace.url] = client.library(workspace)
                ctx.library[workspace.url] = (now, fresh[workspace.url])
    return [part for parts in fresh.values() for part in parts]


def _where_used(ctx: Context, folded: str) -> list[str]:
    places: dict[tuple[str, str, str], list[str]] = {}
    for project, variant, designator, mpn in ctx.store.bom_places(folded):
        if ctx.policy.is_shared(project):
            places.setdefault((project, variant, mpn), []).append(designator)
    lines = []
    for (project, variant, mpn), designators in places.items():
        ordered = sorted(designators, key=designator_key)
        extra = f" and {len(ordered) - 30} more" if len(ordered) > 30 else ""
        lines.append(f"• *{named(project)}* ({named(variant, '-')}) {named(mpn, '')}: "
                     f"{escape(', '.join(ordered[:30]), 600, flat=True)}{extra}")
    return lines


def _part_line(p: LibraryPart) -> str:
    mparts = ", ".join(f"{m} {n}".strip() for m, n in p.manufacturer_parts[:3]) or "—"
    params = ", ".join(f"{k} {v}" for k, v in p.parameters[:4])
    return (f"• *{named(p.name)}* {named(p.comment, '')} — "
            f"{escape(p.description, 100, flat=True)}"
            f"\n   {escape(mparts, 300, flat=True)}"
            + (f" · {escape(params, 300, flat=True)}" if params else ""))
