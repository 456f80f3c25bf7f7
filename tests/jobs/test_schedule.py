"""The run schedule: poll then deliver, a retry timer, never overlapping, clean stop."""

from __future__ import annotations

import threading
import time

from jobs.schedule import Schedule
from state.errors import NexarUnavailableError
from tests.conftest import wait_for


def test_polls_at_once_then_delivers_never_overlapping() -> None:
    calls: list[str] = []
    busy = threading.Lock()
    overlaps: list[str] = []

    def step(name: str) -> None:
        if not busy.acquire(blocking=False):
            overlaps.append(name)
            return
        try:
            calls.append(name)
            time.sleep(0.05)
        finally:
            busy.release()

    schedule = Schedule(poll=lambda: step("poll"), deliver=lambda: step("deliver"),
                        interval=0.3, retry_interval=0.1)
    schedule.start()
    wait_for(lambda: calls.count("poll") >= 2 and calls.count("deliver") > calls.count("poll"))
    schedule.stop()
    assert calls[:2] == ["poll", "deliver"]
    assert overlaps == []
    stopped = len(calls)
    # Nothing may start after stop: watch for longer than both intervals.
    time.sleep(0.4)
    assert len(calls) == stopped and not schedule.scheduler.running


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
