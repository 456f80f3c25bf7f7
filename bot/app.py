"""The slack-bolt app: listeners grouped by kind, each module with its ``register(app)``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.digests import DigestRun
from bot.listeners import commands, home, messages, unfurls
from bot.replies import ReplyWriter
from bot.review.answers import Answers
from bot.review.context import NO_SUPPLY, NexarFactory, Policy, SupplyLookup
from state.supply import Thresholds


class _NoTokenNotice(logging.Filter):
    """Drops bolt's "`token` will be unused" warning.

    bolt reads ``SLACK_BOT_TOKEN`` from the environment even when given a client, then
    warns that it ignores it: true, and of no use to anyone running the bot.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


_BOLT_LOG = logging.getLogger("slack_bolt.App")
if not any(isinstance(f, _NoTokenNotice) for f in _BOLT_LOG.filters):
    _BOLT_LOG.addFilter(_NoTokenNotice())


def build_app(*, client: WebClient, signing_secret: str, db_path: str,
              nexar: NexarFactory | None = None, policy: Policy | None = None,
              digest_tz: str = "UTC", digest_now: Callable[[str], DigestRun | None] | None = None,
              on_digest_change: Callable[[], None] | None = None,
              replies: ReplyWriter | None = None,
              supply_lookup: SupplyLookup | None = None, supply_off: str = NO_SUPPLY,
              supply_thresholds: Thresholds | None = None,
              process_before_response: bool = True) -> App:
    """A bolt app whose Web API calls go through ``client`` (real Slack or a local one).

    Every listener acknowledges in the request's own thread and leaves its real work to a
    lazy listener, so ``process_before_response`` answers Slack at once and an ack never
    waits behind other requests' answers for a worker. ``replies`` writes the replies
    people make in thread cards' Slack threads to Altium 365 (without it they are ignored).
    """
    app = App(client=client, signing_secret=signing_secret, token_verification_enabled=False,
              process_before_response=process_before_response)

    def channel_info(channel_id: str) -> dict[str, Any]:
        try:
            info = client.conversations_info(channel=channel_id).get("channel") or {}
        except SlackApiError:
            return {}
        return dict(info)

    policy = policy or Policy()
    answers = Answers(db_path=db_path, nexar=nexar, policy=policy,
                      channel_info=channel_info, digest_tz=digest_tz, digest_now=digest_now,
                      on_digest_change=on_digest_change, supply_lookup=supply_lookup,
                      supply_off=supply_off, supply_thresholds=supply_thresholds)
    home.register(app, db_path=db_path, policy=policy)
    commands.register(app, answers=answers)
    unfurls.register(app, answers=answers)
    messages.register(app, writer=replies)
    return app
