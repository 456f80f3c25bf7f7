"""A digest that cannot be rendered is set aside once, told once, and sent after resume."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bot.digests import DigestRunner
from bot.service import explained, set_aside_notice
from bot.slack.cards import Cards
from bot.slack.client import SlackClient
from bot.slack.delivery import Deliverer
from bot.slack.digest_layout import render_digest
from bot.slack.message import Message
from sandbox import SlackSandbox
from state.digest_contents import Digest
from state.digests import Digests, DigestSetting
from state.outbox import Outbox
from state.store import Store
from tests.conftest import FakeClock

CHANNEL = "#design-review"
OPS = "#hw-review"


def broken(digest: Digest) -> Message:
    raise KeyError("no such column")


def test_a_digest_that_cannot_be_rendered_is_set_aside_once(
        store: Store, clock: FakeClock, slack: SlackSandbox,
        caplog: pytest.LogCaptureFixture) -> None:
    Digests(store).set(CHANNEL, DigestSetting(kind="daily", time="09:00", tz="UTC"),
                       at=clock() - timedelta(days=2))
    deliverer = Deliverer(store=store, slack=SlackClient(token=slack.bot_token,
                                                         api_url=slack.api_url),
                          renderer=Cards(), clock=clock, sleep=lambda seconds: None,
                          ops_channel=OPS, ops_notice=set_aside_notice)

    def runner(render: object) -> DigestRunner:
        return DigestRunner(store=store, post=deliverer.post_once,
                            render=explained(render), clock=clock)  # type: ignore[arg-type]

    assert runner(broken).catch_up() == []
    [item] = Outbox(store).set_aside_items()
    assert (item.channel, item.kind) == (CHANNEL, "digest")
    assert item.reason == "could not be rendered (KeyError: 'no such column')"
    assert slack.messages(CHANNEL) == [] and len(slack.messages(OPS)) == 1

    # Every later delivery tick meets it again: no Slack call, no error line, no notice.
    calls = len(slack.calls)
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            assert runner(broken).catch_up() == []
    assert len(slack.calls) == calls
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []

    Outbox(store).resume_set_aside()
    [sent] = runner(render_digest).catch_up()
    assert sent.outcome == "posted" and len(slack.messages(CHANNEL)) == 1
