"""``review-bot demo`` runs on a fresh database and shows the Slack channel it filled."""

from __future__ import annotations

import re
import time

from sandbox import SlackSandbox
from sandbox.scenario import HOSTILE_TEXT
from tests.bot.conftest import Run


def test_demo_shows_the_channel_as_a_person_reads_it(run: Run) -> None:
    started = time.monotonic()
    done = run("demo", env={"NEXAR_TOKEN": "", "NEXAR_API_URL": "", "SLACK_BOT_TOKEN": ""})
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert elapsed < 30
    out = done.stdout
    assert "Next poll: 10 events" in out and "17 Slack posts" in out
    assert "A poll with nothing new: 0 events, 0 posts." in out
    for needle in ("Now tracking", "new revision by", "reopened the thread",
                   "resolved the thread", "replied:", "thread #6 on _Power.SchDoc_",
                   "BOM change · Motor Controller (Default)",
                   "BOM change · Motor Controller (Lite)", "`TP9` Keystone Electronics 5019",
                   "Design-review digest", "Quiet longest", "*1* opened · *1* resolved"):
        assert needle in out, needle
    assert HOSTILE_TEXT in out


def test_demo_shows_a_reply_going_from_slack_to_altium_and_to_a_second_channel(
        run: Run) -> None:
    done = run("demo", env={"NEXAR_TOKEN": "", "NEXAR_API_URL": "", "SLACK_BOT_TOKEN": ""})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "the bot wrote it to Altium 365 as a comment and marked it ✅:\n  Bob Schmidt " \
           "(via Slack): Agreed with @Carla Rossi: 22R it is. I will update the schematic & " \
           "the BOM; see our gate-drive notes (https://wiki.example/gate-drive).\n" in out
    assert "Next poll: 1 Slack post (#hw-review gets the reply, #design-review does not get " \
           "it back)." in out
    shown = out[out.index("In #hw-review, under thread #3's card:"):]
    assert shown.splitlines()[1] == "  *Bob Schmidt (via Slack)* replied:"


def test_demo_to_a_real_channel_needs_a_token(run: Run) -> None:
    done = run("demo", "--channel", "#hw", env={"SLACK_BOT_TOKEN": ""})
    assert done.returncode == 1 and done.stderr.startswith("Error: SLACK_BOT_TOKEN")


def test_demo_posts_to_a_given_slack(run: Run, slack: SlackSandbox) -> None:
    done = run("demo", "--channel", "#hw-review",
               env={"SLACK_BOT_TOKEN": slack.bot_token, "SLACK_API_URL": slack.api_url,
                    "REVIEW_BOT_POST_INTERVAL": "0"})
    assert done.returncode == 0, done.stderr
    assert "Posting to #hw-review" in done.stdout
    assert len(slack.messages("#hw-review")) == 9


WEBHOOK_LINE = re.compile(r"^  (\S+) +(msg_\w+)  (verified|NOT verified) +HTTP (\d+)$")


def test_demo_shows_the_local_receiver_verified_every_webhook(run: Run) -> None:
    done = run("demo", env={"NEXAR_TOKEN": "", "NEXAR_API_URL": "", "SLACK_BOT_TOKEN": ""})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    heading = out.index("Webhook endpoint ep_")
    assert out.index("Design-review digest") < heading < out.index("Done in")
    assert "got 12 requests, 12 verified with its signing secret" in out
    lines = [m.groups() for m in map(WEBHOOK_LINE.match, out[heading:].splitlines()) if m]
    assert len(lines) == 12
    assert all(verified == "verified" and status == "204" for _, _, verified, status in lines)
    assert len({webhook_id for _, webhook_id, _, _ in lines}) == 12
    kinds = [kind for kind, _, _, _ in lines]
    assert kinds[0] == "ping"
    assert sorted(kinds[1:]) == sorted(
        ["thread.opened", "thread.replied", "thread.replied", "thread.resolved",
         "thread.reopened", "part.replaced", "part.replaced", "part.removed", "part.added",
         "part.fitted_changed", "revision.committed"])
