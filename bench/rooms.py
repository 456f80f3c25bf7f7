"""The rooms of the code and the imports between them: a map anyone can re-run.

Prints the largest modules by lines, and every import from one room (``bot``, ``jobs``,
``state``, ``sandbox``) into another, and checks the rules of the layout:

- ``state`` imports nothing of ours;
- ``jobs`` imports neither ``bot`` nor Slack's libraries (``slack_sdk``, ``slack_bolt``);
- ``bot`` has no HTTP client of its own for Nexar: ``httpx`` only in ``bot/webhooks/``
  (the webhook sender, whose far ends are the endpoints people add);
- one production module imports ``sandbox`` (the demo);
- no SQL outside ``state`` (no ``sqlite3`` or ``sqlite_utils`` import, no ``.rows(...)``
  call, no string that starts a statement);
- every module of ``bot/listeners`` has its ``register(app)``.

With ``--check`` it exits 1 when a rule is broken. Run it from the project root:

    .venv/bin/python bench/rooms.py [--check] [--top 10] [--root DIR]
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOMS = ("bot", "jobs", "state", "sandbox")
SLACK_LIBRARIES = ("slack_sdk", "slack_bolt")
HTTP_ALLOWED = "bot/webhooks/"
"""The one part of ``bot`` that speaks HTTP itself (to webhook endpoints)."""
SQL = re.compile(r"^\s*(select|insert|update|delete|create|drop|alter|pragma)\s", re.IGNORECASE)


def imports(tree: ast.Module) -> set[str]:
    """The full names of every module ``tree`` imports."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def sql_outside_state(tree: ast.Module) -> list[int]:
    """Lines that call ``.rows(...)`` or hold a string that starts an SQL statement."""
    lines = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "rows") or (
                isinstance(node, ast.Constant) and isinstance(node.value, str)
                and SQL.match(node.value)):
            lines.append(node.lineno)
    return sorted(lines)


def rules(root: Path) -> tuple[dict[tuple[str, str], set[str]], list[str]]:
    """The imports between rooms, and every broken rule as one line."""
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    broken: list[str] = []
    sandbox_users: set[str] = set()
    for path in sorted(p for room in ROOMS for p in (root / room).rglob("*.py")):
        room = path.relative_to(root).parts[0]
        name = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=name)
        for target in imports(tree):
            top = target.split(".")[0]
            if top in ROOMS and top != room:
                edges[(room, top)].add(name)
            if room == "state" and top in ROOMS and top != "state":
                broken.append(f"{name}: state imports {target}")
            if room == "jobs" and (top == "bot" or top in SLACK_LIBRARIES):
                broken.append(f"{name}: jobs imports {target}")
            if room == "bot" and top == "httpx" and not name.startswith(HTTP_ALLOWED):
                broken.append(f"{name}: bot has an HTTP client of its own ({target})")
            if room in ("bot", "jobs") and top in ("sqlite3", "sqlite_utils"):
                broken.append(f"{name}: SQL outside state (imports {target})")
            if room != "sandbox" and top == "sandbox":
                sandbox_users.add(name)
        if room in ("bot", "jobs"):
            for line in sorted(set(sql_outside_state(tree))):
                broken.append(f"{name}:{line}: SQL outside state")
        if name.startswith("bot/listeners/") and path.name != "__init__.py" and not any(
                isinstance(n, ast.FunctionDef) and n.name == "register" for n in tree.body):
            broken.append(f"{name}: a listener module without register(app)")
    if len(sandbox_users) > 1:
        broken.append(f"more than one production module imports sandbox: "
                      f"{', '.join(sorted(sandbox_users))}")
    return edges, broken


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a rule is broken")
    parser.add_argument("--top", type=int, default=10, help="how many of the largest modules")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1],
                        help="the project folder (default: this script's project)")
    args = parser.parse_args()
    root: Path = args.root
    modules = sorted(p for room in ("bot", "jobs", "state") for p in (root / room).rglob("*.py"))
    sizes = sorted(((len(p.read_text(encoding="utf-8").splitlines()),
                     p.relative_to(root).as_posix()) for p in modules), reverse=True)
    print("Largest modules of bot, jobs and state (lines):")
    for lines, module in sizes[:args.top]:
        print(f"  {lines:5d}  {module}")

    edges, broken = rules(root)
    print("\nImports between rooms (from -> to: modules):")
    for (source, target), names in sorted(edges.items()):
        print(f"  {source:7s} -> {target:7s} {len(names):3d}: {', '.join(sorted(names))}")
    print(f"\nRules broken: {len(broken)}")
    for line in broken:
        print(f"  {line}")
    return 1 if broken and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
