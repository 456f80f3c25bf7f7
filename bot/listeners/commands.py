"""The ``/review`` slash command, ``@review-bot`` mentions and the page buttons.

``ack()`` goes back at once; the answer follows through ``respond()`` from a bolt lazy
listener, so a command that needs Nexar never misses Slack's three seconds. Whatever
happens, the person gets an answer: never an exception, never silence. A long answer's
"Next page" button carries its request (``bot.review.reply.page_value``); pressing it answers
the same request at that page, in place of the page shown.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.review.answers import Answers
from bot.review.context import Asker
from bot.review.reply import PAGE_ACTION, PROJECTS_ACTION, Reply, page_request
from bot.review.request import CommandError, Request, parse

log = logging.getLogger(__name__)

SNAPSHOT_WORKERS = 2

_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>\s*")


def reply_to(answers: Answers, text: str, asker: Asker) -> Reply:
    """Parse and answer; any failure becomes a reply the person can act on."""
    try:
        request = parse(text)
    except CommandError as exc:
        return Reply(text=str(exc))
    return answer_request(answers, request, asker)


def answer_request(answers: Answers, request: Request, asker: Asker) -> Reply:
    """The answer to a parsed request; any failure becomes a reply, logged."""
    try:
        return answers.answer(request, asker)
    except Exception as exc:  # an answer must always come back, whatever broke
        log.error("answering /review %s failed: %s: %s", request.name, type(exc).__name__, exc)
        log.debug("details", exc_info=True)
        return Reply(text="Sorry, something went wrong while answering; it is in the bot's "
                          "log. Try again in a moment.")


def _asker(body: dict[str, Any]) -> Asker:
    return Asker(user_id=str(body.get("user_id") or ""),
                 channel_id=str(body.get("channel_id") or ""),
                 channel_name=body.get("channel_name") or None)


def register(app: App, *, answers: Answers) -> None:
    def acknowledge(ack: Ack, body: dict[str, Any]) -> None:
        try:
            request: Request | None = parse(str(body.get("text") or ""))
        except CommandError:
            request = None
        if request is not None and request.name in answers.NEXAR_COMMANDS:
            ack(response_type="ephemeral", text="Asking Altium 365…")
        else:
            ack()

    snapshot_answers = threading.BoundedSemaphore(SNAPSHOT_WORKERS)

    def answer(body: dict[str, Any], respond: Respond) -> None:
        text = str(body.get("text") or "")
        if _needs_nexar(text):
            reply = reply_to(answers, text, _asker(body))
        else:
            # Snapshot answers are CPU work: a few at a time keeps acks from queueing
            # behind them for the interpreter lock.
            with snapshot_answers:
                reply = reply_to(answers, text, _asker(body))
        respond(**reply.payload())

    def _needs_nexar(text: str) -> bool:
        try:
            return answers.needs_nexar(parse(text))
        except CommandError:
            return False

    app.command("/review")(ack=acknowledge, lazy=[answer])

    def paged(body: dict[str, Any], respond: Respond) -> None:
        action = (body.get("actions") or [{}])[0]
        asker = Asker(user_id=str((body.get("user") or {}).get("id") or ""),
                      channel_id=str((body.get("channel") or {}).get("id") or ""))
        request = page_request(str(action.get("value") or ""))
        if request is None:
            reply = Reply(text="That button no longer works: ask again with `/review`.")
        else:
            reply = answer_request(answers, request, asker)
        respond(replace_original=True, **reply.payload())

    pager = re.compile(f"^(?:{PAGE_ACTION}|{PROJECTS_ACTION})_\\d+$")
    app.action(pager)(ack=lambda ack: ack(), lazy=[paged])

    def mentioned(event: dict[str, Any], client: WebClient) -> None:
        text = _MENTION.sub("", str(event.get("text") or ""), count=1)
        asker = Asker(user_id=str(event.get("user") or ""),
                      channel_id=str(event.get("channel") or ""))
        reply = reply_to(answers, text, asker)
        thread = event.get("thread_ts") or event.get("ts")
        try:
            _say(client, reply, asker, thread)
        except SlackApiError as exc:
            code = exc.response.get("error") if exc.response else "error"
            log.warning("Slack refused the answer to a mention (%s)", code)

    def _say(client: WebClient, reply: Reply, asker: Asker, thread: str | None) -> None:
        if reply.share:
            client.chat_postMessage(channel=asker.channel_id, thread_ts=thread,
                                    text=reply.text, blocks=reply.blocks)
        else:
            client.chat_postEphemeral(channel=asker.channel_id, user=asker.user_id,
                                      thread_ts=thread, text=reply.text, blocks=reply.blocks)

    app.event("app_mention")(ack=lambda ack: ack(), lazy=[mentioned])
