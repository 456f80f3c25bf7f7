"""Benchmark of the poller against a large local Altium 365 sandbox.

Builds a generated workspace (default: 500 projects, 300-line BOMs, 20 threads of 3
comments each), subscribes every project, and measures over real HTTP on 127.0.0.1:

- the baseline poll, which reads every BOM;
- one unchanged poll: HTTP requests (counted by the sandbox and by the client), wall
  time, events, BOMs read and rows added to the snapshot and event tables;
- a poll after 5 projects changed (threads opened, answered and resolved, parts swapped,
  revisions committed): the same figures, and which BOMs were fetched;
- a run of unchanged polls: median and p90 wall time, requests, rows, database bytes.

Each poll's bot CPU (``resource.getrusage`` of this process), the sandbox's CPU (with
``--split``) and the bytes of the answers it read (counted by the client) are printed
beside it. It ends with a PASS/FAIL line per target (issue 16): an unchanged poll of 500
projects costs at most 12 requests, under 2 MB and under 0.3 s of bot CPU (2,000 projects:
under 45 requests and 1.2 s), and adds no rows; a 5-project change of 500 costs at most 12
requests plus those projects' BOM pages, and any change fetches exactly the changed BOMs;
the first poll of 2,000 projects takes under 60 s with a bot peak memory under 300 MiB.
Unchanged figures are the median of the run's polls (3 or more).
A target judged only with ``--split`` says SKIP without it; the exit status is 1 when any
target failed.

Run it from the project root:

    .venv/bin/python bench/poll.py [--split] [--projects N] [--bom-lines N] [--threads N]
                                   [--polls N] [--runs N]

``--runs N`` makes N whole runs, each a process of its own, and judges the median of each
figure (the README's figures are split runs, median of 3).

``--split`` runs the sandbox in a process of its own, so CPU, wall time and peak memory are
the bot's alone; without it the sandbox executes GraphQL in this same process and shares
them (the time and memory targets are judged only with ``--split``).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from apart import Remote, apart, serve

from jobs.nexar import NexarClient
from jobs.poll import Poller, PollReport, refresh_catalog
from sandbox.altium import AltiumSandbox, Project, RequestRecord, generated_workspace
from state.clock import stamp
from state.model import EVENT_GROUPS
from state.store import Store

CHANNEL = "#bench"
CHANGED_PROJECTS = 5
MAX_UNCHANGED_REQUESTS = {500: 12, 2000: 44}
"""Requests an unchanged poll may cost, by workspace size (the issue's targets)."""
MAX_UNCHANGED_BYTES = {500: 2_000_000}
MAX_UNCHANGED_CPU = {500: 0.3, 2000: 1.2}
MAX_CHANGED_REQUESTS = {500: 12}
"""By workspace size, plus the BOM pages (after the first, which comes aliased) of the
changed projects."""
MAX_FIRST_POLL_SECONDS = {2000: 60.0}
MAX_PEAK_MIB = {2000: 300.0}
ROW_TABLES = ("projects", "threads", "comments", "bom_lines", "events")
ROOT_OPERATIONS = {
    "desWorkspaceInfos": "Workspaces",
    "desProjects": "Projects",
    "desCommentThreads": "CommentThreads",
}


@dataclass(frozen=True)
class Options:
    projects: int
    bom_lines: int
    threads: int
    polls: int
    split: bool
    runs: int = 1
    figures: Path | None = None


@dataclass
class Measured:
    """One poll as seen from both sides of the wire and from the database."""

    label: str
    report: PollReport
    wall: float
    cpu: float
    received: int
    server_requests: int
    server_seconds: float
    server_cpu: float | None
    operations: Counter[str]
    design_ids: set[str]
    rows_added: dict[str, int]
    rows_written: int

    @property
    def added(self) -> int:
        return sum(self.rows_added.values())


@dataclass
class Series:
    """A run of unchanged polls and what it did to the database file."""

    polls: list[Measured] = field(default_factory=list)
    main_before: int = 0
    wal_before: int = 0
    main_after: int = 0
    wal_after: int = 0
    main_checkpointed: int = 0

    def walls(self) -> list[float]:
        return [m.wall for m in self.polls]


def parse_options(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--projects", type=int, default=500, help="watched projects (500)")
    parser.add_argument("--bom-lines", type=int, default=300, help="BOM lines a project (300)")
    parser.add_argument("--threads", type=int, default=20, help="comment threads a project (20)")
    parser.add_argument("--polls", type=int, default=100, help="unchanged polls in the run (100)")
    parser.add_argument("--split", action="store_true",
                        help="run the sandbox in a process of its own")
    parser.add_argument("--runs", type=int, default=1,
                        help="whole runs, each in a process of its own; medians judged (1)")
    parser.add_argument("--figures", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.projects < CHANGED_PROJECTS:
        parser.error(f"--projects must be at least {CHANGED_PROJECTS}")
    if args.threads < 2:
        parser.error("--threads must be at least 2")
    if args.polls < 3:
        parser.error("--polls must be at least 3 (figures are medians)")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return Options(args.projects, args.bom_lines, args.threads, args.polls, args.split,
                   args.runs, args.figures)


def now_text() -> str:
    return stamp(datetime.now(UTC))


def row_counts(store: Store) -> dict[str, int]:
    return {table: store.db.table(table).count for table in ROW_TABLES}


def total_changes(store: Store) -> int:
    changes: int = store.db.conn.total_changes
    return changes


def subscribe_all(client: NexarClient, store: Store) -> int:
    refresh_catalog(client, store)
    catalog = store.catalog()
    at = now_text()
    with store.db.atomic():
        for project in catalog:
            store.subscribe(project, CHANNEL, EVENT_GROUPS, at=at)
    return len(catalog)


def design_ids(record: RequestRecord) -> set[str]:
    """The projects whose design (first BOM page) a request read."""
    name = operation(record)
    if name == "Design":
        return {str(record.variables.get("id"))}
    if name == "DesignsBatch":
        return {str(v) for k, v in record.variables.items() if k.startswith("d")}
    return set()


def operation(record: RequestRecord) -> str:
    """The query a request ran; the client sends no operationName, so judge by its fields."""
    if record.operation_name:
        return record.operation_name
    for name in record.fields:
        if name in ROOT_OPERATIONS:
            return ROOT_OPERATIONS[name]
        if name == "desProjectById":
            return "BomPage" if "after" in record.variables else "Design"
    return "?"


@dataclass(frozen=True)
class Served:
    """What the sandbox saw of one poll."""

    requests: int
    seconds: float
    operations: Counter[str]
    design_ids: set[str]


def served(records: Sequence[RequestRecord]) -> Served:
    return Served(len(records), sum(r.duration for r in records),
                  Counter(operation(r) for r in records),
                  {i for r in records for i in design_ids(r)})


class Sandbox(Protocol):
    """The sandbox as the bench drives it, in this process or in its own."""

    def reset(self) -> None: ...

    def served(self) -> Served: ...

    def change(self, count: int) -> tuple[int, list[tuple[str, str]]]: ...

    def cpu(self) -> float | None: ...


class LocalSandbox:
    def __init__(self, sandbox: AltiumSandbox) -> None:
        self.sandbox = sandbox

    def reset(self) -> None:
        self.sandbox.reset_requests()

    def served(self) -> Served:
        return served(self.sandbox.requests)

    def change(self, count: int) -> tuple[int, list[tuple[str, str]]]:
        targets = pick_changed(self.sandbox, count)
        return change_projects(self.sandbox, targets), [(p.id, p.name) for p in targets]

    def cpu(self) -> float | None:
        """The sandbox's own CPU: not told apart from the bot's in one process."""
        return None


class ServedSandbox(LocalSandbox):
    """The sandbox in a process of its own, which can tell its CPU apart from the bot's."""

    def cpu(self) -> float | None:
        return cpu_seconds()


class RemoteSandbox:
    """The sandbox in a child process, as the bench sees it."""

    def __init__(self, remote: Remote) -> None:
        self.remote = remote

    def reset(self) -> None:
        self.remote.ask("reset")

    def served(self) -> Served:
        result: Served = self.remote.ask("served")
        return result

    def change(self, count: int) -> tuple[int, list[tuple[str, str]]]:
        result: tuple[int, list[tuple[str, str]]] = self.remote.ask("change", count)
        return result

    def cpu(self) -> float | None:
        result: float = self.remote.ask("cpu")
        return result


def serve_sandbox(conn: Connection, options: Options) -> None:
    """The child process of ``--split``: a sandbox answering the bench's commands."""
    tenant = generated_workspace(projects=options.projects, bom_lines=options.bom_lines,
                                 threads=options.threads, comments_per_thread=3, seed=0)
    with AltiumSandbox(workspace=tenant) as sandbox:
        serve(conn, ServedSandbox(sandbox), (sandbox.api_url, sandbox.token))


@contextmanager
def sandbox_for(options: Options) -> Iterator[tuple[Sandbox, str, str]]:
    """The sandbox (handle, discovery url, token): in this process, or with ``split`` in a
    process of its own."""
    if not options.split:
        tenant = generated_workspace(projects=options.projects, bom_lines=options.bom_lines,
                                     threads=options.threads, comments_per_thread=3, seed=0)
        with AltiumSandbox(workspace=tenant) as sandbox:
            yield LocalSandbox(sandbox), sandbox.api_url, sandbox.token
        return
    with apart(serve_sandbox, options) as (remote, (api_url, token)):
        yield RemoteSandbox(remote), api_url, token


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(label: str, poller: Poller, sandbox: Sandbox, store: Store) -> Measured:
    rows_before = row_counts(store)
    written_before = total_changes(store)
    sandbox.reset()
    server_cpu = sandbox.cpu()
    received = poller.client.bytes_received
    cpu = cpu_seconds()
    started = time.perf_counter()
    report = poller.poll_once()
    wall = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    seen = sandbox.served()
    if server_cpu is not None:
        server_cpu = (sandbox.cpu() or 0.0) - server_cpu
    rows_after = row_counts(store)
    return Measured(
        label=label,
        report=report,
        wall=wall,
        cpu=cpu,
        received=poller.client.bytes_received - received,
        server_requests=seen.requests,
        server_seconds=seen.seconds,
        server_cpu=server_cpu,
        operations=seen.operations,
        design_ids=seen.design_ids,
        rows_added={t: rows_after[t] - rows_before[t] for t in ROW_TABLES},
        rows_written=total_changes(store) - written_before,
    )


def change_projects(sandbox: AltiumSandbox, projects: Sequence[Project]) -> int:
    """Review activity on each project; returns the events it should produce."""
    users = sandbox.tenant.users
    expected = 0
    for index, project in enumerate(projects):
        author, other = users[index % len(users)], users[(index + 1) % len(users)]
        sandbox.open_thread(project, author=author, text=f"Bench check {index}: pin 1 marking?")
        sandbox.reply(project, 1, author=other, text="Looked again, still open.")
        sandbox.resolve(project, 2, by=author)
        expected += 3
        if index < 3:
            designator = project.variants[0].designators()[0]
            sandbox.swap_part(project, designator, mpn=f"BENCH-{index:03d}",
                              manufacturer="Acme Components")
            expected += len(project.variants)
        if index >= 2:
            sandbox.commit_revision(project, message=f"Bench revision {index}", author=author)
            expected += 1
    return expected


def pick_changed(sandbox: AltiumSandbox, count: int) -> list[Project]:
    everything = sorted(sandbox.projects(), key=lambda p: p.name.casefold())
    step = len(everything) // count
    return [everything[i * step] for i in range(count)]


def file_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def checkpoint(store: Store) -> None:
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def unchanged_series(poller: Poller, sandbox: Sandbox, store: Store, db_path: Path,
                     polls: int, progress: Callable[[str], None]) -> Series:
    wal_path = db_path.with_name(db_path.name + "-wal")
    checkpoint(store)
    series = Series(main_before=file_size(db_path), wal_before=file_size(wal_path))
    step = max(1, polls // 10)
    for number in range(1, polls + 1):
        series.polls.append(measure(f"unchanged #{number}", poller, sandbox, store))
        if number % step == 0 or number == polls:
            progress(f"  {number}/{polls} unchanged polls, last {series.polls[-1].wall:.2f}s")
    series.main_after, series.wal_after = file_size(db_path), file_size(wal_path)
    checkpoint(store)
    series.main_checkpointed = file_size(db_path)
    return series


def p90(values: Sequence[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def poll_row(m: Measured) -> str:
    ops = m.operations
    designs = ops["Design"] + ops["DesignsBatch"]
    server_cpu = "-" if m.server_cpu is None else f"{m.server_cpu:.2f}"
    return (f"{m.label:<16}{m.wall:>8.2f}{m.cpu:>7.2f}{server_cpu:>8}{m.received / 1e6:>8.2f}"
            f"{m.server_seconds:>9.2f}{m.server_requests:>6}{m.report.requests:>6}"
            f"{designs:>8}{ops['BomPage']:>8}{m.report.boms_read:>6}"
            f"{m.report.events:>8}{m.added:>7}{m.rows_written:>9}")


POLL_HEADER = (f"{'poll':<16}{'wall s':>8}{'cpu s':>7}{'srv cpu':>8}{'MB':>8}{'server s':>9}"
               f"{'srv':>6}{'cli':>6}{'Design':>8}{'BomPage':>8}{'BOMs':>6}{'events':>8}{'rows+':>7}"
               f"{'written':>9}")


def print_polls(polls: Sequence[Measured]) -> None:
    print(POLL_HEADER)
    print("-" * len(POLL_HEADER))
    for m in polls:
        print(poll_row(m))


def print_series(series: Series) -> None:
    walls = series.walls()
    requests = [m.server_requests for m in series.polls]
    events = sum(m.report.events for m in series.polls)
    added = sum(m.added for m in series.polls)
    written = sum(m.rows_written for m in series.polls)
    grown = (series.main_after + series.wal_after) - (series.main_before + series.wal_before)
    cpus = [m.cpu for m in series.polls]
    print(f"{len(walls)} unchanged polls:")
    print(f"  wall s       median {statistics.median(walls):.2f}  p90 {p90(walls):.2f}  "
          f"min {min(walls):.2f}  max {max(walls):.2f}  total {sum(walls):.1f}")
    print(f"  bot cpu s    median {statistics.median(cpus):.3f}  max {max(cpus):.3f}")
    print(f"  MB received  median "
          f"{statistics.median(m.received for m in series.polls) / 1e6:.2f}")
    print(f"  requests     min {min(requests)}  max {max(requests)} a poll  "
          f"(client counted {sum(m.report.requests for m in series.polls)} in all)")
    print(f"  rows         {added} added, {written} written, {events} events")
    print(f"  db bytes     main {series.main_before:,} -> {series.main_after:,}, "
          f"wal {series.wal_before:,} -> {series.wal_after:,}: {grown:+,} with the WAL")
    print(f"  checkpointed main {series.main_checkpointed:,}: "
          f"{series.main_checkpointed - series.main_before:+,} bytes of real growth")


@dataclass(frozen=True)
class Verdict:
    target: str
    passed: bool | None
    """None: not judged in this run (time and memory are judged only with ``--split``)."""
    detail: str

    @property
    def word(self) -> str:
        return "SKIP" if self.passed is None else "PASS" if self.passed else "FAIL"


@dataclass(frozen=True)
class Figures:
    """What one run measured, as the targets judge it (and as ``--runs`` takes medians of)."""

    first_wall: float
    first_cpu: float
    first_server_cpu: float | None
    peak_mib: float
    unchanged_requests: float
    unchanged_bytes: float
    unchanged_cpu: float
    unchanged_added: int
    changed_requests: int
    changed_pages: int
    changed_boms: int
    changed_exact: bool

    @classmethod
    def of(cls, baseline: Measured, unchanged: Measured, changed: Measured,
           changed_ids: set[str], series: Series) -> Figures:
        singles = [unchanged, *series.polls]
        return cls(
            first_wall=baseline.wall, first_cpu=baseline.cpu,
            first_server_cpu=baseline.server_cpu, peak_mib=peak_rss_mib(),
            unchanged_requests=statistics.median(
                max(m.server_requests, m.report.requests) for m in singles),
            unchanged_bytes=statistics.median(m.received for m in singles),
            unchanged_cpu=statistics.median(m.cpu for m in singles),
            unchanged_added=sum(m.added for m in singles)
            + sum(m.report.events for m in singles),
            changed_requests=changed.server_requests,
            changed_pages=changed.operations["BomPage"],
            changed_boms=changed.report.boms_read,
            changed_exact=changed.design_ids == changed_ids)

    @classmethod
    def median(cls, runs: Sequence[Figures]) -> Figures:
        """Each figure's median over ``runs``; counts that must be 0 take the worst run."""
        def mid(name: str) -> Any:
            return statistics.median(getattr(r, name) for r in runs)

        servers = [r.first_server_cpu for r in runs if r.first_server_cpu is not None]
        return cls(
            first_wall=mid("first_wall"), first_cpu=mid("first_cpu"),
            first_server_cpu=statistics.median(servers) if servers else None,
            peak_mib=mid("peak_mib"), unchanged_requests=mid("unchanged_requests"),
            unchanged_bytes=mid("unchanged_bytes"), unchanged_cpu=mid("unchanged_cpu"),
            unchanged_added=max(r.unchanged_added for r in runs),
            changed_requests=int(mid("changed_requests")),
            changed_pages=int(mid("changed_pages")),
            changed_boms=int(mid("changed_boms")),
            changed_exact=all(r.changed_exact for r in runs))


def verdicts(options: Options, f: Figures) -> list[Verdict]:
    n = options.projects
    found = [
        Verdict("unchanged polls add 0 snapshot rows and no events", f.unchanged_added == 0,
                f"{f.unchanged_added} rows and events added"),
        Verdict(f"{CHANGED_PROJECTS}-project change fetches only those {CHANGED_PROJECTS} BOMs",
                f.changed_boms == CHANGED_PROJECTS and f.changed_exact,
                f"BOMs read {f.changed_boms}, the changed projects' ids: {f.changed_exact}"),
    ]
    if n in MAX_CHANGED_REQUESTS:
        found.append(Verdict(
            f"{CHANGED_PROJECTS}-project change of {n} costs <= {MAX_CHANGED_REQUESTS[n]} "
            "requests + their further BOM pages",
            f.changed_requests <= MAX_CHANGED_REQUESTS[n] + f.changed_pages,
            f"{f.changed_requests} requests, {f.changed_pages} of them BOM pages"))
    if n in MAX_UNCHANGED_REQUESTS:
        found.append(Verdict(f"unchanged poll of {n} costs <= {MAX_UNCHANGED_REQUESTS[n]} "
                             "requests", f.unchanged_requests <= MAX_UNCHANGED_REQUESTS[n],
                             f"median {f.unchanged_requests:g}"))
    if n in MAX_UNCHANGED_BYTES:
        found.append(Verdict(f"unchanged poll of {n} moves < {MAX_UNCHANGED_BYTES[n] / 1e6:g} MB",
                             f.unchanged_bytes < MAX_UNCHANGED_BYTES[n],
                             f"median {f.unchanged_bytes / 1e6:.2f} MB"))
    unjudged = "" if options.split else ", not judged without --split"
    if n in MAX_UNCHANGED_CPU:
        found.append(Verdict(f"unchanged poll of {n} costs < {MAX_UNCHANGED_CPU[n]} s of bot CPU",
                             f.unchanged_cpu < MAX_UNCHANGED_CPU[n] if options.split else None,
                             f"median {f.unchanged_cpu:.3f} s{unjudged}"))
    if n in MAX_FIRST_POLL_SECONDS:
        found.append(Verdict(f"first poll of {n} takes < {MAX_FIRST_POLL_SECONDS[n]:g} s",
                             f.first_wall < MAX_FIRST_POLL_SECONDS[n] if options.split else None,
                             f"{f.first_wall:.1f} s{unjudged}"))
    if n in MAX_PEAK_MIB:
        found.append(Verdict(f"bot peak memory at {n} projects < {MAX_PEAK_MIB[n]:g} MiB",
                             f.peak_mib < MAX_PEAK_MIB[n] if options.split else None,
                             f"{f.peak_mib:.0f} MiB{unjudged}"))
    return found


def judge(options: Options, figures: Figures) -> int:
    """Print a line per target; 1 when any failed."""
    results = verdicts(options, figures)
    for verdict in results:
        print(f"{verdict.word}  {verdict.target} ({verdict.detail})")
    return 1 if any(verdict.passed is False for verdict in results) else 0


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def say(text: str) -> None:
    print(text, flush=True)


def run(options: Options) -> int:
    say(f"workspace: {options.projects} projects, {options.bom_lines} BOM lines, "
        f"{options.threads} threads each; {options.polls} unchanged polls; sandbox "
        + ("in its own process" if options.split else "in this process"))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-poll-") as folder, \
            sandbox_for(options) as (sandbox, api_url, token), \
            NexarClient(token=token, api_url=api_url) as client, \
            Store.open(Path(folder) / "review-bot.db") as store:
        db_path = Path(folder) / "review-bot.db"
        watched = subscribe_all(client, store)
        say(f"setup: {watched} projects subscribed to {CHANNEL} "
            f"in {time.perf_counter() - started:.1f}s")
        poller = Poller(client=client, store=store)

        baseline = measure("baseline", poller, sandbox, store)
        say(f"baseline poll: {baseline.wall:.1f}s, {baseline.report.boms_read} BOMs read, "
            f"bot CPU {baseline.cpu:.1f}s, peak {peak_rss_mib():.0f} MiB")
        unchanged = measure("unchanged", poller, sandbox, store)
        say(f"unchanged poll: {unchanged.wall:.2f}s, {unchanged.server_requests} requests")

        expected_events, targets = sandbox.change(CHANGED_PROJECTS)
        changed = measure(f"{CHANGED_PROJECTS} changed", poller, sandbox, store)
        say(f"{CHANGED_PROJECTS}-project change: {changed.wall:.2f}s, "
            f"{changed.report.events} events (expected {expected_events})")

        series = unchanged_series(poller, sandbox, store, db_path, options.polls, say)
        full = measure("hourly full", Poller(client=client, store=store,
                                             full_read_every=timedelta(0)), sandbox, store)
        failures = {**baseline.report.failures, **unchanged.report.failures,
                    **changed.report.failures, **full.report.failures}
        for m in series.polls:
            failures.update(m.report.failures)

    print()
    print_polls([baseline, unchanged, changed, full])
    print("  cpu s: this process's CPU (the bot's alone with --split); srv cpu: the sandbox "
          "process's CPU (--split only);\n  MB: answer bytes the client read; srv/cli: HTTP "
          "requests counted by the sandbox / by the client;\n  server s: sandbox time summed "
          "over requests; hourly full: the poll that reads every thread in full\n  (due once "
          "an hour per project)")
    print(f"  changed: {', '.join(name for _, name in targets)}; rows+ by table "
          + ", ".join(f"{t} {n:+}" for t, n in changed.rows_added.items()))
    print()
    print_series(series)
    print()
    if failures:
        print(f"poll failures: {failures}")
    figures = Figures.of(baseline, unchanged, changed, {i for i, _ in targets}, series)
    if options.figures is not None:
        options.figures.write_text(json.dumps(asdict(figures)))
    status = judge(options, figures)
    print(f"peak RSS {peak_rss_mib():.0f} MiB ("
          + ("the bot alone" if options.split else "bot and sandbox")
          + f"); total {time.perf_counter() - started:.1f}s")
    return status


def repeat(options: Options, argv: Sequence[str]) -> int:
    """``--runs N``: N whole runs, each a process of its own (peak memory is per process),
    then the median of each figure, judged."""
    found: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="bench-poll-runs-") as folder:
        for number in range(1, options.runs + 1):
            path = Path(folder) / f"run-{number}.json"
            say(f"== run {number} of {options.runs}")
            subprocess.run([sys.executable, __file__, *argv, "--runs", "1",
                            "--figures", str(path)], check=False)
            if not path.exists():
                say(f"run {number} ended without its figures")
                return 1
            found.append(Figures(**json.loads(path.read_text())))
    figures = Figures.median(found)
    print()
    print(f"median of {len(found)} runs ({options.projects} projects):")
    for name, values in (
            ("first poll wall s", [f.first_wall for f in found]),
            ("first poll bot cpu s", [f.first_cpu for f in found]),
            ("first poll sandbox cpu s", [f.first_server_cpu or 0.0 for f in found]),
            ("bot peak MiB", [f.peak_mib for f in found]),
            ("unchanged requests", [f.unchanged_requests for f in found]),
            ("unchanged MB", [f.unchanged_bytes / 1e6 for f in found]),
            ("unchanged bot cpu s", [f.unchanged_cpu for f in found]),
            ("5 changed requests", [float(f.changed_requests) for f in found])):
        runs = "  ".join(f"{v:.3g}" for v in values)
        print(f"  {name:<26}{statistics.median(values):>9.3g}   (runs: {runs})")
    print()
    return judge(options, figures)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    options = parse_options(args)
    if options.runs > 1:
        return repeat(options, list(_without_runs(args)))
    return run(options)


def _without_runs(argv: Sequence[str]) -> Iterator[str]:
    """``argv`` less its ``--runs`` option (a child is told ``--runs 1``)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--runs":
            skip = True
        elif not arg.startswith("--runs="):
            yield arg


if __name__ == "__main__":
    sys.exit(main())
