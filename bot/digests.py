"""The Slack message of a scheduled digest, built with ``slack_sdk.models.blocks``.

A header, the period, then per project: thread activity, open threads with the oldest one's
age, the threads quiet longest, BOM change counts with the notable lines (replaced parts
first) and revisions. Every text from Altium is escaped; the message stays within Slack's
limits (50 blocks, 3,000 characters a section, about 12k in all), long lists trimmed with
"and N more". A period without activity is one short line.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.cards import (
    BOM_ORDER,
    BOM_TITLES,
    FALLBACK_LIMIT,
    MAX_BLOCKS,
    SECTION_LIMIT,
    TOTAL_LIMIT,
    bom_line,
    project_link,
    when,
)
from bot.mrkdwn import clip, escape, link, one_line
from jobs.deliver import Message
from jobs.digest import Digest, OpenThread, ProjectDigest
from state.model import Event

TITLES: Final = {"daily": "Daily design-review digest", "weekdays": "Daily design-review digest",
                 "weekly": "Weekly design-review digest", "now": "Design-review digest"}
MAX_BOM_LINES: Final = 12
MAX_REVISIONS: Final = 5
TEXT_LIMIT: Final = 120
NAMED_PROJECTS: Final = 5
THREAD_KINDS: Final = (("thread_opened", "opened", "opened"),
                       ("thread_resolved", "resolved", "resolved"),
                       ("thread_reopened", "reopened", "reopened"),
                       ("thread_replied", "reply", "replies"))


def render_digest(digest: Digest) -> Message:
    """The digest as one Slack message: the full summary, or one line for a quiet period."""
    title = TITLES.get(digest.kind, TITLES["now"])
    if digest.empty:
        return _short_line(digest, title)
    head: list[Block] = [HeaderBlock(text=PlainTextObject(text=title)),
                         _context(f"{when(_iso(digest.start))} – {when(_iso(digest.end))}")]
    room = MAX_BLOCKS - len(head) - 1
    budget = TOTAL_LIMIT - sum(_size(b) for b in head) - 200
    body: list[Block] = []
    shown = 0
    for project in digest.projects:
        blocks = [_section(t) for t in _project_texts(project, digest.end)]
        size = sum(_size(b) for b in blocks)
        if len(body) + len(blocks) > room or size > budget:
            break
        body += blocks
        budget -= size
        shown += 1
    rest = len(digest.projects) - shown
    tail = [_context(f"and {rest} more project{'s' if rest != 1 else ''}")] if rest else []
    return Message(text=clip(one_line(_fallback(digest, title)), FALLBACK_LIMIT),
                   blocks=[b.to_dict() for b in [*head, *body, *tail]])


def _short_line(digest: Digest, title: str) -> Message:
    names = [p.project for p in digest.projects]
    since = when(_iso(digest.start))
    if not names:
        text = f"No design-review activity since {since}: this channel follows no projects."
    elif len(names) > NAMED_PROJECTS:
        text = f"No design-review activity in {len(names)} projects since {since}."
    else:
        listed = [project_link(p) for p in names]
        joined = ", ".join(listed[:-1]) + f" and {listed[-1]}" if len(listed) > 1 \
            else listed[0]
        text = f"No design-review activity in {joined} since {since}."
    fallback = f"{title}: no activity in " + (", ".join(p.name for p in names) or "any project")
    return Message(text=clip(one_line(fallback), FALLBACK_LIMIT),
                   blocks=[_section(text).to_dict()])


def _project_texts(p: ProjectDigest, end: datetime) -> list[str]:
    """The sections of one project, each within SECTION_LIMIT."""
    lines = [project_link(p.project)]
    if not p.active:
        lines.append("_No activity in this period._")
    if "comments" in p.groups:
        counts = [f"*{n}* {one if n == 1 else many}" for k, one, many in THREAD_KINDS
                  if (n := p.thread_counts.get(k, 0)) or k in {"thread_opened",
                                                               "thread_resolved"}]
        others = sum(p.thread_counts.values()) - sum(p.thread_counts.get(k, 0)
                                                     for k, _, _ in THREAD_KINDS)
        if others:
            counts.append(f"*{others}* other update{'s' if others != 1 else ''}")
        if p.active:
            lines.append("💬 Threads: " + " · ".join(counts))
        lines.append(_open_line(p, end))
    if "revisions" in p.groups and p.revisions:
        n = len(p.revisions)
        lines.append(f"📦 *{n}* new revision{'s' if n != 1 else ''}:")
        lines += [f"• {when(r.at)} by {escape(r.author or 'someone')}: "
                  f"{clip(one_line(r.text or ''), 200) or '_(no message)_'}"
                  for r in p.revisions[-MAX_REVISIONS:]]
        if n > MAX_REVISIONS:
            lines.append(f"_and {n - MAX_REVISIONS} earlier_")
    if "bom" in p.groups and p.bom_changes:
        summary = " · ".join(f"*{p.bom_counts[k]}* {BOM_TITLES[k].lower()}" for k in BOM_ORDER
                             if p.bom_counts.get(k))
        lines.append(f"🔧 BOM lines: {summary}")
    texts = [_pack(lines, "lines")]
    if p.waiting:
        texts.append(_pack(["*Quiet longest*", *(_waiting_line(t, end) for t in p.waiting)],
                           "threads"))
    if "bom" in p.groups and p.bom_changes:
        texts.append(_bom_text(p.bom_changes))
    return texts


def _open_line(p: ProjectDigest, end: datetime) -> str:
    if p.open_threads is None:
        return "🟢 Open threads: _not read yet_"
    if not p.open_threads or p.oldest_open is None:
        return "🟢 No open threads"
    oldest = p.oldest_open
    where = f" on _{escape(oldest.document)}_" if oldest.document else ""
    text = (f"🟢 *{p.open_threads}* open thread{'s' if p.open_threads != 1 else ''} · oldest: "
            f"#{oldest.number}{where} by {escape(oldest.opened_by)}, open "
            f"{_age(oldest.opened_at, end)}")
    if p.project.url:
        text += f" · {link(p.project.url, 'Open in Altium 365')}"
    return text


def _waiting_line(t: OpenThread, end: datetime) -> str:
    where = f" on _{escape(t.document)}_" if t.document else ""
    return (f"• #{t.number}{where}: “{clip(one_line(t.text), TEXT_LIMIT)}” · quiet for "
            f"{_age(t.last_at, end)}, last word by {escape(t.last_by)}")


def _bom_text(events: Sequence[Event]) -> str:
    """The notable BOM lines under a heading per kind; the same change in several variants
    is one line naming them (when the changes span more than one variant)."""
    merged: dict[tuple[object, ...], list[Event]] = {}
    for e in events:
        key = (e.kind, e.designator, e.old_manufacturer, e.old_mpn, e.new_manufacturer,
               e.new_mpn, e.fitted)
        merged.setdefault(key, []).append(e)
    several = len({e.variant for e in events}) > 1
    lines: list[str] = ["*BOM changes*"]
    used, kind, shown = len(lines[0]), "", 0
    for group in list(merged.values())[:MAX_BOM_LINES]:
        first = group[0]
        heading = f"_{BOM_TITLES[first.kind]}_" if first.kind != kind else ""
        line = bom_line(first)
        if several:
            line += " · " + escape(", ".join(e.variant or "?" for e in group))
        extra = len(line) + 1 + (len(heading) + 1 if heading else 0)
        if used + extra > SECTION_LIMIT - 60:
            break
        if heading:
            lines.append(heading)
            kind = first.kind
        lines.append(line)
        used += extra
        shown += len(group)
    rest = len(events) - shown
    if rest:
        lines.append(f"_and {rest} more BOM change{'s' if rest != 1 else ''}_")
    return "\n".join(lines)


def _pack(lines: Sequence[str], noun: str) -> str:
    """Lines joined into one section text, cut with a count when they would not fit."""
    out: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > SECTION_LIMIT - 60:
            out.append(f"_and {len(lines) - len(out)} more {noun}_")
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def _age(stamp: str, end: datetime) -> str:
    try:
        start = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return "a while"
    seconds = max(0.0, (end - start).total_seconds())
    if seconds < 3600:
        minutes = int(seconds // 60)
        return f"{minutes} min"
    if seconds < 2 * 86400:
        hours = int(seconds // 3600)
        return f"{hours} h"
    return f"{int(seconds // 86400)} days"


def _fallback(digest: Digest, title: str) -> str:
    opened = sum(p.thread_counts.get("thread_opened", 0) for p in digest.projects)
    resolved = sum(p.thread_counts.get("thread_resolved", 0) for p in digest.projects)
    bom = sum(len(p.bom_changes) for p in digest.projects)
    revisions = sum(len(p.revisions) for p in digest.projects)
    names = ", ".join(p.project.name for p in digest.projects if p.active)
    return (f"{title} ({names}): {opened} threads opened, {resolved} resolved, "
            f"{bom} BOM changes, {revisions} revisions")


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text))


def _context(text: str) -> ContextBlock:
    return ContextBlock(elements=[MarkdownTextObject(text=text)])


def _size(block: Block) -> int:
    data = block.to_dict()
    text = data.get("text")
    if isinstance(text, dict):
        return len(str(text.get("text", "")))
    return sum(len(str(e.get("text", ""))) for e in data.get("elements", []))
