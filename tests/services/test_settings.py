"""Settings from the environment: validated at load, secrets never shown."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from services.settings import DEVELOPMENT_STORAGE, Settings

KEY = "AccountKey=c2VjcmV0c2VjcmV0c2VjcmV0"


def test_the_storage_connection_string_is_a_secret(monkeypatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", f"DefaultEndpointsProtocol=https;AccountName=a;{KEY}")
    settings = Settings()
    assert KEY not in repr(settings)
    assert KEY not in str(settings.model_dump())
    target = settings.storage
    assert KEY not in repr(target)
    assert target.connection_string is not None
    assert KEY in target.connection_string


def test_identity_based_storage_uses_the_account_name(monkeypatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage__accountName", "stacrbot")
    target = Settings().storage
    assert target.connection_string is None
    assert target.endpoint("queue") == "https://stacrbot.queue.core.windows.net"


def test_without_storage_settings_the_local_emulator_is_used() -> None:
    target = Settings().storage
    assert target.connection_string is not None
    assert target.connection_string == DEVELOPMENT_STORAGE


def test_nested_policy_and_registries_come_from_json_and_double_underscores(monkeypatch) -> None:
    monkeypatch.setenv("ACRBOT_POLICY__MAX_DURATION", "PT8H")
    monkeypatch.setenv("ACRBOT_POLICY__ALLOWED_DURATIONS", '["PT1H", "PT4H", "PT8H"]')
    monkeypatch.setenv(
        "ACRBOT_REGISTRIES",
        json.dumps([{"name": "contoso", "subscription_id": "s", "resource_group": "rg"}]),
    )
    settings = Settings()
    assert settings.policy.max_duration.total_seconds() == 8 * 3600
    assert settings.directory.get("contoso.azurecr.io").name == "contoso"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ACRBOT_POLICY__DEFAULT_DURATION", "PT2H"),
        ("ACRBOT_POLICY__PENDING_TTL", "PT0S"),
        ("ACRBOT_KNOWN_IPS", '{"not-an-ip": "label"}'),
        ("ACRBOT_REGISTRIES", '[{"name": "x"}]'),
        ("ACRBOT_ARM__LOCK_LEASE_SECONDS", "5"),
    ],
)
def test_settings_that_could_not_work_stop_the_app_at_start(monkeypatch, name, value) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()
