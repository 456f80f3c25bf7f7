"""Sending digests: each channel's digest once a period, through restarts and concurrent runs.

``DigestRunner`` claims a period before building it and records it in the ledger after
(``state.digests``), so restarts, a second scheduler and re-runs never send a period twice;
a period missed while the bot was down is sent once on ``catch_up`` when its fire time is
within the grace period, and only the latest missed one. ``now`` covers the time since the
channel's last digest, or the last 24 hours. The period's claim and the post's are the
claims every delivery takes (``state.claims``): the digest is a keyed post made under its
channel's claim, so it never races a delivery in that channel. A channel another process
is delivering is ``BusyError``: the period is given back and ``catch_up`` (after each
delivery of ``run``) sends it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from bot.cadence import describe, last_fire, period_of
from bot.slack.message import Message
from state.clock import Clock, parse_stamp, stamp, utc_now
from state.digest_contents import Digest, build_digest
from state.digests import LEASE, ChannelDigest, Claim, Digests
from state.errors import BusyError, ReviewBotError, SetAsideError
from state.store import Store
from state.supply import Thresholds

log = logging.getLogger(__name__)

GRACE: Final = timedelta(hours=1)
NOW_LOOKBACK: Final = timedelta(hours=24)
JOB_PREFIX: Final = "digest:"
"""The start of a digest's ledger key (and of its channel's cron job id)."""


Post = Callable[[str, str, Message], str]
"""(channel, key, message) -> ts: an exactly-once keyed post (``Deliverer.post_once``)."""

Render = Callable[[Digest], Message]


@dataclass(frozen=True)
class DigestRun:
    """A period this run sent: ``posted`` with its ``ts``, or ``quiet`` (nothing to say)."""

    channel: str
    key: str
    outcome: Literal["posted", "quiet"]
    ts: str | None
    digest: Digest


class DigestRunner:
    """Sends each channel's digest once per period, through restarts and concurrent runs."""

    def __init__(self, *, store: Store | Callable[[], Store], post: Post, render: Render,
                 clock: Clock = utc_now, grace: timedelta = GRACE, lease: timedelta = LEASE,
                 lookback: timedelta = NOW_LOOKBACK,
                 supply_thresholds: Thresholds | None = None) -> None:
        self._store = store
        self.supply_thresholds = supply_thresholds
        self.post = post
        self.render = render
        self.clock = clock
        self.grace = grace
        self.lease = lease
        self.lookback = lookback

    @contextmanager
    def _open(self) -> Iterator[Store]:
        """The given store, or a fresh one from the factory (closed after), per unit of work."""
        if isinstance(self._store, Store):
            yield self._store
            return
        store = self._store()
        try:
            yield store
        finally:
            store.close()

    def run(self, channel: str, fire_time: datetime) -> DigestRun | None:
        """Send the scheduled digest whose period ends at ``fire_time``.

        None when the channel has no digest, or the period is posted or claimed by a live run;
        a ``ValueError`` when ``fire_time`` is not one of the channel's fire times.
        """
        with self._open() as store:
            current = Digests(store).get(channel)
            if current is None:
                return None
            if last_fire(current.setting, fire_time) != fire_time.astimezone(UTC):
                raise ValueError(f"{fire_time.isoformat()} is not a fire time of {channel}'s "
                                 f"digest ({describe(current.setting)})")
            return self._scheduled(store, current, fire_time)

    def run_due(self, channel: str) -> DigestRun | None:
        """The cron job: send the channel's latest due period, if not sent yet.

        Failures are logged, not raised: the claim is released, so ``catch_up`` within the
        grace period, or the next fire, tries again.
        """
        with self._open() as store:
            current = Digests(store).get(channel)
            fire = self._due(current, self.clock()) if current is not None else None
            if current is None or fire is None:
                return None
            try:
                return self._scheduled(store, current, fire)
            except ReviewBotError as exc:
                _failed(channel, exc)
                return None

    def catch_up(self, now: datetime | None = None) -> list[DigestRun]:
        """For each channel, send its latest fire at or before ``now`` when that is within
        the grace period and not sent yet: one digest, however many periods were missed."""
        moment = now or self.clock()
        sent: list[DigestRun] = []
        with self._open() as store:
            for current in Digests(store).all():
                fire = self._due(current, moment)
                if fire is None:
                    continue
                try:
                    done = self._scheduled(store, current, fire)
                except ReviewBotError as exc:
                    _failed(current.channel, exc)
                    continue
                if done is not None:
                    sent.append(done)
        return sent

    def run_now(self, channel: str) -> DigestRun | None:
        """A digest right now, of the time since the channel's last digest (or the last 24 h).

        Always posts, even for a quiet period; None only if the same moment was already sent.
        """
        end = self.clock().astimezone(UTC)
        with self._open() as store:
            digests = Digests(store)
            last = digests.last_posted(channel)
            start = end - self.lookback
            if last is not None and last.period_end:
                start = min(_parse(last.period_end), end)
            current = digests.get(channel)
            tz = current.setting.tz if current is not None else "UTC"
            return self._send(store, channel, f"{JOB_PREFIX}now:{stamp(end)}", start, end,
                              kind="now", tz=tz, quiet=False)

    def _due(self, current: ChannelDigest, now: datetime) -> datetime | None:
        fire = last_fire(current.setting, now)
        if fire is None or now - fire > self.grace or fire < _parse(current.updated_at):
            return None
        return fire

    def _scheduled(self, store: Store, current: ChannelDigest,
                   fire_time: datetime) -> DigestRun | None:
        start, end = period_of(current.setting, fire_time)
        return self._send(store, current.channel, f"{JOB_PREFIX}{stamp(start)}", start, end,
                          kind=current.setting.kind, tz=current.setting.tz,
                          quiet=current.setting.quiet)

    def _send(self, store: Store, channel: str, key: str, start: datetime, end: datetime, *,
              kind: str, tz: str, quiet: bool) -> DigestRun | None:
        digests = Digests(store)
        claim = digests.claim(channel, key, now=self.clock(), start=start, end=end,
                              lease=self.lease)
        if claim is None:
            log.debug("digest %s for %s is already sent or being sent", key, channel)
            return None
        if claim.took_over:
            log.warning("digest %s for %s: taking over a run that never finished",
                        key, channel)
        try:
            digest = build_digest(store, channel, start, end, kind=kind, tz=tz,
                                  thresholds=self.supply_thresholds)
            if digest.empty and quiet:
                digests.mark_posted(claim, ts=None, now=self.clock())
                return DigestRun(channel=channel, key=key, outcome="quiet", ts=None,
                                 digest=digest)
            ts = self.post(channel, key, self.render(digest))
        except BaseException:
            _release(digests, claim)
            raise
        digests.mark_posted(claim, ts=ts, now=self.clock())
        log.info("digest %s posted to %s", key, channel)
        return DigestRun(channel=channel, key=key, outcome="posted", ts=ts, digest=digest)


def _failed(channel: str, exc: ReviewBotError) -> None:
    """A digest that failed is an error; one set aside was reported once when it was set
    aside (and the operators told), so meeting it again is only worth an info line, and
    one whose channel another process is delivering is sent by a later ``catch_up``."""
    if isinstance(exc, BusyError):
        log.info("digest for %s waits: %s", channel, exc)
        return
    (log.info if isinstance(exc, SetAsideError) else log.error)(
        "digest for %s failed: %s", channel, exc)


def _release(digests: Digests, claim: Claim) -> None:
    try:
        digests.release(claim)
    except ReviewBotError as exc:
        log.warning("could not release digest claim %s: %s", claim.period, exc)


def _parse(text: str) -> datetime:
    moment = parse_stamp(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
