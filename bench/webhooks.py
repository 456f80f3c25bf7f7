"""Benchmark of webhook sending over real HTTP, and of Slack delivery beside a dead endpoint.

Every figure comes from the real sender (``bot.webhooks.sender.WebhookSender``) posting to
local ``WebhookReceiver`` endpoints on 127.0.0.1, which verify each signature with the
``standardwebhooks`` library; the events come from the local Altium 365 through the real
poller.

Throughput: ``--events`` new comment threads (default 1,000) are polled into the event log,
owed to one endpoint, then (a fresh workspace and database built the same way) to
``--receivers`` endpoints (default 10), each its own receiver. It times planning (the outbox
owing each event to each endpoint) and sending (one ``deliver()``, endpoints in parallel on
``--workers`` threads, 8 as in production), and prints events a second (events delivered to
every endpoint), requests a second, the attempts' median and p95 latency, and checks that
every receiver verified each event exactly once.

Slack beside a dead endpoint: ``--posts`` new threads (default 60) owed to ``--channels``
Slack channels (default 3) of the local Slack, drained by one Slack deliverer while a
webhook worker runs beside it, as ``review-bot run`` does (its own thread, the sender's
``tick`` every ``--tick`` seconds). The same Slack run is measured twice, each on a fresh
backlog built the same way: with no webhook endpoint, and with one dead endpoint
(connections refused) and one hanging endpoint (accepts and never answers; each attempt is
cut at the 15 s deadline). The ratio is the second Slack wall time over the first. Slack is
paced as in ``bench/deliver_two.py``: ``--interval`` seconds between posts to a channel,
every answer ``--latency`` seconds late.

It ends with a PASS/FAIL line per target: each event verified once by every receiver, nothing
left pending; Slack slowed by less than 1.25x; every Slack post made in both runs.

Run it from the project root:

    .venv/bin/python bench/webhooks.py [--events 1000] [--receivers 10] [--workers 8]
        [--posts 60] [--channels 3] [--interval 0.1] [--latency 0.05]

The receivers, the local Slack and Altium 365 run in this same process as the sender, so
throughput includes their share of the two cores' time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.slack.cards import Cards
from bot.slack.client import SlackClient
from bot.slack.delivery import Deliverer
from bot.webhooks.client import new_client
from bot.webhooks.http import DEADLINE
from bot.webhooks.sender import WebhookReport, WebhookSender
from jobs.nexar import NexarClient
from jobs.poll import Poller, refresh_catalog
from sandbox import AltiumSandbox, SlackSandbox, WebhookReceiver
from sandbox.webhooks import Respond
from state.clock import stamp
from state.model import EVENT_GROUPS
from state.outbox import Outbox
from state.store import Store
from state.webhooks import Webhooks, new_secret

PROJECT = "Motor Controller"
AUTHOR = "bob.schmidt"
WATCHER = "#bench-watch"
HANG = 60.0
SLOWDOWN_TARGET = 1.25


@dataclass(frozen=True)
class Options:
    events: int
    receivers: int
    workers: int
    posts: int
    channels: int
    interval: float
    latency: float
    tick: float


@dataclass(frozen=True)
class Throughput:
    """One sending run to ``receivers`` endpoints of the same ``events``."""

    receivers: int
    events: int
    plan: float
    send: float
    report: WebhookReport
    verified: int
    duplicates: int
    missing: int
    latencies: tuple[int, ...]

    @property
    def wall(self) -> float:
        return self.plan + self.send

    @property
    def requests(self) -> int:
        return self.events * self.receivers

    def p(self, share: float) -> int:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0


@dataclass(frozen=True)
class SlackRun:
    """One Slack delivery run, timed, with what the webhook worker beside it did."""

    label: str
    wall: float
    posted: int
    expected: int
    webhook_runs: int
    attempts: int
    failed: int


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1000, help="events to send (1000)")
    parser.add_argument("--receivers", type=int, default=10,
                        help="receivers in the wide run (10)")
    parser.add_argument("--workers", type=int, default=8,
                        help="endpoints sent to at once (8, the sender's default)")
    parser.add_argument("--posts", type=int, default=60, help="Slack posts in the backlog (60)")
    parser.add_argument("--channels", type=int, default=3, help="channels they go to (3)")
    parser.add_argument("--interval", type=float, default=0.1,
                        help="seconds between posts to one channel (0.1; Slack's pace: 1)")
    parser.add_argument("--latency", type=float, default=0.05,
                        help="seconds every Slack answer takes (0.05)")
    parser.add_argument("--tick", type=float, default=1.0,
                        help="seconds between two webhook runs beside Slack (1; `run` waits 5)")
    args = parser.parse_args(argv)
    if args.events < 1 or args.receivers < 2 or args.workers < 1:
        parser.error("--events and --workers must be at least 1, --receivers at least 2")
    if args.channels < 1 or args.posts < args.channels:
        parser.error("--channels must be at least 1 and --posts at least --channels")
    if not 0 < args.interval <= 60 or args.latency < 0 or args.tick <= 0:
        parser.error("--interval must be in (0, 60], --latency >= 0 and --tick > 0")
    return Options(args.events, args.receivers, args.workers, args.posts, args.channels,
                   args.interval, args.latency, args.tick)


def say(text: str) -> None:
    print(text, flush=True)


def now_text() -> str:
    return stamp(datetime.now(UTC))


@contextmanager
def workspace() -> Iterator[tuple[AltiumSandbox, Path]]:
    """A fresh local Altium 365 and an empty database file."""
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as folder, \
            AltiumSandbox() as altium:
        yield altium, Path(folder) / "review-bot.db"


def backlog(altium: AltiumSandbox, db_path: Path, *, threads: int, channels: Sequence[str],
            groups: Sequence[str], urls: Sequence[str], secret: str) -> None:
    """Watch the project (``channels`` subscribed to ``groups``), take the silent baseline,
    add an endpoint per url, then log ``threads`` new comment threads with one poll."""
    with NexarClient(token=altium.token, api_url=altium.api_url) as client, \
            Store.open(db_path) as store:
        refresh_catalog(client, store)
        project = store.find_project(PROJECT)
        for channel in channels:
            store.subscribe(project, channel, groups, at=now_text())
        Poller(client=client, store=store).poll_once()
        webhooks = Webhooks(store)
        for url in urls:
            webhooks.add(url, secret=secret, at=now_text(), project_ids=[project.id])
        for n in range(threads):
            altium.open_thread(PROJECT, author=AUTHOR,
                               text=f"Bench question {n}: is this footprint right?")
        report = Poller(client=client, store=store).poll_once()
        if report.events != threads or report.failures:
            raise RuntimeError(f"the backlog poll found {report.events} events of {threads}, "
                               f"{report.failures or 'no failures'}")


def throughput(receivers: int, options: Options) -> Throughput:
    """``options.events`` events to ``receivers`` endpoints, one receiver each."""
    secret = new_secret()
    with ExitStack() as stack:
        altium, db_path = stack.enter_context(workspace())
        servers = [stack.enter_context(WebhookReceiver(secrets=[secret]))
                   for _ in range(receivers)]
        # The project is watched through a channel that wants revisions only, so the
        # threads are owed to the endpoints alone.
        backlog(altium, db_path, threads=options.events, channels=[WATCHER],
                groups=["revisions"], urls=[s.url for s in servers], secret=secret)
        with Store.open(db_path) as store:
            started = time.perf_counter()
            Outbox(store).plan(at=now_text())
            plan = time.perf_counter() - started
        with new_client() as http:
            sender = WebhookSender(db_path=db_path, http=http, workers=options.workers)
            started = time.perf_counter()
            report = sender.deliver()
            send = time.perf_counter() - started
        with Store.open(db_path) as store:
            webhooks = Webhooks(store)
            latencies = tuple(a.latency_ms for e in webhooks.endpoints()
                              for a in webhooks.attempts(e.id, limit=options.events))
        verified = duplicates = missing = 0
        for server in servers:
            ids = Counter(r.webhook_id for r in server.received() if r.verified)
            verified += sum(ids.values())
            duplicates += sum(n - 1 for n in ids.values())
            missing += options.events - len(ids)
        return Throughput(receivers=receivers, events=options.events, plan=plan, send=send,
                          report=report, verified=verified, duplicates=duplicates,
                          missing=missing, latencies=latencies)


def slack_beside_webhooks(down: bool, options: Options) -> SlackRun:
    """One Slack deliverer drains the backlog while a webhook worker runs beside it; with
    ``down``, the events are also owed to a dead and a hanging endpoint."""
    secret = new_secret()
    threads = options.posts // options.channels
    channels = [f"#bench-{n:02d}" for n in range(1, options.channels + 1)]
    with ExitStack() as stack:
        altium, db_path = stack.enter_context(workspace())
        slack = stack.enter_context(SlackSandbox())
        urls: list[str] = []
        if down:
            dead = stack.enter_context(WebhookReceiver(secrets=[secret]))
            dead.refuse()
            hanging = stack.enter_context(WebhookReceiver(secrets=[secret]))
            hanging.always(Respond(hang=HANG))
            urls = [dead.url, hanging.url]
        for channel in channels:
            slack.add_channel(channel)
        client = SlackClient(token=slack.bot_token, api_url=slack.api_url)
        backlog_store = stack.enter_context(Store.open(db_path))
        deliverer = Deliverer(store=backlog_store, slack=client, renderer=Cards(),
                              min_interval=options.interval)
        with NexarClient(token=altium.token, api_url=altium.api_url) as nexar:
            refresh_catalog(nexar, backlog_store)
            project = backlog_store.find_project(PROJECT)
            for channel in channels:
                backlog_store.subscribe(project, channel, EVENT_GROUPS, at=now_text())
            Poller(client=nexar, store=backlog_store).poll_once()
            deliverer.deliver()  # the welcomes, before the clock starts
        backlog_at = len(slack.all_posts())
        for url in urls:
            Webhooks(backlog_store).add(url, secret=secret, at=now_text(),
                                        project_ids=[project.id])
        for n in range(threads):
            altium.open_thread(PROJECT, author=AUTHOR,
                               text=f"Bench question {n}: is this footprint right?")
        with NexarClient(token=altium.token, api_url=altium.api_url) as nexar:
            polled = Poller(client=nexar, store=backlog_store).poll_once()
        if polled.events != threads:
            raise RuntimeError(f"the backlog poll found {polled.events} events of {threads}")
        slack.faults.latency(options.latency)
        http = stack.enter_context(new_client())
        stop = threading.Event()
        sender = WebhookSender(db_path=db_path, http=http, workers=options.workers, stop=stop)
        reports: list[WebhookReport] = []

        def webhook_worker() -> None:
            while not stop.is_set():
                reports.append(sender.tick())
                stop.wait(options.tick)

        worker = threading.Thread(target=webhook_worker, name="bench-webhooks", daemon=True)
        started = time.perf_counter()
        worker.start()
        report = deliverer.deliver()
        wall = time.perf_counter() - started
        stop.set()
        if down:
            hanging.close()  # releases the attempt in flight at once
        worker.join(DEADLINE + 5)
        sender.close(DEADLINE + 5)
        reports.append(sender.tick())
        posted = len(slack.all_posts()) - backlog_at
        return SlackRun(label="dead + hanging endpoint" if down else "no endpoint", wall=wall,
                        posted=posted if report.ok else -1, expected=threads * len(channels),
                        webhook_runs=len(reports),
                        attempts=sum(r.sent + r.failed for r in reports),
                        failed=sum(r.failed for r in reports))


THROUGHPUT_HEADER = (f"{'receivers':>9}{'events':>8}{'requests':>10}{'plan s':>8}"
                     f"{'send s':>8}{'wall s':>8}{'events/s':>10}{'requests/s':>12}"
                     f"{'p50 ms':>8}{'p95 ms':>8}{'dups':>6}{'missing':>9}")


def throughput_row(t: Throughput) -> str:
    return (f"{t.receivers:>9}{t.events:>8}{t.requests:>10}{t.plan:>8.2f}{t.send:>8.2f}"
            f"{t.wall:>8.2f}{t.events / t.wall:>10.0f}{t.requests / t.wall:>12.0f}"
            f"{t.p(0.5):>8}{t.p(0.95):>8}{t.duplicates:>6}{t.missing:>9}")


SLACK_HEADER = (f"{'webhook endpoints':<26}{'Slack wall s':>13}{'posts':>7}{'posts/s':>9}"
                f"{'webhook runs':>14}{'attempts':>10}{'failed':>8}")


def slack_row(s: SlackRun) -> str:
    return (f"{s.label:<26}{s.wall:>13.2f}{s.posted:>7}{s.posted / s.wall:>9.2f}"
            f"{s.webhook_runs:>14}{s.attempts:>10}{s.failed:>8}")


def run(options: Options) -> int:
    started = time.perf_counter()
    say(f"throughput: {options.events} events to 1 receiver, then to {options.receivers}; "
        f"{options.workers} endpoints sent to at once")
    wide: list[Throughput] = []
    for receivers in (1, options.receivers):
        measured = throughput(receivers, options)
        wide.append(measured)
        say(f"  {receivers} receiver(s): {measured.report.sent} sent in {measured.wall:.1f}s")
    threads = options.posts // options.channels
    say(f"Slack beside webhooks: {threads * options.channels} posts to {options.channels} "
        f"channel(s), {options.interval:g}s between posts to a channel, Slack answers in "
        f"{options.latency:g}s; a webhook step every {options.tick:g}s beside it")
    beside: list[SlackRun] = []
    for down in (False, True):
        measured_run = slack_beside_webhooks(down, options)
        beside.append(measured_run)
        say(f"  {measured_run.label}: Slack done in {measured_run.wall:.1f}s")
    print()
    print(THROUGHPUT_HEADER)
    print("-" * len(THROUGHPUT_HEADER))
    for t in wide:
        print(throughput_row(t))
    print("  events/s: events delivered to every receiver a second, planning included; "
          "requests/s: verified POSTs a second; p50/p95: one attempt's latency")
    print()
    print(SLACK_HEADER)
    print("-" * len(SLACK_HEADER))
    for s in beside:
        print(slack_row(s))
    ratio = beside[1].wall / beside[0].wall if beside[0].wall else float("inf")
    print(f"  Slack with a dead and a hanging endpoint: {ratio:.2f}x the wall time without "
          f"({beside[1].wall:.2f}s against {beside[0].wall:.2f}s)")
    print()
    exact = all(t.verified == t.requests and t.duplicates == 0 and t.missing == 0
                and t.report.pending == 0 and t.report.ok for t in wide)
    print(f"{'PASS' if exact else 'FAIL'}  every event verified once by every receiver, "
          f"nothing pending ({sum(t.verified for t in wide)} of "
          f"{sum(t.requests for t in wide)} requests verified)")
    print(f"{'PASS' if ratio < SLOWDOWN_TARGET else 'FAIL'}  a dead and a hanging endpoint "
          f"slow Slack by less than {SLOWDOWN_TARGET:g}x ({ratio:.2f}x)")
    complete = all(s.posted == s.expected for s in beside)
    print(f"{'PASS' if complete else 'FAIL'}  every Slack post made in both runs "
          f"({', '.join(f'{s.posted} of {s.expected}' for s in beside)})")
    print(f"total {time.perf_counter() - started:.1f}s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_options(argv))


if __name__ == "__main__":
    sys.exit(main())
