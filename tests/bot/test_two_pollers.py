"""Two ``review-bot poll --once`` on one database, as a cron job beside a replica would run
them: every change is recorded once, and the one that does not poll says who does."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from sandbox import AltiumSandbox, SlackSandbox
from sandbox.scenario import PROJECT
from state.claims import Lease
from state.clock import stamp, utc_now
from state.store import Store
from tests.bot.conftest import REVIEW_BOT, Run
from tests.conftest import wait_for

IOT = "IoT Sensor Node"
ROUNDS = 4
LATENCY = 0.3
"""Seconds the local Altium 365 takes per answer: a poll then lasts over a second, so the
two processes, released together, always overlap."""
NO_SLACK = {"SLACK_BOT_TOKEN": ""}
HELD = re.compile(r"^Another poller holds this database: pid (\d+) on (\S+) since "
                  r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC; it does this poll\.$", re.M)
ROUND_KINDS = Counter({"thread_opened": 1, "thread_replied": 2, "part_replaced": 2,
                       "revision_committed": 1})


def review_round(altium: AltiumSandbox, n: int) -> None:
    """New threads, replies, a part swap in both variants and a revision: all new keys."""
    number, _ = altium.open_thread(PROJECT, author="bob.schmidt", text=f"Round {n}: is C{n} ok?")
    altium.reply(PROJECT, number, author="carla.rossi", text=f"Round {n}: yes")
    altium.reply(IOT, 1, author="dev.patel", text=f"Round {n}: checked")
    altium.swap_part(PROJECT, "U3", mpn=f"TPS6214{n}RGTR", manufacturer="Texas Instruments")
    altium.commit_revision(PROJECT, message=f"Round {n}", author="alice.nguyen")


def change_key(row: Mapping[str, object]) -> tuple[object, ...]:
    """What makes an event one change, whenever a poll saw it."""
    return tuple(row[k] for k in ("kind", "project_id", "thread_id", "comment_id", "variant",
                                  "designator", "new_mpn", "revision_id"))


LAUNCH = """
import sys, time
from pathlib import Path
from bot.cli import main
ready, go = Path(sys.argv[1]), Path(sys.argv[2])
ready.touch()
while not go.exists():
    time.sleep(0.001)
main(sys.argv[3:])
"""
"""``review-bot ARGS`` as its console script runs it, once ``go`` exists: every process has
started and imported before any of them begins, so they all begin within milliseconds."""


def start_ready(env: Mapping[str, str], cwd: Path, barrier: Path, *args: str,
                count: int = 1) -> list[subprocess.Popen[str]]:
    """Start ``count`` processes of ``review-bot ARGS``, each waiting at ``barrier`` once
    its imports are done; ``release(barrier)`` lets them all begin."""
    barrier.mkdir()
    readies = [barrier / f"ready-{n}" for n in range(count)]
    processes = [subprocess.Popen([sys.executable, "-c", LAUNCH, str(ready), str(barrier / "go"),
                                   *args], env=dict(env), cwd=cwd, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for ready in readies]
    try:
        wait_for(lambda: all(r.exists() for r in readies), timeout=60)
    except AssertionError:
        for process in processes:
            process.kill()
            process.wait()
        raise
    return processes


def release(barrier: Path) -> None:
    (barrier / "go").touch()


def finished(processes: list[subprocess.Popen[str]]
             ) -> list[tuple[int, subprocess.CompletedProcess[str]]]:
    """Wait for every process; each one's pid and what it did."""
    results = []
    for process in processes:
        try:
            out, err = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        results.append((process.pid, subprocess.CompletedProcess(process.args,
                                                                 process.returncode, out, err)))
    return results


def poll_together(env: Mapping[str, str], cwd: Path,
                  barrier: Path) -> list[tuple[int, subprocess.CompletedProcess[str]]]:
    """Two ``poll --once`` released together; each one's pid and what it did."""
    processes = start_ready({**env, **NO_SLACK}, cwd, barrier, "poll", "--once", count=2)
    release(barrier)
    return finished(processes)


def lease_row(db_path: Path) -> dict[str, object] | None:
    with Store.open(db_path) as store:
        rows = store.rows("select * from leases")
    return rows[0] if rows else None


def test_two_polls_at_once_record_every_change_once_and_the_second_says_who_polls(
        run: Run, altium: AltiumSandbox, bot_env: dict[str, str], db_path: Path,
        tmp_path: Path) -> None:
    for project in (PROJECT, IOT):
        assert run("subscribe", project, "#hw-review").returncode == 0
    assert run("poll", "--once", env=NO_SLACK).returncode == 0
    altium.faults.latency(LATENCY)
    for n in range(ROUNDS):
        with Store.open(db_path) as store:
            mark = store.rows("select coalesce(max(id), 0) as id from events")[0]["id"]
        review_round(altium, n)
        results = poll_together(bot_env, tmp_path, tmp_path / f"barrier-{n}")
        for _, result in results:
            assert result.returncode == 0, result.stderr
            assert "Traceback" not in result.stderr and "locked" not in result.stderr
        told = [(pid, HELD.fullmatch(r.stdout.strip())) for pid, r in results]
        waited = [match for _, match in told if match]
        polled = [(pid, r) for pid, r in results if not HELD.search(r.stdout)]
        assert len(waited) == len(polled) == 1, [r.stdout for _, r in results]
        assert waited[0].group(1) == str(polled[0][0])
        assert "Polled 2 project(s)" in polled[0][1].stdout
        with Store.open(db_path) as store:
            found = store.rows("select * from events where id > ?", [mark])
        assert Counter(r["kind"] for r in found) == ROUND_KINDS, f"round {n}"
    with Store.open(db_path) as store:
        keys = Counter(change_key(r) for r in store.rows("select * from events"))
    assert max(keys.values()) == 1, [k for k, c in keys.items() if c > 1]


def test_a_killed_pollers_lease_is_named_then_taken_over_after_its_timeout(
        run: Run, altium: AltiumSandbox, bot_env: dict[str, str], db_path: Path,
        tmp_path: Path) -> None:
    for project in (PROJECT, IOT):
        assert run("subscribe", project, "#hw-review").returncode == 0
    assert run("poll", "--once", env=NO_SLACK).returncode == 0
    with Store.open(db_path) as store:
        mark = store.rows("select max(id) as id from events")[0]["id"]
    # The shortest poll interval: heartbeats every second, a silent lease taken over after 3 s.
    env = {**bot_env, **NO_SLACK, "REVIEW_BOT_POLL_INTERVAL": "10"}
    altium.faults.latency(LATENCY)
    review_round(altium, 0)
    holder = start_ready(env, tmp_path, tmp_path / "holder", "poll", "--once")[0]
    waiter = start_ready(env, tmp_path, tmp_path / "waiter", "poll", "--once")[0]
    release(tmp_path / "holder")
    try:
        wait_for(lambda: (lease_row(db_path) or {}).get("pid") == holder.pid
                 or holder.poll() is not None)
        assert holder.poll() is None, holder.communicate()
    finally:
        holder.kill()
        holder.communicate()
    release(tmp_path / "waiter")
    [(_, told)] = finished([waiter])
    assert told.returncode == 0 and told.stderr == "", told.stderr
    said = HELD.fullmatch(told.stdout.strip())
    assert said is not None and said.group(1) == str(holder.pid), told.stdout

    row = lease_row(db_path)
    assert row is not None and row["pid"] == holder.pid, "a killed holder leaves its lease"
    wait_for(lambda: stamp(utc_now()) > str(row["expires_at"]), timeout=10)
    taker = run("poll", "--once", env=env)
    assert taker.returncode == 0 and taker.stdout.startswith("Polled 2 project(s)"), taker
    assert lease_row(db_path) is None, "the taker gave the lease back when it finished"
    with Store.open(db_path) as store:
        found = store.rows("select * from events where id > ?", [mark])
        keys = Counter(change_key(r) for r in store.rows("select * from events"))
    assert Counter(r["kind"] for r in found) == ROUND_KINDS
    assert max(keys.values()) == 1


def test_run_skips_its_poll_while_another_poller_holds_the_lease_then_polls(
        run: Run, altium: AltiumSandbox, slack: SlackSandbox, bot_env: dict[str, str],
        db_path: Path, tmp_path: Path) -> None:
    assert run("subscribe", PROJECT, "#design-review").returncode == 0
    env = {**bot_env, "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.api_url,
           "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5", "PORT": "0",
           "REVIEW_BOT_POLL_INTERVAL": "10", "REVIEW_BOT_POST_INTERVAL": "0",
           "PYTHONUNBUFFERED": "1"}
    with Store.open(db_path) as store:
        cron = Lease(store, clock=utc_now, timeout=timedelta(hours=1))  # this process polls
        assert cron.acquire() is None
        process = subprocess.Popen([str(REVIEW_BOT), "run"], env=env, cwd=tmp_path,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: list[str] = []

        def read() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                lines.append(line)

        reader = threading.Thread(target=read)
        reader.start()
        try:
            skipped = (f"poll: skipped, another poller holds this database: pid {os.getpid()} "
                       f"on {socket.gethostname()} since ")
            wait_for(lambda: any(skipped in line for line in lines) or process.poll() is not None)
            assert slack.messages("#design-review") == []
            cron.release()
            wait_for(lambda: any("poll: 1 projects" in line for line in lines)
                     or process.poll() is not None, timeout=30)
            wait_for(lambda: len(slack.messages("#design-review")) == 1)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            reader.join(timeout=10)
    said = "".join(lines)
    assert process.returncode == 0, said
    assert "Now tracking" in str(slack.messages("#design-review")[0].blocks)
    assert sum(skipped in line for line in lines) >= 1
    assert not [line for line in lines if " ERROR " in line or " WARNING " in line], said
    assert "Traceback" not in said
