"""The Slack message of a scheduled digest, as block dicts (``bot.slack.limits``).

A header, the period, then per project: thread activity, open threads with the oldest one's
age, the threads quiet for a day or more, BOM change counts with the notable changes
(replaced parts first; a change in several variants counted once, naming them) and
revisions; then the period's new parts at supply risk, across projects. Every text from
Altium or the supply data is escaped once, here; long lists are trimmed with
"and N more", and the message goes through ``bot.slack.limits.fit`` so it stays within Slack's
limits whatever the text. A period without activity is one short line.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from bot.slack.cards import BOM_TITLES, bom_line, named, part_name, project_link, when
from bot.slack.limits import (
    FALLBACK_TEXT,
    MESSAGE,
    SECTION_TEXT,
    Block,
    context,
    fit,
    header,
    section,
    text_size,
)
from bot.slack.message import Message
from bot.slack.mrkdwn import escape, link
from state.clock import IN_DAYS, ago
from state.digest_contents import BomChange, Digest, OpenThread, ProjectDigest, SupplyRisk
from state.model import BOM_ORDER, ProjectInfo

TITLES: Final = {"daily": "Daily design-review digest", "weekdays": "Daily design-review digest",
                 "weekly": "Weekly design-review digest", "now": "Design-review digest"}
MAX_BOM_LINES: Final = 12
MAX_RISKS: Final = 15
MAX_DESIGNATORS: Final = 8
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
    head: list[Block] = [header(title),
                         context(f"{when(_iso(digest.start))} – {when(_iso(digest.end))}")]
    risks = [section(_risk_text(digest.supply_risks))] if digest.supply_risks else []
    room = MESSAGE.blocks - len(head) - len(risks) - 1
    budget = MESSAGE.chars - text_size(head) - text_size(risks) - 200
    body: list[Block] = []
    shown = 0
    for project in digest.projects:
        blocks = [section(t) for t in _project_texts(project, digest.end)]
        size = text_size(blocks)
        if len(body) + len(blocks) > room or size > budget:
            break
        body += blocks
        budget -= size
        shown += 1
    rest = len(digest.projects) - shown
    tail = [context(f"and {rest} more project{'s' if rest != 1 else ''}")] if rest else []
    return _fitted(escape(_fallback(digest, title), FALLBACK_TEXT, flat=True),
                   [*head, *body, *tail, *risks])


def _fitted(text: str, blocks: list[Block]) -> Message:
    fitted_text, fitted = fit(text, blocks, MESSAGE)
    return Message(text=fitted_text, blocks=fitted)


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
    return _fitted(escape(fallback, FALLBACK_TEXT, flat=True), [section(text)])


def _project_texts(p: ProjectDigest, end: datetime) -> list[str]:
    """The sections of one project, each within SECTION_TEXT."""
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
        lines += [f"• {when(r.at)} by {named(r.author)}: "
                  f"{escape(r.text or '', 200, flat=True) or '_(no message)_'}"
                  for r in p.revisions[-MAX_REVISIONS:]]
        if n > MAX_REVISIONS:
            lines.append(f"_and {n - MAX_REVISIONS} earlier_")
    if "bom" in p.groups and p.bom_changes:
        summary = " · ".join(f"*{p.bom_counts[k]}* {BOM_TITLES[k].lower()}" for k in BOM_ORDER
                             if p.bom_counts.get(k))
        lines.append(f"🔧 BOM changes: {summary}")
    texts = [_pack(lines, "lines")]
    if "comments" in p.groups and p.waiting:
        texts.append(_pack(["*Quiet longest* (no word for a day or more)",
                            *(_waiting_line(t, end) for t in p.waiting)], "threads"))
    if "bom" in p.groups and p.bom_changes:
        texts.append(_bom_text(p.bom_changes))
    return texts


def _open_line(p: ProjectDigest, end: datetime) -> str:
    if p.open_threads is None:
        return "🟢 Open threads: _not read yet_"
    if not p.open_threads or p.oldest_open is None:
        return "🟢 No open threads"
    oldest = p.oldest_open
    where = f" on _{named(oldest.document)}_" if oldest.document else ""
    reopened = oldest.open_since != oldest.opened_at
    age = ago(oldest.open_since if reopened else oldest.opened_at, end, scale=IN_DAYS,
              unknown="a while ago")
    since = f"reopened {age}" if reopened else f"opened {age}"
    text = (f"🟢 *{p.open_threads}* open thread{'s' if p.open_threads != 1 else ''} · oldest: "
            f"#{oldest.number}{where} by {named(oldest.opened_by)}, {since}")
    if p.project.url:
        text += f" · {link(p.project.url, 'Open in Altium 365')}"
    return text


def _waiting_line(t: OpenThread, end: datetime) -> str:
    where = f" on _{named(t.document)}_" if t.document else ""
    tail = (f", last word by {named(t.last_by)}" if t.quiet_since == t.last_at
            else " since it was reopened")
    quiet = ago(t.quiet_since, end, scale=IN_DAYS, suffix="", recent="0 min", unknown="a while")
    return (f"• #{t.number}{where}: “{escape(t.text, TEXT_LIMIT, flat=True)}” · quiet for "
            f"{quiet}{tail}")


def _bom_text(changes: Sequence[BomChange]) -> str:
    """The notable BOM changes under a heading per kind; a change in several variants is
    one line naming them (when the changes span more than one variant)."""
    several = len({v for c in changes for v in c.variants}) > 1
    lines: list[str] = ["*BOM changes*"]
    used, kind, shown = len(lines[0]), "", 0
    for change in changes[:MAX_BOM_LINES]:
        heading = f"_{BOM_TITLES[change.kind]}_" if change.kind != kind else ""
        line = bom_line(change.event)
        if several:
            line += " · " + escape(", ".join(v or "?" for v in change.variants), 300,
                                   flat=True)
        extra = len(line) + 1 + (len(heading) + 1 if heading else 0)
        if used + extra > SECTION_TEXT - 60:
            break
        if heading:
            lines.append(heading)
            kind = change.kind
        lines.append(line)
        used += extra
        shown += 1
    rest = len(changes) - shown
    if rest:
        lines.append(f"_and {rest} more BOM change{'s' if rest != 1 else ''}_")
    return "\n".join(lines)


def _risk_text(risks: Sequence[tuple[ProjectInfo, SupplyRisk]]) -> str:
    """The period's new parts at supply risk, one a line: project, variants, designators,
    the part and why."""
    lines = ["⚠️ *Supply risk* (new parts this period)"]
    used = len(lines[0])
    for index, (project, risk) in enumerate(risks):
        shown = risk.designators[:MAX_DESIGNATORS]
        more = len(risk.designators) - len(shown)
        designators = ", ".join(f"`{escape(d, 40, flat=True)}`" for d in shown) + (
            f" +{more}" if more else "")
        variants = escape(", ".join(v or "-" for v in risk.variants), 200, flat=True)
        line = (f"• *{named(project.name)}* ({variants}): {designators} "
                f"{part_name(risk.key.manufacturer, risk.key.mpn)} — "
                f"{escape('; '.join(risk.reasons), 300, flat=True)}")
        if index >= MAX_RISKS or used + 1 + len(line) > SECTION_TEXT - 60:
            rest = len(risks) - index
            lines.append(f"_and {rest} more part{'s' if rest != 1 else ''}_")
            break
        lines.append(line)
        used += 1 + len(line)
    return "\n".join(lines)


def _pack(lines: Sequence[str], noun: str) -> str:
    """Lines joined into one section text, cut with a count when they would not fit."""
    out: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > SECTION_TEXT - 60:
            out.append(f"_and {len(lines) - len(out)} more {noun}_")
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def _fallback(digest: Digest, title: str) -> str:
    opened = sum(p.thread_counts.get("thread_opened", 0) for p in digest.projects)
    resolved = sum(p.thread_counts.get("thread_resolved", 0) for p in digest.projects)
    bom = sum(len(p.bom_changes) for p in digest.projects)
    revisions = sum(len(p.revisions) for p in digest.projects)
    names = ", ".join(p.project.name for p in digest.projects if p.active)
    risky = len(digest.supply_risks)
    at_risk = f", {_count(risky, 'part')} at supply risk" if risky else ""
    return (f"{title} ({names}): {_count(opened, 'thread')} opened, {resolved} resolved, "
            f"{_count(bom, 'BOM change')}, {_count(revisions, 'revision')}{at_risk}")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _iso(moment: datetime) -> str:
    return moment.isoformat()
