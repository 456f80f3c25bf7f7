"""Leases: one holder at a time per database for a named job (the poller).

A lease is one row: who holds it (an owner id new for each taking, the pid and host), since
when, its last heartbeat and when it expires. It is taken in an IMMEDIATE transaction, so
of two processes starting together exactly one gets it; the other learns who holds it.
The holder refreshes the heartbeat as it works; a holder that stopped refreshing (killed,
frozen) past the expiry it wrote itself is taken over. The expiry is the holder's, so a
taker with a shorter timeout never steals a live lease.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from state.clock import stamp
from state.store import Store

POLLER = "poller"


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
        return _holder(rows[0]) if rows else None


def _holder(row: Mapping[str, Any]) -> LeaseHolder:
    return LeaseHolder(name=row["name"], owner=row["owner"], pid=int(row["pid"]),
                       host=row["host"], started_at=row["started_at"],
                       heartbeat_at=row["heartbeat_at"], expires_at=row["expires_at"])
