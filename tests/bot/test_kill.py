"""``review-bot deliver`` killed with SIGKILL at random points still posts each event once:
two processes deliver from one database at once, and each is killed at its own random
moment, so claims are left behind by dead owners (taken over and reconciled by the next
runs) as well as posts begun and never recorded as posted."""

from __future__ import annotations

import random
import subprocess
import time
from collections import Counter

from sandbox import AltiumSandbox, SlackSandbox
from sandbox.scenario import PROJECT, play_review_round
from state.outbox import Outbox
from state.store import Store
from tests.bot.conftest import REVIEW_BOT, Run
from tests.conftest import wait_for

TRIALS = 24
PROCESSES = 2
MIN_KILLS = 16
MIN_BOTH_KILLED = 6
MIN_MID_POST = 3


def attempting(db_path: object) -> set[tuple[str, str]]:
    """Posts recorded as begun whose answer was never recorded (a kill between the two)."""
    with Store.open(str(db_path)) as store:
        rows = store.rows("select channel, key from posts where state = 'attempting'")
    return {(r["channel"], r["key"]) for r in rows}


def test_sigkill_during_delivery_never_duplicates_or_loses(
        run: Run, altium: AltiumSandbox, slack: SlackSandbox, bot_env: dict[str, str],
        db_path: object, tmp_path: object) -> None:
    for channel in ("#design-review", "#hw-review"):
        assert run("subscribe", PROJECT, channel).returncode == 0
        assert run("subscribe", "IoT Sensor Node", channel).returncode == 0
    no_slack = {"SLACK_BOT_TOKEN": ""}
    assert run("poll", "--once", env=no_slack).returncode == 0
    play_review_round(altium)
    for n in range(16):
        number, _ = altium.open_thread("IoT Sensor Node", author="bob.schmidt", text=f"Q{n}")
        altium.reply("IoT Sensor Node", number, author="carla.rossi", text=f"A{n}")
    assert run("poll", "--once", env=no_slack).returncode == 0

    env = {**bot_env, "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.api_url,
           "REVIEW_BOT_POST_INTERVAL": "0"}
    slack.faults.latency(0.08)
    chance = random.Random(2026)
    kills = both_killed = mid_post = 0
    for _ in range(TRIALS):
        calls, left = len(slack.calls), attempting(db_path)
        processes = [subprocess.Popen([str(REVIEW_BOT), "deliver"], env=env, cwd=tmp_path,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                     for _ in range(PROCESSES)]
        # The kill points are random on purpose, but always after delivery has begun (Slack
        # has answered), never during start-up: each process at its own moment.
        wait_for(lambda calls=calls, processes=processes: len(slack.calls) > calls
                 or all(p.poll() is not None for p in processes), timeout=30)
        began = time.monotonic()
        moments = sorted(chance.uniform(0.0, 0.8) for _ in processes)
        killed = 0
        for process, moment in zip(chance.sample(processes, len(processes)), moments,
                                   strict=True):
            time.sleep(max(0.0, moment - (time.monotonic() - began)))
            if process.poll() is None:
                process.kill()
                killed += 1
            process.wait(timeout=30)
        kills += killed
        both_killed += killed == len(processes)
        mid_post += bool(attempting(db_path) - left)
    slack.faults.clear()
    final = subprocess.run([str(REVIEW_BOT), "deliver"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=60, check=False)
    assert final.returncode == 0, final.stderr
    assert "Skipped" not in final.stdout, "a killed owner's claim blocks nobody"

    keys = Counter((m.channel, m.metadata["event_payload"]["key"]) for m in slack.all_posts()
                   if m.metadata)
    assert keys and max(keys.values()) == 1, [k for k, n in keys.items() if n > 1]
    with Store.open(str(db_path)) as store:
        assert Outbox(store).undelivered() == 0
        owed = store.rows("select count(*) as n from deliveries")[0]["n"]
        assert owed == store.rows(
            "select count(*) as n from deliveries where state = 'posted'")[0]["n"] > 20
        welcomes = store.rows("select count(*) as n from subscriptions where welcomed = 1")
        assert welcomes[0]["n"] == 4
    assert kills >= MIN_KILLS, f"too few runs were killed mid-delivery ({kills})"
    assert both_killed >= MIN_BOTH_KILLED, f"too few trials killed both ({both_killed})"
    assert mid_post >= MIN_MID_POST, f"too few kills landed between recording and posting " \
        f"({mid_post})"
