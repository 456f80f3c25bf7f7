"""Every error design-review-bot raises on purpose, in one tree.

The CLI prints any of them as one ``Error: ...`` line; third-party exceptions (httpx,
sqlite3, slack_sdk) are translated into these where they are met, never passed through.
Each side owns its errors under this one base: ``state`` the store's and the shared ones
(here), ``jobs.errors`` Nexar's, ``bot.errors`` Slack's and the webhook sender's::

    ReviewBotError                  anything the user can cause or meet
    ├── ConfigError                 missing or malformed setting (env var, .env, flag)
    ├── StoppedError                the process is stopping: the step ended early, nothing lost
    ├── BusyError                   another live process is doing this work (``holder`` says
    │                               who): it is done there, not twice
    ├── SetAsideError               one delivery cannot be rendered or Slack refuses it: kept,
    │                               set aside until ``review-bot resume``
    ├── NotFoundError               a project, channel or subscription name matched nothing
    ├── StoreError                  the SQLite database cannot be opened, read or written
    │   └── StoreLockedError        another process holds the write lock too long
    ├── NexarError  (jobs.errors)   a request to Nexar failed
    │   ├── NexarAuthError          token missing, invalid or expired: sign in again
    │   │   └── NexarRefusedError   the app's credentials or the scope asked for refused
    │   ├── NexarUnavailableError   network failure, timeout, 429 or 5xx after every retry
    │   ├── NexarQueryError         the answer carried GraphQL ``errors`` (even beside data)
    │   ├── NexarWriteError         a mutation's payload listed ``errors``: nothing written
    │   └── NexarUnknownOutcomeError  a write's answer was lost: read before writing again
    ├── SlackError  (bot.errors)    a Slack Web API call failed (``code`` is Slack's error)
    │   ├── SlackAuthError          the bot token is invalid or revoked: nothing can post
    │   ├── SlackChannelError       this channel refuses posts (not found, archived, not in it)
    │   ├── SlackMessageError       Slack refused this message's content (blocks too long)
    │   ├── SlackRateLimitedError   HTTP 429: wait ``retry_after`` seconds, then try again
    │   └── SlackUnavailableError   network failure, timeout or 5xx: try again later
    └── WebhookError  (bot.errors)  a webhook endpoint cannot be sent to as it is (its
                                    secret unreadable); a failed attempt is an outcome
"""

from __future__ import annotations

from collections.abc import Sequence


class ReviewBotError(Exception):
    """Base of every error design-review-bot reports to a user."""


class ConfigError(ReviewBotError):
    """A setting is missing or malformed."""


class StoppedError(ReviewBotError):
    """The process is stopping; a step ended early and its work waits for the next start."""


class BusyError(ReviewBotError):
    """Another live process holds the claim on this work (a channel's posts, a digest
    period); ``holder`` says who, e.g. "pid 812 on host ci-3 since ..."."""

    def __init__(self, message: str, *, holder: str) -> None:
        self.holder = holder
        super().__init__(message)


class SetAsideError(ReviewBotError):
    """A delivery cannot go out as it is (unrenderable, or refused by Slack even as plain
    text); it is kept with ``reason`` and set aside until ``review-bot resume``."""

    def __init__(self, message: str, *, reason: str) -> None:
        self.reason = reason
        super().__init__(message)


class NotFoundError(ReviewBotError):
    """A name matched nothing; ``suggestions`` holds the closest known names."""

    def __init__(self, message: str, *, suggestions: Sequence[str] = ()) -> None:
        self.suggestions = list(suggestions)
        if self.suggestions:
            message = f"{message} Did you mean: {', '.join(self.suggestions)}?"
        super().__init__(message)


class StoreError(ReviewBotError):
    """The database cannot be opened, read or written."""


class StoreLockedError(StoreError):
    """Another process kept the database locked for longer than the timeout."""
