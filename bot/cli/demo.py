"""``demo``: the bot on local Altium 365 and Slack stand-ins, no account needed."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from bot.cli.channels import check_channel, parse_channel
from bot.cli.group import DB_GIVEN, cli, load_config, on_interrupt


@cli.command()
@click.option("--channel", metavar="CHANNEL",
              help="Post to this channel of a real Slack (needs SLACK_BOT_TOKEN) instead of "
                   "the local one.")
def demo(channel: str | None) -> None:
    """Run the bot on local Altium 365 and Slack stand-ins and show the Slack channel.

    Needs no account: both services are served on 127.0.0.1 for the length of the run.
    The event log goes to --db (default: a fresh temporary file).
    """
    from bot.demo import run_demo

    on_interrupt("Interrupted: the demo stopped and its local stand-ins are shut down.")
    config = load_config()
    if channel:
        config.require_slack()
        channel = parse_channel(channel)
        check_channel(config, channel)
    explicit = bool(click.get_current_context().meta.get(DB_GIVEN))
    with tempfile.TemporaryDirectory(prefix="review-bot-demo-") as scratch:
        path = Path(config.db_path) if explicit else Path(scratch) / "demo.db"
        run_demo(path, click.echo, slack_token=config.slack_bot_token if channel else None,
                 slack_api_url=config.slack_api_url, channel=channel,
                 post_interval=config.post_interval)
    click.echo(f"The event log is in {path}." if explicit
               else "Pass --db PATH to keep the event log.")
