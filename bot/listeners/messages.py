"""Channel messages: a person's reply in a thread card's Slack thread goes to Altium 365.

The reply is recorded before Slack hears the acknowledgement, so an acknowledged event is
never lost; writing it to Altium 365 follows in a lazy listener (``bot.replies``). When the
record cannot be made (the database is busy past its timeout), Slack is answered 500 and
sends the event again. Every other message is acknowledged and left alone.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse

from bot.replies import ReplyWriter, incoming

log = logging.getLogger(__name__)


def register(app: App, *, writer: ReplyWriter | None) -> None:
    def record(event: dict[str, Any], context: BoltContext) -> BoltResponse | None:
        if writer is None:
            return None
        try:
            writer.receive(event, bot_user_id=context.bot_user_id)
        except Exception as exc:  # unrecorded, the reply would be lost: let Slack resend it
            log.error("could not record a reply from Slack (%s); Slack will send it again",
                      exc)
            return BoltResponse(status=500, body="")
        return None

    def write(event: dict[str, Any], context: BoltContext) -> None:
        if writer is None:
            return
        found = incoming(event, bot_user_id=context.bot_user_id)
        if found is None:
            return
        report = writer.work(found.channel_id, found.ts)
        for problem in report.problems:
            log.info("reply from Slack: %s", problem)

    app.event("message")(ack=record, lazy=[write])
