"""Fixtures shared by every test package."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jobs.nexar import NexarClient, RetryPolicy
from sandbox import AltiumSandbox, SlackSandbox
from state.store import Store


@pytest.fixture(autouse=True, scope="session")
def ctrl_c_reaches_children() -> None:
    """Let the CLI subprocesses the tests interrupt hear SIGINT as they would in a terminal.

    A shell that starts a job in the background (``pytest &``, some CI runners) makes it
    ignore SIGINT, and children inherit that, so a test's Ctrl-C would never arrive. A
    handler here is reset to the default in every child that is started.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def wait_for(check: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll ``check`` until it holds (answers from lazy listeners arrive on other threads)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "review-bot.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    with Store.open(db_path) as opened:
        yield opened


@pytest.fixture
def altium() -> Iterator[AltiumSandbox]:
    """A fresh local Altium 365 with the demo workspaces, served on 127.0.0.1."""
    with AltiumSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def sb(clock: FakeClock) -> Iterator[AltiumSandbox]:
    """A local Altium 365 whose activity and token expiry follow the test's fake clock."""
    with AltiumSandbox(clock=clock) as sandbox:
        yield sandbox


@pytest.fixture
def sleeps() -> list[float]:
    """Every back-off the client asked for, instead of sleeping through it."""
    return []


@pytest.fixture
def client(altium: AltiumSandbox, sleeps: list[float]) -> Iterator[NexarClient]:
    with NexarClient(token=altium.token, api_url=altium.api_url, retry=RetryPolicy(attempts=3),
                     sleep=sleeps.append, timeout=5.0) as nexar:
        yield nexar


@pytest.fixture
def slack() -> Iterator[SlackSandbox]:
    """A fresh local Slack workspace, served on 127.0.0.1."""
    with SlackSandbox() as sandbox:
        yield sandbox


@contextmanager
def warm_processes(script: str, count: int, *args: str, env: Mapping[str, str] | None = None,
                   cwd: Path | None = None) -> Iterator[Callable[[Path], list[str]]]:
    """``count`` Python processes running ``script``, each past its imports and waiting; the
    function it yields hands them all one path at once (they begin within milliseconds,
    where fresh start-ups would scatter by tens) and returns each one's answer line.

    ``script`` prints ``ready``, then answers one line per path read from stdin.
    """
    processes = [subprocess.Popen([sys.executable, "-c", script, *args],
                                  env=dict(env) if env is not None else None, cwd=cwd,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
                 for _ in range(count)]

    def release(path: Path) -> list[str]:
        for process in processes:
            assert process.stdin is not None
            process.stdin.write(f"{path}\n")
            process.stdin.flush()
        answers = []
        for process in processes:
            assert process.stdout is not None
            answers.append(process.stdout.readline().strip())
        return answers

    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready", process.communicate()
        yield release
        for process in processes:
            _, err = process.communicate(timeout=30)
            assert process.returncode == 0 and err == "", err
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
