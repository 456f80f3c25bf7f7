"""``review-bot`` end to end as a subprocess on the sandbox, and its error lines."""

from __future__ import annotations

import inspect
import json
import re
import signal
import socket
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config
from sandbox import AltiumSandbox, SlackSandbox
from sandbox.scenario import HOSTILE_TEXT, play_review_round
from state.store import Store
from state.supply import PartKey, Supply, SupplyFacts
from tests.bot.conftest import REVIEW_BOT, Run
from tests.conftest import wait_for

MC = "Motor Controller"


def events(run: Run, *args: str) -> list[dict[str, Any]]:
    done = run("events", "--json", *args)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def assert_one_error_line(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    assert "Traceback" not in done.stderr
    for needle in needles:
        assert needle in lines[0]


def test_baseline_round_repeat(run: Run, altium: AltiumSandbox) -> None:
    subscribed = run("subscribe", "motor controller", "#HW-Review")
    assert subscribed.returncode == 0, subscribed.stderr
    assert "Subscribed #hw-review to Motor Controller" in subscribed.stdout

    baseline = run("poll", "--once")
    assert baseline.returncode == 0, baseline.stderr
    assert [e["kind"] for e in events(run)] == ["project_created"]

    play_review_round(altium)
    polled = run("poll", "--once")
    assert polled.returncode == 0, polled.stderr
    found = events(run)[1:]
    assert [(e["kind"], e["thread_number"], e["variant"], e["designator"]) for e in found] == [
        ("revision_committed", None, None, None),
        ("thread_reopened", 1, None, None),
        ("thread_resolved", 2, None, None),
        ("thread_replied", 3, None, None),
        ("thread_opened", 6, None, None),
        ("part_added", None, "Default", "TP9"),
        ("part_replaced", None, "Default", "U3"),
        ("part_fitted_changed", None, "Default", "U5"),
        ("part_removed", None, "Default", "U7"),
        ("part_replaced", None, "Lite", "U3"),
    ]
    opened = found[4]
    assert (opened["project"], opened["author"], opened["text"], opened["document"]) == (
        MC, "Bob Schmidt", HOSTILE_TEXT, "Power.SchDoc")
    swapped = found[6]
    assert (swapped["old_mpn"], swapped["new_mpn"], swapped["new_manufacturer"]) == (
        "TPS62130RGTR", "TPS62133RGTR", "Texas Instruments")
    assert found[7]["fitted"] is False
    assert all({"kind", "project", "project_id", "at"} <= e.keys() for e in found)

    repeat = run("poll", "--once")
    assert repeat.returncode == 0 and "0 new event(s)" in repeat.stdout
    assert len(events(run)) == 1 + len(found)


def test_a_failed_fetch_records_no_removals(run: Run, altium: AltiumSandbox) -> None:
    assert run("subscribe", MC, "C0123ABCD").returncode == 0
    assert run("poll", "--once").returncode == 0
    altium.delete_thread(MC, 5)
    altium.remove_part(MC, "U7")
    altium.faults.graphql_error(project=MC, times=None)
    failed = run("poll", "--once")
    assert failed.returncode == 1
    assert f"Failed: {MC}:" in failed.stderr and "Traceback" not in failed.stderr
    assert [e["kind"] for e in events(run)] == ["project_created"]
    altium.faults.clear()
    assert run("poll", "--once").returncode == 0
    assert [e["kind"] for e in events(run)] == [
        "project_created", "thread_deleted", "part_removed", "part_removed"]


def test_nexar_down_fails_cleanly(run: Run, altium: AltiumSandbox) -> None:
    assert run("subscribe", MC, "#hw").returncode == 0
    altium.faults.http_error(status=503, times=None)
    done = run("poll", "--once")
    assert done.returncode == 1 and "HTTP 503" in done.stderr and "Traceback" not in done.stderr


def test_an_expired_token_fails_cleanly(run: Run, altium: AltiumSandbox) -> None:
    assert run("subscribe", MC, "#hw").returncode == 0
    altium.expire_token()
    done = run("poll", "--once")
    assert_one_error_line(done, "expired", "NEXAR_TOKEN")
    assert altium.token not in done.stderr + done.stdout


def test_a_missing_token_is_named(run: Run) -> None:
    assert_one_error_line(run("poll", "--once", env={"NEXAR_TOKEN": ""}), "NEXAR_TOKEN")


def test_unknown_project_names_the_closest(run: Run) -> None:
    done = run("subscribe", "Motr Controler", "#hw")
    assert_one_error_line(done, "no project named 'Motr Controler'", "Motor Controller")


def test_locked_database_is_one_line(run: Run, db_path: Path) -> None:
    assert run("subscribe", MC, "#hw").returncode == 0
    holder = sqlite3.connect(db_path)
    holder.execute("begin exclusive")
    try:
        done = run("subscribe", "Audio Amplifier", "#hw", env={})
    finally:
        holder.rollback()
        holder.close()
    assert_one_error_line(done, "locked")


def test_unreadable_database_is_one_line(run: Run, tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"definitely not sqlite" * 64)
    assert_one_error_line(run("subscriptions", env={"REVIEW_BOT_DB": str(bad)}), "bad.db")


def test_ctrl_c_mid_poll_loses_nothing(run: Run, altium: AltiumSandbox,
                                       bot_env: dict[str, str], tmp_path: Path) -> None:
    assert run("subscribe", MC, "#hw").returncode == 0
    assert run("subscribe", "IoT Sensor Node", "#hw").returncode == 0
    assert run("poll", "--once").returncode == 0
    play_review_round(altium)
    altium.faults.latency(0.4)
    served = altium.request_count
    process = subprocess.Popen([str(REVIEW_BOT), "poll", "--once"], env=bot_env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Mid-poll for sure: Nexar has answered the first request, and the rest are slow.
    wait_for(lambda: altium.request_count > served, timeout=30)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert stderr.splitlines() == ["Interrupted: every project written so far is complete; "
                                   "the rest is picked up by the next poll."]
    altium.faults.clear()
    assert run("poll", "--once").returncode == 0
    kinds = [e["kind"] for e in events(run)]
    assert kinds.count("thread_opened") == 1 and kinds.count("revision_committed") == 1


@pytest.mark.parametrize(("args", "needle"), [
    (("subscribe", MC, "hw review"), "not a Slack channel"),
    (("subscribe", MC, "#hw", "--events", "comments,prs"), "unknown event group prs"),
    (("events", "--since", "yesterday"), "neither an ISO 8601 time"),
    (("unsubscribe", MC, "#hw"), "#hw has no subscription"),
])
def test_bad_input_is_explained(run: Run, args: tuple[str, ...], needle: str) -> None:
    done = run(*args)
    assert done.returncode != 0 and needle in done.stderr and "Traceback" not in done.stderr


def test_subscriptions_table_and_unsubscribe(run: Run) -> None:
    assert "No subscriptions" in run("subscriptions").stdout
    assert run("subscribe", MC, "#hw", "--events", "bom").returncode == 0
    listed = run("subscriptions").stdout.splitlines()
    assert listed[0].split() == ["PROJECT", "CHANNEL", "EVENTS", "REPLIES", "STATE", "WAITING"]
    assert listed[1].split() == ["Motor", "Controller", "#hw", "bom", "-", "active", "0"]
    done = run("unsubscribe", "motor", "#hw")
    assert done.returncode == 0 and "Unsubscribed #hw from Motor Controller" in done.stdout


def test_replies_are_opted_in_shown_and_off_again_without_the_flag(
        run: Run, db_path: Path) -> None:
    helped = " ".join(run("subscribe", "--help").stdout.split())
    assert "--replies" in helped and "Subscribing again without it turns it off" in helped
    on = run("subscribe", MC, "#hw", "--replies")
    assert on.returncode == 0, on.stderr
    assert "Replies in its thread cards' Slack threads are written to Altium 365" in on.stdout
    assert "Note: replies need" not in on.stdout
    assert run("subscribe", MC, "#other").returncode == 0
    listed = [line.split() for line in run("subscriptions").stdout.splitlines()[1:]]
    assert [row[2:6] for row in listed] == [["#hw", "comments,bom,revisions", "to", "Altium"],
                                           ["#other", "comments,bom,revisions", "-", "active"]]
    off = run("subscribe", MC, "#hw", "--events", "comments")
    assert off.returncode == 0, off.stderr
    assert "Replies there no longer go to Altium 365 (add --replies to keep them)." in off.stdout
    assert "to Altium" not in run("subscriptions").stdout
    unsigned = run("subscribe", MC, "#hw", "--replies",
                   env={"NEXAR_TOKEN": "", "NEXAR_CLIENT_ID": "", "NEXAR_CLIENT_SECRET": ""})
    assert unsigned.returncode == 0, unsigned.stderr
    assert "Note: replies need the Nexar sign-in too" in unsigned.stdout
    with Store.open(db_path) as store:
        assert {s.channel: s.replies for s in store.subscriptions()} == {"#hw": True,
                                                                         "#other": False}


def test_events_table_for_people(run: Run, altium: AltiumSandbox) -> None:
    assert run("subscribe", MC, "#hw").returncode == 0
    assert run("poll", "--once").returncode == 0
    altium.reply(MC, 3, author="carla.rossi", text="Moved it\nby 0.5 mm")
    assert run("poll", "--once").returncode == 0
    table = run("events").stdout.splitlines()
    assert table[0].split()[:4] == ["ID", "AT", "(UTC)", "PROJECT"]
    assert "thread_replied" in table[2] and "#3 on " in table[2]
    assert "Carla Rossi replied in thread #3 on GateDriver.SchDoc: Moved it by 0.5 mm" in table[2]
    assert run("events", "--since", "1w", "--project", "motor c").returncode == 0
    assert "No events since" in run("events", "--since", "2099-01-01T00:00:00Z").stdout


def test_events_json_carries_the_kept_supply_facts_of_new_parts(
        run: Run, altium: AltiumSandbox, db_path: Path) -> None:
    """As webhooks do: the part a change puts in, judged for its BOM; null when unknown."""
    assert run("subscribe", MC, "#hw").returncode == 0
    assert run("poll", "--once").returncode == 0
    play_review_round(altium)
    assert run("poll", "--once").returncode == 0
    buck = PartKey(mpn="TPS62133RGTR", manufacturer="Texas Instruments")
    with Store.open(db_path) as store:
        Supply(store).keep([SupplyFacts(key=buck, found=True,
                                        checked_at="2026-11-28T09:00:00.000Z",
                                        lifecycle="Obsolete", stock=0)],
                           at=datetime(2026, 11, 28, 9, tzinfo=UTC), asked=1)
    found = events(run)
    swaps = [e for e in found if e["kind"] == "part_replaced"]
    assert swaps and all(e["supply"]["lifecycle"] == "Obsolete" for e in swaps)
    assert all(e["supply"]["risks"] == ["Obsolete", "no stock"] for e in swaps)
    added = [e for e in found if e["kind"] == "part_added"]
    assert added and all(e["supply"] is None for e in added), "5019 was never looked up"
    assert all("supply" not in e for e in found if not e["kind"].startswith("part_"))


def test_settings_from_a_dotenv_file(run: Run, altium: AltiumSandbox, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"NEXAR_TOKEN={altium.token}\nNEXAR_API_URL={altium.api_url}\n")
    assert run("subscribe", MC, "#hw", env={"NEXAR_TOKEN": "", "NEXAR_API_URL": ""}).returncode == 0
    done = run("poll", "--once", env={"NEXAR_TOKEN": "", "NEXAR_API_URL": ""})
    assert done.returncode == 0, done.stderr


def test_the_token_never_reaches_the_output(run: Run, altium: AltiumSandbox) -> None:
    assert run("subscribe", MC, "#hw").returncode == 0
    altium.faults.http_error(status=500, times=1)
    altium.faults.graphql_error(project=MC, times=1)
    done = run("--log-level", "DEBUG", "poll", "--once")
    altium.expire_token()
    expired = run("--log-level", "DEBUG", "poll", "--once")
    for output in (done.stdout, done.stderr, expired.stdout, expired.stderr):
        assert altium.token not in output
    assert "retry" in done.stderr


def test_digest_settings_from_the_cli(run: Run) -> None:
    done = run("digest", "#hw", "weekly", "mon", "09:00", "Europe/Berlin", "--quiet")
    assert done.returncode == 0 and "weekly on Monday at 09:00 (Europe/Berlin)" in done.stdout
    assert "weekly on Monday" in run("digest", "#hw").stdout
    bad = run("digest", "#hw", "weekly", "funday", "25:00")
    assert bad.returncode == 1 and bad.stderr.startswith("Error: invalid day 'funday'")
    assert "Accepted: daily HH:MM [TZ]" in bad.stderr
    assert "weekly on Monday" in run("digest", "#hw").stdout
    assert "turned off" in run("digest", "#hw", "off").stdout
    assert "gets no digest" in run("digest", "#hw").stdout


def test_digest_now_posts_to_slack(run: Run, slack: SlackSandbox) -> None:
    assert run("subscribe", MC, "#hw-review").returncode == 0
    assert run("poll", "--once").returncode == 0
    env = {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.api_url}
    done = run("digest", "#hw-review", "now", env=env)
    assert done.returncode == 0, done.stderr
    assert any("Digest" in str(m.blocks) or "digest" in m.text.lower()
               for m in slack.messages("#hw-review"))


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_closed_nexar_port_is_one_line(run: Run) -> None:
    assert run("subscribe", MC, "#hw").returncode == 0
    down = {"NEXAR_API_URL": f"http://127.0.0.1:{closed_port()}/graphql"}
    done = run("poll", "--once", env=down)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "Failed: Nexar: Nexar unavailable: could not reach 127.0.0.1 (ConnectError) "
        "(after 4 attempts)"], done.stderr
    chatty = run("poll", "--once", "--log-level", "info", env=down)
    assert chatty.stderr.count("retry") == 3, chatty.stderr


def test_slack_down_is_one_line(run: Run, slack: SlackSandbox) -> None:
    assert run("subscribe", MC, "#design-review").returncode == 0
    assert run("poll", "--once").returncode == 0
    down = {"SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_API_URL": f"http://127.0.0.1:{closed_port()}/api/"}
    done = run("deliver", env=down)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "Failed: #design-review: could not reach Slack (URLError) (will retry)"], done.stderr
    assert run("deliver", env={**down, "SLACK_API_URL": slack.api_url}).returncode == 0


def subscribed_and_delivered(run: Run, slack: SlackSandbox) -> dict[str, str]:
    env = {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.api_url,
           "REVIEW_BOT_POST_INTERVAL": "0"}
    assert run("subscribe", MC, "#design-review", env=env).returncode == 0
    assert run("poll", "--once", env=env).returncode == 0
    return env


def test_a_channel_paused_earlier_keeps_failing_until_resumed(
        run: Run, slack: SlackSandbox, altium: AltiumSandbox) -> None:
    env = subscribed_and_delivered(run, slack)
    slack.kick_bot("#design-review")
    play_review_round(altium)
    first = run("poll", "--once", env=env)
    assert first.returncode == 1
    paused = [line for line in first.stderr.splitlines() if line.startswith("Paused: ")]
    assert len(paused) == 1 and "not_in_channel" in paused[0], first.stderr

    for args, extra in ((("deliver",), env), (("poll", "--once"), env),
                        (("poll", "--once"), {"SLACK_BOT_TOKEN": ""})):
        again = run(*args, env=extra)
        assert again.returncode == 1, (args, again.stderr)
        [line] = again.stderr.splitlines()
        assert line.startswith("Paused: #design-review since ") and "not_in_channel" in line
        assert "/invite @review-bot in #design-review" in line
        assert "'review-bot resume #design-review'" in line

    slack.invite_bot("#design-review")
    assert run("resume", "#design-review").returncode == 0
    done = run("deliver", env=env)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def test_a_post_slack_refuses_is_set_aside_reported_listed_and_resumed(
        run: Run, slack: SlackSandbox, altium: AltiumSandbox) -> None:
    env = {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.api_url,
           "REVIEW_BOT_POST_INTERVAL": "0", "REVIEW_BOT_OPS_CHANNEL": "#hw-review"}
    assert run("subscribe", MC, "#design-review").returncode == 0
    assert run("poll", "--once").returncode == 0
    play_review_round(altium)
    assert run("poll", "--once").returncode == 0
    # Slack refuses the first post (the welcome), in full and as plain text.
    slack.faults.error("invalid_blocks", method="chat.postMessage", channel="#design-review",
                       times=2)
    first = run("deliver", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stderr.splitlines() == [
        "Set aside: #design-review: 1 post(s) that could not be sent (now-tracking welcome: "
        "Slack refused it (invalid_blocks, and invalid_blocks as plain text)); the rest went "
        "out. After an upgrade, 'review-bot resume #design-review' tries them again."]
    assert len(slack.messages("#design-review")) == 7
    assert len(slack.messages("#hw-review")) == 1
    # Reported on every run, never a failure, never told twice, never sent again.
    posts = len(slack.calls_to("chat.postMessage"))
    again = run("poll", "--once", env=env)
    assert again.returncode == 0 and again.stderr.startswith("Set aside: #design-review: 1 ")
    assert len(slack.calls_to("chat.postMessage")) == posts
    listed = run("subscriptions")
    assert listed.returncode == 0
    assert listed.stdout.splitlines()[2:] == [
        "Set aside in #design-review: 1 post(s); 'review-bot resume #design-review' tries "
        "them again:",
        f"  now-tracking welcome (welcome:1) since {listed.stdout.split(' since ')[1][:16]} "
        "UTC: Slack refused it (invalid_blocks, and invalid_blocks as plain text)"]
    resumed = run("resume")
    assert resumed.stdout.strip() == "Put back 1 set-aside post(s) to try again."
    done = run("deliver", env=env)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "Now tracking" in str(slack.messages("#design-review")[-1].blocks)
    assert len(slack.messages("#hw-review")) == 1
    assert "set aside" in run("resume", "--help").stdout


def test_help_names_every_setting() -> None:
    source = inspect.getsource(Config.from_env)
    settings = set(re.findall(r'env\.get\("([A-Z_]+)"\)', source))
    assert len(settings) > 15
    shown = subprocess.run([str(REVIEW_BOT), "--help"], capture_output=True, text=True,
                           check=True).stdout
    missing = [name for name in sorted(settings) if name not in shown]
    assert not missing, missing
    assert "--db PATH and --log-level, before or after" in shown


def test_digest_help_shows_quiet() -> None:
    shown = subprocess.run([str(REVIEW_BOT), "digest", "--help"], capture_output=True,
                           text=True, check=True).stdout
    assert "--quiet" in shown and "--db" in shown and "--log-level" in shown


def test_db_and_log_level_work_after_the_command(run: Run, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    assert run("subscribe", MC, "#hw", "--db", str(other)).returncode == 0
    before = run("--db", str(other), "subscriptions").stdout
    after = run("subscriptions", "--db", str(other)).stdout
    assert MC in before and before == after
    assert "No subscriptions" in run("subscriptions").stdout
    assert run("events", "--db", str(other), "--log-level", "debug").returncode == 0
