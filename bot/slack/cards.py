"""Block Kit cards for each kind of change, as plain block dicts (``bot.slack.limits``).

Every text from Altium or the supply data is escaped once, here, with
``bot.slack.mrkdwn.escape``; every card then goes through ``bot.slack.limits.fit``, after
quoting, so it stays inside Slack's limits whatever the text (a long list is trimmed with a
count first, so people know what is missing).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.slack.limits import (
    FALLBACK_TEXT,
    HEADER_TEXT,
    MESSAGE,
    NAME_TEXT,
    SECTION_TEXT,
    Block,
    context,
    divider,
    fit,
    header,
    pages,
    section,
    text_size,
)
from bot.slack.message import Message, People
from bot.slack.mrkdwn import escape, link, mention
from bot.slack.sentences import summary
from state.clock import parse_stamp
from state.model import BOM_ORDER, BomLine, Event, ProjectInfo, Snapshot, Thread, designator_key
from state.store import Subscription
from state.supply import PartKey, SupplyFacts, Thresholds, risks

log = logging.getLogger(__name__)

COMMENT_LIMIT = 2500
"""Characters of a quoted comment, the quote marks included: room left for its author."""
NAME_LIMIT = NAME_TEXT
MAX_VARIANTS = 6
NOTE_LIMIT = 300
"""Characters of the note a BOM change message gives about supply data it lacks."""
SUPPLY_LINK = "Octopart"
"""The label of a part's link in its supply facts."""
URL_LIMIT = 500
"""A part link longer than this is left out: it would crowd the lines of other parts."""
REPLY_HINT = "↩️ Reply in this thread to answer in Altium 365"
"""On a thread card in a channel whose replies are written to Altium 365 as comments."""

GROUP_NAMES = {"comments": "comment threads", "bom": "BOM changes",
               "revisions": "new revisions"}
BOM_TITLES = {"part_replaced": "Replaced", "part_removed": "Removed", "part_added": "Added",
              "part_fitted_changed": "Fitted / not fitted"}


def when(stamp: str) -> str:
    """A time Slack shows in each reader's own time zone, with a UTC fallback."""
    try:
        moment = parse_stamp(stamp)
    except ValueError:
        return escape(stamp)
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def project_link(project: ProjectInfo) -> str:
    """The project's name in bold, linked to Altium 365 when it has an address."""
    return f"*{link(project.url, project.name, NAME_LIMIT)}*"


def named(text: str | None, default: str = "someone") -> str:
    """A name from Altium (person, document, variant) on one line, escaped and bounded."""
    return escape(text or default, NAME_LIMIT, flat=True)


def quote(text: str, limit: int = COMMENT_LIMIT) -> str:
    """A comment as a mrkdwn block quote, every line of it quoted, in ``limit`` characters
    (the quote marks included)."""
    room = limit
    while True:
        body = escape(text.strip(), room) or "_(no text)_"
        lines = body.splitlines() or [""]
        size = len("\n".join(lines)) + len(lines)
        if size <= limit or room <= 1:
            return "\n".join(f">{line}" for line in lines)
        room -= size - limit


def _message(fallback: str, blocks: Iterable[Block]) -> Message:
    """The card with ``fallback`` (outside text) as its notification."""
    return _message_fitted(escape(fallback, FALLBACK_TEXT, flat=True), blocks)


def _message_fitted(text: str, blocks: Iterable[Block]) -> Message:
    """The message fitted into Slack's limits: clipped after quoting, never an empty
    section."""
    fitted_text, fitted = fit(text, blocks, MESSAGE)
    return Message(text=fitted_text, blocks=fitted)


def _person(people: People, display: str | None, email: str | None) -> str:
    return mention(people(email), display, NAME_LIMIT)


def _has_hint(message: Message) -> bool:
    return any(element.get("text") == REPLY_HINT for block in message.blocks
               if block.get("type") == "context" for element in block.get("elements", ()))


def _wanted(subscription: Subscription) -> str:
    """What a subscription will show: "comment threads and BOM changes (only ...)"."""
    wanted = [GROUP_NAMES[g] for g in subscription.groups if g in GROUP_NAMES]
    listed = ", ".join(wanted[:-1]) + f" and {wanted[-1]}" if len(wanted) > 1 \
        else "".join(wanted)
    extra = subscription.filters.describe()
    return listed + (f" ({escape(extra, 300, flat=True)})" if extra else "")


def replies_in_altium(count: int) -> str:
    """How many replies the thread has in Altium 365: some may predate its Slack thread."""
    if count == 0:
        return "no replies yet"
    return f"{count} repl{'y' if count == 1 else 'ies'} in Altium 365"


class Cards:
    """The renderer delivery uses: one method per kind of Slack post."""

    def thread_card(self, project: ProjectInfo, thread: Thread, *, people: People,
                    deleted: bool = False, replies: bool = False) -> Message:
        """The card heading a thread's Slack thread; ``replies``: the channel writes replies
        in that Slack thread to Altium 365, which the card says (not on a deleted thread)."""
        first = thread.comments[0] if thread.comments else None
        author = first.author if first else thread.created_by
        where = f" on _{named(thread.document_name)}_" if thread.document_name else ""
        head = f"{project_link(project)} · thread #{thread.number}{where}"
        who = _person(people, author.display if author else None,
                      author.email if author else None)
        body = f"*{who}*\n{quote(first.text if first else '')}"
        answered = max(0, len(thread.comments) - 1)
        if deleted:
            status = "🗑 Deleted in Altium 365"
        elif thread.is_open:
            status = "🟢 Open"
        else:
            status = "✅ Resolved"
        facts = [status, replies_in_altium(answered)]
        if thread.assigned_to is not None and not deleted:
            facts.append("assigned to " + _person(people, thread.assigned_to.display,
                                                  thread.assigned_to.email))
        facts.append(f"opened {when(thread.created_at)}")
        if project.url:
            facts.append(link(project.url, "Open in Altium 365"))
        fallback = (f"{project.name} #{thread.number}: "
                    f"{author.display if author else 'someone'}: {first.text if first else ''}")
        hint = REPLY_HINT if replies and not deleted else ""
        return _message(fallback, [section(head), section(body),
                                   context(" · ".join(facts), hint)])

    def thread_activity(self, project: ProjectInfo, event: Event, *,
                        people: People) -> Message:
        who = f"*{_person(people, event.author, event.author_email)}*"
        kind = event.kind
        if kind == "thread_replied":
            text = f"{who} replied:\n{quote(event.text or '')}"
        elif kind == "comment_edited":
            text = f"✏️ {who} edited a comment:\n{quote(event.text or '')}"
        elif kind == "thread_resolved":
            text = f"✅ {who} resolved the thread."
        elif kind == "thread_reopened":
            text = f"🔄 {who} reopened the thread."
        elif kind == "thread_assigned":
            if event.assignee:
                target = _person(people, event.assignee, event.assignee_email)
                text = f"👤 {who} assigned the thread to *{target}*."
            else:
                text = f"👤 {who} unassigned the thread."
        elif kind == "thread_deleted":
            text = "🗑 The thread was deleted in Altium 365."
        else:
            text = escape(kind.replace("_", " "))
        return _message(f"{project.name}: {summary(event)}", [section(text)])

    def bom_change(self, project: ProjectInfo, variant: str, events: Sequence[Event], *,
                   people: People, supply: Mapping[PartKey, SupplyFacts] | None = None,
                   supply_note: str | None = None,
                   quantities: Mapping[PartKey, int] | None = None,
                   thresholds: Thresholds | None = None) -> Message:
        """One variant's BOM changes of one poll as one message. With ``supply``, each new
        part (added, or the new side of a replacement) gets a line of its supply facts,
        judged for the ``quantities`` its variant places (1 when not given); a part without
        facts gets none, and ``supply_note`` (plain text, e.g. why there are none) is said
        once instead."""
        counts: Counter[str] = Counter(e.kind for e in events)
        counted = " · ".join(f"{counts[k]} {BOM_TITLES[k].lower()}" for k in BOM_ORDER
                             if counts[k])
        lines = SupplyLines(supply or {}, quantities, thresholds)
        at_risk = lines.at_risk(events)
        risky = f" · ⚠️ {at_risk} part{'s' if at_risk != 1 else ''} at supply risk" \
            if at_risk else ""
        title = f"BOM change · {project.name} ({variant})"
        intro = f"{project_link(project)} · variant *{named(variant, '-')}*: {counted}{risky}"
        note = ""
        if supply_note and lines.missing(events):
            note = escape(supply_note, NOTE_LIMIT, flat=True)
        ordered = sorted(events, key=lambda e: (BOM_ORDER.index(e.kind),
                                                designator_key(e.designator)))
        sections, shown = _fill_sections(
            ordered, room=MESSAGE.blocks - 3,
            budget=MESSAGE.chars - len(intro) - len(title) - len(note) - 300,
            render=lines.line)
        rest = len(events) - shown
        tail = [f"and {rest} more change{'s' if rest != 1 else ''}"] if rest > 0 else []
        if note:
            tail.append(note)
        if project.url:
            tail.append(link(project.url, "Open in Altium 365"))
        blocks: list[Block] = [header(escape(title, HEADER_TEXT, flat=True)),
                               section(intro), *(section(t) for t in sections)]
        if tail:
            blocks.append(context(" · ".join(tail)))
        return _message(f"{title}: {counted}{risky}", blocks)

    def revision(self, project: ProjectInfo, event: Event, *, people: People) -> Message:
        who = _person(people, event.author, None)
        message = escape(event.text or "", 500, flat=True) or "_(no message)_"
        text = (f"📦 {project_link(project)}: new revision by *{who}* "
                f"{when(event.at)}: {message}")
        return _message(f"{project.name}: {summary(event)}", [section(text)])

    def now_tracking(self, project: ProjectInfo, snapshot: Snapshot,
                     subscription: Subscription) -> Message:
        threads = list(snapshot.threads.values())
        open_count = sum(1 for t in threads if t.is_open)
        facts = [f"*{open_count}* open thread{'s' if open_count != 1 else ''} "
                 f"({len(threads) - open_count} resolved)",
                 f"BOM: {bom_facts(snapshot.bom)}"]
        rev = project.revision
        if rev is not None:
            facts.append(f"last revision by {named(rev.author)} {when(rev.created_at)}: "
                         f"{escape(rev.message, 200, flat=True)}")
        text = (f"👀 Now tracking {project_link(project)} here: " + " · ".join(facts)
                + f"\nFrom now on you will see {_wanted(subscription)}.")
        return _message(f"Now tracking {project.name}", [section(text), divider()])

    def tracking_line(self, snapshot: Snapshot) -> str:
        """One project's baseline on one line, for a welcome listing several projects."""
        threads = list(snapshot.threads.values())
        open_count = sum(1 for t in threads if t.is_open)
        return (f"• {project_link(snapshot.project)}: *{open_count}* open "
                f"thread{'s' if open_count != 1 else ''} ({len(threads) - open_count} "
                f"resolved) · BOM: {bom_facts(snapshot.bom)}")

    def now_tracking_many(self, entries: Sequence[tuple[str, Subscription]]) -> Message:
        """One welcome for several projects new to a channel: a line each (``tracking_line``)
        as far as one message holds, then how many more there are."""
        wanted = {_wanted(sub) for _, sub in entries}
        lines = [line if len(wanted) == 1 else f"{line} · you will see {_wanted(sub)}"
                 for line, sub in entries]
        head = f"👀 Now tracking *{len(entries)}* projects here:"
        footer = (f"From now on you will see {wanted.pop()}." if len(wanted) == 1
                  else "From now on you will see what each subscription asks for.")
        first = pages(lines, room=MESSAGE, head=head + footer)[0]
        shown = sum(chunk.count("\n") + 1 for chunk in first)
        blocks = [section(head), *(section(chunk) for chunk in first)]
        if shown < len(lines):
            blocks.append(context(f"…and {len(lines) - shown} more, all tracked here."))
        blocks += [section(footer), divider()]
        return _message(f"Now tracking {len(entries)} projects", blocks)

    def plain(self, message: Message) -> Message:
        """The same message as one short section, for when Slack refuses the full card; a
        thread card keeps its reply hint, so people still know where a reply goes."""
        hint = [context(REPLY_HINT)] if _has_hint(message) else []
        return _message_fitted(message.text, [section(message.text), *hint])


def variant_order(variant: str) -> tuple[bool, str]:
    """Variants as people list them: "Default" first, then by name."""
    return (variant != "Default", variant.casefold())


def bom_parts(lines: Iterable[BomLine]) -> list[list[BomLine]]:
    """Placements grouped into BOM lines, as Altium's BOM lists them: one line is one part
    (the same component and MPN) of one variant with all its designators. Lines come in the
    order of their first designator, each line's designators in natural order."""
    groups: dict[tuple[str, str, str | None], list[BomLine]] = {}
    for line in sorted(lines, key=lambda b: designator_key(b.designator)):
        groups.setdefault((line.variant, line.component_id, line.mpn), []).append(line)
    return list(groups.values())


@dataclass(frozen=True)
class BomSize:
    """One variant's BOM: its lines (parts), and its designators placed or not fitted."""

    lines: int
    placed: int
    not_fitted: int

    def text(self) -> str:
        plural = "s" if self.lines != 1 else ""
        extra = f" ({self.not_fitted} not fitted)" if self.not_fitted else ""
        return f"*{self.lines}* line{plural} · *{self.placed}* placed{extra}"


def bom_sizes(bom: Mapping[tuple[str, str], BomLine]) -> dict[str, BomSize]:
    """Each variant's ``BomSize``, Default first."""
    by_variant: dict[str, list[BomLine]] = {}
    for line in bom.values():
        by_variant.setdefault(line.variant, []).append(line)
    sizes = {}
    for variant in sorted(by_variant, key=variant_order):
        lines = by_variant[variant]
        placed = sum(1 for line in lines if line.fitted)
        sizes[variant] = BomSize(lines=len(bom_parts(lines)), placed=placed,
                                 not_fitted=len(lines) - placed)
    return sizes


NOT_READ = "not read yet (the next poll reads it)"


def bom_facts(bom: Mapping[tuple[str, str], BomLine] | None) -> str:
    """The BOM in one phrase: lines and placed designators, per variant where they differ;
    ``None`` is a BOM no poll has read yet (Nexar failed to give it), not an empty one."""
    return size_facts(None if bom is None else bom_sizes(bom))


def size_facts(sizes: Mapping[str, BomSize] | None) -> str:
    """``bom_facts`` of BOM sizes already counted (``None``: no BOM read yet)."""
    if sizes is None:
        return NOT_READ
    if not sizes:
        return "no lines"
    if len(set(sizes.values())) == 1:
        each = f" in each of {len(sizes)} variants" if len(sizes) > 1 else ""
        return next(iter(sizes.values())).text() + each
    shown = [f"{named(v, '-')} {size.text()}" for v, size in list(sizes.items())[:MAX_VARIANTS]]
    rest = len(sizes) - MAX_VARIANTS
    more = f"; and {rest} more variant{'s' if rest != 1 else ''}" if rest > 0 else ""
    return "; ".join(shown) + more


def part_name(manufacturer: str | None, mpn: str | None, default: str = "_(no part)_") -> str:
    """Manufacturer and MPN, each bounded on its own so a long one never hides the other."""
    shown = [escape(p, NAME_LIMIT // 2, flat=True) for p in (manufacturer, mpn) if p]
    return " ".join(p for p in shown if p) or default


def bom_line(event: Event) -> str:
    """One BOM change as a line: designator, then old part, new part or fitted state."""
    d = f"`{escape(event.designator or '?', 40, flat=True)}`"
    old = part_name(event.old_manufacturer, event.old_mpn)
    new = part_name(event.new_manufacturer, event.new_mpn)
    if event.kind == "part_replaced":
        return f"{d} {old} → {new}"
    if event.kind == "part_removed":
        return f"{d} {old}"
    if event.kind == "part_added":
        return f"{d} {new}"
    state = "fitted" if event.fitted else "not fitted"
    return f"{d} {state} ({new})"


def money(price: float, currency: str | None) -> str:
    """A unit price: cents for a price of 1 or more, four significant digits below."""
    amount = f"{price:,.2f}" if price >= 1 else f"{price:.4g}"
    return f"{amount} {escape(currency, 12, flat=True)}" if currency else amount


def weeks(days: int) -> str:
    """A lead time in whole weeks, as people plan with it."""
    count = round(days / 7)
    return "under a week" if count < 1 else f"{count} week{'s' if count != 1 else ''}"


def part_link(url: str | None) -> str:
    """The link to a part's supply page, or nothing for a missing, odd or overlong one."""
    if not url or len(url) > URL_LIMIT:
        return ""
    shown = link(url, SUPPLY_LINK)
    return shown if shown.startswith("<") else ""


def supply_text(facts: SupplyFacts, reasons: Sequence[str]) -> str:
    """One part's supply facts as one mrkdwn line: ⚠️ and why first when it is at risk,
    then lifecycle, stock, median price at 1k and factory lead time (each unless a reason
    said it already) and its link."""
    if not facts.found:
        return "_no supply data_"
    said = " ".join(reasons)
    shown: list[str] = []
    if reasons:
        shown.append(f"⚠️ *{escape('; '.join(reasons), 200, flat=True)}*")
    if facts.lifecycle and facts.lifecycle not in reasons:
        shown.append(escape(facts.lifecycle, 30, flat=True))
    if facts.stock is not None and not (f"({facts.stock:,})" in said or "no stock" in said):
        shown.append(f"{facts.stock:,} in stock")
    if facts.price_1k is not None and math.isfinite(facts.price_1k) and facts.price_1k >= 0:
        shown.append(f"{money(facts.price_1k, facts.currency)} at 1k")
    if facts.lead_days is not None and f"lead time {weeks(facts.lead_days)}" not in reasons:
        shown.append(f"lead time {weeks(facts.lead_days)}")
    shown.append(part_link(facts.url))
    return " · ".join(p for p in shown if p) or "_no supply facts given_"


class SupplyLines:
    """BOM lines with the supply facts of each new part on a line below it: in full the
    first time a part shows in a message, "as above" on its later lines. A part whose
    facts cannot be shown gets its BOM line alone: one bad part never breaks a message."""

    def __init__(self, supply: Mapping[PartKey, SupplyFacts],
                 quantities: Mapping[PartKey, int] | None = None,
                 thresholds: Thresholds | None = None) -> None:
        self.facts = {key.id: facts for key, facts in supply.items()}
        self.quantities = {key.id: count for key, count in (quantities or {}).items()}
        self.thresholds = thresholds or Thresholds()
        self._judged: dict[str, tuple[SupplyFacts, tuple[str, ...]] | None] = {}
        self._said: set[str] = set()

    def judged(self, key: PartKey) -> tuple[SupplyFacts, tuple[str, ...]] | None:
        """A part's facts and why it is at risk, or None without (usable) facts."""
        if key.id not in self._judged:
            facts = self.facts.get(key.id)
            found: tuple[SupplyFacts, tuple[str, ...]] | None = None
            if facts is not None:
                try:
                    found = facts, risks(facts, quantity=self.quantities.get(key.id, 1),
                                         thresholds=self.thresholds)
                except Exception as exc:  # one bad part never breaks the message
                    log.warning("left out the supply facts of a part: %s: %s",
                                type(exc).__name__, exc)
            self._judged[key.id] = found
        return self._judged[key.id]

    def at_risk(self, events: Iterable[Event]) -> int:
        """How many distinct new parts of ``events`` are at supply risk."""
        keys = {k.id: k for k in (PartKey.of_new_part(e) for e in events) if k is not None}
        return sum(1 for k in keys.values() if (j := self.judged(k)) is not None and j[1])

    def missing(self, events: Iterable[Event]) -> bool:
        """Whether a new part of ``events`` has no facts to show."""
        return any(key is not None and self.judged(key) is None
                   for key in (PartKey.of_new_part(e) for e in events))

    def line(self, event: Event) -> str:
        """``bom_line(event)``, with the supply facts of the part it puts in below it."""
        base = bom_line(event)
        key = PartKey.of_new_part(event)
        judged = self.judged(key) if key is not None else None
        if key is None or judged is None:
            return base
        facts, reasons = judged
        if key.id in self._said:
            return base + (" · ⚠️ _supply risk as above_" if reasons else
                           " · _supply as above_")
        try:
            text = supply_text(facts, reasons)
        except Exception as exc:  # one bad part never breaks the message
            log.warning("left out the supply facts of a part: %s: %s", type(exc).__name__,
                        exc)
            self._judged[key.id] = None
            return base
        self._said.add(key.id)
        return f"{base}\n  ↳ {text}"


def _fill_sections(events: Sequence[Event], *, room: int, budget: int,
                   render: Callable[[Event], str] = bom_line) -> tuple[list[str], int]:
    """BOM lines (each ``render``ed) under a heading per kind, packed into at most ``room``
    sections of at most SECTION_TEXT characters and ``budget`` in all; returns the sections
    and lines shown."""
    sections: list[str] = []
    shown, used, current, kind = 0, 0, "", ""
    for event in events:
        line = render(event)
        if event.kind != kind:
            if current:
                sections.append(current)
                used += len(current)
            kind, current = event.kind, f"*{BOM_TITLES[event.kind]}*"
        if len(current) + 1 + len(line) > SECTION_TEXT:
            sections.append(current)
            used += len(current)
            current = ""
        if len(sections) >= room or used + len(current) + 1 + len(line) > budget:
            current = current if current.count("\n") or not current.startswith("*") else ""
            break
        current = f"{current}\n{line}" if current else line
        shown += 1
    if current and len(sections) < room:
        sections.append(current)
    return sections, shown


def message_size(message: Message) -> tuple[int, int]:
    """(blocks, characters of text in them): what Slack's limits count."""
    return len(message.blocks), text_size(message.blocks)
