"""The downstream side's errors: Slack's, raised where ``bot.slack.client`` meets slack_sdk,
and the webhook sender's (the whole tree is drawn in ``state.errors``); and the one-line
reason given for a message that cannot be rendered."""

from __future__ import annotations

from state.errors import ReviewBotError


class SlackError(ReviewBotError):
    """A Slack Web API call failed; ``code`` is Slack's error string."""

    def __init__(self, message: str, *, code: str = "") -> None:
        self.code = code
        super().__init__(message)


class SlackAuthError(SlackError):
    """The bot token is invalid, revoked or its account inactive."""


class SlackChannelError(SlackError):
    """This channel refuses the bot's posts until a person fixes it."""


class SlackMessageError(SlackError):
    """Slack refused the message's content."""


class SlackRateLimitedError(SlackError):
    """Slack answered 429; ``retry_after`` is how long it asked to wait."""

    def __init__(self, message: str, *, retry_after: float, code: str = "ratelimited") -> None:
        self.retry_after = retry_after
        super().__init__(message, code=code)


class SlackUnavailableError(SlackError):
    """Slack could not be reached, timed out or answered 5xx."""


class WebhookError(ReviewBotError):
    """A webhook endpoint could not be sent to as it is (its secret unreadable, its sending
    failed in a way no retry heals); the message never shows a secret or a header value."""


REASON_LIMIT = 300


def render_failure(exc: Exception) -> str:
    """The reason a renderer failed, short and on one line."""
    detail = " ".join(str(exc).split())
    if len(detail) > REASON_LIMIT:
        detail = detail[:REASON_LIMIT - 1] + "…"
    return f"could not be rendered ({type(exc).__name__}: {detail})" if detail else (
        f"could not be rendered ({type(exc).__name__})")
