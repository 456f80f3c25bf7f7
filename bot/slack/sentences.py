"""One plain sentence per event, as a person reads it in the channel's alerts.

Used by the terminal's ``review-bot events`` table, the demo and ``/review changes``. It is
plain text, never mrkdwn: whoever puts it into a Slack message escapes it there.
"""

from __future__ import annotations

from state.model import Event

TEXT_WIDTH = 120
NAME_WIDTH = 40


def summary(event: Event) -> str:
    """What happened, in the words of the alert: "Bob Schmidt opened thread #6 on
    Power.SchDoc: …", "U3 replaced: TPS62130RGTR → TPS62133RGTR (Default)"."""
    who = one_line(event.author or "Someone", NAME_WIDTH)
    if event.thread_number is not None:
        thread = f"thread #{event.thread_number}"
        if event.document:
            thread += f" on {one_line(event.document, NAME_WIDTH)}"
        said = f": {one_line(event.text)}" if event.text and event.text.strip() else ""
        kind = event.kind
        if kind == "thread_opened":
            return f"{who} opened {thread}{said}"
        if kind == "thread_replied":
            return f"{who} replied in {thread}{said}"
        if kind == "comment_edited":
            return f"{who} edited a comment in {thread}{said}"
        if kind == "thread_resolved":
            return f"{who} resolved {thread}"
        if kind == "thread_reopened":
            return f"{who} reopened {thread}"
        if kind == "thread_assigned":
            if event.assignee:
                return f"{who} assigned {thread} to {one_line(event.assignee, NAME_WIDTH)}"
            return f"{who} unassigned {thread}"
        if kind == "thread_deleted":
            return f"{thread[0].upper()}{thread[1:]} was deleted in Altium 365{said}"
        return f"{who}: {kind.replace('_', ' ')} in {thread}{said}"
    if event.designator is not None:
        return _bom(event)
    if event.kind == "revision_committed":
        message = one_line(event.text or "")
        return f"New revision by {who}" + (f": {message}" if message else "")
    if event.kind == "project_created":
        return f"Started tracking {one_line(event.project, NAME_WIDTH)}"
    return event.kind.replace("_", " ")


def _bom(event: Event) -> str:
    """A BOM change: designator, what happened, the part(s), and the variant."""
    variant = f" ({one_line(event.variant, NAME_WIDTH)})" if event.variant else ""
    old = _part(event.old_manufacturer, event.old_mpn, event.old_part)
    new = _part(event.new_manufacturer, event.new_mpn, event.new_part)
    d = one_line(event.designator or "", NAME_WIDTH)
    if event.kind == "part_replaced":
        if event.old_manufacturer == event.new_manufacturer and event.old_mpn \
                and event.new_mpn:
            old, new = (one_line(event.old_mpn, NAME_WIDTH),
                        one_line(event.new_mpn, NAME_WIDTH))
        return f"{d} replaced: {old} → {new}{variant}"
    if event.kind == "part_removed":
        return f"{d} removed: {old}{variant}"
    if event.kind == "part_added":
        return f"{d} added: {new}{variant}"
    if event.kind == "part_fitted_changed":
        state = "fitted" if event.fitted else "not fitted"
        return f"{d} marked {state}: {new}{variant}"
    return f"{d} {event.kind.replace('_', ' ')}{variant}"


def _part(manufacturer: str | None, mpn: str | None, part: str | None) -> str:
    named = [one_line(p, NAME_WIDTH) for p in (manufacturer, mpn) if p]
    return " ".join(named) or one_line(part or "", NAME_WIDTH) or "no part number"


def one_line(text: str, width: int = TEXT_WIDTH) -> str:
    """``text`` on one line, cut to ``width`` characters with "…"."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
