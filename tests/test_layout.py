"""The layout's rules hold: each room imports only what its side may (``bench/rooms.py``)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
ROOMS = ROOT / "bench" / "rooms.py"
STATE = ROOT / "state"
ALLOWED = {"__future__", "state", "sqlite_utils", *sys.stdlib_module_names}


@pytest.mark.parametrize("module", sorted(p.name for p in STATE.glob("*.py")))
def test_state_imports_only_state_sqlite_utils_and_the_standard_library(module: str) -> None:
    tree = ast.parse((STATE / module).read_text(encoding="utf-8"))
    roots = {(n.module or "").split(".")[0] for n in ast.walk(tree)
             if isinstance(n, ast.ImportFrom) and n.level == 0}
    roots |= {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
              for a in n.names}
    assert roots <= ALLOWED, roots - ALLOWED


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOMS), "--check", "--root", str(root)],
                          capture_output=True, text=True, timeout=60)


def test_every_rule_of_the_layout_holds() -> None:
    result = check(ROOT)
    assert result.returncode == 0, result.stdout
    assert "Rules broken: 0" in result.stdout


BREAKS = {
    "state/clock.py": ("from bot.cli import main\n", "state imports bot.cli"),
    "jobs/poll.py": ("import slack_sdk\n", "jobs imports slack_sdk"),
    "jobs/nexar.py": ("from bot.app import build_app\n", "jobs imports bot.app"),
    "bot/config.py": ("import httpx\n", "bot has an HTTP client of its own"),
    "bot/slack/client.py": ("import httpx\n", "bot has an HTTP client of its own"),
    "bot/run.py": ("import sandbox\n", "more than one production module imports sandbox"),
    "bot/cli/events.py": ("QUERY = 'select * from events'\n", "SQL outside state"),
    "bot/service.py": ("def f(store): return store.rows('')\n", "SQL outside state"),
    "jobs/records.py": ("import sqlite_utils\n", "SQL outside state (imports sqlite_utils)"),
    "bot/listeners/home.py": (None, "a listener module without register(app)"),
}


@pytest.mark.parametrize("module", sorted(BREAKS))
def test_the_check_finds_each_kind_of_break(tmp_path: Path, module: str) -> None:
    for room in ("bot", "jobs", "state", "sandbox"):
        shutil.copytree(ROOT / room, tmp_path / room,
                        ignore=shutil.ignore_patterns("__pycache__"))
    line, said = BREAKS[module]
    target = tmp_path / module
    text = target.read_text(encoding="utf-8")
    text = text.replace("def register(", "def registered(") if line is None else text + line
    target.write_text(text, encoding="utf-8")
    result = check(tmp_path)
    assert result.returncode == 1
    assert said in result.stdout


def test_httpx_is_allowed_in_the_webhook_sender_only(tmp_path: Path) -> None:
    for room in ("bot", "jobs", "state", "sandbox"):
        shutil.copytree(ROOT / room, tmp_path / room,
                        ignore=shutil.ignore_patterns("__pycache__"))
    sender = tmp_path / "bot" / "webhooks" / "extra.py"
    sender.write_text("import httpx\nfrom httpx import Client\n", encoding="utf-8")
    assert check(tmp_path).returncode == 0
    (tmp_path / "bot" / "webhooks_elsewhere.py").write_text("import httpx\n", encoding="utf-8")
    result = check(tmp_path)
    assert result.returncode == 1
    assert "bot/webhooks_elsewhere.py: bot has an HTTP client of its own" in result.stdout
