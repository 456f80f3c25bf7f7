"""``/review risk``: the supply risk of every part in a project's stored BOM, on request.

Unlike the BOM change messages, which only ever look up parts a change brings in, this
checks a whole BOM: the distinct parts of a variant (or of every variant), their facts from
the supply cache when checked within a day, the rest asked in one request. Every part
matched counts against the Nexar app's monthly part limit, so more than ``ASK_LIMIT`` parts
are asked only with ``--yes``; the answer says how many were asked this month. A page
button shows the facts kept by the first answer and never asks again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.review.context import Context
from bot.review.reply import Reply, paged_reply
from bot.review.request import CommandError
from bot.slack.cards import NOT_READ, named, part_link, part_name, variant_order
from bot.slack.mrkdwn import escape
from state.clock import stamp
from state.errors import ReviewBotError
from state.model import Bom, BomLine, designator_key
from state.part_supply import placements
from state.supply import PartKey, Supply, SupplyFacts, Thresholds, risks

log = logging.getLogger(__name__)

ASK_LIMIT = 50
"""More parts than this to ask for need ``--yes``."""
MAX_DESIGNATORS = 12


@dataclass
class _Part:
    """One distinct part of the BOM checked: where it is placed, and how many at most."""

    key: PartKey
    designators: set[str] = field(default_factory=set)
    quantity: int = 0


def risk(ctx: Context) -> Reply:
    info, rest = ctx.resolve(ctx.request.words)
    snap = ctx.store.load_snapshot(info.id)
    if snap is None or snap.bom is None:
        raise CommandError(f"The BOM of *{named(info.name)}* is {NOT_READ}; only a watched "
                           "project's BOM can be checked.")
    variants = sorted({line.variant for line in snap.bom.values()}, key=variant_order)
    chosen = variants
    if rest:
        wanted = " ".join(rest).casefold()
        chosen = [v for v in variants if v.casefold() == wanted]
        if not chosen:
            listed = ", ".join(variants[:10]) or "none"
            raise CommandError(f"*{named(info.name)}* has no variant "
                               f"“{escape(' '.join(rest), 40, flat=True)}”; its variants: "
                               f"{escape(listed, 400, flat=True)}.")
    if ctx.supply_lookup is None:
        raise CommandError(f"Supply data is off: {escape(ctx.supply_off, 300, flat=True)}.")
    parts = _parts(snap.bom, chosen)
    keys = [p.key for p in parts]
    now = ctx.clock()
    month = stamp(now)[:7]
    supply = Supply(ctx.store)
    asked = 0
    if "page" not in ctx.request.options:
        stale = supply.stale(keys, now=now)
        if len(stale) > ASK_LIMIT and "yes" not in ctx.request.options:
            return Reply(text=_ask_first(ctx, len(stale), supply.usage(month)["asked"]))
        if stale:
            try:
                answers = ctx.supply_lookup(stale)
            except ReviewBotError as exc:
                raise CommandError(f"Supply data could not be asked: "
                                   f"{escape(str(exc), 300, flat=True)}") from None
            supply.keep(list(answers.values()), at=now, asked=len(stale))
            asked = len(stale)
    known = supply.facts(keys)
    thresholds = ctx.supply_thresholds or Thresholds()
    lines: list[str] = []
    healthy = missing = unknown = 0
    for part in parts:
        facts = known.get(part.key)
        if facts is None:
            unknown += 1
            continue
        if not facts.found:
            missing += 1
            continue
        try:
            reasons = risks(facts, quantity=part.quantity, thresholds=thresholds)
            row = _risk_row(part, facts, reasons) if reasons else ""
        except Exception as exc:  # one bad part never breaks the answer
            log.warning("left out the supply facts of a part: %s: %s", type(exc).__name__,
                        exc)
            unknown += 1
            continue
        if row:
            lines.append(row)
        else:
            healthy += 1
    which = (f"variant *{named(chosen[0], '-')}*" if len(chosen) == 1
             else f"{len(chosen)} variants" if len(chosen) > 1 else "no variants")
    head = (f"*Supply risk of {named(info.name)}* · {which} · *{len(lines)}* of "
            f"{len(parts)} part{'s' if len(parts) != 1 else ''} at risk")
    counts = [f"✅ *{healthy}* healthy"]
    if missing:
        counts.append(f"*{missing}* without supply data")
    if unknown:
        counts.append(f"*{unknown}* not checked yet")
    lines.append(" · ".join(counts))
    used = supply.usage(month)["asked"]
    more = f"{asked} part{'s' if asked != 1 else ''} asked now ({used} this month)"
    return paged_reply(ctx.request, lines, head=head, more=more)


def _parts(bom: Bom, variants: Sequence[str]) -> list[_Part]:
    """The distinct parts fitted in ``variants``, in the order of their first designator;
    a part's quantity is the most any one variant places."""
    found: dict[str, _Part] = {}
    lines: list[BomLine] = sorted((line for line in bom.values()
                                   if line.variant in variants and line.fitted and line.mpn),
                                  key=lambda line: designator_key(line.designator))
    for line in lines:
        key = PartKey(mpn=line.mpn or "", manufacturer=line.manufacturer)
        found.setdefault(key.id, _Part(key=key)).designators.add(line.designator)
    for variant in variants:
        for key_id, count in placements(bom, variant).items():
            if key_id in found:
                found[key_id].quantity = max(found[key_id].quantity, count)
    return list(found.values())


def _risk_row(part: _Part, facts: SupplyFacts, reasons: tuple[str, ...]) -> str:
    """A part at risk: its designators, how many, the part, why, and its link."""
    ordered = sorted(part.designators, key=designator_key)
    shown = ", ".join(ordered[:MAX_DESIGNATORS]) + (
        f" +{len(ordered) - MAX_DESIGNATORS}" if len(ordered) > MAX_DESIGNATORS else "")
    link = part_link(facts.url)
    return (f"⚠️ `{escape(shown, 200, flat=True)}` ×{part.quantity} · "
            f"*{part_name(part.key.manufacturer, part.key.mpn)}* — "
            f"{escape('; '.join(reasons), 300, flat=True)}" + (f" · {link}" if link else ""))


def _ask_first(ctx: Context, count: int, this_month: int) -> str:
    """Asking for many parts counts against the part limit: say so, and how to go ahead."""
    words = " ".join(ctx.request.words)
    return (f"Checking that BOM asks the supply data for *{count}* parts not checked in the "
            f"last 24 hours; every part matched counts against the monthly part limit "
            f"(*{this_month}* parts asked this month). To go ahead, repeat it with `--yes`: "
            f"`/review risk {escape(words.replace('`', ''), 200, flat=True)} --yes`")
