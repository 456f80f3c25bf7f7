"""What each channel follows: ``subscribe``, ``unsubscribe``, ``subscriptions`` and ``digest``."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from bot import service, usecases
from bot.cadence import Now, Off, Show, describe, parse_schedule
from bot.cli.channels import check_channel, parse_channel
from bot.cli.group import cli, load_config, open_store, print_table
from bot.config import Config
from state.errors import NotFoundError
from state.filters import Filters
from state.model import EVENT_GROUPS
from state.outbox import Outbox, SetAside
from state.store import Store, Subscription


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
@click.option("--replies", is_flag=True,
              help="Replies in the channel's thread-card threads are written to Altium 365 "
                   "as comments, with the bot's Nexar sign-in. Subscribing again without "
                   "it turns it off.")
def subscribe(project: str, channel: str, groups: str, include_doc: tuple[str, ...],
              exclude_doc: tuple[str, ...], include_designator: tuple[str, ...],
              exclude_designator: tuple[str, ...], replies: bool) -> None:
    """Follow PROJECT (a name, any case) in CHANNEL (C0123ABCD or #name).

    The channel receives changes from now on, never history: a "now tracking" summary
    first, then each change as it is polled.
    """
    target, chosen = parse_channel(channel), _groups(groups)
    filters = Filters(include_documents=_values(include_doc),
                      exclude_documents=_values(exclude_doc),
                      include_designators=_prefixes(include_designator),
                      exclude_designators=_prefixes(exclude_designator))
    config = load_config()
    unchecked = check_channel(config, target)
    with open_store() as store:
        found = _find_project(config, store, project)
        replied = usecases.sends_replies(store, found.project, target)
        sub = usecases.subscribe(store, found.project, target, chosen, filters=filters,
                                 now=datetime.now(UTC), replies=replies)
    extra = f"; {sub.filters.describe()}" if sub.filters.describe() else ""
    click.echo(f"Subscribed {sub.channel} to {sub.project} ({', '.join(sub.groups)}{extra}). "
               "Changes from now on are posted there.")
    if sub.replies:
        click.echo("Replies in its thread cards' Slack threads are written to Altium 365 as "
                   "comments, under each person's Slack name.")
    elif replied:
        click.echo("Replies there no longer go to Altium 365 (add --replies to keep them).")
    no_sign_in = ("replies need the Nexar sign-in too: none is written to Altium 365 until "
                  "the bot has one" if sub.replies and not config.can_sign_in() else None)
    for note in (found.note, unchecked, no_sign_in):
        if note:
            click.echo(f"Note: {note}")


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
    target = parse_channel(channel)

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

    with open_store() as store:
        gone = usecases.unsubscribe(store, {target}, choose)
    click.echo(f"Unsubscribed {target} from {gone.project}.")


@cli.command()
def subscriptions() -> None:
    """List every subscription, with its event groups, whether replies go to Altium 365,
    and any pause; then the posts set aside in each channel (how many, and why)."""
    with open_store() as store:
        following = usecases.subscriptions(store)
        held: dict[str, list[SetAside]] = {}
        for item in Outbox(store).set_aside_items():
            held.setdefault(item.channel, []).append(item)
    if not following and not held:
        click.echo("No subscriptions. Add one with: review-bot subscribe PROJECT CHANNEL")
        return
    rows = [_subscription_row(f) for f in following]
    if rows:
        print_table(("PROJECT", "CHANNEL", "EVENTS", "REPLIES", "STATE", "WAITING"), rows)
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
            "to Altium" if s.replies else "-",
            f"paused: {s.paused_reason}" if s.paused_reason else "active",
            str(following.waiting))


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
    config = load_config()
    target = parse_channel(channel)
    parsed = parse_schedule(schedule + (("--quiet",) if quiet else ()),
                            default_tz=config.digest_tz)
    now = datetime.now(UTC)
    unchecked = None
    if not isinstance(parsed, Now | Show | Off):
        unchecked = check_channel(config, target)
    if isinstance(parsed, Now):
        run = service.digest_runner(config).run_now(target)
        click.echo(f"Posted the digest to {target}." if run else
                   "A digest was just posted; nothing new since.")
        return
    with open_store() as store:
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
