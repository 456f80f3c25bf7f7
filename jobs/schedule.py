"""The schedule of ``review-bot run``: poll every interval, deliver after each poll and on
a short retry timer, never two at once, and stop cleanly between steps.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from state.errors import ReviewBotError

log = logging.getLogger(__name__)

Job = Callable[[], Any]


class Schedule:
    """Runs ``poll`` (followed by ``deliver``) every ``interval`` seconds and ``deliver``
    alone every ``retry_interval`` seconds, on one worker so steps never overlap."""

    def __init__(self, *, poll: Job, deliver: Job, interval: float,
                 retry_interval: float = 30.0,
                 scheduler: BackgroundScheduler | None = None) -> None:
        self.poll = poll
        self.deliver = deliver
        self.interval = interval
        self.retry_interval = retry_interval
        self.scheduler = scheduler or BackgroundScheduler(
            timezone=UTC, executors={"default": {"type": "threadpool", "max_workers": 1}})
        self._step = threading.Lock()
        self._stopping = threading.Event()

    def start(self) -> None:
        common = {"coalesce": True, "max_instances": 1}
        self.scheduler.add_job(self.poll_and_deliver, "interval", seconds=self.interval,
                               id="poll", next_run_time=datetime.now(UTC),
                               misfire_grace_time=max(1, int(self.interval)), **common)
        self.scheduler.add_job(self.deliver_only, "interval", seconds=self.retry_interval,
                               id="deliver", misfire_grace_time=max(1, int(self.retry_interval)),
                               **common)
        self.scheduler.start()

    def poll_and_deliver(self) -> None:
        self._run("poll", self.poll)
        self._run("deliver", self.deliver)

    def deliver_only(self) -> None:
        self._run("deliver", self.deliver)

    def _run(self, name: str, job: Job) -> None:
        if self._stopping.is_set():
            return
        with self._step:
            if self._stopping.is_set():
                return
            try:
                job()
            except ReviewBotError as exc:
                log.error("%s failed: %s", name, exc)
            except Exception as exc:
                # A failed step must not stop the schedule; the next run tries again.
                log.error("%s failed unexpectedly: %s: %s", name, type(exc).__name__, exc)
                log.debug("details", exc_info=True)

    def run_soon(self, name: str, job: Job) -> None:
        """Run ``job`` once, now, as a step like the others (never beside one)."""
        self.scheduler.add_job(self._run, args=[name, job], id=name)

    def stop(self, *, wait: bool = True) -> None:
        """No new step starts; a running one finishes first when ``wait``."""
        self._stopping.set()
        if wait:
            with self._step:
                pass
        if self.scheduler.running:
            # shutdown(wait=True) would hold the scheduler's job-store lock while waiting,
            # and a finishing step may need that lock (digest jobs are rebuilt in a step);
            # the step has already finished above.
            self.scheduler.shutdown(wait=False)
