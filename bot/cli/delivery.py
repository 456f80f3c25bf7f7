"""``deliver`` and ``resume``, and the lines that report a delivery (pauses, set-aside posts)
and, after it, a webhook run."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from bot import service
from bot.cli.channels import parse_channel
from bot.cli.group import cli, load_config, on_interrupt, open_store
from bot.cli.webhooks import print_webhooks, reported_here
from bot.config import Config
from bot.slack.client import AUTH_ERRORS
from bot.slack.delivery import DeliveryReport
from state.outbox import Outbox, SetAside


def print_delivery(report: DeliveryReport) -> None:
    click.echo(f"Delivered {report.posted} Slack post(s), updated {report.updated} card(s); "
               f"{report.pending} event(s) waiting.")
    print_pauses(report)
    print_set_aside(report.set_aside)
    for channel, holder in sorted(report.busy.items()):
        click.echo(f"Skipped: {channel}: being delivered by {holder}; it goes out from there.")
    for channel, reason in sorted(report.failures.items()):
        click.echo(f"Failed: {channel}: {reason} (will retry)", err=True)


def print_pauses(report: DeliveryReport) -> None:
    """One line per paused channel: why, since when, and what lifts it."""
    for channel, reason in sorted(report.paused.items()):
        since = report.paused_since.get(channel, "")
        when = f" since {since[:16].replace('T', ' ')} UTC" if since else ""
        click.echo(f"Paused: {channel}{when}: {reason}: {_pause_fix(reason, channel)}, then "
                   f"'review-bot resume {channel}' (its events are kept)", err=True)


def print_set_aside(items: dict[str, list[SetAside]]) -> None:
    """One line per channel with posts set aside: how many, and why."""
    for channel, held in sorted(items.items()):
        click.echo(f"Set aside: {channel}: {len(held)} post(s) that could not be sent "
                   f"({_reasons(held)}); the rest went out. After an upgrade, "
                   f"'review-bot resume {channel}' tries them again.", err=True)


def _reasons(items: Sequence[SetAside], limit: int = 3) -> str:
    said = [f"{i.kind}: {i.reason}" for i in items[:limit]]
    if len(items) > limit:
        said.append(f"{len(items) - limit} more")
    return "; ".join(said)


def _pause_fix(reason: str, channel: str) -> str:
    if reason == "not_in_channel":
        return f"the bot was removed; /invite @review-bot in {channel}"
    if reason == "channel_not_found":
        return ("Slack has no such channel the bot can see (renamed, deleted, or private "
                "without the bot); fix the channel or the subscription")
    if reason == "is_archived":
        return "the channel is archived; unarchive it"
    if reason.startswith("restricted_action"):
        return "the channel does not let the bot post; ask a workspace admin"
    if reason in AUTH_ERRORS:
        return "Slack refused the bot token; check SLACK_BOT_TOKEN and the app's installation"
    return "Slack refused a post there; see the log with --log-level info"


@cli.command()
def deliver() -> None:
    """Post every event the outbox owes to Slack, and to webhook endpoints, then exit.

    Webhooks go out after Slack, and without Slack configured too when there is an
    endpoint. Exits non-zero while a channel is paused (this run or an earlier one),
    Slack kept failing, or a webhook endpoint failed or is disabled; nothing is dropped.
    A post that cannot be rendered, or that Slack refuses even as plain text, is set
    aside with its reason and reported (exit 0: everything else went out); 'review-bot
    resume' tries it again.
    """
    on_interrupt("Interrupted: every post made so far is recorded; the rest goes out "
                  "with the next delivery.")
    config = load_config()
    if not config.slack_bot_token and service.has_webhooks(config):
        click.echo("Slack is not configured (SLACK_BOT_TOKEN): events are kept for delivery.")
        ok = True
    else:
        report = service.deliver_once(config)
        print_delivery(report)
        ok = report.ok
    if not send_webhooks(config) or not ok:
        sys.exit(1)


def send_webhooks(config: Config) -> bool:
    """Send webhook endpoints what they are owed and say so (nothing at all while there is
    no endpoint); then, with Slack, tell the ops channel about endpoints just disabled.
    False while an endpoint failed this run or is disabled."""
    with reported_here():
        report = service.send_webhooks(config)
    if report is None:
        return True
    ok = print_webhooks(report)
    if report.disabled:
        service.tell_disabled_webhooks_now(config)
    return ok


@cli.command()
@click.argument("channel", required=False)
def resume(channel: str | None) -> None:
    """Lift the pause of CHANNEL's subscriptions and put back its posts set aside (all
    channels when omitted): kept events and set-aside posts go out with the next delivery.

    Run it after fixing the channel, or after an upgrade that fixes what a set-aside post
    met (see 'review-bot subscriptions'); a post that still fails is set aside again.
    """
    target = parse_channel(channel) if channel else None
    with open_store() as store:
        count = store.resume(channel=target)
        held = Outbox(store).resume_set_aside(target)
    said = []
    if count:
        said.append(f"Resumed {count} subscription(s).")
    if held:
        said.append(f"Put back {held} set-aside post(s) to try again.")
    click.echo(" ".join(said) or "Nothing was paused or set aside.")
