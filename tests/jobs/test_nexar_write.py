"""Comments written through the Nexar client into the local Altium 365 over real HTTP.

A write must land at most once per call: the client resends it only when Nexar cannot have
run it, and says "unknown outcome" otherwise, so the caller reads the thread first.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

import pytest
from graphql import build_schema, parse, validate

from jobs.errors import (
    NexarError,
    NexarUnavailableError,
    NexarUnknownOutcomeError,
    NexarWriteError,
)
from jobs.nexar import NexarClient, RetryPolicy, Workspace, thread_query
from jobs.poll import Poller, refresh_catalog
from sandbox import AltiumSandbox
from sandbox.altium.resolvers import default_schema_path
from state.model import Thread
from state.store import Store
from tests.conftest import FakeClock

MC = "Motor Controller"
ALICE = "Alice Nguyen"


def acme(client: NexarClient, altium: AltiumSandbox) -> Workspace:
    [workspace] = [w for w in client.workspaces() if w.url == altium.workspace_url]
    return workspace


def ids(altium: AltiumSandbox, number: int = 2) -> tuple[str, str]:
    """The node id of the Motor Controller and the commentThreadId of its thread ``number``."""
    project = altium.project(MC)
    return project.id, project.thread(number).comment_thread_id


def texts(altium: AltiumSandbox, number: int = 2) -> list[str]:
    return [c.text for c in altium.project(MC).thread(number).comments]


def mutations(altium: AltiumSandbox) -> list[tuple[int, str | None]]:
    """(status, fault) of every comment write the local Altium received (an HTTP fault is
    answered before the body is read, so it counts as one)."""
    return [(r.status, r.fault) for r in altium.requests
            if {"desCreateComment", "desUpdateComment"} & set(r.fields)
            or r.fault == "http_error"]


def read(client: NexarClient, workspace: Workspace, altium: AltiumSandbox,
         number: int = 2) -> Thread:
    project_id, thread_id = ids(altium, number)
    thread = client.comment_thread(workspace, project_id, thread_id)
    assert thread is not None
    return thread


def test_the_thread_query_is_valid_against_the_nexar_schema() -> None:
    schema = build_schema(default_schema_path().read_text(encoding="utf-8"))
    assert validate(schema, parse(thread_query())) == []


def test_a_comment_is_created_as_the_signed_in_user_and_read_back(
        client: NexarClient, altium: AltiumSandbox) -> None:
    workspace = acme(client, altium)
    project_id, thread_id = ids(altium)
    altium.reset_requests()
    comment_id = client.create_comment(workspace, project_id=project_id, thread_id=thread_id,
                                       text="Moved C12 closer & re-routed")
    [record] = altium.requests
    assert (record.operation_name, record.fields) == ("CreateComment", ("desCreateComment",))
    thread = read(client, workspace, altium)
    comment = thread.comments[-1]
    assert (comment.comment_id, comment.text) == (comment_id, "Moved C12 closer & re-routed")
    assert comment.author is not None and comment.author.name == ALICE
    assert comment.created_at == comment.modified_at == thread.modified_at
    batch = client.comment_threads(workspace, [project_id])[project_id]
    assert isinstance(batch, list)
    [same] = [t for t in batch if t.thread_id == thread_id]
    assert same == thread


def test_the_next_poll_records_the_new_comment(
        client: NexarClient, altium: AltiumSandbox, store: Store, clock: FakeClock) -> None:
    refresh_catalog(client, store)
    store.subscribe(store.find_project(MC), "#hw-review", ["comments"],
                    at="2026-11-28T08:00:00.000Z")
    poller = Poller(client=client, store=store, clock=clock)
    poller.poll_once()
    mark = store.events()[-1].id
    workspace = acme(client, altium)
    project_id, thread_id = ids(altium)
    comment_id = client.create_comment(workspace, project_id=project_id, thread_id=thread_id,
                                       text="Done from the review channel")
    poller.poll_once()
    [seen] = [s.event for s in store.events(after_id=mark)]
    assert (seen.kind, seen.thread_number, seen.comment_id, seen.text, seen.author) == (
        "thread_replied", 2, comment_id, "Done from the review channel", ALICE)


def test_an_update_replaces_the_text_and_moves_modified_at(
        client: NexarClient, altium: AltiumSandbox) -> None:
    workspace = acme(client, altium)
    project_id, thread_id = ids(altium)
    comment_id = client.create_comment(workspace, project_id=project_id, thread_id=thread_id,
                                       text="First words")
    before = read(client, workspace, altium).comments[-1]
    client.update_comment(workspace, project_id=project_id, thread_id=thread_id,
                          comment_id=comment_id, text="Better words")
    after = read(client, workspace, altium).comments[-1]
    assert (after.comment_id, after.text) == (comment_id, "Better words")
    assert after.created_at == before.created_at
    assert after.modified_at > before.modified_at


def test_a_deleted_thread_is_a_write_error_with_nexars_message(
        client: NexarClient, altium: AltiumSandbox) -> None:
    workspace = acme(client, altium)
    project_id, thread_id = ids(altium)
    altium.delete_thread(MC, 2)
    with pytest.raises(NexarWriteError, match="was not found") as caught:
        client.create_comment(workspace, project_id=project_id, thread_id=thread_id,
                              text="Too late")
    assert caught.value.messages == (f"The comment thread `{thread_id}` was not found.",)
    assert caught.value.request_id and caught.value.request_id in str(caught.value)
    assert client.comment_thread(workspace, project_id, thread_id) is None


def test_only_the_author_may_update_a_comment(
        client: NexarClient, altium: AltiumSandbox) -> None:
    workspace = acme(client, altium)
    project_id, thread_id = ids(altium)
    theirs = altium.project(MC).thread(2).comments[0]
    assert theirs.created_by.user_name != "alice.nguyen"
    with pytest.raises(NexarWriteError, match="Only the author"):
        client.update_comment(workspace, project_id=project_id, thread_id=thread_id,
                              comment_id=theirs.comment_id, text="Rewritten")
    assert altium.project(MC).thread(2).comments[0].text == theirs.text


def test_the_thread_must_be_in_the_project_named(client: NexarClient,
                                                 altium: AltiumSandbox) -> None:
    workspace = acme(client, altium)
    _, thread_id = ids(altium)
    with pytest.raises(NexarWriteError, match="The project was not found"):
        client.create_comment(workspace, project_id="RGVzUHJvamVjdDpub25l", thread_id=thread_id,
                              text="No such project")
    with pytest.raises(NexarWriteError, match=f"thread `{thread_id}` was not found"):
        client.create_comment(workspace, project_id=altium.project("Audio Amplifier").id,
                              thread_id=thread_id, text="Wrong project")
    assert "Wrong project" not in texts(altium)


def test_a_lost_answer_is_an_unknown_outcome_and_the_comment_is_found_by_reading(
        client: NexarClient, altium: AltiumSandbox, sleeps: list[float]) -> None:
    workspace = acme(client, altium)
    project_id, thread_id = ids(altium)
    altium.faults.lose_answer()
    altium.reset_requests()
    with pytest.raises(NexarUnknownOutcomeError, match="CreateComment was lost"):
        client.create_comment(workspace, project_id=project_id, thread_id=thread_id,
                              text="Reply from Slack (link 1234)")
    assert mutations(altium) == [(0, "lost_answer")]
    assert sleeps == []
    landed = [c for c in read(client, workspace, altium).comments
              if "(link 1234)" in c.text]
    assert len(landed) == 1 and landed[0].author is not None
    assert landed[0].author.name == ALICE


def test_an_answer_held_after_the_write_reaches_the_client_once_released(
        client: NexarClient, altium: AltiumSandbox, sleeps: list[float]) -> None:
    workspace = acme(client, altium)
    project_id, thread_id = ids(altium)
    altium.faults.hold_answer()
    altium.reset_requests()
    answers: list[str] = []
    writer = threading.Thread(target=lambda: answers.append(client.create_comment(
        workspace, project_id=project_id, thread_id=thread_id, text="Answered late")),
        daemon=True)
    writer.start()
    assert altium.faults.wait_held(timeout=5)
    [written] = [c for c in altium.project(MC).thread(2).comments if c.text == "Answered late"]
    assert answers == []
    assert altium.faults.release_answer() == 1
    writer.join(timeout=5)
    assert answers == [written.comment_id]
    assert mutations(altium) == [(200, "held_answer")]
    assert sleeps == []


def test_a_timeout_after_sending_is_an_unknown_outcome_and_not_resent(
        altium: AltiumSandbox) -> None:
    waits: list[float] = []
    with NexarClient(token=altium.token, api_url=altium.api_url, timeout=0.3,
                     retry=RetryPolicy(attempts=3), sleep=waits.append) as client:
        workspace = acme(client, altium)
        project_id, thread_id = ids(altium)
        altium.faults.latency(0.6)
        altium.reset_requests()
        with pytest.raises(NexarUnknownOutcomeError, match="timed out"):
            client.create_comment(workspace, project_id=project_id, thread_id=thread_id,
                                  text="Slow reply")
        altium.faults.latency(0)
        assert waits == []
        wait_for(lambda: "Slow reply" in texts(altium) and bool(mutations(altium)))
        assert texts(altium).count("Slow reply") == 1
        assert len(mutations(altium)) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_turned_away_before_running_is_retried_and_lands_once(
        client: NexarClient, altium: AltiumSandbox, sleeps: list[float], status: int) -> None:
    workspace = acme(client, altium)
    project_id, thread_id = ids(altium)
    altium.faults.http_error(status, times=1, retry_after=2)
    altium.reset_requests()
    client.create_comment(workspace, project_id=project_id, thread_id=thread_id,
                          text="Retried reply")
    assert mutations(altium) == [(status, "http_error"), (200, None)]
    assert sleeps == [2.0]
    assert texts(altium).count("Retried reply") == 1


def test_turned_away_every_time_is_unavailable_and_writes_nothing(
        client: NexarClient, altium: AltiumSandbox, sleeps: list[float]) -> None:
    workspace = acme(client, altium)
    project_id, thread_id = ids(altium)
    altium.faults.http_error(503, times=None)
    with pytest.raises(NexarUnavailableError, match="after 3 attempts"):
        client.create_comment(workspace, project_id=project_id, thread_id=thread_id,
                              text="Never")
    assert len(sleeps) == 2
    assert "Never" not in texts(altium)


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_bare_5xx_that_may_follow_the_write_is_not_resent(
        client: NexarClient, altium: AltiumSandbox, sleeps: list[float], status: int) -> None:
    workspace = acme(client, altium)
    project_id, thread_id = ids(altium)
    altium.faults.http_error(status, times=1)
    altium.reset_requests()
    with pytest.raises(NexarUnknownOutcomeError, match=f"HTTP {status}"):
        client.create_comment(workspace, project_id=project_id, thread_id=thread_id,
                              text="Maybe")
    assert len(mutations(altium)) == 1 and sleeps == []


def test_an_unreachable_nexar_is_retried_and_unavailable(sleeps: list[float]) -> None:
    with NexarClient(token="t", api_url="http://127.0.0.1:9/graphql", sleep=sleeps.append,
                     retry=RetryPolicy(attempts=2)) as client:
        workspace = Workspace(url="https://x.365.altium.com", name="X",
                              api_url="http://127.0.0.1:9/graphql", region="EU")
        with pytest.raises(NexarUnavailableError, match="could not reach"):
            client.create_comment(workspace, project_id="p", thread_id="t", text="x")
    assert len(sleeps) == 1


class Refreshing:
    """A token source that gets a fresh token from the local Altium when told it expired."""

    def __init__(self, altium: AltiumSandbox) -> None:
        self.altium = altium
        self.current = altium.make_token()
        self.refreshed = 0

    def token(self) -> str:
        return self.current

    def refresh(self, stale: str) -> str | None:
        self.refreshed += 1
        self.current = self.altium.make_token()
        return self.current


def test_an_expired_token_is_refreshed_and_the_write_lands_once(altium: AltiumSandbox) -> None:
    source = Refreshing(altium)
    with NexarClient(token=source, api_url=altium.api_url, sleep=lambda _: None) as client:
        workspace = acme(client, altium)
        project_id, thread_id = ids(altium)
        altium.expire_token(source.current)
        altium.reset_requests()
        client.create_comment(workspace, project_id=project_id, thread_id=thread_id,
                              text="After sign-in refresh")
    assert source.refreshed == 1
    assert [status for status, _ in mutations(altium)] == [200, 200]
    assert texts(altium).count("After sign-in refresh") == 1


FAULTS: dict[str, Callable[[AltiumSandbox], None]] = {
    "lost answer": lambda a: a.faults.lose_answer(),
    "dropped before running": lambda a: a.faults.drop_connection(),
    "rate limited twice": lambda a: a.faults.http_error(429, times=2),
    "503 then 500": lambda a: (a.faults.http_error(503, times=1),
                               a.faults.http_error(500, times=1)),
    "graphql error": lambda a: a.faults.graphql_error(),
    "everything down": lambda a: a.faults.http_error(503, times=None),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_no_fault_makes_the_client_write_twice(
        client: NexarClient, altium: AltiumSandbox, fault: str) -> None:
    workspace = acme(client, altium)
    project_id, thread_id = ids(altium)
    FAULTS[fault](altium)
    with contextlib.suppress(NexarError):
        client.create_comment(workspace, project_id=project_id, thread_id=thread_id,
                              text="Exactly once")
    assert texts(altium).count("Exactly once") <= 1
    assert [s for s, _ in mutations(altium)].count(200) <= 1
    lost = [f for _, f in mutations(altium) if f in ("lost_answer", "drop_connection")]
    assert len(lost) + [s for s, _ in mutations(altium)].count(200) <= 1


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
