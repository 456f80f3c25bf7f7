"""The ``auth`` group: ``login``, ``status`` and ``logout`` for the bot's Nexar sign-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from bot import service
from bot.cli.group import cli, load_config, on_interrupt
from jobs.auth import DESIGN_SCOPES, TokenManager, jwt_claims
from jobs.errors import NexarAuthError
from jobs.login import login
from state.clock import stamp


@cli.group()
def auth() -> None:
    """Sign in to Nexar once; the bot then keeps itself signed in.

    Needs NEXAR_CLIENT_ID and NEXAR_CLIENT_SECRET (a Nexar app with the Design scope).
    Tokens are kept in REVIEW_BOT_TOKEN_STORE: 'file:PATH' (default
    ~/.config/review-bot/nexar-tokens.json, readable by you only) or 'db'.
    """


@auth.command("login")
@click.option("--supply", is_flag=True, help="Also ask for supply.domain (part data).")
@click.option("--no-browser", is_flag=True, help="Only print the address to open.")
@click.option("--timeout", type=click.FloatRange(min=5), default=300, show_default=True,
              help="Seconds to wait for the browser to come back.")
def auth_login(supply: bool, no_browser: bool, timeout: float) -> None:
    """Sign in through the browser (authorization code with PKCE) and keep the tokens."""
    on_interrupt("Interrupted: the sign-in was not finished and nothing was changed "
                  "(an earlier sign-in is kept).")
    config = load_config()
    manager = TokenManager(settings=config.oauth(), store=config.tokens())
    scopes = DESIGN_SCOPES + (("supply.domain",) if supply else ())
    tokens = login(manager, scopes=scopes, echo=click.echo, open_browser=not no_browser,
                   timeout=timeout)
    lasting = "refreshes itself" if tokens.refresh_token else "lasts until it expires"
    click.echo(f"Signed in. The token is valid until {tokens.expires_at} and {lasting}; "
               f"kept in {config.tokens().describe()}.")


@auth.command("status")
def auth_status() -> None:
    """Who is signed in, to which workspaces, and until when; whether supply data is on."""
    config = load_config()
    if config.nexar_token:
        click.echo("Using the fixed NEXAR_TOKEN (it is never refreshed).")
        claims = jwt_claims(config.nexar_token)
        if "exp" in claims:
            expiry = datetime.fromtimestamp(int(claims["exp"]), UTC)
            click.echo(f"It expires {stamp(expiry)}.")
    else:
        store = config.tokens()
        tokens = store.load()
        if tokens is None:
            raise NexarAuthError("not signed in: run 'review-bot auth login'")
        left = tokens.expires() - datetime.now(UTC)
        state = (f"valid for {_duration(left)}" if left.total_seconds() > 0
                 else "expired (it is refreshed at the next request)")
        click.echo(f"Access token until {tokens.expires_at} ({state}); refresh token: "
                   f"{'yes' if tokens.refresh_token else 'no, a daily sign-in is needed'}; "
                   f"kept in {store.describe()}.")
    with service.nexar_client(config) as client:
        me = client.me()
        workspaces = client.workspaces()
    who = f"{me.display} <{me.email}>" if me and me.email else (me.display if me else "?")
    click.echo(f"Signed in as {who}.")
    for w in workspaces:
        click.echo(f"  {w.name}  {w.url}  ({w.region})")
    click.echo(service.supply(config).describe())


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


@auth.command("logout")
def auth_logout() -> None:
    """Forget the stored tokens."""
    store = load_config().tokens()
    click.echo(f"Signed out; removed the tokens from {store.describe()}." if store.clear()
               else "Not signed in; nothing to remove.")
