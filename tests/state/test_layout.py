"""``state`` is the memory of the bot: it imports nothing of ours but itself."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

STATE = Path(__file__).parents[2] / "state"
ALLOWED = {"__future__", "state", "sqlite_utils", *sys.stdlib_module_names}


@pytest.mark.parametrize("module", sorted(p.name for p in STATE.glob("*.py")))
def test_state_imports_only_state_sqlite_utils_and_the_standard_library(module: str) -> None:
    tree = ast.parse((STATE / module).read_text(encoding="utf-8"))
    roots = {(n.module or "").split(".")[0] for n in ast.walk(tree)
             if isinstance(n, ast.ImportFrom) and n.level == 0}
    roots |= {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
              for a in n.names}
    assert roots <= ALLOWED, roots - ALLOWED
