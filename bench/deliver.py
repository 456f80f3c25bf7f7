"""Benchmark of one delivery run against Slack's pace: many channels at once, and welcomes.

Two measurements, each the median of ``--runs`` (default 3), over real HTTP to the local
Slack, each on a fresh local Altium 365, Slack and database:

- **Backlog:** ``--channels`` channels (default 10), each following its own project, owed
  ``--events`` thread events in all (default 1,000: new threads and replies, shared out
  unevenly), then drained by one ``Deliverer`` posting at 1 post a second per channel. The
  *floor* is the busiest channel's posts x 1 s: no delivery can be faster while Slack takes
  one post a second per channel. Printed: the floor, the time taken and their ratio.
  At latency 0 it runs on a *virtual clock*: every wait of the deliverer advances the clock
  of the thread that waits instead of sleeping, and the time taken is the latest any
  thread's clock reached (the local Slack answers at once, so the work between waits takes
  no virtual time). At ``--latency`` (default 0.1 s) the local Slack really sleeps before
  each answer, so that run uses real time and real sleeps.
- **Welcomes:** ``--projects`` projects (default 30) subscribed to one channel, the baseline
  polled, then one delivery run on the virtual clock: posts and time for the welcomes.

Targets: the backlog within 1.2x its floor at both latencies; one welcome post for all the
projects. PASS/FAIL lines at the end; the exit status is 1 when any target failed.

``--split`` runs the local Slack in a process of its own, so its work never competes with
the deliverer's threads for this interpreter (the figures the README shows are split runs).

Run it from the project root:

    .venv/bin/python bench/deliver.py [--events 1000] [--channels 10] [--projects 30]
        [--latency 0.1] [--runs 3] [--no-real] [--split]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Protocol

from apart import Remote, apart, serve

from bot.slack.cards import Cards
from bot.slack.client import SlackClient
from bot.slack.delivery import Deliverer
from jobs.nexar import NexarClient
from jobs.poll import Poller, refresh_catalog
from sandbox import AltiumSandbox, SlackSandbox
from state.clock import stamp, utc_now
from state.model import EVENT_GROUPS
from state.outbox import Outbox
from state.store import Store

SOURCE = "Motor Controller"
PEOPLE = ("alice.nguyen", "bob.schmidt", "carla.rossi")
INTERVAL = 1.0
TARGET = 1.2


@dataclass(frozen=True)
class Options:
    events: int
    channels: int
    projects: int
    latency: float
    runs: int
    real: bool
    split: bool


@dataclass(frozen=True)
class Backlog:
    """One drained backlog: the busiest channel's posts, all posts, the time taken."""

    busiest: int
    posts: int
    taken: float
    left: int
    duplicates: int

    @property
    def floor(self) -> float:
        return self.busiest * INTERVAL

    @property
    def ratio(self) -> float:
        return self.taken / self.floor if self.floor else 0.0


@dataclass(frozen=True)
class Welcomes:
    posts: int
    taken: float
    welcomed: int


class VirtualClock:
    """Time that moves only when a thread waits, and for that thread alone.

    Each thread keeps its own time, starting from the creating thread's time when it first
    asks; ``sleep`` advances the calling thread's time. ``latest`` is the furthest any
    thread got: the run's duration when the waits are the only thing taking time.
    """

    def __init__(self, start: datetime = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)) -> None:
        self.start = start
        self._main = threading.get_ident()
        self._main_now = start
        self._local = threading.local()
        self._lock = threading.Lock()
        self._latest = start

    def _get(self) -> datetime:
        if threading.get_ident() == self._main:
            return self._main_now
        now: datetime | None = getattr(self._local, "now", None)
        return self._main_now if now is None else now

    def __call__(self) -> datetime:
        return self._get()

    def sleep(self, seconds: float) -> None:
        later = self._get() + timedelta(seconds=max(0.0, seconds))
        if threading.get_ident() == self._main:
            self._main_now = later
        else:
            self._local.now = later
        with self._lock:
            self._latest = max(self._latest, later)

    @property
    def elapsed(self) -> float:
        with self._lock:
            return (max(self._latest, self._main_now) - self.start).total_seconds()


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1000, help="events owed (1000)")
    parser.add_argument("--channels", type=int, default=10, help="channels (10)")
    parser.add_argument("--projects", type=int, default=30,
                        help="projects newly subscribed to one channel (30)")
    parser.add_argument("--latency", type=float, default=0.1,
                        help="seconds each Slack answer takes in the real-time run (0.1)")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (median; 3)")
    parser.add_argument("--no-real", dest="real", action="store_false",
                        help="skip the real-time run at --latency")
    parser.add_argument("--split", action="store_true",
                        help="run the local Slack in a process of its own")
    args = parser.parse_args(argv)
    if args.channels < 1 or args.events < args.channels * 2:
        parser.error("--events must be at least twice --channels, and --channels at least 1")
    if args.projects < 1 or args.runs < 1 or args.latency < 0:
        parser.error("--projects and --runs must be at least 1, --latency not negative")
    return Options(args.events, args.channels, args.projects, args.latency, args.runs,
                   args.real, args.split)


def say(text: str) -> None:
    print(text, flush=True)


def shares(total: int, parts: int, rng: random.Random) -> list[int]:
    """``total`` split into ``parts`` uneven shares (each within about 15 % of the mean)."""
    weights = [rng.uniform(0.85, 1.15) for _ in range(parts)]
    counts = [int(total * w / sum(weights)) for w in weights]
    for n in range(total - sum(counts)):
        counts[n % parts] += 1
    return counts


class Slack(Protocol):
    """The local Slack as the bench drives it, in this process or in its own."""

    bot_token: str
    api_url: str

    def add_channel(self, name: str) -> None: ...

    def posted(self) -> list[tuple[str, str | None]]: ...

    def latency(self, seconds: float) -> None: ...


class LocalSlack:
    def __init__(self, slack: SlackSandbox) -> None:
        self.slack = slack
        self.bot_token, self.api_url = slack.bot_token, slack.api_url

    def add_channel(self, name: str) -> None:
        self.slack.add_channel(name)

    def posted(self) -> list[tuple[str, str | None]]:
        """Every post so far: its channel and its event key (None without metadata)."""
        return [(m.channel, m.metadata["event_payload"]["key"] if m.metadata else None)
                for m in self.slack.all_posts()]

    def latency(self, seconds: float) -> None:
        if seconds:
            self.slack.faults.latency(seconds)
        else:
            self.slack.faults.clear()


class RemoteSlack:
    """The local Slack in a child process, as the bench sees it."""

    def __init__(self, remote: Remote, bot_token: str, api_url: str) -> None:
        self.remote, self.bot_token, self.api_url = remote, bot_token, api_url

    def add_channel(self, name: str) -> None:
        self.remote.ask("add_channel", name)

    def posted(self) -> list[tuple[str, str | None]]:
        found: list[tuple[str, str | None]] = self.remote.ask("posted")
        return found

    def latency(self, seconds: float) -> None:
        self.remote.ask("latency", seconds)


def serve_slack(conn: Connection) -> None:
    """The child process of ``--split``: a local Slack answering the bench's commands."""
    with SlackSandbox() as slack:
        serve(conn, LocalSlack(slack), (slack.bot_token, slack.api_url))


@contextmanager
def slack_for(options: Options) -> Iterator[Slack]:
    """A fresh local Slack: in this process, or with ``--split`` in a process of its own."""
    if not options.split:
        with SlackSandbox() as slack:
            yield LocalSlack(slack)
        return
    with apart(serve_slack) as (remote, (bot_token, api_url)):
        yield RemoteSlack(remote, bot_token, api_url)


def deliverer(store: Store, slack: Slack, clock: Callable[[], datetime],
              sleep: Callable[[float], None], interval: float) -> Deliverer:
    return Deliverer(store=store, slack=SlackClient(token=slack.bot_token,
                                                    api_url=slack.api_url),
                     renderer=Cards(), clock=clock, sleep=sleep, min_interval=interval)


def backlog(options: Options, latency: float, seed: int) -> Backlog:
    """Build the backlog on fresh sandboxes, drain it once, measure."""
    rng = random.Random(seed)
    counts = shares(options.events, options.channels, rng)
    with tempfile.TemporaryDirectory(prefix="bench-deliver-") as folder, \
            AltiumSandbox() as altium, slack_for(options) as slack, \
            NexarClient(token=altium.token, api_url=altium.api_url) as client, \
            Store.open(Path(folder) / "review-bot.db") as store:
        names = [f"Bench Board {n:02d}" for n in range(1, options.channels + 1)]
        channels = [f"#bench-{n:02d}" for n in range(1, options.channels + 1)]
        for name, channel in zip(names, channels, strict=True):
            altium.add_project(name, copy_bom_from=SOURCE)
            slack.add_channel(channel)
        refresh_catalog(client, store)
        for name, channel in zip(names, channels, strict=True):
            store.subscribe(store.find_project(name), channel, EVENT_GROUPS,
                            at=stamp(utc_now()))
        Poller(client=client, store=store).poll_once()
        deliverer(store, slack, utc_now, lambda s: None, 0).deliver()  # the welcomes
        for name, count in zip(names, counts, strict=True):
            opened = max(1, count // 4)
            numbers = [altium.open_thread(name, author=rng.choice(PEOPLE),
                                          text=f"Bench question {n}: is this right?")[0]
                       for n in range(opened)]
            for n in range(count - opened):
                altium.reply(name, rng.choice(numbers), author=rng.choice(PEOPLE),
                             text=f"Bench answer {n}.")
        report = Poller(client=client, store=store).poll_once()
        if report.events != options.events or report.failures:
            raise RuntimeError(f"the backlog poll found {report.events} events of "
                               f"{options.events}, {report.failures or 'no failures'}")
        before = len(slack.posted())
        if latency:
            slack.latency(latency)
            started = time.perf_counter()
            deliverer(store, slack, utc_now, time.sleep, INTERVAL).deliver()
            taken = time.perf_counter() - started
        else:
            clock = VirtualClock()
            deliverer(store, slack, clock, clock.sleep, INTERVAL).deliver()
            taken = clock.elapsed
        slack.latency(0)
        posts = slack.posted()[before:]
        per_channel = Counter(channel for channel, _ in posts)
        keys = Counter(post for post in posts if post[1] is not None)
        return Backlog(busiest=max(per_channel.values()), posts=len(posts), taken=taken,
                       left=Outbox(store).undelivered(),
                       duplicates=sum(n - 1 for n in keys.values()))


def welcomes(options: Options) -> Welcomes:
    """``--projects`` new projects subscribed to one channel: one run's welcome posts."""
    with tempfile.TemporaryDirectory(prefix="bench-deliver-") as folder, \
            AltiumSandbox() as altium, slack_for(options) as slack, \
            NexarClient(token=altium.token, api_url=altium.api_url) as client, \
            Store.open(Path(folder) / "review-bot.db") as store:
        names = [f"Bench Board {n:03d}" for n in range(1, options.projects + 1)]
        for name in names:
            altium.add_project(name, copy_bom_from=SOURCE)
        slack.add_channel("#bench-welcome")
        refresh_catalog(client, store)
        for name in names:
            store.subscribe(store.find_project(name), "#bench-welcome", EVENT_GROUPS,
                            at=stamp(utc_now()))
        Poller(client=client, store=store).poll_once()
        clock = VirtualClock()
        deliverer(store, slack, clock, clock.sleep, INTERVAL).deliver()
        welcomed = sum(s.welcomed for s in store.subscriptions(channel="#bench-welcome"))
        return Welcomes(posts=len(slack.posted()), taken=clock.elapsed, welcomed=welcomed)


def median_backlog(runs: list[Backlog]) -> Backlog:
    ordered = sorted(runs, key=lambda b: b.ratio)
    return ordered[len(ordered) // 2]


def run(options: Options) -> int:
    started = time.perf_counter()
    say(f"backlog: {options.events} events over {options.channels} channels, "
        f"{INTERVAL:g} post/s per channel; {options.runs} run(s) each, median shown; "
        "local Slack " + ("in its own process" if options.split else "in this process"))
    latencies = [0.0, *([options.latency] if options.real and options.latency else [])]
    figures: dict[float, Backlog] = {}
    for latency in latencies:
        runs = []
        for n in range(options.runs):
            measured = backlog(options, latency, seed=16 + n)
            runs.append(measured)
            say(f"  latency {latency * 1000:g} ms, run {n + 1}: {measured.taken:.1f}s for "
                f"{measured.posts} posts (floor {measured.floor:.0f}s, "
                f"{measured.ratio:.2f}x)")
        figures[latency] = median_backlog(runs)
    welcome_runs = [welcomes(options) for _ in range(options.runs)]
    welcome = sorted(welcome_runs, key=lambda w: w.posts)[len(welcome_runs) // 2]
    print()
    header = (f"{'latency':<24}{'posts':>7}{'busiest':>9}{'floor s':>9}{'taken s':>9}"
              f"{'ratio':>8}{'dups':>6}{'owed':>6}")
    print(header)
    print("-" * len(header))
    for latency, b in figures.items():
        clock = "virtual clock" if latency == 0 else "real time"
        print(f"{f'{latency * 1000:g} ms ({clock})':<24}{b.posts:>7}{b.busiest:>9}"
              f"{b.floor:>9.1f}{b.taken:>9.1f}{b.ratio:>7.2f}x{b.duplicates:>6}{b.left:>6}")
    print(f"welcomes: {options.projects} projects new to one channel: {welcome.posts} "
          f"post(s) in {welcome.taken:.1f}s (virtual clock), {welcome.welcomed} welcomed")
    print()
    passed = []
    for latency, b in figures.items():
        ok = b.ratio <= TARGET and b.duplicates == 0 and b.left == 0
        passed.append(ok)
        print(f"{'PASS' if ok else 'FAIL'}  {options.events} events over {options.channels} "
              f"channels at {latency * 1000:g} ms within {TARGET:g}x the floor "
              f"({b.ratio:.2f}x; {b.duplicates} duplicates, {b.left} left owed)")
    ok = welcome.posts == 1 and welcome.welcomed == options.projects
    passed.append(ok)
    print(f"{'PASS' if ok else 'FAIL'}  one welcome post for {options.projects} projects "
          f"({welcome.posts} posts, {welcome.welcomed} welcomed)")
    print(f"total {time.perf_counter() - started:.1f}s")
    return 0 if all(passed) else 1


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_options(argv))


if __name__ == "__main__":
    sys.exit(main())
