"""What an answer is, and how a long one comes in pages with "Next page" buttons.

Every answer is built for the smallest path it may take (a ``response_url``,
``bot.slack.limits.RESPONSE``) and goes through ``bot.slack.limits.fit``, so it also fits a
mention's ``chat.postEphemeral`` or ``chat.postMessage``. A page button carries its request
(``page_value``), so pressing it answers the same request at that page.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.review.request import Request
from bot.slack.limits import (
    BUTTON_VALUE,
    FALLBACK_TEXT,
    RESPONSE,
    Block,
    actions,
    button,
    context,
    fit,
    pages,
    section,
)
from bot.slack.mrkdwn import cut

PAGE_SIZE = 10
PROJECTS_ACTION = "review_projects_page"
"""The projects pager's buttons before every long answer was paged (still answered)."""
PAGE_ACTION = "review_page"
"""A paged answer's buttons: ``review_page_<n>``, the request in the button's value."""
PAGED = frozenset({"workspaces", "projects", "project", "bom", "comments", "thread", "nets",
                   "part", "changes", "subscriptions", "status", "risk"})
"""The commands whose answers may come in pages: those that only read."""


@dataclass(frozen=True)
class Reply:
    """An answer: mrkdwn text, optional blocks, and whether the whole channel sees it."""

    text: str
    blocks: list[dict[str, Any]] | None = None
    share: bool = False

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"response_type": "in_channel" if self.share else "ephemeral",
                                "text": self.text}
        if self.blocks:
            body["blocks"] = self.blocks
        return body


def paged_reply(request: Request, lines: Sequence[str], *, head: str, more: str = "",
                per_page: int | None = None) -> Reply:
    """An answer of ``lines`` under ``head`` (both mrkdwn), the page ``--page`` asks for.

    When the lines need more than one page, the footer says which page this is and
    buttons lead to the others; when the request is too long to fit in a button, the
    footer asks for a narrower query instead. The head is the notification.
    """
    chosen = pages(lines or ["_(none)_"], room=RESPONSE, head=head, per_page=per_page)
    count = len(chosen)
    page = min(max(1, _page_number(request)), count)
    blocks: list[Block] = [section(head)] if head else []
    blocks += [section(text) for text in chosen[page - 1]]
    footer = [f"page {page} of {count}" if count > 1 else "", more]
    nav = _page_buttons(request, page, count) if count > 1 else None
    if count > 1 and nav is None:
        footer.append("narrow the question (a designator, an MPN, a word) to see the rest")
    blocks.append(context(" · ".join(note for note in footer if note)))
    if nav is not None:
        blocks.append(nav)
    text, fitted = fit(cut(head, FALLBACK_TEXT), blocks, RESPONSE)
    return Reply(text=text, blocks=fitted, share=request.share)


def _page_number(request: Request) -> int:
    wanted = request.options.get("page") or "1"
    return int(wanted) if wanted.isdigit() and len(wanted) < 6 else 1


def page_value(request: Request, page: int) -> str:
    """What a page button carries: the request itself, to be answered again at ``page``."""
    return json.dumps({"command": request.name, "words": list(request.words),
                       "page": page, "share": request.share},
                      ensure_ascii=False, separators=(",", ":"))


def page_request(value: str) -> Request | None:
    """The request a page button (or an older projects pager button) carries, or None."""
    try:
        state = json.loads(value or "{}")
    except ValueError:
        return None
    if not isinstance(state, dict):
        return None
    page = state.get("page")
    name = state.get("command", "projects")
    words = state.get("words")
    if words is None and name == "projects":
        words = str(state.get("text") or "").split()
    if (name not in PAGED or not isinstance(page, int) or not isinstance(words, list)
            or not all(isinstance(w, str) for w in words)):
        return None
    return Request(name=name, words=tuple(words), share=bool(state.get("share")),
                   options={"page": str(max(1, page))})


def _page_buttons(request: Request, page: int, count: int) -> Block | None:
    """‹ Previous and Next page › buttons, or None when the request does not fit in one."""
    buttons = []
    for label, target in (("‹ Previous", page - 1), ("Next page ›", page + 1)):
        if 1 <= target <= count:
            value = page_value(request, target)
            if len(value) > BUTTON_VALUE:
                return None
            buttons.append(button(label, f"{PAGE_ACTION}_{target}", value))
    return actions(*buttons)
