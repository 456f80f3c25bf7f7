"""Nexar's errors, raised where the Nexar client meets httpx and GraphQL (the whole tree is
drawn in ``state.errors``)."""

from __future__ import annotations

from state.errors import ReviewBotError


class NexarError(ReviewBotError):
    """A request to Nexar failed. ``request_id`` is Nexar's, for support tickets."""

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        self.request_id = request_id
        if request_id:
            message = f"{message} (Nexar request id {request_id})"
        super().__init__(message)


class NexarAuthError(NexarError):
    """Nexar refused the token: it is missing, invalid, expired or lacks access."""


class NexarRefusedError(NexarAuthError):
    """The identity server refused the app's credentials, or the scope it asked for: asking
    again changes nothing until the app is changed at nexar.com."""


class NexarUnavailableError(NexarError):
    """Nexar could not be reached or kept failing (timeouts, 429, 5xx) after retries."""


class NexarQueryError(NexarError):
    """Nexar answered with GraphQL errors; the fetch counts as failed, not as empty."""


class NexarWriteError(NexarError):
    """Nexar refused a write: the mutation's payload listed ``errors`` (thread deleted, no
    permission, not the comment's author). Nothing was written; ``messages`` are Nexar's."""

    def __init__(self, message: str, *, messages: tuple[str, ...] = (),
                 request_id: str | None = None) -> None:
        self.messages = messages
        super().__init__(message, request_id=request_id)


class NexarUnknownOutcomeError(NexarError):
    """A write was sent but its answer was lost (timeout, dropped connection, a gateway's
    bare 5xx): it may or may not have been applied. Read before writing it again."""
