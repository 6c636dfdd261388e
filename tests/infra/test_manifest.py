"""`manifest.template.json`: the Slack app the README installs, once the postprovision hook has
put this deployment's request URL in it (`.azure/<env>/slack-manifest.json`). Its ids are wired
to handlers by name, so a rename here must be a rename there too; its scopes are exactly what the
bot calls, and what `python -m bot doctor` checks the token for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: The placeholder the postprovision hook replaces (tests/infra/test_hooks.py renders it).
REQUEST_URL = "${SLACK_REQUEST_URL}"


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data = json.loads((ROOT / "manifest.template.json").read_text(encoding="utf-8"))
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
        # Finding its own earlier post after a crash, in a public or private approvals channel.
        "channels:history",
        "chat:write",
        "commands",
        # A log attached to a DM or a mention, or a snippet of a long paste (bot/files.py).
        "files:read",
        "groups:history",
        "im:history",
        "im:write",
        "reactions:write",
        "usergroups:read",
    ]
    assert "user" not in manifest["oauth_config"]["scopes"]


def test_the_doctor_checks_the_token_for_exactly_the_manifests_scopes(
    manifest: dict[str, Any],
) -> None:
    from bot.doctor import REQUIRED_SCOPES

    assert set(manifest["oauth_config"]["scopes"]["bot"]) == REQUIRED_SCOPES


def test_no_scope_without_a_caller() -> None:
    # users:read went with the last users.info call; a scope nobody uses is a needless grant.
    code = "".join(
        p.read_text(encoding="utf-8") for d in ("bot", "services") for p in (ROOT / d).rglob("*.py")
    )
    assert "users_info" not in code
    assert "users.info" not in code


def test_app_home_with_home_and_messages_tabs(manifest: dict[str, Any]) -> None:
    home = manifest["features"]["app_home"]
    assert home["home_tab_enabled"] is True
    assert home["messages_tab_enabled"] is True
    # People send the bot their paste in a direct message.
    assert home["messages_tab_read_only_enabled"] is False
    assert manifest["features"]["bot_user"]["display_name"]
    assert len(manifest["display_information"]["description"]) <= 140
