"""``review-bot``: a thin command line over the poller, the store and (later) the Slack app.

Every error a user can cause or meet ends as one ``Error: ...`` line and a non-zero exit.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import click
from dotenv import dotenv_values

from bot import logs, service, usecases
from bot.cadence import Now, Off, Show, describe, parse_schedule
from bot.config import Config
from bot.errors import SlackAuthError, SlackChannelError, SlackError, SlackUnavailableError
from bot.slack.client import AUTH_ERRORS
from bot.slack.delivery import DeliveryReport
from bot.slack.sentences import summary
from jobs.auth import DESIGN_SCOPES, TokenManager, jwt_claims
from jobs.errors import NexarAuthError
from jobs.login import login
from jobs.poll import PollReport
from state.clock import stamp
from state.errors import NotFoundError, ReviewBotError
from state.filters import Filters
from state.model import EVENT_GROUPS
from state.outbox import Outbox, SetAside
from state.store import Store, StoredEvent, Subscription

CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
CHANNEL_NAME = re.compile(r"^#[a-z0-9][a-z0-9._-]{0,79}$")
EXIT_INTERRUPTED = 130

log = logging.getLogger(__name__)


INTERRUPTED = "interrupted"


class ReviewBotGroup(click.Group):
    """Turns our errors into one ``Error:`` line; Ctrl-C into a short notice.

    The notice is the running command's own (set with ``_on_interrupt``), else
    "Interrupted.": only a poll can promise that every project written is complete.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ReviewBotError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            click.echo(str(ctx.meta.get(INTERRUPTED) or "Interrupted."), err=True)
            sys.exit(EXIT_INTERRUPTED)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            # The reader (``| head``) left: stop quietly, as other command-line tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except Exception as exc:
            log.debug("unexpected failure", exc_info=True)
            _fail(f"unexpected {type(exc).__name__}: {exc} "
                  "(run with --log-level debug for the details)")


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _on_interrupt(message: str) -> None:
    """What Ctrl-C during the running command says (it must be true for that command)."""
    click.get_current_context().meta[INTERRUPTED] = message


DB_GIVEN = "db-given"
DB_HELP = "SQLite file (default: $REVIEW_BOT_DB or ./review-bot.db)."
LOG_LEVELS = click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False)
LOG_HELP = ("How much to log on stderr (default WARNING: one line per problem; INFO adds "
            "retries and library warnings).")


@click.group(cls=ReviewBotGroup)
@click.option("--db", "db_path", metavar="PATH", help=DB_HELP)
@click.option("--log-level", default="WARNING", show_default=True, type=LOG_LEVELS,
              help=LOG_HELP)
@click.version_option(package_name="design-review-bot")
@click.pass_context
def cli(ctx: click.Context, db_path: str | None, log_level: str) -> None:
    """design-review-bot: Altium 365 design review, polled into SQLite and posted to Slack.

    Every command takes --db PATH and --log-level, before or after its name.

    \b
    Settings come from the environment or a .env file in the working folder (the
    environment wins); the README's Configuration table explains each one:
      Nexar  NEXAR_CLIENT_ID, NEXAR_CLIENT_SECRET, NEXAR_TOKEN, NEXAR_IDENTITY_URL,
             NEXAR_REDIRECT_URI, REVIEW_BOT_TOKEN_STORE, NEXAR_API_URL,
             NEXAR_WORKSPACE_URL
      Slack  SLACK_BOT_TOKEN, SLACK_APP_TOKEN, SLACK_SIGNING_SECRET, PORT,
             SLACK_API_URL, REVIEW_BOT_POST_INTERVAL, REVIEW_BOT_OPS_CHANNEL,
             REVIEW_BOT_ADMINS, REVIEW_BOT_PROJECTS
      Bot    REVIEW_BOT_DB, REVIEW_BOT_POLL_INTERVAL, REVIEW_BOT_TZ
    """
    _load_dotenv(Path(".env"))
    config = Config.from_env()
    if db_path:
        config = replace(config, db_path=db_path)
        ctx.meta[DB_GIVEN] = True
    logs.configure(log_level, secrets=config.secrets())
    ctx.obj = config


def _sub_db(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--db`` given after a command's name: the same as before it."""
    if value:
        ctx.obj = replace(ctx.find_object(Config) or Config.from_env(), db_path=value)
        ctx.meta[DB_GIVEN] = True
    return value


def _sub_log_level(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--log-level`` given after a command's name: the same as before it."""
    if value:
        config = ctx.find_object(Config)
        logs.configure(value, secrets=config.secrets() if config else [])
    return value


def _add_common_options(group: click.Group) -> None:
    """Give every command ``--db`` and ``--log-level``, so either place works."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            _add_common_options(command)
            continue
        command.params.extend([
            click.Option(["--db"], metavar="PATH", help=DB_HELP, expose_value=False,
                         callback=_sub_db, is_eager=True),
            click.Option(["--log-level"], type=LOG_LEVELS, help=LOG_HELP,
                         expose_value=False, callback=_sub_log_level, is_eager=True),
        ])


def _load_dotenv(path: Path) -> None:
    """Fill settings that the environment leaves unset or empty from a ``.env`` file."""
    if not path.is_file():
        return
    for key, value in dotenv_values(path).items():
        if value is not None and not os.environ.get(key):
            os.environ[key] = value


def _config() -> Config:
    config = click.get_current_context().obj
    assert isinstance(config, Config)
    return config


@contextmanager
def _store() -> Iterator[Store]:
    with Store.open(_config().db_path) as store:
        yield store


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
    again after an upgrade. One poller at a time per database: while another (a 'run', a
    second cron job) polls, it says which process and exits 0, as that one does the work.
    """
    _on_interrupt("Interrupted: every project written so far is complete; "
                  "the rest is picked up by the next poll.")
    config = _config()
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
        if once:
            if not report.ok or not delivered:
                sys.exit(1)
            return
        time.sleep(interval or config.poll_interval)


def _deliver_if_configured(config: Config) -> bool:
    """Deliver when Slack is configured; False while anything failed or is paused."""
    if not config.slack_bot_token:
        click.echo("Slack is not configured (SLACK_BOT_TOKEN): events are kept for delivery.")
        report = DeliveryReport()
        with _store() as store:
            report.note_paused(store.paused_subscriptions())
            report.note_set_aside(Outbox(store).set_aside_items())
        _print_pauses(report)
        _print_set_aside(report.set_aside)
        return report.ok
    report = service.deliver_once(config)
    _print_delivery(report)
    return report.ok


def _print_delivery(report: DeliveryReport) -> None:
    click.echo(f"Delivered {report.posted} Slack post(s), updated {report.updated} card(s); "
               f"{report.pending} event(s) waiting.")
    _print_pauses(report)
    _print_set_aside(report.set_aside)
    for channel, holder in sorted(report.busy.items()):
        click.echo(f"Skipped: {channel}: being delivered by {holder}; it goes out from there.")
    for channel, reason in sorted(report.failures.items()):
        click.echo(f"Failed: {channel}: {reason} (will retry)", err=True)


def _print_pauses(report: DeliveryReport) -> None:
    """One line per paused channel: why, since when, and what lifts it."""
    for channel, reason in sorted(report.paused.items()):
        since = report.paused_since.get(channel, "")
        when = f" since {since[:16].replace('T', ' ')} UTC" if since else ""
        click.echo(f"Paused: {channel}{when}: {reason}: {_pause_fix(reason, channel)}, then "
                   f"'review-bot resume {channel}' (its events are kept)", err=True)


def _print_set_aside(items: dict[str, list[SetAside]]) -> None:
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
    """Post every event the outbox owes to Slack, then exit.

    Exits non-zero while a channel is paused (this run or an earlier one) or Slack kept
    failing; nothing is dropped. A post that cannot be rendered, or that Slack refuses
    even as plain text, is set aside with its reason and reported (exit 0: everything
    else went out); 'review-bot resume' tries it again.
    """
    _on_interrupt("Interrupted: every post made so far is recorded; the rest goes out "
                  "with the next delivery.")
    report = service.deliver_once(_config())
    _print_delivery(report)
    if not report.ok:
        sys.exit(1)


@cli.command()
@click.argument("channel", required=False)
def resume(channel: str | None) -> None:
    """Lift the pause of CHANNEL's subscriptions and put back its posts set aside (all
    channels when omitted): kept events and set-aside posts go out with the next delivery.

    Run it after fixing the channel, or after an upgrade that fixes what a set-aside post
    met (see 'review-bot subscriptions'); a post that still fails is set aside again.
    """
    target = _channel(channel) if channel else None
    with _store() as store:
        count = store.resume(channel=target)
        held = Outbox(store).resume_set_aside(target)
    said = []
    if count:
        said.append(f"Resumed {count} subscription(s).")
    if held:
        said.append(f"Put back {held} set-aside post(s) to try again.")
    click.echo(" ".join(said) or "Nothing was paused or set aside.")


@cli.command()
def run() -> None:
    """Run the bot: Slack connection, polling every interval, delivery, until stopped.

    Socket Mode when SLACK_APP_TOKEN is set, else HTTP on $PORT at /slack/events
    (verifying SLACK_SIGNING_SECRET). Polls keep their interval while a delivery waits on
    Slack, and no Slack wait is longer than the poll interval. SIGTERM or Ctrl-C stops it
    within 10 seconds: between steps, or by ending a step's wait (its work is kept).
    """
    from bot.run import run_bot

    if not run_bot(_config(), echo=click.echo):
        # A step's thread is stuck in a request; nothing it did is lost (every write is
        # its own transaction, a post in flight is reconciled at the next start), and a
        # worker thread would otherwise hold the process open.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _print_report(report: PollReport) -> None:
    click.echo(f"Polled {report.projects} project(s): {report.events} new event(s), "
               f"{report.boms_read} BOM(s) read, {report.requests} request(s).")
    for name in report.unlisted:
        click.echo(f"Warning: {name} is no longer listed in its workspace "
                   "(deleted, or the token lost access).", err=True)
    for name, reason in sorted(report.failures.items()):
        click.echo(f"Failed: {name}: {reason}", err=True)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@click.option("--since", metavar="WHEN",
              help="Only events at or after WHEN: an ISO 8601 time or an age like 2h, 7d.")
@click.option("--project", metavar="NAME", help="Only this project's events.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many (the newest).")
def events(as_json: bool, since: str | None, project: str | None, limit: int | None) -> None:
    """Show the event log: what changed in design review, oldest first."""
    cutoff = _since(since) if since else None
    with _store() as store:
        project_id = store.find_project(project).id if project else None
        found = usecases.changes(store, since=cutoff, project_id=project_id)
    if limit is not None:
        found = found[-limit:]
    if as_json:
        for stored in found:
            click.echo(json.dumps(_event_json(stored), ensure_ascii=False))
        return
    if not found:
        click.echo("No events." if cutoff is None else f"No events since {cutoff}.")
        return
    rows = [(str(s.id), s.event.at[:16].replace("T", " "), s.event.project, s.event.kind,
             summary(s.event)) for s in found]
    _table(("ID", "AT (UTC)", "PROJECT", "KIND", "WHAT"), rows)


def _event_json(stored: StoredEvent) -> dict[str, Any]:
    return {"id": stored.id, **stored.event.to_dict(), "detected_at": stored.detected_at}


def _since(text: str) -> str:
    try:
        return usecases.since(text, datetime.now(UTC))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither an ISO 8601 time (2026-11-28T09:00:00Z) nor an age "
            "(30m, 2h, 7d, 1w)", param_hint="--since") from None


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _channel(value: str) -> str:
    channel = value.strip()
    if CHANNEL_ID.match(channel):
        return channel
    if CHANNEL_NAME.match(channel.lower()):
        return channel.lower()
    raise click.BadParameter(f"{value!r} is not a Slack channel: give an id like C0123ABCD "
                             "or a name like #hw-review", param_hint="CHANNEL")


def _groups(value: str) -> list[str]:
    groups = [g.strip().lower() for g in value.split(",") if g.strip()]
    bad = [g for g in groups if g not in EVENT_GROUPS]
    if bad or not groups:
        raise click.BadParameter(f"unknown event group {', '.join(bad) or '(none)'}: choose "
                                 f"from {','.join(EVENT_GROUPS)}", param_hint="--events")
    return groups


@cli.command()
@click.argument("project")
@click.argument("channel")
@click.option("--events", "groups", default=",".join(EVENT_GROUPS), show_default=True,
              help="Comma-separated event groups to post.")
@click.option("--include-doc", multiple=True, metavar="GLOB",
              help="Only threads on matching documents (e.g. '*.PcbDoc'); repeatable.")
@click.option("--exclude-doc", multiple=True, metavar="GLOB",
              help="No threads on matching documents; repeatable.")
@click.option("--include-designator", multiple=True, metavar="PREFIX",
              help="Only BOM lines with this designator prefix (e.g. U, J); repeatable.")
@click.option("--exclude-designator", multiple=True, metavar="PREFIX",
              help="No BOM lines with this designator prefix (e.g. TP); repeatable.")
def subscribe(project: str, channel: str, groups: str, include_doc: tuple[str, ...],
              exclude_doc: tuple[str, ...], include_designator: tuple[str, ...],
              exclude_designator: tuple[str, ...]) -> None:
    """Follow PROJECT (a name, any case) in CHANNEL (C0123ABCD or #name).

    The channel receives changes from now on, never history: a "now tracking" summary
    first, then each change as it is polled.
    """
    target, chosen = _channel(channel), _groups(groups)
    filters = Filters(include_documents=_values(include_doc),
                      exclude_documents=_values(exclude_doc),
                      include_designators=_prefixes(include_designator),
                      exclude_designators=_prefixes(exclude_designator))
    config = _config()
    unchecked = _check_channel(config, target)
    with _store() as store:
        found = _find_project(config, store, project)
        sub = usecases.subscribe(store, found.project, target, chosen, filters=filters,
                                 now=datetime.now(UTC))
    extra = f"; {sub.filters.describe()}" if sub.filters.describe() else ""
    click.echo(f"Subscribed {sub.channel} to {sub.project} ({', '.join(sub.groups)}{extra}). "
               "Changes from now on are posted there.")
    for note in (found.note, unchecked):
        if note:
            click.echo(f"Note: {note}")


def _check_channel(config: Config, channel: str) -> str | None:
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


def _values(values: tuple[str, ...]) -> tuple[str, ...]:
    found = tuple(v.strip() for raw in values for v in raw.split(",") if v.strip())
    bad = [v for v in found if "," in v or len(v) > 100]
    if bad:
        raise click.BadParameter(f"{bad[0]!r} is too long")
    return found


def _prefixes(values: tuple[str, ...]) -> tuple[str, ...]:
    found = _values(values)
    bad = [v for v in found if not v.isalpha()]
    if bad:
        raise click.BadParameter(f"{bad[0]!r} is not a designator prefix: use letters "
                                 "such as R, C, U, TP")
    return tuple(v.upper() for v in found)


def _find_project(config: Config, store: Store, name: str) -> usecases.Found:
    """A project by name, from Nexar's current list when the bot can sign in."""
    nexar = (lambda: service.nexar_client(config)) if config.can_sign_in() else None
    return usecases.find_project(store, name, nexar=nexar, not_signed_in=service.NOT_SIGNED_IN,
                                 now=datetime.now(UTC))


@cli.command()
@click.argument("project")
@click.argument("channel")
def unsubscribe(project: str, channel: str) -> None:
    """Stop following PROJECT in CHANNEL."""
    target = _channel(channel)

    def choose(subs: list[Subscription]) -> Subscription:
        wanted = project.strip().casefold()
        match = [s for s in subs if s.project.casefold() == wanted] or [
            s for s in subs if s.project.casefold().startswith(wanted)]
        if len(match) != 1:
            names = [s.project for s in subs]
            raise NotFoundError(
                f"{target} has no subscription to {project!r}." if not match
                else f"{project!r} matches several subscriptions of {target}.",
                suggestions=names[:5])
        return match[0]

    with _store() as store:
        gone = usecases.unsubscribe(store, {target}, choose)
    click.echo(f"Unsubscribed {target} from {gone.project}.")


@cli.command()
def subscriptions() -> None:
    """List every subscription, with its event groups and any pause, then the posts set
    aside in each channel (how many, and why)."""
    with _store() as store:
        following = usecases.subscriptions(store)
        held: dict[str, list[SetAside]] = {}
        for item in Outbox(store).set_aside_items():
            held.setdefault(item.channel, []).append(item)
    if not following and not held:
        click.echo("No subscriptions. Add one with: review-bot subscribe PROJECT CHANNEL")
        return
    rows = [_subscription_row(f) for f in following]
    if rows:
        _table(("PROJECT", "CHANNEL", "EVENTS", "STATE", "WAITING"), rows)
    for channel, items in sorted(held.items()):
        click.echo(f"Set aside in {channel}: {len(items)} post(s); "
                   f"'review-bot resume {channel}' tries them again:")
        for item in items:
            click.echo(f"  {item.kind} ({item.key}) since "
                       f"{item.set_aside_at[:16].replace('T', ' ')} UTC: {item.reason}")


def _subscription_row(following: usecases.Following) -> tuple[str, ...]:
    s = following.subscription
    return (s.project, s.channel, ",".join(s.groups) + (
            f" ({s.filters.describe()})" if s.filters.describe() else ""),
            f"paused: {s.paused_reason}" if s.paused_reason else "active",
            str(following.waiting))


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

    _on_interrupt("Interrupted: the demo stopped and its local stand-ins are shut down.")
    config = _config()
    if channel:
        config.require_slack()
        channel = _channel(channel)
        _check_channel(config, channel)
    explicit = bool(click.get_current_context().meta.get(DB_GIVEN))
    with tempfile.TemporaryDirectory(prefix="review-bot-demo-") as scratch:
        path = Path(config.db_path) if explicit else Path(scratch) / "demo.db"
        run_demo(path, click.echo, slack_token=config.slack_bot_token if channel else None,
                 slack_api_url=config.slack_api_url, channel=channel,
                 post_interval=config.post_interval)
    click.echo(f"The event log is in {path}." if explicit
               else "Pass --db PATH to keep the event log.")


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("channel")
@click.argument("schedule", nargs=-1, type=click.UNPROCESSED)
@click.option("--quiet", is_flag=True,
              help="Post nothing for a period with no activity (with a schedule).")
def digest(channel: str, schedule: tuple[str, ...], quiet: bool) -> None:
    """Show or set CHANNEL's scheduled design-review digest.

    \b
    review-bot digest '#hw-review'                      show the setting
    review-bot digest '#hw-review' daily 09:00 [TZ]     every day
    review-bot digest '#hw-review' weekdays 09:00 [TZ]  Monday to Friday
    review-bot digest '#hw-review' weekly mon 09:00 [TZ]
    review-bot digest '#hw-review' off | now            stop / post one now
    Add --quiet to skip periods with no activity. TZ defaults to $REVIEW_BOT_TZ (UTC).
    A running bot picks the change up within half a minute.
    """
    config = _config()
    target = _channel(channel)
    parsed = parse_schedule(schedule + (("--quiet",) if quiet else ()),
                            default_tz=config.digest_tz)
    now = datetime.now(UTC)
    unchecked = None
    if not isinstance(parsed, Now | Show | Off):
        unchecked = _check_channel(config, target)
    if isinstance(parsed, Now):
        run = service.digest_runner(config).run_now(target)
        click.echo(f"Posted the digest to {target}." if run else
                   "A digest was just posted; nothing new since.")
        return
    with _store() as store:
        if isinstance(parsed, Show):
            current = usecases.digest_setting(store, target)
            click.echo(f"{target}: {describe(current, now=now)}" if current else
                       f"{target} gets no digest.")
        elif isinstance(parsed, Off):
            click.echo(f"Digest turned off for {target}." if usecases.stop_digest(store, target)
                       else f"{target} had no digest.")
        else:
            usecases.set_digest(store, target, parsed, now=now)
            click.echo(f"{target} gets a digest {describe(parsed, now=now)}.")
            if unchecked:
                click.echo(f"Note: {unchecked}")


@cli.group()
def auth() -> None:
    """Sign in to Nexar once; the bot then keeps itself signed in.

    Needs NEXAR_CLIENT_ID and NEXAR_CLIENT_SECRET (a Nexar app with the Design scope).
    Tokens are kept in REVIEW_BOT_TOKEN_STORE: 'file:PATH' (default
    ~/.config/review-bot/nexar-tokens.json, readable by you only) or 'db'.
    """


@auth.command("login")
@click.option("--supply", is_flag=True, help="Also ask for supply.domain (part data).")
@click.option("--no-browser", is_flag=True, help="Only print the address to open.")
@click.option("--timeout", type=click.FloatRange(min=5), default=300, show_default=True,
              help="Seconds to wait for the browser to come back.")
def auth_login(supply: bool, no_browser: bool, timeout: float) -> None:
    """Sign in through the browser (authorization code with PKCE) and keep the tokens."""
    _on_interrupt("Interrupted: the sign-in was not finished and nothing was changed "
                  "(an earlier sign-in is kept).")
    config = _config()
    manager = TokenManager(settings=config.oauth(), store=config.tokens())
    scopes = DESIGN_SCOPES + (("supply.domain",) if supply else ())
    tokens = login(manager, scopes=scopes, echo=click.echo, open_browser=not no_browser,
                   timeout=timeout)
    lasting = "refreshes itself" if tokens.refresh_token else "lasts until it expires"
    click.echo(f"Signed in. The token is valid until {tokens.expires_at} and {lasting}; "
               f"kept in {config.tokens().describe()}.")


@auth.command("status")
def auth_status() -> None:
    """Who is signed in, to which workspaces, and until when."""
    config = _config()
    if config.nexar_token:
        click.echo("Using the fixed NEXAR_TOKEN (it is never refreshed).")
        claims = jwt_claims(config.nexar_token)
        if "exp" in claims:
            expiry = datetime.fromtimestamp(int(claims["exp"]), UTC)
            click.echo(f"It expires {stamp(expiry)}.")
    else:
        store = config.tokens()
        tokens = store.load()
        if tokens is None:
            raise NexarAuthError("not signed in: run 'review-bot auth login'")
        left = tokens.expires() - datetime.now(UTC)
        state = (f"valid for {_duration(left)}" if left.total_seconds() > 0
                 else "expired (it is refreshed at the next request)")
        click.echo(f"Access token until {tokens.expires_at} ({state}); refresh token: "
                   f"{'yes' if tokens.refresh_token else 'no, a daily sign-in is needed'}; "
                   f"kept in {store.describe()}.")
    with service.nexar_client(config) as client:
        me = client.me()
        workspaces = client.workspaces()
    who = f"{me.display} <{me.email}>" if me and me.email else (me.display if me else "?")
    click.echo(f"Signed in as {who}.")
    for w in workspaces:
        click.echo(f"  {w.name}  {w.url}  ({w.region})")


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


@auth.command("logout")
def auth_logout() -> None:
    """Forget the stored tokens."""
    store = _config().tokens()
    click.echo(f"Signed out; removed the tokens from {store.describe()}." if store.clear()
               else "Not signed in; nothing to remove.")


_add_common_options(cli)


def main(argv: list[str] | None = None, *, prog_name: str = "review-bot") -> None:
    """Console entry point."""
    cli.main(args=argv, prog_name=prog_name)


