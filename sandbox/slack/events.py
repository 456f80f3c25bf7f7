"""The Events API events Slack would send the app for what happens in the workspace.

A message (a person's or the bot's own), an edit and a reaction each become the
``event_callback`` body Slack sends, but only for the events the app subscribed to and in
conversations the bot is a member of, as Slack does:

- ``message.channels`` / ``message.groups`` / ``message.im``: ``message`` events from public
  channels, private channels and the bot's direct messages (``channel_type`` ``channel``,
  ``group``, ``im``). An edit is a ``message`` with ``subtype: message_changed``, the new
  ``message`` and the ``previous_message``; the bot's own messages come with its ``bot_id``.
- ``app_mention``: a person's new message that mentions the bot.
- ``reaction_added``: a reaction on a message.

Each subscription needs its scope on the bot token (``SCOPE_OF``).
"""

from __future__ import annotations

import uuid
from typing import Any

from .methods import message_json
from .workspace import Channel, Message, Workspace, micros_of

SCOPE_OF = {
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "app_mention": "app_mentions:read",
    "reaction_added": "reactions:read",
}
"""The bot events the sandbox sends, with the scope each needs."""

_MESSAGE_EVENT = {"channel": "message.channels", "group": "message.groups", "im": "message.im"}


def channel_type(channel: Channel) -> str:
    """Slack's ``channel_type`` of a conversation: ``channel``, ``group`` or ``im``."""
    if channel.is_im:
        return "im"
    return "group" if channel.is_private else "channel"


def check_subscriptions(names: set[str] | frozenset[str], scopes: frozenset[str]) -> None:
    """Refuse unknown event names and events whose scope the bot lacks (``ValueError``)."""
    for name in sorted(names):
        scope = SCOPE_OF.get(name)
        if scope is None:
            raise ValueError(f"unknown bot event {name!r}; one of {sorted(SCOPE_OF)}")
        if scope not in scopes:
            raise ValueError(f"bot event {name!r} needs the {scope} scope")


def _hears(channel: Channel, subscriptions: frozenset[str]) -> bool:
    return channel.bot_member and _MESSAGE_EVENT[channel_type(channel)] in subscriptions


def _message_body(ws: Workspace, message: Message) -> dict[str, Any]:
    body = message_json(ws, message, metadata=False)
    for name in ("reply_count", "reply_users_count", "latest_reply", "reply_users", "subscribed"):
        body.pop(name, None)
    body.pop("is_locked", None)
    body.pop("reactions", None)
    return body


def posted_events(
    ws: Workspace, channel: Channel, message: Message, subscriptions: frozenset[str]
) -> list[dict[str, Any]]:
    """The events for a new message: ``message`` and, when it names the bot, ``app_mention``."""
    events: list[dict[str, Any]] = []
    if _hears(channel, subscriptions):
        event = _message_body(ws, message)
        event.update(channel=channel.id, event_ts=message.ts, channel_type=channel_type(channel))
        events.append(event)
    mentions = (f"<@{ws.bot_user_id}>", f"<@{ws.bot_user_id}|")
    if (
        "app_mention" in subscriptions
        and channel.bot_member
        and not channel.is_im
        and message.bot_id is None
        and any(mention in message.text for mention in mentions)
    ):
        event = {
            "type": "app_mention",
            "user": message.user,
            "ts": message.ts,
            "client_msg_id": message.client_msg_id,
            "text": message.text,
            "team": ws.team_id,
            "channel": channel.id,
            "event_ts": message.ts,
        }
        if message.is_reply:
            event["thread_ts"] = message.thread_ts
        if message.blocks is not None:
            event["blocks"] = message.blocks
        events.append({key: value for key, value in event.items() if value is not None})
    return events


def changed_events(
    ws: Workspace,
    channel: Channel,
    message: Message,
    previous: Message,
    subscriptions: frozenset[str],
) -> list[dict[str, Any]]:
    """The ``message_changed`` event for an edit (its ``ts`` is the edit's, not the message's)."""
    if not _hears(channel, subscriptions):
        return []
    new = _message_body(ws, message)
    new["source_team"] = new["user_team"] = ws.team_id
    old = _message_body(ws, previous)
    edit_ts = message.edited_ts or message.ts
    return [
        {
            "type": "message",
            "subtype": "message_changed",
            "message": new,
            "previous_message": old,
            "channel": channel.id,
            "hidden": True,
            "ts": edit_ts,
            "event_ts": edit_ts,
            "channel_type": channel_type(channel),
        }
    ]


def reaction_events(
    ws: Workspace,
    channel: Channel,
    user_id: str,
    message: Message,
    name: str,
    event_ts: str,
    subscriptions: frozenset[str],
) -> list[dict[str, Any]]:
    """The ``reaction_added`` event for a reaction on a message in a channel the bot is in."""
    if "reaction_added" not in subscriptions or not channel.bot_member:
        return []
    return [
        {
            "type": "reaction_added",
            "user": user_id,
            "reaction": name,
            "item_user": message.user,
            "item": {"type": "message", "channel": channel.id, "ts": message.ts},
            "event_ts": event_ts,
        }
    ]


def callback(ws: Workspace, event: dict[str, Any], *, token: str) -> dict[str, Any]:
    """The ``event_callback`` body around one event, with a fresh ``event_id``."""
    return {
        "token": token,
        "team_id": ws.team_id,
        "context_team_id": ws.team_id,
        "context_enterprise_id": None,
        "api_app_id": ws.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": micros_of(ws.clock()) // 1_000_000,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": ws.team_id,
                "user_id": ws.bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{uuid.uuid4().hex}",
    }


__all__ = [
    "SCOPE_OF",
    "callback",
    "changed_events",
    "channel_type",
    "check_subscriptions",
    "posted_events",
    "reaction_events",
]
