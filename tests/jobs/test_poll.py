"""The poller end to end in process: sandbox Altium 365 over HTTP, real SQLite file."""

from __future__ import annotations

import gc
import os
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from jobs.errors import NexarAuthError
from jobs.nexar import NexarClient
from jobs.poll import GC_FIRST_THRESHOLD, LeasePolicy, Poller, PollReport, refresh_catalog
from sandbox import AltiumSandbox
from sandbox.altium import RequestRecord
from sandbox.scenario import play_review_round
from state.claims import Lease
from state.clock import stamp
from state.store import Store
from tests.conftest import FakeClock

MC, IOT = "Motor Controller", "IoT Sensor Node"
SNAPSHOT_TABLES = ("projects", "threads", "comments", "bom_lines", "events")


def follow(store: Store, client: NexarClient, *names: str) -> None:
    refresh_catalog(client, store)
    for name in names:
        store.subscribe(store.find_project(name), "#hw-review", ["comments", "bom", "revisions"],
                        at="2026-11-28T08:00:00.000Z")


def rows(store: Store) -> dict[str, int]:
    return {t: store.db.table(t).count for t in SNAPSHOT_TABLES}


def kinds_since(store: Store, after: int) -> list[tuple[str, str, object]]:
    return [(s.event.project, s.event.kind, s.event.thread_number or (s.event.designator and
             f"{s.event.variant}/{s.event.designator}")) for s in store.events(after_id=after)]


def last_id(store: Store) -> int:
    found = store.events()
    return found[-1].id if found else 0


@pytest.fixture
def poller(client: NexarClient, store: Store, clock: FakeClock) -> Poller:
    follow(store, client, MC, IOT)
    return Poller(client=client, store=store, clock=clock)


def test_first_poll_is_a_silent_baseline(poller: Poller, store: Store) -> None:
    report = poller.poll_once()
    assert (report.projects, report.boms_read, report.failures) == (2, 2, {})
    assert [(s.event.project, s.event.kind) for s in store.events()] == [
        (IOT, "project_created"), (MC, "project_created")]
    assert store.load_snapshot(store.find_project(MC).id) is not None


def test_a_review_round_gives_exactly_its_events(poller: Poller, store: Store,
                                                 altium: AltiumSandbox) -> None:
    poller.poll_once()
    mark = last_id(store)
    play_review_round(altium)
    report = poller.poll_once()
    assert kinds_since(store, mark) == [
        (MC, "revision_committed", None),
        (MC, "thread_reopened", 1),
        (MC, "thread_resolved", 2),
        (MC, "thread_replied", 3),
        (MC, "thread_opened", 6),
        (MC, "part_added", "Default/TP9"),
        (MC, "part_replaced", "Default/U3"),
        (MC, "part_fitted_changed", "Default/U5"),
        (MC, "part_removed", "Default/U7"),
        (MC, "part_replaced", "Lite/U3"),
    ]
    assert report.boms_read == 1
    opened = next(s.event for s in store.events(after_id=mark) if s.event.kind == "thread_opened")
    assert (opened.author, opened.document) == ("Bob Schmidt", "Power.SchDoc")
    assert opened.text is not None and "<!channel>" in opened.text
    mark = last_id(store)
    again = poller.poll_once()
    assert (again.events, again.boms_read, store.events(after_id=mark)) == (0, 0, [])


def test_comments_alone_do_not_reread_the_bom(poller: Poller, store: Store,
                                              altium: AltiumSandbox) -> None:
    poller.poll_once()
    altium.reply(MC, 2, author="erik.johansson", text="Done")
    report = poller.poll_once()
    assert (report.events, report.boms_read) == (1, 0)
    altium.set_fitted(IOT, "C1", False, variant="Default")
    report = poller.poll_once()
    assert (report.events, report.boms_read) == (1, 1)


def test_an_unchanged_poll_is_cheap_and_writes_nothing(poller: Poller, store: Store) -> None:
    poller.poll_once()
    before = rows(store)
    report = poller.poll_once()
    # discovery, one project page per workspace, one batch of thread fingerprints
    assert report.requests == 1 + 2 + 1
    assert rows(store) == before


def test_an_unchanged_poll_reads_fingerprints_only_until_a_full_read_is_due(
        poller: Poller, store: Store, altium: AltiumSandbox, clock: FakeClock) -> None:
    poller.poll_once()
    altium.reset_requests()
    assert poller.poll_once().projects == 2
    assert [r.operation_name for r in altium.requests if r.region] == [
        "Projects", "ThreadFingerprintsBatch", "Projects"]
    clock.advance(minutes=61)
    altium.reset_requests()
    assert poller.poll_once().events == 0
    assert "CommentThreadsBatch" in [r.operation_name for r in altium.requests]
    altium.reset_requests()
    poller.poll_once()
    assert "CommentThreadsBatch" not in [r.operation_name for r in altium.requests]


def test_an_edit_that_leaves_the_thread_unmoved_is_found_by_the_next_full_read(
        poller: Poller, store: Store, altium: AltiumSandbox, clock: FakeClock) -> None:
    """Whether Nexar moves a thread's modifiedAt when a comment is edited is not known: an
    edit that does not is found no later than the periodic full read."""
    poller.poll_once()
    mark = last_id(store)
    with altium.lock:
        altium.project(MC).threads[1].comments[0].text = "Edited, and the thread never knew"
        altium.project(MC).threads[1].comments[0].modified_at = altium.stamp()
    assert poller.poll_once().events == 0
    clock.advance(minutes=61)
    poller.poll_once()
    assert [k for _, k, _ in kinds_since(store, mark)] == ["comment_edited"]


def test_an_edit_that_moves_the_thread_is_found_at_once(
        poller: Poller, store: Store, altium: AltiumSandbox) -> None:
    poller.poll_once()
    mark = last_id(store)
    altium.edit_comment(IOT, 1, text="Edited in Altium 365")
    altium.assign(MC, 2, to="bob.schmidt", by="alice.nguyen")
    poller.poll_once()
    assert [(p, k) for p, k, _ in kinds_since(store, mark)] == [(IOT, "comment_edited"),
                                                                 (MC, "thread_assigned")]


def test_a_failed_project_is_skipped_then_caught_up_once(
        poller: Poller, store: Store, altium: AltiumSandbox) -> None:
    poller.poll_once()
    mark = last_id(store)
    altium.delete_thread(MC, 5)
    altium.remove_part(MC, "U7")
    altium.reply(IOT, 1, author="bob.schmidt", text="Checked")
    altium.faults.graphql_error(project=MC, times=None)
    report = poller.poll_once()
    assert set(report.failures) == {MC}
    assert [k for _, k, _ in kinds_since(store, mark)] == ["thread_replied"]
    assert store.load_snapshot(store.find_project(MC).id) is not None
    altium.faults.clear()
    report = poller.poll_once()
    assert report.ok
    assert kinds_since(store, mark)[1:] == [
        (MC, "thread_deleted", 5), (MC, "part_removed", "Default/U7"),
        (MC, "part_removed", "Lite/U7")]


def test_nexar_down_records_nothing_and_reports_it(poller: Poller, store: Store,
                                                   altium: AltiumSandbox) -> None:
    poller.poll_once()
    before = rows(store)
    altium.faults.http_error(status=503, times=None)
    report = poller.poll_once()
    assert "Nexar" in report.failures and rows(store) == before
    last = store.last_poll()
    assert last is not None and "Nexar" in last.failures


def test_an_expired_token_stops_the_poll(poller: Poller, altium: AltiumSandbox) -> None:
    poller.poll_once()
    altium.expire_token()
    with pytest.raises(NexarAuthError, match="expired"):
        poller.poll_once()


class InterruptingClock(FakeClock):
    """Raises KeyboardInterrupt on its n-th reading, as Ctrl-C would mid-poll."""

    def __init__(self, at_call: int) -> None:
        super().__init__()
        self.calls, self.at_call = 0, at_call

    def __call__(self) -> datetime:
        self.calls += 1
        if self.calls == self.at_call:
            raise KeyboardInterrupt
        return super().__call__()


@pytest.mark.parametrize("at_call", [1, 2, 3, 4, 5])
def test_ctrl_c_mid_poll_leaves_every_project_whole(
        client: NexarClient, store: Store, altium: AltiumSandbox, at_call: int) -> None:
    follow(store, client, MC, IOT)
    Poller(client=client, store=store, clock=FakeClock()).poll_once()
    play_review_round(altium)
    altium.reply(IOT, 1, author="bob.schmidt", text="Checked")
    with pytest.raises(KeyboardInterrupt):
        Poller(client=client, store=store, clock=InterruptingClock(at_call)).poll_once()
    assert store.rows("select * from leases") == [], "Ctrl-C gives the poller lease back"
    Poller(client=client, store=store, clock=FakeClock()).poll_once()
    kinds = [(s.event.project, s.event.kind) for s in store.events()]
    assert kinds.count((MC, "thread_opened")) == 1
    assert kinds.count((IOT, "thread_replied")) == 1
    assert kinds.count((MC, "revision_committed")) == 1


def test_resubscribing_starts_a_fresh_baseline(poller: Poller, store: Store,
                                               altium: AltiumSandbox) -> None:
    poller.poll_once()
    mc = store.find_project(MC)
    store.unsubscribe(mc.id, "#hw-review")
    play_review_round(altium)
    poller.poll_once()
    store.subscribe(mc, "#hw-review", ["comments"], at=stamp(datetime.now()))
    mark = last_id(store)
    poller.poll_once()
    assert kinds_since(store, mark) == [(MC, "project_created", None)]


# --- Nexar's odd answers never become events ------------------------------------------------


def part_events(store: Store, after: int) -> list[tuple[str, str, object]]:
    return [k for k in kinds_since(store, after) if k[1].startswith("part_")]


def swap_u3(altium: AltiumSandbox) -> None:
    altium.swap_part(MC, "U3", mpn="TPS62133RGTR", manufacturer="Texas Instruments",
                     variant="Default")


def test_a_null_bom_then_a_clean_poll_then_one_swap_gives_one_part_replaced(
        poller: Poller, store: Store, altium: AltiumSandbox) -> None:
    poller.poll_once()
    mark = last_id(store)
    altium.commit_revision(MC, message="Rev B", author="alice.nguyen")
    altium.reply(MC, 2, author="erik.johansson", text="Done")
    altium.faults.null_bom(MC)
    report = poller.poll_once()
    assert set(report.failures) == {MC} and "bom: null" in report.failures[MC]
    assert kinds_since(store, mark) == [(MC, "revision_committed", None),
                                        (MC, "thread_replied", 2)]
    assert len(store.load_bom(store.find_project(MC).id)) == 170
    clean = poller.poll_once()
    assert (clean.ok, clean.boms_read, clean.events) == (True, 1, 0)
    swap_u3(altium)
    poller.poll_once()
    assert part_events(store, mark) == [(MC, "part_replaced", "Default/U3")]
    assert poller.poll_once().boms_read == 0


def test_a_null_bom_beside_a_real_swap_reports_the_swap_once_at_the_next_poll(
        poller: Poller, store: Store, altium: AltiumSandbox) -> None:
    poller.poll_once()
    mark = last_id(store)
    swap_u3(altium)
    altium.faults.null_bom(MC, variant="Lite")
    assert set(poller.poll_once().failures) == {MC}
    assert part_events(store, mark) == []
    assert poller.poll_once().ok
    assert part_events(store, mark) == [(MC, "part_replaced", "Default/U3")]


def test_a_failing_design_read_still_saves_the_threads(
        poller: Poller, store: Store, altium: AltiumSandbox) -> None:
    poller.poll_once()
    mark = last_id(store)
    altium.faults.null_design(MC, times=None)
    swap_u3(altium)
    for text in ("First", "Second"):
        altium.reply(MC, 2, author="erik.johansson", text=text)
        report = poller.poll_once()
        assert set(report.failures) == {MC}
        assert report.failures[MC].startswith("design not read (threads saved; the BOM is "
                                              "read again next poll): ")
        assert "HC0018" in report.failures[MC]
    assert [k for _, k, _ in kinds_since(store, mark)] == ["thread_replied", "thread_replied"]
    altium.faults.clear()
    assert poller.poll_once().ok
    assert part_events(store, mark) == [(MC, "part_replaced", "Default/U3")]


def test_a_first_poll_without_the_design_is_a_baseline_all_the_same(
        poller: Poller, store: Store, altium: AltiumSandbox) -> None:
    altium.faults.null_bom(MC, times=None)
    report = poller.poll_once()
    assert set(report.failures) == {MC}
    assert [(s.event.project, s.event.kind) for s in store.events()] == [
        (IOT, "project_created"), (MC, "project_created")]
    mc = store.find_project(MC).id
    assert store.bom_pending(mc) == "unread"
    snapshot = store.load_snapshot(mc)
    assert snapshot is not None and snapshot.bom is None and len(snapshot.threads) == 5
    mark = last_id(store)
    altium.reply(MC, 2, author="erik.johansson", text="Done")
    assert set(poller.poll_once().failures) == {MC}
    assert kinds_since(store, mark) == [(MC, "thread_replied", 2)]
    altium.faults.clear()
    report = poller.poll_once()
    assert (report.ok, report.boms_read, report.events) == (True, 1, 0)
    assert store.bom_pending(mc) is None and len(store.load_bom(mc)) == 170
    swap_u3(altium)
    poller.poll_once()
    assert part_events(store, mark) == [(MC, "part_replaced", "Default/U3")]


def many_threads(altium: AltiumSandbox) -> int:
    for n in range(3):
        altium.open_thread(MC, author="bob.schmidt", text=f"Check {n}")
    return len(altium.project(MC).threads)


@pytest.mark.parametrize("empty_reads", [1, 2], ids=["second read differs", "second agrees"])
def test_an_empty_thread_list_after_many_threads_is_read_again(
        poller: Poller, store: Store, altium: AltiumSandbox, empty_reads: int) -> None:
    count = many_threads(altium)
    assert count > 5
    poller.poll_once()
    mark = last_id(store)
    altium.faults.empty_threads(MC, times=empty_reads)
    altium.reset_requests()
    report = poller.poll_once()
    assert report.ok
    # the fingerprint shows the loss, so the full read of that one project is the second read
    reads = thread_reads(altium)
    assert [r.operation_name for r in reads] == ["ThreadFingerprintsBatch", "CommentThreadsBatch"]
    assert reads[1].variables == {"p0": store.find_project(MC).id}
    deleted = [k for k in kinds_since(store, mark) if k[1] == "thread_deleted"]
    assert len(deleted) == (0 if empty_reads == 1 else count)


def thread_reads(altium: AltiumSandbox) -> list[RequestRecord]:
    return [r for r in altium.requests if "desCommentThreads" in r.fields]


@pytest.mark.parametrize("empty_reads", [1, 2], ids=["second read differs", "second agrees"])
def test_a_loss_no_fingerprint_showed_is_read_again(
        poller: Poller, store: Store, altium: AltiumSandbox, empty_reads: int) -> None:
    count = many_threads(altium)
    poller.poll_once()
    mark = last_id(store)
    altium.commit_revision(MC, message="Rev B", author="alice.nguyen")  # read in full at once
    altium.faults.empty_threads(MC, times=empty_reads)
    altium.reset_requests()
    assert poller.poll_once().ok
    mc = store.find_project(MC).id
    assert [(r.operation_name, r.variables.get("p0")) for r in thread_reads(altium)] == [
        ("ThreadFingerprintsBatch", store.find_project(IOT).id),
        ("CommentThreadsBatch", mc), ("CommentThreadsBatch", mc)]
    deleted = [k for k in kinds_since(store, mark) if k[1] == "thread_deleted"]
    assert len(deleted) == (0 if empty_reads == 1 else count)


def test_five_threads_gone_is_no_sudden_loss(
        poller: Poller, store: Store, altium: AltiumSandbox) -> None:
    poller.poll_once()
    mark = last_id(store)
    altium.faults.empty_threads(MC, times=2)  # the fingerprint and the full read
    altium.reset_requests()
    poller.poll_once()
    assert [r.operation_name for r in altium.requests].count("CommentThreadsBatch") == 1
    assert [k for _, k, _ in kinds_since(store, mark)] == ["thread_deleted"] * 5


@pytest.mark.parametrize("empty_reads", [1, 2], ids=["second read differs", "second agrees"])
def test_a_bom_that_lost_most_lines_is_read_again(
        poller: Poller, store: Store, altium: AltiumSandbox, empty_reads: int) -> None:
    poller.poll_once()
    mark = last_id(store)
    swap_u3(altium)
    altium.faults.empty_bom(MC, variant="Default", times=empty_reads)
    altium.reset_requests()
    assert poller.poll_once().ok
    designs = [r for r in altium.requests if r.operation_name in ("DesignsBatch", "Design")]
    assert len(designs) == 2
    parts = part_events(store, mark)
    if empty_reads == 1:
        assert parts == [(MC, "part_replaced", "Default/U3")]
    else:
        assert len(parts) == 85 and {k for _, k, _ in parts} == {"part_removed"}


def test_not_authorized_on_one_project_polls_the_others(
        poller: Poller, store: Store, altium: AltiumSandbox) -> None:
    poller.poll_once()
    mark = last_id(store)
    altium.faults.not_authorized(MC, times=None)
    altium.reply(IOT, 1, author="bob.schmidt", text="Checked")
    altium.commit_revision(MC, message="Rev B", author="alice.nguyen")
    report = poller.poll_once()
    assert set(report.failures) == {MC} and "AUTH_NOT_AUTHORIZED" in report.failures[MC]
    assert kinds_since(store, mark) == [(IOT, "thread_replied", 1)]
    altium.faults.clear()
    assert poller.poll_once().ok
    assert kinds_since(store, mark)[1:] == [(MC, "revision_committed", None)]


# --- several pollers on one database ---------------------------------------------------------


class MeddlingClock(FakeClock):
    """Runs ``meddle`` once, on its n-th reading: another process acting mid-poll."""

    def __init__(self, at_call: int, meddle: Callable[[], object]) -> None:
        super().__init__()
        self.calls, self.at_call, self.meddle = 0, at_call, meddle

    def __call__(self) -> datetime:
        self.calls += 1
        if self.calls == self.at_call:
            self.meddle()
        return super().__call__()


def change_keys(store: Store) -> Counter[tuple[object, ...]]:
    return Counter((s.event.kind, s.event.project_id, s.event.thread_id, s.event.comment_id,
                    s.event.variant, s.event.designator, s.event.revision_id)
                   for s in store.events())


@pytest.mark.parametrize("at_call", [3, 4], ids=["before both saves", "between the saves"])
def test_a_writer_that_saved_meanwhile_is_never_recorded_twice(
        client: NexarClient, store: Store, db_path: Path, altium: AltiumSandbox,
        at_call: int) -> None:
    """Without the lease two pollers may overlap: the one that read first and writes last
    finds the snapshot moved under its write lock and leaves the project to the next poll.
    (The clock is read when the catalog is listed, then once per project, just before its
    write.)"""
    follow(store, client, MC, IOT)
    Poller(client=client, store=store, clock=FakeClock(), lease=None).poll_once()
    mark = last_id(store)
    play_review_round(altium)
    altium.reply(IOT, 1, author="bob.schmidt", text="Checked")
    with Store.open(db_path) as elsewhere:
        other = Poller(client=client, store=elsewhere, clock=FakeClock(), lease=None)
        first = Poller(client=client, store=store, lease=None,
                       clock=MeddlingClock(at_call, other.poll_once))
        report = first.poll_once()
    assert report.ok and report.events == (0 if at_call == 3 else 1)
    assert len(kinds_since(store, mark)) == 11
    assert max(change_keys(store).values()) == 1
    assert poll_again(client, store).events == 0


def test_a_read_older_than_what_another_writer_saved_is_dropped(
        client: NexarClient, store: Store, db_path: Path, altium: AltiumSandbox) -> None:
    """The first poller read Nexar, then a reply came and another poller saved it: the
    first one's older read must not undo the reply (it would be reported again)."""
    follow(store, client, MC, IOT)
    Poller(client=client, store=store, clock=FakeClock(), lease=None).poll_once()
    mark = last_id(store)
    altium.reply(IOT, 1, author="bob.schmidt", text="Checked")
    with Store.open(db_path) as elsewhere:
        other = Poller(client=client, store=elsewhere, clock=FakeClock(), lease=None)

        def later_reply_saved_elsewhere() -> None:
            altium.reply(IOT, 1, author="carla.rossi", text="Later")
            other.poll_once()

        first = Poller(client=client, store=store, lease=None,
                       clock=MeddlingClock(3, later_reply_saved_elsewhere))
        assert first.poll_once().events == 0
    assert poll_again(client, store).events == 0
    assert kinds_since(store, mark) == [(IOT, "thread_replied", 1)] * 2
    assert max(change_keys(store).values()) == 1


def poll_again(client: NexarClient, store: Store) -> PollReport:
    return Poller(client=client, store=store, clock=FakeClock()).poll_once()


def test_a_second_poller_mid_poll_is_told_who_holds_the_lease_and_does_nothing(
        client: NexarClient, store: Store, db_path: Path, altium: AltiumSandbox) -> None:
    follow(store, client, MC, IOT)
    poll_again(client, store)
    mark = last_id(store)
    play_review_round(altium)
    seen: list[PollReport] = []
    with Store.open(db_path) as elsewhere:
        other = Poller(client=client, store=elsewhere, clock=FakeClock())
        first = Poller(client=client, store=store,
                       clock=MeddlingClock(4, lambda: seen.append(other.poll_once())))
        report = first.poll_once()
    assert report.ok and report.events == 10 and report.held_by is None
    assert len(seen) == 1 and seen[0].held_by is not None
    assert (seen[0].held_by.pid, seen[0].events, seen[0].requests) == (os.getpid(), 0, 0)
    assert seen[0].health_line() == ("poll: skipped, another poller holds this database: "
                                     f"{seen[0].held_by.describe()}")
    assert len(kinds_since(store, mark)) == 10
    assert store.rows("select * from leases") == [], "the lease is given back after the poll"


def test_a_poll_whose_lease_was_taken_over_stops_before_its_next_write(
        client: NexarClient, store: Store, db_path: Path, altium: AltiumSandbox) -> None:
    follow(store, client, MC, IOT)
    poll_again(client, store)
    mark = last_id(store)
    play_review_round(altium)
    altium.reply(IOT, 1, author="bob.schmidt", text="Checked")
    policy = LeasePolicy(period=10)
    with Store.open(db_path) as elsewhere:
        def stall_then_lose_it() -> None:
            clock.advance(seconds=31)  # frozen past the lease: another poller takes it
            assert taker.acquire() is None

        clock = MeddlingClock(4, stall_then_lose_it)
        taker = Lease(elsewhere, clock=clock, timeout=policy.timeout, pid=4242, host="other")
        report = Poller(client=client, store=store, lease=policy, clock=clock).poll_once()
        holder = taker.holder()
    assert set(report.failures) == {"poller lease"}
    assert "another poller took over (pid 4242 on other since" in report.failures["poller lease"]
    assert kinds_since(store, mark) == [], "nothing is written once the lease is lost"
    assert holder is not None and holder.pid == 4242, "the new holder keeps it"


def test_a_poll_collects_garbage_less_often_and_puts_the_threshold_back(
        client: NexarClient, store: Store, clock: FakeClock) -> None:
    follow(store, client, MC)
    during: list[int] = []

    def watching() -> datetime:
        during.append(gc.get_threshold()[0])
        return clock()

    before = gc.get_threshold()
    assert before[0] < GC_FIRST_THRESHOLD
    report = Poller(client=client, store=store, clock=watching).poll_once()
    assert report.boms_read == 1
    assert GC_FIRST_THRESHOLD in during
    assert gc.get_threshold() == before
