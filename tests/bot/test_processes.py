"""Several ``review-bot`` processes on one database: every change recorded once, posted once.

Real subprocesses against the local Altium 365 and Slack over HTTP, one SQLite file. Both
stand-ins answer slowly (a latency fault), so the processes started together are at work
together: two ``poll --once``, two ``deliver``, ``run`` beside a cron-style ``poll --once``.
And four processes, their imports done, released together on a fresh database, 40 times.
Before the poller's lease, the delivery claims and the locked migrations, each of these
failed every time: duplicated changes and posts, or three of four openers refused.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from sandbox import AltiumSandbox, SlackSandbox
from sandbox.scenario import PROJECT, play_review_round
from state.migrations import migrations
from state.outbox import Outbox
from state.store import Store
from tests.bot.conftest import REVIEW_BOT, Run
from tests.bot.test_run import start_run
from tests.conftest import warm_processes

OTHER = "IoT Sensor Node"
FRESH_TRIALS = 40
NEXAR_LATENCY = 0.1
SLACK_LATENCY = 0.05
LOCKED = re.compile(r"database\b.*\bis locked", re.IGNORECASE)
EVENT_IDENTITY = ("kind", "project_id", "thread_id", "comment_id", "variant", "designator",
                  "new_mpn", "fitted", "revision_id")
"""What makes an event one change: the same change recorded twice has all of these equal."""


@dataclass(frozen=True)
class Finished:
    """One subprocess: what it was asked, what it said, when it started and ended."""

    args: tuple[str, ...]
    pid: int
    returncode: int
    out: str
    err: str
    started: float
    ended: float


def together(env: Mapping[str, str], cwd: Path, *commands: Sequence[str],
             timeout: float = 60) -> list[Finished]:
    """Start every command at once as ``review-bot`` subprocesses, then wait for them all."""
    started = time.monotonic()
    processes = [subprocess.Popen([str(REVIEW_BOT), *args], env=dict(env), cwd=cwd,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for args in commands]

    def finish(pair: tuple[Sequence[str], subprocess.Popen[str]]) -> Finished:
        args, process = pair
        try:
            out, err = process.communicate(timeout=timeout)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        return Finished(tuple(args), process.pid, process.returncode, out, err, started,
                        time.monotonic())

    with ThreadPoolExecutor(len(processes)) as pool:
        return list(pool.map(finish, zip(commands, processes, strict=True)))


def overlapped(done: Sequence[Finished]) -> bool:
    """Whether every process was still running when the last one was started."""
    return min(f.ended for f in done) > max(f.started for f in done)


def assert_clean(done: Finished | subprocess.CompletedProcess[str], *,
                 returncode: int = 0) -> None:
    """Exit code as expected; no traceback and no locked database in anything it said."""
    if isinstance(done, Finished):
        code, said = done.returncode, done.out + done.err
    else:
        code, said = done.returncode, done.stdout + done.stderr
    assert code == returncode, said
    assert "Traceback" not in said, said
    assert not LOCKED.search(said), said


def assert_polled_or_named_holder(done: Sequence[Finished]) -> None:
    """Each poller polled, or said in one line which process holds the poll (and exited 0)."""
    pids = {str(f.pid) for f in done}
    for finished in done:
        assert_clean(finished)
        if "Polled " in finished.out:
            continue
        others = pids - {str(finished.pid)}
        said = [line for line in (finished.out + finished.err).splitlines() if line.strip()]
        assert any(any(pid in line for pid in others) for line in said), said


def events(run: Run) -> list[dict[str, Any]]:
    done = run("events", "--json")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def duplicate_events(logged: Iterable[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """Changes the log holds more than once."""
    seen = Counter(tuple(e[name] for name in EVENT_IDENTITY) for e in logged)
    return [identity for identity, count in seen.items() if count > 1]


def duplicate_posts(slack: SlackSandbox) -> list[tuple[str, str]]:
    """(channel, key) of every post Slack received more than once."""
    keys = Counter((m.channel, m.metadata["event_payload"]["key"]) for m in slack.all_posts()
                   if m.metadata)
    return [key for key, count in keys.items() if count > 1]


def posted_keys(slack: SlackSandbox) -> set[tuple[str, str]]:
    return {(m.channel, m.metadata["event_payload"]["key"]) for m in slack.all_posts()
            if m.metadata}


def assert_all_delivered_once(db_path: Path, slack: SlackSandbox) -> None:
    """Nothing owed is left, and each channel got each post exactly once."""
    assert duplicate_posts(slack) == []
    with Store.open(db_path) as store:
        assert Outbox(store).undelivered() == 0
        owed = store.rows("select channel, post_key from deliveries")
        unwelcomed = store.rows("select id from subscriptions where welcomed = 0")
        channels = {r["channel"]: r["id"] for r in store.rows(
            "select name as channel, id from slack_channels")}
    assert owed and unwelcomed == []
    keys = posted_keys(slack)
    assert all((channels[r["channel"]], r["post_key"]) in keys for r in owed), owed


def slack_env(bot_env: Mapping[str, str], slack: SlackSandbox) -> dict[str, str]:
    return {**bot_env, "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.api_url,
            "REVIEW_BOT_POST_INTERVAL": "0"}


def review(altium: AltiumSandbox, step: int) -> set[str]:
    """A round of review on both projects, none of its changes like another round's;
    returns the ids of the threads it opened."""
    opened = set()
    for project, swapped in ((PROJECT, "R17"), (OTHER, "R3")):
        _, thread_id = altium.open_thread(project, author="bob.schmidt",
                                          text=f"Round {step}: is {swapped} rated for 1 W?")
        opened.add(thread_id)
        altium.reply(project, 1, author="carla.rossi", text=f"Round {step}: checked again.")
        altium.swap_part(project, swapped, mpn=f"RC0603-R{step}", manufacturer="Yageo")
    altium.commit_revision(PROJECT, message=f"Round {step} fixes", author="alice.nguyen")
    return opened


def assert_each_change_once(logged: Sequence[Mapping[str, Any]], opened: set[str]) -> None:
    assert duplicate_events(logged) == []
    created = Counter(e["project"] for e in logged if e["kind"] == "project_created")
    assert created == {PROJECT: 1, OTHER: 1}
    threads = Counter(e["thread_id"] for e in logged if e["kind"] == "thread_opened")
    assert opened <= set(threads) and max(threads.values()) == 1


def test_two_pollers_at_once_record_and_post_each_change_once(
        run: Run, altium: AltiumSandbox, slack: SlackSandbox, bot_env: dict[str, str],
        db_path: Path, tmp_path: Path) -> None:
    for project, channel in ((PROJECT, "#design-review"), (PROJECT, "#hw-review"),
                             (OTHER, "#design-review")):
        assert run("subscribe", project, channel).returncode == 0
    env = slack_env(bot_env, slack)
    altium.faults.latency(NEXAR_LATENCY)
    slack.faults.latency(SLACK_LATENCY)
    opened: set[str] = set()
    held = 0
    for step in range(4):
        if step == 1:
            play_review_round(altium)
        if step >= 1:
            opened |= review(altium, step)
        pair = together(env, tmp_path, ("poll", "--once"), ("poll", "--once"))
        assert overlapped(pair), pair
        assert_polled_or_named_holder(pair)
        held += sum("Polled " not in f.out for f in pair)
    altium.faults.clear()
    slack.faults.clear()

    # A poll alone afterwards finds nothing new: every change was recorded, and once.
    alone = run("poll", "--once", env=env)
    assert_clean(alone)
    assert "0 new event(s)" in alone.stdout and "Delivered 0 Slack post(s)" in alone.stdout
    logged = events(run)
    assert_each_change_once(logged, opened)
    assert sum(e["kind"] == "part_replaced" for e in logged) >= 12
    assert_all_delivered_once(db_path, slack)
    assert held >= 1, "the two pollers never met: one of them always finished first"


def test_two_deliverers_at_once_post_a_backlog_once_per_channel(
        run: Run, altium: AltiumSandbox, slack: SlackSandbox, bot_env: dict[str, str],
        db_path: Path, tmp_path: Path) -> None:
    slack.add_channel("layout")
    for project, channel in ((PROJECT, "#design-review"), (PROJECT, "#hw-review"),
                             (PROJECT, "#layout"), (OTHER, "#design-review"),
                             (OTHER, "#layout")):
        assert run("subscribe", project, channel).returncode == 0
    no_slack = {"SLACK_BOT_TOKEN": ""}
    assert run("poll", "--once", env=no_slack).returncode == 0
    env = slack_env(bot_env, slack)
    slack.faults.latency(SLACK_LATENCY)
    for step in range(3):
        if step == 0:
            play_review_round(altium)
        for n in range(6):
            number, _ = altium.open_thread(OTHER, author="bob.schmidt", text=f"Q{step}.{n}")
            altium.reply(OTHER, number, author="carla.rossi", text=f"A{step}.{n}")
        review(altium, step + 1)
        assert run("poll", "--once", env=no_slack).returncode == 0
        pair = together(env, tmp_path, ("deliver",), ("deliver",))
        assert overlapped(pair), pair
        for finished in pair:
            assert_clean(finished)
        assert duplicate_posts(slack) == [], step
    slack.faults.clear()
    last = run("deliver", env=env)
    assert_clean(last)
    assert "Delivered 0 Slack post(s)" in last.stdout, last.stdout
    assert_all_delivered_once(db_path, slack)
    assert len(slack.all_posts()) > 60


class Served:
    """``review-bot run``'s output, read as it comes, so its polls can be counted."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                         for stream, lines in ((process.stdout, self.out),
                                               (process.stderr, self.err))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    def polls(self) -> int:
        return sum(" bot.health: poll" in line for line in list(self.err))

    def stop(self) -> tuple[int, str]:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        for reader in self._readers:
            reader.join(timeout=5)
        return self.process.returncode, "".join(self.out + self.err)


def test_run_beside_a_cron_poll_records_and_posts_each_change_once(
        run: Run, altium: AltiumSandbox, slack: SlackSandbox, bot_env: dict[str, str],
        db_path: Path, tmp_path: Path) -> None:
    for project, channel in ((PROJECT, "#design-review"), (OTHER, "#hw-review")):
        assert run("subscribe", project, channel).returncode == 0
    # The baseline first: what exists at the first poll is never announced as new.
    assert run("poll", "--once", env={"SLACK_BOT_TOKEN": ""}).returncode == 0
    env = slack_env(bot_env, slack)
    altium.faults.latency(3 * NEXAR_LATENCY)
    slack.faults.latency(SLACK_LATENCY)
    served = Served(start_run(bot_env, slack, tmp_path)[0])
    opened: set[str] = set()
    cron: list[subprocess.CompletedProcess[str]] = []
    try:
        # Cron polls back to back while run polls at 0 s, 10 s and 20 s: each of run's
        # polls meets one, and each cron poll has a change of its own to find.
        deadline = time.monotonic() + 45
        while served.polls() < 3 and time.monotonic() < deadline:
            opened |= review(altium, len(cron) + 1)
            cron.append(run("poll", "--once", env=env))
            assert served.process.poll() is None, "".join(served.out + served.err)
    finally:
        code, said = served.stop()
    assert served.polls() >= 3, said
    assert code == 0 and "Stopped." in said, said
    assert "Traceback" not in said and not LOCKED.search(said), said
    assert len(cron) >= 4
    pid = str(served.process.pid)
    for done in cron:
        assert_clean(done)
        assert "Polled " in done.stdout or pid in done.stdout + done.stderr, done
    altium.faults.clear()
    slack.faults.clear()

    alone = run("poll", "--once", env=env)
    assert_clean(alone)
    assert run("poll", "--once", env=env).stdout.startswith("Polled 2 project(s): 0 new")
    assert_each_change_once(events(run), opened)
    assert_all_delivered_once(db_path, slack)
    # They met: a cron poll found run polling, or run found a cron poll at work.
    held = sum("Polled " not in done.stdout for done in cron)
    skipped = served.polls() - len(re.findall(r" bot\.health: poll: \d+ projects", said))
    assert held + skipped >= 1, f"run and the cron polls never met: {said}"


OPENER = """
import io, json, sys
from contextlib import redirect_stderr, redirect_stdout
from bot.cli import main
print("ready", flush=True)
for line in sys.stdin:
    out, err, code = io.StringIO(), io.StringIO(), 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main(["--db", line.strip(), *sys.argv[1:]])
        except SystemExit as exc:
            code = exc.code
    print(json.dumps({"code": code, "out": out.getvalue(), "err": err.getvalue()}), flush=True)
"""
"""``review-bot ARGS --db PATH`` for each PATH read from stdin, its imports done beforehand,
each run's exit code and output answered as one JSON line."""


@contextmanager
def openers(env: Mapping[str, str], cwd: Path, count: int,
            *args: str) -> Iterator[Callable[[Path], list[dict[str, Any]]]]:
    """``count`` processes ready to run ``review-bot ARGS``; the function it yields releases
    them all at once on one database and returns what each answered."""
    with warm_processes(OPENER, count, *args, env=env, cwd=cwd) as release:
        yield lambda path: [json.loads(answer) for answer in release(path)]


def test_four_processes_opening_a_fresh_database_all_succeed_and_migrate_once(
        bot_env: dict[str, str], tmp_path: Path) -> None:
    everything = [m.name for m in migrations.pending(Database(memory=True))]
    failed: list[str] = []
    with openers(bot_env, tmp_path, 4, "subscriptions") as release:
        for trial in range(FRESH_TRIALS):
            fresh = tmp_path / f"fresh-{trial}.db"
            for answer in release(fresh):
                if answer["code"] not in (0, None) or answer["err"] or not answer[
                        "out"].startswith("No subscriptions."):
                    failed.append(answer["err"] or answer["out"])
            with Store.open(fresh) as store:
                applied = [r["name"] for r in store.rows(
                    "select name from _sqlite_migrations order by rowid")]
            assert applied == everything, (trial, applied)
    assert failed == [], f"{len(failed)} of {4 * FRESH_TRIALS} failed: {failed[:3]}"
