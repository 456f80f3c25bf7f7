"""Altium 365 project links pasted in Slack unfold into a project summary card.

A link to a project not shared with Slack unfolds into nothing, as a link to no project.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.review.answers import Answers
from bot.review.context import Asker
from bot.review.request import Request
from bot.slack.limits import UNFURL, fit
from state.model import ProjectInfo
from state.store import Store

log = logging.getLogger(__name__)

ALTIUM_DOMAIN = "365.altium.com"


def project_for(url: str, catalog: list[ProjectInfo]) -> ProjectInfo | None:
    """The project an Altium 365 link points at (its ``/designs/<projectId>`` part)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not (host == ALTIUM_DOMAIN or host.endswith("." + ALTIUM_DOMAIN)):
        return None
    for project in catalog:
        if project.project_id and f"/designs/{project.project_id}".lower() in url.lower():
            return project
        if project.url and url.lower().rstrip("/").startswith(project.url.lower().rstrip("/")):
            return project
    return None


def unfurl_blocks(answers: Answers, project: ProjectInfo, *, user: str,
                  channel: str) -> list[dict[str, Any]]:
    """The summary card a link to ``project`` unfolds into: ``/review project``'s answer."""
    reply = answers.answer(Request(name="project", words=(project.name,)),
                           Asker(user_id=user, channel_id=channel))
    if not reply.blocks:
        return []
    return fit(reply.text, [b for b in reply.blocks if b.get("type") != "actions"], UNFURL)[1]


def register(app: App, *, answers: Answers) -> None:
    def unfurl(event: dict[str, Any], client: WebClient) -> None:
        with Store.open(answers.db_path) as store:
            catalog = store.catalog()
        unfurls: dict[str, Any] = {}
        for link in event.get("links") or ():
            url = str(link.get("url") or "")
            project = project_for(url, catalog)
            if project is None or not answers.policy.is_shared(project.name):
                continue
            blocks = unfurl_blocks(answers, project, user=str(event.get("user") or ""),
                                   channel=str(event.get("channel") or ""))
            if blocks:
                unfurls[url] = {"blocks": blocks}
        if not unfurls:
            return
        try:
            client.chat_unfurl(channel=event["channel"], ts=event["message_ts"],
                               unfurls=unfurls)
        except SlackApiError as exc:
            log.warning("could not unfurl an Altium 365 link: %s",
                        exc.response.get("error") if exc.response else exc)

    app.event("link_shared")(ack=lambda ack: ack(), lazy=[unfurl])
