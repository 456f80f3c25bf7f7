"""Benchmark of the ``/review`` slash command answered from a large snapshot, over HTTP.

Builds a generated workspace (default: 500 projects, 60-line BOMs, 20 threads of 3
comments each), subscribes every project to ``#bench``, takes the baseline poll, plays a
little review on one project and polls again, so that its ``changes`` have events. Then,
for each command the snapshot answers (``projects``, ``projects <text>``, ``project``,
``bom``, ``bom <designator>``, ``comments``, ``comments all``, ``thread``, ``changes``,
``subscriptions``, ``status``), it sends ``--requests`` signed, form-encoded slash
command POSTs from ``--concurrency`` client threads and measures, per request:

- ack: from sending the POST to its HTTP 200;
- answer: from sending the POST to the arrival of the answer at its ``response_url``, a
  local receiver standing in for Slack (it also answers bolt's one ``auth.test`` call).

Each client thread keeps one request in flight until its answer arrives, so there are
``--concurrency`` commands in flight at any moment. The floor is a bare bolt app whose
``/review`` listener only acks, behind the same ``bot.server.HttpServer``, driven the same
way (a request is done at its ack). After a warm-up (``--concurrency`` requests of each
command, and of the floor), the floor is measured before the first command and again
after each one; its figures pool every one of those runs, so drift over the run weighs on
the floor as on the commands, and its p99 rests on many more samples than a single
command's. The table gives p50 and p99 in milliseconds and the app's CPU time per
request, then a PASS/FAIL line per command and target: p99 ack at most 1.5 x the floor's
p99 and under 100 ms; p99 answer under 300 ms. It exits 0 either way.

Run it from the project root:

    .venv/bin/python bench/commands.py [--projects 500] [--bom-lines 60] [--threads 20]
        [--requests 200] [--concurrency 20] [--bursts] [--in-process]
        [--process-before-response on|off] [--backlog N]

The app and the floor each run in a child process of their own, as the bot runs alone in
its process in production, so the client threads and the receiver do not compete with
them for the GIL; ``--in-process`` serves both from this process instead (to profile
them, say).

``--bursts`` sends in waves instead: all client threads at once, then each waits for its
answer and for the others before the next wave, so the app and the floor both take
``--concurrency`` simultaneous acks. Steady, the floor keeps that many acks in flight
while most of the app's requests are past their ack and waiting for their answer, so
fewer of the app's acks overlap each other (but they overlap the answers).

Both apps get ``build_app``'s default ``process_before_response`` unless
``--process-before-response on|off`` says otherwise. On, the ack listener runs on the
request's thread and only the answer goes to bolt's executor; off, the ack waits for a
worker of that executor (shared with the answers), and the request's thread looks for it
every 10 ms. ``--backlog N`` overrides the listen backlog of ``bot.server.HttpServer``:
the server takes a new connection for every request, so at 20 concurrent requests a
backlog of socketserver's default 5 drops SYNs, which the client resends a second later.
"""

from __future__ import annotations

import argparse
import inspect
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode

import httpx
from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot import server as bot_server
from bot.app import build_app
from bot.server import EVENTS_PATH, HttpServer
from jobs.nexar import NexarClient
from jobs.poll import Poller, PollReport, refresh_catalog
from sandbox.altium import AltiumSandbox, Project, generated_workspace
from state.clock import stamp
from state.model import EVENT_GROUPS, Snapshot
from state.store import Store

SECRET = "5b1d0c2e9f8a7b6c5d4e3f2a1b0c9d8e"
CHANNEL = "#bench"
CHANNEL_ID = "CBENCH0001"
USER_ID = "UBENCH0001"
TEAM_ID = "TBENCH0001"
API_PATH = "/api/"
RESPOND_PATH = "/respond/"
AUTH_TEST = {"ok": True, "url": "https://bench.slack.com/", "team": "bench", "user": "review-bot",
             "team_id": TEAM_ID, "user_id": "UBENCHBOT1", "bot_id": "BBENCH0001",
             "is_enterprise_install": False}
ANSWER_TIMEOUT = 30.0
ACK_FACTOR = 1.5
ACK_LIMIT = 0.100
ANSWER_LIMIT = 0.300
KINDS = ("app", "floor")


@dataclass(frozen=True)
class Options:
    projects: int
    bom_lines: int
    threads: int
    requests: int
    concurrency: int
    in_process: bool
    process_before_response: bool | None
    backlog: int | None
    bursts: bool


@dataclass(frozen=True)
class Command:
    """One measured command: a label with placeholders, and the text actually sent."""

    label: str
    text: str


@dataclass
class Run:
    """One series of requests against one server."""

    label: str
    acks: list[float] = field(default_factory=list)
    answers: list[float] = field(default_factory=list)
    failed: int = 0
    missing: int = 0
    wall: float = 0.0
    cpu: float | None = None
    sample: dict[str, Any] | None = None
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def sent(self) -> int:
        return len(self.acks) + self.failed


@dataclass(frozen=True)
class Load:
    """How many requests a run sends, and the clients that send them: one thread each."""

    requests: int
    clients: Sequence[httpx.Client]
    receiver: Receiver
    bursts: bool


@dataclass(frozen=True)
class Verdict:
    target: str
    passed: bool
    detail: str


# -- the response_url receiver ------------------------------------------------------------


class _ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, receiver: Receiver) -> None:
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        self.receiver = receiver


class _ReceiverHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        at = time.perf_counter()
        if self.path.startswith(API_PATH):
            self.send(json.dumps(AUTH_TEST).encode(), "application/json")
            return
        server = self.server
        assert isinstance(server, _ReceiverServer)
        server.receiver.arrived(self.path, body, at)
        self.send(b"ok", "text/plain")

    def send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Receiver:
    """Stands in for Slack: notes when each answer reaches its response URL, and what it is.

    It also answers the one ``auth.test`` call bolt makes before its first request.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, threading.Event] = {}
        self._arrivals: dict[str, float] = {}
        self._bodies: dict[str, bytes] = {}
        self._server = _ReceiverServer(self)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="bench-receiver")

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        return f"{self.base}{API_PATH}"

    def url(self, request_id: str) -> str:
        return f"{self.base}{RESPOND_PATH}{request_id}"

    def expect(self, request_id: str) -> threading.Event:
        event = threading.Event()
        with self._lock:
            self._waiting[request_id] = event
        return event

    def arrived(self, path: str, body: bytes, at: float) -> None:
        request_id = path.removeprefix(RESPOND_PATH)
        with self._lock:
            self._arrivals.setdefault(request_id, at)
            self._bodies.setdefault(request_id, body)
            event = self._waiting.pop(request_id, None)
        if event is not None:
            event.set()

    def arrival(self, request_id: str) -> float:
        with self._lock:
            return self._arrivals[request_id]

    def answer(self, request_id: str) -> dict[str, Any] | None:
        with self._lock:
            body = self._bodies.get(request_id)
        if body is None:
            return None
        try:
            loaded = json.loads(body)
        except ValueError:
            return {"text": body.decode(errors="replace")}
        return loaded if isinstance(loaded, dict) else {"text": str(loaded)}


# -- the servers under test ---------------------------------------------------------------


def floor_app(api_url: str, *, process_before_response: bool) -> App:
    """A bare bolt app: ``/review`` is acknowledged and nothing else happens."""
    app = App(client=WebClient(token="xoxb-bench", base_url=api_url), signing_secret=SECRET,
              token_verification_enabled=False,
              process_before_response=process_before_response)

    def acknowledge(ack: Ack) -> None:
        ack()

    app.command("/review")(acknowledge)
    return app


def built_default_pbr() -> bool:
    """``build_app``'s own ``process_before_response``, which the floor then shares."""
    parameter = inspect.signature(build_app).parameters.get("process_before_response")
    return bool(parameter.default) if parameter is not None else False


def bench_app(kind: str, db_path: str, api_url: str, *, process_before_response: bool) -> App:
    if kind == "floor":
        return floor_app(api_url, process_before_response=process_before_response)
    return build_app(client=WebClient(token="xoxb-bench", base_url=api_url),
                     signing_secret=SECRET, db_path=db_path,
                     process_before_response=process_before_response)


class Served:
    """A server under test at ``url``; ``cpu()`` is its process's CPU time, when known."""

    def __init__(self, url: str, stop: Callable[[], None],
                 cpu: Callable[[], float | None]) -> None:
        self.url = url
        self.stop = stop
        self.cpu = cpu


def cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def listen_backlog() -> int:
    return int(bot_server._ThreadingServer.request_queue_size)


def set_listen_backlog(backlog: int | None) -> None:
    if backlog is not None:
        bot_server._ThreadingServer.request_queue_size = backlog


def serve_here(kind: str, db_path: str, api_url: str, *,
               process_before_response: bool, backlog: int | None) -> Served:
    set_listen_backlog(backlog)
    app = bench_app(kind, db_path, api_url, process_before_response=process_before_response)
    server = HttpServer(app, host="127.0.0.1", port=0).start()
    return Served(f"http://127.0.0.1:{server.port}{EVENTS_PATH}", server.stop, lambda: None)


def serve_child(kind: str, db_path: str, api_url: str, *,
                process_before_response: bool, backlog: int | None) -> Served:
    command = [sys.executable, str(Path(__file__).resolve()), "--serve", kind, "--db", db_path,
               "--api", api_url]
    command += ["--process-before-response", "on" if process_before_response else "off"]
    if backlog is not None:
        command += ["--backlog", str(backlog)]
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    stdin: IO[str] | None = child.stdin
    stdout: IO[str] | None = child.stdout
    assert stdin is not None and stdout is not None
    line = stdout.readline().split()
    if len(line) != 2 or line[0] != "port":
        child.kill()
        child.wait()
        raise RuntimeError(f"the {kind} server did not start (exit {child.poll()})")

    def stop() -> None:
        stdin.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    return Served(f"http://127.0.0.1:{line[1]}{EVENTS_PATH}", stop,
                  lambda: cpu_seconds(child.pid))


def serve_until_stdin_closes(kind: str, db_path: str, api_url: str, *,
                             process_before_response: bool, backlog: int | None) -> int:
    set_listen_backlog(backlog)
    app = bench_app(kind, db_path, api_url, process_before_response=process_before_response)
    server = HttpServer(app, host="127.0.0.1", port=0).start()
    print(f"port {server.port}", flush=True)
    sys.stdin.read()
    server.stop()
    return 0


# -- the load -----------------------------------------------------------------------------


def payload(text: str, response_url: str) -> dict[str, str]:
    return {"token": "bench", "team_id": TEAM_ID, "team_domain": "bench",
            "channel_id": CHANNEL_ID, "channel_name": CHANNEL.lstrip("#"),
            "user_id": USER_ID, "user_name": "bench", "command": "/review", "text": text,
            "api_app_id": "ABENCH0001", "trigger_id": "1.2.3", "response_url": response_url}


def signed(body: str) -> dict[str, str]:
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=stamp, body=body)
    if signature is None:
        raise RuntimeError("slack_sdk could not sign the request")
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded"}


_run_numbers = itertools.count(1)


def drive(served: Served, label: str, text: str, load: Load, *, answered: bool) -> Run:
    """``load.requests`` POSTs, a thread for each client, each awaiting its answer.

    Steady: each thread sends its next request once its last one is answered. Bursts: the
    threads send together, then wait for each other before the next wave.
    """
    tag = f"r{next(_run_numbers)}"
    receiver = load.receiver
    run = Run(label)
    numbers = iter(range(load.requests))
    lock = threading.Lock()
    clients = load.clients[:load.requests]
    waves = -(-load.requests // len(clients))
    barrier = threading.Barrier(len(clients))

    def send(http: httpx.Client, number: int) -> None:
        request_id = f"{tag}-{number}"
        form = urlencode(payload(text, receiver.url(request_id)))
        headers = signed(form)
        done = receiver.expect(request_id) if answered else None
        started = time.perf_counter()
        try:
            status = http.post(served.url, content=form, headers=headers).status_code
            failure = "" if status == 200 else f"HTTP {status}"
        except httpx.HTTPError as exc:
            failure = type(exc).__name__
        acked = time.perf_counter()
        arrived = None
        if not failure and done is not None and done.wait(ANSWER_TIMEOUT):
            arrived = receiver.arrival(request_id)
        with lock:
            if failure:
                run.failed += 1
                run.failures[failure] += 1
                return
            run.acks.append(acked - started)
            if done is None:
                return
            if arrived is None:
                run.missing += 1
            else:
                run.answers.append(arrived - started)

    def client(index: int, http: httpx.Client) -> None:
        if load.bursts:
            for wave in range(waves):
                barrier.wait(timeout=2 * ANSWER_TIMEOUT)
                if wave * len(clients) + index < load.requests:
                    send(http, wave * len(clients) + index)
            return
        while True:
            with lock:
                number = next(numbers, None)
            if number is None:
                return
            send(http, number)

    cpu_before = served.cpu()
    started = time.perf_counter()
    workers = [threading.Thread(target=client, args=(n, http), name=f"bench-client-{n}")
               for n, http in enumerate(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    run.wall = time.perf_counter() - started
    cpu_after = served.cpu()
    if cpu_before is not None and cpu_after is not None:
        run.cpu = cpu_after - cpu_before
    if answered:
        answers = (receiver.answer(f"{tag}-{n}") for n in range(load.requests))
        run.sample = next((a for a in answers if a is not None), None)
    return run


# -- the snapshot -------------------------------------------------------------------------


def now_text() -> str:
    return stamp(datetime.now(UTC))


def say(text: str) -> None:
    print(text, flush=True)


def review_round(sandbox: AltiumSandbox, project: Project) -> None:
    """Activity on one project, so that ``changes`` has events to show."""
    users = sandbox.tenant.users
    author, other = users[0], users[1]
    sandbox.open_thread(project, author=author, text="Bench: is pin 1 marked on U1?")
    sandbox.reply(project, 1, author=other, text="Looked again, still open.")
    sandbox.resolve(project, 2, by=author)
    designator = project.variants[0].designators()[0]
    sandbox.swap_part(project, designator, mpn="BENCH-001", manufacturer="Acme Components")
    sandbox.commit_revision(project, message="Bench revision", author=author)


def pick_commands(snap: Snapshot) -> tuple[list[Command], str]:
    name = snap.project.name
    designators = sorted(d for v, d in snap.bom or {} if v == "Default")
    designator = designators[len(designators) // 2] if designators else "R1"
    numbers = sorted(t.number for t in snap.threads.values())
    number = numbers[len(numbers) // 2] if numbers else 1
    word = name.split()[0].casefold()
    commands = [
        Command("projects", "projects"),
        Command("projects <text>", f"projects {word}"),
        Command("project <name>", f"project {name}"),
        Command("bom <name>", f"bom {name}"),
        Command("bom <name> <designator>", f"bom {name} {designator}"),
        Command("comments <name>", f"comments {name}"),
        Command("comments <name> all", f"comments {name} all"),
        Command("thread <name> <n>", f"thread {name} {number}"),
        Command("changes <name>", f"changes {name}"),
        Command("subscriptions", "subscriptions"),
        Command("status", "status"),
    ]
    chosen = (f"<name> = {name}, <text> = {word}, <designator> = {designator}, "
              f"<n> = {number}")
    return commands, chosen


def build_snapshot(options: Options, db_path: Path) -> tuple[list[Command], str]:
    started = time.perf_counter()
    tenant = generated_workspace(projects=options.projects, bom_lines=options.bom_lines,
                                 threads=options.threads, comments_per_thread=3, seed=0)
    with AltiumSandbox(workspace=tenant) as sandbox, \
            NexarClient(token=sandbox.token, api_url=sandbox.api_url) as client, \
            Store.open(db_path) as store:
        refresh_catalog(client, store)
        catalog = store.catalog()
        at = now_text()
        with store.transaction():
            for listed in catalog:
                store.subscribe(listed, CHANNEL, EVENT_GROUPS, at=at)
        say(f"setup: {len(catalog)} projects subscribed to {CHANNEL} "
            f"in {time.perf_counter() - started:.1f}s")
        poller = Poller(client=client, store=store)
        baseline, took = timed_poll(poller)
        say(f"baseline poll: {took:.1f}s, {baseline.boms_read} BOMs read, "
            f"{baseline.projects} projects")
        info = catalog[len(catalog) // 2]
        project = next(p for p in sandbox.projects() if p.name == info.name)
        review_round(sandbox, project)
        second, took = timed_poll(poller)
        say(f"poll after a review round on {info.name}: {took:.2f}s, {second.events} events")
        snap = store.load_snapshot(info.id, with_bom=True)
        if snap is None:
            raise RuntimeError(f"no snapshot of {info.name} after the baseline")
        return pick_commands(snap)


def timed_poll(poller: Poller) -> tuple[PollReport, float]:
    started = time.perf_counter()
    report = poller.poll_once()
    return report, time.perf_counter() - started


# -- figures ------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


HEADER = (f"{'command':<26}{'ack p50':>9}{'ack p99':>9}{'ans p50':>9}{'ans p99':>9}"
          f"{'CPU/req':>9}{'req/s':>7}{'lost':>6}")


def row(label: str, run: Run, *, answered: bool) -> str:
    per_request = (ms(run.cpu / run.sent) if run.cpu is not None and run.sent else "-")
    rate = f"{run.sent / run.wall:.0f}" if run.wall else "-"
    answer_p50 = ms(percentile(run.answers, 50)) if answered else "-"
    answer_p99 = ms(percentile(run.answers, 99)) if answered else "-"
    return (f"{label:<26}{ms(percentile(run.acks, 50)):>9}{ms(percentile(run.acks, 99)):>9}"
            f"{answer_p50:>9}{answer_p99:>9}{per_request:>9}{rate:>7}"
            f"{run.failed + run.missing:>6}")


def pooled(runs: Sequence[Run]) -> Run:
    total = Run("floor")
    for run in runs:
        total.acks.extend(run.acks)
        total.failed += run.failed
        total.wall += run.wall
    cpus = [run.cpu for run in runs]
    total.cpu = None if None in cpus else sum(c for c in cpus if c is not None)
    return total


def verdicts(commands: Sequence[Command], runs: Sequence[Run], floor: Run) -> list[Verdict]:
    floor_p99 = percentile(floor.acks, 99)
    allowed = min(ACK_FACTOR * floor_p99, ACK_LIMIT)
    results = []
    for command, run in zip(commands, runs, strict=True):
        ack = percentile(run.acks, 99)
        answer = percentile(run.answers, 99)
        lost = run.failed + run.missing
        lost_text = f", {lost} of {run.sent + run.missing} lost" if lost else ""
        results.append(Verdict(
            f"{command.label}: p99 ack <= {ACK_FACTOR} x floor and < {ms(ACK_LIMIT)} ms",
            ack <= ACK_FACTOR * floor_p99 and ack < ACK_LIMIT and run.failed == 0,
            f"{ms(ack)} ms, limit {ms(allowed)} ms, {ack / floor_p99:.2f} x floor{lost_text}"))
        results.append(Verdict(
            f"{command.label}: p99 answer < {ms(ANSWER_LIMIT)} ms",
            answer < ANSWER_LIMIT and lost == 0,
            f"{ms(answer)} ms{lost_text}"))
    return results


def lost_text(runs: Sequence[Run]) -> str:
    failures: Counter[str] = Counter()
    for run in runs:
        failures.update(run.failures)
    missing = sum(run.missing for run in runs)
    parts = [f"{n} x {what}" for what, n in sorted(failures.items())]
    if missing:
        parts.append(f"{missing} answers missing after {ANSWER_TIMEOUT:.0f}s")
    return "lost: " + ", ".join(parts) if parts else "none lost"


def answer_text(run: Run) -> str:
    if run.sample is None:
        return "(no answer)"
    text = " ".join(str(run.sample.get("text") or "").split())
    blocks = run.sample.get("blocks") or []
    size = len(json.dumps(run.sample))
    return f"{text[:60]!r}, {len(blocks)} blocks, {size:,} bytes"


# -- the run ------------------------------------------------------------------------------


def parse_options(argv: Sequence[str] | None = None
                  ) -> tuple[Options, str | None, str, str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--projects", type=int, default=500, help="projects, all watched (500)")
    parser.add_argument("--bom-lines", type=int, default=60, help="BOM lines a project (60)")
    parser.add_argument("--threads", type=int, default=20, help="comment threads a project (20)")
    parser.add_argument("--requests", type=int, default=200, help="requests a command (200)")
    parser.add_argument("--concurrency", type=int, default=20,
                        help="client threads, each with one request in flight (20)")
    parser.add_argument("--in-process", action="store_true",
                        help="serve the app and the floor from this process")
    parser.add_argument("--process-before-response", choices=("on", "off"),
                        help="bolt's process_before_response for both (build_app's default)")
    parser.add_argument("--bursts", action="store_true",
                        help="send in waves of --concurrency requests at once")
    parser.add_argument("--backlog", type=int,
                        help="listen backlog of bot.server.HttpServer (as shipped: 5)")
    parser.add_argument("--serve", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--db", default="", help=argparse.SUPPRESS)
    parser.add_argument("--api", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.projects < 1:
        parser.error("--projects must be at least 1")
    if args.threads < 3:
        parser.error("--threads must be at least 3")
    if args.bom_lines < 1:
        parser.error("--bom-lines must be at least 1")
    if args.requests < 1 or args.concurrency < 1:
        parser.error("--requests and --concurrency must be at least 1")
    if args.backlog is not None and args.backlog < 1:
        parser.error("--backlog must be at least 1")
    options = Options(args.projects, args.bom_lines, args.threads, args.requests,
                      args.concurrency, args.in_process,
                      None if args.process_before_response is None
                      else args.process_before_response == "on",
                      args.backlog, args.bursts)
    return options, args.serve, args.db, args.api


def run(options: Options) -> int:
    started = time.perf_counter()
    say(f"snapshot: {options.projects} projects, {options.bom_lines} BOM lines "
        f"(60 by default, against bench/poll.py's 300, to keep the setup under a minute), "
        f"{options.threads} threads of 3 comments each")
    pbr = (built_default_pbr() if options.process_before_response is None
           else options.process_before_response)
    pace = "in waves" if options.bursts else "steady"
    where = "in this process" if options.in_process else "in child processes"
    backlog = f"{options.backlog}" if options.backlog else f"{listen_backlog()} (as shipped)"
    say(f"load: {options.requests} requests a command from {options.concurrency} client "
        f"threads, {pace}; servers {where}, process_before_response={pbr}"
        f"{' (build_app default)' if options.process_before_response is None else ''}"
        f", listen backlog {backlog}")
    serve = serve_here if options.in_process else serve_child
    with tempfile.TemporaryDirectory(prefix="bench-commands-") as folder, Receiver() as receiver, \
            ExitStack() as stack:
        db_path = Path(folder) / "review-bot.db"
        commands, chosen = build_snapshot(options, db_path)
        say(f"commands: {chosen}")
        app = serve("app", str(db_path), receiver.api_url, process_before_response=pbr,
                    backlog=options.backlog)
        stack.callback(app.stop)
        floor = serve("floor", str(db_path), receiver.api_url, process_before_response=pbr,
                      backlog=options.backlog)
        stack.callback(floor.stop)
        clients = [stack.enter_context(httpx.Client(timeout=ANSWER_TIMEOUT))
                   for _ in range(options.concurrency)]
        load = Load(options.requests, clients, receiver, options.bursts)
        warm = Load(options.concurrency, clients, receiver, options.bursts)
        warmed = [drive(floor, "floor", "projects", warm, answered=False)]
        warmed += [drive(app, command.text, command.text, warm, answered=True)
                   for command in commands]
        if not any(w.acks for w in warmed):
            raise RuntimeError("no request of the warm-up was acknowledged: "
                               + ", ".join(sorted(set().union(*(w.failures for w in warmed)))))
        say(f"warm-up: {sum(w.sent for w in warmed)} requests, {lost_text(warmed)}")
        floors = [drive(floor, "floor", "projects", load, answered=False)]
        runs: list[Run] = []
        for command in commands:
            measured = drive(app, command.label, command.text, load, answered=True)
            runs.append(measured)
            floors.append(drive(floor, "floor", "projects", load, answered=False))
            say(f"  {command.label:<26} ack p99 {ms(percentile(measured.acks, 99)):>7} ms"
                f"  answer p99 {ms(percentile(measured.answers, 99)):>7} ms"
                f"  floor p99 {ms(percentile(floors[-1].acks, 99)):>6} ms")

    floor_run = pooled(floors)
    floor_p99s = [percentile(f.acks, 99) for f in floors]
    print()
    print(HEADER)
    print("-" * len(HEADER))
    print(row("floor (bare bolt, ack)", floor_run, answered=False))
    for command, measured in zip(commands, runs, strict=True):
        print(row(command.label, measured, answered=True))
    print("  ms; ack: POST to HTTP 200; ans: POST to arrival at response_url; CPU/req: the "
          "server process's CPU time per request; lost: failed acks and missing answers")
    print(f"  floor: {len(floors)} runs of {options.requests} interleaved with the commands "
          f"(before the first, after each), pooled; per-run p99 "
          f"{ms(min(floor_p99s))}-{ms(max(floor_p99s))} ms")
    for label, lossy in [("floor", floors), *((r.label, [r]) for r in runs)]:
        if any(r.failed or r.missing for r in lossy):
            print(f"  {label}: {lost_text(lossy)}")
    print()
    print("answers (the first of each command):")
    for command, measured in zip(commands, runs, strict=True):
        print(f"  {command.label:<26} {answer_text(measured)}")
    print()
    results = verdicts(commands, runs, floor_run)
    for verdict in results:
        print(f"{'PASS' if verdict.passed else 'FAIL'}  {verdict.target} ({verdict.detail})")
    failed = [v for v in results if not v.passed]
    print()
    if failed:
        print(f"*** FAIL: {len(failed)} of {len(results)} targets missed ***")
    else:
        print(f"PASS: all {len(results)} targets met")
    print(f"total {time.perf_counter() - started:.1f}s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    options, kind, db, api = parse_options(argv)
    if kind is not None:
        return serve_until_stdin_closes(kind, db, api,
                                        process_before_response=bool(
                                            options.process_before_response),
                                        backlog=options.backlog)
    return run(options)


if __name__ == "__main__":
    sys.exit(main())
