"""Who holds a piece of work now: claims on posting work and the poller's lease, in SQLite.

Several processes may share one database (a service, a cron job, a second replica, a
``deliver`` by hand), and each ``review-bot run`` has more than one thread that posts. So
work is never *assumed* free: it is claimed. A claim is one row of ``claims``: the work's
``name``, its owner (a random id per worker, with the process id and host, to say who),
when it was taken and when its lease expires. It is taken in one ``BEGIN IMMEDIATE``
transaction, so of two workers asking at once exactly one gets it, and the other is told
who holds it.

One mechanism serves every kind of posting work:

- ``channel:<channel>`` (``channel_claim``): the right to post in a channel. Delivery takes
  it per channel for a whole run (so a channel's posts keep their order, and a channel is
  paced at Slack's ~1 post/s by one worker: a second worker on the same channel could not
  post faster, only twice); a digest, the ops channel's notice and every other keyed post
  go out only under it too. Because nobody else posts in a channel while its claim is held,
  a post left ``attempting`` there is certainly a leftover of a worker that is gone, and is
  reconciled from the channel's history before anything is posted again.
- ``webhook:<endpoint id>`` (``endpoint_claim``): the right to send to one webhook
  endpoint (``state.webhooks``). The sender takes it per endpoint, so every endpoint is
  sent to by one worker at a time, each in parallel with the others and with Slack.
- ``reply:<channel id>:<ts>`` (``reply_claim``): the right to write one reply from Slack
  to Altium 365 (``state.replies``), so the event's handler, Slack's retry of it and a
  later run never write it side by side; a holder killed mid-write leaves the reply
  ``writing``, and whoever takes the claim next reconciles it before writing again.
- ``digest-period:<channel>:<period>`` (``period_claim``): the right to build and send one
  digest period (``state.digests``), so two schedulers do not both build it; the post
  itself still goes out under the channel claim.

A claim is free when nobody holds it, when its holder is the asking owner (taking it again
renews it), when its lease expired (the holder stopped renewing: killed, or on a host that
went away), or when its holder was a process on this machine that no longer exists (killed:
no need to wait out the lease). A live holder renews its lease while it works, and
releases the claim when it finishes, is interrupted or fails. Hosts sharing a database
file must keep their clocks within a small part of the lease.

The poller's lease (``Lease``, a row of ``leases``) is the same idea for one long job: one
poller at a time per database. Its holder (an owner id new for each taking, the pid and
host) writes its own expiry and refreshes it with a heartbeat as it works; a holder that
stopped beating (killed, frozen) past that expiry is taken over, so a taker with a shorter
timeout never steals a live lease. It is taken in an IMMEDIATE transaction too, so of two
pollers starting together exactly one gets it and the other learns who holds it.
"""

from __future__ import annotations

import math
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from state.clock import stamp
from state.store import Store
from state.webhooks import WEBHOOK_PREFIX

POLLER = "poller"
"""The name of the poller's lease."""


def channel_claim(channel: str) -> str:
    """The claim to post in ``channel``."""
    return f"channel:{channel}"


def endpoint_claim(endpoint_id: str) -> str:
    """The claim to send to webhook endpoint ``endpoint_id``."""
    return f"{WEBHOOK_PREFIX}{endpoint_id}"


def reply_claim(channel_id: str, ts: str) -> str:
    """The claim to write one Slack reply (channel id, ``ts``) to Altium 365."""
    return f"reply:{channel_id}:{ts}"


def period_claim(channel: str, period: str) -> str:
    """The claim to build and send ``channel``'s digest ``period``."""
    return f"digest-period:{channel}:{period}"


def _machine() -> str:
    """This host and PID namespace: where a claim's process id can be checked for life."""
    namespace = ""
    with suppress(OSError):
        namespace = os.readlink("/proc/self/ns/pid")
    return f"{socket.gethostname()}/{namespace}"


@dataclass(frozen=True)
class Owner:
    """One worker that claims work: a random ``id``, and the process and host it runs in."""

    id: str
    pid: int
    host: str
    machine: str

    @classmethod
    def new(cls) -> Owner:
        return cls(id=uuid.uuid4().hex, pid=os.getpid(), host=socket.gethostname(),
                   machine=_machine())


@dataclass(frozen=True)
class Holder:
    """Who holds a claim, since when, until when (unless renewed)."""

    name: str
    owner: str
    pid: int
    host: str
    machine: str
    claimed_at: str
    expires_at: str

    def describe(self) -> str:
        """``pid N on host H since 2026-11-28 09:00:01 UTC``."""
        return (f"pid {self.pid} on host {self.host} since "
                f"{self.claimed_at[:19].replace('T', ' ')} UTC")


@dataclass(frozen=True)
class Taken:
    """What ``take`` found: ``granted``, else ``holder`` (alive) has it; ``lapsed`` is the
    previous holder whose claim was taken over (expired, or its process is gone)."""

    granted: bool
    holder: Holder | None = None
    lapsed: Holder | None = None


class Claims:
    """Take, renew and release claims in the store's ``claims`` table."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    def take(self, name: str, owner: Owner, *, now: datetime, lease: timedelta) -> Taken:
        """Claim ``name`` for ``owner`` until ``now + lease``, unless a live worker has it."""
        row = {"name": name, "owner": owner.id, "pid": owner.pid, "host": owner.host,
               "machine": owner.machine, "claimed_at": stamp(now),
               "expires_at": stamp(now + lease)}
        with self.store.transaction():
            current = self.holder(name)
            if current is not None and current.owner == owner.id:
                self._extend(name, owner.id, now + lease)
                return Taken(granted=True)
            if current is not None and not self._lapsed(current, owner, now):
                return Taken(granted=False, holder=current)
            self.db.table("claims").upsert(row, pk="name")
        return Taken(granted=True, lapsed=current)

    def take_within(self, name: str, owner: Owner, *, clock: Callable[[], datetime],
                    lease: timedelta, wait: float, sleep: Callable[[float], None],
                    poll: float = 0.5) -> Taken:
        """``take``, tried again every ``poll`` seconds (through ``sleep``) for up to ``wait``
        seconds while a live worker holds ``name``; the last answer, granted or not."""
        for attempt in range(math.ceil(wait / poll) + 1):
            taken = self.take(name, owner, now=clock(), lease=lease)
            if taken.granted or attempt * poll >= wait:
                return taken
            sleep(poll)
        return taken

    def renew(self, name: str, owner: Owner, *, now: datetime, lease: timedelta) -> bool:
        """Extend ``owner``'s claim to ``now + lease``; False when it is no longer theirs."""
        with self.store.transaction():
            return self._extend(name, owner.id, now + lease)

    def release(self, name: str, owner_id: str) -> bool:
        """Give a claim back; a claim taken over by someone else is left alone."""
        with self.store.transaction():
            cursor = self.db.execute("delete from claims where name = ? and owner = ?",
                                     [name, owner_id])
        return bool(cursor.rowcount)

    def holder(self, name: str) -> Holder | None:
        rows = self.store.rows("select * from claims where name = ?", [name])
        return _holder(rows[0]) if rows else None

    def held(self) -> list[Holder]:
        """Every claim recorded, oldest first (live or not: ``take`` decides)."""
        return [_holder(r) for r in self.store.rows("select * from claims order by claimed_at")]

    def _extend(self, name: str, owner_id: str, until: datetime) -> bool:
        cursor = self.db.execute("update claims set expires_at = ? where name = ? and owner = ?",
                                 [stamp(until), name, owner_id])
        return bool(cursor.rowcount)

    @staticmethod
    def _lapsed(holder: Holder, asking: Owner, now: datetime) -> bool:
        if holder.expires_at <= stamp(now):
            return True
        return (holder.machine == asking.machine and holder.pid != asking.pid
                and not process_alive(holder.pid))


def process_alive(pid: int) -> bool:
    """Whether a process of this machine exists and is not a zombie. In doubt: alive."""
    if os.name != "posix" or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    with suppress(OSError, IndexError):
        # A killed child its parent has not reaped yet: gone, though its pid remains.
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] not in {"Z", "X"}
    return True


def _holder(r: dict[str, Any]) -> Holder:
    return Holder(name=str(r["name"]), owner=str(r["owner"]), pid=int(r["pid"] or 0),
                  host=str(r["host"] or "?"), machine=str(r["machine"] or ""),
                  claimed_at=str(r["claimed_at"]), expires_at=str(r["expires_at"]))


# -- the poller's lease ------------------------------------------------------------------

@dataclass(frozen=True)
class LeaseHolder:
    """Who holds a lease, as its row says."""

    name: str
    owner: str
    pid: int
    host: str
    started_at: str
    heartbeat_at: str
    expires_at: str

    def describe(self) -> str:
        """``pid 4242 on build-01 since 2026-12-01 09:00:03 UTC``."""
        since = self.started_at[:19].replace("T", " ")
        return f"pid {self.pid} on {self.host} since {since} UTC"


class Lease:
    """One taking of the lease ``name`` on ``store``'s database.

    ``timeout``: how long after a heartbeat the lease may be taken over; the holder must
    beat more often than that (a third of it is a good period).
    """

    def __init__(self, store: Store, *, clock: Callable[[], datetime], timeout: timedelta,
                 name: str = POLLER, owner: str | None = None, pid: int | None = None,
                 host: str | None = None) -> None:
        self.store = store
        self.clock = clock
        self.timeout = timeout
        self.name = name
        self.owner = owner or uuid.uuid4().hex
        self.pid = os.getpid() if pid is None else pid
        self.host = host or socket.gethostname()
        self.taken_over: LeaseHolder | None = None
        """The expired holder this taking replaced, if any (for the log)."""

    def on(self, store: Store) -> Lease:
        """This same taking, used over another connection (a heartbeat thread's own)."""
        return Lease(store, clock=self.clock, timeout=self.timeout, name=self.name,
                     owner=self.owner, pid=self.pid, host=self.host)

    def acquire(self) -> LeaseHolder | None:
        """Take the lease: None when it is ours now, else its live holder (who keeps it)."""
        with self.store.transaction():
            held = self.holder()
            now = self.clock()
            if held is not None and held.owner != self.owner and held.expires_at > stamp(now):
                return held
            self.taken_over = held if held is not None and held.owner != self.owner else None
            taken = stamp(now)
            self.store.db.execute(
                "insert or replace into leases (name, owner, pid, host, started_at, "
                "heartbeat_at, expires_at) values (?, ?, ?, ?, ?, ?, ?)",
                [self.name, self.owner, self.pid, self.host, taken, taken,
                 stamp(now + self.timeout)])
        return None

    def beat(self) -> bool:
        """Refresh the heartbeat; False when the lease is no longer ours (it expired and
        another process took it over)."""
        now = self.clock()
        with self.store.transaction():
            cursor = self.store.db.execute(
                "update leases set heartbeat_at = ?, expires_at = ? "
                "where name = ? and owner = ?",
                [stamp(now), stamp(now + self.timeout), self.name, self.owner])
            return bool(cursor.rowcount)

    def release(self) -> None:
        """Give the lease back (nothing happens when it is no longer ours)."""
        with self.store.transaction():
            self.store.db.execute("delete from leases where name = ? and owner = ?",
                                  [self.name, self.owner])

    def holder(self) -> LeaseHolder | None:
        """The lease's current row, live or expired; None when nobody holds it."""
        rows = self.store.rows("select * from leases where name = ?", [self.name])
        return _lease_holder(rows[0]) if rows else None


def _lease_holder(row: Mapping[str, Any]) -> LeaseHolder:
    return LeaseHolder(name=row["name"], owner=row["owner"], pid=int(row["pid"]),
                       host=row["host"], started_at=row["started_at"],
                       heartbeat_at=row["heartbeat_at"], expires_at=row["expires_at"])
