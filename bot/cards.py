"""Block Kit cards for each kind of change, built with ``slack_sdk.models.blocks``.

Every text from Altium is escaped (``bot.mrkdwn``); every card stays inside Slack's limits
(50 blocks, 3,000 characters a section, about 13k in all) by trimming with a count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.mrkdwn import clip, escape, link, mention, one_line
from jobs.deliver import Message, People
from state.model import Event, ProjectInfo, Snapshot, Thread, designator_key
from state.store import Subscription

MAX_BLOCKS = 50
SECTION_LIMIT = 3000
TOTAL_LIMIT = 12000
COMMENT_LIMIT = 2500
FALLBACK_LIMIT = 300

GROUP_NAMES = {"comments": "comment threads", "bom": "BOM changes",
               "revisions": "new revisions"}
BOM_ORDER = ("part_replaced", "part_removed", "part_added", "part_fitted_changed")
BOM_TITLES = {"part_replaced": "Replaced", "part_removed": "Removed", "part_added": "Added",
              "part_fitted_changed": "Fitted / not fitted"}


def when(stamp: str) -> str:
    """A time Slack shows in each reader's own time zone, with a UTC fallback."""
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return escape(stamp)
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def project_link(project: ProjectInfo) -> str:
    return f"*{link(project.url, project.name)}*" if project.url else f"*{escape(project.name)}*"


def quote(text: str, limit: int = COMMENT_LIMIT) -> str:
    body = clip(text.strip(), limit) or "_(no text)_"
    return "\n".join(f">{line}" for line in body.splitlines() or [""])


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text))


def _context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=t) for t in texts if t])


def _message(fallback: str, blocks: Iterable[Block]) -> Message:
    return Message(text=clip(one_line(fallback), FALLBACK_LIMIT),
                   blocks=[b.to_dict() for b in blocks])


def _person(people: People, name: str | None, email: str | None) -> str:
    return mention(people(email), name)


class Cards:
    """The renderer delivery uses: one method per kind of Slack post."""

    def thread_card(self, project: ProjectInfo, thread: Thread, *, people: People,
                    deleted: bool = False) -> Message:
        first = thread.comments[0] if thread.comments else None
        author = first.author if first else thread.created_by
        where = f" on _{escape(thread.document_name)}_" if thread.document_name else ""
        head = f"{project_link(project)} · thread #{thread.number}{where}"
        who = _person(people, author.display if author else None,
                      author.email if author else None)
        body = f"*{who}*\n{quote(first.text if first else '')}"
        replies = max(0, len(thread.comments) - 1)
        if deleted:
            status = "🗑 Deleted in Altium 365"
        elif thread.is_open:
            status = "🟢 Open"
        else:
            status = "✅ Resolved"
        facts = [status, f"{replies} repl{'y' if replies == 1 else 'ies'}"]
        if thread.assigned_to is not None and not deleted:
            facts.append("assigned to " + _person(people, thread.assigned_to.display,
                                                  thread.assigned_to.email))
        facts.append(f"opened {when(thread.created_at)}")
        if project.url:
            facts.append(link(project.url, "Open in Altium 365"))
        fallback = (f"{project.name} #{thread.number}: "
                    f"{author.display if author else 'someone'}: {first.text if first else ''}")
        return _message(fallback, [_section(head), _section(body), _context(" · ".join(facts))])

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
            text = escape(kind)
        fallback = f"{project.name} #{event.thread_number}: {kind.replace('_', ' ')} " \
                   f"by {event.author or 'someone'}"
        return _message(fallback, [_section(text)])

    def bom_change(self, project: ProjectInfo, variant: str, events: Sequence[Event], *,
                   people: People) -> Message:
        counts: Counter[str] = Counter(e.kind for e in events)
        summary = " · ".join(f"{counts[k]} {BOM_TITLES[k].lower()}" for k in BOM_ORDER
                             if counts[k])
        title = f"BOM change · {project.name} ({variant})"
        intro = f"{project_link(project)} · variant *{escape(variant)}*: {summary}"
        ordered = sorted(events, key=lambda e: (BOM_ORDER.index(e.kind),
                                                designator_key(e.designator)))
        sections, shown = _fill_sections(
            ordered, room=MAX_BLOCKS - 3, budget=TOTAL_LIMIT - len(intro) - len(title) - 300)
        rest = len(events) - shown
        tail = [f"and {rest} more change{'s' if rest != 1 else ''}"] if rest > 0 else []
        if project.url:
            tail.append(link(project.url, "Open in Altium 365"))
        blocks: list[Block] = [HeaderBlock(text=PlainTextObject(text=one_line(title)[:150])),
                               _section(intro), *(_section(t) for t in sections)]
        if tail:
            blocks.append(_context(" · ".join(tail)))
        return _message(f"{title}: {summary}", blocks)

    def revision(self, project: ProjectInfo, event: Event, *, people: People) -> Message:
        who = _person(people, event.author, None)
        message = clip(one_line(event.text or ""), 500) or "_(no message)_"
        text = (f"📦 {project_link(project)}: new revision by *{who}* "
                f"{when(event.at)}: {message}")
        return _message(f"{project.name}: new revision by {event.author}: {event.text}",
                        [_section(text)])

    def now_tracking(self, project: ProjectInfo, snapshot: Snapshot,
                     subscription: Subscription) -> Message:
        threads = list(snapshot.threads.values())
        open_count = sum(1 for t in threads if t.is_open)
        bom = snapshot.bom or {}
        variants = sorted({v for v, _ in bom})
        facts = [f"*{open_count}* open thread{'s' if open_count != 1 else ''} "
                 f"({len(threads) - open_count} resolved)",
                 f"*{len(bom)}* BOM lines in {len(variants)} variant"
                 f"{'s' if len(variants) != 1 else ''}"]
        rev = project.revision
        if rev is not None:
            facts.append(f"last revision by {escape(rev.author)} {when(rev.created_at)}: "
                         f"{clip(one_line(rev.message), 200)}")
        wanted = [GROUP_NAMES[g] for g in subscription.groups if g in GROUP_NAMES]
        listed = ", ".join(wanted[:-1]) + f" and {wanted[-1]}" if len(wanted) > 1 \
            else "".join(wanted)
        extra = subscription.filters.describe()
        text = (f"👀 Now tracking {project_link(project)} here: " + " · ".join(facts)
                + f"\nFrom now on you will see {listed}"
                + (f" ({escape(extra)})." if extra else "."))
        return _message(f"Now tracking {project.name}", [_section(text), DividerBlock()])

    def plain(self, message: Message) -> Message:
        """The same message as one short section, for when Slack refuses the full card."""
        return Message(text=message.text, blocks=[_section(message.text).to_dict()])


def _part(manufacturer: str | None, mpn: str | None) -> str:
    return escape(" ".join(p for p in (manufacturer, mpn) if p)) or "_(no part)_"


def bom_line(event: Event) -> str:
    """One BOM change as a line: designator, then old part, new part or fitted state."""
    d = f"`{escape(event.designator or '?')}`"
    old = _part(event.old_manufacturer, event.old_mpn)
    new = _part(event.new_manufacturer, event.new_mpn)
    if event.kind == "part_replaced":
        return f"{d} {old} → {new}"
    if event.kind == "part_removed":
        return f"{d} {old}"
    if event.kind == "part_added":
        return f"{d} {new}"
    state = "fitted" if event.fitted else "not fitted"
    return f"{d} {state} ({new})"


def _fill_sections(events: Sequence[Event], *, room: int, budget: int) -> tuple[list[str], int]:
    """BOM lines under a heading per kind, packed into at most ``room`` sections of at most
    SECTION_LIMIT characters and ``budget`` in all; returns the sections and lines shown."""
    sections: list[str] = []
    shown, used, current, kind = 0, 0, "", ""
    for event in events:
        line = bom_line(event)
        if event.kind != kind:
            if current:
                sections.append(current)
                used += len(current)
            kind, current = event.kind, f"*{BOM_TITLES[event.kind]}*"
        if len(current) + 1 + len(line) > SECTION_LIMIT:
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
    total = 0
    for block in message.blocks:
        total += _texts(block)
    return len(message.blocks), total


def _texts(value: Any) -> int:
    if isinstance(value, dict):
        own = len(value["text"]) if isinstance(value.get("text"), str) else 0
        return own + sum(_texts(v) for k, v in value.items() if k != "text" or
                         not isinstance(v, str))
    if isinstance(value, list):
        return sum(_texts(v) for v in value)
    return 0
