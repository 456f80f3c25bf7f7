"""One plain line per event, for the terminal, the demo and ``/review changes``."""

from __future__ import annotations

from state.model import Event


def summary(event: Event) -> str:
    """One plain line that says what an event is about."""
    if event.thread_number is not None:
        where = f" on {event.document}" if event.document else ""
        head = f"#{event.thread_number}{where}"
        if event.kind == "thread_assigned":
            return f"{head}: assigned to {event.assignee or 'nobody'} by {event.author or '?'}"
        text = one_line(event.text or "")
        who = event.author or "?"
        return f"{head}: {who}: {text}" if text else f"{head}: by {who}"
    if event.designator is not None:
        old = " ".join(filter(None, (event.old_manufacturer, event.old_mpn))) or "-"
        new = " ".join(filter(None, (event.new_manufacturer, event.new_mpn))) or "-"
        head = f"{event.variant} {event.designator}"
        if event.kind == "part_fitted_changed":
            return f"{head}: {'fitted' if event.fitted else 'not fitted'} ({new})"
        if event.kind == "part_added":
            return f"{head}: {new}"
        if event.kind == "part_removed":
            return f"{head}: {old}"
        return f"{head}: {old} -> {new}"
    if event.kind == "revision_committed":
        return f"{event.author or '?'}: {one_line(event.text or '')}"
    return "now tracking"


def one_line(text: str, width: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
