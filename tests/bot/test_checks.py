"""Channels and projects are checked where they can be, before anything is saved."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from sandbox import AltiumSandbox, SlackSandbox
from tests.bot.conftest import REVIEW_BOT, Run, finish
from tests.bot.test_cli import MC, assert_one_error_line, closed_port

NO_NEXAR = {"NEXAR_TOKEN": "", "NEXAR_CLIENT_ID": "", "NEXAR_CLIENT_SECRET": ""}


def slack_env(slack: SlackSandbox) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.api_url,
            "REVIEW_BOT_POST_INTERVAL": "0"}


def no_subscriptions(run: Run) -> bool:
    return "No subscriptions" in run("subscriptions").stdout


@pytest.mark.parametrize(("channel", "prepare", "needles"), [
    ("#layout", None, ("Slack has no channel #layout", "/invite @review-bot")),
    ("#leads", "kick", ("Slack has no channel #leads", "private channel")),
    ("#old-project", None, ("#old-project is archived",)),
    ("#hw-review", "kick", ("the bot is not in #hw-review",
                            "/invite @review-bot in #hw-review")),
])
def test_subscribe_refuses_a_channel_the_bot_cannot_post_to(
        run: Run, slack: SlackSandbox, channel: str, prepare: str | None,
        needles: tuple[str, ...]) -> None:
    if prepare == "kick":
        slack.kick_bot(channel)
    done = run("subscribe", MC, channel, env=slack_env(slack))
    assert_one_error_line(done, *needles, "nothing was saved")
    assert no_subscriptions(run)


def test_subscribe_by_id_checks_membership(run: Run, slack: SlackSandbox) -> None:
    channel_id = slack.channel_id("#hw-review")
    slack.kick_bot("#hw-review")
    refused = run("subscribe", MC, channel_id, env=slack_env(slack))
    assert_one_error_line(refused, f"the bot is not in {channel_id}")
    slack.invite_bot("#hw-review")
    done = run("subscribe", MC, channel_id, env=slack_env(slack))
    assert done.returncode == 0 and "Note:" not in done.stdout, done.stdout + done.stderr


def test_subscribe_to_a_channel_the_bot_is_in(run: Run, slack: SlackSandbox) -> None:
    done = run("subscribe", MC, "#hw-review", env=slack_env(slack))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "Subscribed #hw-review to Motor Controller (comments, bom, revisions). "
        "Changes from now on are posted there."]


def test_without_a_slack_token_the_channel_is_accepted_unchecked(run: Run) -> None:
    done = run("subscribe", MC, "#layout", env={"SLACK_BOT_TOKEN": ""})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1] == (
        "Note: #layout was not checked (SLACK_BOT_TOKEN is not set): make sure the bot is "
        "in it (/invite @review-bot in #layout) before the first post.")


def test_slack_unreachable_or_refusing_saves_nothing(run: Run, slack: SlackSandbox) -> None:
    down = {**slack_env(slack), "SLACK_API_URL": f"http://127.0.0.1:{closed_port()}/api/"}
    assert_one_error_line(run("subscribe", MC, "#hw-review", env=down),
                          "could not check #hw-review with Slack", "nothing was saved")
    slack.revoke_token()
    assert_one_error_line(run("subscribe", MC, "#hw-review", env=slack_env(slack)),
                          "Slack refused the bot token", "nothing was saved")
    assert no_subscriptions(run)


def test_digest_checks_the_channel_only_when_setting_one(run: Run,
                                                         slack: SlackSandbox) -> None:
    env = slack_env(slack)
    refused = run("digest", "#layout", "daily", "09:00", env=env)
    assert_one_error_line(refused, "Slack has no channel #layout", "nothing was saved")
    assert "#layout gets no digest." in run("digest", "#layout", env=env).stdout
    done = run("digest", "#hw-review", "daily", "09:00", "--quiet", env=env)
    assert done.returncode == 0 and "Note:" not in done.stdout, done.stderr
    unchecked = run("digest", "#layout", "daily", "09:00", env={"SLACK_BOT_TOKEN": ""})
    assert unchecked.returncode == 0
    assert "Note: #layout was not checked (SLACK_BOT_TOKEN is not set)" in unchecked.stdout


def test_demo_checks_its_channel(run: Run, slack: SlackSandbox) -> None:
    done = run("demo", "--channel", "#layout", env=slack_env(slack))
    assert_one_error_line(done, "Slack has no channel #layout")
    assert slack.all_posts() == []


def test_without_nexar_settings_the_answer_says_so(run: Run) -> None:
    empty = run("subscribe", "motor", "#hw", env=NO_NEXAR)
    assert_one_error_line(empty, "no project named 'motor'", "no project list is cached yet",
                          "not signed in to Nexar", "review-bot auth login")

    assert run("subscribe", MC, "#hw").returncode == 0
    missing = run("subscribe", "Motr Controler", "#hw", env=NO_NEXAR)
    assert_one_error_line(missing, "no project named 'Motr Controler'",
                          "project list cached just now", "not signed in to Nexar",
                          "Did you mean: Motor Controller")
    cached = run("subscribe", "audio", "#hw", env=NO_NEXAR)
    assert cached.returncode == 0, cached.stderr
    assert cached.stdout.splitlines()[1].startswith(
        "Note: Audio Amplifier is from the project list cached just now (")
    assert "Nexar was not asked (not signed in to Nexar" in cached.stdout


def test_a_refused_token_or_unreachable_nexar_is_said(run: Run, altium: AltiumSandbox) -> None:
    assert run("subscribe", MC, "#hw").returncode == 0
    altium.expire_token()
    refused = run("subscribe", "audio", "#hw")
    assert_one_error_line(refused, "expired", "nothing was saved")
    down = run("subscribe", "audio", "#hw",
               env={"NEXAR_API_URL": f"http://127.0.0.1:{closed_port()}/graphql"})
    assert_one_error_line(down, "could not read the project list from Nexar",
                          "could not reach 127.0.0.1", "nothing was saved")
    assert [line.split()[0] for line in run("subscriptions").stdout.splitlines()[1:]] == [
        "Motor"]


def test_demo_takes_db_after_its_name(run: Run, tmp_path: Path) -> None:
    kept = tmp_path / "kept.db"
    done = run("demo", "--db", str(kept), env={"NEXAR_TOKEN": "", "SLACK_BOT_TOKEN": ""})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"The event log is in {kept}."
    events = run("events", "--db", str(kept), "--json")
    assert len(events.stdout.splitlines()) > 10


def test_ctrl_c_in_the_demo_says_what_fits(bot_env: dict[str, str], tmp_path: Path) -> None:
    process = subprocess.Popen([str(REVIEW_BOT), "demo"],
                               env={**bot_env, "PYTHONUNBUFFERED": "1", "SLACK_BOT_TOKEN": ""},
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("Local Altium 365 at "), first
    process.send_signal(signal.SIGINT)
    _, err = finish(process)
    assert process.returncode == 130, err
    assert err.splitlines() == [
        "Interrupted: the demo stopped and its local stand-ins are shut down."]
