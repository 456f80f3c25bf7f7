"""Scheduled digests in SQLite: each channel's schedule, and the ledger of sent periods.

A digest period is claimed before anything is built, with the same claims as every other
piece of posting work (``state.claims``: owner, lease, takeover), and recorded in the
ledger once Slack took it. A claim that never reached the ledger within the lease (its run
crashed) may be taken over by a later run, sooner when its process is gone; a live claim
means another run is at work, so a second scheduler, a restart or a re-run never sends a
period twice. The post itself goes out under the channel's claim, as every post does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from state.claims import Claims, Owner, period_claim
from state.clock import stamp
from state.store import Store

DigestKind = Literal["daily", "weekly", "weekdays"]

DIGEST_KINDS: Final[tuple[DigestKind, ...]] = ("daily", "weekly", "weekdays")
DAYS: Final[tuple[str, ...]] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LEASE: Final = timedelta(minutes=10)


@dataclass(frozen=True)
class DigestSetting:
    """When a channel gets its digest: ``time`` is "HH:MM" in ``tz`` (an IANA name);
    ``day`` (mon..sun) only for weekly; ``quiet`` skips periods with no activity."""

    kind: DigestKind
    time: str
    tz: str
    day: str | None = None
    quiet: bool = False

    def __post_init__(self) -> None:
        if self.kind not in DIGEST_KINDS:
            raise ValueError(f"unknown digest kind {self.kind!r}")
        if (self.kind == "weekly") != (self.day is not None):
            raise ValueError("a weekly digest needs a day, and only a weekly one")
        if self.day is not None and self.day not in DAYS:
            raise ValueError(f"unknown day {self.day!r}")

    @property
    def hour(self) -> int:
        return int(self.time.split(":")[0])

    @property
    def minute(self) -> int:
        return int(self.time.split(":")[1])


@dataclass(frozen=True)
class ChannelDigest:
    """A channel's stored digest setting."""

    channel: str
    setting: DigestSetting
    updated_at: str


@dataclass(frozen=True)
class LedgerEntry:
    """One period of one channel that went out: ``posted`` (``ts`` None when nothing was
    posted because the channel chose quiet); ``claimed_*`` says which run sent it."""

    channel: str
    period: str
    state: str
    period_start: str | None
    period_end: str | None
    claimed_at: str
    claimed_by: str | None
    ts: str | None
    posted_at: str | None


@dataclass(frozen=True)
class Claim:
    """The right to send one period; ``token`` (its owner id) tells this claim from a later
    takeover."""

    channel: str
    period: str
    token: str
    claimed_at: str
    took_over: bool = False
    period_start: str | None = None
    period_end: str | None = None


class Digests:
    """Digest settings and ledger in the same SQLite file as everything else."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    # -- settings ----------------------------------------------------------------------------

    def get(self, channel: str) -> ChannelDigest | None:
        rows = self.store.rows("select * from digest_settings where channel = ?", [channel])
        return _channel_digest(rows[0]) if rows else None

    def set(self, channel: str, setting: DigestSetting, *, at: datetime) -> ChannelDigest:
        """Set (or replace) a channel's schedule. Setting the same schedule again keeps its
        ``updated_at``, which decides whether a missed fire predates the setting."""
        with self.store.transaction():
            current = self.get(channel)
            if current is not None and current.setting == setting:
                return current
            row = {"channel": channel, "kind": setting.kind, "day": setting.day,
                   "time": setting.time, "tz": setting.tz, "quiet": int(setting.quiet),
                   "updated_at": stamp(at)}
            self.db.table("digest_settings").upsert(row, pk="channel")
        return _channel_digest(row)

    def delete(self, channel: str) -> bool:
        """Turn a channel's digests off; True when it had them. The ledger is kept."""
        with self.store.transaction():
            cursor = self.db.execute("delete from digest_settings where channel = ?", [channel])
        return bool(cursor.rowcount)

    def all(self) -> list[ChannelDigest]:
        rows = self.store.rows("select * from digest_settings order by channel")
        return [_channel_digest(r) for r in rows]

    # -- ledger ------------------------------------------------------------------------------

    def claim(self, channel: str, period: str, *, now: datetime, start: datetime | None = None,
              end: datetime | None = None, lease: timedelta = LEASE) -> Claim | None:
        """Claim ``period`` for ``channel``; None when it is posted or a live run holds it.

        One IMMEDIATE transaction reads the ledger and takes the period's claim, so of
        concurrent runs exactly one gets it. A claim not renewed within ``lease`` (its run
        crashed), or whose process is gone from this machine, is taken over.
        """
        owner = Owner.new()
        with self.store.transaction():
            if self._posted(channel, period):
                return None
            taken = Claims(self.store).take(period_claim(channel, period), owner, now=now,
                                            lease=lease)
        if not taken.granted:
            return None
        return Claim(channel=channel, period=period, token=owner.id, claimed_at=stamp(now),
                     took_over=taken.lapsed is not None,
                     period_start=stamp(start) if start else None,
                     period_end=stamp(end) if end else None)

    def mark_posted(self, claim: Claim, *, ts: str | None, now: datetime) -> None:
        """Record that the period went out (``ts`` None: nothing to post, by choice), and
        give its claim back."""
        with self.store.transaction():
            self.db.table("digest_ledger").upsert(
                {"channel": claim.channel, "period": claim.period, "state": "posted",
                 "period_start": claim.period_start, "period_end": claim.period_end,
                 "claimed_at": claim.claimed_at, "claimed_by": claim.token, "ts": ts,
                 "posted_at": stamp(now)}, pk=("channel", "period"))
            self.release(claim)

    def release(self, claim: Claim) -> None:
        """Give a claim back after a failed run, so a later run may send the period; a
        claim taken over since is left to its new holder."""
        Claims(self.store).release(period_claim(claim.channel, claim.period), claim.token)

    def claimed_by(self, channel: str, period: str) -> str | None:
        """The owner id holding ``period``'s claim now (live or lapsed), if any."""
        holder = Claims(self.store).holder(period_claim(channel, period))
        return holder.owner if holder is not None else None

    def _posted(self, channel: str, period: str) -> bool:
        return bool(self.store.rows(
            "select 1 from digest_ledger where channel = ? and period = ? "
            "and state = 'posted'", [channel, period]))

    def entry(self, channel: str, period: str) -> LedgerEntry | None:
        rows = self.store.rows("select * from digest_ledger where channel = ? and period = ?",
                               [channel, period])
        return LedgerEntry(**rows[0]) if rows else None

    def entries(self, channel: str) -> list[LedgerEntry]:
        rows = self.store.rows(
            "select * from digest_ledger where channel = ? order by period_end, period",
            [channel])
        return [LedgerEntry(**r) for r in rows]

    def last_posted(self, channel: str) -> LedgerEntry | None:
        """The channel's newest digest that reached Slack (quiet skips do not count)."""
        rows = self.store.rows(
            "select * from digest_ledger where channel = ? and state = 'posted' "
            "and ts is not null order by period_end desc limit 1", [channel])
        return LedgerEntry(**rows[0]) if rows else None


def _channel_digest(r: Mapping[str, Any]) -> ChannelDigest:
    setting = DigestSetting(kind=r["kind"], time=r["time"], tz=r["tz"], day=r["day"],
                            quiet=bool(r["quiet"]))
    return ChannelDigest(channel=r["channel"], setting=setting, updated_at=r["updated_at"])
