"""The Altium 365 sandbox over real HTTP: endpoints, auth, paging, BOMs, activities, faults.

Every query sent is first validated against the real Nexar schema, so what passes here is a
query the real API accepts.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    Undefined,
    get_named_type,
    is_leaf_type,
    parse,
    validate,
)

from sandbox import AltiumSandbox
from sandbox.altium import generated_workspace
from tests.conftest import FakeClock

START = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

PROJECTS = """
query Projects($url: String!, $first: Int, $after: String, $where: DesProjectFilterInput) {
  desProjects(workspaceUrl: $url, first: $first, after: $after, where: $where) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name } }
    nodes { id projectId name updatedAt latestRevision { revisionId message author createdAt } }
  }
}
"""

BOM_PAGE = """
query Bom($id: ID!, $variant: String!, $first: Int!, $after: String) {
  desProjectById(id: $id) {
    updatedAt
    design {
      variants(where: { name: { eq: $variant } }) {
        name
        bom {
          items(first: $first, after: $after) {
            totalCount
            pageInfo { hasNextPage endCursor }
            nodes {
              quantity
              component { id name manufacturerParts { companyName partNumber priority } }
              bomItemInstances { designator isFitted alternateComponent { id name } }
            }
          }
        }
      }
    }
  }
}
"""

THREADS = """
query Threads($id: ID!) {
  desCommentThreads(projectId: $id) {
    commentThreadId threadNumber status createdAt modifiedAt
    createdBy { userName } modifiedBy { userName } assignedTo { userName }
    context { documentId objectId area { pos1 { x y } pos2 { x y } } }
    comments {
      commentId text createdAt modifiedAt createdBy { userName } mentions { user { userName } }
    }
  }
}
"""

PROJECT_STATE = """
query State($id: ID!) {
  desProjectById(id: $id) { updatedAt latestRevision { revisionId message author createdAt } }
}
"""






@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """A plain HTTP client asking for the classic ``application/json`` answer, as the bot does."""
    with httpx.Client(timeout=10, headers={"Accept": "application/json"}) as http:
        yield http


def post(
    client: httpx.Client,
    sb: AltiumSandbox,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    url: str | None = None,
    token: str | None = None,
) -> httpx.Response:
    """POST a query that must validate against the real schema."""
    errors = validate(sb.schema, parse(query))
    assert not errors, errors
    headers = {"Authorization": f"Bearer {token or sb.token}"}
    return client.post(
        url or sb.regional_url, json={"query": query, "variables": variables or {}}, headers=headers
    )


def gql(
    client: httpx.Client,
    sb: AltiumSandbox,
    query: str,
    variables: dict[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """The ``data`` of a query that must succeed."""
    response = post(client, sb, query, variables, **kwargs)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body["errors"]
    assert re.fullmatch(r"[0-9a-f-]{36}", body["extensions"]["requestId"])
    data: dict[str, Any] = body["data"]
    return data


def cursor(index: int) -> str:
    return base64.b64encode(str(index).encode()).decode()


def threads_of(client: httpx.Client, sb: AltiumSandbox, project: str) -> list[dict[str, Any]]:
    data = gql(client, sb, THREADS, {"id": sb.project(project).id})
    threads: list[dict[str, Any]] = data["desCommentThreads"]
    return threads


def project_state(client: httpx.Client, sb: AltiumSandbox, project: str) -> dict[str, Any]:
    state: dict[str, Any] = gql(client, sb, PROJECT_STATE, {"id": sb.project(project).id})[
        "desProjectById"
    ]
    return state


def bom_of(
    client: httpx.Client, sb: AltiumSandbox, project: str, variant: str = "Default", page: int = 7
) -> list[dict[str, Any]]:
    """Every BOM item of a variant, read page by page."""
    items: list[dict[str, Any]] = []
    after = None
    while True:
        data = gql(
            client,
            sb,
            BOM_PAGE,
            {"id": sb.project(project).id, "variant": variant, "first": page, "after": after},
        )
        connection = data["desProjectById"]["design"]["variants"][0]["bom"]["items"]
        items += connection["nodes"]
        if not connection["pageInfo"]["hasNextPage"]:
            assert len(items) == connection["totalCount"]
            return items
        after = connection["pageInfo"]["endCursor"]


def designators(items: list[dict[str, Any]]) -> dict[str, tuple[str, bool]]:
    return {
        instance["designator"]: (
            item["component"]["manufacturerParts"][0]["partNumber"],
            instance["isFitted"],
        )
        for item in items
        for instance in item["bomItemInstances"]
    }


# --- Endpoints and auth --------------------------------------------------------------------


def test_discovery_lists_workspaces_with_regional_endpoints(
    sb: AltiumSandbox, client: httpx.Client
) -> None:
    data = gql(
        client,
        sb,
        """{
      desWorkspaceInfos { workspaceId name url authId description isDefault
                          location { name apiServiceUrl filesServiceUrl } }
      desUserByAuth { userId userName email firstName lastName }
    }""",
        url=sb.api_url,
    )
    infos = {info["name"]: info for info in data["desWorkspaceInfos"]}
    assert set(infos) == {"Acme Robotics", "Acme Labs"}
    robotics = infos["Acme Robotics"]
    assert robotics["url"] == "https://acme-robotics.365.altium.com" == sb.workspace_url
    assert robotics["isDefault"] is True
    assert robotics["location"]["apiServiceUrl"] == f"{sb.base_url}/eu-central/graphql"
    assert infos["Acme Labs"]["location"]["apiServiceUrl"] == f"{sb.base_url}/us-east/graphql"
    assert data["desUserByAuth"]["email"] == "alice.nguyen@acme-robotics.example"
    count_query = f'{{ desProjects(workspaceUrl: "{robotics["url"]}") {{ totalCount }} }}'
    regional = gql(client, sb, count_query, url=robotics["location"]["apiServiceUrl"])
    assert regional["desProjects"]["totalCount"] == 6


def test_discovery_refuses_workspace_scoped_fields(sb: AltiumSandbox, client: httpx.Client) -> None:
    query = """query($id: ID!) {
      desWorkspaceInfos { name }
      desProjectById(id: $id) { name }
      desCommentThreads(projectId: $id) { threadNumber }
    }"""
    body = post(client, sb, query, {"id": sb.project("Motor Controller").id}, url=sb.api_url).json()
    assert body["data"] is None
    assert {error["message"] for error in body["errors"]} == {"Token validation failed"}
    assert {error["extensions"]["code"] for error in body["errors"]} == {"AUTH_NOT_AUTHORIZED"}
    assert ["desProjectById"] in [error["path"] for error in body["errors"]]
    count_query = f'{{ desProjects(workspaceUrl: "{sb.workspace_url}") {{ totalCount }} }}'
    nullable = post(client, sb, count_query, url=sb.api_url).json()
    assert nullable["data"] == {"desProjects": None}
    assert nullable["errors"][0]["path"] == ["desProjects"]


def test_regional_endpoint_serves_only_its_region(sb: AltiumSandbox, client: httpx.Client) -> None:
    labs = sb.project("Lab Power Supply")
    query = "query($id: ID!) { desProjectById(id: $id) { name workspaceUrl } }"
    assert gql(client, sb, query, {"id": labs.id})["desProjectById"] is None
    us_east = sb.endpoint("Acme Labs")
    assert us_east.endswith("/us-east/graphql")
    found = gql(client, sb, query, {"id": labs.id}, url=us_east)["desProjectById"]
    assert found == {"name": "Lab Power Supply", "workspaceUrl": "https://acme-labs.365.altium.com"}
    body = post(
        client,
        sb,
        '{ desProjects(workspaceUrl: "https://acme-labs.365.altium.com") { totalCount } }',
    ).json()
    assert body["data"]["desProjects"] is None
    assert body["errors"][0]["extensions"]["code"] == "WORKSPACE_NOT_FOUND"
    assert (
        client.post(f"{sb.base_url}/mars/graphql", json={"query": "{ __typename }"}).status_code
        == 404
    )


def test_token_problems_are_graphql_errors(sb: AltiumSandbox, client: httpx.Client) -> None:
    query = "{ desUserByAuth { userName } }"

    def code(token: str | None) -> str:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = client.post(sb.api_url, json={"query": query}, headers=headers)
        assert response.status_code == 200
        body = response.json()
        assert body["data"] is None and len(body["errors"]) == 1
        result: str = body["errors"][0]["extensions"]["code"]
        return result

    assert code(None) == "AuthInvalidToken"
    assert code("not-a-token") == "AuthInvalidToken"
    sb.expire_token()
    assert code(sb.token) == "AuthExpiredToken"
    sb.add_token(sb.token)
    assert gql(client, sb, query, url=sb.api_url)["desUserByAuth"]["userName"] == "alice.nguyen"
    bob = sb.make_token("bob.schmidt")
    assert gql(client, sb, query, url=sb.api_url, token=bob)["desUserByAuth"]["userName"] == (
        "bob.schmidt"
    )
    sb.revoke_token(bob)
    assert code(bob) == "AuthInvalidToken"


def test_token_limited_to_one_workspace(sb: AltiumSandbox, client: httpx.Client) -> None:
    token = sb.make_token(workspaces=["Acme Robotics"])
    data = gql(client, sb, "{ desWorkspaceInfos { name } }", url=sb.api_url, token=token)
    assert data["desWorkspaceInfos"] == [{"name": "Acme Robotics"}]
    labs = sb.project("Lab Power Supply").id
    found = gql(
        client,
        sb,
        "query($id: ID!) { desProjectById(id: $id) { name } }",
        {"id": labs},
        url=sb.endpoint("Acme Labs"),
        token=token,
    )
    assert found["desProjectById"] is None


# --- Projects and paging -------------------------------------------------------------------


def test_projects_paged_by_two_reach_every_project_once(client: httpx.Client) -> None:
    with AltiumSandbox(workspace=generated_workspace(projects=23, bom_lines=5, threads=1)) as sb:
        seen: list[str] = []
        after = None
        index = 0
        while True:
            data = gql(client, sb, PROJECTS, {"url": sb.workspace_url, "first": 2, "after": after})
            connection = data["desProjects"]
            assert connection["totalCount"] == 23
            assert connection["pageInfo"]["hasPreviousPage"] is (index > 0)
            for edge in connection["edges"]:
                assert edge["cursor"] == cursor(index)
                seen.append(edge["node"]["id"])
                index += 1
            assert connection["pageInfo"]["endCursor"] == cursor(index - 1)
            if not connection["pageInfo"]["hasNextPage"]:
                break
            after = connection["pageInfo"]["endCursor"]
        assert len(seen) == len(set(seen)) == 23
        assert seen == [project.id for project in sb.tenant.workspaces[0].projects]
        first_page = gql(client, sb, PROJECTS, {"url": sb.workspace_url})["desProjects"]
        assert len(first_page["nodes"]) == 10
        assert first_page["pageInfo"]["endCursor"] == "OQ=="
        second = gql(client, sb, PROJECTS, {"url": sb.workspace_url, "after": "OQ=="})
        assert second["desProjects"]["edges"][0]["cursor"] == cursor(10)
        assert second["desProjects"]["nodes"][0]["id"] == seen[10]


def test_more_than_100_per_page_is_refused(sb: AltiumSandbox, client: httpx.Client) -> None:
    body = post(client, sb, PROJECTS, {"url": sb.workspace_url, "first": 101}).json()
    assert body["data"] == {"desProjects": None}
    error = body["errors"][0]
    assert error["message"] == "The maximum allowed items per page were exceeded."
    assert error["path"] == ["desProjects"]
    assert error["extensions"]["code"] == "HC0051"
    assert (
        gql(client, sb, PROJECTS, {"url": sb.workspace_url, "first": 100})["desProjects"][
            "totalCount"
        ]
        == 6
    )
    bad = post(client, sb, PROJECTS, {"url": sb.workspace_url, "after": "%%%"}).json()
    assert bad["data"]["desProjects"] is None and bad["errors"]


def test_project_filters(sb: AltiumSandbox, client: httpx.Client) -> None:
    def names(where: dict[str, Any]) -> list[str]:
        data = gql(client, sb, PROJECTS, {"url": sb.workspace_url, "where": where})
        return [node["name"] for node in data["desProjects"]["nodes"]]

    motor = sb.project("Motor Controller")
    assert names({"name": {"eq": "Motor Controller"}}) == ["Motor Controller"]
    assert names({"projectId": {"eq": motor.project_id}}) == ["Motor Controller"]
    assert names({"name": {"contains": "Charger"}}) == ["USB-C PD Charger"]
    assert names({"name": {"startsWith": "Au"}}) == ["Audio Amplifier"]
    assert sorted(names({"name": {"in": ["Servo Driver", "Audio Amplifier"]}})) == [
        "Audio Amplifier",
        "Servo Driver",
    ]
    assert "Servo Driver" not in names({"name": {"neq": "Servo Driver"}})
    either = names({"or": [{"name": {"eq": "Servo Driver"}}, {"name": {"eq": "Audio Amplifier"}}]})
    assert sorted(either) == ["Audio Amplifier", "Servo Driver"]
    newest = max(sb.tenant.workspaces[0].projects, key=lambda project: project.updated_at)
    stamp = newest.updated_at.isoformat().replace("+00:00", "Z")
    assert names({"updatedAt": {"gte": stamp}}) == [newest.name]
    assert names({"updatedAt": {"gt": stamp}}) == []
    assert names({"and": [{"updatedAt": {"lt": stamp}}, {"name": {"eq": newest.name}}]}) == []


def test_timestamps_are_iso_milliseconds(sb: AltiumSandbox, client: httpx.Client) -> None:
    data = gql(client, sb, PROJECTS, {"url": sb.workspace_url})
    for node in data["desProjects"]["nodes"]:
        assert ISO_MS.match(node["updatedAt"]), node["updatedAt"]
        if node["latestRevision"]:
            assert ISO_MS.match(node["latestRevision"]["createdAt"])
    servo = next(node for node in data["desProjects"]["nodes"] if node["name"] == "Servo Driver")
    assert servo["latestRevision"] is None


# --- Design data ---------------------------------------------------------------------------


def test_bom_paged_to_the_end_equals_the_seeded_bom(
    sb: AltiumSandbox, client: httpx.Client
) -> None:
    project = sb.project("Motor Controller")
    items = bom_of(client, sb, "Motor Controller", page=7)
    lines = project.variant("Default").lines
    assert 20 <= len(items) == len(lines) <= 60
    for item, line in zip(items, lines, strict=True):
        assert item["component"]["id"] == line.component.id
        assert [i["designator"] for i in item["bomItemInstances"]] == [
            i.designator for i in line.instances
        ]
        assert item["quantity"] == len(line.instances)
    by_designator = designators(items)
    assert by_designator["U1"] == ("STM32F405RGT6", True)
    caps = next(
        item
        for item in items
        if item["component"]["manufacturerParts"][0]["partNumber"] == "GRM188R71C104KA01D"
    )
    assert [part["priority"] for part in caps["component"]["manufacturerParts"]] == [1, 2]
    lite = bom_of(client, sb, "Motor Controller", "Lite", page=100)
    lite_designators = designators(lite)
    assert lite_designators["U5"][1] is False
    mcu = next(item for item in lite if item["bomItemInstances"][0]["designator"] == "U1")
    assert mcu["bomItemInstances"][0]["alternateComponent"]["name"] == "STM32G431CBU6"


def test_documents_nets_and_document_threads(sb: AltiumSandbox, client: httpx.Client) -> None:
    query = """query($id: ID!) {
      desProjectById(id: $id) {
        variantCount
        previewUrl(isDirectLink: false)
        design { variants(where: { name: { eq: "Default" } }) {
          pcb { documentId documentName
                nets(names: ["GND", "PHASE_A"]) { name cumulativeLength { x xMm xMils }
                                                  pads { designator globalDesignator }
                                                  layers { name layerType } }
                commentThreads { threadNumber context { documentId } } }
          schematics(where: { documentName: { eq: "GateDriver.SchDoc" } }) {
            documentId documentName commentThreads { threadNumber } }
        } }
      }
    }"""
    project = gql(client, sb, query, {"id": sb.project("Motor Controller").id})["desProjectById"]
    assert project["variantCount"] == 2
    variant = project["design"]["variants"][0]
    pcb = variant["pcb"]
    assert pcb["documentName"] == "MotorController.PcbDoc"
    nets = {net["name"]: net for net in pcb["nets"]}
    assert set(nets) == {"GND", "PHASE_A"}
    assert nets["GND"]["cumulativeLength"]["xMm"] == pytest.approx(812.4)
    assert isinstance(nets["GND"]["cumulativeLength"]["xMils"], float)
    assert nets["GND"]["pads"] and all(
        "-" in pad["globalDesignator"] for pad in nets["GND"]["pads"]
    )
    assert {thread["context"]["documentId"] for thread in pcb["commentThreads"]} == {
        pcb["documentId"]
    }
    [sheet] = variant["schematics"]
    assert sheet["documentName"] == "GateDriver.SchDoc"
    assert [thread["threadNumber"] for thread in sheet["commentThreads"]] == [3]


def test_library_components_are_paged_and_filtered(sb: AltiumSandbox, client: httpx.Client) -> None:
    query = """query($url: String!, $after: String, $where: DesComponentFilterInput) {
      desLibrary(workspaceUrl: $url) {
        components(first: 25, after: $after, where: $where) {
          totalCount pageInfo { hasNextPage endCursor }
          nodes { name comment description manufacturerParts { companyName partNumber priority }
                  details { parameters { name value type } } }
        }
      }
    }"""
    first = gql(client, sb, query, {"url": sb.workspace_url})["desLibrary"]["components"]
    assert first["totalCount"] >= 60 and len(first["nodes"]) == 25
    assert first["pageInfo"]["endCursor"] == cursor(24)
    stm = gql(
        client, sb, query, {"url": sb.workspace_url, "where": {"name": {"eq": "STM32F405RGT6"}}}
    )
    [component] = stm["desLibrary"]["components"]["nodes"]
    assert component["manufacturerParts"][0]["companyName"] == "STMicroelectronics"
    assert {"name": "Core", "value": "Cortex-M4", "type": "TEXT"} in component["details"][
        "parameters"
    ]


def _literal(type_: Any) -> str | None:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLList):
        return "[]"
    if isinstance(type_, GraphQLEnumType):
        return str(next(iter(type_.values)))
    if isinstance(type_, GraphQLScalarType):
        return {"Boolean": "false", "Int": "1", "String": '"x"', "ID": '"x"'}.get(type_.name)
    return None


def _select_all(schema: GraphQLSchema, type_name: str, depth: int) -> str:
    """A selection of every field of a type down to ``depth`` (required args filled in)."""
    type_ = schema.get_type(type_name)
    if isinstance(type_, GraphQLUnionType | GraphQLInterfaceType):
        return "{ __typename }"
    assert isinstance(type_, GraphQLObjectType)
    parts: list[str] = []
    for name, field in type_.fields.items():
        arguments: list[str] = []
        for arg_name, arg in field.args.items():
            if isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined:
                literal = _literal(arg.type)
                if literal is None:
                    break
                arguments.append(f"{arg_name}: {literal}")
        else:
            named = get_named_type(field.type)
            args = f"({', '.join(arguments)})" if arguments else ""
            if is_leaf_type(named):
                parts.append(name + args)
            elif depth > 0:
                sub = _select_all(schema, named.name, depth - 1)
                if sub:
                    parts.append(f"{name}{args} {sub}")
    return "{ " + " ".join(parts) + " }" if parts else ""


def test_every_field_of_a_project_resolves_schema_valid(
    sb: AltiumSandbox, client: httpx.Client
) -> None:
    selection = _select_all(sb.schema, "DesProject", 5)
    query = f"query($id: ID!) {{ desProjectById(id: $id) {selection} }}"
    data = gql(client, sb, query, {"id": sb.project("Motor Controller").id})
    assert data["desProjectById"]["design"]["variants"][0]["bom"]["items"]["totalCount"] == 30
    library = _select_all(sb.schema, "DesLibrary", 3)
    workspace = _select_all(sb.schema, "DesWorkspace", 3)
    gql(
        client,
        sb,
        f'{{ desLibrary(workspaceUrl: "{sb.workspace_url}") {library} '
        f'desWorkspaceByUrl(workspaceUrl: "{sb.workspace_url}") {workspace} }}',
    )


# --- Activities ----------------------------------------------------------------------------


def test_comment_activity_is_visible_and_leaves_updated_at(
    sb: AltiumSandbox, clock: FakeClock, client: httpx.Client
) -> None:
    before = project_state(client, sb, "motor controller")
    count = len(threads_of(client, sb, "Motor Controller"))
    number, thread_id = sb.open_thread(
        "Motor Controller",
        author="carla.rossi",
        text="@bob.schmidt please check R3",
        document="MCU.SchDoc",
    )
    assert number == 6
    threads = {
        thread["threadNumber"]: thread for thread in threads_of(client, sb, "Motor Controller")
    }
    assert len(threads) == count + 1
    opened = threads[number]
    assert opened["commentThreadId"] == thread_id and opened["status"] == 1
    assert opened["createdAt"] == "2026-11-28T09:00:00.000Z"
    assert opened["comments"][0]["mentions"] == [{"user": {"userName": "bob.schmidt"}}]
    mcu = sb.project("Motor Controller").document("MCU.SchDoc")
    assert opened["context"]["documentId"] == mcu.document_id

    comment_id = sb.reply(
        "Motor Controller", number, author="bob.schmidt@acme-robotics.example", text="Done."
    )
    clock.advance(minutes=5)
    sb.edit_comment("Motor Controller", number, text="@bob.schmidt please check R3 and R4")
    sb.assign("Motor Controller", number, to="dev.patel", by="carla.rossi")
    sb.resolve("Motor Controller", number, by="bob.schmidt")
    thread = {t["threadNumber"]: t for t in threads_of(client, sb, "Motor Controller")}[number]
    assert [c["commentId"] for c in thread["comments"]][1] == comment_id
    assert thread["comments"][0]["text"] == "@bob.schmidt please check R3 and R4"
    assert thread["comments"][0]["modifiedAt"] == "2026-11-28T09:05:00.000Z"
    assert thread["comments"][1]["createdAt"] == "2026-11-28T09:00:00.001Z"
    assert thread["assignedTo"] == {"userName": "dev.patel"}
    assert thread["status"] == 0 and thread["modifiedBy"] == {"userName": "bob.schmidt"}
    assert thread["modifiedAt"] == "2026-11-28T09:05:00.002Z"
    sb.reopen("Motor Controller", number, by="carla.rossi")
    sb.assign("Motor Controller", number, to=None, by="carla.rossi")
    thread = {t["threadNumber"]: t for t in threads_of(client, sb, "Motor Controller")}[number]
    assert thread["status"] == 1 and thread["assignedTo"] is None
    sb.delete_thread("Motor Controller", number)
    assert number not in {t["threadNumber"] for t in threads_of(client, sb, "Motor Controller")}
    assert project_state(client, sb, "Motor Controller") == before


def test_bom_activity_moves_updated_at(
    sb: AltiumSandbox, clock: FakeClock, client: httpx.Client
) -> None:
    before = project_state(client, sb, "IoT Sensor Node")
    component = sb.swap_part("IoT Sensor Node", "R1", mpn="ERJ-3EKF1002V", manufacturer="Panasonic")
    assert component.name == "RES-10k-0603"
    swapped = designators(bom_of(client, sb, "IoT Sensor Node"))
    assert swapped["R1"] == ("RC0603FR-0710KL", True)
    sb.swap_part(
        "IoT Sensor Node",
        "R1",
        mpn="CRCW060310K0FKEA",
        manufacturer="Vishay Dale",
        name="10k Vishay",
        variant="Default",
    )
    after_swap = project_state(client, sb, "IoT Sensor Node")
    assert after_swap["updatedAt"] > before["updatedAt"]
    default = bom_of(client, sb, "IoT Sensor Node")
    assert designators(default)["R1"] == ("CRCW060310K0FKEA", True)
    assert designators(bom_of(client, sb, "IoT Sensor Node", "Lite"))["R1"][0] == (
        "RC0603FR-0710KL"
    )
    vishay = next(item for item in default if item["component"]["name"] == "10k Vishay")
    assert vishay["quantity"] == 1
    sb.remove_part("IoT Sensor Node", "C1")
    sb.add_part(
        "IoT Sensor Node",
        "U9",
        mpn="W25Q128JVSIQ",
        manufacturer="Winbond Electronics",
        name="W25Q128JV",
        variant="Default",
    )
    sb.set_fitted("IoT Sensor Node", "U2", False, variant="Default")
    final = designators(bom_of(client, sb, "IoT Sensor Node"))
    assert "C1" not in final
    assert final["U9"] == ("W25Q128JVSIQ", True)
    assert final["U2"] == ("BME280", False)
    assert "U9" not in designators(bom_of(client, sb, "IoT Sensor Node", "Lite"))
    state = project_state(client, sb, "IoT Sensor Node")
    assert state["updatedAt"] > after_swap["updatedAt"]
    assert state["latestRevision"] == before["latestRevision"]


def test_commit_revision_and_add_project(
    sb: AltiumSandbox, clock: FakeClock, client: httpx.Client
) -> None:
    clock.advance(hours=1)
    revision = sb.commit_revision("Servo Driver", message="First commit", author="dev.patel")
    state = project_state(client, sb, "Servo Driver")
    assert state["latestRevision"] == {
        "revisionId": revision,
        "message": "First commit",
        "author": "Dev Patel",
        "createdAt": "2026-11-28T10:00:00.000Z",
    }
    assert state["updatedAt"] == "2026-11-28T10:00:00.000Z"
    project = sb.add_project("Drone ESC", description="4-in-1 ESC", copy_bom_from="Servo Driver")
    data = gql(client, sb, PROJECTS, {"url": sb.workspace_url, "first": 100})["desProjects"]
    assert data["totalCount"] == 7
    assert data["nodes"][-1]["name"] == "Drone ESC"
    assert data["nodes"][-1]["id"] == project.id
    assert len(bom_of(client, sb, "Drone ESC")) == 8


def test_mutations_create_threads_and_comments(sb: AltiumSandbox, client: httpx.Client) -> None:
    project = sb.project("Audio Amplifier")
    pcb = project.document(None)
    created = gql(
        client,
        sb,
        """mutation($input: DesCreateCommentThreadInput!) {
      desCreateCommentThread(input: $input) { commentThreadId commentId errors { message } }
    }""",
        {
            "input": {
                "entityId": project.id,
                "documentId": pcb.document_id,
                "documentType": "PCB",
                "text": "From the bot",
                "commentContextType": "NONE",
            }
        },
    )
    thread_id = created["desCreateCommentThread"]["commentThreadId"]
    assert created["desCreateCommentThread"]["errors"] == []
    reply = gql(
        client,
        sb,
        """mutation($input: DesCreateCommentInput!) {
      desCreateComment(input: $input) { commentId errors { message } }
    }""",
        {"input": {"entityId": project.id, "commentThreadId": thread_id, "text": "Reply"}},
    )
    assert reply["desCreateComment"]["errors"] == []
    thread = next(
        t for t in threads_of(client, sb, "Audio Amplifier") if t["commentThreadId"] == thread_id
    )
    assert [c["text"] for c in thread["comments"]] == ["From the bot", "Reply"]
    assert thread["createdBy"] == {"userName": "alice.nguyen"}


CREATE_COMMENT = """mutation CreateComment($input: DesCreateCommentInput!) {
  desCreateComment(input: $input) { commentId errors { message } }
}"""

UPDATE_COMMENT = """mutation UpdateComment($input: DesUpdateCommentInput!) {
  desUpdateComment(input: $input) { errors { message } }
}"""


def comment_input(sb: AltiumSandbox, project: str, thread: int, **more: str) -> dict[str, Any]:
    target = sb.project(project)
    return {"input": {"entityId": target.id,
                      "commentThreadId": target.thread(thread).comment_thread_id, **more}}


def test_a_comment_is_written_as_the_signed_in_user_and_read_back(
    sb: AltiumSandbox, client: httpx.Client, clock: FakeClock
) -> None:
    carla = sb.make_token("carla.rossi")
    created = gql(client, sb, CREATE_COMMENT,
                  comment_input(sb, "Motor Controller", 1, text="Moved C12 closer"), token=carla)
    payload = created["desCreateComment"]
    assert payload["errors"] == []
    [thread] = [t for t in threads_of(client, sb, "Motor Controller") if t["threadNumber"] == 1]
    [comment] = [c for c in thread["comments"] if c["commentId"] == payload["commentId"]]
    assert comment["text"] == "Moved C12 closer"
    assert comment["createdBy"] == {"userName": "carla.rossi"}
    assert comment["modifiedAt"] == comment["createdAt"] == thread["modifiedAt"]

    clock.advance(minutes=5)
    edit = comment_input(sb, "Motor Controller", 1, commentId=payload["commentId"],
                         text="Moved C12 and C13 closer")
    assert gql(client, sb, UPDATE_COMMENT, edit, token=carla)["desUpdateComment"] == {"errors": []}
    [thread] = [t for t in threads_of(client, sb, "Motor Controller") if t["threadNumber"] == 1]
    [edited] = [c for c in thread["comments"] if c["commentId"] == payload["commentId"]]
    assert edited["text"] == "Moved C12 and C13 closer"
    assert edited["createdAt"] == comment["createdAt"]
    assert edited["modifiedAt"] == "2026-11-28T09:05:00.000Z" == thread["modifiedAt"]


def test_comment_writes_refused_with_payload_errors(
    sb: AltiumSandbox, client: httpx.Client
) -> None:
    carla = sb.make_token("carla.rossi")
    first = sb.project("Motor Controller").thread(1).comments[0]
    assert first.created_by.user_name != "carla.rossi"
    other = sb.project("Audio Amplifier")
    cases = [
        (CREATE_COMMENT, comment_input(sb, "Motor Controller", 1, text="   "),
         "The comment text must not be empty."),
        (CREATE_COMMENT, {"input": {**comment_input(sb, "Motor Controller", 1, text="Hi")[
            "input"], "entityId": other.id}}, "was not found"),
        (CREATE_COMMENT, {"input": {**comment_input(sb, "Motor Controller", 1, text="Hi")[
            "input"], "entityId": "RGVzUHJvamVjdDpub25l"}}, "The project was not found."),
        (UPDATE_COMMENT, comment_input(sb, "Motor Controller", 1, commentId=first.comment_id,
                                       text="Rewritten"), "Only the author of a comment"),
        (UPDATE_COMMENT, comment_input(sb, "Motor Controller", 1, commentId="nope", text="x"),
         "The comment `nope` was not found."),
    ]
    before = threads_of(client, sb, "Motor Controller")
    for document, variables, message in cases:
        data = gql(client, sb, document, variables, token=carla)
        [payload] = data.values()
        [error] = payload["errors"]
        assert message in error["message"]
    assert threads_of(client, sb, "Motor Controller") == before


def test_a_comment_on_a_deleted_thread_is_a_payload_error(
    sb: AltiumSandbox, client: httpx.Client
) -> None:
    variables = comment_input(sb, "Motor Controller", 2, text="Late answer")
    thread_id = sb.delete_thread("Motor Controller", 2)
    payload = gql(client, sb, CREATE_COMMENT, variables)["desCreateComment"]
    assert payload == {
        "commentId": "",
        "errors": [{"message": f"The comment thread `{thread_id}` was not found."}],
    }


def test_a_lost_answer_runs_the_mutation_then_hangs_up(
    sb: AltiumSandbox, client: httpx.Client
) -> None:
    sb.faults.lose_answer()
    assert post(client, sb, "{ desUserByAuth { userName } }").status_code == 200
    variables = comment_input(sb, "Motor Controller", 1, text="Did this land?")
    with pytest.raises(httpx.RemoteProtocolError):
        post(client, sb, CREATE_COMMENT, variables)
    texts = [c.text for c in sb.project("Motor Controller").thread(1).comments]
    assert texts.count("Did this land?") == 1
    assert post(client, sb, CREATE_COMMENT, variables).status_code == 200
    assert [(r.fields, r.status, r.fault) for r in sb.requests] == [
        (("desUserByAuth",), 200, None),
        (("desCreateComment",), 0, "lost_answer"),
        (("desCreateComment",), 200, None),
    ]


def post_in_background(sb: AltiumSandbox, query: str, variables: dict[str, Any]
                       ) -> tuple[threading.Thread, list[httpx.Response | Exception]]:
    """POST from a thread of its own (with its own connection); its answer, or the error
    it ended with, lands in the list."""
    outcome: list[httpx.Response | Exception] = []

    def run() -> None:
        with httpx.Client(timeout=10, headers={"Accept": "application/json"}) as own:
            try:
                outcome.append(post(own, sb, query, variables))
            except httpx.HTTPError as error:
                outcome.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    return worker, outcome


@pytest.mark.parametrize("let_go", ["release_answer", "clear"])
def test_a_held_answer_comes_once_released_after_the_write_is_visible(
    sb: AltiumSandbox, client: httpx.Client, let_go: str
) -> None:
    sb.faults.hold_answer()
    variables = comment_input(sb, "Motor Controller", 1, text="Held, but written")
    worker, outcome = post_in_background(sb, CREATE_COMMENT, variables)
    assert sb.faults.wait_held(timeout=5)
    [thread] = [t for t in threads_of(client, sb, "Motor Controller")
                if t["commentThreadId"] == variables["input"]["commentThreadId"]]
    [written] = [c for c in thread["comments"] if c["text"] == "Held, but written"]
    assert (sb.faults.held, outcome, worker.is_alive()) == (1, [], True)
    getattr(sb.faults, let_go)()
    worker.join(timeout=5)
    [answer] = outcome
    assert isinstance(answer, httpx.Response) and answer.status_code == 200
    assert answer.json()["data"]["desCreateComment"] == {
        "commentId": written["commentId"], "errors": []}
    assert sb.faults.held == 0
    assert post(client, sb, CREATE_COMMENT, variables).status_code == 200
    assert [(r.fields, r.status, r.fault) for r in sb.requests][-2:] == [
        (("desCreateComment",), 200, "held_answer"),
        (("desCreateComment",), 200, None),
    ]


def test_a_stop_drops_a_held_answer_without_waiting_on_it(sb: AltiumSandbox) -> None:
    sb.faults.hold_answer(times=None)
    variables = comment_input(sb, "Motor Controller", 1, text="Written before the stop")
    worker, outcome = post_in_background(sb, CREATE_COMMENT, variables)
    assert sb.faults.wait_held(timeout=5)
    stopper = threading.Thread(target=sb.stop, daemon=True)
    stopper.start()
    stopper.join(timeout=5)
    assert not stopper.is_alive()
    worker.join(timeout=5)
    [error] = outcome
    assert isinstance(error, httpx.RemoteProtocolError | httpx.ReadError)
    texts = [c.text for c in sb.project("Motor Controller").thread(1).comments]
    assert texts.count("Written before the stop") == 1
    assert [(r.status, r.fault) for r in sb.requests] == [(0, "held_answer")]
    assert sb.faults.held == 0


def test_a_client_killed_while_its_answer_is_held_leaves_the_write_and_the_sandbox(
    sb: AltiumSandbox, client: httpx.Client
) -> None:
    sb.faults.hold_answer()
    variables = comment_input(sb, "Motor Controller", 1, text="Sent by a process now dead")
    script = ("import json, sys, httpx\n"
              "httpx.post(sys.argv[1], json=json.loads(sys.argv[2]), timeout=60,\n"
              "           headers={'Authorization': 'Bearer ' + sys.argv[3]})\n")
    body = json.dumps({"query": CREATE_COMMENT, "variables": variables})
    process = subprocess.Popen([sys.executable, "-c", script, sb.regional_url, body, sb.token])
    try:
        assert sb.faults.wait_held(timeout=20)
    finally:
        process.kill()
    assert process.wait(timeout=5) != 0
    texts = [c.text for c in sb.project("Motor Controller").thread(1).comments]
    assert texts.count("Sent by a process now dead") == 1
    assert sb.faults.release_answer() == 1
    assert gql(client, sb, "{ desUserByAuth { userName } }")["desUserByAuth"]["userName"]


def test_activity_timestamps_strictly_increase(sb: AltiumSandbox) -> None:
    stamps = [sb.stamp() for _ in range(5)]
    assert stamps == sorted(set(stamps))
    assert all(
        later - earlier == timedelta(milliseconds=1)
        for earlier, later in itertools.pairwise(stamps)
    )


# --- Faults and the request log ------------------------------------------------------------


def test_http_error_for_one_project_only(sb: AltiumSandbox, client: httpx.Client) -> None:
    sb.faults.http_error(500, times=2, project="Motor Controller")
    motor, audio = sb.project("Motor Controller").id, sb.project("Audio Amplifier").id
    assert post(client, sb, PROJECT_STATE, {"id": audio}).status_code == 200
    assert post(client, sb, PROJECT_STATE, {"id": motor}).status_code == 500
    assert post(client, sb, PROJECT_STATE, {"id": motor}).status_code == 500
    assert post(client, sb, PROJECT_STATE, {"id": motor}).status_code == 200
    assert [record.status for record in sb.requests] == [200, 500, 500, 200]
    assert sb.requests[1].fault == "http_error"


def test_rate_limit_with_retry_after(sb: AltiumSandbox, client: httpx.Client) -> None:
    sb.faults.http_error(429, retry_after=3)
    limited = post(client, sb, "{ desUserByAuth { userName } }")
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "3"
    assert post(client, sb, "{ desUserByAuth { userName } }").status_code == 200
    sb.faults.http_error(503)
    unavailable = post(client, sb, "{ desUserByAuth { userName } }")
    assert unavailable.status_code == 503 and unavailable.text.startswith("503")


def test_graphql_error_gives_path_beside_partial_data(
    sb: AltiumSandbox, client: httpx.Client
) -> None:
    sb.faults.graphql_error(project="Motor Controller", code="INTERNAL_ERROR")
    query = """query($a: ID!, $b: ID!) {
      a: desProjectById(id: $a) { name design { variants { name } } }
      b: desProjectById(id: $b) { name design { variants { name } } }
      names: desProjectsByIds(ids: [$a, $b]) { name updatedAt }
    }"""
    variables = {"a": sb.project("Motor Controller").id, "b": sb.project("Audio Amplifier").id}
    body = post(client, sb, query, variables).json()
    assert body["data"]["a"] is None
    assert body["data"]["b"]["name"] == "Audio Amplifier"
    assert [p["name"] for p in body["data"]["names"]] == ["Motor Controller", "Audio Amplifier"]
    paths = [error["path"] for error in body["errors"]]
    assert paths == [["a", "design"]]
    assert {error["extensions"]["code"] for error in body["errors"]} == {"INTERNAL_ERROR"}
    assert "errors" not in post(client, sb, query, variables).json()

    sb.faults.graphql_error(project="Audio Amplifier", times=None, message="Boom")
    threads = post(
        client,
        sb,
        "query($b: ID!) { desCommentThreads(projectId: $b) { threadNumber } }",
        {"b": variables["b"]},
    ).json()
    assert threads["data"] is None and threads["errors"][0]["message"] == "Boom"
    sb.faults.clear()
    sb.faults.graphql_error()
    everything = post(client, sb, "{ desUserByAuth { userName } }").json()
    assert everything["data"] is None
    assert everything["errors"][0]["message"] == "Unexpected Execution Error"
    assert "errors" not in post(client, sb, "{ desUserByAuth { userName } }").json()


def test_latency_and_dropped_connections(sb: AltiumSandbox, client: httpx.Client) -> None:
    sb.faults.latency(0.2)
    started = time.perf_counter()
    post(client, sb, "{ desUserByAuth { userName } }")
    assert time.perf_counter() - started >= 0.2
    sb.faults.latency(0)
    sb.faults.drop_connection()
    with pytest.raises(httpx.RemoteProtocolError):
        post(client, sb, "{ desUserByAuth { userName } }")
    assert post(client, sb, "{ desUserByAuth { userName } }").status_code == 200
    assert [record.status for record in sb.requests][-2:] == [0, 200]


def test_aliased_comment_threads_and_the_request_log(
    sb: AltiumSandbox, client: httpx.Client
) -> None:
    names = ["Motor Controller", "IoT Sensor Node", "USB-C PD Charger"]
    query = (
        "query Many($p0: ID!, $p1: ID!, $p2: ID!) { "
        + " ".join(
            f"p{i}: desCommentThreads(projectId: $p{i}) {{ threadNumber status }}" for i in range(3)
        )
        + " }"
    )
    sb.reset_requests()
    data = gql(client, sb, query, {f"p{i}": sb.project(name).id for i, name in enumerate(names)})
    assert [len(data[f"p{i}"]) for i in range(3)] == [5, 3, 2]
    assert sb.request_count == 1
    [record] = sb.requests
    assert record.operation_name is None
    assert record.root_fields == tuple((f"p{i}", "desCommentThreads") for i in range(3))
    assert record.status == 200 and record.region == "eu-central" and record.duration > 0
    sb.reset_requests()
    assert sb.request_count == 0


def test_generated_workspace_sizes(client: httpx.Client) -> None:
    tenant = generated_workspace(
        projects=20, bom_lines=30, threads=4, comments_per_thread=2, seed=7
    )
    with AltiumSandbox(workspace=tenant) as sb:
        data = gql(client, sb, PROJECTS, {"url": sb.workspace_url, "first": 100})["desProjects"]
        assert data["totalCount"] == 20
        name = data["nodes"][3]["name"]
        assert len(bom_of(client, sb, name, page=100)) == 30
        threads = threads_of(client, sb, name)
        assert len(threads) == 4 and all(len(t["comments"]) == 2 for t in threads)
    again = generated_workspace(projects=20, bom_lines=30, threads=4, comments_per_thread=2, seed=7)
    assert [p.id for p in again.projects()] == [p.id for p in tenant.projects()]


# --- Media types and odd answers -----------------------------------------------------------

GRAPHQL_RESPONSE = "application/graphql-response+json"


def answer(sb: AltiumSandbox, query: str, accept: str | None, *, token: str | None = None,
           ) -> tuple[int, str, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token or sb.token}"}
    if accept is not None:
        headers["Accept"] = accept
    with httpx.Client(timeout=10) as http:
        response = http.post(sb.api_url, json={"query": query}, headers=headers)
    return (response.status_code, response.headers["Content-Type"].split(";")[0],
            response.json())


def test_status_codes_follow_accept_as_in_hotchocolate_13(sb: AltiumSandbox) -> None:
    valid, invalid = "{ desUserByAuth { userName } }", "{ desUserByAuth { nope } }"
    for accept in (None, "*/*", GRAPHQL_RESPONSE, f"{GRAPHQL_RESPONSE}, application/json;q=0.9"):
        assert answer(sb, valid, accept)[:2] == (200, GRAPHQL_RESPONSE)
        status, media, body = answer(sb, invalid, accept)
        assert (status, media, "data" in body) == (400, GRAPHQL_RESPONSE, False)
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    for accept in ("application/json", "application/json, */*;q=0.5"):
        assert answer(sb, valid, accept)[:2] == (200, "application/json")
        assert answer(sb, invalid, accept)[:2] == (200, "application/json")
    sb.expire_token()
    status, media, body = answer(sb, valid, "*/*")
    assert (status, media, body["data"]) == (500, GRAPHQL_RESPONSE, None)
    assert body["errors"][0]["extensions"]["code"] == "AuthExpiredToken"
    assert answer(sb, valid, "application/json")[0] == 200
    sb.faults.graphql_response(times=1)
    assert answer(sb, valid, "application/json")[:2] == (500, GRAPHQL_RESPONSE)
    assert answer(sb, valid, "application/json")[:2] == (200, "application/json")
    assert [r.accept for r in sb.requests][-2:] == ["application/json", "application/json"]
    assert [r.content_type for r in sb.requests][-2:] == [
        f"{GRAPHQL_RESPONSE}; charset=utf-8", "application/json; charset=utf-8"]


DESIGN_BOMS = """
query($id: ID!) {
  desProjectById(id: $id) {
    name
    design { variants { name bom { items(first: 100) { totalCount nodes { quantity } } } } }
  }
}
"""


def boms(client: httpx.Client, sb: AltiumSandbox, project: str) -> dict[str, Any]:
    body = post(client, sb, DESIGN_BOMS, {"id": sb.project(project).id}).json()
    assert "errors" not in body, body
    return {v["name"]: v["bom"] and v["bom"]["items"]["totalCount"]
            for v in body["data"]["desProjectById"]["design"]["variants"]}


def test_null_and_empty_boms_come_without_errors(sb: AltiumSandbox, client: httpx.Client) -> None:
    full = {v.name: len(v.lines) for v in sb.project("Motor Controller").variants}
    assert all(full.values())
    assert boms(client, sb, "Motor Controller") == full
    sb.faults.null_bom("Motor Controller", variant="Lite")
    assert boms(client, sb, "Motor Controller") == {"Default": full["Default"], "Lite": None}
    assert sb.requests[-1].fault == "null_bom"
    assert boms(client, sb, "Motor Controller") == full
    sb.faults.null_bom("Motor Controller", times=2)
    assert None not in boms(client, sb, "IoT Sensor Node").values()
    assert boms(client, sb, "Motor Controller") == {"Default": None, "Lite": None}
    assert boms(client, sb, "Motor Controller") == {"Default": None, "Lite": None}
    assert boms(client, sb, "Motor Controller") == full
    sb.faults.empty_bom("Motor Controller")
    assert boms(client, sb, "Motor Controller") == {"Default": 0, "Lite": 0}
    assert boms(client, sb, "Motor Controller") == full


def test_a_null_design_is_a_non_null_violation_at_its_path(
        sb: AltiumSandbox, client: httpx.Client) -> None:
    full = {v.name: len(v.lines) for v in sb.project("Motor Controller").variants}
    sb.faults.null_design("Motor Controller")
    body = post(client, sb, DESIGN_BOMS, {"id": sb.project("Motor Controller").id}).json()
    assert body["data"] == {"desProjectById": None}
    [error] = body["errors"]
    assert (error["path"], error["extensions"]["code"]) == (["desProjectById", "design"], "HC0018")
    assert boms(client, sb, "Motor Controller") == full


def test_an_empty_thread_list_and_a_refused_project(
        sb: AltiumSandbox, client: httpx.Client) -> None:
    sb.faults.empty_threads("Motor Controller")
    assert threads_of(client, sb, "Motor Controller") == []
    assert len(threads_of(client, sb, "Motor Controller")) == 5
    sb.faults.not_authorized("IoT Sensor Node")
    ids = {"p0": sb.project("Motor Controller").id, "p1": sb.project("IoT Sensor Node").id}
    query = ("query($p0: ID!, $p1: ID!) { p0: desCommentThreads(projectId: $p0) "
             "{ threadNumber } p1: desCommentThreads(projectId: $p1) { threadNumber } }")
    body = post(client, sb, query, ids).json()
    assert body["data"] is None
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["p1"], "AUTH_NOT_AUTHORIZED")]
    sb.faults.not_authorized("IoT Sensor Node")
    body = post(client, sb, DESIGN_BOMS, {"id": ids["p1"]}).json()
    assert body["data"] == {"desProjectById": None}
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["desProjectById", "design"], "AUTH_NOT_AUTHORIZED")]
    assert "errors" not in post(client, sb, query, ids).json()
