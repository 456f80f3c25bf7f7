"""Fixtures for driving ``review-bot`` as a user would: a real subprocess, a real sandbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from sandbox import AltiumSandbox
from tests.conftest import wait_for

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


@dataclass(frozen=True)
class Served:
    """What ``review-bot run`` printed: its first line, the rest of stdout, and stderr."""

    first: str
    rest: str
    err: str
    returncode: int


def serve_until(env: Mapping[str, str], cwd: Path, done: Callable[[], bool]) -> Served:
    """Start ``review-bot run``, wait for its first line and then for ``done``, stop it with
    SIGTERM as a service manager would, and return what it printed."""
    process = subprocess.Popen([str(REVIEW_BOT), "run"], env={**env, "PYTHONUNBUFFERED": "1"},
                               cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        if process.poll() is None and first:
            wait_for(done)
            process.send_signal(signal.SIGTERM)
        rest, err = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return Served(first=first, rest=rest, err=err, returncode=process.returncode)


def finish(process: subprocess.Popen[str], timeout: float = 30) -> tuple[str, str]:
    """Wait for ``process`` and return the rest of its stdout and its stderr.

    Unlike ``communicate()``, which reads the pipes' file descriptors itself, this keeps
    what an earlier ``readline()`` already buffered; a process still running after
    ``timeout`` is killed and ``TimeoutExpired`` raised, as ``communicate`` would.
    """
    read: dict[str, str] = {}

    def drain(name: str, stream: IO[str] | None) -> None:
        read[name] = stream.read() if stream is not None else ""

    readers = [threading.Thread(target=drain, args=(name, stream), daemon=True)
               for name, stream in (("out", process.stdout), ("err", process.stderr))]
    for reader in readers:
        reader.start()
    try:
        process.wait(timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    for reader in readers:
        reader.join(10)
    return read.get("out", ""), read.get("err", "")
