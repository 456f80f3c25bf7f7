"""Local stand-ins for the services the bot talks to.

``AltiumSandbox`` serves the real Nexar GraphQL schema over HTTP on 127.0.0.1 with seeded
Altium 365 data, fault injection and an activity API; ``SlackSandbox`` serves the Slack
Web API methods the bot uses, with channels, users, threads and faults;
``WebhookReceiver`` is a strict webhook endpoint that verifies signatures and answers as
scripted. Tests, the demo and the benchmarks run against them.
"""

from .altium import AltiumSandbox
from .slack import SlackSandbox
from .webhooks import WebhookReceiver

__all__ = ["AltiumSandbox", "SlackSandbox", "WebhookReceiver"]
