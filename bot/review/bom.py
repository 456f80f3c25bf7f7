"""``/review bom``: one variant's BOM lines, those matching a word when one is given."""

from __future__ import annotations

from collections.abc import Sequence

from bot.review.context import Context
from bot.review.reply import Reply, paged_reply
from bot.review.request import CommandError
from bot.slack.cards import NOT_READ, bom_parts, bom_sizes, named, part_name, variant_order
from bot.slack.mrkdwn import escape
from state.model import BomLine


def bom(ctx: Context) -> Reply:
    info, rest = ctx.resolve(ctx.request.words)
    snap, fresh = ctx.snapshot(info, bom=True)
    lines = snap.bom
    if lines is None:
        raise CommandError(f"The BOM of *{named(info.name)}* is {NOT_READ}.")
    sizes = bom_sizes(lines)
    variants = sorted(sizes, key=variant_order)
    variant = variants[0] if variants else ""
    words = list(rest)
    if words and words[0].casefold() in {v.casefold() for v in variants}:
        first = words.pop(0).casefold()
        variant = next(v for v in variants if v.casefold() == first)
    query = " ".join(words)
    parts = bom_parts(b for (v, _), b in lines.items()
                      if v == variant and _bom_matches(b, query))
    rows = [_bom_row(items) for items in parts]
    head = f"*BOM of {named(info.name)}* · variant *{named(variant, '-')}* · "
    if query:
        total = sizes[variant].lines if variant in sizes else 0
        head += (f"*{len(parts)}* of {total} line{'s' if total != 1 else ''} matching "
                 f"“{escape(query, 40, flat=True)}”")
    else:
        head += sizes[variant].text() if variant in sizes else "no lines"
    return paged_reply(ctx.request, rows or ["_(no lines)_"], head=head, more=fresh)


def _bom_matches(line: BomLine, query: str) -> bool:
    if not query:
        return True
    q = query.casefold()
    fields = (line.designator, line.mpn or "", line.manufacturer or "", line.name,
              line.comment, line.description)
    return any(q in f.casefold() for f in fields)


def without_repeats(texts: Sequence[str], *, said: Sequence[str] = ()) -> list[str]:
    """``texts`` with each one that repeats an earlier one, or one in ``said``, blanked
    (ignoring case and spacing): a part's name, comment, MPN and description are often the
    same words."""
    seen = {" ".join(t.split()).casefold() for t in said if t}
    kept = []
    for text in texts:
        key = " ".join(text.split()).casefold()
        kept.append(text if key not in seen else "")
        seen.add(key)
    return kept


def _bom_row(items: Sequence[BomLine]) -> str:
    """One BOM line: its designators, how many and whether fitted, the part and what it is."""
    first = items[0]
    designators = ", ".join(i.designator for i in items[:12]) + (
        f" +{len(items) - 12}" if len(items) > 12 else "")
    fitted = sum(1 for i in items if i.fitted)
    if fitted == len(items):
        state = "fitted"
    elif fitted == 0:
        state = "not fitted"
    else:
        state = f"{fitted} fitted"
    title, comment, description = without_repeats(
        [first.name, first.comment, first.description], said=[first.mpn or ""])
    about = escape(f"{title} {comment}", 80, flat=True)
    described = f" — {escape(description, 80, flat=True)}" if description else ""
    return (f"`{escape(designators, 200, flat=True)}` ×{len(items)} · {state} · "
            f"*{part_name(first.manufacturer, first.mpn, 'no part number')}*"
            + (f" · {about}" if about else "")
            + described)
