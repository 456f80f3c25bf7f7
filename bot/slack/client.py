"""The Slack Web API as delivery needs it, with Slack's errors translated at the boundary.

Wraps slack_sdk's ``WebClient`` (its own retry handlers off: retries are delivery's
decision) and turns every failure into a ``state.errors.SlackError`` subclass, so callers
can tell "wait and retry" from "pause this channel" from "the token is dead".
"""

from __future__ import annotations

import http.client
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.errors import (
    SlackAuthError,
    SlackChannelError,
    SlackError,
    SlackMessageError,
    SlackRateLimitedError,
    SlackUnavailableError,
)

DEFAULT_API_URL = "https://slack.com/api/"
METADATA_TYPE = "review_bot_post"

AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired",
                         "account_inactive", "no_permission", "missing_scope",
                         "not_allowed_token_type", "team_access_not_granted",
                         "ekm_access_denied"})
CHANNEL_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived",
                            "restricted_action", "restricted_action_read_only_channel",
                            "restricted_action_thread_only_channel", "team_not_found"})
MESSAGE_ERRORS = frozenset({"invalid_blocks", "invalid_blocks_format", "msg_blocks_too_long",
                            "msg_too_long", "no_text", "too_many_attachments",
                            "invalid_metadata_format", "metadata_too_large"})
TRANSIENT_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable",
                              "request_timeout", "ratelimited"})


@dataclass(frozen=True)
class Posted:
    channel_id: str
    ts: str


@dataclass(frozen=True)
class ChannelInfo:
    """A channel as the bot sees it: enough to tell whether a post would land."""

    id: str
    name: str
    is_member: bool
    is_archived: bool
    is_private: bool


class SlackClient:
    """Posts, edits and reads back the bot's own messages; looks up users and channels."""

    def __init__(self, *, token: str, api_url: str = DEFAULT_API_URL, timeout: float = 30.0,
                 client: WebClient | None = None) -> None:
        self.web = client or WebClient(token=token, base_url=api_url, timeout=int(timeout),
                                       retry_handlers=[])

    def post(self, channel: str, *, text: str, blocks: list[dict[str, Any]],
             key: str, thread_ts: str | None = None) -> Posted:
        """Post a message carrying ``key`` in its metadata, so it can be found again."""
        args: dict[str, Any] = {
            "channel": channel, "text": text, "blocks": blocks, "unfurl_links": False,
            "unfurl_media": False,
            "metadata": {"event_type": METADATA_TYPE, "event_payload": {"key": key}},
        }
        if thread_ts:
            args["thread_ts"] = thread_ts
        response = self._call(self.web.chat_postMessage, **args)
        return Posted(channel_id=str(response["channel"]), ts=str(response["ts"]))

    def update(self, channel_id: str, ts: str, *, text: str,
               blocks: list[dict[str, Any]]) -> None:
        self._call(self.web.chat_update, channel=channel_id, ts=ts, text=text, blocks=blocks)

    def find_keys(self, channel_id: str, *, oldest: float | None = None,
                  thread_ts: str | None = None) -> dict[str, str]:
        """Keys of the bot's posts in a channel since ``oldest`` (or in one thread) -> ts."""
        found: dict[str, str] = {}
        cursor: str | None = None
        while True:
            if thread_ts is not None:
                page = self._call(self.web.conversations_replies, channel=channel_id,
                                  ts=thread_ts, include_all_metadata=True, limit=200,
                                  cursor=cursor)
            else:
                page = self._call(self.web.conversations_history, channel=channel_id,
                                  oldest=str(oldest or 0), include_all_metadata=True,
                                  limit=200, cursor=cursor)
            for message in page.get("messages") or ():
                key = _key_of(message)
                if key is not None:
                    found[key] = str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return found

    def lookup_user(self, email: str) -> str | None:
        """The Slack user id for an e-mail address, or None when nobody has it."""
        try:
            response = self._call(self.web.users_lookupByEmail, email=email)
        except SlackError as exc:
            if exc.code == "users_not_found":
                return None
            raise
        return str(response["user"]["id"])

    def user_name(self, user_id: str) -> str | None:
        """A person's full name in Slack (else their display name, else their handle), as a
        record outside Slack should name them; None when there is no such user."""
        try:
            response = self._call(self.web.users_info, user=user_id)
        except SlackError as exc:
            if exc.code in {"user_not_found", "users_not_found"}:
                return None
            raise
        user = response.get("user") or {}
        profile = user.get("profile") or {}
        for name in (profile.get("real_name"), user.get("real_name"),
                     profile.get("display_name"), user.get("name")):
            if isinstance(name, str) and name.strip():
                return name.strip()
        return None

    def permalink(self, channel_id: str, ts: str) -> str:
        """The web link of a message (a reply's carries its thread)."""
        response = self._call(self.web.chat_getPermalink, channel=channel_id, message_ts=ts)
        return str(response["permalink"])

    def tell(self, channel_id: str, user_id: str, *, text: str,
             thread_ts: str | None = None) -> None:
        """An ephemeral message only ``user_id`` sees, in a channel (in a thread)."""
        args: dict[str, Any] = {"channel": channel_id, "user": user_id, "text": text}
        if thread_ts:
            args["thread_ts"] = thread_ts
        self._call(self.web.chat_postEphemeral, **args)

    def react(self, channel_id: str, ts: str, name: str) -> None:
        """Add the bot's reaction ``name`` to a message; one already there is fine."""
        try:
            self._call(self.web.reactions_add, channel=channel_id, timestamp=ts, name=name)
        except SlackError as exc:
            if exc.code != "already_reacted":
                raise

    def channel_ids(self) -> dict[str, str]:
        """``#name`` -> id for every channel the token can see."""
        return {f"#{c['name']}": str(c["id"]) for c in self._channels()}

    def bot_name(self) -> str:
        """The bot user's name (as ``/invite @name`` wants it); checks the token too."""
        return str(self._call(self.web.auth_test).get("user") or "review-bot")

    def channel(self, ref: str) -> ChannelInfo | None:
        """A channel by id or ``#name``, or None when the bot can see no such channel.

        A private channel the bot is not in is invisible to it, as in Slack itself.
        """
        if ref.startswith("#"):
            name = ref[1:].casefold()
            for found in self._channels():
                if str(found.get("name") or "").casefold() == name:
                    return _channel_info(found)
            return None
        try:
            info = self._call(self.web.conversations_info, channel=ref)
        except SlackError as exc:
            if exc.code == "channel_not_found":
                return None
            raise
        return _channel_info(info.get("channel") or {})

    def _channels(self) -> Iterator[Mapping[str, Any]]:
        cursor: str | None = None
        while True:
            page = self._call(self.web.conversations_list,
                              types="public_channel,private_channel", exclude_archived=False,
                              limit=200, cursor=cursor)
            yield from page.get("channels") or ()
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return

    def _call(self, method: Callable[..., SlackResponse], **args: Any) -> SlackResponse:
        try:
            return method(**args)
        except SlackApiError as exc:
            raise _translate(exc.response) from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise SlackUnavailableError(f"could not reach Slack ({type(exc).__name__})",
                                        code="unreachable") from None


def _channel_info(data: Mapping[str, Any]) -> ChannelInfo:
    return ChannelInfo(id=str(data.get("id") or ""), name=str(data.get("name") or ""),
                       is_member=bool(data.get("is_member")),
                       is_archived=bool(data.get("is_archived")),
                       is_private=bool(data.get("is_private")))


def _key_of(message: Mapping[str, Any]) -> str | None:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != METADATA_TYPE:
        return None
    key = (metadata.get("event_payload") or {}).get("key")
    return str(key) if key else None


def _translate(response: SlackResponse) -> SlackError:
    status = response.status_code
    data = response.data if isinstance(response.data, dict) else {}
    code = str(data.get("error") or f"http_{status}")
    if status == 429:
        retry_after = _seconds(response.headers.get("Retry-After")
                               or response.headers.get("retry-after"))
        return SlackRateLimitedError(f"Slack rate limit: retry in {retry_after:g}s",
                                     retry_after=retry_after)
    if status >= 500 or code in TRANSIENT_ERRORS:
        return SlackUnavailableError(f"Slack answered HTTP {status} ({code})", code=code)
    if code in AUTH_ERRORS:
        return SlackAuthError(f"Slack refused the bot token ({code}): check SLACK_BOT_TOKEN "
                              "and the app's installation", code=code)
    if code in CHANNEL_ERRORS:
        return SlackChannelError(f"Slack refused the channel ({code})", code=code)
    if code in MESSAGE_ERRORS:
        return SlackMessageError(f"Slack refused the message ({code})", code=code)
    return SlackError(f"Slack error: {code}", code=code)


def _seconds(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value is not None else 1.0
    except ValueError:
        return 1.0
