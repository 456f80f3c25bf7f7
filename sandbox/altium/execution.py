"""graphql-core's executor with a shortcut for plain scalar fields.

A BOM page of 100 items asks for about 1,700 fields, most of them scalars read straight off
the model (``name``, ``designator``, ``isFitted``). For each, graphql-core builds a path, a
resolve info and the arguments before it reads the value: most of the local Altium 365's
time in a large first poll went there. ``ScalarShortcut`` reads such a field at once and
serializes it by its type, as graphql-core does. A null, a value its type cannot serialize,
and any field with a resolver of its own, arguments, a list or an object type go the
standard way, so errors, null propagation and paths are graphql-core's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import (
    ExecutionContext,
    FieldNode,
    GraphQLEnumType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
)
from graphql.execution.execute import get_field_def
from graphql.pyutils import Path

from .resolvers import read_field

_UNPLANNED: Any = object()


class ScalarShortcut(ExecutionContext):
    """An ``execution_context_class`` for ``graphql.execute``; every resolver it runs must
    be synchronous (the sandbox's are)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans: dict[tuple[str, int], tuple[str, Callable[[Any], Any]] | None] = {}

    def execute_fields(self, parent_type: GraphQLObjectType, source_value: Any,
                       path: Path | None, fields: dict[str, list[FieldNode]]) -> Any:
        results: dict[str, Any] = {}
        plans = self._plans
        for response_name, field_nodes in fields.items():
            key = (parent_type.name, id(field_nodes[0]))
            plan = plans.get(key, _UNPLANNED)
            if plan is _UNPLANNED:
                plan = plans[key] = _plan(self.schema, parent_type, field_nodes[0])
            if plan is not None:
                value = read_field(source_value, plan[0])
                if value is not None:
                    try:
                        serialized = plan[1](value)
                    except Exception:
                        serialized = None  # the standard way raises it, located
                    if serialized is not None and serialized is not Undefined:
                        results[response_name] = serialized
                        continue
            result = self.execute_field(parent_type, source_value, field_nodes,
                                        Path(path, response_name, parent_type.name))
            if result is not Undefined:
                results[response_name] = result
        return results


def _plan(schema: GraphQLSchema, parent_type: GraphQLObjectType,
          node: FieldNode) -> tuple[str, Callable[[Any], Any]] | None:
    """(field name, serializer) for a field the shortcut may answer; None otherwise."""
    field = get_field_def(schema, parent_type, node)
    if field is None or field.resolve is not None or field.args or node.arguments:
        return None
    kind = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
    if not isinstance(kind, GraphQLScalarType | GraphQLEnumType):
        return None
    return node.name.value, kind.serialize
