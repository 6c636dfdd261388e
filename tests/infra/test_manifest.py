"""`manifest.json`: the Slack app the README creates. Its ids are wired to handlers by name, so a
rename here must be a rename there too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUEST_URL = "https://<your-function-app>.azurewebsites.net/api/slack/events"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data = json.loads((ROOT / "manifest.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_slash_command(manifest: dict[str, Any]) -> None:
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/acr-why"
    assert command["usage_hint"] == "paste the error"
    assert command["url"] == REQUEST_URL
    assert command["should_escape"] is False


def test_message_shortcut(manifest: dict[str, Any]) -> None:
    (shortcut,) = manifest["features"]["shortcuts"]
    assert shortcut == {
        "name": "Diagnose pull error",
        "type": "message",
        "callback_id": "diagnose_pull_error",
        "description": shortcut["description"],
    }
    assert len(shortcut["description"]) <= 150


def test_events_and_interactivity_go_to_the_one_route(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert sorted(settings["event_subscriptions"]["bot_events"]) == [
        "app_home_opened",
        "app_mention",
        "message.im",
    ]
    assert settings["event_subscriptions"]["request_url"] == REQUEST_URL
    assert settings["interactivity"] == {"is_enabled": True, "request_url": REQUEST_URL}
    assert settings["socket_mode_enabled"] is False


def test_minimum_scopes(manifest: dict[str, Any]) -> None:
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == [
        "app_mentions:read",
        "chat:write",
        "commands",
        "im:history",
        "im:write",
        "reactions:write",
        "usergroups:read",
        "users:read",
    ]
    assert "user" not in manifest["oauth_config"]["scopes"]


def test_app_home_with_home_and_messages_tabs(manifest: dict[str, Any]) -> None:
    home = manifest["features"]["app_home"]
    assert home["home_tab_enabled"] is True
    assert home["messages_tab_enabled"] is True
    # People send the bot their paste in a direct message.
    assert home["messages_tab_read_only_enabled"] is False
    assert manifest["features"]["bot_user"]["display_name"]
    assert len(manifest["display_information"]["description"]) <= 140
