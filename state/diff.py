"""The diff: a pure function from two snapshots of one project to the events between them.

Threads are keyed by ``commentThreadId`` and comments by ``commentId``; BOM lines by
(variant, designator). The first snapshot of a project is a silent baseline: it yields a
single ``project_created`` and no thread or part events, so history is never replayed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from state.model import (
    Bom,
    BomLine,
    Comment,
    Event,
    EventKind,
    Person,
    Snapshot,
    Thread,
)


def diff(old: Snapshot | None, new: Snapshot, *, at: str) -> list[Event]:
    """Events that turn ``old`` into ``new``; ``at`` stamps changes Nexar gives no time for."""
    if old is None:
        return [Event(kind="project_created", project_id=new.project.id,
                      project=new.project.name, at=at)]
    events = list(_revision_events(old, new))
    events.extend(_thread_events(old, new, at))
    if old.bom is not None and new.bom is not None:
        events.extend(_bom_events(old.bom, new.bom, new))
    return events


def _revision_events(old: Snapshot, new: Snapshot) -> Iterator[Event]:
    rev = new.project.revision
    before = old.project.revision
    if rev is not None and (before is None or before.revision_id != rev.revision_id):
        yield Event(
            kind="revision_committed",
            project_id=new.project.id,
            project=new.project.name,
            at=rev.created_at,
            author=rev.author,
            text=rev.message,
            revision_id=rev.revision_id,
        )


def _thread_events(old: Snapshot, new: Snapshot, at: str) -> Iterator[Event]:
    for thread in sorted(new.threads.values(), key=lambda t: (t.number, t.thread_id)):
        changes = list(_one_thread(old.threads.get(thread.thread_id), thread, new))
        opened = [e for e in changes if e.kind == "thread_opened"]
        # In the order they happened; a stable sort keeps same-time changes as found.
        yield from opened + sorted((e for e in changes if e.kind != "thread_opened"),
                                   key=lambda e: e.at)
    gone = [t for t in old.threads.values() if t.thread_id not in new.threads]
    for thread in sorted(gone, key=lambda t: (t.number, t.thread_id)):
        yield _thread_event("thread_deleted", new, thread, at=at, person=None,
                            text=_first_text(thread))


def _one_thread(before: Thread | None, thread: Thread, snap: Snapshot) -> Iterator[Event]:
    if before is None:
        first, *replies = thread.comments or (None,)
        yield _thread_event(
            "thread_opened", snap, thread, at=thread.created_at,
            person=first.author if first else thread.created_by,
            text=first.text if first else None,
            comment_id=first.comment_id if first else None,
        )
        for comment in replies:
            if comment is not None:
                yield _comment_event("thread_replied", snap, thread, comment, comment.created_at)
        if thread.assigned_to is not None:
            yield _assigned(snap, thread)
        if not thread.is_open:
            yield _thread_event("thread_resolved", snap, thread, at=thread.modified_at,
                                person=thread.modified_by)
        return

    old_comments = {c.comment_id: c for c in before.comments}
    for comment in thread.comments:
        previous = old_comments.get(comment.comment_id)
        if previous is None:
            yield _comment_event("thread_replied", snap, thread, comment, comment.created_at)
        elif previous.text != comment.text:
            yield _comment_event("comment_edited", snap, thread, comment, comment.modified_at)
    if _key(before.assigned_to) != _key(thread.assigned_to):
        yield _assigned(snap, thread)
    if before.is_open and not thread.is_open:
        yield _thread_event("thread_resolved", snap, thread, at=thread.modified_at,
                            person=thread.modified_by)
    elif not before.is_open and thread.is_open:
        yield _thread_event("thread_reopened", snap, thread, at=thread.modified_at,
                            person=thread.modified_by)


def _key(person: Person | None) -> str | None:
    return person.key if person is not None else None


def _first_text(thread: Thread) -> str | None:
    return thread.comments[0].text if thread.comments else None


def _assigned(snap: Snapshot, thread: Thread) -> Event:
    event = _thread_event("thread_assigned", snap, thread, at=thread.modified_at,
                          person=thread.modified_by)
    who = thread.assigned_to
    return replace(event, assignee=who.display if who else None,
                    assignee_email=who.email if who else None)


def _comment_event(kind: EventKind, snap: Snapshot, thread: Thread, comment: Comment,
                   at: str) -> Event:
    return _thread_event(kind, snap, thread, at=at, person=comment.author, text=comment.text,
                         comment_id=comment.comment_id)


def _thread_event(kind: EventKind, snap: Snapshot, thread: Thread, *, at: str,
                  person: Person | None, text: str | None = None,
                  comment_id: str | None = None) -> Event:
    return Event(
        kind=kind,
        project_id=snap.project.id,
        project=snap.project.name,
        at=at,
        thread_id=thread.thread_id,
        thread_number=thread.number,
        comment_id=comment_id,
        author=person.display if person else None,
        author_email=person.email if person else None,
        text=text,
        document=thread.document_name or thread.document_id,
    )


def _bom_events(old: Bom, new: Bom, snap: Snapshot) -> Iterator[Event]:
    at = snap.project.updated_at
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key), new.get(key)
        if before is None and after is not None:
            yield _part_event("part_added", snap, at, None, after)
        elif after is None and before is not None:
            yield _part_event("part_removed", snap, at, before, None)
        elif before is not None and after is not None:
            if before.component_id != after.component_id or before.mpn != after.mpn:
                yield _part_event("part_replaced", snap, at, before, after)
            if before.fitted != after.fitted:
                event = _part_event("part_fitted_changed", snap, at, before, after)
                yield replace(event, fitted=after.fitted)


def _part_event(kind: EventKind, snap: Snapshot, at: str, before: BomLine | None,
                after: BomLine | None) -> Event:
    line = after or before
    assert line is not None
    return Event(
        kind=kind,
        project_id=snap.project.id,
        project=snap.project.name,
        at=at,
        variant=line.variant,
        designator=line.designator,
        old_mpn=before.mpn if before else None,
        new_mpn=after.mpn if after else None,
        old_manufacturer=before.manufacturer if before else None,
        new_manufacturer=after.manufacturer if after else None,
        old_part=before.name if before else None,
        new_part=after.name if after else None,
    )
