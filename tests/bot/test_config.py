"""Settings parsed from the environment."""

from __future__ import annotations

import pytest

from bot.config import Config
from state.errors import ConfigError


@pytest.mark.parametrize(("value", "on"), [
    (None, True), ("", True), ("on", True), (" On ", True), ("off", False), ("OFF", False),
])
def test_supply_switch(value: str | None, on: bool) -> None:
    env = {} if value is None else {"REVIEW_BOT_SUPPLY": value}
    assert Config.from_env(env).supply is on


@pytest.mark.parametrize("value", ["no", "false", "0", "auto"])
def test_supply_switch_is_on_or_off_only(value: str) -> None:
    with pytest.raises(ConfigError, match="REVIEW_BOT_SUPPLY must be 'on' or 'off'"):
        Config.from_env({"REVIEW_BOT_SUPPLY": value})
