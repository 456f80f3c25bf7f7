"""The sandbox workspace's state: team, bot, users, channels, messages, views, response URLs.

People act through it too (``post_as``, ``edit_as``, ``react_as``), as if in the Slack client.
Every new message, edit and reaction is reported to ``on_message_posted``,
``on_message_changed`` and ``on_reaction_added``, which do nothing here; the sandbox turns
them into Events API events for the app.

Everything sits behind one re-entrant lock (``Workspace.lock``); the Web API methods hold it
for a whole call, so a call sees either all of a change or none of it. Reading helpers
(``messages``, ``replies``, ``all_posts`` ...) return deep copies, safe to keep in tests.
Message timestamps come from the clock, strictly increasing across the workspace, in Slack's
``"<seconds>.<microseconds>"`` form.
"""

from __future__ import annotations

import copy
import random
import re
import string
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from .blocks import refusal
from .emoji import is_emoji

Clock = Callable[[], datetime]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ALNUM = string.ascii_uppercase + string.digits
_CHANNEL_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,79}$")
RESPONSE_URL_USES = 5
RESPONSE_URL_LIFETIME = timedelta(minutes=30)
TEAM_NAME = "Acme Robotics"
TEAM_DOMAIN = "acme-robotics"
EMAIL_DOMAIN = "acme-robotics.example"
MAX_REACTION_NAMES = 23
"""How many different emoji one message can carry (``too_many_emoji`` past it)."""
MAX_REACTIONS = 50
"""How many reactions one message can carry in all (``too_many_reactions`` past it)."""
BOT_SCOPES = frozenset(
    {
        "app_mentions:read",
        "channels:history",
        "channels:read",
        "chat:write",
        "commands",
        "groups:history",
        "groups:read",
        "links:read",
        "links:write",
        "reactions:write",
        "users:read",
        "users:read.email",
    }
)
"""The scopes the bot token is granted unless a test sets others (``set_scopes``): exactly
those ``manifest.yml`` asks for (``tests/test_manifest.py`` checks it)."""


def utc_now() -> datetime:
    """The real current time in UTC."""
    return datetime.now(UTC)


def micros_of(moment: datetime) -> int:
    """Microseconds since the Unix epoch."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def ts_of(micros: int) -> str:
    """Slack's message timestamp for a moment in microseconds: ``"1732780000.000100"``."""
    return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"


def parse_ts(value: str) -> int | None:
    """Microseconds in a Slack timestamp (``"1732780000.0001"``, ``"1732780000"``), or None."""
    try:
        number = Decimal(value.strip())
    except (InvalidOperation, AttributeError):
        return None
    if not number.is_finite() or number < 0:
        return None
    return int(number * 1_000_000)


class SlackError(Exception):
    """A Web API error answer: ``{"ok": false, "error": code, **extra}``."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.extra = extra


@dataclass(slots=True)
class User:
    """A workspace member (or the bot's user)."""

    id: str
    name: str
    real_name: str
    email: str | None
    display_name: str = ""
    is_bot: bool = False
    deleted: bool = False
    tz: str = "Europe/Berlin"


@dataclass(slots=True)
class Channel:
    """A conversation: public or private channel, or the bot's direct message with a user."""

    id: str
    name: str
    created: int
    creator: str
    is_private: bool = False
    is_archived: bool = False
    bot_member: bool = True
    members: set[str] = field(default_factory=set)
    is_general: bool = False
    im_user: str | None = None
    topic: str = ""
    purpose: str = ""

    @property
    def is_im(self) -> bool:
        """Whether this is a direct message conversation."""
        return self.im_user is not None


@dataclass(slots=True)
class Message:
    """One message as Slack stores it; ``thread_ts == ts`` marks a thread parent."""

    channel: str
    ts: str
    text: str
    user: str
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None
    reply_count: int = 0
    latest_reply: str | None = None
    reply_users: list[str] = field(default_factory=list)
    edited: bool = False
    edited_ts: str | None = None
    subtype: str | None = None
    bot_id: str | None = None
    mrkdwn: bool = True
    unfurl_links: bool | None = None
    unfurl_media: bool | None = None
    client_msg_id: str | None = None
    files: list[dict[str, Any]] | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)

    @property
    def is_reply(self) -> bool:
        """Whether the message is a reply inside a thread."""
        return self.thread_ts is not None and self.thread_ts != self.ts

    @property
    def is_broadcast(self) -> bool:
        """Whether the message is a thread reply also sent to the channel."""
        return self.subtype == "thread_broadcast"

    @property
    def is_parent(self) -> bool:
        """Whether the message starts a thread that has replies."""
        return self.thread_ts == self.ts


@dataclass(frozen=True, slots=True)
class Edit:
    """One ``chat.update`` of a message: what it was and what it became."""

    ts: str
    edited_ts: str
    previous_text: str
    previous_blocks: list[dict[str, Any]] | None
    text: str
    blocks: list[dict[str, Any]] | None


@dataclass(frozen=True, slots=True)
class Ephemeral:
    """A message only ``user`` sees (``chat.postEphemeral`` or an ephemeral response_url)."""

    channel: str
    user: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] | None
    thread_ts: str | None
    source: str = "chat.postEphemeral"


@dataclass(slots=True)
class ResponseTarget:
    """A response_url: where its uses go, how many are left, what was sent to it."""

    id: str
    created: datetime
    channel: str | None
    user: str | None
    thread_ts: str | None
    uses: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)


class _Ids:
    """Reproducible Slack-shaped ids (``C0AB12CD34``) from one seeded generator."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.used: set[str] = set()

    def make(self, prefix: str, length: int = 8) -> str:
        while True:
            value = prefix + "0" + "".join(self.rng.choices(_ALNUM, k=length))
            if value not in self.used:
                self.used.add(value)
                return value

    def digits(self, count: int) -> str:
        return str(self.rng.randrange(10 ** (count - 1), 10**count))

    def secret(self, count: int, alphabet: str = string.ascii_letters + string.digits) -> str:
        return "".join(self.rng.choices(alphabet, k=count))


_SEED_USERS = (
    ("Alice", "Nguyen"),
    ("Bob", "Schmidt"),
    ("Carla", "Rossi"),
    ("Dev", "Patel"),
)


class Workspace:
    """One Slack workspace (team) with the bot installed, seeded like Acme Robotics' Slack."""

    def __init__(self, clock: Clock | None = None, *, seed: int = 7) -> None:
        self.lock = threading.RLock()
        self._clock: Clock = clock or utc_now
        self._ids = _Ids(seed)
        self._last_micros = 0
        self.team_id = self._ids.make("T")
        self.team_name = TEAM_NAME
        self.team_domain = TEAM_DOMAIN
        self.app_id = self._ids.make("A", 9)
        self.bot_id = self._ids.make("B", 9)
        self.bot_token = (
            f"xoxb-{self._ids.digits(13)}-{self._ids.digits(13)}-{self._ids.secret(24)}"
        )
        self.app_token = (
            f"xapp-1-{self.app_id}-{self._ids.digits(13)}-"
            f"{self._ids.secret(64, string.digits + 'abcdef')}"
        )
        self._users: dict[str, User] = {}
        self._channels: dict[str, Channel] = {}
        self._timeline: dict[str, list[Message]] = {}
        self._index: dict[tuple[str, str], Message] = {}
        self._posts: list[Message] = []
        self._edits: dict[tuple[str, str], list[Edit]] = {}
        self._ephemerals: list[Ephemeral] = []
        self._views: dict[str, dict[str, Any]] = {}
        self._unfurls: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self._targets: dict[str, ResponseTarget] = {}
        self._scopes: frozenset[str] = BOT_SCOPES
        self._custom_emoji: set[str] = set()
        bot = User(
            self._ids.make("U"), "review-bot", "Design Review Bot", None, "review-bot", is_bot=True
        )
        self.bot_user_id = bot.id
        self._users[bot.id] = bot
        people = [
            self.add_user(
                f"{first}.{last}".lower(),
                f"{first}.{last}@{EMAIL_DOMAIN}".lower(),
                f"{first} {last}",
            )
            for first, last in _SEED_USERS
        ]
        self.add_channel("general", member=False)
        self._channels[self.channel_id("general")].is_general = True
        self.add_channel("design-review")
        self.add_channel("hw-review")
        leads = self.add_channel("leads", private=True)
        self._channels[leads].members = {people[0], people[1]}
        self.add_channel("old-project", archived=True)

    @property
    def clock(self) -> Clock:
        """The clock stamping messages and ageing response URLs."""
        return self._clock

    def next_ts(self) -> str:
        """A fresh message timestamp from the clock, later than every earlier one."""
        with self.lock:
            micros = max(micros_of(self._clock()), self._last_micros + 1)
            self._last_micros = micros
            return ts_of(micros)

    def _now_seconds(self) -> int:
        return micros_of(self._clock()) // 1_000_000

    def add_user(self, name: str, email: str, real_name: str) -> str:
        """Add a person (a member of every public, unarchived channel); returns the user id."""
        with self.lock:
            if any(user.email == email.lower() for user in self._users.values()):
                raise ValueError(f"a user with email {email!r} exists")
            user = User(
                self._ids.make("U"), name, real_name, email.lower(), real_name.split(" ")[0]
            )
            self._users[user.id] = user
            for channel in self._channels.values():
                if not channel.is_private and not channel.is_archived and not channel.is_im:
                    channel.members.add(user.id)
            return user.id

    def add_channel(
        self, name: str, *, member: bool = True, private: bool = False, archived: bool = False
    ) -> str:
        """Create a channel (the bot in it when ``member``); returns its id."""
        name = name.removeprefix("#")
        with self.lock:
            if not _CHANNEL_NAME.match(name):
                raise ValueError(f"invalid channel name {name!r}")
            if self._find_name(name) is not None:
                raise ValueError(f"channel #{name} exists")
            humans = {user.id for user in self._users.values() if not user.is_bot}
            channel = Channel(
                self._ids.make("C"),
                name,
                created=self._now_seconds(),
                creator=next(iter(sorted(humans)), self.bot_user_id),
                is_private=private,
                is_archived=archived,
                bot_member=member,
                members=set() if private else humans,
            )
            self._channels[channel.id] = channel
            self._timeline[channel.id] = []
            return channel.id

    def _find_name(self, name: str) -> Channel | None:
        for channel in self._channels.values():
            if channel.name == name and not channel.is_im:
                return channel
        return None

    def channel_id(self, name: str) -> str:
        """The id of channel ``name`` (``#name``, ``name`` or an id); KeyError when unknown."""
        with self.lock:
            if name in self._channels:
                return name
            channel = self._find_name(name.removeprefix("#"))
            if channel is None:
                raise KeyError(f"no channel {name!r}")
            return channel.id

    def channel(self, name: str) -> Channel:
        """A copy of a channel's record."""
        with self.lock:
            return copy.deepcopy(self._channels[self.channel_id(name)])

    def archive(self, channel: str) -> None:
        """Archive a channel: posting to it now fails with ``is_archived``."""
        with self.lock:
            self._channels[self.channel_id(channel)].is_archived = True

    def unarchive(self, channel: str) -> None:
        """Bring an archived channel back."""
        with self.lock:
            self._channels[self.channel_id(channel)].is_archived = False

    def kick_bot(self, channel: str) -> None:
        """Take the bot out of a channel (``not_in_channel``; ``channel_not_found`` if private)."""
        with self.lock:
            self._channels[self.channel_id(channel)].bot_member = False

    def invite_bot(self, channel: str) -> None:
        """Add the bot to a channel."""
        with self.lock:
            self._channels[self.channel_id(channel)].bot_member = True

    def join(self, channel: str, user: str) -> None:
        """Add a person to a channel."""
        with self.lock:
            self._channels[self.channel_id(channel)].members.add(self.user(user).id)

    def user(self, ref: str) -> User:
        """A copy of a user's record by id, email or name; KeyError when unknown."""
        with self.lock:
            found = self._users.get(ref) or next(
                (u for u in self._users.values() if ref.lower() in (u.email, u.name)), None
            )
            if found is None:
                raise KeyError(f"no user {ref!r}")
            return copy.deepcopy(found)

    def user_names(self) -> dict[str, str]:
        """Every user id (the bot's too) with the name Slack shows for it."""
        with self.lock:
            return {user.id: user.real_name for user in self._users.values()}

    def users(self) -> list[User]:
        """Copies of every user record, the bot's first."""
        with self.lock:
            return copy.deepcopy(list(self._users.values()))

    def channels(self) -> list[Channel]:
        """Copies of every conversation record, in creation order."""
        with self.lock:
            return copy.deepcopy(list(self._channels.values()))

    def channel_name(self, channel: str) -> str:
        """``#name`` of a channel, or ``@Real Name`` of a direct message."""
        with self.lock:
            record = self._channels[self.channel_id(channel)]
            if record.im_user is not None:
                return "@" + self._users[record.im_user].real_name
            return "#" + record.name

    def post_as(
        self,
        user: str,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        files: list[str] | None = None,
        broadcast: bool = False,
    ) -> str:
        """Post as a person (id, email or name), as if typed in Slack; returns the ts.

        ``text`` is the message as Slack stores it (``&lt;``, ``<@U123>``, ``<url|label>``).
        ``thread_ts`` makes it a reply (``broadcast``: also sent to the channel), ``blocks``
        are the rich text blocks the client sent, and ``files`` names uploaded files (the
        message then has the ``file_share`` subtype). The author must be in the channel
        (``not_in_channel``), which must not be archived (``is_archived``).
        """
        with self.lock:
            author = self.user(user)
            target = self._channels[self.channel_id(channel)]
            if target.is_archived:
                raise SlackError("is_archived")
            if author.id not in target.members:
                raise SlackError("not_in_channel")
            parent = self.thread_parent(target, thread_ts) if thread_ts else None
            ts = self.next_ts()
            subtype = None
            if files:
                subtype = "file_share"
            elif broadcast and parent is not None:
                subtype = "thread_broadcast"
            message = Message(
                target.id,
                ts,
                text,
                author.id,
                copy.deepcopy(blocks),
                subtype=subtype,
                client_msg_id=str(uuid.uuid4()),
                files=[self._file(author.id, name, ts) for name in files] if files else None,
            )
            self.store(message, parent)
            return message.ts

    def edit_as(
        self,
        user: str,
        channel: str,
        ts: str,
        text: str,
        *,
        blocks: list[dict[str, Any]] | None = None,
    ) -> None:
        """Edit a person's own message, as in the Slack client (``blocks``: the new rich text).

        Someone else's message gets ``cant_update_message``, a missing one
        ``message_not_found``, one in an archived channel ``is_archived``.
        """
        with self.lock:
            author = self.user(user)
            channel_id = self.channel_id(channel)
            message = self._index.get((channel_id, ts))
            if message is None:
                raise SlackError("message_not_found")
            if message.user != author.id:
                raise SlackError("cant_update_message")
            if self._channels[channel_id].is_archived:
                raise SlackError("is_archived")
            self.record_edit(message, text, copy.deepcopy(blocks))

    def react_as(self, user: str, channel: str, ts: str, name: str) -> None:
        """Add a person's reaction ``name`` (no colons) to a message, with ``reactions.add``'s
        errors."""
        with self.lock:
            author = self.user(user)
            channel_id = self.channel_id(channel)
            message = self._index.get((channel_id, ts))
            if message is None:
                raise SlackError("message_not_found")
            self.add_reaction(author.id, message, name)

    def reactions(self, channel: str, ts: str) -> dict[str, list[str]]:
        """A message's reactions: emoji name to the ids of who reacted, in order."""
        with self.lock:
            message = self._index[(self.channel_id(channel), ts)]
            return copy.deepcopy(message.reactions)

    def add_emoji(self, name: str) -> None:
        """Add a custom emoji, usable in reactions."""
        with self.lock:
            self._custom_emoji.add(name)

    @property
    def scopes(self) -> frozenset[str]:
        """The scopes granted to the bot token."""
        with self.lock:
            return self._scopes

    def set_scopes(self, scopes: set[str] | frozenset[str]) -> None:
        """Grant the bot token exactly ``scopes`` (as after reinstalling with another manifest)."""
        with self.lock:
            self._scopes = frozenset(scopes)

    def require_scope(self, scope: str) -> None:
        """``missing_scope`` (with ``needed`` and ``provided``) unless the bot has ``scope``."""
        if scope not in self._scopes:
            raise SlackError("missing_scope", needed=scope, provided=",".join(sorted(self._scopes)))

    def add_reaction(self, user_id: str, message: Message, name: str) -> None:
        """Record ``user_id``'s reaction on a live message, with ``reactions.add``'s errors."""
        if not is_emoji(name, self._custom_emoji):
            raise SlackError("invalid_name")
        users = message.reactions.get(name)
        if users is not None and user_id in users:
            raise SlackError("already_reacted")
        if users is None and len(message.reactions) >= MAX_REACTION_NAMES:
            raise SlackError("too_many_emoji")
        if sum(len(who) for who in message.reactions.values()) >= MAX_REACTIONS:
            raise SlackError("too_many_reactions")
        message.reactions.setdefault(name, []).append(user_id)
        self.on_reaction_added(user_id, message, name)

    def _file(self, user_id: str, name: str, ts: str) -> dict[str, Any]:
        file_id = self._ids.make("F", 10)
        kind = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        seconds = int(ts.split(".")[0])
        return {
            "id": file_id,
            "created": seconds,
            "timestamp": seconds,
            "name": name,
            "title": name,
            "mimetype": "application/octet-stream",
            "filetype": kind,
            "pretty_type": kind.upper(),
            "user": user_id,
            "mode": "hosted",
            "is_external": False,
            "is_public": True,
            "size": 1024,
            "url_private": f"https://files.slack.com/files-pri/{self.team_id}-{file_id}/{name}",
            "url_private_download": (
                f"https://files.slack.com/files-pri/{self.team_id}-{file_id}/download/{name}"
            ),
            "permalink": f"https://{self.team_domain}.slack.com/files/{user_id}/{file_id}/{name}",
        }

    def messages(self, channel: str) -> list[Message]:
        """Copies of a channel's top-level messages (broadcast replies too), oldest first."""
        with self.lock:
            timeline = self._timeline[self.channel_id(channel)]
            return copy.deepcopy([m for m in timeline if not m.is_reply or m.is_broadcast])

    def replies(self, channel: str, ts: str) -> list[Message]:
        """Copies of a thread's replies, oldest first (the parent not included)."""
        with self.lock:
            channel_id = self.channel_id(channel)
            return copy.deepcopy(
                [m for m in self._timeline[channel_id] if m.is_reply and m.thread_ts == ts]
            )

    def message(self, channel: str, ts: str) -> Message:
        """A copy of one message; KeyError when there is none."""
        with self.lock:
            return copy.deepcopy(self._index[(self.channel_id(channel), ts)])

    def all_posts(self) -> list[Message]:
        """Copies of every message posted (top level and replies, all channels), in post order."""
        with self.lock:
            return copy.deepcopy(self._posts)

    def edits(self, channel: str, ts: str) -> list[Edit]:
        """The ``chat.update`` history of one message, oldest first."""
        with self.lock:
            return list(self._edits.get((self.channel_id(channel), ts), []))

    def ephemerals(self, channel: str | None = None, user: str | None = None) -> list[Ephemeral]:
        """Ephemeral messages, optionally only those in ``channel`` or for ``user``."""
        with self.lock:
            channel_id = self.channel_id(channel) if channel is not None else None
            user_id = self.user(user).id if user is not None else None
            return [
                item
                for item in self._ephemerals
                if (channel_id is None or item.channel == channel_id)
                and (user_id is None or item.user == user_id)
            ]

    def add_unfurl(self, channel_id: str, ts: str, url: str, body: dict[str, Any]) -> None:
        self._unfurls.setdefault((channel_id, ts), {})[url] = copy.deepcopy(body)

    def unfurls(self, channel: str, ts: str) -> dict[str, dict[str, Any]]:
        """The previews the bot attached to a message's links, by URL."""
        with self.lock:
            channel_id = self.conversation(channel, by_name=True).id
            return copy.deepcopy(self._unfurls.get((channel_id, ts), {}))

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The Home tab view last published for a user, or None."""
        with self.lock:
            view = self._views.get(self.user(user_id).id)
            return copy.deepcopy(view) if view is not None else None

    def response_url_target(
        self, channel: str | None, user: str | None, thread_ts: str | None
    ) -> str:
        """Register a response_url target; returns its id."""
        with self.lock:
            target = ResponseTarget(
                self._ids.secret(24),
                self._clock(),
                self.channel_id(channel) if channel is not None else None,
                self.user(user).id if user is not None else None,
                thread_ts,
            )
            self._targets[target.id] = target
            return target.id

    def responses(self, target_id: str) -> list[dict[str, Any]]:
        """The JSON bodies a response_url accepted, oldest first."""
        with self.lock:
            target = self._targets.get(target_id)
            return copy.deepcopy(target.bodies) if target is not None else []

    def use_response_url(self, target_id: str, body: Any) -> tuple[int, str]:
        """Apply one POST to a response_url: Slack's (HTTP status, plain-text answer)."""
        with self.lock:
            target = self._targets.get(target_id)
            if target is None:
                return 404, "no_service"
            if self._clock() - target.created > RESPONSE_URL_LIFETIME:
                return 404, "expired_url"
            if target.uses >= RESPONSE_URL_USES:
                return 404, "used_url"
            if not isinstance(body, dict):
                return 400, "invalid_payload"
            text = body.get("text")
            blocks = body.get("blocks")
            if not text and not blocks and not body.get("delete_original"):
                return 400, "no_text"
            if blocks is not None:
                refused = refusal(blocks, path="response_url")
                if refused is not None:
                    return 400, refused[0]
            target.uses += 1
            target.bodies.append(copy.deepcopy(body))
            self._deliver_response(target, body)
            return 200, "ok"

    def _deliver_response(self, target: ResponseTarget, body: Mapping[str, Any]) -> None:
        if target.channel is None or body.get("delete_original"):
            return
        text = str(body.get("text") or "")
        blocks = body.get("blocks") if isinstance(body.get("blocks"), list) else None
        if body.get("response_type") == "in_channel":
            channel = self._channels[target.channel]
            parent = self.thread_parent(channel, target.thread_ts) if target.thread_ts else None
            message = Message(
                channel.id, self.next_ts(), text, self.bot_user_id, blocks, bot_id=self.bot_id
            )
            self.store(message, parent)
        elif target.user is not None:
            self._ephemerals.append(
                Ephemeral(
                    target.channel,
                    target.user,
                    self.next_ts(),
                    text,
                    copy.deepcopy(blocks),
                    target.thread_ts,
                    "response_url",
                )
            )

    def conversation(self, ref: str, *, by_name: bool) -> Channel:
        """The conversation a Web API call names, as the bot may see it.

        Ids always work; ``#name``/``name`` only where Slack accepts names (``by_name``);
        a user id means the bot's direct message with that user. Private channels the bot
        is not in are invisible: ``channel_not_found``.
        """
        found = self._channels.get(ref)
        if found is None and ref in self._users and not self._users[ref].is_bot:
            found = self._im(ref)
        if found is None and by_name:
            found = self._find_name(ref.removeprefix("#"))
        if found is None or (found.is_private and not found.bot_member):
            raise SlackError("channel_not_found")
        return found

    def _im(self, user_id: str) -> Channel:
        for channel in self._channels.values():
            if channel.im_user == user_id:
                return channel
        channel = Channel(
            self._ids.make("D"),
            user_id,
            created=self._now_seconds(),
            creator=self.bot_user_id,
            is_private=True,
            members={user_id},
            im_user=user_id,
        )
        self._channels[channel.id] = channel
        self._timeline[channel.id] = []
        return channel

    def all_channels(self) -> list[Channel]:
        """The live conversation records (callers hold the lock)."""
        return list(self._channels.values())

    def user_record(self, user_id: str) -> User:
        """The live user record by id; ``user_not_found`` when unknown."""
        found = self._users.get(user_id)
        if found is None:
            raise SlackError("user_not_found")
        return found

    def user_by_email(self, email: str) -> User:
        """The live user record by email; ``users_not_found`` when unknown."""
        wanted = email.strip().lower()
        for user in self._users.values():
            if user.email == wanted and not user.deleted:
                return user
        raise SlackError("users_not_found")

    def timeline(self, channel_id: str) -> list[Message]:
        """The live messages of a conversation, replies included, in ts order."""
        return self._timeline[channel_id]

    def find(self, channel_id: str, ts: str) -> Message | None:
        """The live message at ``ts`` in a conversation."""
        return self._index.get((channel_id, ts))

    def thread_parent(self, channel: Channel, thread_ts: str) -> Message:
        """The message a reply to ``thread_ts`` goes under (a reply's ts means its parent)."""
        found = self._index.get((channel.id, thread_ts))
        if found is None:
            micros = parse_ts(thread_ts)
            if micros is not None:
                found = self._index.get((channel.id, ts_of(micros)))
        if found is None:
            raise SlackError("thread_not_found")
        if found.is_reply and found.thread_ts is not None:
            return self._index[(channel.id, found.thread_ts)]
        return found

    def store(self, message: Message, parent: Message | None) -> None:
        """Append a new message (a reply when ``parent``) and keep the thread counters."""
        if parent is not None:
            message.thread_ts = parent.ts
            parent.thread_ts = parent.ts
            parent.reply_count += 1
            parent.latest_reply = message.ts
            if message.user not in parent.reply_users:
                parent.reply_users.append(message.user)
        self._timeline[message.channel].append(message)
        self._index[(message.channel, message.ts)] = message
        self._posts.append(message)
        self.on_message_posted(message)

    def record_edit(self, message: Message, text: str, blocks: list[dict[str, Any]] | None) -> None:
        """Change a message's content, keeping what it was in its edit history."""
        previous = copy.deepcopy(message)
        edited_ts = self.next_ts()
        self._edits.setdefault((message.channel, message.ts), []).append(
            Edit(
                message.ts,
                edited_ts,
                message.text,
                copy.deepcopy(message.blocks),
                text,
                copy.deepcopy(blocks),
            )
        )
        message.text = text
        message.blocks = blocks
        message.edited = True
        message.edited_ts = edited_ts
        self.on_message_changed(message, previous)

    def on_message_posted(self, message: Message) -> None:
        """A message was stored (called with the lock held); nothing happens here."""

    def on_message_changed(self, message: Message, previous: Message) -> None:
        """A message was edited (called with the lock held); nothing happens here."""

    def on_reaction_added(self, user_id: str, message: Message, name: str) -> None:
        """A reaction was added (called with the lock held); nothing happens here."""

    def add_ephemeral(self, item: Ephemeral) -> None:
        """Record an ephemeral message."""
        self._ephemerals.append(item)

    def publish_view(self, user_id: str, view: dict[str, Any]) -> dict[str, Any]:
        """Store a user's Home tab view, giving it an id and hash; returns the stored view."""
        previous = self._views.get(user_id)
        stored = dict(view)
        stored["id"] = previous["id"] if previous is not None else self._ids.make("V", 9)
        stored["hash"] = f"{self._now_seconds()}.{self._ids.secret(8, string.digits + 'abcdef')}"
        self._views[user_id] = stored
        return stored

    def view_of(self, user_id: str) -> dict[str, Any] | None:
        """The live Home tab view of a user."""
        return self._views.get(user_id)

    def new_block_id(self) -> str:
        """A short random block id, as Slack gives blocks sent without one."""
        return self._ids.secret(5)
