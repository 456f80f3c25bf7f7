"""Wiring: the poller, delivery and schedule built from the configuration.

The one place that knows which concrete pieces go together; the CLI calls it, tests call
the pieces directly with their own servers and clocks.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.cards import Cards
from bot.config import Config
from jobs.deliver import Deliverer, DeliveryReport
from jobs.nexar import NexarClient
from jobs.poll import Clock, Poller, PollReport, utc_now
from jobs.schedule import Schedule
from jobs.slack import SlackClient
from state.store import Store


def nexar_client(config: Config) -> NexarClient:
    return NexarClient(token=config.require_token(), api_url=config.nexar_api_url,
                       workspace_url=config.nexar_workspace_url)


def slack_client(config: Config) -> SlackClient:
    return SlackClient(token=config.require_slack(), api_url=config.slack_api_url)


def poll_once(config: Config, *, clock: Clock = utc_now) -> PollReport:
    """One poll into the configured database."""
    with Store.open(config.db_path) as store, nexar_client(config) as client:
        return Poller(client=client, store=store, clock=clock).poll_once()


def deliver_once(config: Config, *, clock: Clock = utc_now,
                 sleep: Callable[[float], None] = time.sleep) -> DeliveryReport:
    """Post everything the outbox owes to Slack."""
    slack = slack_client(config)
    with Store.open(config.db_path) as store:
        return Deliverer(store=store, slack=slack, renderer=Cards(), clock=clock,
                         sleep=sleep, min_interval=config.post_interval).deliver()


def schedule(config: Config) -> Schedule:
    """Poll every interval and deliver after each poll and on a retry timer."""

    return Schedule(poll=lambda: poll_once(config), deliver=lambda: deliver_once(config),
                    interval=config.poll_interval)
