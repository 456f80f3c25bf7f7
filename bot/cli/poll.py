"""``poll`` (one time or on an interval, delivering when Slack is configured, and sending
webhooks) and ``run``."""

from __future__ import annotations

import os
import sys
import time

import click

from bot import service
from bot.cli.delivery import print_delivery, print_pauses, print_set_aside, send_webhooks
from bot.cli.group import cli, load_config, on_interrupt, open_store
from bot.config import Config
from bot.slack.delivery import DeliveryReport
from jobs.poll import PollReport
from jobs.supply_lookup import LookupReport
from state.outbox import Outbox


@cli.command()
@click.option("--once", is_flag=True, help="Poll one time and exit (for cron).")
@click.option("--interval", type=float, metavar="SECONDS",
              help="Seconds between polls without --once (default $REVIEW_BOT_POLL_INTERVAL "
                   "or 300).")
def poll(once: bool, interval: float | None) -> None:
    """Snapshot every subscribed project and record what changed.

    Exits non-zero when any project could not be read; the others are still recorded,
    and nothing is recorded for a project that failed (no false removals). With Slack
    configured it delivers too, and exits non-zero while a channel is paused or Slack kept
    failing; a post set aside (it could not be rendered, or Slack refused it) is reported
    but does not fail the run: everything else went out, and 'review-bot resume' tries it
    again after an upgrade. With webhook endpoints it sends them their events too (with
    Slack or without), and exits non-zero while an endpoint failed or is disabled. One
    poller at a time per database: while another (a 'run', a second cron job) polls, it
    says which process and exits 0, as that one does the work. When supply checks are on,
    the parts the poll's events put into a BOM are then looked up (one request) and the BOM
    messages just posted are brought up to date; a supply failure is a warning, never a
    failure of the run.
    """
    on_interrupt("Interrupted: every project written so far is complete; "
                  "the rest is picked up by the next poll.")
    config = load_config()
    while True:
        report = service.poll_once(config)
        if report.held_by is not None:
            # Not a failure: the poller that holds the lease does this poll's work.
            click.echo(f"Another poller holds this database: {report.held_by.describe()}; "
                       "it does this poll.")
            if once:
                return
            time.sleep(interval or config.poll_interval)
            continue
        _print_report(report)
        delivered = _deliver_if_configured(config)
        looked = service.look_up_supply(config)
        if looked is not None:
            _print_supply(looked)
            if looked.refreshed and config.slack_bot_token:
                # The facts go into the BOM messages just posted.
                delivered = _deliver_if_configured(config) and delivered
        sent = send_webhooks(config)
        if once:
            if not report.ok or not delivered or not sent:
                sys.exit(1)
            return
        time.sleep(interval or config.poll_interval)


def _deliver_if_configured(config: Config) -> bool:
    """Deliver when Slack is configured; False while anything failed or is paused."""
    if not config.slack_bot_token:
        click.echo("Slack is not configured (SLACK_BOT_TOKEN): events are kept for delivery.")
        report = DeliveryReport()
        with open_store() as store:
            report.note_paused(store.paused_subscriptions())
            report.note_set_aside(Outbox(store).set_aside_items())
        print_pauses(report)
        print_set_aside(report.set_aside)
        return report.ok
    report = service.deliver_once(config)
    print_delivery(report)
    return report.ok


@cli.command()
def run() -> None:
    """Run the bot: Slack connection, polling every interval, delivery, webhooks, until
    stopped.

    Socket Mode when SLACK_APP_TOKEN is set, else HTTP on $PORT at /slack/events
    (verifying SLACK_SIGNING_SECRET). Polls keep their interval while a delivery waits on
    Slack, and no Slack wait is longer than the poll interval; webhooks go out on a worker
    of their own, so no endpoint delays Slack or a poll. SIGTERM or Ctrl-C stops it within
    10 seconds: between steps, or by ending a step's wait (its work is kept; a webhook
    attempt in flight is left behind and sent again, with the same webhook-id, next start).
    """
    from bot.run import run_bot

    if not run_bot(load_config(), echo=click.echo):
        # A step's thread is stuck in a request; nothing it did is lost (every write is
        # its own transaction, a post in flight is reconciled at the next start), and a
        # worker thread would otherwise hold the process open.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _print_supply(report: LookupReport) -> None:
    if report.failed:
        click.echo(f"Warning: {report.health_line()}", err=True)
    elif report.asked:
        click.echo(f"Supply data: {report.parts} new part(s), {report.asked} asked, "
                   f"{report.matched} matched.")


def _print_report(report: PollReport) -> None:
    click.echo(f"Polled {report.projects} project(s): {report.events} new event(s), "
               f"{report.boms_read} BOM(s) read, {report.requests} request(s).")
    for name in report.unlisted:
        click.echo(f"Warning: {name} is no longer listed in its workspace "
                   "(deleted, or the token lost access).", err=True)
    for name, reason in sorted(report.failures.items()):
        click.echo(f"Failed: {name}: {reason}", err=True)
