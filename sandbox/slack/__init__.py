"""A local Slack Web API stand-in (see ``server.SlackSandbox``).

``workspace`` holds the team, users, channels and messages, ``blocks`` Block Kit and metadata
checks, ``emoji`` the names reactions take, ``methods`` the Web API methods, ``events`` the
Events API events Slack sends the app, ``delivery`` how they reach it (signed HTTP or Socket
Mode, with retries), ``faults`` fault injection and pacing, ``server`` the HTTP server and
facade, and ``render`` terminal rendering. Only the standard library is
used, so the sandbox never depends on the code it stands in for.
"""

from .delivery import EventAttempt, SentEvent
from .faults import Faults
from .render import render_channel, render_message
from .server import SlackCall, SlackSandbox
from .workspace import Channel, Edit, Ephemeral, Message, SlackError, User, Workspace

__all__ = [
    "Channel",
    "Edit",
    "Ephemeral",
    "EventAttempt",
    "Faults",
    "Message",
    "SentEvent",
    "SlackCall",
    "SlackError",
    "SlackSandbox",
    "User",
    "Workspace",
    "render_channel",
    "render_message",
]
