"""``review-bot auth`` as a user runs it, the browser step played over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox import AltiumSandbox, SlackSandbox
from sandbox.altium import IdentitySandbox
from sandbox.altium.server import TOKEN_SCOPES
from sandbox.scenario import PROJECT
from tests.bot.conftest import REVIEW_BOT, Run, finish, serve_until
from tests.jobs.test_auth import free_port


@pytest.fixture
def identity(altium: AltiumSandbox) -> Iterator[IdentitySandbox]:
    with IdentitySandbox(altium) as sandbox:
        yield sandbox


@pytest.fixture
def auth_env(identity: IdentitySandbox, tmp_path: Path) -> dict[str, str]:
    return {"NEXAR_TOKEN": "", "NEXAR_CLIENT_ID": identity.client_id,
            "NEXAR_CLIENT_SECRET": identity.client_secret,
            "NEXAR_IDENTITY_URL": identity.base_url,
            "NEXAR_REDIRECT_URI": f"http://127.0.0.1:{free_port()}/login",
            "REVIEW_BOT_TOKEN_STORE": f"file:{tmp_path / 'cfg' / 'tokens.json'}"}


def login(bot_env: dict[str, str], auth_env: dict[str, str], tmp_path: Path
          ) -> subprocess.CompletedProcess[str]:
    process = subprocess.Popen([str(REVIEW_BOT), "auth", "login", "--no-browser",
                                "--timeout", "20"], env={**bot_env, **auth_env}, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    url = ""
    while not url.startswith("http"):
        line = process.stdout.readline()
        assert line, process.stderr.read() if process.stderr else ""
        url = line.strip()
    answer = httpx.get(url, follow_redirects=False)
    httpx.get(answer.headers["location"])
    out, err = finish(process)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_login_status_poll_logout(run: Run, bot_env: dict[str, str],
                                  auth_env: dict[str, str], tmp_path: Path) -> None:
    done = login(bot_env, auth_env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Signed in. The token is valid until" in done.stdout
    assert "refreshes itself" in done.stdout
    token_file = Path(auth_env["REVIEW_BOT_TOKEN_STORE"].removeprefix("file:"))
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"

    status = run("auth", "status", env=auth_env)
    assert status.returncode == 0, status.stderr
    assert "Signed in as Alice Nguyen <alice.nguyen@acme-robotics.example>" in status.stdout
    assert "refresh token: yes" in status.stdout and "Acme Robotics" in status.stdout

    assert run("subscribe", PROJECT, "#hw", env=auth_env).returncode == 0
    assert run("poll", "--once", env=auth_env).returncode == 0

    os.chmod(token_file, 0o644)
    loose = run("auth", "status", env=auth_env)
    assert loose.returncode == 1 and "chmod 600" in loose.stderr
    os.chmod(token_file, 0o600)

    out = run("auth", "logout", env=auth_env)
    assert out.returncode == 0 and "Signed out" in out.stdout and not token_file.exists()
    after = run("poll", "--once", env=auth_env)
    assert after.returncode == 1 and "auth login" in after.stderr
    for output in (done.stdout, done.stderr, status.stdout, after.stderr):
        assert auth_env["NEXAR_CLIENT_SECRET"] not in output


def test_login_needs_app_credentials(run: Run) -> None:
    done = run("auth", "login", "--no-browser", env={"NEXAR_CLIENT_ID": ""})
    assert done.returncode == 1 and "NEXAR_CLIENT_ID" in done.stderr


def test_a_dead_sign_in_tells_the_ops_channel_once(
        run: Run, bot_env: dict[str, str], auth_env: dict[str, str], tmp_path: Path,
        identity: IdentitySandbox, slack: SlackSandbox) -> None:
    assert login(bot_env, auth_env, tmp_path).returncode == 0
    assert run("subscribe", PROJECT, "#hw", env=auth_env).returncode == 0
    identity.revoke_all()
    ops = {**auth_env, "REVIEW_BOT_OPS_CHANNEL": "#leads", "SLACK_BOT_TOKEN": slack.bot_token,
           "SLACK_API_URL": slack.api_url}
    for _ in range(3):
        done = run("poll", "--once", env=ops)
        assert done.returncode == 1 and done.stderr.startswith("Error: ")
    notices = slack.messages("#leads")
    assert len(notices) == 1 and "cannot sign in to Nexar" in notices[0].text


def _without_nexar_token(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k != "NEXAR_TOKEN"}


def _age_out(token_file: Path) -> str:
    """Make the stored access token look expired, so the next use must refresh it."""
    data = json.loads(token_file.read_text())
    data["expires_at"] = "2020-01-01T00:00:00.000Z"
    token_file.write_text(json.dumps(data))
    return str(data["access_token"])


def test_run_and_poll_use_the_stored_sign_in_and_refresh_it(
        run: Run, bot_env: dict[str, str], auth_env: dict[str, str], tmp_path: Path,
        slack: SlackSandbox) -> None:
    assert login(bot_env, auth_env, tmp_path).returncode == 0
    token_file = Path(auth_env["REVIEW_BOT_TOKEN_STORE"].removeprefix("file:"))
    env = _without_nexar_token({**bot_env, **auth_env})
    assert "NEXAR_TOKEN" not in env
    assert run("subscribe", PROJECT, "#design-review", env=auth_env).returncode == 0

    stale = _age_out(token_file)
    polled = subprocess.run([str(REVIEW_BOT), "poll", "--once"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=False)
    assert polled.returncode == 0, polled.stderr
    assert "Polled 1 project(s)" in polled.stdout
    assert json.loads(token_file.read_text())["access_token"] != stale

    stale = _age_out(token_file)
    bot = {**env, "SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.api_url,
           "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5", "PORT": "0",
           "REVIEW_BOT_POLL_INTERVAL": "10", "REVIEW_BOT_POST_INTERVAL": "0",
           "PYTHONUNBUFFERED": "1"}
    served = serve_until(bot, tmp_path, lambda: len(slack.messages("#design-review")) == 1)
    assert "Listening for Slack on" in served.first, served.err
    assert json.loads(token_file.read_text())["access_token"] != stale
    assert served.returncode == 0, served.err
    assert "Nexar: signed in (kept in" in served.rest and "NEXAR_TOKEN" not in served.err
    assert "poll: 1 projects" in served.err and "Error" not in served.err


def test_run_without_any_sign_in_is_one_line(run: Run, auth_env: dict[str, str],
                                              slack: SlackSandbox) -> None:
    done = run("run", env={**auth_env, "SLACK_BOT_TOKEN": slack.bot_token,
                           "SLACK_API_URL": slack.api_url, "SLACK_SIGNING_SECRET": "x" * 32})
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        "Error: not signed in to Nexar: run 'review-bot auth login'"], done.stderr


def test_ctrl_c_during_login_says_what_fits(bot_env: dict[str, str], auth_env: dict[str, str],
                                            tmp_path: Path) -> None:
    process = subprocess.Popen([str(REVIEW_BOT), "auth", "login", "--no-browser"],
                               env={**bot_env, **auth_env, "PYTHONUNBUFFERED": "1"},
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    assert process.stdout is not None
    line = ""
    while not line.strip().startswith("http"):
        line = process.stdout.readline()
        assert line, process.stderr.read() if process.stderr else ""
    process.send_signal(signal.SIGINT)
    _, err = finish(process)
    assert process.returncode == 130, err
    assert err.splitlines() == ["Interrupted: the sign-in was not finished and nothing was "
                                "changed (an earlier sign-in is kept)."]
    assert not Path(auth_env["REVIEW_BOT_TOKEN_STORE"].removeprefix("file:")).exists()


def test_status_says_whether_supply_data_is_on(run: Run, altium: AltiumSandbox,
                                               auth_env: dict[str, str],
                                               identity: IdentitySandbox) -> None:
    plain = run("auth", "status")
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.splitlines()[-1] == (
        "Supply data is off: no supply access: sign in with 'review-bot auth login --supply' "
        "or set NEXAR_CLIENT_ID/SECRET.")
    scoped = altium.make_token(scopes=(*TOKEN_SCOPES, "supply.domain"))
    fixed = run("auth", "status", env={"NEXAR_TOKEN": scoped})
    assert fixed.stdout.splitlines()[-1] == (
        "Supply data is on: NEXAR_TOKEN carries supply.domain.")
    off = run("auth", "status", env={"NEXAR_TOKEN": scoped, "REVIEW_BOT_SUPPLY": "OFF"})
    assert off.stdout.splitlines()[-1] == (
        "Supply data is off: turned off by REVIEW_BOT_SUPPLY=off.")
    app = run("auth", "status", env={**auth_env, "NEXAR_TOKEN": altium.token})
    assert app.returncode == 0, app.stderr
    assert app.stdout.splitlines()[-1].startswith(
        "Supply data is on: a client-credentials token of NEXAR_CLIENT_ID (valid until ")
    assert auth_env["NEXAR_CLIENT_SECRET"] not in app.stdout + app.stderr
    assert identity.token_requests == 1
    wrong = run("auth", "status", env={"REVIEW_BOT_SUPPLY": "maybe"})
    assert wrong.returncode == 1
    assert wrong.stderr.splitlines() == [
        "Error: REVIEW_BOT_SUPPLY must be 'on' or 'off', not 'maybe'"]
