"""The Slack channel a command names: how it may be spelled, and whether the bot can post there."""

from __future__ import annotations

import re

import click

from bot import service
from bot.config import Config
from bot.errors import SlackAuthError, SlackChannelError, SlackError, SlackUnavailableError
from state.errors import NotFoundError

CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
CHANNEL_NAME = re.compile(r"^#[a-z0-9][a-z0-9._-]{0,79}$")


def parse_channel(value: str) -> str:
    channel = value.strip()
    if CHANNEL_ID.match(channel):
        return channel
    if CHANNEL_NAME.match(channel.lower()):
        return channel.lower()
    raise click.BadParameter(f"{value!r} is not a Slack channel: give an id like C0123ABCD "
                             "or a name like #hw-review", param_hint="CHANNEL")


def check_channel(config: Config, channel: str) -> str | None:
    """Refuse a channel the bot cannot post to, before anything is saved.

    With a Slack token: the channel must exist for the bot, be unarchived and have the bot
    in it. Without one nothing can be checked; returns a note saying so.
    """
    if not config.slack_bot_token:
        return (f"{channel} was not checked (SLACK_BOT_TOKEN is not set): make sure the bot "
                f"is in it (/invite @review-bot in {channel}) before the first post.")
    slack = service.slack_client(config)
    try:
        bot = slack.bot_name()
        found = slack.channel(channel)
    except SlackAuthError as exc:
        raise SlackAuthError(f"{exc}; nothing was saved", code=exc.code) from None
    except SlackError as exc:
        raise SlackUnavailableError(f"could not check {channel} with Slack ({exc}); nothing "
                                    "was saved: try again when Slack answers",
                                    code=exc.code) from None
    if found is None:
        raise NotFoundError(f"Slack has no channel {channel} that the bot can see: check the "
                            f"name (a private channel stays invisible until you /invite "
                            f"@{bot} in it); nothing was saved.")
    if found.is_archived:
        raise SlackChannelError(f"{channel} is archived: unarchive it or choose another "
                                "channel; nothing was saved.", code="is_archived")
    if not found.is_member:
        raise SlackChannelError(f"the bot is not in {channel}: /invite @{bot} in {channel}, "
                                "then run this again; nothing was saved.",
                                code="not_in_channel")
    return None
