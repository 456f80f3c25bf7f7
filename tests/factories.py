"""Small builders of state records, so each test states only what it is about."""

from __future__ import annotations

from collections.abc import Iterable

from state.model import BomLine, Comment, Person, ProjectInfo, Revision, Snapshot, Thread

T0 = "2026-11-02T09:00:00.000Z"


def person(name: str) -> Person:
    return Person(user_id=f"u-{name}", name=name.title(), email=f"{name}@example.com")


def comment(comment_id: str, text: str = "Looks fine", *, author: str = "alice",
            at: str = T0) -> Comment:
    return Comment(comment_id=comment_id, text=text, author=person(author), created_at=at,
                   modified_at=at)


def thread(thread_id: str, number: int, *comments: Comment, status: int = 1,
           assigned: str | None = None, document: str = "Main.PcbDoc",
           at: str = T0) -> Thread:
    return Thread(thread_id=thread_id, number=number, status=status, created_at=at,
                  modified_at=at, created_by=person("alice"), modified_by=person("bob"),
                  assigned_to=person(assigned) if assigned else None,
                  document_id=f"doc-{document}", document_name=document,
                  comments=comments or (comment(f"{thread_id}-c1"),))


def line(designator: str, mpn: str = "RC0603FR-0710KL", *, variant: str = "Default",
         manufacturer: str = "Yageo", fitted: bool = True,
         component_id: str | None = None) -> BomLine:
    return BomLine(variant=variant, designator=designator,
                   component_id=component_id or f"cmp-{mpn}", name=f"Part {mpn}",
                   comment=mpn, description="", manufacturer=manufacturer, mpn=mpn,
                   fitted=fitted)


def project(*, name: str = "Motor Controller", updated_at: str = T0,
            revision: str | None = "r1") -> ProjectInfo:
    rev = Revision(revision_id=revision, message=f"commit {revision}", author="Carol",
                   created_at=updated_at) if revision else None
    return ProjectInfo(id="P1", project_id="prj-1", workspace_url="https://acme.example",
                       name=name, description="", url="https://acme.example/designs/prj-1",
                       updated_at=updated_at, revision=rev)


def snapshot(threads: Iterable[Thread] = (), bom: Iterable[BomLine] | None = (), *,
             revision: str | None = "r1", updated_at: str = T0) -> Snapshot:
    return Snapshot(
        project=project(updated_at=updated_at, revision=revision),
        threads={t.thread_id: t for t in threads},
        bom=None if bom is None else {b.key: b for b in bom},
        documents={"doc-Main.PcbDoc": "Main.PcbDoc"},
    )
