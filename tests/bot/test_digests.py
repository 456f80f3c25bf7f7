"""Scheduled digests: parsing, DST-correct fire times, exactly one digest per period, the
missed-digest rule, quiet periods, and a scripted week on the sandboxes over real HTTP."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from bot.cadence import (
    FORMS,
    Now,
    Off,
    ScheduleError,
    Show,
    cron_trigger,
    describe,
    last_fire,
    next_fire,
    parse_schedule,
    period_of,
)
from bot.digests import DigestRunner
from bot.errors import SlackUnavailableError
from bot.slack.cards import Cards, message_size
from bot.slack.client import SlackClient
from bot.slack.delivery import CLAIM_LEASE, Deliverer
from bot.slack.digest_layout import render_digest
from bot.slack.message import Message
from bot.workers import schedule_digests
from jobs.nexar import NexarClient
from jobs.poll import Poller, refresh_catalog
from sandbox import AltiumSandbox, SlackSandbox
from sandbox.scenario import HOSTILE_TEXT, PROJECT
from state.claims import Claims, Owner, channel_claim, period_claim
from state.clock import stamp
from state.digest_contents import SupplyRisk, build_digest
from state.digests import Digests, DigestSetting
from state.filters import Filters
from state.model import Event
from state.store import Store
from state.supply import PartKey, Supply, SupplyFacts, Thresholds
from tests import factories
from tests.conftest import FakeClock

CHANNEL = "#design-review"
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
DAILY_UTC = DigestSetting(kind="daily", time="09:00", tz="UTC")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# -- parsing -------------------------------------------------------------------------------

@pytest.mark.parametrize(("words", "expected"), [
    ("daily 09:00", DigestSetting(kind="daily", time="09:00", tz="Europe/Berlin")),
    ("daily 9:05 UTC", DigestSetting(kind="daily", time="09:05", tz="UTC")),
    ("Daily 23:59 america/new_york", DigestSetting(kind="daily", time="23:59",
                                                   tz="America/New_York")),
    ("weekly mon 09:00", DigestSetting(kind="weekly", day="mon", time="09:00",
                                       tz="Europe/Berlin")),
    ("WEEKLY Friday 17:30 Asia/Kolkata --quiet",
     DigestSetting(kind="weekly", day="fri", time="17:30", tz="Asia/Kolkata", quiet=True)),
    ("weekly thurs 0:00 UTC", DigestSetting(kind="weekly", day="thu", time="00:00", tz="UTC")),
    ("weekdays 9:00", DigestSetting(kind="weekdays", time="09:00", tz="Europe/Berlin")),
    ("quiet weekdays 07:45 Pacific/Auckland",
     DigestSetting(kind="weekdays", time="07:45", tz="Pacific/Auckland", quiet=True)),
    ("off", Off()), ("OFF", Off()), ("now", Now()), ("", Show()),
])
def test_accepted_forms(words: str, expected: object) -> None:
    assert parse_schedule(words.split(), default_tz="Europe/Berlin") == expected


@pytest.mark.parametrize("words", [
    "daily", "daily 24:00", "daily 9:60", "daily 9", "daily 0900", "daily 09:00 Mars/Olympus",
    "daily 09:00 UTC extra", "weekly 09:00", "weekly someday 09:00", "weekly mo 09:00",
    "weekdays 9:5", "hourly 09:00", "off now", "now please", "--quiet", "daily -1:00",
    "weekly mon 09:00 Europe/Berlin x", "daily ９:00",
])
def test_bad_input_answers_with_the_accepted_forms(words: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_schedule(words.split(), default_tz="UTC")
    assert isinstance(caught.value, ScheduleError)
    message = str(caught.value)
    assert FORMS in message and "\n" not in message


def test_the_default_time_zone_is_checked_too() -> None:
    with pytest.raises(ScheduleError, match="unknown time zone 'Nowhere/Land'"):
        parse_schedule(["daily", "09:00"], default_tz="Nowhere/Land")


def test_describe_says_when_the_next_one_comes(clock: FakeClock) -> None:
    setting = DigestSetting(kind="weekly", day="mon", time="09:00", tz="Europe/Berlin")
    text = describe(setting, now=clock())
    assert text.startswith("weekly on Monday at 09:00 (Europe/Berlin)")
    assert "next Mon 2026-11-30 09:00 CET" in text


# -- fire times ----------------------------------------------------------------------------

@pytest.mark.parametrize(("tz", "before", "after", "day_before", "day_of"), [
    (BERLIN, utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), (2026, 3, 28), (2026, 3, 29)),
    (BERLIN, utc(2026, 10, 24, 7), utc(2026, 10, 25, 8), (2026, 10, 24), (2026, 10, 25)),
    (NEW_YORK, utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), (2026, 3, 7), (2026, 3, 8)),
    (NEW_YORK, utc(2026, 10, 31, 13), utc(2026, 11, 1, 14), (2026, 10, 31), (2026, 11, 1)),
])
def test_a_daily_nine_oclock_stays_nine_local_across_dst(
        tz: ZoneInfo, before: datetime, after: datetime, day_before: tuple[int, int, int],
        day_of: tuple[int, int, int]) -> None:
    setting = DigestSetting(kind="daily", time="09:00", tz=str(tz))
    first = next_fire(setting, datetime(*day_before, 0, 30, tzinfo=tz))
    second = next_fire(setting, first)
    assert (first, second) == (before, after)
    for fire in (first, second):
        local = fire.astimezone(tz)
        assert (local.hour, local.minute) == (9, 0)
    assert first.astimezone(tz).utcoffset() != second.astimezone(tz).utcoffset()
    assert period_of(setting, second) == (first, second)
    assert last_fire(setting, second - timedelta(seconds=1)) == first
    assert last_fire(setting, second) == second


def test_periods_across_dst_are_23_and_25_hours() -> None:
    setting = DigestSetting(kind="daily", time="09:00", tz="Europe/Berlin")
    spring = period_of(setting, utc(2026, 3, 29, 7))
    autumn = period_of(setting, utc(2026, 10, 25, 8))
    assert spring[1] - spring[0] == timedelta(hours=23)
    assert autumn[1] - autumn[0] == timedelta(hours=25)


def test_a_wall_time_that_happens_twice_fires_once() -> None:
    setting = DigestSetting(kind="daily", time="02:30", tz="Europe/Berlin")
    fires = [next_fire(setting, utc(2026, 10, 24, 12))]
    for _ in range(2):
        fires.append(next_fire(setting, fires[-1]))
    assert fires == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30),
                     utc(2026, 10, 27, 1, 30)]
    assert last_fire(setting, utc(2026, 10, 25, 1, 45)) == utc(2026, 10, 25, 0, 30)


def test_a_wall_time_that_never_happens_fires_once_that_day() -> None:
    setting = DigestSetting(kind="daily", time="02:30", tz="Europe/Berlin")
    first = next_fire(setting, utc(2026, 3, 28, 12))
    assert first.date() == datetime(2026, 3, 29).date()
    assert next_fire(setting, first) == utc(2026, 3, 30, 0, 30)


@pytest.mark.parametrize(("setting", "after", "expected"), [
    (DigestSetting(kind="weekly", day="mon", time="09:00", tz="Europe/Berlin"),
     utc(2026, 11, 28, 9), utc(2026, 11, 30, 8)),
    (DigestSetting(kind="weekly", day="mon", time="09:00", tz="Europe/Berlin"),
     utc(2026, 11, 30, 8), utc(2026, 12, 7, 8)),
    (DigestSetting(kind="weekly", day="sun", time="23:30", tz="America/New_York"),
     utc(2026, 11, 28, 9), utc(2026, 11, 30, 4, 30)),
    (DigestSetting(kind="weekdays", time="09:00", tz="America/New_York"),
     utc(2026, 11, 27, 15), utc(2026, 11, 30, 14)),
    (DigestSetting(kind="weekdays", time="09:00", tz="America/New_York"),
     utc(2026, 11, 30, 14), utc(2026, 12, 1, 14)),
    (DigestSetting(kind="daily", time="09:00", tz="Asia/Kolkata"),
     utc(2026, 11, 28, 9), utc(2026, 11, 29, 3, 30)),
    (DigestSetting(kind="daily", time="08:00", tz="Pacific/Auckland"),
     utc(2026, 11, 28, 9), utc(2026, 11, 28, 19)),
])
def test_next_fires_in_time_zones(setting: DigestSetting, after: datetime,
                                  expected: datetime) -> None:
    assert next_fire(setting, after) == expected
    trigger = cron_trigger(setting)
    assert trigger.get_next_fire_time(None, after + timedelta(seconds=1)) == expected


def test_a_weekdays_monday_digest_covers_the_weekend() -> None:
    setting = DigestSetting(kind="weekdays", time="09:00", tz="America/New_York")
    assert period_of(setting, utc(2026, 11, 30, 14)) == (utc(2026, 11, 27, 14),
                                                        utc(2026, 11, 30, 14))
    weekly = DigestSetting(kind="weekly", day="mon", time="09:00", tz="Europe/Berlin")
    assert period_of(weekly, utc(2026, 11, 30, 8)) == (utc(2026, 11, 23, 8),
                                                      utc(2026, 11, 30, 8))


# -- a project in the store with events ----------------------------------------------------

class Posts:
    """The ``post`` callable of a runner: records every post, thread-safe."""

    def __init__(self, *, delay: float = 0.0, fail: int = 0) -> None:
        self.sent: list[tuple[str, str, Message]] = []
        self.delay = delay
        self.fail = fail
        self.lock = threading.Lock()

    def __call__(self, channel: str, key: str, message: Message) -> str:
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            if self.fail:
                self.fail -= 1
                raise SlackUnavailableError("Slack is down", code="http_503")
            self.sent.append((channel, key, message))
            return f"1700000000.{len(self.sent):06d}"

    @property
    def keys(self) -> list[str]:
        return [key for _, key, _ in self.sent]


def event(kind: str, **fields: object) -> Event:
    values: dict[str, object] = {"at": "2026-11-27T10:00:00.000Z", **fields}
    return Event(kind=kind, project_id="P1", project="Motor Controller",  # type: ignore[arg-type]
                 **values)  # type: ignore[arg-type]


def seed(store: Store, clock: FakeClock, *, channel: str = CHANNEL,
         filters: Filters | None = None) -> None:
    threads = [
        factories.thread("t1", 1, factories.comment("t1-c1", "Old question", author="alice",
                                                    at="2026-10-01T09:00:00.000Z"),
                         at="2026-10-01T09:00:00.000Z"),
        factories.thread("t2", 2,
                         factories.comment("t2-c1", "Newer", at="2026-11-01T09:00:00.000Z"),
                         factories.comment("t2-c2", "Reply", author="bob",
                                           at="2026-11-20T09:00:00.000Z"),
                         at="2026-11-01T09:00:00.000Z", document="Power.SchDoc"),
        factories.thread("t3", 3, factories.comment("t3-c1", "Stale <!channel>",
                                                    at="2026-10-15T09:00:00.000Z"),
                         at="2026-10-15T09:00:00.000Z"),
        factories.thread("t4", 4, status=0),
    ]
    store.save_snapshot(None, factories.snapshot(threads, []), [],
                        detected_at=stamp(clock() - timedelta(days=30)))
    store.subscribe(factories.project(), channel, ["comments", "bom", "revisions"],
                    at=stamp(clock()), filters=filters)


def log_events(store: Store, events: list[Event], *, detected: datetime) -> None:
    snap = store.load_snapshot("P1")
    assert snap is not None
    store.save_snapshot(snap, snap, events, detected_at=stamp(detected))


@pytest.fixture
def db(db_path: Path, store: Store) -> Path:
    """The database file, migrated (by the ``store`` fixture)."""
    return db_path


def runner(db: Path, posts: Posts, clock: FakeClock, **kwargs: object) -> DigestRunner:
    return DigestRunner(store=lambda: Store.open(db), post=posts, render=render_digest,
                        clock=clock, **kwargs)  # type: ignore[arg-type]


# -- building ------------------------------------------------------------------------------

def test_build_counts_the_period_and_lists_threads(store: Store, clock: FakeClock) -> None:
    seed(store, clock)
    start, end = utc(2026, 11, 27, 9), utc(2026, 11, 28, 9)
    log_events(store, [event("thread_opened", thread_id="t9", thread_number=9,
                             document="Main.PcbDoc")], detected=start - timedelta(seconds=1))
    log_events(store, [event("thread_opened", thread_id="t2", thread_number=2,
                             document="Power.SchDoc"),
                       event("thread_resolved", thread_id="t4", thread_number=4,
                             document="Main.PcbDoc"),
                       event("part_added", variant="Default", designator="R9", new_mpn="X"),
                       event("part_replaced", variant="Default", designator="U3", old_mpn="A",
                             new_mpn="B"),
                       event("part_removed", variant="Default", designator="C10", old_mpn="C"),
                       event("part_replaced", variant="Default", designator="C2", old_mpn="D",
                             new_mpn="E"),
                       event("revision_committed", revision_id="r2", author="Alice",
                             text="Fix it")], detected=start)
    log_events(store, [event("thread_replied", thread_id="t1", thread_number=1)],
               detected=end)
    digest = build_digest(store, CHANNEL, start, end, kind="daily", tz="UTC")
    [p] = digest.projects
    assert not digest.empty and p.events == 7
    assert p.thread_counts == {"thread_opened": 1, "thread_resolved": 1}
    assert [c.event.designator for c in p.bom_changes] == ["C2", "U3", "C10", "R9"]
    assert p.bom_counts == {"part_replaced": 2, "part_removed": 1, "part_added": 1}
    assert [r.text for r in p.revisions] == ["Fix it"]
    assert p.open_threads == 3
    assert p.oldest_open is not None and p.oldest_open.number == 1
    assert [t.number for t in p.waiting] == [1, 3, 2]
    assert p.waiting[2].last_by == "Bob"


def test_build_respects_the_subscription_filters(store: Store, clock: FakeClock) -> None:
    seed(store, clock, filters=Filters(include_documents=("*.PcbDoc",),
                                       exclude_designators=("U",)))
    start, end = utc(2026, 11, 27, 9), utc(2026, 11, 28, 9)
    log_events(store, [event("thread_opened", thread_id="t2", thread_number=2,
                             document="Power.SchDoc"),
                       event("part_replaced", variant="Default", designator="U3"),
                       event("part_added", variant="Default", designator="R9")], detected=start)
    [p] = build_digest(store, CHANNEL, start, end).projects
    assert p.thread_counts == {}
    assert [c.event.designator for c in p.bom_changes] == ["R9"]
    assert p.open_threads == 2 and [t.number for t in p.waiting] == [1, 3]


def test_a_part_changed_in_two_variants_is_one_change(store: Store, clock: FakeClock) -> None:
    seed(store, clock)
    start, end = utc(2026, 11, 27, 9), utc(2026, 11, 28, 9)
    swap = {"designator": "U3", "old_mpn": "TPS62130RGTR", "new_mpn": "TPS62133RGTR"}
    log_events(store, [event("part_replaced", variant="Default", **swap),
                       event("part_replaced", variant="Lite", **swap),
                       event("part_removed", variant="Lite", designator="U7", old_mpn="X")],
               detected=start)
    [p] = build_digest(store, CHANNEL, start, end).projects
    assert p.bom_counts == {"part_replaced": 1, "part_removed": 1}
    assert [(c.event.designator, c.variants) for c in p.bom_changes] == [
        ("U3", ("Default", "Lite")), ("U7", ("Lite",))]


def test_the_period_s_new_parts_at_supply_risk_are_listed(store: Store,
                                                          clock: FakeClock) -> None:
    """From the kept facts, whatever their age: a removed part, a part without supply data,
    a healthy one and one brought in before the period are not listed."""
    seed(store, clock)
    start, end = utc(2026, 11, 27, 9), utc(2026, 11, 28, 9)
    checked = utc(2026, 10, 1)

    def kept(mpn: str, **values: object) -> SupplyFacts:
        return SupplyFacts(key=PartKey(mpn=mpn), found=True, checked_at=stamp(checked),
                           **values)  # type: ignore[arg-type]

    Supply(store).keep([kept("B", lifecycle="NRND", stock=90_000), kept("E", stock=5),
                        kept("C", lifecycle="EOL"), kept("Y", lifecycle="Obsolete"),
                        kept("H", lifecycle="Production", stock=10_000),
                        SupplyFacts(key=PartKey(mpn="X"), found=False,
                                    checked_at=stamp(checked))], at=checked, asked=6)
    log_events(store, [event("part_added", variant="Default", designator="R1", new_mpn="Y")],
               detected=start - timedelta(hours=1))
    swap = {"designator": "U3", "old_mpn": "A", "new_mpn": "B"}
    log_events(store, [event("part_replaced", variant="Default", **swap),
                       event("part_replaced", variant="Lite", **swap),
                       event("part_added", variant="Default", designator="R9", new_mpn="X"),
                       event("part_added", variant="Default", designator="R10", new_mpn="H"),
                       event("part_replaced", variant="Default", designator="C2", old_mpn="D",
                             new_mpn="E"),
                       event("part_added", variant="Lite", designator="C3", new_mpn="E"),
                       event("part_removed", variant="Default", designator="C10",
                             old_mpn="C")], detected=start)
    [p] = build_digest(store, CHANNEL, start, end).projects
    assert p.supply_risks == (
        SupplyRisk(key=PartKey(mpn="B"), variants=("Default", "Lite"), designators=("U3",),
                   reasons=("NRND",)),
        SupplyRisk(key=PartKey(mpn="E"), variants=("Default",), designators=("C2",),
                   reasons=("low stock (5)",)),
        SupplyRisk(key=PartKey(mpn="E"), variants=("Lite",), designators=("C3",),
                   reasons=("low stock (5)",)))
    lenient = build_digest(store, CHANNEL, start, end, thresholds=Thresholds(stock_factor=1))
    assert [r.key.mpn for r in lenient.projects[0].supply_risks] == ["B"]
    assert "⚠️ *Supply risk*" in str(render_digest(lenient).blocks)


def test_quiet_threads_are_quiet_for_a_day_and_reopened_ones_are_young(
        store: Store, clock: FakeClock) -> None:
    """A thread that just had a word, or was just reopened, is not quiet; the oldest open
    thread is the one open longest since it was last (re)opened."""
    seed(store, clock)
    end = utc(2026, 11, 28, 9)
    snap = store.load_snapshot("P1")
    assert snap is not None
    t3 = snap.threads["t3"]
    fresh = replace(t3, comments=(*t3.comments, factories.comment(
        "t3-c2", "Just now", author="carol", at="2026-11-28T08:30:00.000Z")))
    store.save_snapshot(snap, replace(snap, threads={**snap.threads, "t3": fresh}),
                        [event("thread_reopened", thread_id="t1", thread_number=1,
                               at="2026-11-28T07:00:00.000Z")],
                        detected_at=stamp(end - timedelta(hours=2)))
    [p] = build_digest(store, CHANNEL, end - timedelta(days=1), end).projects
    assert p.open_threads == 3
    assert [t.number for t in p.waiting] == [2]
    assert p.oldest_open is not None and p.oldest_open.number == 3
    body = str(render_digest(build_digest(store, CHANNEL, end - timedelta(days=1), end)).blocks)
    assert "oldest: #3 on _Main.PcbDoc_ by Alice, opened 44 days ago" in body
    quiet = body.split("Quiet longest")[1]
    assert "#2 on _Power.SchDoc_" in quiet and "#1 on" not in quiet and "#3 on" not in quiet
    assert "quiet for 0 min" not in body


def test_build_never_reaches_before_the_subscription(store: Store, clock: FakeClock) -> None:
    snap = factories.snapshot([], [])
    store.save_snapshot(None, snap, [event("part_added", variant="Default", designator="R1")],
                        detected_at="2026-11-27T10:00:00.000Z")
    store.subscribe(factories.project(), CHANNEL, ["bom"], at=stamp(clock()))
    digest = build_digest(store, CHANNEL, utc(2026, 11, 27), utc(2026, 11, 28))
    assert digest.empty


# -- exactly once ----------------------------------------------------------------------------

def test_one_digest_per_period_through_restarts(db: Path, store: Store,
                                                clock: FakeClock) -> None:
    seed(store, clock)
    Digests(store).set(CHANNEL, DAILY_UTC, at=clock() - timedelta(days=2))
    log_events(store, [event("thread_opened", thread_id="t2", thread_number=2,
                             document="Power.SchDoc")], detected=clock() - timedelta(hours=3))
    posts = Posts()
    fire = utc(2026, 11, 28, 9)
    first = runner(db, posts, clock).run(CHANNEL, fire)
    assert first is not None and first.outcome == "posted"
    assert first.key == "digest:2026-11-27T09:00:00.000Z"
    for _ in range(3):
        again = runner(db, posts, clock)
        assert again.run(CHANNEL, fire) is None
        assert again.run_due(CHANNEL) is None
        assert again.catch_up() == []
    assert posts.keys == ["digest:2026-11-27T09:00:00.000Z"]
    entry = Digests(store).entry(CHANNEL, first.key)
    assert entry is not None and entry.state == "posted" and entry.ts == first.ts


def test_two_runners_racing_for_a_period_post_once(db: Path, store: Store,
                                                   clock: FakeClock) -> None:
    seed(store, clock)
    Digests(store).set(CHANNEL, DAILY_UTC, at=clock() - timedelta(days=2))
    posts = Posts(delay=0.05)
    barrier = threading.Barrier(6)
    results: list[object] = []

    def race() -> None:
        own = runner(db, posts, clock)
        barrier.wait()
        results.append(own.run_due(CHANNEL))

    threads = [threading.Thread(target=race) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(results) == 6 and sum(r is not None for r in results) == 1
    assert len(posts.sent) == 1


def test_a_crashed_run_is_finished_after_the_lease(db: Path, store: Store,
                                                   clock: FakeClock) -> None:
    seed(store, clock)
    Digests(store).set(CHANNEL, DAILY_UTC, at=clock() - timedelta(days=2))
    fire = utc(2026, 11, 28, 9)
    start, end = period_of(DAILY_UTC, fire)
    assert Digests(store).claim(CHANNEL, f"digest:{stamp(start)}", now=clock(), start=start,
                                end=end) is not None
    posts = Posts()
    clock.advance(minutes=5)
    assert runner(db, posts, clock).run(CHANNEL, fire) is None
    clock.advance(minutes=6)
    done = runner(db, posts, clock).run(CHANNEL, fire)
    assert done is not None and done.outcome == "posted"
    assert posts.keys == [f"digest:{stamp(start)}"]


def test_a_digest_waits_for_a_channel_another_worker_is_delivering_then_goes_once(
        db: Path, store: Store, clock: FakeClock, slack: SlackSandbox,
        caplog: pytest.LogCaptureFixture) -> None:
    seed(store, clock)
    Digests(store).set(CHANNEL, DAILY_UTC, at=clock() - timedelta(days=2))
    delivering = Owner.new()
    assert Claims(store).take(channel_claim(CHANNEL), delivering, now=clock(),
                              lease=CLAIM_LEASE).granted
    deliverer = Deliverer(store=store, slack=SlackClient(token=slack.bot_token,
                                                         api_url=slack.api_url),
                          renderer=Cards(), clock=clock, sleep=lambda _: None)
    claimed: list[set[str]] = []

    def post(channel: str, key: str, message: Message) -> str:
        claimed.append({h.name for h in Claims(store).held()})
        return deliverer.post_once(channel, key, message)

    def make() -> DigestRunner:
        return DigestRunner(store=store, post=post, render=render_digest, clock=clock)

    with caplog.at_level(logging.INFO, logger="bot.digests"):
        assert make().run_due(CHANNEL) is None
    assert f"#design-review is being delivered by pid {os.getpid()}" in caplog.text
    assert slack.messages(CHANNEL) == [] and Digests(store).entries(CHANNEL) == []
    period = period_claim(CHANNEL, "digest:2026-11-27T09:00:00.000Z")
    assert claimed == [{channel_claim(CHANNEL), period}]
    assert [h.name for h in Claims(store).held()] == [channel_claim(CHANNEL)], "given back"

    Claims(store).release(channel_claim(CHANNEL), delivering.id)
    [sent] = make().catch_up()
    assert sent.outcome == "posted" and len(slack.messages(CHANNEL)) == 1
    assert make().catch_up() == [] and len(slack.messages(CHANNEL)) == 1
    assert Claims(store).held() == []
    entry = Digests(store).entry(CHANNEL, sent.key)
    assert entry is not None and entry.state == "posted" and entry.ts == sent.ts


def test_a_failed_post_gives_the_period_back(db: Path, store: Store, clock: FakeClock) -> None:
    seed(store, clock)
    Digests(store).set(CHANNEL, DAILY_UTC, at=clock() - timedelta(days=2))
    posts = Posts(fail=1)
    fire = utc(2026, 11, 28, 9)
    with pytest.raises(SlackUnavailableError):
        runner(db, posts, clock).run(CHANNEL, fire)
    clock.advance(minutes=1)
    assert runner(db, posts, clock).run_due(CHANNEL) is not None
    assert len(posts.sent) == 1


# -- missed digests ------------------------------------------------------------------------

def test_down_for_three_days_sends_one_digest_within_grace(db: Path, store: Store,
                                                          clock: FakeClock) -> None:
    seed(store, clock)
    Digests(store).set(CHANNEL, DAILY_UTC, at=clock())
    for day in range(3):
        log_events(store, [event("thread_replied", thread_id="t1", thread_number=1)],
                   detected=clock() + timedelta(days=day, hours=2))
    clock.advance(days=3, minutes=20)
    posts = Posts()
    sent = runner(db, posts, clock).catch_up()
    assert [r.key for r in sent] == ["digest:2026-11-30T09:00:00.000Z"]
    assert posts.keys == ["digest:2026-11-30T09:00:00.000Z"]
    assert runner(db, posts, clock).catch_up() == []
    assert len(posts.sent) == 1


def test_a_digest_missed_beyond_grace_is_not_sent(db: Path, store: Store,
                                                  clock: FakeClock) -> None:
    seed(store, clock)
    Digests(store).set(CHANNEL, DAILY_UTC, at=clock())
    clock.advance(days=3, hours=1, minutes=1)
    posts = Posts()
    assert runner(db, posts, clock).catch_up() == []
    assert runner(db, posts, clock, grace=timedelta(hours=2)).catch_up() != []
    assert len(posts.sent) == 1


def test_no_catch_up_for_a_fire_before_the_setting_existed(db: Path, store: Store,
                                                           clock: FakeClock) -> None:
    seed(store, clock)
    clock.advance(minutes=10)
    Digests(store).set(CHANNEL, DAILY_UTC, at=clock())
    posts = Posts()
    assert runner(db, posts, clock).catch_up() == []
    clock.advance(days=1)
    assert len(runner(db, posts, clock).catch_up()) == 1


# -- empty periods and "now" ------------------------------------------------------------------

def test_an_empty_period_posts_one_short_line(db: Path, store: Store, clock: FakeClock) -> None:
    seed(store, clock)
    Digests(store).set(CHANNEL, DAILY_UTC, at=clock() - timedelta(days=2))
    posts = Posts()
    done = runner(db, posts, clock).run_due(CHANNEL)
    assert done is not None and done.outcome == "posted" and done.digest.empty
    [(_, _, message)] = posts.sent
    assert len(message.blocks) == 1
    assert "No design-review activity in" in message.blocks[0]["text"]["text"]
    assert "Motor Controller" in message.blocks[0]["text"]["text"]


def test_an_empty_period_posts_nothing_when_quiet(db: Path, store: Store,
                                                  clock: FakeClock) -> None:
    seed(store, clock)
    quiet = DigestSetting(kind="daily", time="09:00", tz="UTC", quiet=True)
    Digests(store).set(CHANNEL, quiet, at=clock() - timedelta(days=2))
    posts = Posts()
    done = runner(db, posts, clock).run_due(CHANNEL)
    assert done is not None and done.outcome == "quiet" and done.ts is None
    assert posts.sent == []
    assert runner(db, posts, clock).run_due(CHANNEL) is None
    log_events(store, [event("thread_replied", thread_id="t1", thread_number=1)],
               detected=clock() + timedelta(hours=1))
    clock.advance(days=1)
    loud = runner(db, posts, clock).run_due(CHANNEL)
    assert loud is not None and loud.outcome == "posted" and len(posts.sent) == 1


def test_now_covers_the_time_since_the_last_digest(db: Path, store: Store,
                                                   clock: FakeClock) -> None:
    seed(store, clock)
    posts = Posts()
    first = runner(db, posts, clock).run_now(CHANNEL)
    assert first is not None and first.digest.start == clock() - timedelta(hours=24)
    clock.advance(hours=5)
    second = runner(db, posts, clock).run_now(CHANNEL)
    assert second is not None and second.digest.start == first.digest.end
    assert posts.keys == [f"digest:now:{stamp(first.digest.end)}",
                          f"digest:now:{stamp(second.digest.end)}"]


# -- APScheduler -------------------------------------------------------------------------------

@pytest.fixture
def scheduler() -> Iterator[BackgroundScheduler]:
    sched = BackgroundScheduler(timezone=UTC)
    sched.start(paused=True)
    yield sched
    sched.shutdown(wait=False)


def test_cron_jobs_are_rebuilt_from_the_stored_settings(
        store: Store, clock: FakeClock, scheduler: BackgroundScheduler) -> None:
    digests = Digests(store)
    berlin = DigestSetting(kind="weekly", day="mon", time="09:00", tz="Europe/Berlin")
    digests.set(CHANNEL, berlin, at=clock())
    digests.set("#leads", DAILY_UTC, at=clock())
    scheduler.add_job(print, "interval", seconds=60, id="poll")
    calls: list[str] = []
    assert schedule_digests(scheduler, store, calls.append) == ["digest:#design-review",
                                                                "digest:#leads"]
    job = scheduler.get_job("digest:#design-review")
    assert job is not None and job.args == (CHANNEL,)
    assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 3600)
    assert str(job.trigger.timezone) == "Europe/Berlin"
    assert job.next_run_time == next_fire(berlin, datetime.now(UTC))
    job.func(*job.args)
    assert calls == [CHANNEL]
    leads = scheduler.get_job("digest:#leads")
    digests.set(CHANNEL, DigestSetting(kind="daily", time="07:00", tz="America/New_York"),
                at=clock())
    digests.delete("#leads")
    schedule_digests(scheduler, store, calls.append)
    assert {j.id for j in scheduler.get_jobs()} == {"poll", "digest:#design-review"}
    assert str(scheduler.get_job("digest:#design-review").trigger.timezone) == \
        "America/New_York"
    assert leads is not None
    digests.set("#leads", DAILY_UTC, at=clock())
    schedule_digests(scheduler, store, calls.append)
    kept = scheduler.get_job("digest:#design-review")
    schedule_digests(scheduler, store, calls.append)
    assert scheduler.get_job("digest:#design-review").next_run_time == kept.next_run_time


# -- a scripted week on the sandboxes ------------------------------------------------------

WEEK_START = datetime(2026, 11, 16, 10, 0, tzinfo=UTC)
WEEKLY = DigestSetting(kind="weekly", day="mon", time="09:00", tz="Europe/Berlin")


@pytest.fixture
def week_clock() -> FakeClock:
    return FakeClock(WEEK_START)


@pytest.fixture
def altium(week_clock: FakeClock) -> Iterator[AltiumSandbox]:
    """The local Altium 365 on the fake clock, so review activity lands inside the week."""
    with AltiumSandbox(clock=week_clock) as sandbox:
        sandbox.token = sandbox.make_token(lifetime=None)
        yield sandbox


def texts(message: object) -> str:
    return str(getattr(message, "blocks", "")) + str(getattr(message, "text", ""))


def test_a_scripted_week_of_review_reaches_slack_as_one_weekly_digest(
        db: Path, store: Store, client: NexarClient, altium: AltiumSandbox,
        slack: SlackSandbox, week_clock: FakeClock) -> None:
    clock = week_clock
    refresh_catalog(client, store)
    mc = store.find_project(PROJECT)
    store.subscribe(mc, CHANNEL, ["comments", "bom", "revisions"], at=stamp(clock()))
    store.subscribe(mc, "#hw-review", ["comments", "bom"], at=stamp(clock()),
                    filters=Filters(include_documents=("*.PcbDoc",), exclude_designators=("U",)))
    poller = Poller(client=client, store=store, clock=clock)
    poller.poll_once()
    digests = Digests(store)
    digests.set(CHANNEL, WEEKLY, at=clock())
    digests.set("#hw-review", WEEKLY, at=clock())

    script: list[Callable[[], object]] = [
        lambda: (altium.open_thread(PROJECT, author="bob.schmidt", text=HOSTILE_TEXT,
                                    document="Power.SchDoc"),
                 altium.reply(PROJECT, 3, author="carla.rossi", text="Agreed, moving it.")),
        lambda: (altium.resolve(PROJECT, 2, by="alice.nguyen"),
                 altium.swap_part(PROJECT, "U3", mpn="TPS62133RGTR",
                                  manufacturer="Texas Instruments")),
        lambda: (altium.remove_part(PROJECT, "U7", variant="Default"),
                 altium.add_part(PROJECT, "TP9", mpn="5019", manufacturer="Keystone Electronics",
                                 name="Test point, SMD", variant="Default")),
        lambda: altium.commit_revision(PROJECT, message="Swap buck converter, add test point",
                                       author="alice.nguyen"),
        lambda: altium.open_thread(PROJECT, author="dev.patel", text="Silkscreen over R4?",
                                   document="MotorController.PcbDoc"),
    ]
    for step in script:
        clock.advance(days=1)
        step()
        poller.poll_once()

    fire = next_fire(WEEKLY, WEEK_START)
    assert fire == utc(2026, 11, 23, 8)
    clock.now = fire + timedelta(minutes=3)
    deliverer = Deliverer(store=store, slack=SlackClient(token=slack.bot_token,
                                                         api_url=slack.api_url),
                          renderer=Cards(), clock=clock, sleep=lambda _: None)

    def make() -> DigestRunner:
        """A fresh runner over the same database: a restart."""
        return DigestRunner(store=store, post=deliverer.post_once, render=render_digest,
                            clock=clock)

    sent = make().catch_up()
    assert sorted(r.channel for r in sent) == ["#design-review", "#hw-review"]
    assert make().catch_up() == [] and make().run(CHANNEL, fire) is None

    [digest] = slack.messages(CHANNEL)
    body = texts(digest)
    assert digest.metadata is not None
    assert digest.metadata["event_payload"]["key"] == "digest:2026-11-16T08:00:00.000Z"
    assert "Weekly design-review digest" in body
    assert "*2* opened · *1* resolved · *1* reply" in body
    assert "*4* open threads · oldest: #3 on _GateDriver.SchDoc_ by Dev Patel" in body
    quiet = body.split("Quiet longest")[1]
    assert quiet.index("#4 on _Power.SchDoc_") < quiet.index("#3 on")
    assert "last word by Carla Rossi" in quiet
    assert "*1* new revision" in body and "Swap buck converter, add test point" in body
    assert "🔧 BOM changes: *1* replaced · *1* removed · *1* added" in body
    assert body.index("`U3`") < body.index("`U7`") < body.index("`TP9`")
    assert "TPS62130RGTR → Texas Instruments TPS62133RGTR · Default, Lite" in body
    assert body.count("`U3`") == 1
    assert "<!channel>" not in body and "&lt;!channel&gt;" in body
    blocks, chars = message_size(Message(text=digest.text, blocks=digest.blocks or []))
    assert blocks <= 50 and chars <= 12000

    [filtered] = slack.messages("#hw-review")
    hw = texts(filtered)
    assert "*1* opened · *1* resolved" in hw
    assert "`U3`" not in hw and "`TP9`" in hw and "new revision" not in hw
    assert "*1* open thread · oldest: #7 on _MotorController.PcbDoc_" in hw

    clock.now = next_fire(WEEKLY, fire) + timedelta(minutes=1)
    make().catch_up()
    latest = slack.messages(CHANNEL)[-1]
    assert len(slack.messages(CHANNEL)) == 2
    assert "No design-review activity in" in texts(latest) and PROJECT in texts(latest)


def test_run_refuses_a_time_that_is_not_a_fire(db: Path, store: Store, clock: FakeClock) -> None:
    seed(store, clock)
    Digests(store).set(CHANNEL, DAILY_UTC, at=clock() - timedelta(days=2))
    with pytest.raises(ValueError, match="not a fire time"):
        runner(db, Posts(), clock).run(CHANNEL, utc(2026, 11, 28, 9, 30))
