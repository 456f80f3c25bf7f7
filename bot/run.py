"""``review-bot run``: the long-running bot, from start to a clean stop."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from slack_sdk import WebClient

from bot import service
from bot.app import build_app
from bot.config import Config
from bot.logs import HEALTH
from bot.review.context import Policy
from bot.server import EVENTS_PATH, HttpServer, SocketMode
from bot.workers import Schedule
from state.errors import ConfigError
from state.store import Store, Subscription

log = logging.getLogger(__name__)

STOP_GRACE = 7.0
"""Seconds a stop waits for the running steps (which end their waits at once, and webhook
runs at their next attempt) before leaving them: whatever Slack, Nexar or a webhook
endpoint does (an attempt may take its full 15 s), ``run`` ends within 10 s of SIGTERM."""


def run_bot(config: Config, *, echo: Callable[[str], None],
            stop: threading.Event | None = None, grace: float = STOP_GRACE) -> bool:
    """Connect to Slack, poll and deliver on schedule, until SIGTERM / SIGINT or ``stop``.

    Nexar is reached the way ``poll`` reaches it: ``NEXAR_TOKEN`` if set, else the stored
    sign-in, one token source shared by polls and answers and refreshed as it ages.
    Returns False when a step was still running ``grace`` seconds after the stop (its
    thread is left behind: the caller may end the process; every write is its own
    transaction and a post in flight is reconciled at the next start).
    """
    token = config.require_slack()
    if not config.slack_app_token and not config.slack_signing_secret:
        raise ConfigError("HTTP mode needs SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN for "
                          "Socket Mode)")
    tokens, nexar_line = service.signed_in(config)
    with Store.open(config.db_path) as store:
        subscriptions = store.subscriptions()
    client = WebClient(token=token, base_url=config.slack_api_url)
    stopping = threading.Event()
    runner = service.digest_runner(config, sleep=service.stoppable_sleep(stopping))
    replies = service.reply_writer(config, tokens)
    risk_lookup, supply_off = service.supply_lookup(config, tokens)
    schedule, sync_digests = service.schedule(config, runner, tokens=tokens,
                                              health=HEALTH.info, stopping=stopping,
                                              replies=replies)
    app = build_app(client=client, signing_secret=config.slack_signing_secret or "unused",
                    db_path=config.db_path,
                    nexar=lambda: service.nexar_client(config, tokens),
                    policy=Policy(admins=config.admins, shared=config.shared_projects),
                    digest_tz=config.digest_tz, digest_now=runner.run_now,
                    on_digest_change=sync_digests, replies=replies,
                    supply_lookup=risk_lookup, supply_off=supply_off or "off",
                    supply_thresholds=config.thresholds())
    connection: HttpServer | SocketMode
    if config.slack_app_token:
        connection = SocketMode(app, app_token=config.slack_app_token).start()
        echo("Connected to Slack in Socket Mode.")
    else:
        connection = HttpServer(app, port=config.port).start()
        echo(f"Listening for Slack on http://0.0.0.0:{connection.port}{EVENTS_PATH} "
             "(HTTP mode; every request's signature is checked).")
    done = stop or threading.Event()
    signals = _stop_on_signals(done)
    schedule.start()
    schedule.run_soon("digests-start", sync_digests)
    echo(_watching(subscriptions))
    echo(f"{_timing(schedule)}; {nexar_line}; database {config.db_path}. "
         "Stop with Ctrl-C or SIGTERM.")
    try:
        while not done.wait(0.5):
            pass
    finally:
        echo("Stopping: finishing the current step...")
        finished = schedule.stop(wait=True, timeout=grace)
        connection.stop()
        _restore(signals)
        if set(schedule.left_behind) - {"webhooks"}:
            echo(f"A step was still waiting on Slack or Nexar after {grace:g}s: left "
                 "behind (what it recorded is kept; the next start picks up the rest).")
        if "webhooks" in schedule.left_behind:
            echo(f"A webhook attempt was still in flight after {grace:g}s: left behind (its "
                 "message is sent again, with the same webhook-id, after the next start).")
        echo("Stopped.")
    return finished


def _watching(subscriptions: list[Subscription]) -> str:
    """What the bot watches, said once at start."""
    if not subscriptions:
        return ("No subscriptions yet: add one with 'review-bot subscribe PROJECT CHANNEL' "
                "(or /review subscribe in Slack); the next poll picks it up.")
    projects = sorted({s.project for s in subscriptions}, key=str.casefold)
    channels = {s.channel for s in subscriptions}
    paused = sorted({s.channel for s in subscriptions if s.paused})
    names = ", ".join(projects[:5]) + (f" and {len(projects) - 5} more"
                                       if len(projects) > 5 else "")
    line = (f"Watching {len(projects)} project(s) ({names}) for {len(channels)} channel(s)")
    answering = sorted({s.channel for s in subscriptions if s.replies and not s.paused})
    if answering:
        line += f"; replies in {', '.join(answering)} go to Altium 365"
    if paused:
        line += (f"; paused: {', '.join(paused)} (see 'review-bot subscriptions', then "
                 "'review-bot resume')")
    return line + "."


def _timing(schedule: Schedule) -> str:
    return (f"Polling every {schedule.interval:g}s (the first poll now), delivering after "
            f"each poll and every {schedule.retry_interval:g}s")


Handler = Callable[[int, FrameType | None], object] | int | None


def _stop_on_signals(done: threading.Event) -> dict[int, Handler]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handle(signum: int, frame: FrameType | None) -> None:
        if done.is_set():
            # A second signal: stop now; every write is its own transaction.
            raise SystemExit(130)
        done.set()

    previous: dict[int, Handler] = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.getsignal(signum)
        signal.signal(signum, handle)
    return previous


def _restore(previous: dict[int, Handler]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
