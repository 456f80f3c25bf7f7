"""Every error design-review-bot raises on purpose, in one tree.

The CLI prints any of them as one ``Error: ...`` line; third-party exceptions (httpx,
sqlite3, slack_sdk) are translated into these where they are met, never passed through::

    ReviewBotError                  anything the user can cause or meet
    ├── ConfigError                 missing or malformed setting (env var, .env, flag)
    ├── NotFoundError               a project, channel or subscription name matched nothing
    ├── StoreError                  the SQLite database cannot be opened, read or written
    │   └── StoreLockedError        another process holds the write lock too long
    └── NexarError                  a fetch from Nexar failed; nothing was written for it
        ├── NexarAuthError          token missing, invalid or expired: sign in again
        ├── NexarUnavailableError   network failure, timeout, 429 or 5xx after every retry
        └── NexarQueryError         the answer carried GraphQL ``errors`` (even beside data)
"""

from __future__ import annotations

from collections.abc import Sequence


class ReviewBotError(Exception):
    """Base of every error design-review-bot reports to a user."""


class ConfigError(ReviewBotError):
    """A setting is missing or malformed."""


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


class NexarError(ReviewBotError):
    """A request to Nexar failed. ``request_id`` is Nexar's, for support tickets."""

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        self.request_id = request_id
        if request_id:
            message = f"{message} (Nexar request id {request_id})"
        super().__init__(message)


class NexarAuthError(NexarError):
    """Nexar refused the token: it is missing, invalid, expired or lacks access."""


class NexarUnavailableError(NexarError):
    """Nexar could not be reached or kept failing (timeouts, 429, 5xx) after retries."""


class NexarQueryError(NexarError):
    """Nexar answered with GraphQL errors; the fetch counts as failed, not as empty."""
