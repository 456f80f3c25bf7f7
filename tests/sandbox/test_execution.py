"""The scalar shortcut answers exactly what graphql-core's standard executor answers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from graphql import ExecutionContext, build_schema, execute_sync, parse

from jobs.nexar import batch_designs_query, batch_fingerprints_query, batch_threads_query, query
from sandbox import AltiumSandbox
from sandbox.altium import generated_workspace
from sandbox.altium.execution import ScalarShortcut
from sandbox.altium.resolvers import default_resolver

EDGES = build_schema("""
    enum Color { RED GREEN }
    type Part { id: ID!, name: String, count: Int, color: Color, ratio: Float, fitted: Boolean! }
    type Query {
      parts: [Part]
      part: Part
      strict: Part
      tags: [String!]
      labelled(prefix: String = "x"): String
      computed: String
    }
""")

ROOT: dict[str, Any] = {
    "parts": [
        {"id": 1, "name": "R1", "count": 2, "color": "RED", "ratio": 1, "fitted": True},
        {"id": "b", "name": None, "count": "many", "color": "BLUE", "ratio": "x", "fitted": None},
        {"id": None, "name": 7, "count": 2**40, "color": None, "ratio": 0.5, "fitted": 1},
    ],
    "part": {"id": "p", "name": "C1", "fitted": False},
    "strict": {"id": None, "name": "gone", "fitted": True},
    "tags": ["a", None],
    "labelled": "as is",
}

EDGE_QUERY = """
{
  parts { id name count color ratio fitted alias: name __typename }
  part { ...Fields again: id }
  strict { id name }
  tags
  labelled
  computed
}
fragment Fields on Part { id name fitted count }
"""


def both(run: Callable[[type[ExecutionContext]], Any]) -> tuple[Any, Any]:
    return run(ExecutionContext), run(ScalarShortcut)


def test_nulls_bad_values_aliases_and_arguments_come_out_as_graphql_core_gives_them() -> None:
    document = parse(EDGE_QUERY)

    def run(execution: type[ExecutionContext]) -> Any:
        result = execute_sync(EDGES, document, root_value=ROOT, field_resolver=default_resolver,
                              execution_context_class=execution)
        return result.formatted

    standard, shortcut = both(run)
    assert shortcut == standard
    # The case is not empty: it holds null propagation and located serialization errors.
    assert standard["data"]["strict"] is None
    assert {tuple(e["path"]) for e in standard["errors"]} >= {
        ("parts", 1, "count"), ("parts", 1, "color"), ("parts", 1, "fitted"),
        ("parts", 2, "id"), ("strict", "id"), ("tags", 1)}


@pytest.fixture(scope="module")
def farm() -> Iterator[AltiumSandbox]:
    tenant = generated_workspace(projects=4, bom_lines=120, threads=4, comments_per_thread=2,
                                 seed=3)
    with AltiumSandbox(workspace=tenant) as sandbox:
        yield sandbox


def answer(sandbox: AltiumSandbox, execution: type[ExecutionContext], text: str,
           variables: dict[str, Any]) -> Any:
    sandbox.execution = execution
    try:
        reply = httpx.post(sandbox.regional_url, json={"query": text, "variables": variables},
                           headers={"Authorization": f"Bearer {sandbox.token}"})
    finally:
        sandbox.execution = ScalarShortcut
    body = reply.json()
    body.pop("extensions", None)
    return reply.status_code, body


def bot_queries(sandbox: AltiumSandbox) -> list[tuple[str, str, dict[str, Any]]]:
    projects = sandbox.projects()
    ids = [p.id for p in projects]
    return [
        ("projects", query("projects"),
         {"workspaceUrl": sandbox.workspace_url, "first": 100, "after": None}),
        ("designs", batch_designs_query(len(ids)),
         {"first": 100, **{f"d{i}": pid for i, pid in enumerate(ids)}}),
        ("bom page", query("bom_page"), {"id": ids[0], "variant": projects[0].variants[0].name,
                                         "first": 50, "after": "NDk="}),
        ("threads", batch_threads_query(len(ids)), {f"p{i}": pid for i, pid in enumerate(ids)}),
        ("fingerprints", batch_fingerprints_query(len(ids)),
         {f"p{i}": pid for i, pid in enumerate(ids)}),
    ]


@pytest.mark.parametrize("name", ["projects", "designs", "bom page", "threads", "fingerprints"])
def test_every_query_of_the_bot_gets_the_same_answer(farm: AltiumSandbox, name: str) -> None:
    _, text, variables = next(q for q in bot_queries(farm) if q[0] == name)
    standard, shortcut = both(lambda execution: answer(farm, execution, text, variables))
    assert shortcut == standard
    assert standard[0] == 200 and standard[1]["data"]


@pytest.mark.parametrize("fault", ["null_bom", "empty_bom", "null_design", "graphql_error"])
def test_faulty_answers_are_the_same_too(farm: AltiumSandbox, fault: str) -> None:
    _, text, variables = next(q for q in bot_queries(farm) if q[0] == "designs")
    target = farm.projects()[1].name

    def run(execution: type[ExecutionContext]) -> Any:
        getattr(farm.faults, fault)(target)
        return answer(farm, execution, text, variables)

    standard, shortcut = both(run)
    assert shortcut == standard
    assert standard != answer(farm, ScalarShortcut, text, variables)  # the fault showed
