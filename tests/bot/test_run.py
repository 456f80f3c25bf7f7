"""``review-bot run`` as a subprocess in HTTP mode, and the app's requests in both modes."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

import httpx
import pytest
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.app import build_app
from sandbox import AltiumSandbox, SlackSandbox
from sandbox.scenario import PROJECT, play_review_round
from state.outbox import Outbox
from state.store import Store
from tests.bot.conftest import REVIEW_BOT, Run, finish, serve_until
from tests.conftest import wait_for

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"




def slash_body(slack: SlackSandbox, text: str) -> str:
    channel = slack.channel_id("#design-review")
    return urlencode({
        "token": "legacy", "team_id": slack.team_id, "channel_id": channel,
        "channel_name": "design-review", "user_id": slack.user("alice.nguyen").id,
        "user_name": "alice", "command": "/review", "text": text,
        "response_url": slack.response_url(channel=channel, user=slack.user("alice.nguyen").id),
        "trigger_id": "1.2.3",
    })


def signed(body: str, *, secret: str = SECRET, age: float = 0) -> dict[str, str]:
    stamp = str(int(time.time() - age))
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def running(run: Run, altium: AltiumSandbox, slack: SlackSandbox, bot_env: dict[str, str],
            tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    assert run("subscribe", PROJECT, "#design-review").returncode == 0
    process, url = start_run(bot_env, slack, tmp_path)
    try:
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_run_polls_delivers_answers_and_stops_cleanly(
        running: tuple[subprocess.Popen[str], str], slack: SlackSandbox) -> None:
    process, url = running
    wait_for(lambda: len(slack.messages("#design-review")) == 1)
    assert "Now tracking" in str(slack.messages("#design-review")[0].blocks)

    body = slash_body(slack, "help")
    started = time.monotonic()
    answer = httpx.post(url, content=body, headers=signed(body), timeout=5)
    assert answer.status_code == 200 and time.monotonic() - started < 3
    response_url = dict(x.split("=", 1) for x in body.split("&"))["response_url"]
    wait_for(lambda: bool(slack.responses(unquote(response_url))), timeout=5)
    assert "/review" in json.dumps(slack.responses(unquote(response_url)))

    forged = httpx.post(url, content=body, headers=signed(body, secret="wrong"), timeout=5)
    stale = httpx.post(url, content=body, headers=signed(body, age=360), timeout=5)
    assert (forged.status_code, stale.status_code) == (401, 401)

    process.send_signal(signal.SIGTERM)
    out, err = finish(process)
    assert process.returncode == 0, err
    assert "Stopped." in out
    assert "poll: 1 projects" in err and "deliver:" in err
    assert slack.bot_token not in out + err and SECRET not in out + err


def test_run_without_slack_settings_is_one_line(run: Run) -> None:
    done = run("run", env={"SLACK_BOT_TOKEN": ""})
    assert done.returncode == 1 and done.stderr.startswith("Error: SLACK_BOT_TOKEN")
    done = run("run", env={"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "",
                           "SLACK_APP_TOKEN": ""})
    assert done.returncode == 1 and "SLACK_SIGNING_SECRET" in done.stderr


def dispatch(app: Any, mode: str, payload: dict[str, str]) -> Any:
    if mode == "socket_mode":
        return app.dispatch(BoltRequest(mode="socket_mode", body=payload))
    body = urlencode(payload)
    return app.dispatch(BoltRequest(body=body, headers={
        k.lower(): [v] for k, v in signed(body).items()}))


@pytest.mark.parametrize("mode", ["http", "socket_mode"])
def test_the_app_answers_in_both_modes(mode: str, slack: SlackSandbox, store: Any,
                                       db_path: Path) -> None:
    app = build_app(client=WebClient(token=slack.bot_token, base_url=slack.api_url),
                    signing_secret=SECRET, db_path=str(db_path),
                    process_before_response=True)
    payload = dict(x.split("=", 1) for x in slash_body(slack, "subscriptions").split("&"))
    payload = {k: unquote(v.replace("+", " ")) for k, v in payload.items()}
    response = dispatch(app, mode, payload)
    assert response.status == 200
    wait_for(lambda: bool(slack.responses(payload["response_url"])), timeout=5)
    [said] = slack.responses(payload["response_url"])
    assert "follows no project" in said["text"]


def test_app_home_lists_watched_projects(slack: SlackSandbox, db_path: Path, run: Run,
                                         altium: AltiumSandbox) -> None:
    assert run("subscribe", PROJECT, "#design-review").returncode == 0
    assert run("poll", "--once").returncode == 0
    app = build_app(client=WebClient(token=slack.bot_token, base_url=slack.api_url),
                    signing_secret=SECRET, db_path=str(db_path), process_before_response=True)
    user = slack.user("alice.nguyen").id
    event = {"type": "event_callback", "team_id": slack.team_id, "api_app_id": "A1",
             "event": {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"},
             "event_id": "Ev1", "event_time": int(time.time())}
    response = app.dispatch(BoltRequest(mode="socket_mode", body=event))
    assert response.status == 200
    wait_for(lambda: slack.home_view(user) is not None, timeout=5)
    view = slack.home_view(user)
    assert view is not None and PROJECT in json.dumps(view)
    assert "Your channels follow" in json.dumps(view) and "#design-review" in json.dumps(view)


def test_run_at_the_default_level_says_what_it_does_then_only_health_lines(
        run: Run, slack: SlackSandbox, bot_env: dict[str, str], db_path: Path,
        tmp_path: Path) -> None:
    assert run("subscribe", PROJECT, "#design-review").returncode == 0
    env = {**bot_env, "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.api_url,
           "SLACK_SIGNING_SECRET": SECRET, "PORT": "0", "REVIEW_BOT_POLL_INTERVAL": "10",
           "REVIEW_BOT_POST_INTERVAL": "0"}
    served = serve_until(env, tmp_path, lambda: len(slack.messages("#design-review")) == 1)
    assert served.returncode == 0, served.err
    first, rest, err = served.first, served.rest, served.err
    port = first.split("http://0.0.0.0:")[1].split("/")[0]
    assert [first.rstrip("\n"), *rest.splitlines()] == [
        f"Listening for Slack on http://0.0.0.0:{port}/slack/events (HTTP mode; every "
        "request's signature is checked).",
        f"Watching 1 project(s) ({PROJECT}) for 1 channel(s).",
        "Polling every 10s (the first poll now), delivering after each poll and every 30s; "
        f"Nexar: the fixed NEXAR_TOKEN (never refreshed); database {db_path}. "
        "Stop with Ctrl-C or SIGTERM.",
        "Stopping: finishing the current step...",
        "Stopped.",
    ]
    lines = err.splitlines()
    assert [line.split(" bot.health: ")[1].split(":")[0] for line in lines] == [
        "poll", "deliver"], err
    assert "poll: 1 projects, 1 events" in lines[0]
    assert "deliver: 1 posted, 0 cards updated, 0 pending, 0 channels paused" in lines[1]


def test_a_port_in_use_is_one_line(run: Run, slack: SlackSandbox) -> None:
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = run("run", env={"SLACK_BOT_TOKEN": slack.bot_token,
                               "SLACK_API_URL": slack.api_url, "SLACK_SIGNING_SECRET": SECRET,
                               "PORT": str(port)})
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"Error: port {port} is in use by another program: stop it, or set PORT to a free "
        "port (and the app's Request URL to match)"], done.stderr


def test_socket_mode_refused_or_unreachable_is_one_line(run: Run, slack: SlackSandbox) -> None:
    env = {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.api_url,
           "SLACK_APP_TOKEN": "xapp-1-A0-0-not-the-app-token"}
    refused = run("run", env=env)
    assert refused.returncode == 1
    assert refused.stderr.splitlines() == [
        "Error: Slack refused the app-level token (invalid_auth): check SLACK_APP_TOKEN "
        "(xapp-..., with connections:write)"], refused.stderr
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        closed = spare.getsockname()[1]
    down = run("run", env={**env, "SLACK_API_URL": f"http://127.0.0.1:{closed}/api/"})
    assert down.returncode == 1
    assert down.stderr.splitlines() == [
        "Error: could not reach Slack to open the Socket Mode connection (URLError): check "
        "the network and SLACK_API_URL"], down.stderr


class Polls:
    """When each poll of ``review-bot run`` finished, as its database records them."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.finished: dict[str, float] = {}

    def count(self) -> int:
        if self.db_path.exists():
            with Store.open(self.db_path) as store:
                last = store.last_poll()
            if last is not None:
                self.finished.setdefault(last.finished_at, time.monotonic())
        return len(self.finished)


def start_run(bot_env: dict[str, str], slack: SlackSandbox,
              tmp_path: Path) -> tuple[subprocess.Popen[str], str]:
    """``review-bot run`` in HTTP mode at --log-level INFO, once it listens; and its URL."""
    env = {**bot_env, "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.api_url,
           "SLACK_SIGNING_SECRET": SECRET, "PORT": "0", "REVIEW_BOT_POLL_INTERVAL": "10",
           "REVIEW_BOT_POST_INTERVAL": "0", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([str(REVIEW_BOT), "--log-level", "INFO", "run"], env=env,
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    if "Listening for Slack on" not in line:
        process.kill()
        _, err = process.communicate()
        raise AssertionError(line + err)
    port = line.split("http://0.0.0.0:")[1].split("/")[0]
    return process, f"http://127.0.0.1:{port}/slack/events"


def stop_timed(process: subprocess.Popen[str]) -> tuple[float, str, str]:
    """SIGTERM, then how long the process took to exit, and what it printed."""
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        out, err = finish(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return time.monotonic() - sent, out, err


def test_a_persistent_429_never_delays_polls_and_sigterm_stops_within_10s(
        run: Run, altium: AltiumSandbox, slack: SlackSandbox, bot_env: dict[str, str],
        tmp_path: Path, db_path: Path) -> None:
    assert run("subscribe", PROJECT, "#design-review").returncode == 0
    slack.faults.rate_limit(times=None, retry_after=60)
    process, _ = start_run(bot_env, slack, tmp_path)
    polls = Polls(db_path)
    wait_for(lambda: polls.count() >= 3, timeout=30)
    # Polls at 0 s, 10 s and 20 s: each on time, though every Slack call answers 429.
    first, *_, last = polls.finished.values()
    stopped, out, err = stop_timed(process)
    assert 19 < last - first < 22, polls.finished
    assert stopped < 10, stopped
    assert process.returncode == 0 and "Stopped." in out, err
    assert "asks to wait 60s, longer than 10s: trying again next run" in err
    assert slack.messages("#design-review") == []


def test_sigterm_ends_a_delivery_waiting_out_a_retry_after(
        run: Run, altium: AltiumSandbox, slack: SlackSandbox, bot_env: dict[str, str],
        tmp_path: Path) -> None:
    assert run("subscribe", PROJECT, "#design-review").returncode == 0
    slack.faults.rate_limit(method="chat.postMessage", times=None, retry_after=9)
    process, _ = start_run(bot_env, slack, tmp_path)
    # The welcome was refused with Retry-After 9 (within the 10 s interval): delivery waits.
    wait_for(lambda: bool(slack.calls_to("chat.postMessage")), timeout=15)
    stopped, out, err = stop_timed(process)
    assert stopped < 5, stopped
    assert process.returncode == 0 and "Stopped." in out, err
    slack.faults.clear()
    assert run("deliver", env={"SLACK_BOT_TOKEN": slack.bot_token,
                               "SLACK_API_URL": slack.api_url}).returncode == 0
    assert len(slack.messages("#design-review")) == 1


def test_sigterm_stops_run_within_10s_while_slack_hangs(
        run: Run, altium: AltiumSandbox, slack: SlackSandbox, bot_env: dict[str, str],
        tmp_path: Path, db_path: Path) -> None:
    assert run("subscribe", PROJECT, "#design-review").returncode == 0
    assert run("poll", "--once").returncode == 0
    play_review_round(altium)
    slack.faults.latency(25)
    process, _ = start_run(bot_env, slack, tmp_path)

    def delivering() -> bool:
        with Store.open(db_path) as store:
            return store.get_meta("planned_event_id") is not None

    # Delivery has planned the round's events; its next step is a request Slack holds.
    wait_for(delivering, timeout=15)
    stopped, out, err = stop_timed(process)
    assert stopped < 10, stopped
    assert process.returncode == 0, err
    assert "A step was still waiting on Slack or Nexar after 7s" in out and "Stopped." in out
    slack.faults.clear()
    done = run("deliver", env={"SLACK_BOT_TOKEN": slack.bot_token,
                               "SLACK_API_URL": slack.api_url,
                               "REVIEW_BOT_POST_INTERVAL": "0"})
    assert done.returncode == 0, done.stderr
    keys = [m.metadata["event_payload"]["key"] for m in slack.all_posts() if m.metadata]
    assert keys and len(keys) == len(set(keys))
    with Store.open(db_path) as store:
        assert Outbox(store).undelivered() == 0


def test_the_start_up_line_names_the_channels_whose_replies_go_to_altium() -> None:
    from bot.run import _watching
    from state.store import Subscription

    def sub(channel: str, *, replies: bool, paused: str | None = None) -> Subscription:
        return Subscription(id=1, project_id="P1", project=PROJECT, channel=channel,
                            groups=("comments",), created_at="2026-11-28T08:00:00.000Z",
                            paused_reason=paused, replies=replies)

    line = _watching([sub("#hw", replies=True), sub("#layout", replies=False),
                      sub("#old", replies=True, paused="not_in_channel")])
    assert line == (f"Watching 1 project(s) ({PROJECT}) for 3 channel(s); replies in #hw go "
                    "to Altium 365; paused: #old (see 'review-bot subscriptions', then "
                    "'review-bot resume').")
