"""``review-bot deliver`` killed with SIGKILL at random points still posts each event once."""

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
MIN_KILLS = 8
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
    assert run("subscribe", "IoT Sensor Node", "#design-review").returncode == 0
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
    finished = mid_post = 0
    for _ in range(TRIALS):
        calls, left = len(slack.calls), attempting(db_path)
        process = subprocess.Popen([str(REVIEW_BOT), "deliver"], env=env, cwd=tmp_path,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # The kill point is random on purpose, but always after delivery has begun (Slack
        # has answered this process), never during the process's start-up.
        wait_for(lambda calls=calls, process=process:
                 len(slack.calls) > calls or process.poll() is not None, timeout=30)
        time.sleep(chance.uniform(0.0, 0.8))
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
            mid_post += bool(attempting(db_path) - left)
        else:
            finished += 1
    slack.faults.clear()
    final = subprocess.run([str(REVIEW_BOT), "deliver"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=60, check=False)
    assert final.returncode == 0, final.stderr

    keys = Counter((m.channel, m.metadata["event_payload"]["key"]) for m in slack.all_posts()
                   if m.metadata)
    assert keys and max(keys.values()) == 1, [k for k, n in keys.items() if n > 1]
    with Store.open(str(db_path)) as store:
        assert Outbox(store).undelivered() == 0
        owed = store.rows("select count(*) as n from deliveries")[0]["n"]
        assert owed == store.rows(
            "select count(*) as n from deliveries where state = 'posted'")[0]["n"] > 20
        welcomes = store.rows("select count(*) as n from subscriptions where welcomed = 1")
        assert welcomes[0]["n"] == 3
    assert TRIALS - finished >= MIN_KILLS, "too few runs were killed mid-delivery"
    assert mid_post >= MIN_MID_POST, "too few kills landed between recording and posting"
