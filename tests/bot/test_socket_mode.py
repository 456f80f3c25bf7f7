"""``run_bot`` in Socket Mode against the Slack sandbox's WebSocket, from connect to clean stop."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Config
from bot.run import run_bot
from sandbox import AltiumSandbox, SlackSandbox
from tests.conftest import wait_for


class Running:
    """``run_bot`` on a thread, with its echoed lines and any error it raised."""

    def __init__(self, config: Config) -> None:
        self.stop = threading.Event()
        self.lines: list[str] = []
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(config,), name="run-bot",
                                       daemon=True)

    def _run(self, config: Config) -> None:
        try:
            run_bot(config, echo=self.lines.append, stop=self.stop)
        except BaseException as error:
            self.errors.append(error)

    def finish(self, timeout: float) -> float:
        """Ask the bot to stop; the seconds it took to return."""
        started = time.monotonic()
        self.stop.set()
        self.thread.join(timeout)
        return time.monotonic() - started


@pytest.fixture
def running(slack: SlackSandbox, altium: AltiumSandbox, db_path: Path) -> Iterator[Running]:
    config = Config(nexar_token=altium.token, nexar_api_url=altium.api_url, db_path=str(db_path),
                    slack_bot_token=slack.bot_token, slack_api_url=slack.api_url,
                    slack_app_token=slack.app_token, poll_interval=3600.0, post_interval=0.0)
    bot = Running(config)
    bot.thread.start()
    try:
        yield bot
    finally:
        bot.finish(timeout=10)


def test_a_stop_during_start_up_returns_cleanly(running: Running,
                                                 slack: SlackSandbox) -> None:
    slack.wait_for_socket(timeout=10)
    took = running.finish(timeout=15)
    assert not running.thread.is_alive(), "run_bot did not return after stop"
    assert not running.errors, running.errors
    assert took < 15 and running.lines[-1] == "Stopped."


def test_socket_mode_acks_answers_publishes_home_and_stops(
        running: Running, slack: SlackSandbox) -> None:
    slack.wait_for_socket(timeout=10)
    wait_for(lambda: "Connected to Slack in Socket Mode." in running.lines, timeout=5)

    channel = slack.channel_id("#design-review")
    alice = slack.user("alice.nguyen").id
    response_url = slack.response_url(channel=channel, user=alice)
    command = slack.socket_send("slash_commands", {
        "token": "legacy", "team_id": slack.team_id, "channel_id": channel,
        "channel_name": "design-review", "user_id": alice, "user_name": "alice",
        "command": "/review", "text": "help", "response_url": response_url,
        "trigger_id": "1.2.3", "api_app_id": slack.app_id,
    })
    ack = slack.wait_for_ack(command, timeout=3)
    assert ack.type == "slash_commands" and ack.delay < 3
    wait_for(lambda: bool(slack.responses(response_url)), timeout=5)
    assert "/review" in json.dumps(slack.responses(response_url))

    home = slack.socket_send("events_api", {
        "event": {"type": "app_home_opened", "user": alice, "channel": "D1", "tab": "home"},
    })
    assert slack.wait_for_ack(home, timeout=3).type == "events_api"
    wait_for(lambda: slack.home_view(alice) is not None, timeout=5)
    view = slack.home_view(alice)
    assert view is not None and view["type"] == "home"

    took = running.finish(timeout=10)
    assert not running.thread.is_alive(), "run_bot did not return within 10 s of stop"
    assert not running.errors, running.errors
    assert took < 10 and running.lines[-1] == "Stopped."
    wait_for(lambda: not slack.socket_connected, timeout=5)
    assert [a.envelope_id for a in slack.socket_acks()] == [command, home]
