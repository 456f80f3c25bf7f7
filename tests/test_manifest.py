"""The Slack app manifests validate against Slack's published manifest schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from sandbox.slack.workspace import BOT_SCOPES as SANDBOX_SCOPES

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((Path(__file__).parent / "data" / "slack-manifest.schema.json").read_text())
MANIFESTS = ["manifest.yml", "manifest-http.yml"]
BOT_SCOPES = {"chat:write", "commands", "users:read", "users:read.email", "channels:read",
              "groups:read", "channels:history", "groups:history", "app_mentions:read",
              "links:read", "links:write", "reactions:write"}


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("name", MANIFESTS)
def test_manifest_validates_against_slacks_schema(name: str) -> None:
    jsonschema.Draft7Validator(SCHEMA).validate(load(name))


def test_the_schema_catches_a_broken_manifest() -> None:
    broken = load("manifest.yml")
    broken["display_information"]["name"] = "x" * 36
    broken["features"]["slash_commands"][0]["command"] = "review"
    errors = list(jsonschema.Draft7Validator(SCHEMA).iter_errors(broken))
    assert len(errors) == 2


@pytest.mark.parametrize("name", MANIFESTS)
def test_least_bot_scopes_and_the_review_command(name: str) -> None:
    manifest = load(name)
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == BOT_SCOPES
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/review"
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True


def test_socket_mode_and_http_mode_differ_only_in_transport() -> None:
    socket, http = load("manifest.yml"), load("manifest-http.yml")
    assert socket["settings"]["socket_mode_enabled"] is True
    assert http["settings"]["socket_mode_enabled"] is False
    urls = [http["settings"]["event_subscriptions"]["request_url"],
            http["settings"]["interactivity"]["request_url"],
            http["features"]["slash_commands"][0]["url"]]
    assert all(url.endswith("/slack/events") for url in urls)
    for manifest in (socket, http):
        manifest["settings"].pop("socket_mode_enabled")
        manifest["settings"]["event_subscriptions"].pop("request_url", None)
        manifest["settings"]["interactivity"].pop("request_url", None)
        manifest["features"]["slash_commands"][0].pop("url", None)
    assert socket == http


def test_the_local_slack_grants_exactly_the_scopes_the_manifest_asks_for() -> None:
    assert SANDBOX_SCOPES == BOT_SCOPES
