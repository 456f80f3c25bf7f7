"""``review-bot webhooks`` and webhooks in ``poll``, ``deliver`` and ``run``, as an operator
meets them: real processes, the Altium and Slack sandboxes, and local webhook receivers."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from sandbox import AltiumSandbox, SlackSandbox, WebhookReceiver
from sandbox.scenario import PROJECT, play_review_round
from sandbox.webhooks import Respond
from state.store import Store
from state.webhooks import Webhooks
from tests.bot.conftest import Run, finish
from tests.bot.test_run import start_run, stop_timed
from tests.bot.webhooks.history import validator
from tests.conftest import wait_for

ADDED = re.compile(r"^Added webhook endpoint (ep_[\w-]{12}) for ")
SECRET = re.compile(r"^whsec_[A-Za-z0-9+/=]{32}$")


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


def add(run: Run, receiver: WebhookReceiver, *args: str) -> tuple[str, str]:
    """``webhooks add`` for the receiver; its endpoint id and secret (the receiver now
    accepts that secret)."""
    done = run("webhooks", "add", receiver.url, *args)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    match = ADDED.match(lines[0])
    assert match, done.stdout
    secret = lines[2]
    assert SECRET.match(secret), done.stdout
    receiver.secrets = [*receiver.secrets, secret]
    return match.group(1), secret


def one_error(done: subprocess.CompletedProcess[str]) -> str:
    """The one ``Error:`` line of a failed command (exit 1, nothing else, no traceback)."""
    assert done.returncode == 1, (done.stdout, done.stderr)
    [line] = done.stderr.splitlines()
    assert line.startswith("Error: ") and "Traceback" not in done.stderr, done.stderr
    return line


def watched(run: Run, env: dict[str, str] | None = None) -> None:
    """A subscription to the sandbox's project and its first, silent look."""
    assert run("subscribe", PROJECT, "#design-review", env=env).returncode == 0
    assert run("poll", "--once", env=env).returncode == 0


# -- the commands ----------------------------------------------------------------------------

def test_add_list_rotate_and_remove_show_a_secret_only_when_it_is_made(
        run: Run, receiver: WebhookReceiver) -> None:
    endpoint, secret = add(run, receiver, "--events", "comments,bom", "--include-doc",
                           "*.SchDoc")
    added = run("webhooks", "list")
    assert added.returncode == 0
    header, row = added.stdout.splitlines()
    assert header.split() == ["ID", "URL", "PROJECTS", "EVENTS", "FILTERS", "STATE", "LAST",
                              "SUCCESS", "FAILURES", "PENDING", "SECRET"]
    assert row.split() == [endpoint, receiver.url, "(all)", "comments,bom", "documents",
                           "*.SchDoc", "enabled", "never", "0", "0", f"whsec_…{secret[-4:]}"]
    assert secret not in added.stdout

    rotated = run("webhooks", "rotate-secret", endpoint)
    assert rotated.returncode == 0, rotated.stderr
    said = rotated.stdout.splitlines()
    assert said[0] == f"New signing secret for {endpoint} (shown only now):"
    new = said[1]
    assert SECRET.match(new) and new != secret
    assert said[2].startswith("The old secret stays valid for 24 h (until ")
    listed = run("webhooks", "list")
    assert secret not in listed.stdout and new not in listed.stdout
    assert f"whsec_…{new[-4:]}" in listed.stdout

    removed = run("webhooks", "remove", endpoint)
    assert removed.stdout == f"Removed webhook endpoint {endpoint} ({receiver.url}).\n"
    assert run("webhooks", "list").stdout == (
        "No webhook endpoints. Add one with: review-bot webhooks add URL\n")
    assert one_error(run("webhooks", "remove", endpoint)) == (
        f"Error: no webhook endpoint {endpoint!r}.")


def test_add_finds_projects_by_name_and_refuses_what_it_cannot_use(
        run: Run, receiver: WebhookReceiver, db_path: Path) -> None:
    endpoint, _ = add(run, receiver, "--project", PROJECT.lower(), "--events", "revisions")
    row = run("webhooks", "list").stdout.splitlines()[1]
    assert PROJECT in row and "revisions" in row
    with Store.open(db_path) as store:
        [listed] = Webhooks(store).endpoints()
        assert listed.id == endpoint and listed.groups == ("revisions",)
        assert listed.project_ids == (store.find_project(PROJECT).id,)

    assert one_error(run("webhooks", "add", "http://hooks.example.com/in")) == (
        "Error: webhook URL 'http://hooks.example.com/in' is not https; use --allow-http to "
        "send events unencrypted.")
    allowed = run("webhooks", "add", "http://hooks.example.com/in", "--allow-http")
    assert allowed.returncode == 0 and ADDED.match(allowed.stdout), allowed.stderr
    assert one_error(run("webhooks", "add", "ftp://hooks.example.com/in")).startswith(
        "Error: webhook URL 'ftp://hooks.example.com/in' is not an http(s) address")
    assert one_error(run("webhooks", "add", receiver.url, "--events", "comments,chat")) == (
        "Error: unknown event group chat: choose from comments,bom,revisions")
    assert one_error(run("webhooks", "add", receiver.url, "--project", "No Such Board")
                     ).startswith("Error: no project")
    with Store.open(db_path) as store:
        assert len(Webhooks(store).endpoints()) == 2


def test_every_command_names_an_unknown_id_in_one_line(run: Run) -> None:
    for command in ("remove", "test", "rotate-secret", "deliveries", "enable"):
        assert one_error(run("webhooks", command, "ep_nothing_here")) == (
            "Error: no webhook endpoint 'ep_nothing_here'."), command
    assert one_error(run("webhooks", "resend", "msg_0000")) == (
        "Error: no webhook delivery 'msg_0000'.")


def test_test_deliveries_and_resend_over_real_http(
        run: Run, receiver: WebhookReceiver) -> None:
    endpoint, secret = add(run, receiver)
    tested = run("webhooks", "test", endpoint)
    assert tested.returncode == 0, tested.stderr
    assert re.fullmatch(rf"Ping to {endpoint}: HTTP 204 in \d+ ms\.\n", tested.stdout)
    [ping] = receiver.received()
    assert ping.verified and ping.payload["type"] == "ping"
    Webhook(secret).verify(ping.body, ping.headers)

    receiver.answer(Respond(status=500))
    failed = run("webhooks", "test", endpoint)
    line = one_error(failed)
    assert re.fullmatch(rf"Error: The ping to {endpoint} failed after \d+ ms: HTTP 500 \(it "
                        r"stays queued: the next run tries again\)", line), line

    history = run("webhooks", "deliveries", endpoint)
    assert history.returncode == 0
    header, newest, oldest = history.stdout.splitlines()
    assert header.split() == ["TIME", "DELIVERY", "EVENT", "STATUS", "LATENCY", "ERROR"]
    # TIME is three words (date, time, UTC), LATENCY two (N ms).
    delivery = newest.split()[3]
    assert re.fullmatch(r"msg_[0-9a-f]{24}", delivery), newest
    assert newest.split()[4:6] == ["ping", "500"] and newest.split()[7:] == ["ms", "HTTP", "500"]
    assert oldest.split()[4:6] == ["ping", "204"] and oldest.split()[7:] == ["ms"]
    failed_only = run("webhooks", "deliveries", endpoint, "--failed").stdout.splitlines()
    assert failed_only == [header, newest]

    resent = run("webhooks", "resend", delivery)
    assert resent.returncode == 0, resent.stderr
    assert re.fullmatch(rf"Resent {delivery} to {endpoint}: HTTP 204 in \d+ ms\.\n",
                        resent.stdout)
    again = receiver.received()
    assert [r.webhook_id for r in again[1:]] == [delivery, delivery]
    assert again[-1].verified
    for done in (tested, failed, history, resent):
        assert secret not in done.stdout + done.stderr


def test_a_410_disables_and_enable_resumes(run: Run, receiver: WebhookReceiver) -> None:
    endpoint, _ = add(run, receiver)
    receiver.answer(Respond(status=410))
    line = one_error(run("webhooks", "test", endpoint))
    assert "HTTP 410 Gone" in line and f"'review-bot webhooks enable {endpoint}'" in line
    listed = run("webhooks", "list").stdout.splitlines()
    assert "disabled since" in listed[1]
    assert listed[2] == (f"Disabled: {endpoint}: the receiver answered 410 Gone; 'review-bot "
                         f"webhooks enable {endpoint}' resumes it (its events are kept)")
    enabled = run("webhooks", "enable", endpoint)
    assert enabled.stdout == (f"Enabled webhook endpoint {endpoint}: 1 waiting message(s) go "
                              "out with the next run.\n")
    assert " enabled " in run("webhooks", "list").stdout.splitlines()[1]


# -- poll --once and deliver -------------------------------------------------------------------

def test_poll_once_sends_webhooks_without_slack(
        run: Run, altium: AltiumSandbox, receiver: WebhookReceiver) -> None:
    watched(run)
    add(run, receiver)
    play_review_round(altium)
    done = run("poll", "--once")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1] == ("Slack is not configured (SLACK_BOT_TOKEN): events are kept for "
                        "delivery.")
    sent = len(receiver.delivered())
    assert sent >= 9 and lines[2] == f"Sent {sent} webhook(s), 0 failed attempt(s); 0 waiting."
    assert all(r.verified for r in receiver.received())
    check = validator()
    for document in receiver.delivered():
        check.validate(document)
        assert document["data"]["project"]["name"] == PROJECT
    # Nothing new: nothing sent, and the Slack events are still kept for delivery.
    again = run("poll", "--once")
    assert again.returncode == 0
    assert "Sent 0 webhook(s), 0 failed attempt(s); 0 waiting." in again.stdout
    assert len(receiver.received()) == sent


def test_poll_once_with_slack_posts_and_sends_and_a_failure_fails_the_run(
        run: Run, altium: AltiumSandbox, slack: SlackSandbox,
        receiver: WebhookReceiver) -> None:
    env = {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.api_url,
           "REVIEW_BOT_POST_INTERVAL": "0"}
    watched(run, env)
    endpoint, _ = add(run, receiver, "--events", "bom")
    play_review_round(altium)
    receiver.answer(Respond(status=503))
    done = run("poll", "--once", env=env)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[1].startswith("Delivered ") and " Slack post(s)" in lines[1]
    waiting = re.fullmatch(r"Sent 0 webhook\(s\), 1 failed attempt\(s\); (\d+) waiting\.",
                           lines[2])
    assert waiting, lines
    bom = int(waiting.group(1))
    assert bom >= 4
    assert done.stderr == f"Failed: {endpoint}: HTTP 503 (will retry)\n"
    assert len(slack.messages("#design-review")) > 1
    # The endpoint backs off about 5 s; 'deliver' then sends what waited, in order.
    time.sleep(6.5)
    delivered = run("deliver", env=env)
    assert delivered.returncode == 0, delivered.stderr
    assert delivered.stdout.splitlines() == [
        "Delivered 0 Slack post(s), updated 0 card(s); 0 event(s) waiting.",
        f"Sent {bom} webhook(s), 0 failed attempt(s); 0 waiting."]
    types = [d["type"] for d in receiver.delivered()]
    assert len(types) == bom and all(t.startswith("part.") for t in types), types
    requests = receiver.received()
    assert requests[0].webhook_id == requests[1].webhook_id


def test_deliver_without_slack_sends_webhooks_and_tells_ops_once_when_slack_is_there(
        run: Run, altium: AltiumSandbox, slack: SlackSandbox,
        receiver: WebhookReceiver) -> None:
    watched(run)
    endpoint, secret = add(run, receiver)
    play_review_round(altium)
    receiver.always(Respond(status=410))
    disabled = [f"Disabled: {endpoint}: the receiver answered 410 Gone; 'review-bot webhooks "
                f"enable {endpoint}' resumes it (its events are kept)"]
    polled = run("poll", "--once")
    assert polled.returncode == 1 and polled.stderr.splitlines() == disabled
    gone = run("deliver")
    assert gone.returncode == 1
    waiting = len(receiver.received()) and gone.stdout.splitlines()
    assert waiting == [
        "Slack is not configured (SLACK_BOT_TOKEN): events are kept for delivery.",
        f"Sent 0 webhook(s), 0 failed attempt(s); {gone.stdout.split('; ')[-1].strip()}"]
    assert gone.stderr.splitlines() == disabled
    assert len(receiver.received()) == 1
    # Slack configured later: the first delivery tells the ops channel, and only it.
    env = {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.api_url,
           "REVIEW_BOT_POST_INTERVAL": "0", "REVIEW_BOT_OPS_CHANNEL": "#hw-review"}
    for _ in range(2):
        assert run("deliver", env=env).returncode == 1
    [notice] = slack.messages("#hw-review")
    text = str(notice.blocks)
    assert endpoint in text and "127.0.0.1" in text and "410 Gone" in text
    assert f"review-bot webhooks enable {endpoint}" in text
    assert secret not in text and receiver.url not in text
    receiver.always(Respond())
    assert run("webhooks", "enable", endpoint).returncode == 0
    resumed = run("deliver", env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert len(receiver.delivered()) >= 9
    assert len(slack.messages("#hw-review")) == 1


def test_poll_once_tells_ops_of_an_endpoint_it_disables(
        run: Run, altium: AltiumSandbox, slack: SlackSandbox,
        receiver: WebhookReceiver) -> None:
    env = {"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.api_url,
           "REVIEW_BOT_POST_INTERVAL": "0", "REVIEW_BOT_OPS_CHANNEL": "#hw-review"}
    watched(run, env)
    endpoint, _ = add(run, receiver)
    play_review_round(altium)
    receiver.always(Respond(status=410))
    assert run("poll", "--once", env=env).returncode == 1
    assert run("poll", "--once", env=env).returncode == 1
    [notice] = slack.messages("#hw-review")
    assert endpoint in str(notice.blocks)


# -- run ---------------------------------------------------------------------------------------

def test_run_sends_webhooks_while_another_endpoint_hangs_and_stops_within_10s(
        run: Run, altium: AltiumSandbox, slack: SlackSandbox, bot_env: dict[str, str],
        receiver: WebhookReceiver, tmp_path: Path, db_path: Path) -> None:
    watched(run)
    with WebhookReceiver() as hanging:
        hanging.always(Respond(hang=60.0))
        dead, _ = add(run, hanging)
        alive, _ = add(run, receiver)
        play_review_round(altium)
        process, _ = start_run(bot_env, slack, tmp_path)
        try:
            started = time.monotonic()
            # Both endpoints are sent to at once; the live one gets everything while the
            # dead one holds its first request, and Slack's posts are not held back.
            def all_sent() -> bool:
                with Store.open(db_path) as store:
                    hooks = Webhooks(store)
                    return hooks.pending(dead) > 0 and hooks.pending(alive) == 0

            wait_for(lambda: len(receiver.delivered()) >= 9 and all_sent(), timeout=15)
            wait_for(lambda: len(slack.messages("#design-review")) >= 2, timeout=15)
            assert time.monotonic() - started < 12
            [held] = hanging.received()
            assert held.status == 0 and time.monotonic() - started < 15
            assert all(r.verified for r in receiver.received())
            # Stopping while the hung request is in flight still ends within 10 s.
            stopped, out, err = stop_timed(process)
        finally:
            if process.poll() is None:
                process.kill()
                finish(process)
    assert stopped < 10, stopped
    assert process.returncode == 0, err
    assert "A webhook attempt was still in flight after 7s: left behind" in out
    assert "Stopped." in out
    with Store.open(db_path) as store:
        hooks = Webhooks(store)
        assert hooks.pending(alive) == 0
        assert hooks.pending(dead) == len(receiver.delivered())
