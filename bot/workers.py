"""The workers of ``review-bot run``: poll every interval, deliver after each poll and on
a short retry timer, send webhooks the same way on a worker of their own, and stop cleanly
between steps.

Polls, Slack deliveries and webhook runs have a worker each, so a delivery waiting on Slack
(a rate limit, a slow answer) never delays a poll, and a slow or dead webhook endpoint
delays neither: polls keep their interval and Slack posts go out on time. Deliveries (and
every other step that posts to Slack: digests, ``run_soon``) share one worker, so two never
run at once; a poll that ends while a delivery runs asks for one more delivery after it,
never a queue of them; webhook runs follow the same rule on theirs. ``stopping`` is set on
stop, and steps that wait are expected to watch it (see ``bot.service.stoppable_sleep``),
so a stop never waits out a long ``Retry-After``. A webhook run watches it between two
attempts; an attempt already in flight is not cut (it ends within its 15 s deadline), so a
stop may have to leave that one behind: it was not recorded, and the next start sends the
message again with the same ``webhook-id`` (at least once on the wire).
Each channel with digests has a cron job of its own (``schedule_digests``), on the posting
worker too.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler

from bot.cadence import cron_trigger
from bot.digests import JOB_PREFIX
from state.digests import Digests, DigestSetting
from state.errors import ReviewBotError, StoppedError
from state.store import Store

log = logging.getLogger(__name__)

Job = Callable[[], Any]

POLL_EXECUTOR = "poll"
DELIVER_EXECUTOR = "default"
"""APScheduler's default executor: deliveries, digests and one-off steps."""
WEBHOOK_EXECUTOR = "webhooks"
REPLIES_EXECUTOR = "replies"
REPLIES_INTERVAL: Final = 5.0
"""Seconds between passes over the replies from Slack with work due (a retry, a reply a
stopped process left): the first retry of a reply is due about 5 s after its failure."""
WEBHOOK_RETRY_INTERVAL: Final = 5.0
"""Seconds between webhook runs besides those after each poll: an endpoint's first retry is
due about 5 s after its failure, and a run with nothing due costs two small queries."""
MISFIRE_GRACE_SECONDS: Final = 3600
"""How late a digest's cron job may still start after its fire time."""


def new_scheduler() -> BackgroundScheduler:
    """A scheduler with one worker for polls, one for everything that posts to Slack, one
    for webhook runs and one for replies from Slack."""
    return BackgroundScheduler(timezone=UTC, executors={
        DELIVER_EXECUTOR: {"type": "threadpool", "max_workers": 1},
        POLL_EXECUTOR: {"type": "threadpool", "max_workers": 1},
        WEBHOOK_EXECUTOR: {"type": "threadpool", "max_workers": 1},
        REPLIES_EXECUTOR: {"type": "threadpool", "max_workers": 1}})


class Schedule:
    """Runs ``poll`` every ``interval`` seconds on its own worker, ``deliver`` after each
    poll and every ``retry_interval`` seconds on the posting worker, and ``webhooks`` (when
    given) after each poll and every ``webhook_interval`` seconds on the webhook worker,
    and ``replies`` (when given) every ``replies_interval`` seconds on a worker of its own:
    writing to Altium 365 never waits behind Slack posts or webhooks."""

    def __init__(self, *, poll: Job, deliver: Job, interval: float,
                 retry_interval: float = 30.0,
                 webhooks: Job | None = None,
                 finish_webhooks: Callable[[float | None], bool] | None = None,
                 webhook_interval: float = WEBHOOK_RETRY_INTERVAL,
                 replies: Job | None = None,
                 after_poll: Job | None = None,
                 replies_interval: float = REPLIES_INTERVAL,
                 scheduler: BackgroundScheduler | None = None,
                 stopping: threading.Event | None = None) -> None:
        self.poll = poll
        self.deliver = deliver
        self.interval = interval
        self.retry_interval = retry_interval
        self.webhooks = webhooks
        self.finish_webhooks = finish_webhooks
        """Waits up to the given seconds for webhook sending still in flight after the
        steps (the sender's threads outlive its steps); False when some was left."""
        self.webhook_interval = webhook_interval
        self.replies = replies
        self.after_poll = after_poll
        """Runs on the poll worker after each poll, once delivery is asked for (the supply
        lookup: the alert never waits for it)."""
        self.replies_interval = replies_interval
        self.scheduler = scheduler or new_scheduler()
        self.stopping = stopping or threading.Event()
        self._poll_step = threading.Lock()
        self._post_step = threading.Lock()
        self._webhook_step = threading.Lock()
        self._replies_step = threading.Lock()
        self._asked = threading.Lock()
        self._delivery_asked = False
        self._webhooks_asked = False
        self.left_behind: list[str] = []
        """After ``stop``: the workers whose step was still running at its deadline
        (``poll``, ``post``, ``webhooks``, ``replies``)."""

    def start(self) -> None:
        common = {"coalesce": True, "max_instances": 1}
        self.scheduler.add_job(self.poll_and_ask, "interval", seconds=self.interval,
                               id="poll", next_run_time=datetime.now(UTC),
                               executor=POLL_EXECUTOR,
                               misfire_grace_time=max(1, int(self.interval)), **common)
        self.scheduler.add_job(self.deliver_only, "interval", seconds=self.retry_interval,
                               id="deliver", executor=DELIVER_EXECUTOR,
                               misfire_grace_time=max(1, int(self.retry_interval)), **common)
        if self.webhooks is not None:
            self.scheduler.add_job(self.webhooks_only, "interval",
                                   seconds=self.webhook_interval, id="webhooks",
                                   executor=WEBHOOK_EXECUTOR,
                                   misfire_grace_time=max(1, int(self.webhook_interval)),
                                   **common)
        if self.replies is not None:
            self.scheduler.add_job(self.replies_only, "interval",
                                   seconds=self.replies_interval, id="replies",
                                   executor=REPLIES_EXECUTOR, next_run_time=datetime.now(UTC),
                                   misfire_grace_time=max(1, int(self.replies_interval)),
                                   **common)
        self.scheduler.start()

    def poll_and_ask(self) -> None:
        """One poll, then a delivery and a webhook run asked for on their workers (neither
        waited for), then ``after_poll`` on this worker."""
        if self._run("poll", self.poll, self._poll_step):
            self.ask_delivery()
            self.ask_webhooks()
            if self.after_poll is not None:
                self._run("after poll", self.after_poll, self._poll_step)

    def ask_delivery(self) -> None:
        """Deliver soon on the posting worker; asking again before it starts adds nothing."""
        with self._asked:
            if self._delivery_asked or self.stopping.is_set():
                return
            self._delivery_asked = True
        # One may still be running while one more is asked for: two instances at most.
        self.scheduler.add_job(self._asked_delivery, id="deliver-after-poll",
                               executor=DELIVER_EXECUTOR, misfire_grace_time=None,
                               max_instances=2, replace_existing=True)

    def _asked_delivery(self) -> None:
        with self._asked:
            self._delivery_asked = False
        self.deliver_only()

    def deliver_only(self) -> None:
        self._run("deliver", self.deliver, self._post_step)

    def ask_webhooks(self) -> None:
        """Send webhooks soon on their worker; asking again before it starts adds nothing."""
        if self.webhooks is None:
            return
        with self._asked:
            if self._webhooks_asked or self.stopping.is_set():
                return
            self._webhooks_asked = True
        self.scheduler.add_job(self._asked_webhooks, id="webhooks-after-poll",
                               executor=WEBHOOK_EXECUTOR, misfire_grace_time=None,
                               max_instances=2, replace_existing=True)

    def _asked_webhooks(self) -> None:
        with self._asked:
            self._webhooks_asked = False
        self.webhooks_only()

    def webhooks_only(self) -> None:
        if self.webhooks is not None:
            self._run("webhooks", self.webhooks, self._webhook_step)

    def replies_only(self) -> None:
        if self.replies is not None:
            self._run("replies", self.replies, self._replies_step)

    def step(self, name: str, job: Job) -> None:
        """Run ``job`` as a posting step (never beside a delivery), logging its failure."""
        self._run(name, job, self._post_step)

    def _run(self, name: str, job: Job, lock: threading.Lock) -> bool:
        """Run one step under ``lock``; False when it did not run or failed."""
        if self.stopping.is_set():
            return False
        with lock:
            if self.stopping.is_set():
                return False
            try:
                job()
                return True
            except StoppedError:
                log.info("%s stopped early: the bot is stopping", name)
            except ReviewBotError as exc:
                log.error("%s failed: %s", name, exc)
            except Exception as exc:
                # A failed step must not stop the schedule; the next run tries again.
                log.error("%s failed unexpectedly: %s: %s", name, type(exc).__name__, exc)
                log.debug("details", exc_info=True)
            return False

    def run_soon(self, name: str, job: Job) -> None:
        """Run ``job`` once, now, as a posting step (never beside a delivery)."""
        self.scheduler.add_job(self.step, args=[name, job], id=name,
                               executor=DELIVER_EXECUTOR, misfire_grace_time=None)

    def stop(self, *, wait: bool = True, timeout: float | None = None) -> bool:
        """No new step starts and waiting steps are told to end (``stopping``); with
        ``wait``, running steps are waited for, and then the webhook sending still in flight
        (``finish_webhooks``), at most ``timeout`` seconds in all (an endpoint's sending ends
        after its attempt in flight, which may take up to 15 s: past ``timeout`` it is left
        behind like any step).

        Returns False when a step was still running at the deadline.
        """
        self.stopping.set()
        finished = True
        if wait:
            deadline = None if timeout is None else time.monotonic() + timeout
            steps = (("poll", self._poll_step), ("post", self._post_step),
                     ("webhooks", self._webhook_step), ("replies", self._replies_step))
            for name, lock in steps:
                left = -1.0 if deadline is None else max(0.0, deadline - time.monotonic())
                if lock.acquire(timeout=left):
                    lock.release()
                else:
                    finished = False
                    self.left_behind.append(name)
            if self.finish_webhooks is not None and "webhooks" not in self.left_behind:
                rest = None if deadline is None else max(0.0, deadline - time.monotonic())
                if not self.finish_webhooks(rest):
                    finished = False
                    self.left_behind.append("webhooks")
        if self.scheduler.running:
            # shutdown(wait=True) would hold the scheduler's job-store lock while waiting,
            # and a finishing step may need that lock (digest jobs are rebuilt in a step);
            # the steps have already finished above.
            self.scheduler.shutdown(wait=False)
        return finished


# -- digest jobs ---------------------------------------------------------------------------

def schedule_digests(scheduler: BaseScheduler, store: Store,
                     job: Callable[[str], Any]) -> list[str]:
    """(Re)build one cron job per channel with digests (id ``digest:<channel>``), calling
    ``job(channel)``; jobs of channels that turned digests off are removed, and a job whose
    setting did not change is left alone, so a rebuild never skips a pending fire."""
    wanted = {f"{JOB_PREFIX}{c.channel}": c for c in Digests(store).all()}
    for existing in scheduler.get_jobs():
        if existing.id.startswith(JOB_PREFIX) and existing.id not in wanted:
            scheduler.remove_job(existing.id)
    for job_id, current in wanted.items():
        name = f"{JOB_PREFIX}{current.channel} {_signature(current.setting)}"
        existing = scheduler.get_job(job_id)
        if existing is not None and existing.name == name:
            continue
        scheduler.add_job(job, cron_trigger(current.setting), args=[current.channel],
                          id=job_id, name=name, coalesce=True, max_instances=1,
                          misfire_grace_time=MISFIRE_GRACE_SECONDS, replace_existing=True)
    return sorted(wanted)


def _signature(setting: DigestSetting) -> str:
    return " ".join(str(v) for v in (setting.kind, setting.day or "-", setting.time, setting.tz,
                                     "quiet" if setting.quiet else "loud"))
