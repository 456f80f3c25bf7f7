"""Fixtures for driving ``review-bot`` as a user would: a real subprocess, a real sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from sandbox import AltiumSandbox

REVIEW_BOT = Path(sys.executable).with_name("review-bot")

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def bot_env(altium: AltiumSandbox, db_path: Path) -> dict[str, str]:
    """The environment an operator sets, pointed at the sandbox."""
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("NEXAR_", "REVIEW_BOT_", "SLACK_"))}
    return {**keep, "NEXAR_API_URL": altium.api_url, "NEXAR_TOKEN": altium.token,
            "REVIEW_BOT_DB": str(db_path)}


@pytest.fixture
def run(bot_env: dict[str, str], tmp_path: Path) -> Run:
    """Run ``review-bot ARGS`` in a scratch folder and return the finished process."""

    def run(*args: str, env: Mapping[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(REVIEW_BOT), *args], env={**bot_env, **(env or {})},
                              cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
                              check=False)

    return run
