"""The run schedule: poll then deliver, a retry timer, never overlapping, clean stop."""

from __future__ import annotations

import itertools
import threading
import time

from bot.workers import Schedule
from jobs.errors import NexarUnavailableError
from tests.conftest import wait_for


class Steps:
    """Records each step, and any step that started while another of its kind ran."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.overlaps: list[str] = []
        self._busy = {"poll": threading.Lock(), "deliver": threading.Lock()}

    def step(self, name: str, seconds: float = 0.05) -> None:
        if not self._busy[name].acquire(blocking=False):
            self.overlaps.append(name)
            return
        try:
            self.calls.append(name)
            time.sleep(seconds)
        finally:
            self._busy[name].release()


def test_polls_at_once_then_delivers_never_two_of_a_kind_at_once() -> None:
    steps = Steps()
    schedule = Schedule(poll=lambda: steps.step("poll"), deliver=lambda: steps.step("deliver"),
                        interval=0.3, retry_interval=0.1)
    schedule.start()
    calls = steps.calls
    wait_for(lambda: calls.count("poll") >= 2 and calls.count("deliver") > calls.count("poll"))
    schedule.stop()
    assert calls[:2] == ["poll", "deliver"]
    assert steps.overlaps == []
    stopped = len(calls)
    # Nothing may start after stop: watch for longer than both intervals.
    time.sleep(0.4)
    assert len(calls) == stopped and not schedule.scheduler.running


def test_a_delivery_stuck_on_slack_never_delays_polls_and_stop_ends_its_wait() -> None:
    polls: list[float] = []
    deliveries: list[float] = []
    holder: list[Schedule] = []

    def deliver() -> None:
        deliveries.append(time.monotonic())
        if len(deliveries) == 1:
            # Waiting out a long Retry-After, as delivery does, on the stop event.
            holder[0].stopping.wait(60)

    holder.append(Schedule(poll=lambda: polls.append(time.monotonic()), deliver=deliver,
                           interval=0.2, retry_interval=0.1))
    schedule = holder[0]
    schedule.start()
    wait_for(lambda: len(polls) >= 6, timeout=5)
    # Six polls asked for deliveries while the first was stuck: none ran beside it.
    assert len(deliveries) == 1
    assert max(b - a for a, b in itertools.pairwise(polls)) < 0.5
    started = time.monotonic()
    assert schedule.stop(wait=True, timeout=5)
    assert time.monotonic() - started < 1


def test_stop_gives_up_on_a_step_that_ignores_it() -> None:
    started = threading.Event()
    release = threading.Event()

    def poll() -> None:
        started.set()
        release.wait(10)

    schedule = Schedule(poll=poll, deliver=lambda: None, interval=60)
    schedule.start()
    assert started.wait(2)
    begun = time.monotonic()
    assert schedule.stop(wait=True, timeout=0.3) is False
    assert time.monotonic() - begun < 1
    release.set()


def test_a_failing_step_does_not_stop_the_schedule() -> None:
    polls: list[int] = []

    def poll() -> None:
        polls.append(1)
        raise NexarUnavailableError("down")

    schedule = Schedule(poll=poll, deliver=lambda: None, interval=0.2, retry_interval=5)
    schedule.start()
    wait_for(lambda: len(polls) >= 2)
    schedule.stop()


def test_stop_waits_for_the_running_step() -> None:
    finished = threading.Event()
    started = threading.Event()

    def poll() -> None:
        started.set()
        time.sleep(0.3)
        finished.set()

    schedule = Schedule(poll=poll, deliver=lambda: None, interval=60)
    schedule.start()
    assert started.wait(2)
    schedule.stop(wait=True)
    assert finished.is_set()


def test_stop_while_a_step_uses_the_scheduler_does_not_hang() -> None:
    started = threading.Event()
    holder: list[Schedule] = []

    def poll() -> None:
        started.set()
        time.sleep(0.3)
        # Rebuilding the digest jobs reads the scheduler's jobs, as sync_digests does.
        holder[0].scheduler.get_jobs()

    holder.append(Schedule(poll=poll, deliver=lambda: None, interval=60))
    holder[0].start()
    assert started.wait(2)
    stopper = threading.Thread(target=holder[0].stop, daemon=True)
    stopper.start()
    stopper.join(5)
    assert not stopper.is_alive(), "stop() deadlocked with a step still using the scheduler"


def test_run_soon_is_a_step_like_the_others() -> None:
    calls: list[str] = []
    schedule = Schedule(poll=lambda: calls.append("poll"), deliver=lambda: None, interval=60)
    schedule.start()
    schedule.run_soon("once", lambda: calls.append("once"))
    wait_for(lambda: "once" in calls)
    schedule.stop()
    assert calls[0] == "poll" and "once" in calls


def test_a_webhook_run_stuck_on_an_endpoint_delays_neither_polls_nor_deliveries() -> None:
    polls: list[float] = []
    deliveries: list[float] = []
    webhook_runs: list[float] = []
    release = threading.Event()

    def webhooks() -> None:
        webhook_runs.append(time.monotonic())
        release.wait(30)  # an attempt in flight: it does not watch ``stopping``

    schedule = Schedule(poll=lambda: polls.append(time.monotonic()),
                        deliver=lambda: deliveries.append(time.monotonic()),
                        webhooks=webhooks, interval=0.2, retry_interval=0.1,
                        webhook_interval=0.1)
    schedule.start()
    try:
        wait_for(lambda: len(polls) >= 4 and len(deliveries) >= 4, timeout=10)
        assert len(webhook_runs) == 1
        started = time.monotonic()
        assert schedule.stop(wait=True, timeout=0.5) is False
        assert time.monotonic() - started < 1.5
        assert schedule.left_behind == ["webhooks"]
    finally:
        release.set()
