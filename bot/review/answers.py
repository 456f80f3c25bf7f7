"""What ``/review`` answers: one method per subcommand, over the snapshot or Nexar.

Answers from the SQLite snapshot are immediate and say how fresh they are; the ones that
need Nexar (``needs_nexar``) run after the acknowledgement. Every text from Altium or from
the person asking is escaped; every answer is built for the smallest path it may take (a
``response_url``, ``bot.slack.limits.RESPONSE``) and goes through ``bot.slack.limits.fit``,
so it also fits a mention's ``chat.postEphemeral`` or ``chat.postMessage``. A long answer comes in
pages with "Next page" buttons (``PAGE_ACTION``). A project not shared with Slack
(``REVIEW_BOT_PROJECTS``) is never named: it is answered exactly like a missing one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.cadence import Now, Off, ScheduleError, Show, describe, parse_schedule
from bot.digests import DigestRun
from bot.review.request import CommandError, Request, help_text, split_project, thread_number, usage
from bot.slack.cards import (
    NAME_LIMIT,
    NOT_READ,
    bom_facts,
    bom_parts,
    bom_sizes,
    named,
    part_name,
    variant_order,
    when,
)
from bot.slack.limits import (
    BUTTON_VALUE,
    FALLBACK_TEXT,
    RESPONSE,
    Block,
    actions,
    button,
    context,
    fit,
    pages,
    section,
)
from bot.slack.mrkdwn import cut, escape, link
from bot.slack.sentences import summary
from jobs.nexar import LibraryPart, NexarClient, Workspace
from jobs.poll import named_threads
from jobs.records import normalize_time
from state.clock import parse_stamp, stamp
from state.digests import Digests
from state.errors import NotFoundError, ReviewBotError
from state.filters import Filters
from state.model import (
    EVENT_GROUPS,
    BomLine,
    Event,
    ProjectInfo,
    Snapshot,
    Thread,
    designator_key,
)
from state.outbox import Outbox
from state.store import Store, StoredEvent, Subscription

PAGE_SIZE = 10
LIBRARY_TTL = 600.0
PROJECTS_ACTION = "review_projects_page"
"""The projects pager's buttons before every long answer was paged (still answered)."""
PAGE_ACTION = "review_page"
"""A paged answer's buttons: ``review_page_<n>``, the request in the button's value."""
PAGED = frozenset({"workspaces", "projects", "project", "bom", "comments", "thread", "nets",
                   "part", "changes", "subscriptions", "status"})
"""The commands whose answers may come in pages: those that only read."""

NexarFactory = Callable[[], NexarClient]


@dataclass(frozen=True)
class Reply:
    """An answer: mrkdwn text, optional blocks, and whether the whole channel sees it."""

    text: str
    blocks: list[dict[str, Any]] | None = None
    share: bool = False

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"response_type": "in_channel" if self.share else "ephemeral",
                                "text": self.text}
        if self.blocks:
            body["blocks"] = self.blocks
        return body


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


def every_project_name(store: Store) -> list[str]:
    """Every project name the database has known, listed or gone."""
    return [r["name"] for r in store.rows("select distinct name from catalog")]


def _reply(request: Request, lines: Sequence[str], *, head: str, more: str = "",
           per_page: int | None = None) -> Reply:
    """An answer of ``lines`` under ``head`` (both mrkdwn), the page ``--page`` asks for.

    When the lines need more than one page, the footer says which page this is and
    buttons lead to the others; when the request is too long to fit in a button, the
    footer asks for a narrower query instead. The head is the notification.
    """
    chosen = pages(lines or ["_(none)_"], room=RESPONSE, head=head, per_page=per_page)
    count = len(chosen)
    page = min(max(1, _page_number(request)), count)
    blocks: list[Block] = [section(head)] if head else []
    blocks += [section(text) for text in chosen[page - 1]]
    footer = [f"page {page} of {count}" if count > 1 else "", more]
    nav = _page_buttons(request, page, count) if count > 1 else None
    if count > 1 and nav is None:
        footer.append("narrow the question (a designator, an MPN, a word) to see the rest")
    blocks.append(context(" · ".join(note for note in footer if note)))
    if nav is not None:
        blocks.append(nav)
    text, fitted = fit(cut(head, FALLBACK_TEXT), blocks, RESPONSE)
    return Reply(text=text, blocks=fitted, share=request.share)


def _page_number(request: Request) -> int:
    wanted = request.options.get("page") or "1"
    return int(wanted) if wanted.isdigit() and len(wanted) < 6 else 1


def page_value(request: Request, page: int) -> str:
    """What a page button carries: the request itself, to be answered again at ``page``."""
    return json.dumps({"command": request.name, "words": list(request.words),
                       "page": page, "share": request.share},
                      ensure_ascii=False, separators=(",", ":"))


def page_request(value: str) -> Request | None:
    """The request a page button (or an older projects pager button) carries, or None."""
    try:
        state = json.loads(value or "{}")
    except ValueError:
        return None
    if not isinstance(state, dict):
        return None
    page = state.get("page")
    name = state.get("command", "projects")
    words = state.get("words")
    if words is None and name == "projects":
        words = str(state.get("text") or "").split()
    if (name not in PAGED or not isinstance(page, int) or not isinstance(words, list)
            or not all(isinstance(w, str) for w in words)):
        return None
    return Request(name=name, words=tuple(words), share=bool(state.get("share")),
                   options={"page": str(max(1, page))})


def _page_buttons(request: Request, page: int, count: int) -> Block | None:
    """‹ Previous and Next page › buttons, or None when the request does not fit in one."""
    buttons = []
    for label, target in (("‹ Previous", page - 1), ("Next page ›", page + 1)):
        if 1 <= target <= count:
            value = page_value(request, target)
            if len(value) > BUTTON_VALUE:
                return None
            buttons.append(button(label, f"{PAGE_ACTION}_{target}", value))
    return actions(*buttons)


def ago(stamp: str, now: datetime) -> str:
    """How long ago ``stamp`` was, as people say it: "just now", "5 min ago", "3 d ago"."""
    try:
        then = parse_stamp(stamp)
    except ValueError:
        return "at an unknown time"
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


@dataclass
class Answers:
    """Answers ``/review`` requests for one bot: its database, Nexar and policy."""

    db_path: str
    nexar: NexarFactory | None = None
    policy: Policy = field(default_factory=Policy)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    channel_info: Callable[[str], dict[str, Any]] | None = None
    digest_tz: str = "UTC"
    digest_now: Callable[[str], DigestRun | None] | None = None
    on_digest_change: Callable[[], None] | None = None
    _library: dict[str, tuple[float, list[LibraryPart]]] = field(default_factory=dict)

    NEXAR_COMMANDS = frozenset({"workspaces", "nets", "part"})

    def needs_nexar(self, request: Request) -> bool:
        """True when the answer needs a Nexar round trip (answered after the ack)."""
        if request.name in self.NEXAR_COMMANDS:
            return True
        if request.name in {"project", "bom", "comments", "thread"}:
            with Store.open(self.db_path) as store:
                try:
                    info = self._resolve(store, request.words)[0]
                except CommandError:
                    return False
                return store.load_snapshot(info.id, with_bom=False) is None
        return False

    def answer(self, request: Request, asker: Asker) -> Reply:
        """The reply to one request; problems become a helpful one-line reply."""
        handler = getattr(self, f"_{request.name}", None)
        if handler is None:
            return Reply(text=help_text())
        try:
            with Store.open(self.db_path) as store:
                reply: Reply = handler(store, request, asker)
                return reply
        except CommandError as exc:
            return Reply(text=str(exc))
        except NotFoundError as exc:
            return Reply(text=escape(str(exc)))
        except ReviewBotError as exc:
            return Reply(text=f"Sorry, that did not work: {escape(str(exc))}")

    # -- helpers ---------------------------------------------------------------------------

    def _names(self, store: Store) -> list[str]:
        """The names Slack may see: a project not shared does not exist for Slack."""
        return [n for n in store.project_names() if self.policy.is_shared(n)]

    def _resolve(self, store: Store, words: tuple[str, ...]
                 ) -> tuple[ProjectInfo, tuple[str, ...]]:
        project, rest = split_project(words, self._names(store))
        return store.catalog_project(project), rest

    def _shown(self, store: Store, failures: Mapping[str, str]) -> dict[str, str]:
        """Failures without those of projects not shared with Slack (a failure of Nexar
        or of a workspace is kept)."""
        return self.policy.visible(failures, every_project_name(store))

    def _fresh(self, store: Store) -> str:
        poll = store.last_poll()
        if poll is None:
            return "no poll yet"
        return f"as of the poll {ago(poll.finished_at, self.clock())}"

    def _snapshot(self, store: Store, info: ProjectInfo, *, bom: bool) -> tuple[Snapshot, str]:
        """The project's snapshot, or a fresh read from Nexar for a project nobody follows."""
        snap = store.load_snapshot(info.id, with_bom=bom)
        if snap is not None:
            return snap, self._fresh(store)
        client, workspace = self._client_for(info)
        with client:
            threads = client.comment_threads(workspace, [info.id])[info.id]
            if isinstance(threads, Exception):
                raise threads
            design = client.design(workspace, info.id) if bom else None
        documents = design.documents if design else {}
        return Snapshot(project=info, threads=named_threads(threads, documents),
                        bom=design.bom if design else None,
                        documents=documents), "read from Nexar just now"

    def _client_for(self, info: ProjectInfo) -> tuple[NexarClient, Workspace]:
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

    # -- lookups ---------------------------------------------------------------------------

    def _help(self, store: Store, request: Request, asker: Asker) -> Reply:
        return Reply(text=help_text())

    def _workspaces(self, store: Store, request: Request, asker: Asker) -> Reply:
        if self.nexar is None:
            raise CommandError("Nexar is not configured for this bot.")
        with self.nexar() as client:
            found = client.workspaces()
        lines = [f"• *{link(w.url, w.name, NAME_LIMIT)}* — {named(w.region)}"
                 + (" (default)" if w.is_default else "") for w in found]
        return _reply(request, lines, head=f"*{len(found)} workspace"
                      f"{'s' if len(found) != 1 else ''}*")

    def _projects(self, store: Store, request: Request, asker: Asker) -> Reply:
        text = " ".join(request.words)
        projects = [p for p in store.catalog() if self.policy.is_shared(p.name)
                    and text.casefold() in f"{p.name} {p.description}".casefold()]
        watched = store.watched_project_ids()
        lines = [f"• *{link(p.url, p.name, NAME_LIMIT)}*"
                 + (" · watched" if p.id in watched else "")
                 + (f" — {escape(p.description, 80, flat=True)}" if p.description else "")
                 for p in projects]
        what = f" matching “{escape(text, 40, flat=True)}”" if text else ""
        total = len(projects)
        head = f"*{total} project{'s' if total != 1 else ''}{what}*"
        return _reply(request, lines, head=head, more=self._fresh(store), per_page=PAGE_SIZE)

    def _project(self, store: Store, request: Request, asker: Asker) -> Reply:
        info, _ = self._resolve(store, request.words)
        snap, fresh = self._snapshot(store, info, bom=True)
        threads = list(snap.threads.values())
        open_count = sum(1 for t in threads if t.is_open)
        rev = snap.project.revision
        lines = [escape(info.description, 300, flat=True) if info.description else "",
                 (f"Last revision by *{named(rev.author)}* {when(rev.created_at)}: "
                  f"{escape(rev.message, 300, flat=True)}") if rev else "No revision yet.",
                 f"Threads: *{open_count}* open, *{len(threads) - open_count}* resolved",
                 f"BOM: {bom_facts(snap.bom)}",
                 link(info.url, "Open in Altium 365") if info.url else ""]
        return _reply(request, [line for line in lines if line],
                      head=f"*{named(info.name)}*", more=fresh)

    def _bom(self, store: Store, request: Request, asker: Asker) -> Reply:
        info, rest = self._resolve(store, request.words)
        snap, fresh = self._snapshot(store, info, bom=True)
        bom = snap.bom
        if bom is None:
            raise CommandError(f"The BOM of *{named(info.name)}* is {NOT_READ}.")
        sizes = bom_sizes(bom)
        variants = sorted(sizes, key=variant_order)
        variant = variants[0] if variants else ""
        words = list(rest)
        if words and words[0].casefold() in {v.casefold() for v in variants}:
            first = words.pop(0).casefold()
            variant = next(v for v in variants if v.casefold() == first)
        query = " ".join(words)
        parts = bom_parts(b for (v, _), b in bom.items()
                          if v == variant and _bom_matches(b, query))
        rows = [_bom_row(items) for items in parts]
        head = f"*BOM of {named(info.name)}* · variant *{named(variant, '-')}* · "
        if query:
            total = sizes[variant].lines if variant in sizes else 0
            head += (f"*{len(parts)}* of {total} line{'s' if total != 1 else ''} matching "
                     f"“{escape(query, 40, flat=True)}”")
        else:
            head += sizes[variant].text() if variant in sizes else "no lines"
        return _reply(request, rows or ["_(no lines)_"], head=head, more=fresh)

    def _comments(self, store: Store, request: Request, asker: Asker) -> Reply:
        info, rest = self._resolve(store, request.words)
        state = rest[0].casefold() if rest else "open"
        if state not in {"open", "resolved", "all"}:
            raise CommandError(f"Show `open`, `resolved` or `all` threads: {usage('comments')}")
        snap, fresh = self._snapshot(store, info, bom=False)
        now = self.clock()
        threads = sorted((t for t in snap.threads.values()
                          if state == "all" or (t.is_open == (state == "open"))),
                         key=lambda t: t.number)
        lines = [_thread_line(t, now) for t in threads]
        label = "" if state == "all" else f" {state}"
        plural = "s" if len(threads) != 1 else ""
        head = f"*{len(threads)}{label} thread{plural} in {named(info.name)}*"
        return _reply(request, lines or ["_(none)_"], head=head, more=fresh)

    def _thread(self, store: Store, request: Request, asker: Asker) -> Reply:
        info, _ = self._resolve(store, request.words[:-1])
        number = thread_number(request.words[-1])
        snap, fresh = self._snapshot(store, info, bom=False)
        found = [t for t in snap.threads.values() if t.number == number]
        if not found:
            raise CommandError(f"{named(info.name)} has no thread #{number}.")
        thread = found[0]
        state = "🟢 open" if thread.is_open else "✅ resolved"
        where = f" on _{named(thread.document_name)}_" if thread.document_name else ""
        head = f"*{named(info.name)} · thread #{number}*{where} · {state}"
        if thread.assigned_to is not None:
            head += f" · assigned to {named(thread.assigned_to.display)}"
        lines = [f"*{named(c.author.display if c.author else None)}* "
                 f"{when(c.created_at)}\n>{escape(c.text, 1200, flat=True)}"
                 for c in thread.comments]
        return _reply(request, lines or ["_(no comments)_"], head=head, more=fresh)

    def _nets(self, store: Store, request: Request, asker: Asker) -> Reply:
        info, rest = self._resolve(store, request.words)
        client, workspace = self._client_for(info)
        with client:
            document, nets = client.nets(workspace, info.id)
        query = " ".join(rest).casefold()
        chosen = sorted((n for n in nets if query in n.name.casefold()),
                        key=lambda n: n.name.casefold())
        lines = [f"`{named(n.name)}` {n.length_mm:,.1f} mm · {n.pads} "
                 f"{'pad' if n.pads == 1 else 'pads'}" for n in chosen]
        plural = "s" if len(chosen) != 1 else ""
        head = (f"*{len(chosen)} net{plural} of {named(info.name)}*"
                + (f" on _{named(document)}_" if document else ""))
        return _reply(request, lines or ["_(no nets)_"], head=head,
                      more="read from Nexar just now")

    def _part(self, store: Store, request: Request, asker: Asker) -> Reply:
        query = " ".join(request.words).strip()
        folded = query.casefold()
        library = self._library_parts(store)
        hits = [p for p in library if folded in " ".join(
            [p.name, p.comment, p.description, *(m for _, m in p.manufacturer_parts)]
        ).casefold()]
        used = self._where_used(store, folded)
        plural = "s" if len(hits) != 1 else ""
        head = (f"*{len(hits)} library component{plural} matching "
                f"“{escape(query, 40, flat=True)}”*")
        lines = ["*Used in*", *(used or ["_(not used in any watched project)_"]),
                 "*In the library*", *([_part_line(p) for p in hits]
                                       or ["_(none in the library)_"])]
        return _reply(request, lines, head=head, more=self._fresh(store))

    def _library_parts(self, store: Store) -> list[LibraryPart]:
        if self.nexar is None:
            raise CommandError("Nexar is not configured for this bot.")
        now = time.monotonic()
        fresh = {u: parts for u, (at, parts) in self._library.items() if now - at < LIBRARY_TTL}
        if not fresh:
            with self.nexar() as client:
                for workspace in client.workspaces():
                    fresh[workspace.url] = client.library(workspace)
                    self._library[workspace.url] = (now, fresh[workspace.url])
        return [part for parts in fresh.values() for part in parts]

    def _where_used(self, store: Store, folded: str) -> list[str]:
        like = f"%{folded}%"
        rows = store.rows(
            "select p.name as project, b.variant, b.designator, b.mpn from bom_lines b "
            "join projects p on p.id = b.project where lower(b.mpn) like ? "
            "or lower(b.name) like ? or lower(b.comment) like ? "
            "order by p.name, b.variant, b.designator", [like, like, like])
        places: dict[tuple[str, str, str], list[str]] = {}
        for r in rows:
            if self.policy.is_shared(r["project"]):
                places.setdefault((r["project"], r["variant"], r["mpn"] or ""), []).append(
                    r["designator"])
        lines = []
        for (project, variant, mpn), designators in places.items():
            ordered = sorted(designators, key=designator_key)
            extra = f" and {len(ordered) - 30} more" if len(ordered) > 30 else ""
            lines.append(f"• *{named(project)}* ({named(variant, '-')}) {named(mpn, '')}: "
                         f"{escape(', '.join(ordered[:30]), 600, flat=True)}{extra}")
        return lines

    def _changes(self, store: Store, request: Request, asker: Asker) -> Reply:
        info, rest = self._resolve(store, request.words)
        since = _since(rest[0] if rest else "7d", self.clock())
        events = _across_variants(store.events(project_id=info.id, since=since))
        shown = events[-60:]
        lines = [f"`{e.at[:16].replace('T', ' ')}` {escape(summary(e), 600)}" for e in shown]
        plural = "s" if len(events) != 1 else ""
        head = (f"*{len(events)} change{plural} in {named(info.name)} since "
                f"{since[:16].replace('T', ' ')} UTC*")
        more = f"showing the newest {len(shown)}" if len(events) > len(shown) else ""
        return _reply(request, lines or ["_(nothing changed)_"], head=head,
                      more=" · ".join(x for x in (more, self._fresh(store)) if x))

    # -- subscriptions ---------------------------------------------------------------------

    def _channel_key(self, store: Store, asker: Asker) -> str:
        """This channel's key in subscriptions: an existing ``#name`` one, else its id."""
        if asker.channel_name:
            named = f"#{asker.channel_name}"
            if store.subscriptions(channel=named):
                return named
        return asker.channel_id

    def _subscribe(self, store: Store, request: Request, asker: Asker) -> Reply:
        self._admin_only(asker)
        words = list(request.words)
        groups: list[str] = []
        while words and words[-1].casefold() in EVENT_GROUPS:
            groups.insert(0, words.pop().casefold())
        info, rest = self._resolve(store, tuple(words))
        if rest:
            raise CommandError(f"I did not understand `{escape(' '.join(rest), 40)}`: "
                               f"{usage('subscribe')}")
        filters = _exclusions(request.options.get("exclude", ""))
        details = self.channel_info(asker.channel_id) if self.channel_info else {}
        if details and not details.get("is_member", True):
            raise CommandError("I am not in this channel, so I could not post here: "
                               "`/invite @review-bot`, then subscribe again. Nothing was "
                               "saved.")
        channel = self._channel_key(store, asker)
        sub = store.subscribe(info, channel, groups or list(EVENT_GROUPS),
                              at=stamp(self.clock()), filters=filters)
        described = sub.filters.describe()
        extra = f" ({escape(described)})" if described else ""
        text = (f"This channel now follows *{named(info.name)}*: "
                f"{', '.join(sub.groups)}{extra}. A “now tracking” summary comes after the "
                "next poll; from then on every change is posted here.")
        if details and not details.get("is_private", True):
            text += ("\n:information_source: This is a public channel: anyone in the "
                     "workspace can read these design-review posts.")
        return Reply(text=text, share=request.share)

    def _unsubscribe(self, store: Store, request: Request, asker: Asker) -> Reply:
        self._admin_only(asker)
        channel = self._channel_key(store, asker)
        subs = [s for s in store.subscriptions() if s.channel in {channel, asker.channel_id}
                and self.policy.is_shared(s.project)]
        if not subs:
            raise CommandError("This channel follows no project.")
        name, _ = split_project(request.words, [s.project for s in subs])
        sub = next(s for s in subs if s.project == name)
        store.unsubscribe(sub.project_id, sub.channel)
        return Reply(text=f"This channel no longer follows *{named(sub.project)}*.",
                     share=request.share)

    def _subscriptions(self, store: Store, request: Request, asker: Asker) -> Reply:
        names = {asker.channel_id}
        if asker.channel_name:
            names.add(f"#{asker.channel_name}")
        subs = [s for s in store.subscriptions() if s.channel in names
                and self.policy.is_shared(s.project)]
        if not subs:
            return Reply(text="This channel follows no project yet. "
                              "Try `/review subscribe <project>`.", share=request.share)
        outbox = Outbox(store)
        waiting = {channel: outbox.undelivered(channel) for channel in {s.channel for s in subs}}
        lines = [_subscription_line(s, waiting[s.channel]) for s in subs]
        return _reply(request, lines, head="*This channel follows*")

    def _status(self, store: Store, request: Request, asker: Asker) -> Reply:
        poll = store.last_poll()
        outbox = Outbox(store)
        lines = []
        if poll is None:
            lines.append("No poll has run yet.")
        else:
            lines.append(f"Last poll {ago(poll.finished_at, self.clock())}: "
                         f"{poll.projects} projects, {poll.events} new events.")
            for project, reason in sorted(self._shown(store, poll.failures).items()):
                lines.append(f"• :warning: {named(project)}: {escape(reason, 300, flat=True)}")
        lines.append(f"{outbox.undelivered()} events waiting for Slack.")
        for sub in store.paused_subscriptions():
            if sub.paused_reason and self.policy.is_shared(sub.project):
                lines.append(f"• :double_vertical_bar: {named(sub.channel)} / "
                             f"{named(sub.project)} paused: "
                             f"{escape(sub.paused_reason, 300, flat=True)}")
        held: dict[str, list[str]] = {}
        for item in outbox.set_aside_items():
            held.setdefault(item.channel, []).append(f"{item.kind}: {item.reason}")
        for channel, reasons in sorted(held.items()):
            lines.append(f"• :no_entry: {named(channel)}: {len(reasons)} post(s) set aside "
                         f"({escape('; '.join(reasons[:3]), 300, flat=True)}); "
                         "`review-bot resume` tries them again")
        return _reply(request, lines, head="*review-bot status*")

    def _digest(self, store: Store, request: Request, asker: Asker) -> Reply:
        try:
            parsed = parse_schedule(request.words, default_tz=self.digest_tz)
        except ScheduleError as exc:
            return Reply(text=escape(str(exc)))
        channel = self._channel_key(store, asker)
        digests = Digests(store)
        if isinstance(parsed, Show):
            current = digests.get(channel)
            if current is None:
                return Reply(text="This channel gets no digest. Try `/review digest daily "
                                  "09:00` or `/review digest weekly mon 09:00 Europe/Berlin`.",
                             share=request.share)
            return Reply(text=f"Digest: {escape(describe(current.setting, now=self.clock()))}",
                         share=request.share)
        self._admin_only(asker)
        if isinstance(parsed, Now):
            if self.digest_now is None:
                raise CommandError("Digests cannot be posted from here.")
            run = self.digest_now(channel)
            return Reply(text="Posted this channel's digest." if run else
                         "A digest was just posted; nothing new since.")
        if isinstance(parsed, Off):
            text = ("Digest turned off for this channel." if digests.delete(channel)
                    else "This channel had no digest.")
        else:
            digests.set(channel, parsed, at=self.clock())
            text = f"This channel gets a digest {escape(describe(parsed, now=self.clock()))}."
        if self.on_digest_change is not None:
            self.on_digest_change()
        return Reply(text=text, share=request.share)

    def _admin_only(self, asker: Asker) -> None:
        """Refuse what changes or posts things to anyone but the admins (when there are
        any): subscribe, unsubscribe, and a digest set, stopped (``off``) or posted
        (``now``: it posts to the channel and moves the next digest's period). Showing the
        schedule, every lookup, and ``--share`` stay open: sharing changes nothing and
        shows only what the asker may read, in the channel they typed in."""
        if not self.policy.may_manage(asker.user_id):
            admins = ", ".join(f"<@{a}>" for a in sorted(self.policy.admins)[:5])
            raise CommandError("Only the bot's admins can subscribe, unsubscribe, or set, "
                               f"stop or post digests: ask {admins}.")


def _bom_matches(line: BomLine, query: str) -> bool:
    if not query:
        return True
    q = query.casefold()
    fields = (line.designator, line.mpn or "", line.manufacturer or "", line.name,
              line.comment, line.description)
    return any(q in f.casefold() for f in fields)


def without_repeats(texts: Sequence[str], *, said: Sequence[str] = ()) -> list[str]:
    """``texts`` with each one that repeats an earlier one, or one in ``said``, blanked
    (ignoring case and spacing): a part's name, comment, MPN and description are often the
    same words."""
    seen = {" ".join(t.split()).casefold() for t in said if t}
    kept = []
    for text in texts:
        key = " ".join(text.split()).casefold()
        kept.append(text if key not in seen else "")
        seen.add(key)
    return kept


def _bom_row(items: Sequence[BomLine]) -> str:
    """One BOM line: its designators, how many and whether fitted, the part and what it is."""
    first = items[0]
    designators = ", ".join(i.designator for i in items[:12]) + (
        f" +{len(items) - 12}" if len(items) > 12 else "")
    fitted = sum(1 for i in items if i.fitted)
    if fitted == len(items):
        state = "fitted"
    elif fitted == 0:
        state = "not fitted"
    else:
        state = f"{fitted} fitted"
    title, comment, description = without_repeats(
        [first.name, first.comment, first.description], said=[first.mpn or ""])
    about = escape(f"{title} {comment}", 80, flat=True)
    described = f" — {escape(description, 80, flat=True)}" if description else ""
    return (f"`{escape(designators, 200, flat=True)}` ×{len(items)} · {state} · "
            f"*{part_name(first.manufacturer, first.mpn, 'no part number')}*"
            + (f" · {about}" if about else "")
            + described)


def _across_variants(events: Sequence[StoredEvent]) -> list[Event]:
    """The log as people read it: the same change of a designator found by one poll in
    several variants is one entry naming the variants ("(Default, Lite)")."""
    merged: dict[tuple[object, ...], list[Event]] = {}
    for stored in events:
        e = stored.event
        key: tuple[object, ...] = (stored.id,)
        if e.designator is not None:
            key = (stored.detected_at, e.kind, e.designator, e.old_manufacturer, e.old_mpn,
                   e.new_manufacturer, e.new_mpn, e.fitted)
        merged.setdefault(key, []).append(e)
    return [replace(group[0], variant=", ".join(e.variant or "?" for e in group))
            if len(group) > 1 else group[0] for group in merged.values()]


def _thread_line(t: Thread, now: datetime) -> str:
    first = t.comments[0] if t.comments else None
    who = first.author.display if first and first.author else None
    replies = max(0, len(t.comments) - 1)
    state = "🟢" if t.is_open else "✅"
    where = f" · {named(t.document_name)}" if t.document_name else ""
    noun = "reply" if replies == 1 else "replies"
    return (f"{state} *#{t.number}*{where} · {named(who)} · {ago(t.created_at, now)}"
            f" · {replies} {noun}: {escape(first.text if first else '', 100, flat=True)}")


def _part_line(p: LibraryPart) -> str:
    mparts = ", ".join(f"{m} {n}".strip() for m, n in p.manufacturer_parts[:3]) or "—"
    params = ", ".join(f"{k} {v}" for k, v in p.parameters[:4])
    return (f"• *{named(p.name)}* {named(p.comment, '')} — "
            f"{escape(p.description, 100, flat=True)}"
            f"\n   {escape(mparts, 300, flat=True)}"
            + (f" · {escape(params, 300, flat=True)}" if params else ""))


def _subscription_line(sub: Subscription, waiting: int) -> str:
    state = (f"paused: {escape(sub.paused_reason, 300, flat=True)}" if sub.paused_reason
             else "active")
    extra = sub.filters.describe()
    shown = f" ({escape(extra, 300, flat=True)})" if extra else ""
    pending = f" — {waiting} waiting" if waiting else ""
    return f"• *{named(sub.project)}* — {', '.join(sub.groups)}{shown} — {state}{pending}"


def _exclusions(text: str) -> Filters:
    values = [v.strip() for v in text.split(",") if v.strip()]
    documents = tuple(v for v in values if "." in v or "*" in v)
    prefixes = tuple(v.upper() for v in values if v not in documents)
    bad = [v for v in prefixes if not v.isalpha()]
    if bad:
        raise CommandError(f"`{escape(bad[0], 30)}` is neither a designator prefix "
                           "(R, TP) nor a document pattern (*.SchDoc).")
    return Filters(exclude_documents=documents, exclude_designators=prefixes)


def _since(word: str, now: datetime) -> str:
    units = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    w = word.strip().casefold()
    if len(w) > 1 and w[:-1].isdigit() and w[-1] in units:
        return stamp(now - timedelta(**{units[w[-1]]: int(w[:-1])}))
    try:
        return str(normalize_time(word))
    except ValueError:
        raise CommandError(f"`{escape(word, 30)}` is not a time: use an age like 2h, "
                           "3d, 1w, or a date like 2026-11-01.") from None
