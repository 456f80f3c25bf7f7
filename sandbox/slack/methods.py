"""The Web API methods the sandbox serves, with Slack's arguments, answers and error codes.

Each method takes the workspace (its lock held by the caller), the call's parameters and
the call context, and returns the fields of an ``ok`` answer or raises ``SlackError``.
Parameters arrive as JSON values or as form/query strings (``"1"``/``"true"`` for booleans,
JSON text for ``blocks``, ``metadata`` and ``view``); both are accepted, as Slack does.
"""

from __future__ import annotations

import base64
import binascii
import copy
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .blocks import MESSAGE_TEXT, check_metadata, decode_json, refusal
from .workspace import Channel, Ephemeral, Message, SlackError, User, Workspace, parse_ts

_TRUE = frozenset({"1", "true", "yes", "on"})
_CONVERSATION_TYPES = frozenset({"public_channel", "private_channel", "mpim", "im"})


@dataclass(frozen=True, slots=True)
class CallContext:
    """What a method needs to know about the call beyond its parameters."""

    base_url: str


class Params:
    """A call's parameters with Slack's lenient typing (JSON values or form strings)."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = values

    def get(self, name: str) -> Any:
        """The raw value, or None."""
        return self.values.get(name)

    def text(self, name: str) -> str | None:
        """The value as a string; None when absent or empty."""
        value = self.values.get(name)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else str(value)

    def required(self, name: str) -> str:
        """The value as a string; ``invalid_arguments`` when missing."""
        value = self.text(name)
        if value is None:
            raise _invalid_arguments(f"missing required field: {name}")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean (``true``/``1`` or JSON true)."""
        value = self.values.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in _TRUE

    def optional_flag(self, name: str) -> bool | None:
        """A boolean, or None when not sent."""
        return None if self.values.get(name) is None else self.flag(name)

    def integer(self, name: str, default: int) -> int:
        """An integer; ``invalid_arguments`` when it is not one."""
        value = self.values.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _invalid_arguments(f"{name} must be an integer") from None

    def json(self, name: str) -> Any:
        """The value with JSON text decoded."""
        return decode_json(self.values.get(name))


Method = Callable[[Workspace, Params, CallContext], dict[str, Any]]


def _invalid_arguments(*messages: str) -> SlackError:
    return SlackError(
        "invalid_arguments",
        response_metadata={"messages": [f"[ERROR] {message}" for message in messages]},
    )


def _encode_cursor(value: str) -> str:
    return base64.b64encode(value.encode()).decode("ascii")


def _decode_cursor(cursor: str, prefix: str) -> str:
    try:
        text = base64.b64decode(cursor.encode("ascii"), validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise SlackError("invalid_cursor") from None
    if not text.startswith(prefix):
        raise SlackError("invalid_cursor")
    return text.removeprefix(prefix)


def bot_profile(ws: Workspace) -> dict[str, Any]:
    """The ``bot_profile`` Slack attaches to the bot's messages."""
    return {
        "id": ws.bot_id,
        "app_id": ws.app_id,
        "name": "Design Review Bot",
        "icons": {"image_36": "", "image_48": "", "image_72": ""},
        "deleted": False,
        "updated": 1732780000,
        "team_id": ws.team_id,
    }


def message_json(ws: Workspace, message: Message, *, metadata: bool) -> dict[str, Any]:
    """A message as the Web API shows it (metadata only when asked for)."""
    out: dict[str, Any] = {"type": "message"}
    if message.subtype:
        out["subtype"] = message.subtype
    out["text"] = message.text
    if message.files is not None:
        out["files"] = copy.deepcopy(message.files)
        out["upload"] = False
    out["user"] = message.user
    out["ts"] = message.ts
    if message.client_msg_id is not None:
        out["client_msg_id"] = message.client_msg_id
    if message.bot_id:
        out["bot_id"] = message.bot_id
        out["app_id"] = ws.app_id
        out["bot_profile"] = bot_profile(ws)
    out["team"] = ws.team_id
    if message.blocks is not None:
        out["blocks"] = copy.deepcopy(message.blocks)
    if message.thread_ts:
        out["thread_ts"] = message.thread_ts
    if message.is_reply and message.thread_ts:
        parent = ws.find(message.channel, message.thread_ts)
        if parent is not None:
            out["parent_user_id"] = parent.user
            if message.is_broadcast:
                out["root"] = message_json(ws, parent, metadata=False)
    if message.is_parent:
        out["reply_count"] = message.reply_count
        out["reply_users_count"] = len(message.reply_users)
        out["latest_reply"] = message.latest_reply
        out["reply_users"] = list(message.reply_users)
        out["is_locked"] = False
        out["subscribed"] = False
    if message.edited:
        out["edited"] = {"user": message.user, "ts": message.edited_ts}
    if message.reactions:
        out["reactions"] = [
            {"name": name, "users": list(users), "count": len(users)}
            for name, users in message.reactions.items()
        ]
    if metadata and message.metadata is not None:
        out["metadata"] = copy.deepcopy(message.metadata)
    return out


def channel_json(ws: Workspace, channel: Channel) -> dict[str, Any]:
    """A conversation object as ``conversations.list``/``info`` show it."""
    if channel.im_user is not None:
        return {
            "id": channel.id,
            "created": channel.created,
            "is_im": True,
            "is_org_shared": False,
            "user": channel.im_user,
            "is_user_deleted": False,
            "priority": 0,
        }
    members = len(channel.members) + (1 if channel.bot_member else 0)
    return {
        "id": channel.id,
        "name": channel.name,
        "is_channel": True,
        "is_group": False,
        "is_im": False,
        "is_mpim": False,
        "is_private": channel.is_private,
        "created": channel.created,
        "is_archived": channel.is_archived,
        "is_general": channel.is_general,
        "unlinked": 0,
        "name_normalized": channel.name,
        "is_shared": False,
        "is_org_shared": False,
        "is_pending_ext_shared": False,
        "pending_shared": [],
        "context_team_id": ws.team_id,
        "updated": channel.created * 1000,
        "parent_conversation": None,
        "creator": channel.creator,
        "is_ext_shared": False,
        "shared_team_ids": [ws.team_id],
        "pending_connected_team_ids": [],
        "is_member": channel.bot_member,
        "topic": {"value": channel.topic, "creator": "", "last_set": 0},
        "purpose": {"value": channel.purpose, "creator": "", "last_set": 0},
        "previous_names": [],
        "num_members": members,
    }


def user_json(ws: Workspace, user: User) -> dict[str, Any]:
    """A user object as ``users.info``/``users.lookupByEmail`` show it."""
    profile: dict[str, Any] = {
        "real_name": user.real_name,
        "display_name": user.display_name,
        "real_name_normalized": user.real_name,
        "display_name_normalized": user.display_name,
        "status_text": "",
        "status_emoji": "",
        "team": ws.team_id,
        "image_72": f"https://avatars.slack-edge.example/{user.id}_72.png",
    }
    if user.email is not None:
        profile["email"] = user.email
    if user.is_bot:
        profile["bot_id"] = ws.bot_id
        profile["api_app_id"] = ws.app_id
    return {
        "id": user.id,
        "team_id": ws.team_id,
        "name": user.name,
        "deleted": user.deleted,
        "color": "9f69e7",
        "real_name": user.real_name,
        "tz": user.tz,
        "tz_label": "Central European Time",
        "tz_offset": 3600,
        "profile": profile,
        "is_admin": False,
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": user.is_bot,
        "is_app_user": False,
        "updated": 1732780000,
        "is_email_confirmed": not user.is_bot,
    }


def _with_block_ids(ws: Workspace, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    stored = copy.deepcopy(blocks)
    for block in stored:
        block.setdefault("block_id", ws.new_block_id())
    return stored


def _blocks(ws: Workspace, params: Params) -> list[dict[str, Any]] | None:
    raw = params.get("blocks")
    if raw is None or raw == "":
        return None
    blocks = decode_json(raw)
    if isinstance(blocks, str | bytes):
        raise SlackError("invalid_blocks_format")
    refused = refusal(blocks, path="message")
    if refused is not None:
        code, errors = refused
        if errors:
            raise SlackError(code, errors=errors, response_metadata={"messages": errors})
        raise SlackError(code)
    return _with_block_ids(ws, blocks)


def _content(ws: Workspace, params: Params) -> tuple[str | None, list[dict[str, Any]] | None]:
    text = params.text("text") or params.text("markdown_text")
    blocks = _blocks(ws, params)
    if not text and not blocks and not params.get("attachments"):
        raise SlackError("no_text")
    if text is not None and len(text) > MESSAGE_TEXT:
        raise SlackError("msg_too_long")
    return text, blocks


def _postable(ws: Workspace, params: Params) -> Channel:
    channel = ws.conversation(params.text("channel") or "", by_name=True)
    if channel.is_archived:
        raise SlackError("is_archived")
    if not channel.bot_member:
        raise SlackError("not_in_channel")
    return channel


def _readable(ws: Workspace, params: Params) -> Channel:
    channel = ws.conversation(params.text("channel") or "", by_name=False)
    if not channel.bot_member:
        raise SlackError("not_in_channel")
    return channel


def _warned(out: dict[str, Any], warning: str | None) -> dict[str, Any]:
    if warning is not None:
        out["warning"] = warning
        out["response_metadata"] = {"warnings": [warning]}
    return out


def auth_test(ws: Workspace, params: Params, ctx: CallContext) -> dict[str, Any]:
    """Who the token is: team, bot user and bot id."""
    return {
        "url": f"https://{ws.team_domain}.slack.com/",
        "team": ws.team_name,
        "user": "review-bot",
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def chat_post_message(ws: Workspace, params: Params, ctx: CallContext) -> dict[str, Any]:
    """Post a message (a threaded reply with ``thread_ts``)."""
    channel = _postable(ws, params)
    text, blocks = _content(ws, params)
    thread_ts = params.text("thread_ts")
    parent = ws.thread_parent(channel, thread_ts) if thread_ts else None
    metadata, warning = check_metadata(params.json("metadata"))
    broadcast = parent is not None and params.flag("reply_broadcast")
    message = Message(
        channel.id,
        ws.next_ts(),
        text or "",
        ws.bot_user_id,
        blocks,
        metadata=metadata,
        subtype="thread_broadcast" if broadcast else None,
        bot_id=ws.bot_id,
        mrkdwn=params.flag("mrkdwn", True),
        unfurl_links=params.optional_flag("unfurl_links"),
        unfurl_media=params.optional_flag("unfurl_media"),
    )
    ws.store(message, parent)
    out = {
        "channel": channel.id,
        "ts": message.ts,
        "message": message_json(ws, message, metadata=True),
    }
    return _warned(out, warning)


def chat_update(ws: Workspace, params: Params, ctx: CallContext) -> dict[str, Any]:
    """Edit one of the bot's messages; omitted blocks are kept, ``[]`` removes them."""
    channel = ws.conversation(params.text("channel") or "", by_name=False)
    ts = params.text("ts")
    message = ws.find(channel.id, ts) if ts else None
    if message is None:
        raise SlackError("message_not_found")
    if message.user != ws.bot_user_id:
        raise SlackError("cant_update_message")
    if channel.is_archived:
        raise SlackError("is_archived")
    text = params.text("text")
    raw_blocks = decode_json(params.get("blocks"))
    if raw_blocks == []:
        blocks: list[dict[str, Any]] | None = []
    else:
        blocks = _blocks(ws, params)
    if text is None and raw_blocks is None and params.get("attachments") is None:
        raise SlackError("no_text")
    if text is not None and len(text) > MESSAGE_TEXT:
        raise SlackError("msg_too_long")
    warning = None
    if params.get("metadata") is not None:
        metadata, warning = check_metadata(params.json("metadata"))
        if metadata is not None:
            message.metadata = metadata
    new_blocks = message.blocks if raw_blocks is None else (blocks or None)
    ws.record_edit(message, message.text if text is None else text, new_blocks)
    out = {
        "channel": channel.id,
        "ts": message.ts,
        "text": message.text,
        "message": message_json(ws, message, metadata=True),
    }
    return _warned(out, warning)


def chat_post_ephemeral(ws: Workspace, params: Params, ctx: CallContext) -> dict[str, Any]:
    """Show a message to one user in a channel (recorded apart from the channel's messages)."""
    channel = _postable(ws, params)
    user = ws.user_record(params.text("user") or "")
    if user.id not in channel.members:
        raise SlackError("user_not_in_channel")
    text, blocks = _content(ws, params)
    ts = ws.next_ts()
    ws.add_ephemeral(
        Ephemeral(channel.id, user.id, ts, text or "", blocks, params.text("thread_ts"))
    )
    return {"message_ts": ts}


def chat_get_permalink(ws: Workspace, params: Params, ctx: CallContext) -> dict[str, Any]:
    """The web link of a message (with the thread for a reply)."""
    channel = ws.conversation(params.text("channel") or "", by_name=False)
    message = ws.find(channel.id, params.text("message_ts") or "")
    if message is None:
        raise SlackError("message_not_found")
    link = (
        f"https://{ws.team_domain}.slack.com/archives/{channel.id}/p{message.ts.replace('.', '')}"
    )
    if message.is_reply:
        link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}


def _bounds(params: Params) -> tuple[int | None, int | None, bool]:
    bounds: list[int | None] = []
    for name in ("oldest", "latest"):
        raw = params.text(name)
        value = parse_ts(raw) if raw is not None else None
        if raw is not None and value is None:
            raise SlackError(f"invalid_ts_{name}")
        bounds.append(value)
    return bounds[0], bounds[1], params.flag("inclusive")


def _within(ts: str, oldest: int | None, latest: int | None, inclusive: bool) -> bool:
    value = parse_ts(ts) or 0
    if oldest is not None and (value < oldest or (value == oldest and not inclusive)):
        return False
    return latest is None or value < latest or (value == latest and inclusive)


def _reached(ts: str, at: int, newest_first: bool) -> bool:
    value = parse_ts(ts) or 0
    return value <= at if newest_first else value >= at


def _page(
    ws: Workspace,
    params: Params,
    messages: list[Message],
    *,
    default_limit: int,
    newest_first: bool,
) -> dict[str, Any]:
    limit = params.integer("limit", default_limit)
    limit = default_limit if limit <= 0 else min(limit, 999 if newest_first else 1000)
    start = 0
    cursor = params.text("cursor")
    if cursor is not None:
        digits = _decode_cursor(cursor, "next_ts:")
        if not digits.isdigit():
            raise SlackError("invalid_cursor")
        at = int(digits)
        start = next(
            (i for i, m in enumerate(messages) if _reached(m.ts, at, newest_first)),
            len(messages),
        )
    page = messages[start : start + limit]
    has_more = start + limit < len(messages)
    metadata = params.flag("include_all_metadata")
    out: dict[str, Any] = {
        "messages": [message_json(ws, m, metadata=metadata) for m in page],
        "has_more": has_more,
    }
    if has_more:
        following = messages[start + limit]
        micros = parse_ts(following.ts) or 0
        out["response_metadata"] = {"next_cursor": _encode_cursor(f"next_ts:{micros}")}
    return out


def conversations_history(ws: Workspace, params: Params, ctx: CallContext) -> dict[str, Any]:
    """A channel's top-level messages and broadcast replies, newest first, paged."""
    channel = _readable(ws, params)
    oldest, latest, inclusive = _bounds(params)
    chosen = [
        m
        for m in ws.timeline(channel.id)
        if (not m.is_reply or m.is_broadcast) and _within(m.ts, oldest, latest, inclusive)
    ]
    chosen.reverse()
    out = _page(ws, params, chosen, default_limit=100, newest_first=True)
    out["pin_count"] = 0
    out["channel_actions_ts"] = None
    out["channel_actions_count"] = 0
    return out


def conversations_replies(ws: Workspace, params: Params, ctx: CallContext) -> dict[str, Any]:
    """A thread: its parent, then its replies, oldest first, paged."""
    channel = _readable(ws, params)
    root = ws.thread_parent(channel, params.required("ts"))
    thread = [root]
    if root.is_parent:
        thread += [m for m in ws.timeline(channel.id) if m.is_reply and m.thread_ts == root.ts]
    oldest, latest, inclusive = _bounds(params)
    if oldest is not None or latest is not None:
        thread = [m for m in thread if _within(m.ts, oldest, latest, inclusive)]
    return _page(ws, params, thread, default_limit=1000, newest_first=False)


def conversations_list(ws: Workspace, params: Params, ctx: CallContext) -> dict[str, Any]:
    """The conversations the bot can see, paged with ``next_cursor``."""
    types = {item.strip() for item in (params.text("types") or "public_channel").split(",")}
    types.discard("")
    if not types <= _CONVERSATION_TYPES:
        raise SlackError("invalid_types")
    exclude_archived = params.flag("exclude_archived")
    limit = params.integer("limit", 100)
    limit = 100 if limit <= 0 else min(limit, 1000)

    def wanted(channel: Channel) -> bool:
        if channel.is_im:
            return "im" in types
        if exclude_archived and channel.is_archived:
            return False
        if channel.is_private:
            return "private_channel" in types and channel.bot_member
        return "public_channel" in types

    chosen = [channel for channel in ws.all_channels() if wanted(channel)]
    start = 0
    cursor = params.text("cursor")
    if cursor is not None:
        after = _decode_cursor(cursor, "team:")
        ids = [channel.id for channel in chosen]
        if after not in ids:
            raise SlackError("invalid_cursor")
        start = ids.index(after)
    page = chosen[start : start + limit]
    following = chosen[start + limit] if start + limit < len(chosen) else None
    next_cursor = _encode_cursor(f"team:{following.id}") if following is not None else ""
    return {
        "channels": [channel_json(ws, channel) for channel in page],
        "response_metadata": {"next_cursor": next_cursor},
    }


def conversations_info(ws: Workspace, params: Params, ctx: CallContext) -> dict[str, Any]:
    """One conversation's details."""
    channel = ws.conversation(params.text("channel") or "", by_name=False)
    return {"channel": channel_json(ws, channel)}


def conversations_join(ws: Workspace, params: Params, ctx: CallContext) -> dict[str, Any]:
    """The bot joins a public channel (``channels:join``)."""
    channel = ws.conversation(params.text("channel") or "", by_name=False)
    if channel.is_private:
        raise SlackError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise SlackError("is_archived")
    warning = "already_in_channel" if channel.bot_member else None
    channel.bot_member = True
    return _warned({"channel": channel_json(ws, channel)}, warning)


def users_conversations(ws: Workspace, params: Params, ctx: CallContext) -> dict[str, Any]:
    """The channels a user is in that the bot can see (public ones, private ones it shares)."""
    user = ws.user_record(params.text("user") or ws.bot_user_id)
    types = {item.strip() for item in (params.text("types") or "public_channel").split(",")}
    chosen = [
        channel_json(ws, channel) for channel in ws.all_channels()
        if not channel.is_im and user.id in channel.members
        and ("private_channel" if channel.is_private else "public_channel") in types
        and (channel.bot_member or not channel.is_private)
        and not (params.flag("exclude_archived") and channel.is_archived)
    ]
    return {"channels": chosen, "response_metadata": {"next_cursor": ""}}


def chat_unfurl(ws: Workspace, params: Params, ctx: CallContext) -> dict[str, Any]:
    """Attach previews to the links of a message (``links:write``)."""
    channel = ws.conversation(params.text("channel") or "", by_name=False)
    ts = params.required("ts")
    if ws.find(channel.id, ts) is None:
        raise SlackError("cannot_find_message")
    unfurls = decode_json(params.get("unfurls"))
    if not isinstance(unfurls, dict) or not unfurls:
        raise SlackError("invalid_unfurls")
    for url, body in unfurls.items():
        if not isinstance(body, dict):
            raise SlackError("invalid_unfurls")
        refused = refusal(body["blocks"], path="unfurl") if "blocks" in body else None
        if refused is not None:
            raise SlackError("invalid_unfurls" if refused[1] else refused[0])
        ws.add_unfurl(channel.id, ts, str(url), body)
    return {}


def users_lookup_by_email(ws: Workspace, params: Params, ctx: CallContext) -> dict[str, Any]:
    """The user with an email address; ``users_not_found`` when none."""
    return {"user": user_json(ws, ws.user_by_email(params.required("email")))}


def users_info(ws: Workspace, params: Params, ctx: CallContext) -> dict[str, Any]:
    """One user's details."""
    return {"user": user_json(ws, ws.user_record(params.text("user") or ""))}


def views_publish(ws: Workspace, params: Params, ctx: CallContext) -> dict[str, Any]:
    """Publish a user's App Home tab (at most 100 blocks)."""
    user = ws.user_record(params.required("user_id"))
    view = params.json("view")
    if not isinstance(view, dict):
        raise _invalid_arguments("missing required field: view")
    if view.get("type") != "home":
        raise _invalid_arguments("must be a valid enum value [json-pointer:/view/type]")
    refused = refusal(view.get("blocks"), path="view", pointer="/view/blocks")
    if refused is not None:
        code, errors = refused
        messages = errors or [f"[ERROR] {code}: too much text in /view/blocks"]
        raise SlackError("invalid_arguments", response_metadata={"messages": messages})
    current = ws.view_of(user.id)
    wanted_hash = params.text("hash")
    if wanted_hash is not None and current is not None and current.get("hash") != wanted_hash:
        raise SlackError("hash_conflict")
    stored = ws.publish_view(
        user.id, {**view, "blocks": _with_block_ids(ws, list(view.get("blocks") or []))}
    )
    shown = {
        "id": stored["id"],
        "team_id": ws.team_id,
        "type": "home",
        "blocks": copy.deepcopy(stored["blocks"]),
        "private_metadata": str(view.get("private_metadata") or ""),
        "callback_id": str(view.get("callback_id") or ""),
        "state": {"values": {}},
        "hash": stored["hash"],
        "title": None,
        "clear_on_close": False,
        "notify_on_close": False,
        "close": None,
        "submit": None,
        "previous_view_id": None,
        "root_view_id": stored["id"],
        "app_id": ws.app_id,
        "external_id": str(view.get("external_id") or ""),
        "app_installed_team_id": ws.team_id,
        "bot_id": ws.bot_id,
    }
    return {"view": shown}


def _reaction_target(ws: Workspace, params: Params) -> tuple[Channel, Message]:
    """The message a ``reactions.*`` call names by ``channel`` and ``timestamp``."""
    channel_ref = params.text("channel")
    timestamp = params.text("timestamp")
    if channel_ref is None or timestamp is None:
        raise SlackError("no_item_specified")
    channel = ws.conversation(channel_ref, by_name=False)
    if not channel.bot_member:
        raise SlackError("not_in_channel")
    if parse_ts(timestamp) is None:
        raise SlackError("bad_timestamp")
    message = ws.find(channel.id, timestamp)
    if message is None:
        raise SlackError("message_not_found")
    return channel, message


def reactions_add(ws: Workspace, params: Params, ctx: CallContext) -> dict[str, Any]:
    """The bot reacts to a message with an emoji (``reactions:write``)."""
    ws.require_scope("reactions:write")
    channel, message = _reaction_target(ws, params)
    if channel.is_archived:
        raise SlackError("is_archived")
    ws.add_reaction(ws.bot_user_id, message, params.text("name") or "")
    return {}


def reactions_get(ws: Workspace, params: Params, ctx: CallContext) -> dict[str, Any]:
    """A message with its reactions (``reactions:read``)."""
    ws.require_scope("reactions:read")
    channel, message = _reaction_target(ws, params)
    return {
        "type": "message",
        "channel": channel.id,
        "message": message_json(ws, message, metadata=False),
    }


def apps_connections_open(ws: Workspace, params: Params, ctx: CallContext) -> dict[str, Any]:
    """A Socket Mode WebSocket URL with a fresh ticket (the server's ``/socket`` serves it)."""
    host = ctx.base_url.removeprefix("http://").removeprefix("https://")
    return {"url": f"ws://{host}/socket?ticket={uuid.uuid4()}&app_id={ws.app_id}"}


METHODS: dict[str, Method] = {
    "apps.connections.open": apps_connections_open,
    "auth.test": auth_test,
    "chat.getPermalink": chat_get_permalink,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.postMessage": chat_post_message,
    "chat.unfurl": chat_unfurl,
    "chat.update": chat_update,
    "conversations.history": conversations_history,
    "conversations.info": conversations_info,
    "conversations.join": conversations_join,
    "conversations.list": conversations_list,
    "conversations.replies": conversations_replies,
    "reactions.add": reactions_add,
    "reactions.get": reactions_get,
    "users.conversations": users_conversations,
    "users.info": users_info,
    "users.lookupByEmail": users_lookup_by_email,
    "views.publish": views_publish,
}
"""Every Web API method the sandbox serves, by Slack's method name."""

APP_TOKEN_METHODS = frozenset({"apps.connections.open"})
"""Methods that take the app-level token (``xapp-``); all others take the bot token."""
