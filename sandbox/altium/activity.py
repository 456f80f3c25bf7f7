"""The sandbox's mutable state behind one lock, and the activity API that changes it.

Activities stand in for people working in Altium 365: commenting, editing a BOM, committing.
Each takes one lock (the same the server holds while it executes a query, so a query sees
either all of an activity or none of it) and stamps times from the clock, always strictly
later than the previous stamp and cut to whole milliseconds, so that the order is visible in
the API's millisecond timestamps. Comment activity leaves ``Project.updated_at`` alone; BOM
edits move it; a commit moves it and adds a revision.
"""

from __future__ import annotations

import random
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from .model import (
    BomInstance,
    Comment,
    CommentThread,
    Component,
    Document,
    ManufacturerPart,
    Project,
    Release,
    Revision,
    Tenant,
    User,
    Variant,
    Workspace,
    node_id,
    truncate_ms,
)

Clock = Callable[[], datetime]
ProjectRef = Project | str
UserRef = User | str

_MENTION = re.compile(r"@([\w.\-+]+(?:@[\w.\-]+)?)")


def utc_now() -> datetime:
    """The real current time in UTC."""
    return datetime.now(UTC)


class Store:
    """The tenant's data, its lookup indexes, the clock, and the activity API."""

    def __init__(self, tenant: Tenant, clock: Clock | None = None, *, seed: int = 1) -> None:
        self.tenant = tenant
        self.lock = threading.RLock()
        self._clock: Clock = clock or utc_now
        self._last = tenant.latest_timestamp()
        self._rng = random.Random(seed)
        self._projects: dict[str, Project] = {}
        self._components: dict[str, Component] = {}
        self._releases: dict[str, Release] = {}
        self._workspaces: dict[str, Workspace] = {}
        self._reindex()

    def _reindex(self) -> None:
        self._projects.clear()
        self._releases.clear()
        self._workspaces = {
            workspace.url.lower(): workspace for workspace in self.tenant.workspaces
        }
        for workspace in self.tenant.workspaces:
            for component in workspace.library:
                self._components[component.id] = component
            for project in workspace.projects:
                self._projects[project.id] = project
                for variant in project.variants:
                    for component in variant.components():
                        self._components.setdefault(component.id, component)
                for release in project.releases:
                    self._releases[release.id] = release

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def stamp(self) -> datetime:
        """A new activity time: the clock's, or 1 ms after the previous stamp if not later."""
        with self.lock:
            now = self._clock()
            if now.tzinfo is None:
                raise ValueError("the sandbox clock must return an aware datetime")
            now = truncate_ms(now)
            if now <= self._last:
                now = self._last + timedelta(milliseconds=1)
            self._last = now
            return now

    def workspace(self, ref: Workspace | str | None = None) -> Workspace:
        """A workspace by url or name (case-insensitive); None is the default workspace."""
        if isinstance(ref, Workspace):
            return ref
        if ref is None:
            return self.tenant.default_workspace
        found = self._workspaces.get(ref.rstrip("/").lower())
        if found is not None:
            return found
        for workspace in self.tenant.workspaces:
            if workspace.name.lower() == ref.lower():
                return workspace
        raise LookupError(f"no workspace {ref!r}")

    def workspace_by_url(self, url: str) -> Workspace | None:
        """The workspace at ``url``, if any."""
        return self._workspaces.get(url.rstrip("/").lower())

    def project(self, ref: ProjectRef) -> Project:
        """A project by name (case-insensitive), node id or projectId."""
        if isinstance(ref, Project):
            return ref
        found = self._projects.get(ref)
        if found is not None:
            return found
        for project in self.tenant.projects():
            if project.name.lower() == ref.lower() or project.project_id == ref:
                return project
        raise LookupError(f"no project {ref!r}")

    def projects(self, workspace: Workspace | str | None = None) -> list[Project]:
        """The projects of one workspace (url or name), or of every workspace with None."""
        with self.lock:
            if workspace is None:
                return list(self.tenant.projects())
            return list(self.workspace(workspace).projects)

    def project_by_node_id(self, value: str) -> Project | None:
        """The project whose ``DesProject.id`` is ``value``."""
        return self._projects.get(value)

    def component_by_id(self, value: str) -> Component | None:
        """A library or design component by its node id."""
        return self._components.get(value)

    def release_by_id(self, value: str) -> Release | None:
        """A release by its node id."""
        return self._releases.get(value)

    def workspace_of(self, project: Project) -> Workspace:
        """The workspace holding ``project``."""
        found = self.workspace_by_url(project.workspace_url)
        if found is None:
            raise LookupError(f"project {project.name!r} has no workspace")
        return found

    def user(self, ref: UserRef) -> User:
        """A user by userName, email or userId (case-insensitive)."""
        if isinstance(ref, User):
            return ref
        wanted = ref.lower()
        for user in self.tenant.users:
            if wanted in (user.user_name.lower(), user.email.lower(), user.user_id.lower()):
                return user
        raise LookupError(f"no user {ref!r}")

    def add_user(
        self,
        first_name: str,
        last_name: str,
        *,
        user_name: str | None = None,
        email: str | None = None,
        workspace: Workspace | str | None = None,
    ) -> User:
        """A new member of ``workspace`` (default: the default workspace)."""
        with self.lock:
            name = user_name or f"{first_name}.{last_name}".lower()
            domain = (
                self.tenant.users[0].email.partition("@")[2] if self.tenant.users else "example"
            )
            user = User(
                self._uuid(), name, email or f"{name}@{domain}", first_name, last_name, self._uuid()
            )
            self.tenant.users.append(user)
            self.workspace(workspace).members.append(user)
            return user

    def mentions(self, text: str) -> list[User]:
        """The users a comment text @-mentions by userName or email."""
        found: list[User] = []
        for match in _MENTION.finditer(text):
            try:
                user = self.user(match.group(1).rstrip("."))
            except LookupError:
                continue
            if user not in found:
                found.append(user)
        return found

    def _thread(self, project: Project, thread: int | str) -> CommentThread:
        if isinstance(thread, int):
            return project.thread(thread)
        for item in project.threads:
            if item.comment_thread_id == thread:
                return item
        raise LookupError(f"project {project.name!r} has no thread {thread!r}")

    def open_thread(
        self,
        project: ProjectRef,
        *,
        author: UserRef,
        text: str,
        document: str | None = None,
        object_id: str | None = None,
        area: tuple[float, float, float, float] | None = None,
    ) -> tuple[int, str]:
        """A new active thread with one comment on ``document`` (default: the PCB).

        Returns ``(thread_number, comment_thread_id)``. The project's updatedAt does not move.
        """
        with self.lock:
            target = self.project(project)
            user = self.user(author)
            doc: Document = target.document(document)
            at = self.stamp()
            comment = Comment(self._uuid(), text, at, at, user, user, self.mentions(text))
            thread = CommentThread(
                comment_thread_id=self._uuid(),
                thread_number=target.next_thread_number,
                status=1,
                created_at=at,
                modified_at=at,
                created_by=user,
                modified_by=user,
                document_id=doc.document_id,
                comments=[comment],
                object_id=object_id,
            )
            if area is not None:
                thread.area = area
            target.next_thread_number += 1
            target.threads.append(thread)
            return thread.thread_number, thread.comment_thread_id

    def reply(
        self, project: ProjectRef, thread_number: int | str, *, author: UserRef, text: str
    ) -> str:
        """Add a comment to a thread; returns the new commentId."""
        with self.lock:
            thread = self._thread(self.project(project), thread_number)
            user = self.user(author)
            at = self.stamp()
            comment = Comment(self._uuid(), text, at, at, user, user, self.mentions(text))
            thread.comments.append(comment)
            thread.modified_at = at
            thread.modified_by = user
            return comment.comment_id

    def edit_comment(
        self,
        project: ProjectRef,
        thread_number: int | str,
        comment_id: str | None = None,
        *,
        text: str,
    ) -> str:
        """Change a comment's text (default: the thread's first); returns its commentId.

        Moves the comment's modifiedAt and the thread's modifiedAt, not the project's.
        """
        with self.lock:
            thread = self._thread(self.project(project), thread_number)
            if comment_id is None:
                comment = thread.comments[0]
            else:
                matches = [item for item in thread.comments if item.comment_id == comment_id]
                if not matches:
                    raise LookupError(f"thread #{thread.thread_number} has no comment {comment_id}")
                comment = matches[0]
            at = self.stamp()
            comment.text = text
            comment.mentions = self.mentions(text)
            comment.modified_at = at
            thread.modified_at = at
            thread.modified_by = comment.created_by
            return comment.comment_id

    def delete_comment(
        self, project: ProjectRef, thread_number: int | str, comment_id: str
    ) -> None:
        """Remove one comment from a thread."""
        with self.lock:
            thread = self._thread(self.project(project), thread_number)
            before = len(thread.comments)
            thread.comments = [item for item in thread.comments if item.comment_id != comment_id]
            if len(thread.comments) == before:
                raise LookupError(f"thread #{thread.thread_number} has no comment {comment_id}")
            thread.modified_at = self.stamp()

    def _set_status(
        self, project: ProjectRef, thread_number: int | str, status: int, by: UserRef
    ) -> CommentThread:
        with self.lock:
            thread = self._thread(self.project(project), thread_number)
            thread.status = status
            thread.modified_at = self.stamp()
            thread.modified_by = self.user(by)
            return thread

    def resolve(self, project: ProjectRef, thread_number: int | str, *, by: UserRef) -> datetime:
        """Mark a thread resolved (status 0); returns its new modifiedAt."""
        return self._set_status(project, thread_number, 0, by).modified_at

    def reopen(self, project: ProjectRef, thread_number: int | str, *, by: UserRef) -> datetime:
        """Mark a thread active again (status 1); returns its new modifiedAt."""
        return self._set_status(project, thread_number, 1, by).modified_at

    def assign(
        self, project: ProjectRef, thread_number: int | str, *, to: UserRef | None, by: UserRef
    ) -> datetime:
        """Assign a thread to a user (None: unassign); returns its new modifiedAt."""
        with self.lock:
            thread = self._thread(self.project(project), thread_number)
            thread.assigned_to = None if to is None else self.user(to)
            thread.modified_at = self.stamp()
            thread.modified_by = self.user(by)
            return thread.modified_at

    def delete_thread(self, project: ProjectRef, thread_number: int | str) -> str:
        """Remove a thread; returns its commentThreadId. Thread numbers are not reused."""
        with self.lock:
            target = self.project(project)
            thread = self._thread(target, thread_number)
            target.threads.remove(thread)
            self.stamp()
            return thread.comment_thread_id

    def _variants(self, project: Project, variant: str | None) -> list[Variant]:
        return list(project.variants) if variant is None else [project.variant(variant)]

    def _part(
        self,
        project: Project,
        mpn: str,
        manufacturer: str,
        name: str | None,
        description: str | None,
    ) -> Component:
        """The component for an MPN: from the workspace library, the design, or a new one."""
        wanted = (mpn.lower(), manufacturer.lower())
        candidates: list[Iterable[Component]] = [self.workspace_of(project).library]
        candidates += [variant.components() for variant in project.variants]
        for group in candidates:
            for component in group:
                for part in component.manufacturer_parts:
                    if (part.part_number.lower(), part.company_name.lower()) == wanted:
                        return component
        at = self.stamp()
        component = Component(
            id=node_id("DesComponent", self._uuid()),
            name=name or mpn,
            comment=name or mpn,
            description=description or "",
            revision_id=self._uuid(),
            is_managed=False,
            created_at=at,
            modified_at=at,
            created_by=project.updated_by,
            item_internal_id=self._uuid(),
            manufacturer_parts=[ManufacturerPart(manufacturer, mpn, 1)],
        )
        self._components[component.id] = component
        return component

    def _saved(self, project: Project) -> None:
        project.updated_at = self.stamp()

    def swap_part(
        self,
        project: ProjectRef,
        designator: str,
        *,
        mpn: str,
        manufacturer: str,
        name: str | None = None,
        description: str | None = None,
        variant: str | None = None,
    ) -> Component:
        """Place another part at ``designator`` (in one variant, or every variant holding it).

        The part comes from the workspace library when its MPN is there, else it is a new
        unmanaged component. Moves updatedAt. Returns the component now placed.
        """
        with self.lock:
            target = self.project(project)
            component = self._part(target, mpn, manufacturer, name, description)
            moved = False
            for item in self._variants(target, variant):
                instance = item.detach(designator)
                if instance is None:
                    continue
                instance.alternate_component = None
                item.attach(component, instance)
                moved = True
            if not moved:
                raise LookupError(f"{target.name!r} has no designator {designator!r}")
            self._saved(target)
            return component

    def remove_part(
        self, project: ProjectRef, designator: str, *, variant: str | None = None
    ) -> Component:
        """Take ``designator`` out of the BOM; moves updatedAt. Returns the removed component."""
        with self.lock:
            target = self.project(project)
            removed: Component | None = None
            for item in self._variants(target, variant):
                found = item.find(designator)
                if found is not None:
                    removed = found[0].component
                    item.detach(designator)
            if removed is None:
                raise LookupError(f"{target.name!r} has no designator {designator!r}")
            self._saved(target)
            return removed

    def add_part(
        self,
        project: ProjectRef,
        designator: str,
        *,
        mpn: str,
        manufacturer: str,
        name: str,
        description: str = "",
        variant: str | None = None,
    ) -> Component:
        """Place a new designator; moves updatedAt. Returns the component placed."""
        with self.lock:
            target = self.project(project)
            variants = self._variants(target, variant)
            for item in variants:
                if item.find(designator) is not None:
                    raise ValueError(f"{designator!r} is already placed in {item.name!r}")
            component = self._part(target, mpn, manufacturer, name, description)
            for item in variants:
                item.attach(component, BomInstance(designator))
            self._saved(target)
            return component

    def set_fitted(
        self, project: ProjectRef, designator: str, fitted: bool, *, variant: str
    ) -> bool:
        """Fit or not-fit ``designator`` in one variant; moves updatedAt. Returns the old state."""
        with self.lock:
            target = self.project(project)
            found = target.variant(variant).find(designator)
            if found is None:
                raise LookupError(f"{variant!r} has no designator {designator!r}")
            previous = found[1].is_fitted
            found[1].is_fitted = fitted
            self._saved(target)
            return previous

    def commit_revision(self, project: ProjectRef, *, message: str, author: UserRef) -> str:
        """A new VCS revision (the new latestRevision); moves updatedAt. Returns revisionId."""
        with self.lock:
            target = self.project(project)
            try:
                user: User | None = self.user(author)
            except LookupError:
                user = None
            at = self.stamp()
            files = [("MODIFIED", target.pcb.document_name)] if target.pcb is not None else []
            revision = Revision(
                f"{self._rng.getrandbits(160):040x}",
                message,
                user.full_name if user else str(author),
                at,
                files,
            )
            target.revisions.append(revision)
            target.updated_at = at
            if user is not None:
                target.updated_by = user
            return revision.revision_id

    def create_release(self, project: ProjectRef, *, description: str) -> str:
        """Freeze every variant's BOM as a release; returns its releaseId."""
        with self.lock:
            target = self.project(project)
            release_id = self._uuid()
            release = Release(
                node_id("DesRelease", release_id), release_id, description, self.stamp()
            )
            release.variants = [item.copy(item.name, release=release) for item in target.variants]
            target.releases.append(release)
            self._releases[release.id] = release
            return release_id

    def add_project(
        self,
        name: str,
        *,
        workspace: Workspace | str | None = None,
        description: str = "",
        author: UserRef | None = None,
        variants: Iterable[str] = ("Default",),
        copy_bom_from: ProjectRef | None = None,
    ) -> Project:
        """A new project (with a PCB and one sheet named after it, no revision yet).

        Its BOM is empty, or a copy of ``copy_bom_from``'s first variant.
        """
        with self.lock:
            home = self.workspace(workspace)
            owner = self.user(author) if author is not None else home.owner
            at = self.stamp()
            key = self._uuid()
            project = Project(
                node_id("DesProject", key), key, name, description, home.url, at, at, owner, owner
            )
            source = self.project(copy_bom_from) if copy_bom_from is not None else None
            for variant_name in variants:
                if source is not None and source.variants:
                    copied = source.variants[0].copy(variant_name)
                    copied.project = project
                    project.variants.append(copied)
                else:
                    project.variants.append(Variant(variant_name, [], project))
            slug = re.sub(r"[^A-Za-z0-9]", "", name) or "Project"
            project.pcb = Document(self._uuid(), f"{slug}.PcbDoc", "PCB", project)
            project.schematics = [Document(self._uuid(), f"{slug}.SchDoc", "SCHEMATIC", project)]
            home.projects.append(project)
            self._projects[project.id] = project
            return project

    def delete_project(self, project: ProjectRef) -> str:
        """Remove a project from its workspace; returns its node id."""
        with self.lock:
            target = self.project(project)
            self.workspace_of(target).projects.remove(target)
            del self._projects[target.id]
            return target.id
