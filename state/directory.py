"""The directory: ids the far side gives our names, remembered between runs.

A person's id by their e-mail (with when it was checked, so a hit is trusted for weeks and
a miss is asked again sooner), a person's name by their id (for replies written to Altium
365 in their name) and a target's id by its name (``#design-review`` -> the id
posts go to). Delivery asks here before it asks the far side. The tables keep the names
they were created with (``slack_users``, ``slack_names``, ``slack_channels``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from state.store import Store


@dataclass(frozen=True)
class Lookup:
    """What the far side answered for a name, and when: ``id`` None is a remembered miss."""

    id: str | None
    checked_at: str


class Directory:
    """Names to the far side's ids, in the same SQLite file as the outbox."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def person(self, email: str) -> Lookup | None:
        """The remembered answer for a person's e-mail (any case), or None if never asked."""
        rows = self.store.rows("select user_id, checked_at from slack_users where email = ?",
                               [email.casefold()])
        return Lookup(id=rows[0]["user_id"], checked_at=rows[0]["checked_at"]) if rows else None

    def remember_person(self, email: str, person_id: str | None, *, at: str) -> None:
        """Keep the far side's answer for an e-mail: its id, or None for nobody by it."""
        with self.store.transaction():
            self.store.db.table("slack_users").upsert(
                {"email": email.casefold(), "user_id": person_id, "checked_at": at},
                pk="email")

    def name(self, person_id: str) -> Lookup | None:
        """The remembered name of a person by their id (``Lookup.id`` holds the name)."""
        rows = self.store.rows("select name, checked_at from slack_names where user_id = ?",
                               [person_id])
        return Lookup(id=rows[0]["name"], checked_at=rows[0]["checked_at"]) if rows else None

    def remember_name(self, person_id: str, name: str | None, *, at: str) -> None:
        """Keep how the far side names a person (None: nobody by that id)."""
        with self.store.transaction():
            self.store.db.table("slack_names").upsert(
                {"user_id": person_id, "name": name, "checked_at": at}, pk="user_id")

    def channel_id(self, name: str) -> str | None:
        """The id of the target named ``name``, or None when it is not known here."""
        rows = self.store.rows("select id from slack_channels where name = ?", [name])
        return rows[0]["id"] if rows else None

    def remember_channels(self, ids: Mapping[str, str]) -> None:
        """Keep the ids of targets by name, as the far side listed them."""
        with self.store.transaction():
            self.store.db.table("slack_channels").upsert_all(
                [{"name": n, "id": i} for n, i in ids.items()], pk="name")
