"""The rooms of the code and the imports between them: a map anyone can re-run.

Prints the largest modules by lines, and every import from one room (``bot``, ``jobs``,
``state``, ``sandbox``) into another, and checks the rules of the layout:

- ``state`` imports nothing of ours;
- ``jobs`` imports neither ``bot`` nor Slack's libraries (``slack_sdk``, ``slack_bolt``);
- ``bot`` has no HTTP client of its own for Nexar (no ``httpx`` in ``bot``);
- one production module imports ``sandbox`` (the demo).

With ``--check`` it exits 1 when a rule is broken. Run it from the project root:

    .venv/bin/python bench/rooms.py [--check] [--top 10]
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOMS = ("bot", "jobs", "state", "sandbox")
SLACK_LIBRARIES = ("slack_sdk", "slack_bolt")


def imports(path: Path) -> set[str]:
    """The top-level names of every module ``path`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a rule is broken")
    parser.add_argument("--top", type=int, default=10, help="how many of the largest modules")
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    modules = sorted(p for room in ROOMS for p in (root / room).rglob("*.py"))
    sizes = sorted(((len(p.read_text(encoding="utf-8").splitlines()), p.relative_to(root))
                    for p in modules if not p.is_relative_to(root / "sandbox")), reverse=True)
    print("Largest modules of bot, jobs and state (lines):")
    for lines, module in sizes[:args.top]:
        print(f"  {lines:5d}  {module}")

    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    broken: list[str] = []
    sandbox_users: list[str] = []
    for path in modules:
        room = path.relative_to(root).parts[0]
        name = str(path.relative_to(root))
        for target in imports(path):
            top = target.split(".")[0]
            if top in ROOMS and top != room:
                edges[(room, top)].add(name)
            if room == "state" and top in ROOMS and top != "state":
                broken.append(f"{name}: state imports {target}")
            if room == "jobs" and (top == "bot" or top in SLACK_LIBRARIES):
                broken.append(f"{name}: jobs imports {target}")
            if room == "bot" and top == "httpx":
                broken.append(f"{name}: bot has an HTTP client of its own ({target})")
            if room != "sandbox" and top == "sandbox":
                sandbox_users.append(name)
    if len(set(sandbox_users)) > 1:
        broken.append(f"more than one production module imports sandbox: "
                      f"{', '.join(sorted(set(sandbox_users)))}")

    print("\nImports between rooms (from -> to: modules):")
    for (source, target), names in sorted(edges.items()):
        print(f"  {source:7s} -> {target:7s} {len(names):3d}: {', '.join(sorted(names))}")
    print(f"\nRules broken: {len(broken)}")
    for line in broken:
        print(f"  {line}")
    return 1 if broken and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
