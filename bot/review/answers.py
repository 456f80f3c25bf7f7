"""What ``/review`` answers: a request goes to its handler in ``bot.review.table``.

Answers from the SQLite snapshot are immediate and say how fresh they are; the ones that
need Nexar (``needs_nexar``) run after the acknowledgement. Every text from Altium or from
the person asking is escaped, and a long answer comes in pages (``bot.review.reply``). A
project not shared with Slack (``REVIEW_BOT_PROJECTS``) is never named: it is answered
exactly like a missing one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.digests import DigestRun
from bot.review.context import (
    NO_SUPPLY,
    Asker,
    Context,
    LibraryCache,
    NexarFactory,
    Policy,
    SupplyLookup,
    project_in_words,
)
from bot.review.reply import Reply
from bot.review.request import CommandError, Request, help_text
from bot.review.table import COMMANDS, NEXAR_COMMANDS, SNAPSHOT_OR_NEXAR
from bot.slack.mrkdwn import escape
from state.clock import utc_now
from state.errors import NotFoundError, ReviewBotError
from state.store import Store
from state.supply import Thresholds


@dataclass
class Answers:
    """Answers ``/review`` requests for one bot: its database, Nexar and policy."""

    db_path: str
    nexar: NexarFactory | None = None
    policy: Policy = field(default_factory=Policy)
    clock: Callable[[], datetime] = utc_now
    channel_info: Callable[[str], dict[str, Any]] | None = None
    digest_tz: str = "UTC"
    digest_now: Callable[[str], DigestRun | None] | None = None
    on_digest_change: Callable[[], None] | None = None
    supply_lookup: SupplyLookup | None = None
    """Asks the supply data (``/review risk``); None: supply data is off, ``supply_off``
    says why."""
    supply_off: str = NO_SUPPLY
    supply_thresholds: Thresholds | None = None
    _library: LibraryCache = field(default_factory=dict)

    NEXAR_COMMANDS = NEXAR_COMMANDS

    def needs_nexar(self, request: Request) -> bool:
        """True when the answer needs a Nexar round trip (answered after the ack)."""
        if request.name in self.NEXAR_COMMANDS:
            return True
        if request.name == "risk":
            return self.supply_lookup is not None
        if request.name in SNAPSHOT_OR_NEXAR:
            with Store.open(self.db_path) as store:
                try:
                    info = project_in_words(store, request.words,
                                                     shared=self.policy.is_shared)[0]
                except CommandError:
                    return False
                return store.load_snapshot(info.id, with_bom=False) is None
        return False

    def answer(self, request: Request, asker: Asker) -> Reply:
        """The reply to one request; problems become a helpful one-line reply."""
        handler = COMMANDS.get(request.name)
        if handler is None:
            return Reply(text=help_text())
        try:
            with Store.open(self.db_path) as store:
                return handler(self._context(store, request, asker))
        except CommandError as exc:
            return Reply(text=str(exc))
        except NotFoundError as exc:
            return Reply(text=escape(str(exc)))
        except ReviewBotError as exc:
            return Reply(text=f"Sorry, that did not work: {escape(str(exc))}")

    def _context(self, store: Store, request: Request, asker: Asker) -> Context:
        return Context(store=store, request=request, asker=asker, policy=self.policy,
                       clock=self.clock, nexar=self.nexar, library=self._library,
                       channel_info=self.channel_info, digest_tz=self.digest_tz,
                       digest_now=self.digest_now, on_digest_change=self.on_digest_change,
                       supply_lookup=self.supply_lookup, supply_off=self.supply_off,
                       supply_thresholds=self.supply_thresholds)
