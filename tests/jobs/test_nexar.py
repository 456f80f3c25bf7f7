"""The Nexar client against the sandbox over real HTTP: discovery, paging, batching, faults."""

from __future__ import annotations

import pytest

from jobs.errors import NexarAuthError, NexarQueryError, NexarUnavailableError
from jobs.nexar import NexarClient, RetryPolicy, Workspace
from sandbox import AltiumSandbox


def acme(client: NexarClient, altium: AltiumSandbox) -> Workspace:
    [workspace] = [w for w in client.workspaces() if w.url == altium.workspace_url]
    return workspace


def test_discovery_lists_workspaces_with_regional_endpoints(
        client: NexarClient, altium: AltiumSandbox) -> None:
    found = client.workspaces()
    assert len(found) >= 2
    assert all(w.api_url != altium.api_url and w.api_url.endswith("/graphql") for w in found)
    assert len({w.region for w in found}) >= 2


def test_one_workspace_only(altium: AltiumSandbox) -> None:
    with NexarClient(token=altium.token, api_url=altium.api_url,
                     workspace_url=altium.workspace_url + "/") as client:
        assert [w.url for w in client.workspaces()] == [altium.workspace_url]
    with NexarClient(token=altium.token, api_url=altium.api_url,
                     workspace_url="https://nope.365.altium.com") as client, \
            pytest.raises(NexarQueryError, match="NEXAR_WORKSPACE_URL"):
        client.workspaces()


@pytest.mark.parametrize("page_size", [2, 100], ids=["paged", "single page"])
def test_projects_are_read_to_the_end(altium: AltiumSandbox, page_size: int) -> None:
    with NexarClient(token=altium.token, api_url=altium.api_url,
                     page_size=page_size) as client:
        workspace = acme(client, altium)
        altium.reset_requests()
        projects = client.projects(workspace)
    expected = sorted(p.name for p in altium.projects(altium.workspace_url))
    assert sorted(p.name for p in projects) == expected
    assert len({p.id for p in projects}) == len(projects)
    pages = -(-len(expected) // page_size)
    assert altium.request_count == pages
    assert {r.path for r in altium.requests} == {"/" + workspace.api_url.split("/", 3)[3]}


def test_workspace_queries_go_to_the_regional_endpoint(
        client: NexarClient, altium: AltiumSandbox) -> None:
    workspace = acme(client, altium)
    client.projects(workspace)
    wrong = Workspace(url=workspace.url, name=workspace.name, api_url=altium.api_url,
                      region=workspace.region)
    with pytest.raises(NexarAuthError, match="not authorized"):
        client.projects(wrong)


def test_comment_threads_of_many_projects_in_one_request(
        client: NexarClient, altium: AltiumSandbox) -> None:
    workspace = acme(client, altium)
    projects = client.projects(workspace)
    altium.reset_requests()
    threads = client.comment_threads(workspace, [p.id for p in projects])
    assert altium.request_count == 1
    for p in projects:
        got = threads[p.id]
        assert isinstance(got, list)
        assert sorted(t.number for t in got) == sorted(
            t.thread_number for t in altium.project(p.name).threads)


@pytest.mark.parametrize("page_size", [7, 100], ids=["paged", "single page"])
def test_design_reads_every_bom_line(altium: AltiumSandbox, page_size: int) -> None:
    with NexarClient(token=altium.token, api_url=altium.api_url,
                     page_size=page_size) as client:
        workspace = acme(client, altium)
        by_name = {p.name: p for p in client.projects(workspace)}
        name = "Motor Controller"
        design = client.design(workspace, by_name[name].id)
    expected = {(v.name, d) for v in altium.project(name).variants
                for d in v.designators()}
    assert set(design.bom) == expected
    assert any(name.endswith(".PcbDoc") for name in design.documents.values())
    assert any(name.endswith(".SchDoc") for name in design.documents.values())


def test_a_500_is_retried(client: NexarClient, altium: AltiumSandbox,
                          sleeps: list[float]) -> None:
    workspace = acme(client, altium)
    altium.faults.http_error(status=500, times=2)
    assert client.projects(workspace)
    assert sleeps == [0.5, 1.0]


def test_a_429_waits_for_retry_after(client: NexarClient, altium: AltiumSandbox,
                                     sleeps: list[float]) -> None:
    workspace = acme(client, altium)
    altium.faults.http_error(status=429, times=1, retry_after=7)
    assert client.projects(workspace)
    assert sleeps == [7.0]


def test_retries_are_bounded(client: NexarClient, altium: AltiumSandbox,
                             sleeps: list[float]) -> None:
    workspace = acme(client, altium)
    altium.faults.http_error(status=503, times=10)
    with pytest.raises(NexarUnavailableError, match=r"HTTP 503.*after 3 attempts"):
        client.projects(workspace)
    assert len(sleeps) == 2


def test_a_dropped_connection_is_retried(client: NexarClient, altium: AltiumSandbox,
                                         sleeps: list[float]) -> None:
    workspace = acme(client, altium)
    altium.faults.drop_connection(times=1)
    assert client.projects(workspace)
    assert len(sleeps) == 1


def test_a_slow_answer_times_out(altium: AltiumSandbox) -> None:
    waits: list[float] = []
    with NexarClient(token=altium.token, api_url=altium.api_url, timeout=0.2,
                     retry=RetryPolicy(attempts=2), sleep=waits.append) as client:
        altium.faults.latency(0.5)
        with pytest.raises(NexarUnavailableError, match="timed out"):
            client.workspaces()
    assert waits == [0.5]


def test_errors_beside_data_fail_the_fetch(client: NexarClient, altium: AltiumSandbox) -> None:
    workspace = acme(client, altium)
    projects = {p.name: p for p in client.projects(workspace)}
    altium.faults.graphql_error(project="Motor Controller", times=None)
    with pytest.raises(NexarQueryError, match="Nexar query failed"):
        client.design(workspace, projects["Motor Controller"].id)


def test_one_failing_project_does_not_fail_its_batch(
        client: NexarClient, altium: AltiumSandbox) -> None:
    workspace = acme(client, altium)
    projects = client.projects(workspace)
    altium.faults.graphql_error(project="Motor Controller", times=None)
    threads = client.comment_threads(workspace, [p.id for p in projects])
    failed = {p.name for p in projects if isinstance(threads[p.id], Exception)}
    assert failed == {"Motor Controller"}


def test_a_500_for_one_project_fails_only_that_project(
        client: NexarClient, altium: AltiumSandbox) -> None:
    workspace = acme(client, altium)
    projects = client.projects(workspace)
    altium.faults.http_error(status=500, times=None, project="Motor Controller")
    threads = client.comment_threads(workspace, [p.id for p in projects])
    failed = {p.name for p in projects if isinstance(threads[p.id], Exception)}
    assert failed == {"Motor Controller"}


def test_expired_token(client: NexarClient, altium: AltiumSandbox) -> None:
    altium.expire_token()
    with pytest.raises(NexarAuthError, match="expired") as caught:
        client.workspaces()
    assert altium.token not in str(caught.value)


def test_invalid_token(altium: AltiumSandbox) -> None:
    with NexarClient(token="not-a-token", api_url=altium.api_url) as client, \
            pytest.raises(NexarAuthError, match="invalid"):
        client.workspaces()


def test_missing_token_is_refused_before_any_request() -> None:
    with pytest.raises(NexarAuthError, match="NEXAR_TOKEN"):
        NexarClient(token="", api_url="http://127.0.0.1:9/graphql")


def test_unreachable_nexar(sleeps: list[float]) -> None:
    with NexarClient(token="t", api_url="http://127.0.0.1:9/graphql", sleep=sleeps.append,
                     retry=RetryPolicy(attempts=2)) as client, \
            pytest.raises(NexarUnavailableError, match=r"could not reach 127\.0\.0\.1"):
        client.workspaces()


# --- Odd answers: each one is a failed read of that project, never empty data or a dead sign-in


def by_name(client: NexarClient, altium: AltiumSandbox) -> tuple[Workspace, dict[str, str]]:
    workspace = acme(client, altium)
    return workspace, {p.name: p.id for p in client.projects(workspace)}


def test_every_request_asks_for_application_json(
        client: NexarClient, altium: AltiumSandbox) -> None:
    workspace, ids = by_name(client, altium)
    client.comment_threads(workspace, list(ids.values()))
    client.design(workspace, ids["Motor Controller"])
    assert {r.accept for r in altium.requests} == {"application/json"}
    assert {r.content_type for r in altium.requests} == {"application/json; charset=utf-8"}


@pytest.mark.parametrize("variant", [None, "Lite"])
def test_a_null_bom_is_a_failed_read(client: NexarClient, altium: AltiumSandbox,
                                     variant: str | None) -> None:
    workspace, ids = by_name(client, altium)
    altium.faults.null_bom("Motor Controller", variant=variant)
    with pytest.raises(NexarQueryError, match=r"without its BOM \(bom: null\)"):
        client.design(workspace, ids["Motor Controller"])
    assert len(client.design(workspace, ids["Motor Controller"]).bom) == 170


def test_a_null_bom_while_paging_is_a_failed_read(altium: AltiumSandbox) -> None:
    with NexarClient(token=altium.token, api_url=altium.api_url, page_size=10) as client:
        workspace, ids = by_name(client, altium)
        altium.reset_requests()
        altium.faults.null_bom("Motor Controller", variant="Lite", times=None)
        with pytest.raises(NexarQueryError, match="'Lite' without its BOM"):
            client.design(workspace, ids["Motor Controller"])
        assert [r.operation_name for r in altium.requests][:2] == ["Design", "BomPage"]


def test_a_null_design_is_a_failed_read(client: NexarClient, altium: AltiumSandbox) -> None:
    workspace, ids = by_name(client, altium)
    altium.faults.null_design("Motor Controller")
    with pytest.raises(NexarQueryError, match="HC0018"):
        client.design(workspace, ids["Motor Controller"])
    altium.faults.null_design("Motor Controller")
    with pytest.raises(NexarQueryError, match="HC0018"):
        client.nets(workspace, ids["Motor Controller"])


def test_not_authorized_on_one_project_fails_only_that_project(
        client: NexarClient, altium: AltiumSandbox, sleeps: list[float]) -> None:
    workspace, ids = by_name(client, altium)
    altium.faults.not_authorized("Motor Controller", times=None)
    threads = client.comment_threads(workspace, list(ids.values()))
    failed = {name for name, pid in ids.items() if isinstance(threads[pid], Exception)}
    assert failed == {"Motor Controller"}
    assert "AUTH_NOT_AUTHORIZED" in str(threads[ids["Motor Controller"]])
    assert not isinstance(threads[ids["Motor Controller"]], NexarAuthError)
    with pytest.raises(NexarQueryError, match="AUTH_NOT_AUTHORIZED") as caught:
        client.design(workspace, ids["Motor Controller"])
    assert not isinstance(caught.value, NexarAuthError)
    assert client.design(workspace, ids["IoT Sensor Node"]).bom
    assert sleeps == []


def test_not_authorized_without_a_project_path_is_the_sign_in(
        client: NexarClient, altium: AltiumSandbox) -> None:
    altium.faults.graphql_error(code="AUTH_NOT_AUTHORIZED", message="Not authorized")
    with pytest.raises(NexarAuthError, match="not authorized"):
        client.workspaces()
    workspace = acme(client, altium)
    altium.faults.graphql_error(code="AUTH_NOT_AUTHORIZED", message="Not authorized")
    with pytest.raises(NexarAuthError, match="not authorized"):
        client.projects(workspace)


# --- A HotChocolate 13+ gateway answering application/graphql-response+json ----------------


def test_a_validation_error_on_400_is_a_query_error_not_retried(
        client: NexarClient, altium: AltiumSandbox, sleeps: list[float]) -> None:
    altium.faults.graphql_response()
    response = client.execute(altium.api_url, "query Broken { desUserByAuth { nope } }")
    assert response.data is None
    assert "GRAPHQL_VALIDATION_FAILED" in response.error_text()
    assert [r.status for r in altium.requests] == [400]
    assert sleeps == []


def test_null_data_on_500_is_decided_by_its_error_codes(
        client: NexarClient, altium: AltiumSandbox, sleeps: list[float]) -> None:
    workspace, ids = by_name(client, altium)
    altium.faults.graphql_response()
    altium.faults.graphql_error(project="Motor Controller", times=None)
    altium.reset_requests()
    threads = client.comment_threads(workspace, list(ids.values()))
    failed = {name for name, pid in ids.items() if isinstance(threads[pid], Exception)}
    assert failed == {"Motor Controller"}
    assert [r.status for r in altium.requests] == [500, 200]
    assert sleeps == []


def test_a_5xx_without_a_graphql_result_is_unavailable_and_retried(
        client: NexarClient, altium: AltiumSandbox, sleeps: list[float]) -> None:
    altium.faults.http_error(status=502, times=None)
    with pytest.raises(NexarUnavailableError, match="HTTP 502"):
        client.workspaces()
    assert len(sleeps) == 2
