"""What every ``/review`` handler is given: the request, who asks, the policy and the bot's
means (database, clock, Nexar, the library cache, the digest hooks), with the few steps
several handlers share.

A project not shared with Slack (``REVIEW_BOT_PROJECTS``) is never named: it is answered
exactly like a missing one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.digests import DigestRun
from bot.review.request import CommandError, Request, split_project
from jobs.nexar import LibraryPart, NexarClient, Workspace
from jobs.poll import named_threads
from state.clock import ago
from state.model import ProjectInfo, Snapshot
from state.store import Store
from state.supply import PartKey, SupplyFacts, Thresholds

NexarFactory = Callable[[], NexarClient]
LibraryCache = dict[str, tuple[float, list[LibraryPart]]]
"""Each workspace's library components, with when they were read (``time.monotonic``)."""
SupplyLookup = Callable[[list[PartKey]], dict[PartKey, SupplyFacts]]
"""Asks the supply data about parts in one request: the answers, a key left out when its
match failed (it is asked again later). Keeping the answers is the caller's job."""
NO_SUPPLY = "no supply access is set up"


@dataclass(frozen=True)
class Asker:
    user_id: str
    channel_id: str
    channel_name: str | None = None


@dataclass
class Policy:
    """Who may change subscriptions, and which projects Slack may see at all."""

    admins: frozenset[str] = frozenset()
    shared: frozenset[str] | None = None

    def may_manage(self, user_id: str) -> bool:
        return not self.admins or user_id in self.admins

    def is_shared(self, name: str) -> bool:
        return self.shared is None or name.casefold() in self.shared

    def visible(self, by_name: Mapping[str, str], projects: Iterable[str]) -> dict[str, str]:
        """``by_name`` without the entries named after a project Slack may not see."""
        if self.shared is None:
            return dict(by_name)
        hidden = {p.casefold() for p in projects if not self.is_shared(p)}
        return {k: v for k, v in by_name.items() if k.casefold() not in hidden}


def project_in_words(store: Store, words: tuple[str, ...], *,
                     shared: Callable[[str], bool] = lambda name: True
                     ) -> tuple[ProjectInfo, tuple[str, ...]]:
    """The listed project the first of ``words`` name, among those ``shared`` lets be
    seen, and the words after its name (``CommandError`` when none or several fit)."""
    names = [n for n in store.project_names() if shared(n)]
    project, rest = split_project(words, names)
    return store.catalog_project(project), rest


def every_project_name(store: Store) -> list[str]:
    """Every project name the database has known, listed or gone."""
    return store.known_project_names()


@dataclass(frozen=True, kw_only=True)
class Context:
    """One request being answered, and everything its handler may use."""

    store: Store
    request: Request
    asker: Asker
    policy: Policy
    clock: Callable[[], datetime]
    nexar: NexarFactory | None
    library: LibraryCache
    channel_info: Callable[[str], dict[str, Any]] | None = None
    digest_tz: str = "UTC"
    digest_now: Callable[[str], DigestRun | None] | None = None
    on_digest_change: Callable[[], None] | None = None
    supply_lookup: SupplyLookup | None = None
    """None: supply data is off, for ``supply_off``."""
    supply_off: str = NO_SUPPLY
    supply_thresholds: Thresholds | None = None

    def resolve(self, words: tuple[str, ...]) -> tuple[ProjectInfo, tuple[str, ...]]:
        """The shared project ``words`` start with, and the words after its name."""
        return project_in_words(self.store, words, shared=self.policy.is_shared)

    def shown(self, failures: Mapping[str, str]) -> dict[str, str]:
        """Failures without those of projects not shared with Slack (a failure of Nexar
        or of a workspace is kept)."""
        return self.policy.visible(failures, every_project_name(self.store))

    def fresh(self) -> str:
        """How fresh an answer from the snapshot is."""
        poll = self.store.last_poll()
        if poll is None:
            return "no poll yet"
        return f"as of the poll {ago(poll.finished_at, self.clock())}"

    def snapshot(self, info: ProjectInfo, *, bom: bool) -> tuple[Snapshot, str]:
        """The project's snapshot, or a fresh read from Nexar for a project nobody follows."""
        snap = self.store.load_snapshot(info.id, with_bom=bom)
        if snap is not None:
            return snap, self.fresh()
        client, workspace = self.client_for(info)
        with client:
            threads = client.comment_threads(workspace, [info.id])[info.id]
            if isinstance(threads, Exception):
                raise threads
            design = client.design(workspace, info.id) if bom else None
        documents = design.documents if design else {}
        return Snapshot(project=info, threads=named_threads(threads, documents),
                        bom=design.bom if design else None,
                        documents=documents), "read from Nexar just now"

    def client_for(self, info: ProjectInfo) -> tuple[NexarClient, Workspace]:
        """A Nexar client and the project's workspace (the caller closes the client)."""
        if self.nexar is None:
            raise CommandError("Nexar is not configured for this bot, so only watched "
                               "projects can be shown.")
        client = self.nexar()
        found = [w for w in client.workspaces() if w.url == info.workspace_url]
        if not found:
            client.close()
            raise CommandError("That project's workspace is not reachable with the bot's "
                               "sign-in.")
        return client, found[0]

    def channel_key(self) -> str:
        """This channel's key in subscriptions: an existing ``#name`` one, else its id."""
        if self.asker.channel_name:
            named = f"#{self.asker.channel_name}"
            if self.store.subscriptions(channel=named):
                return named
        return self.asker.channel_id

    def admin_only(self) -> None:
        """Refuse what changes or posts things to anyone but the admins (when there are
        any): subscribe, unsubscribe, and a digest set, stopped (``off``) or posted
        (``now``: it posts to the channel and moves the next digest's period). Showing the
        schedule, every lookup, and ``--share`` stay open: sharing changes nothing and
        shows only what the asker may read, in the channel they typed in."""
        if not self.policy.may_manage(self.asker.user_id):
            admins = ", ".join(f"<@{a}>" for a in sorted(self.policy.admins)[:5])
            raise CommandError("Only the bot's admins can subscribe, unsubscribe, or set, "
                               f"stop or post digests: ask {admins}.")
