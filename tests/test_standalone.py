"""The project stands alone: a copy of its files with nothing beside it runs the demo.

A clone from a forge has no reference folder next to it and an installed package has
none either, so the tests run the code from a copy of the repository's files in an empty
temporary folder, from another working folder and with ``HOME`` there too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.altium.resolvers import (
    BUNDLED_SCHEMA,
    SCHEMA_ENV,
    default_schema_path,
    executable_schema,
)

ROOT = Path(__file__).resolve().parents[1]


def _project_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    return [name for name in listed.stdout.splitlines() if (ROOT / name).is_file()]


def _clean_env(home: Path, copy: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("NEXAR_", "REVIEW_BOT_", "SLACK_", "PYTHON"))}
    return {**keep, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
            "PYTHONPATH": str(copy)}


@pytest.fixture(scope="module")
def lone_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository's files alone in an empty folder: no sibling, no parent of ours."""
    copy = tmp_path_factory.mktemp("lone") / "proj"
    for name in _project_files():
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    return copy


def test_the_schema_ships_inside_the_package_with_its_licence() -> None:
    assert BUNDLED_SCHEMA.is_file()
    assert BUNDLED_SCHEMA.parent == Path(executable_schema.__code__.co_filename).parent
    notice = BUNDLED_SCHEMA.with_name("NEXAR-SCHEMA-LICENSE").read_text(encoding="utf-8")
    assert "MIT License" in notice and "NexarDeveloper/web-design-demo-blazor" in notice
    if not os.environ.get(SCHEMA_ENV):
        assert default_schema_path() == BUNDLED_SCHEMA


def test_the_schema_override_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "newer.graphql"
    other.write_text(BUNDLED_SCHEMA.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv(SCHEMA_ENV, str(other))
    assert default_schema_path() == other
    monkeypatch.setenv(SCHEMA_ENV, str(tmp_path / "missing.graphql"))
    with pytest.raises(FileNotFoundError, match=f"{SCHEMA_ENV} names"):
        executable_schema()


def test_nothing_reaches_outside_the_repository() -> None:
    sibling = ".." + "/shared"
    machine = "/" + "work/"
    offenders = []
    for name in _project_files():
        path = ROOT / name
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        if sibling in text or machine in text:
            offenders.append(name)
    assert offenders == []


def test_a_lone_copy_runs_the_demo_from_another_folder(lone_copy: Path,
                                                       tmp_path: Path) -> None:
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    env = _clean_env(home, lone_copy)
    where = subprocess.run([sys.executable, "-c", "import bot, sandbox; "
                            "print(bot.__file__); print(sandbox.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    assert all(line.startswith(str(lone_copy)) for line in where.stdout.split()), where.stdout
    done = subprocess.run([sys.executable, "-c", "from bot.cli import main; main()", "demo"],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "#design-review" in done.stdout and "Now tracking" in done.stdout
    assert done.stderr == ""
    assert list(elsewhere.iterdir()) == [] and not (home / ".config").exists()
