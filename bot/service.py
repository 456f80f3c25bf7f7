"""Wiring: the poller, delivery, webhooks, digests and the run workers built from the
configuration.

The one place that knows which concrete pieces go together; the CLI calls it, tests call
the pieces directly with their own servers and clocks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlsplit

from bot.config import Config
from bot.digests import DigestRunner
from bot.errors import SlackError, render_failure
from bot.replies import ReplyWriter
from bot.review.context import SupplyLookup
from bot.slack.cards import Cards
from bot.slack.client import SlackClient
from bot.slack.delivery import Deliverer, DeliveryReport
from bot.slack.digest_layout import render_digest
from bot.slack.message import Message, Unrendered
from bot.slack.mrkdwn import escape
from bot.webhooks.client import new_client
from bot.webhooks.sender import WebhookReport, WebhookSender
from bot.workers import Schedule, schedule_digests
from jobs.auth import RateLimit, TokenManager
from jobs.errors import NexarAuthError
from jobs.nexar import NexarClient, TokenSource
from jobs.poll import LeasePolicy, Poller, PollReport
from jobs.supply import SupplyAccess, supply_access
from jobs.supply_lookup import LAST_FAILURE, LookupReport, look_up_new_parts
from state.clock import Clock, stamp, utc_now
from state.digest_contents import Digest
from state.errors import BusyError, ConfigError, ReviewBotError, SetAsideError, StoppedError
from state.outbox import SetAside
from state.store import Store
from state.supply import PartKey, Supply, SupplyFacts, new_parts
from state.webhooks import Attempt, Endpoint, Webhooks

log = logging.getLogger(__name__)

SIGNIN_NOTICE = "signin-notice"
SLACK_TIMEOUT = 30.0
"""The longest one Slack request may take (less when the poll interval is shorter)."""
NOTICE_ITEMS = 10
SUPPLY_TOKEN_LIMIT = RateLimit()
"""The identity server's limits on this process's supply token requests."""


NOT_SIGNED_IN = ("not signed in to Nexar: run 'review-bot auth login' (with NEXAR_CLIENT_ID "
                 "and NEXAR_CLIENT_SECRET set), or set NEXAR_TOKEN")


def token_source(config: Config) -> str | TokenManager:
    """``NEXAR_TOKEN`` as given, else the signed-in tokens, refreshed as they age."""
    if config.nexar_token:
        return config.nexar_token
    if not (config.nexar_client_id and config.nexar_client_secret):
        raise ConfigError(NOT_SIGNED_IN)
    return TokenManager(settings=config.oauth(), store=config.tokens())


def signed_in(config: Config) -> tuple[str | TokenManager, str]:
    """The token source a long-running bot shares, checked now, and how it signs in.

    Fails at once (one clear line) when there is no sign-in at all, instead of at the
    first poll.
    """
    source = token_source(config)
    if isinstance(source, str):
        return source, "Nexar: the fixed NEXAR_TOKEN (never refreshed)"
    tokens = source.current()
    return source, (f"Nexar: signed in (kept in {source.store.describe()}; the access token, "
                    f"valid until {tokens.expires_at}, is refreshed before it expires)")


def supply(config: Config, tokens: str | TokenManager | None = None) -> SupplyAccess:
    """Whether supply checks are on, why, and with which token; ``tokens`` is the bot's
    sign-in when it has one already. Never raises: without access they are off."""
    if tokens is None:
        try:
            tokens = token_source(config)
        except ReviewBotError:
            tokens = None
    app = config.oauth() if config.nexar_client_id and config.nexar_client_secret else None
    return supply_access(enabled=config.supply, signed_in=tokens, oauth=app,
                         db_path=config.db_path, api_url=config.nexar_api_url,
                         limit=SUPPLY_TOKEN_LIMIT)


def look_up_supply(config: Config, *, tokens: str | TokenManager | None = None,
                   clock: Clock = utc_now) -> LookupReport | None:
    """Look up the new parts of the events since the last lookup, in one supply request;
    None when supply checks are off (then nothing is asked)."""
    access = supply(config, tokens)
    with Store.open(config.db_path) as store:
        Supply(store).note_state(access.on, access.why)
        if not access.on:
            return None
        with access.client() as client:
            return look_up_new_parts(
                store, lambda keys: client.supply_match(keys, at=stamp(clock())), clock=clock)


def supply_lookup(config: Config, tokens: str | TokenManager | None = None
                  ) -> tuple[SupplyLookup | None, str]:
    """``/review risk``'s way to ask the supply data (one request per call, a part whose
    match failed left out), or None and why supply data is off."""
    access = supply(config, tokens)
    if not access.on:
        return None, access.why

    def look_up(keys: list[PartKey]) -> dict[PartKey, SupplyFacts]:
        with access.client() as client:
            return dict(client.supply_match(keys, at=stamp(utc_now())))

    return look_up, ""


def supply_note(store: Store) -> Callable[[list[PartKey]], str | None]:
    """What a BOM message says of new parts without supply facts: that they follow (the
    lookup after this poll has not run yet), that none could be had, or nothing while
    supply checks are off."""
    def note(missing: list[PartKey]) -> str | None:
        state = Supply(store).state()
        if state is None or not state[0]:
            return None
        pending = {k.id for k in new_parts(
            s.event for s in store.events(after_id=Supply(store).mark()))}
        if any(k.id in pending for k in missing):
            return "Supply data follows in a moment."
        failure = store.get_meta(LAST_FAILURE)
        return ("No supply data could be had for some new parts"
                + (f" ({failure})." if failure else "."))

    return note


def nexar_client(config: Config, tokens: str | TokenSource | None = None) -> NexarClient:
    """A client for the configured Nexar; ``tokens`` shares one sign-in between clients."""
    return NexarClient(token=tokens if tokens is not None else token_source(config),
                       api_url=config.nexar_api_url, workspace_url=config.nexar_workspace_url)


def reply_writer(config: Config, tokens: str | TokenSource | None = None) -> ReplyWriter:
    """The writer of replies from Slack to Altium 365, with the bot's Nexar sign-in."""
    return ReplyWriter(db_path=config.db_path, nexar=lambda: nexar_client(config, tokens),
                       slack=slack_client(config))


def slack_client(config: Config) -> SlackClient:
    """A Slack client whose requests never wait longer than the poll interval."""
    return SlackClient(token=config.require_slack(), api_url=config.slack_api_url,
                       timeout=max(1.0, min(SLACK_TIMEOUT, config.poll_interval)))


def stoppable_sleep(stop: threading.Event) -> Callable[[float], None]:
    """A sleep that ends at once, raising ``StoppedError``, when ``stop`` is set."""
    def sleep(seconds: float) -> None:
        if stop.wait(max(0.0, seconds)):
            raise StoppedError("the bot is stopping")

    return sleep


def set_aside_notice(items: Sequence[SetAside]) -> Message:
    """The ops channel's one message about posts just set aside."""
    lines = [f"• {escape(i.channel, 100, flat=True)}: {escape(i.kind, 100, flat=True)} "
             f"`{escape(i.key, 100, flat=True)}`: {escape(i.reason, 300, flat=True)}"
             for i in items[:NOTICE_ITEMS]]
    if len(items) > NOTICE_ITEMS:
        lines.append(f"• and {len(items) - NOTICE_ITEMS} more")
    text = (f":warning: design-review-bot set aside {len(items)} Slack post(s) it could not "
            "send; everything else keeps going out. They are kept: see 'review-bot "
            "subscriptions', and after an upgrade run 'review-bot resume' to try them "
            "again.\n" + "\n".join(lines))
    return Message(text=f"design-review-bot set aside {len(items)} Slack post(s)",
                   blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}])


def poll_once(config: Config, *, clock: Clock = utc_now,
              tokens: str | TokenSource | None = None) -> PollReport:
    """One poll into the configured database.

    When the bot cannot sign in, the operator channel hears it once (not every poll),
    and again only after a poll has succeeded in between. One poller at a time per
    database: while another holds the lease this does nothing, and the report's
    ``held_by`` says who (heartbeats follow the poll interval, see ``LeasePolicy``).
    """
    with Store.open(config.db_path) as store:
        try:
            with nexar_client(config, tokens) as client:
                report = Poller(client=client, store=store, clock=clock,
                                lease=LeasePolicy.for_interval(config.poll_interval)
                                ).poll_once()
        except (NexarAuthError, ConfigError) as exc:
            _tell_operators(config, store, str(exc))
            raise
        if report.held_by is None:
            store.set_meta(SIGNIN_NOTICE, None)
        return report


def _tell_operators(config: Config, store: Store, problem: str) -> None:
    if not (config.ops_channel and config.slack_bot_token) or store.get_meta(SIGNIN_NOTICE):
        return
    text = (f":warning: design-review-bot cannot sign in to Nexar, so polling has stopped: "
            f"{escape(problem)}")
    try:
        slack_client(config).post(config.ops_channel, text=text, blocks=[], key=SIGNIN_NOTICE)
    except SlackError as exc:
        log.error("could not tell %s that sign-in is needed: %s", config.ops_channel, exc)
        return
    store.set_meta(SIGNIN_NOTICE, stamp(utc_now()))


def deliverer(config: Config, store: Store, *, clock: Clock = utc_now,
              sleep: Callable[[float], None] = time.sleep) -> Deliverer:
    """Delivery as configured: no Slack wait longer than the poll interval, and the ops
    channel told once about posts set aside."""
    return Deliverer(store=store, slack=slack_client(config), renderer=Cards(), clock=clock,
                     sleep=sleep, min_interval=config.post_interval,
                     max_wait=config.poll_interval, ops_channel=config.ops_channel,
                     ops_notice=set_aside_notice, supply_thresholds=config.thresholds(),
                     supply_note=supply_note(store))


def deliver_once(config: Config, *, clock: Clock = utc_now,
                 sleep: Callable[[float], None] = time.sleep) -> DeliveryReport:
    """Post everything the outbox owes to Slack, then tell the ops channel about webhook
    endpoints disabled since it was last told."""
    with Store.open(config.db_path) as store:
        slack = deliverer(config, store, clock=clock, sleep=sleep)
        report = slack.deliver()
        if not report.stopped:
            tell_disabled_webhooks(config, store, slack)
        return report


# -- webhooks --------------------------------------------------------------------------------

@contextmanager
def webhook_sender(config: Config, *, clock: Clock = utc_now,
                   stop: threading.Event | None = None) -> Iterator[WebhookSender]:
    """The webhook sender for the configured database, on an HTTP client of its own (no
    redirect followed) that is closed when the block ends. Setting ``stop`` ends a run
    between two attempts; one attempt in flight ends within its 15 s deadline."""
    with new_client() as http:
        yield WebhookSender(db_path=config.db_path, http=http, clock=clock, stop=stop,
                            supply_thresholds=config.thresholds())


def has_webhooks(config: Config) -> bool:
    """Whether any webhook endpoint exists (without one, sending is skipped altogether)."""
    with Store.open(config.db_path) as store:
        return bool(Webhooks(store).endpoints())


def send_webhooks(config: Config, *, clock: Clock = utc_now,
                  stop: threading.Event | None = None) -> WebhookReport | None:
    """Plan new events and send every endpoint what it is owed, endpoints in parallel;
    None when there is no endpoint at all (then nothing is planned or sent)."""
    if not has_webhooks(config):
        return None
    with webhook_sender(config, clock=clock, stop=stop) as sender:
        return sender.deliver()


def ping_webhook(config: Config, endpoint_id: str, *, clock: Clock = utc_now) -> Attempt:
    """Owe ``endpoint_id`` a ``ping`` and send it now, whatever its back-off or state."""
    with Store.open(config.db_path) as store:
        ping = Webhooks(store).ping(endpoint_id, at=stamp(clock()))
    with webhook_sender(config, clock=clock) as sender:
        return sender.send(ping.id)


def resend_webhook(config: Config, message_id: str, *, clock: Clock = utc_now) -> Attempt:
    """Put a message back in its endpoint's queue (same ``webhook-id``) and send it now;
    when this attempt fails too, the runs keep trying it."""
    with Store.open(config.db_path) as store:
        Webhooks(store).resend(message_id, at=stamp(clock()))
    with webhook_sender(config, clock=clock) as sender:
        return sender.send(message_id)


def disabled_webhook_notice(endpoint: Endpoint) -> Message:
    """The ops channel's one message about a disabled endpoint: its id, its URL's host, why,
    and the command that resumes it; never its secret, nor the rest of its URL."""
    host = urlsplit(endpoint.url).hostname or "?"
    reason = endpoint.disabled_reason or "no reason recorded"
    text = (f":warning: design-review-bot stopped sending to webhook endpoint "
            f"`{escape(endpoint.id, 100, flat=True)}` ({escape(host, 200, flat=True)}): "
            f"{escape(reason, 500, flat=True)}. Its events are kept; run 'review-bot webhooks "
            f"enable {escape(endpoint.id, 100, flat=True)}' once it is fixed to resume it and "
            "send what waited.")
    return Message(text=f"design-review-bot disabled webhook endpoint {endpoint.id}",
                   blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}])


def tell_disabled_webhooks(config: Config, store: Store, slack: Deliverer) -> int:
    """Tell the ops channel, once each, about endpoints disabled since it was last told (a
    keyed post, so a crash never repeats it); returns how many were told. Without an ops
    channel the runs' report lines are all; when Slack fails, a later delivery tells them."""
    if not config.ops_channel:
        return 0
    webhooks = Webhooks(store)
    told = 0
    for endpoint in webhooks.unnotified():
        key = f"webhook-disabled:{endpoint.id}:{endpoint.disabled_at}"
        try:
            slack.post_once(config.ops_channel, key, disabled_webhook_notice(endpoint),
                            kind="notice")
        except SetAsideError as exc:
            log.warning("could not tell %s that webhook endpoint %s is disabled: %s",
                        config.ops_channel, endpoint.id, exc)
        except (SlackError, BusyError) as exc:
            log.warning("could not tell %s that webhook endpoint %s is disabled: %s; trying "
                        "again next delivery", config.ops_channel, endpoint.id, exc)
            break
        webhooks.mark_notified([endpoint.id], at=stamp(utc_now()))
        told += 1
    return told


def tell_disabled_webhooks_now(config: Config) -> int:
    """``tell_disabled_webhooks`` on its own (after a webhook run), when Slack is configured."""
    if not (config.slack_bot_token and config.ops_channel):
        return 0
    with Store.open(config.db_path) as store:
        return tell_disabled_webhooks(config, store, deliverer(config, store))


def post_once(config: Config, channel: str, key: str, message: Message, *,
              sleep: Callable[[float], None] = time.sleep) -> str:
    """One keyed post through the delivery path (exactly once per channel and key)."""
    with Store.open(config.db_path) as store:
        return deliverer(config, store, sleep=sleep).post_once(channel, key, message)


def explained(render: Callable[[Digest], Message]) -> Callable[[Digest], Message]:
    """``render``, answering an ``Unrendered`` message that says why when it fails (the
    post then sets the digest aside instead of failing on every run)."""
    def render_or_explain(digest: Digest) -> Message:
        try:
            return render(digest)
        except ReviewBotError:
            raise
        except Exception as exc:
            log.debug("rendering the digest failed", exc_info=True)
            return Unrendered(text="", blocks=[], reason=render_failure(exc))

    return render_or_explain


def digest_runner(config: Config, *, clock: Clock = utc_now,
                  sleep: Callable[[float], None] = time.sleep) -> DigestRunner:
    def post(channel: str, key: str, message: Message) -> str:
        return post_once(config, channel, key, message, sleep=sleep)

    return DigestRunner(store=lambda: Store.open(config.db_path), post=post,
                        render=explained(render_digest), clock=clock,
                        supply_thresholds=config.thresholds())


def schedule(config: Config, runner: DigestRunner | None = None, *,
             tokens: str | TokenSource | None = None,
             health: Callable[[str], None] | None = None,
             stopping: threading.Event | None = None,
             replies: ReplyWriter | None = None,
             ) -> tuple[Schedule, Callable[[], None]]:
    """Poll every interval, deliver after each poll and on a retry timer, send webhooks
    likewise (on a shorter timer, for their first retry), and send digests.

    Polls, Slack posting and webhooks run on a worker each, so neither posting nor a slow
    webhook endpoint delays a poll, and no endpoint delays Slack; every wait of delivery
    ends when ``stopping`` is set (the schedule sets it on stop), and each endpoint's
    sending ends after its attempt in flight. One sender lives as long as the run: each
    webhook step starts the endpoints with work that are not still being sent, so a hanging
    endpoint never holds back the others. A webhook step that disables an endpoint asks
    for a delivery, which tells the ops channel.

    Returns the schedule and a function that rebuilds the digest jobs from the database
    (at start, and on each delivery tick, which picks up changes made from Slack or the
    CLI) and sends a digest missed while the bot was down. ``health`` hears one line per
    poll and per delivery after a poll; a delivery on the retry timer only when its line
    differs from the last one (Slack down for an hour is not 120 identical lines); webhook
    runs the same way, and nothing at all while there is no endpoint. ``replies`` (when
    given) retries the replies from Slack with work due, on their own worker; its line is
    said only when a pass did something. After each poll, on the poll worker once delivery
    is asked for, the poll's new parts are looked up in the supply data (when supply checks
    are on), and a delivery is asked for again to add the facts to messages already posted.
    """
    say = health or (lambda line: None)
    last_delivery: list[str] = []
    last_webhooks: list[str] = []
    after_poll = [False]
    webhooks_after_poll = [False]
    stop = stopping or threading.Event()
    sleep = stoppable_sleep(stop)
    runner = runner or digest_runner(config, sleep=sleep)

    def digest_due(channel: str) -> None:
        plan.step(f"digest for {channel}", lambda: runner.run_due(channel))

    def sync_digests() -> None:
        with Store.open(config.db_path) as store:
            schedule_digests(plan.scheduler, store, digest_due)
        runner.catch_up()

    def deliver() -> None:
        # Set by a poll since the last delivery: say this delivery's line whatever it is.
        always, after_poll[0] = after_poll[0], False
        report = deliver_once(config, sleep=sleep)
        if report.stopped:
            return
        line = report.health_line()
        if always or last_delivery[-1:] != [line]:
            say(line)
            last_delivery[:] = [line]
        sync_digests()

    senders: list[WebhookSender] = []
    """The run's one webhook sender, made at the first step that finds an endpoint."""

    def webhooks() -> None:
        always, webhooks_after_poll[0] = webhooks_after_poll[0], False
        if not senders:
            if not has_webhooks(config):
                return
            senders.append(WebhookSender(db_path=config.db_path, http=new_client(),
                                         supply_thresholds=config.thresholds(),
                                         stop=stop))
        report = senders[0].tick()
        if report.stopped:
            return
        if report.disabled:
            plan.ask_delivery()
        line = report.health_line()
        if always or last_webhooks[-1:] != [line]:
            say(line)
            last_webhooks[:] = [line]

    def poll() -> None:
        report = poll_once(config, tokens=tokens)
        after_poll[0] = webhooks_after_poll[0] = True
        say(report.health_line())

    def finish_webhooks(timeout: float | None) -> bool:
        if not senders or not senders[0].close(timeout):
            return not senders
        senders[0].http.close()
        return True

    def look_up() -> None:
        signed = tokens if isinstance(tokens, str | TokenManager) else None
        report = look_up_supply(config, tokens=signed)
        if report is None:
            return
        if report.asked or report.failed:
            say(report.health_line())
        if report.refreshed:
            plan.ask_delivery()

    def replies_due() -> None:
        if replies is None:
            return
        report = replies.drain()
        if report.written or report.updated or report.refused:
            say(report.health_line())

    plan = Schedule(poll=poll, deliver=deliver, webhooks=webhooks,
                    finish_webhooks=finish_webhooks, interval=config.poll_interval,
                    replies=replies_due if replies is not None else None,
                    after_poll=look_up, stopping=stop)
    return plan, sync_digests
