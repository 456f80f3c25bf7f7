"""``webhooks``: the endpoints that receive every event as a signed POST, and their
deliveries; plus the lines that report a webhook run in ``poll``, ``deliver``.

A signing secret is printed twice in an endpoint's life, by ``add`` and ``rotate-secret``,
and nowhere else: ``list`` shows it masked, errors never carry it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click

from bot import service, usecases
from bot.cli.group import cli, load_config, open_store, print_table
from bot.config import Config
from bot.errors import WebhookError
from bot.webhooks.sender import WebhookReport
from state.clock import stamp
from state.errors import ConfigError
from state.filters import Filters
from state.model import EVENT_GROUPS, ProjectInfo
from state.store import Store
from state.webhooks import Attempt, Endpoint, Webhooks, check_url, mask_secret

ENABLE_HINT = "'review-bot webhooks enable {id}' resumes it (its events are kept)"
SENDER_LOG = "bot.webhooks.sender"


class _SaidByTheCommand(logging.Filter):
    """The sender's records about what the command prints itself: an endpoint that failed
    (its ``Failed:`` line, whose "see the log" a higher level answers) or was disabled (its
    ``Disabled:`` or ``Error:`` line). Anything else it logs (a message set aside, with its
    id and the command that resends it) still shows."""

    SAID = frozenset({
        "webhook endpoint %s: %s",
        "webhook endpoint %s: unexpected error",
        "webhook endpoint %s disabled: %s; 'review-bot webhooks enable %s' resumes it",
    })

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in self.SAID


@contextmanager
def reported_here() -> Iterator[None]:
    """For a command that prints every endpoint's problem itself: at the default level the
    sender does not say it a second time, nor with a traceback (``--log-level info`` shows
    every record)."""
    logger = logging.getLogger(SENDER_LOG)
    if logging.getLogger().getEffectiveLevel() < logging.WARNING:
        yield
        return
    said = _SaidByTheCommand()
    logger.addFilter(said)
    try:
        yield
    finally:
        logger.removeFilter(said)


@cli.group()
def webhooks() -> None:
    """Webhook endpoints: every event as a JSON POST signed the Standard Webhooks way.

    Each endpoint gets the events of its projects (every watched project when none is
    named) logged after it was added, through the same outbox as Slack, in 'poll',
    'deliver' and 'run'. Failures are retried with back-off for up to 3 days; 410 Gone or
    3 days of failures disable an endpoint until 'review-bot webhooks enable'.
    """


@webhooks.command("add")
@click.argument("url")
@click.option("--project", "projects", multiple=True, metavar="NAME",
              help="A project (a name, any case) to send; repeatable (default: every "
                   "watched project).")
@click.option("--events", "groups", default=",".join(EVENT_GROUPS), show_default=True,
              help="Comma-separated event groups to send.")
@click.option("--include-doc", multiple=True, metavar="GLOB",
              help="Only threads on matching documents (e.g. '*.PcbDoc'); repeatable.")
@click.option("--exclude-doc", multiple=True, metavar="GLOB",
              help="No threads on matching documents; repeatable.")
@click.option("--allow-http", is_flag=True,
              help="Allow an http:// URL that is not on this machine (events go unencrypted).")
def add(url: str, projects: tuple[str, ...], groups: str, include_doc: tuple[str, ...],
        exclude_doc: tuple[str, ...], allow_http: bool) -> None:
    """Send events to URL (https://, or http:// on this machine or with --allow-http).

    Prints the endpoint's id and its signing secret, which is shown only this once: give
    it to the receiver, which verifies every request with it.
    """
    chosen = usecases.event_groups(groups.split(","))
    filters = Filters(include_documents=_globs(include_doc, "--include-doc"),
                      exclude_documents=_globs(exclude_doc, "--exclude-doc"))
    check_url(url, allow_http=allow_http)
    config = load_config()
    notes: list[str] = []
    with open_store() as store:
        found: list[ProjectInfo] = []
        for name in projects:
            match = _find_project(config, store, name)
            found.append(match.project)
            if match.note and match.note not in notes:
                notes.append(match.note)
        endpoint = usecases.add_webhook(store, url, projects=found, groups=chosen,
                                        filters=filters, allow_http=allow_http,
                                        now=datetime.now(UTC))
    which = ", ".join(p.name for p in found) or "every watched project"
    extra = f"; {endpoint.filters.describe()}" if endpoint.filters.describe() else ""
    click.echo(f"Added webhook endpoint {endpoint.id} for {endpoint.url} ({which}; "
               f"{', '.join(endpoint.groups)}{extra}). Events from now on are sent there.")
    click.echo("Signing secret (shown only now; the receiver verifies every request with it):")
    click.echo(endpoint.secret)
    click.echo(f"Try it: review-bot webhooks test {endpoint.id}")
    for note in notes:
        click.echo(f"Note: {note}")


def _globs(values: tuple[str, ...], option: str) -> tuple[str, ...]:
    found = tuple(v.strip() for raw in values for v in raw.split(",") if v.strip())
    too_long = [v for v in found if len(v) > 100]
    if too_long:
        raise ConfigError(f"{option} {too_long[0][:40]!r}... is too long (100 characters "
                             "at most)")
    return found


def _find_project(config: Config, store: Store, name: str) -> usecases.Found:
    """A project by name, from Nexar's current list when the bot can sign in (as
    'subscribe' finds one)."""
    nexar = (lambda: service.nexar_client(config)) if config.can_sign_in() else None
    return usecases.find_project(store, name, nexar=nexar, not_signed_in=service.NOT_SIGNED_IN,
                                 now=datetime.now(UTC))


@webhooks.command("list")
def list_() -> None:
    """Every endpoint: URL, projects, events, filters, state, last success, failures in a
    row, messages waiting, and the secret masked."""
    with open_store() as store:
        endpoints = usecases.webhook_endpoints(store)
    if not endpoints:
        click.echo("No webhook endpoints. Add one with: review-bot webhooks add URL")
        return
    print_table(("ID", "URL", "PROJECTS", "EVENTS", "FILTERS", "STATE", "LAST SUCCESS",
                 "FAILURES", "PENDING", "SECRET"),
                [(s.endpoint.id, s.endpoint.url, ", ".join(s.projects) or "(all)",
                  ",".join(s.endpoint.groups), s.endpoint.filters.describe() or "-",
                  _state(s.endpoint), _time(s.endpoint.last_success_at) or "never",
                  str(s.endpoint.failures), str(s.pending), mask_secret(s.endpoint.secret))
                 for s in endpoints])
    for s in endpoints:
        if s.endpoint.state == "disabled":
            click.echo(f"Disabled: {s.endpoint.id}: {s.endpoint.disabled_reason}; "
                       f"{ENABLE_HINT.format(id=s.endpoint.id)}")


def _state(endpoint: Endpoint) -> str:
    if endpoint.state == "disabled":
        return f"disabled since {_time(endpoint.disabled_at)}"
    if endpoint.retry_at is not None:
        return f"retrying after {_time(endpoint.retry_at)}"
    return "enabled"


def _time(value: str | None) -> str:
    """A stored time as ``2026-01-31 09:05:07 UTC`` (empty for None)."""
    return f"{value[:19].replace('T', ' ')} UTC" if value else ""


@webhooks.command()
@click.argument("endpoint_id", metavar="ID")
def remove(endpoint_id: str) -> None:
    """Remove endpoint ID, with its waiting messages and its delivery log."""
    with open_store() as store:
        hooks = Webhooks(store)
        pending = hooks.pending(hooks.get(endpoint_id).id)
        gone = hooks.remove(endpoint_id)
    dropped = f"; {pending} waiting message(s) dropped" if pending else ""
    click.echo(f"Removed webhook endpoint {gone.id} ({gone.url}){dropped}.")


@webhooks.command("test")
@click.argument("endpoint_id", metavar="ID")
def test(endpoint_id: str) -> None:
    """Send endpoint ID a ping now (a 'ping' event), whatever its state, and say how it
    answered. Exits 1 when it did not answer 2xx."""
    with reported_here():
        attempt = service.ping_webhook(load_config(), endpoint_id)
    _said(attempt, f"Ping to {endpoint_id}", f"The ping to {endpoint_id} failed",
          failed=" (it stays queued: the next run tries again)")


@webhooks.command("rotate-secret")
@click.argument("endpoint_id", metavar="ID")
def rotate_secret(endpoint_id: str) -> None:
    """Give endpoint ID a new signing secret, printed once. The old secret stays valid for
    24 hours: meanwhile every request carries both signatures."""
    with open_store() as store:
        endpoint = usecases.rotate_webhook_secret(store, endpoint_id, now=datetime.now(UTC))
    click.echo(f"New signing secret for {endpoint.id} (shown only now):")
    click.echo(endpoint.secret)
    click.echo(f"The old secret stays valid for 24 h (until {_time(endpoint.previous_until)}): "
               "requests carry both signatures until then, so update the receiver before.")


@webhooks.command()
@click.argument("endpoint_id", metavar="ID")
@click.option("--failed", is_flag=True, help="Only the attempts that failed.")
def deliveries(endpoint_id: str, failed: bool) -> None:
    """The latest attempts to send to endpoint ID, newest first: time, delivery id (for
    'webhooks resend'), event, status, latency and error."""
    with open_store() as store:
        hooks = Webhooks(store)
        endpoint = hooks.get(endpoint_id)
        attempts = hooks.attempts(endpoint.id, failed_only=failed)
        pending = hooks.pending(endpoint.id)
    if not attempts:
        click.echo(f"No {'failed ' if failed else ''}attempts to {endpoint.id} yet; "
                   f"{pending} message(s) waiting.")
        return
    print_table(("TIME", "DELIVERY", "EVENT", "STATUS", "LATENCY", "ERROR"),
                [(_time(a.attempted_at), a.message_id,
                  "ping" if a.event_id is None else str(a.event_id),
                  "-" if a.status is None else str(a.status), f"{a.latency_ms} ms",
                  a.error or "") for a in attempts])


@webhooks.command()
@click.argument("delivery_id", metavar="DELIVERY_ID")
def resend(delivery_id: str) -> None:
    """Send one message again now (DELIVERY_ID from 'webhooks deliveries'), with the same
    webhook-id. Exits 1 when it did not answer 2xx; the message then waits for the next
    run."""
    with reported_here():
        attempt = service.resend_webhook(load_config(), delivery_id)
    _said(attempt, f"Resent {delivery_id} to {attempt.endpoint_id}",
          f"Resending {delivery_id} to {attempt.endpoint_id} failed",
          failed=" (it stays queued: the next run tries again)")


@webhooks.command()
@click.argument("endpoint_id", metavar="ID")
def enable(endpoint_id: str) -> None:
    """Resume endpoint ID, its failures forgotten: what waited goes out with the next run
    ('poll', 'deliver' or 'run'), oldest first."""
    with open_store() as store:
        hooks = Webhooks(store)
        endpoint = hooks.enable(endpoint_id, at=_now())
        pending = hooks.pending(endpoint.id)
    click.echo(f"Enabled webhook endpoint {endpoint.id}: {pending} waiting message(s) go out "
               "with the next run.")


def _now() -> str:
    return stamp(datetime.now(UTC))


def _said(attempt: Attempt, done: str, failure: str, *, failed: str = "") -> None:
    """One line for an attempt; a failed one is an ``Error:`` line (exit 1)."""
    status = "no answer" if attempt.status is None else f"HTTP {attempt.status}"
    if attempt.succeeded:
        click.echo(f"{done}: {status} in {attempt.latency_ms} ms.")
        return
    error = attempt.error or status
    if attempt.status == 410:
        failed = f"; the endpoint is disabled: {ENABLE_HINT.format(id=attempt.endpoint_id)}"
    raise WebhookError(f"{failure} after {attempt.latency_ms} ms: {error}{failed}")


# -- the lines of a webhook run in 'poll' and 'deliver' -------------------------------------

def print_webhooks(report: WebhookReport) -> bool:
    """Say what a webhook run did, one line, then one per endpoint that failed, is being
    sent by another process or is disabled (this run or before); False while one failed
    this run or is disabled. A message set aside (it could not be rendered) is counted and
    does not fail the run: the sender's log line names it and the command that resends it."""
    set_aside = f", {report.set_aside} set aside" if report.set_aside else ""
    click.echo(f"Sent {report.sent} webhook(s), {report.failed} failed attempt(s)"
               f"{set_aside}; {report.pending} waiting.")
    for endpoint_id, holder in sorted(report.busy.items()):
        click.echo(f"Skipped: {endpoint_id}: being sent by {holder}; it goes out from there.")
    for endpoint_id, reason in sorted(report.errors.items()):
        if endpoint_id not in report.disabled:
            click.echo(f"Failed: {endpoint_id}: {reason} (will retry)", err=True)
    with open_store() as store:
        disabled = {e.id: e.disabled_reason or "" for e in Webhooks(store).endpoints()
                    if e.state == "disabled"}
    disabled.update(report.disabled)
    for endpoint_id, reason in sorted(disabled.items()):
        click.echo(f"Disabled: {endpoint_id}: {reason}; {ENABLE_HINT.format(id=endpoint_id)}",
                   err=True)
    return not report.errors and not disabled
