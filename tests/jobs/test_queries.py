"""Every query the client sends, validated against the real Nexar schema."""

from __future__ import annotations

from functools import cache
from importlib import resources

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate

from jobs.nexar import batch_threads_query, query
from sandbox.altium.resolvers import default_schema_path

QUERY_FILES = sorted(
    f.name.removesuffix(".graphql")
    for f in resources.files("jobs.queries").iterdir() if f.name.endswith(".graphql")
)


@cache
def nexar_schema() -> GraphQLSchema:
    return build_schema(default_schema_path().read_text(encoding="utf-8"))


def test_every_query_file_is_found() -> None:
    assert {"workspaces", "projects", "comment_threads", "design", "bom_page"} <= set(QUERY_FILES)


@pytest.mark.parametrize("name", QUERY_FILES)
def test_query_file_is_valid_against_the_nexar_schema(name: str) -> None:
    assert validate(nexar_schema(), parse(query(name))) == []


@pytest.mark.parametrize("count", [1, 3, 50])
def test_batched_thread_query_is_valid(count: int) -> None:
    document = parse(batch_threads_query(count))
    assert validate(nexar_schema(), document) == []
    operation = document.definitions[0]
    assert len(operation.selection_set.selections) == count  # type: ignore[attr-defined]


def test_an_invalid_query_would_be_caught() -> None:
    broken = query("projects").replace("updatedAt", "updatedOn")
    assert validate(nexar_schema(), parse(broken))
