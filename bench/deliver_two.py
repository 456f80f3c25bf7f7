"""Benchmark of delivery with two ``review-bot deliver`` processes against one, same backlog.

Builds a backlog on the demo workspace: the Motor Controller project followed by
``--channels`` channels (default 10), a baseline poll and the channels' welcomes posted,
then ``--posts // --channels`` new comment threads (default 20) polled into the outbox,
each owed to every channel: ``--posts`` posts in all (default 200). Then it times, over
real HTTP to the local Slack:

- one ``review-bot deliver`` draining the backlog;
- two started at once on a copy of the same backlog (a fresh sandbox and database built
  the same way);

and the same two runs with twice as many threads owed to one channel only (default 40
posts), where Slack's pace per channel is the only limit.

Slack is paced as the real one is: each deliverer waits ``--interval`` seconds between two
posts to a channel (``REVIEW_BOT_POST_INTERVAL``, 1 s in production; default here 0.2 s to
keep the run short), the local Slack answers a channel posted to faster than that with 429
and ``Retry-After`` (a token bucket of 3), and every answer takes ``--latency`` seconds.

Per run: wall time from start to the last process's exit, posts Slack took, posts a second
(and per channel), duplicates (the same key posted twice to a channel; must be 0), 429
answers, and how many posts each process made. The ratio compares each two-process run
with the one-process run of its layout, measured in this same run. It ends with a
PASS/FAIL line per target: no duplicates and nothing left owed, in every run.

Run it from the project root:

    .venv/bin/python bench/deliver_two.py [--posts 200] [--channels 10] [--interval 0.2]
        [--latency 0.1]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from jobs.nexar import NexarClient
from jobs.poll import Poller, refresh_catalog
from sandbox import AltiumSandbox, SlackSandbox
from state.clock import stamp
from state.model import EVENT_GROUPS
from state.outbox import Outbox
from state.store import Store

REVIEW_BOT = Path(sys.executable).with_name("review-bot")
PROJECT = "Motor Controller"
BURST = 3
DELIVERED = re.compile(r"Delivered (\d+) Slack post")


@dataclass(frozen=True)
class Options:
    posts: int
    channels: int
    interval: float
    latency: float


@dataclass(frozen=True)
class Layout:
    """Where the backlog goes: ``channels`` channels, ``threads`` new threads each."""

    label: str
    channels: int
    threads: int

    @property
    def posts(self) -> int:
        return self.channels * self.threads


@dataclass(frozen=True)
class Measured:
    layout: Layout
    processes: int
    wall: float
    posts: int
    duplicates: int
    rate_limited: int
    left_owed: int
    per_process: tuple[int, ...]
    failures: tuple[str, ...]

    @property
    def rate(self) -> float:
        return self.posts / self.wall if self.wall else 0.0


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--posts", type=int, default=200, help="posts in the backlog (200)")
    parser.add_argument("--channels", type=int, default=10, help="channels they go to (10)")
    parser.add_argument("--interval", type=float, default=0.2,
                        help="seconds between posts to one channel (0.2; Slack's pace: 1)")
    parser.add_argument("--latency", type=float, default=0.1,
                        help="seconds every Slack answer takes (0.1)")
    args = parser.parse_args(argv)
    if args.channels < 2:
        parser.error("--channels must be at least 2")
    if args.posts < args.channels:
        parser.error("--posts must be at least --channels")
    if not 0 < args.interval <= 60:
        parser.error("--interval must be more than 0 and at most 60 seconds")
    if args.latency < 0:
        parser.error("--latency must not be negative")
    return Options(args.posts, args.channels, args.interval, args.latency)


def say(text: str) -> None:
    print(text, flush=True)


def now_text() -> str:
    return stamp(datetime.now(UTC))


def channel_names(count: int) -> list[str]:
    return [f"#bench-{n:02d}" for n in range(1, count + 1)]


def cli(env: Mapping[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(REVIEW_BOT), *args], env=dict(env), cwd=cwd,
                          capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"review-bot {' '.join(args)} failed: {done.stderr.strip()}")
    return done


def build_backlog(layout: Layout, altium: AltiumSandbox, slack: SlackSandbox,
                  db_path: Path, env: Mapping[str, str]) -> None:
    """Subscribe, baseline, welcomes posted; then ``layout.threads`` new threads recorded."""
    names = channel_names(layout.channels)
    for name in names:
        slack.add_channel(name)
    with NexarClient(token=altium.token, api_url=altium.api_url) as client, \
            Store.open(db_path) as store:
        refresh_catalog(client, store)
        project = store.find_project(PROJECT)
        for name in names:
            store.subscribe(project, name, EVENT_GROUPS, at=now_text())
        Poller(client=client, store=store).poll_once()
        cli(env, db_path.parent, "deliver")
        for n in range(layout.threads):
            altium.open_thread(PROJECT, author="bob.schmidt",
                               text=f"Bench question {n}: is this footprint right?")
        report = Poller(client=client, store=store).poll_once()
        if report.events != layout.threads or report.failures:
            raise RuntimeError(f"the backlog poll found {report.events} events, "
                               f"{report.failures or 'no failures'}")


def deliver_together(env: Mapping[str, str], cwd: Path,
                     count: int) -> tuple[float, list[subprocess.CompletedProcess[str]]]:
    """Start ``count`` ``review-bot deliver`` at once; wall time until the last exits."""
    started = time.perf_counter()
    processes = [subprocess.Popen([str(REVIEW_BOT), "deliver"], env=dict(env), cwd=cwd,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(count)]

    def finish(process: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
        out, err = process.communicate(timeout=600)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    with ThreadPoolExecutor(count) as pool:
        done = list(pool.map(finish, processes))
    return time.perf_counter() - started, done


def measure(layout: Layout, processes: int, options: Options) -> Measured:
    with tempfile.TemporaryDirectory(prefix="bench-deliver-") as folder, \
            AltiumSandbox() as altium, SlackSandbox() as slack:
        db_path = Path(folder) / "review-bot.db"
        keep = {k: v for k, v in os.environ.items()
                if not k.startswith(("NEXAR_", "REVIEW_BOT_", "SLACK_"))}
        env = {**keep, "NEXAR_API_URL": altium.api_url, "NEXAR_TOKEN": altium.token,
               "REVIEW_BOT_DB": str(db_path), "SLACK_BOT_TOKEN": slack.bot_token,
               "SLACK_API_URL": slack.api_url,
               "REVIEW_BOT_POST_INTERVAL": f"{options.interval:g}"}
        slack.enforce_post_rate(1 / options.interval, burst=BURST)
        build_backlog(layout, altium, slack, db_path, env)
        before = len(slack.all_posts())
        slack.reset_calls()
        slack.faults.latency(options.latency)
        wall, done = deliver_together(env, Path(folder), processes)
        slack.faults.clear()
        posts = slack.all_posts()[before:]
        keys = Counter((m.channel, m.metadata["event_payload"]["key"]) for m in posts
                       if m.metadata)
        with Store.open(db_path) as store:
            left = Outbox(store).undelivered()
        failures = tuple(f"exit {d.returncode}: {d.stderr.strip()[:200]}" for d in done
                         if d.returncode != 0 or d.stderr.strip())
        per_process = tuple(int(m.group(1)) if (m := DELIVERED.search(d.stdout)) else 0
                            for d in done)
        return Measured(layout=layout, processes=processes, wall=wall, posts=len(posts),
                        duplicates=sum(n - 1 for n in keys.values()),
                        rate_limited=sum(c.status == 429 for c in slack.calls),
                        left_owed=left, per_process=per_process, failures=failures)


HEADER = (f"{'layout':<24}{'deliverers':>11}{'wall s':>9}{'posts':>7}{'posts/s':>9}"
          f"{'/channel/s':>11}{'dups':>6}{'429s':>6}{'owed':>6}{'vs one':>8}  per process")


def row(m: Measured, one: Measured | None) -> str:
    ratio = f"{one.wall / m.wall:.2f}x" if one is not None and m.wall else "1.00x"
    per_channel = m.rate / m.layout.channels
    return (f"{m.layout.label:<24}{m.processes:>11}{m.wall:>9.1f}{m.posts:>7}"
            f"{m.rate:>9.2f}{per_channel:>11.2f}{m.duplicates:>6}{m.rate_limited:>6}"
            f"{m.left_owed:>6}{ratio:>8}  {' + '.join(str(n) for n in m.per_process)}")


def verdict(spread: tuple[Measured, Measured], single: tuple[Measured, Measured],
            interval: float) -> str:
    """Whether the second deliverer adds anything, in words, from the ratios measured."""
    gain, flat = spread[0].wall / spread[1].wall, single[0].wall / single[1].wall
    ceiling = 1 / interval

    def adds(ratio: float) -> str:
        if ratio >= 1.2:
            return f"{ratio:.2f}x as fast"
        if ratio > 0.9:
            return f"no faster ({ratio:.2f}x)"
        return f"slower ({ratio:.2f}x)"

    return (f"A second deliverer: {spread[0].layout.label}, {adds(gain)}; "
            f"{single[0].layout.label}, {adds(flat)} (the channel's pace allows {ceiling:g} "
            f"posts a second, less the time each post takes; {single[0].rate:.2f} and "
            f"{single[1].rate:.2f} measured). One deliverer already works on every channel "
            "at once, each at its pace, so a second one can add nothing: Slack's pace per "
            "channel is the limit.")


def run(options: Options) -> int:
    started = time.perf_counter()
    threads = options.posts // options.channels
    spread = Layout(f"{options.channels} channels x {threads}", options.channels, threads)
    single = Layout(f"1 channel x {2 * threads}", 1, 2 * threads)
    say(f"backlog: {spread.posts} posts across {spread.channels} channels, and {single.posts} "
        f"in one channel; {options.interval:g}s between posts to a channel, Slack answers "
        f"in {options.latency:g}s, 429 past a burst of {BURST}")
    results: dict[tuple[str, int], Measured] = {}
    for layout in (spread, single):
        for processes in (1, 2):
            measured = measure(layout, processes, options)
            results[(layout.label, processes)] = measured
            say(f"  {layout.label}, {processes} deliverer(s): {measured.wall:.1f}s, "
                f"{measured.posts} posts, {measured.duplicates} duplicates")
    print()
    print(HEADER)
    print("-" * len(HEADER))
    for layout in (spread, single):
        one = results[(layout.label, 1)]
        print(row(one, None))
        print(row(results[(layout.label, 2)], one))
    print("  vs one: the one-deliverer run's wall time over this run's, same layout; dups: "
          "a key posted twice to a channel; owed: deliveries left pending")
    every = list(results.values())
    for m in every:
        for failure in m.failures:
            print(f"  {m.layout.label}, {m.processes} deliverer(s): {failure}")
    print()
    print(verdict((results[(spread.label, 1)], results[(spread.label, 2)]),
                  (results[(single.label, 1)], results[(single.label, 2)]), options.interval))
    print()
    duplicates = sum(m.duplicates for m in every)
    owed = sum(m.left_owed for m in every)
    print(f"{'PASS' if duplicates == 0 else 'FAIL'}  no post twice ({duplicates} duplicates "
          f"in {sum(m.posts for m in every)} posts)")
    print(f"{'PASS' if owed == 0 else 'FAIL'}  nothing left owed ({owed} deliveries pending)")
    print(f"{'PASS' if not any(m.failures for m in every) else 'FAIL'}  every deliverer "
          "exits 0 with nothing on stderr")
    print(f"total {time.perf_counter() - started:.1f}s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_options(argv))


if __name__ == "__main__":
    sys.exit(main())
