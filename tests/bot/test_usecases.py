"""What the command line and ``/review`` share: the "since" parser, the project lookups,
following a project, and the one age formatter each keeps its wording through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot import usecases
from bot.review.context import project_in_words
from bot.review.request import CommandError
from state.clock import stamp
from state.errors import NotFoundError
from state.filters import Filters
from state.model import EVENT_GROUPS
from state.store import Store
from tests import factories

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "back"), [
    ("30m", timedelta(minutes=30)), ("2h", timedelta(hours=2)), ("7d", timedelta(days=7)),
    ("1w", timedelta(weeks=1)), (" 3 d ", timedelta(days=3)), ("2H", timedelta(hours=2)),
])
def test_since_reads_an_age_back_from_now(text: str, back: timedelta) -> None:
    assert usecases.since(text, NOW) == stamp(NOW - back)


def test_since_reads_a_time_and_refuses_anything_else() -> None:
    assert usecases.since("2026-11-01", NOW) == "2026-11-01T00:00:00.000Z"
    assert usecases.since("2026-11-01T10:00:00+01:00", NOW) == "2026-11-01T09:00:00.000Z"
    for text in ("yesterday", "2x", "", "h"):
        with pytest.raises(ValueError):
            usecases.since(text, NOW)


def test_projects_are_found_by_words_or_by_name(store: Store) -> None:
    store.sync_catalog("https://acme.example", [factories.project()])
    info, rest = project_in_words(store, ("motor", "controller", "open"))
    assert (info.name, rest) == ("Motor Controller", ("open",))
    with pytest.raises(CommandError):
        project_in_words(store, ("motor",), shared=lambda name: False)
    found = usecases.find_project(store, "motor c", nexar=None, not_signed_in="no sign-in",
                                  now=NOW)
    assert found.project.name == "Motor Controller"
    assert found.note is not None and "Nexar was not asked (no sign-in)" in found.note
    with pytest.raises(NotFoundError, match="Nexar was not asked: no sign-in"):
        usecases.find_project(store, "drone", nexar=None, not_signed_in="no sign-in", now=NOW)


def test_following_a_project_and_stopping(store: Store) -> None:
    store.sync_catalog("https://acme.example", [factories.project()])
    info = store.find_project("Motor Controller")
    sub = usecases.subscribe(store, info, "#hw", [], filters=Filters(), now=NOW)
    assert list(sub.groups) == list(EVENT_GROUPS), "no group named means every group"
    with pytest.raises(ValueError):
        usecases.subscribe(store, info, "#hw", ["gossip"], filters=Filters(), now=NOW)
    assert [f.subscription.channel for f in usecases.subscriptions(store)] == ["#hw"]
    assert usecases.subscriptions(store, channels={"#other"}) == []
    gone = usecases.unsubscribe(store, {"#hw"}, lambda subs: subs[0])
    assert gone.project == "Motor Controller" and store.subscriptions() == []
