"""Benchmark of supply checks: what they cost in Nexar's part limit, and what they add to
an alert.

Builds a generated workspace (default: 500 projects), subscribes every project to one
channel of the local Slack, takes the baseline, then plays ``--days`` days of review with
``--changes`` part changes a day (a part swapped to another library part, now and then one
the supply data does not know), polling after each change and looking the poll's new parts
up as ``review-bot run`` does. It prints:

- parts asked and matched a day and, scaled to 30 days, a month (the figure to set against
  the Nexar plan's monthly part limit), and the supply requests made;
- the time from the end of a poll to its BOM change message in Slack with supply checks on
  and off, measured in the same run (their ratio: the delay supply checks add to the first
  post), and the time until the message shows the facts (the lookup, then the edit).

The local Altium 365 and Slack run in this process over real HTTP on 127.0.0.1; both answer
each request after ``--latency-ms``, as a network would. Run it from the project root:

    .venv/bin/python bench/supply.py [--projects N] [--days N] [--changes N] [--latency-ms N]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot import service
from bot.config import Config
from jobs.nexar import NexarClient
from jobs.poll import refresh_catalog
from sandbox import AltiumSandbox, SlackSandbox
from sandbox.altium import generated_workspace
from sandbox.altium.seed import CATALOG
from sandbox.altium.server import TOKEN_SCOPES
from state.clock import stamp
from state.model import EVENT_GROUPS
from state.store import Store
from state.supply import Supply

CHANNEL = "#design-review"
UNKNOWN_SHARE = 0.1
"""How many changes bring in a part the supply data does not know."""


class Clock:
    """Simulated time: days of review pass in seconds."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass(frozen=True)
class Options:
    projects: int
    days: int
    changes: int
    latency_ms: float
    samples: int


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=500)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--changes", type=int, default=5, help="part changes a day")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--samples", type=int, default=5,
                        help="BOM changes timed with supply on and with it off")
    args = parser.parse_args(argv)
    return Options(projects=args.projects, days=args.days, changes=args.changes,
                   latency_ms=args.latency_ms, samples=args.samples)


def say(text: str) -> None:
    print(text, flush=True)


def run(options: Options) -> int:
    rng = random.Random(0)
    parts = [(maker, mpn) for spec in CATALOG for maker, mpn in spec.parts]
    tenant = generated_workspace(projects=options.projects, bom_lines=20, threads=1,
                                 comments_per_thread=1, seed=0)
    clock = Clock()
    with tempfile.TemporaryDirectory(prefix="bench-supply-") as folder, \
            AltiumSandbox(workspace=tenant) as altium, SlackSandbox() as slack:
        token = altium.make_token(scopes=(*TOKEN_SCOPES, "supply.domain"))
        on = Config(nexar_token=token, nexar_api_url=altium.api_url,
                    db_path=str(Path(folder) / "review-bot.db"), slack_bot_token=slack.bot_token,
                    slack_api_url=slack.api_url, post_interval=0.0)
        off = replace(on, supply=False)
        started = time.perf_counter()
        with NexarClient(token=token, api_url=altium.api_url) as client, \
                Store.open(on.db_path) as store:
            refresh_catalog(client, store)
            for info in store.catalog():
                store.subscribe(info, CHANNEL, list(EVENT_GROUPS), at=stamp(clock()))
            names = [info.name for info in store.catalog()]
        service.poll_once(on, clock=clock)
        service.deliver_once(on, sleep=lambda s: None)
        baseline = service.look_up_supply(on, clock=clock)
        say(f"setup: {len(names)} projects subscribed, baseline polled and delivered in "
            f"{time.perf_counter() - started:.1f}s; baseline lookup asked "
            f"{baseline.asked if baseline else 0} parts ({altium.supply.requests} requests)")
        altium.faults.latency(options.latency_ms / 1000)
        slack.faults.latency(options.latency_ms / 1000)

        asked: list[int] = []
        matched_before = altium.supply.matched
        requests_before = altium.supply.requests
        gap = timedelta(days=1) / options.changes
        for _day in range(options.days):
            today = 0
            for _ in range(options.changes):
                project = rng.choice(names)
                designator = rng.choice(altium.project(project).variant("Default")
                                        .designators())
                if rng.random() < UNKNOWN_SHARE:
                    maker, mpn = "Nobody Inc", f"UNKNOWN-{rng.randrange(10**6)}"
                else:
                    maker, mpn = rng.choice(parts)
                altium.swap_part(project, designator, mpn=mpn, manufacturer=maker)
                clock.advance(seconds=gap.total_seconds())
                service.poll_once(on, clock=clock)
                looked = service.look_up_supply(on, clock=clock)
                today += looked.asked if looked else 0
            asked.append(today)
        matched = altium.supply.matched - matched_before
        requests = altium.supply.requests - requests_before
        per_day = statistics.mean(asked)
        say(f"\npart limit: {options.days} days x {options.changes} part changes a day in "
            f"{options.projects} projects")
        say(f"  parts asked a day   mean {per_day:.1f}  (days: {asked})")
        say(f"  parts matched       {matched} in {options.days} days: "
            f"{matched / options.days * 30:.0f} a month (30 days)")
        say(f"  parts asked         {sum(asked) / options.days * 30:.0f} a month; at most "
            f"{options.changes * 30} (one per change), fewer when a part repeats within a day")
        polls = max(1, options.days * options.changes)
        say(f"  supply requests     {requests} ({requests / polls:.2f} a poll with a part "
            "change)")

        service.deliver_once(on, sleep=lambda s: None)
        timings = {True: [], False: []}  # type: dict[bool, list[float]]
        until_facts: list[float] = []
        for sample in range(options.samples * 2):
            supply_on = sample % 2 == 0
            config = on if supply_on else off
            project = rng.choice(names)
            designator = rng.choice(altium.project(project).variant("Default").designators())
            maker, mpn = parts[(sample * 7) % len(parts)]
            altium.swap_part(project, designator, mpn=mpn, manufacturer=maker)
            clock.advance(hours=25)  # past the cache: every lookup asks Nexar
            polled = service.poll_once(config, clock=clock)
            if not polled.events:
                continue
            posts = len(slack.all_posts())
            begun = time.perf_counter()
            service.deliver_once(config, sleep=lambda s: None)
            posted = time.perf_counter() - begun
            if len(slack.all_posts()) != posts + 1:
                say(f"expected one BOM post, got {len(slack.all_posts()) - posts} "
                    f"({polled.events} events)")
                return 1
            timings[supply_on].append(posted)
            if supply_on:
                looked = service.look_up_supply(config, clock=clock)
                service.deliver_once(config, sleep=lambda s: None)
                until_facts.append(time.perf_counter() - begun)
                if not looked or looked.refreshed != 1:
                    say(f"expected the BOM message to be brought up to date: {looked}")
                    return 1
            else:
                service.look_up_supply(config, clock=clock)
        with_supply = statistics.median(timings[True])
        without = statistics.median(timings[False])
        say(f"\ndelay per BOM change message ({options.samples} of each, median, "
            f"{options.latency_ms:g} ms latency)")
        say(f"  first post, supply on    {with_supply * 1000:.0f} ms")
        say(f"  first post, supply off   {without * 1000:.0f} ms")
        say(f"  ratio on/off             {with_supply / without:.2f}")
        say(f"  facts shown after        {statistics.median(until_facts) * 1000:.0f} ms "
            "(the lookup, then the edit)")
        with Store.open(on.db_path) as store:
            usage = Supply(store).usage(stamp(clock())[:7])
        say(f"  this month in the store  {usage['requests']} requests, {usage['asked']} "
            f"asked, {usage['matched']} matched")
        ok = with_supply / without < 1.2
        say(f"\n{'PASS' if ok else 'FAIL'}: supply checks add no delay to the first post "
            f"(on/off {with_supply / without:.2f}, goal under 1.2)")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(run(parse(sys.argv[1:])))
