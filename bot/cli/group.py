"""The root ``review-bot`` group: error handling, ``--db``/``--log-level``, settings, entry point.

Every error a user can cause or meet ends as one ``Error: ...`` line and a non-zero exit.
The command modules register themselves on ``cli``; this module imports none of them.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import click
from dotenv import dotenv_values

from bot import logs
from bot.config import Config
from state.errors import ReviewBotError
from state.store import Store

EXIT_INTERRUPTED = 130

# The package's name, so log lines keep naming ``bot.cli`` as before the split.
log = logging.getLogger("bot.cli")


INTERRUPTED = "interrupted"


class ReviewBotGroup(click.Group):
    """Turns our errors into one ``Error:`` line; Ctrl-C into a short notice.

    The notice is the running command's own (set with ``on_interrupt``), else
    "Interrupted.": only a poll can promise that every project written is complete.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ReviewBotError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            click.echo(str(ctx.meta.get(INTERRUPTED) or "Interrupted."), err=True)
            sys.exit(EXIT_INTERRUPTED)
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            # The reader (``| head``) left: stop quietly, as other command-line tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except Exception as exc:
            log.debug("unexpected failure", exc_info=True)
            _fail(f"unexpected {type(exc).__name__}: {exc} "
                  "(run with --log-level debug for the details)")


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def on_interrupt(message: str) -> None:
    """What Ctrl-C during the running command says (it must be true for that command)."""
    click.get_current_context().meta[INTERRUPTED] = message


DB_GIVEN = "db-given"
DB_HELP = "SQLite file (default: $REVIEW_BOT_DB or ./review-bot.db)."
LOG_LEVELS = click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False)
LOG_HELP = ("How much to log on stderr (default WARNING: one line per problem; INFO adds "
            "retries and library warnings).")


@click.group(cls=ReviewBotGroup)
@click.option("--db", "db_path", metavar="PATH", help=DB_HELP)
@click.option("--log-level", default="WARNING", show_default=True, type=LOG_LEVELS,
              help=LOG_HELP)
@click.version_option(package_name="design-review-bot")
@click.pass_context
def cli(ctx: click.Context, db_path: str | None, log_level: str) -> None:
    """design-review-bot: Altium 365 design review, polled into SQLite and posted to Slack.

    Every command takes --db PATH and --log-level, before or after its name.

    \b
    Settings come from the environment or a .env file in the working folder (the
    environment wins); the README's Configuration table explains each one:
      Nexar  NEXAR_CLIENT_ID, NEXAR_CLIENT_SECRET, NEXAR_TOKEN, NEXAR_IDENTITY_URL,
             NEXAR_REDIRECT_URI, REVIEW_BOT_TOKEN_STORE, NEXAR_API_URL,
             NEXAR_WORKSPACE_URL
      Slack  SLACK_BOT_TOKEN, SLACK_APP_TOKEN, SLACK_SIGNING_SECRET, PORT,
             SLACK_API_URL, REVIEW_BOT_POST_INTERVAL, REVIEW_BOT_OPS_CHANNEL,
             REVIEW_BOT_ADMINS, REVIEW_BOT_PROJECTS
      Bot    REVIEW_BOT_DB, REVIEW_BOT_POLL_INTERVAL, REVIEW_BOT_TZ, REVIEW_BOT_SUPPLY,
             REVIEW_BOT_SUPPLY_STOCK_FACTOR, REVIEW_BOT_SUPPLY_MAX_LEAD_WEEKS
    """
    _load_dotenv(Path(".env"))
    config = Config.from_env()
    if db_path:
        config = replace(config, db_path=db_path)
        ctx.meta[DB_GIVEN] = True
    logs.configure(log_level, secrets=config.secrets())
    ctx.obj = config


def _sub_db(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--db`` given after a command's name: the same as before it."""
    if value:
        ctx.obj = replace(ctx.find_object(Config) or Config.from_env(), db_path=value)
        ctx.meta[DB_GIVEN] = True
    return value


def _sub_log_level(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """``--log-level`` given after a command's name: the same as before it."""
    if value:
        config = ctx.find_object(Config)
        logs.configure(value, secrets=config.secrets() if config else [])
    return value


def add_common_options(group: click.Group) -> None:
    """Give every command ``--db`` and ``--log-level``, so either place works.

    Called once, after every command module has registered its commands.
    """
    for command in group.commands.values():
        if isinstance(command, click.Group):
            add_common_options(command)
            continue
        command.params.extend([
            click.Option(["--db"], metavar="PATH", help=DB_HELP, expose_value=False,
                         callback=_sub_db, is_eager=True),
            click.Option(["--log-level"], type=LOG_LEVELS, help=LOG_HELP,
                         expose_value=False, callback=_sub_log_level, is_eager=True),
        ])


def _load_dotenv(path: Path) -> None:
    """Fill settings that the environment leaves unset or empty from a ``.env`` file."""
    if not path.is_file():
        return
    for key, value in dotenv_values(path).items():
        if value is not None and not os.environ.get(key):
            os.environ[key] = value


def load_config() -> Config:
    config = click.get_current_context().obj
    assert isinstance(config, Config)
    return config


@contextmanager
def open_store() -> Iterator[Store]:
    with Store.open(load_config().db_path) as store:
        yield store


def print_table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def main(argv: list[str] | None = None, *, prog_name: str = "review-bot") -> None:
    """Console entry point."""
    cli.main(args=argv, prog_name=prog_name)
