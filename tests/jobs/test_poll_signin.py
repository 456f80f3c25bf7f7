"""A project Nexar refuses is that project's failure: the ops channel hears of a dead sign-in
only when the token itself is refused (an error without a project's path)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Config
from bot.service import poll_once
from jobs.errors import NexarAuthError
from jobs.nexar import NexarClient
from sandbox import AltiumSandbox, SlackSandbox
from state.store import Store
from tests.jobs.test_poll import IOT, MC, follow


def test_a_refused_project_is_not_a_dead_sign_in(
        altium: AltiumSandbox, slack: SlackSandbox, client: NexarClient, tmp_path: Path) -> None:
    config = Config(nexar_token=altium.token, nexar_api_url=altium.api_url,
                    db_path=str(tmp_path / "bot.db"), ops_channel="#leads",
                    slack_bot_token=slack.bot_token, slack_api_url=slack.api_url)
    with Store.open(config.db_path) as store:
        follow(store, client, MC, IOT)
    assert poll_once(config).ok
    altium.faults.not_authorized(MC, times=None)
    altium.reply(IOT, 1, author="bob.schmidt", text="Checked")
    report = poll_once(config)
    assert set(report.failures) == {MC} and report.events == 1
    assert slack.messages("#leads") == []
    altium.faults.clear()
    altium.faults.graphql_error(code="AUTH_NOT_AUTHORIZED", message="Not authorized", times=None)
    for _ in range(2):
        with pytest.raises(NexarAuthError):
            poll_once(config)
    [notice] = slack.messages("#leads")
    assert "cannot sign in to Nexar" in notice.text
