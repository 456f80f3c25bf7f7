"""What the command line and ``/review`` both do, once: follow a project, digests, changes
since a moment, finding a project by name, and the webhook endpoints' book-keeping.

The front ends parse their input, call these and say the result in their own words; what
goes wrong comes back as an exception that each front end turns into its own message (an
``Error:`` line, or a one-line answer in Slack), so neither repeats the other's logic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from jobs.errors import NexarAuthError, NexarError
from jobs.nexar import NexarClient
from jobs.poll import CATALOG_LISTED_AT, refresh_catalog
from jobs.records import normalize_time
from state.clock import LISTING, ago, parse_stamp, stamp
from state.digests import Digests, DigestSetting
from state.errors import ConfigError, NotFoundError
from state.filters import Filters
from state.model import EVENT_GROUPS, ProjectInfo
from state.outbox import Outbox
from state.store import Store, StoredEvent, Subscription
from state.webhooks import Endpoint, Webhooks, new_secret

AGE = re.compile(r"\s*(\d+)\s*([mhdw])\s*", re.IGNORECASE)
AGE_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _everything(name: str) -> bool:
    return True


# -- changes since a moment ----------------------------------------------------------------

def since(text: str, now: datetime) -> str:
    """The moment ``text`` names, in the store's form: an age back from ``now`` (30m, 2h,
    7d, 1w; any case, spaces allowed) or an ISO 8601 time. ``ValueError`` when neither."""
    match = AGE.fullmatch(text)
    if match:
        unit = AGE_UNITS[match.group(2).lower()]
        return stamp(now - timedelta(**{unit: int(match.group(1))}))
    return normalize_time(text)


def changes(store: Store, *, since: str | None = None,
            project_id: str | None = None) -> list[StoredEvent]:
    """The event log, oldest first: from ``since`` (a stored time) on, of one project."""
    return store.events(since=since, project_id=project_id)


# -- finding a project by name -------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Found:
    """A project found by name, and what to tell about where its name came from."""

    project: ProjectInfo
    note: str | None = None


def find_project(store: Store, name: str, *, nexar: Callable[[], NexarClient] | None,
                 not_signed_in: str, now: datetime) -> Found:
    """A project by name (any case, or the unique start of one), from Nexar's current list
    when the bot can sign in (``nexar``), else from the list cached by the last poll.

    Without a sign-in a match comes with a note saying the list is cached and how old it
    is, and a miss says why Nexar was not asked. With one, Nexar is asked every time, so a
    refused token or an unreachable Nexar is said plainly instead of hidden behind a cached
    answer. Nothing is saved when this fails.
    """
    if nexar is None:
        age = _catalog_age(store, now)
        try:
            found = store.find_project(name)
        except NotFoundError as exc:
            raise NotFoundError(f"{_without_suggestions(exc)} ({age}; Nexar was not asked: "
                                f"{not_signed_in}).", suggestions=exc.suggestions) from None
        return Found(project=found, note=f"{found.name} is from the {age}; Nexar was not "
                                         f"asked ({not_signed_in}). Polls need a sign-in.")
    try:
        with nexar() as client:
            refresh_catalog(client, store)
    except (NexarAuthError, ConfigError) as exc:
        raise NexarAuthError(f"{exc}; nothing was saved") from None
    except NexarError as exc:
        raise NexarError(f"could not read the project list from Nexar: {exc}; nothing was "
                         "saved: try again when Nexar answers") from None
    try:
        return Found(project=store.find_project(name))
    except NotFoundError as exc:
        raise NotFoundError(f"{_without_suggestions(exc)} (Nexar lists "
                            f"{len(store.project_names())} projects).",
                            suggestions=exc.suggestions) from None


def _without_suggestions(error: NotFoundError) -> str:
    return str(error).split(" Did you mean:")[0].rstrip(".")


def _catalog_age(store: Store, now: datetime) -> str:
    """``project list cached 3 h ago`` (or that there is none yet)."""
    if not store.project_names():
        return "no project list is cached yet"
    listed = store.get_meta(CATALOG_LISTED_AT)
    if not listed:
        return "project list cached at an unknown time"
    age = ago(parse_stamp(listed), now, scale=LISTING)
    return f"project list cached {age} ({listed[:16].replace('T', ' ')} UTC)"


# -- following a project -------------------------------------------------------------------

def subscribe(store: Store, project: ProjectInfo, channel: str, groups: Sequence[str], *,
              filters: Filters, now: datetime, replies: bool = False) -> Subscription:
    """Follow ``project`` in ``channel`` from now on: ``groups`` of events (every group when
    none is named), with ``filters``; ``replies``: people's replies in its thread cards'
    Slack threads are written to Altium 365 (subscribing again without it turns it off).
    ``ValueError`` for an unknown group."""
    unknown = [g for g in groups if g not in EVENT_GROUPS]
    if unknown:
        raise ValueError(f"unknown event group {', '.join(unknown)}")
    before = sends_replies(store, project, channel)
    sub = store.subscribe(project, channel, list(groups) or list(EVENT_GROUPS),
                          at=stamp(now), filters=filters, replies=replies)
    if before != replies:
        # The cards already there say whether a reply goes to Altium 365: bring them up to date.
        Outbox(store).refresh_cards(channel, project.id)
    return sub


def sends_replies(store: Store, project: ProjectInfo, channel: str) -> bool:
    """Whether ``channel``'s subscription to ``project`` writes replies to Altium 365 now:
    asked before subscribing again, so turning it off by leaving it out can be said."""
    return any(s.replies for s in store.subscriptions(project_id=project.id, channel=channel))


@dataclass(frozen=True, kw_only=True)
class Following:
    """One subscription and how many of its channel's events still wait for Slack."""

    subscription: Subscription
    waiting: int


def subscriptions(store: Store, *, channels: Collection[str] | None = None,
                  shared: Callable[[str], bool] = _everything) -> list[Following]:
    """The subscriptions of ``channels`` (every channel when None) to projects ``shared``
    lets be seen, each with its channel's undelivered count."""
    subs = [s for s in store.subscriptions()
            if (channels is None or s.channel in channels) and shared(s.project)]
    outbox = Outbox(store)
    waiting = {channel: outbox.undelivered(channel) for channel in {s.channel for s in subs}}
    return [Following(subscription=s, waiting=waiting[s.channel]) for s in subs]


def unsubscribe(store: Store, channels: Collection[str],
                choose: Callable[[list[Subscription]], Subscription], *,
                shared: Callable[[str], bool] = _everything) -> Subscription:
    """Stop the subscription ``choose`` picks among those of ``channels`` (to projects
    ``shared`` lets be seen); ``choose`` raises, in its front end's words, when none fits."""
    subs = [s for s in store.subscriptions() if s.channel in channels and shared(s.project)]
    chosen = choose(subs)
    store.unsubscribe(chosen.project_id, chosen.channel)
    return chosen


# -- digests -------------------------------------------------------------------------------

def digest_setting(store: Store, channel: str) -> DigestSetting | None:
    """``channel``'s digest setting, or None when it gets no digest."""
    current = Digests(store).get(channel)
    return current.setting if current else None


def set_digest(store: Store, channel: str, setting: DigestSetting, *, now: datetime) -> None:
    """Give ``channel`` a digest on ``setting`` from ``now`` on (replacing any other)."""
    Digests(store).set(channel, setting, at=now)


def stop_digest(store: Store, channel: str) -> bool:
    """Turn ``channel``'s digest off; False when it had none."""
    return Digests(store).delete(channel)


# -- webhook endpoints ---------------------------------------------------------------------

def add_webhook(store: Store, url: str, *, projects: Sequence[ProjectInfo],
                groups: Sequence[str], filters: Filters, allow_http: bool,
                now: datetime) -> Endpoint:
    """A new endpoint for ``url`` with a fresh signing secret, receiving the events of
    ``projects`` (every watched project when empty) logged from now on. ``ConfigError`` for
    a URL it may not use (not https, unless loopback or ``allow_http``) or an unknown group."""
    chosen = event_groups(groups)
    ids = list(dict.fromkeys(p.id for p in projects))
    return Webhooks(store).add(url, secret=new_secret(), at=stamp(now), project_ids=ids,
                               groups=chosen, filters=filters, allow_http=allow_http)


def event_groups(names: Sequence[str]) -> list[str]:
    """``names`` when each is an event group (lower case, no repeats); ``ConfigError`` when
    one is not, or none is given."""
    chosen = list(dict.fromkeys(n.strip().lower() for n in names if n.strip()))
    unknown = [g for g in chosen if g not in EVENT_GROUPS]
    if unknown or not chosen:
        raise ConfigError(f"unknown event group {', '.join(unknown) or '(none)'}: choose from "
                          f"{','.join(EVENT_GROUPS)}")
    return chosen


@dataclass(frozen=True, kw_only=True)
class EndpointStatus:
    """One endpoint, the names of its projects (empty: every watched project) and how many
    of its messages wait."""

    endpoint: Endpoint
    projects: tuple[str, ...]
    pending: int


def webhook_endpoints(store: Store) -> list[EndpointStatus]:
    """Every endpoint, oldest first, with its projects' names (an id when the project is no
    longer listed) and its waiting messages."""
    webhooks = Webhooks(store)
    names = {info.id: info.name for info in store.catalog()}
    return [EndpointStatus(endpoint=e, projects=tuple(names.get(p, p) for p in e.project_ids),
                           pending=webhooks.pending(e.id))
            for e in webhooks.endpoints()]


def rotate_webhook_secret(store: Store, endpoint_id: str, *, now: datetime) -> Endpoint:
    """Sign ``endpoint_id``'s messages with a fresh secret from now on; the one it replaces
    stays valid (both signatures are sent) for 24 hours."""
    return Webhooks(store).rotate(endpoint_id, secret=new_secret(), now=now)
