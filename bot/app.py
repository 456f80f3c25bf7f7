"""The slack-bolt app: listeners grouped by kind, each module with its ``register(app)``."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient

from bot import commands, home


def build_app(*, client: WebClient, signing_secret: str, db_path: str,
              process_before_response: bool = False) -> App:
    """A bolt app whose Web API calls go through ``client`` (real Slack or a local one)."""
    app = App(client=client, signing_secret=signing_secret, token_verification_enabled=False,
              process_before_response=process_before_response)
    home.register(app, db_path=db_path)
    commands.register(app, db_path=db_path)
    return app
