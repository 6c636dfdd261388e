"""The front door's settings read from the environment (`FrontSettings.from_env`, no pydantic) are
the ones `Settings` reads from the same environment (`Settings().front`): the same names in any
case, the same aliases and their order, defaults, JSON lists and checks."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsError

from services.front_settings import FrontSettings, StorageTarget
from services.settings import DEVELOPMENT_STORAGE, Settings

KEYED = (
    "DefaultEndpointsProtocol=https;AccountName=stacrbot;AccountKey=c2VjcmV0c2VjcmV0;"
    "EndpointSuffix=core.windows.net"
)
INSIGHTS = "InstrumentationKey=00000000-0000-0000-0000-000000000000"

ENVIRONMENTS: dict[str, dict[str, str]] = {
    "nothing set": {},
    "everything set": {
        "ACRBOT_SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
        "ACRBOT_SLACK_BOT_TOKEN": "xoxb-1-2-3",
        "ACRBOT_SLACK_TEAM_IDS": '["T0AAA", "T0BBB"]',
        "ACRBOT_SLACK_BOT_USER_ID": "U0BOT",
        "ACRBOT_SLACK_BOT_ID": "B0BOT",
        "ACRBOT_SLACK_API_URL": "http://127.0.0.1:9/api/",
        "ACRBOT_SLACK_RETRY_BACKOFF": "0",
        "AzureWebJobsStorage": KEYED,
        "ACRBOT_QUEUE_NAME": "jobs-2",
        "ACRBOT_TABLE_PREFIX": "acrbotstaging",
        "ACRBOT_LOG_FORMAT": "json",
        "APPLICATIONINSIGHTS_CONNECTION_STRING": INSIGHTS,
    },
    "names in another case, a number with spaces": {
        "acrbot_slack_signing_secret": "lower",
        "Acrbot_Queue_Name": "mixed-case",
        "ACRBOT_SLACK_RETRY_BACKOFF": " 2.5 ",
        "azurewebjobsstorage": KEYED,
    },
    "the app's own names before the host's": {
        "ACRBOT_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true;x=1",
        "AzureWebJobsStorage": KEYED,
        "ACRBOT_APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=own",
        "APPLICATIONINSIGHTS_CONNECTION_STRING": INSIGHTS,
    },
    "identity-based storage": {"AzureWebJobsStorage__accountName": "stacrbot"},
    "an empty connection string falls back to the account": {
        "AzureWebJobsStorage": "  ",
        "ACRBOT_STORAGE_ACCOUNT_NAME": "stacrbot",
    },
    "empty texts stay empty": {"ACRBOT_SLACK_BOT_USER_ID": "", "ACRBOT_SLACK_API_URL": ""},
    "an empty team list": {"ACRBOT_SLACK_TEAM_IDS": "[]"},
}

INVALID: dict[str, dict[str, str]] = {
    "a queue name Storage refuses": {"ACRBOT_QUEUE_NAME": "Jobs_Queue"},
    "a table prefix Storage refuses": {"ACRBOT_TABLE_PREFIX": "1acrbot"},
    "team ids that are not JSON": {"ACRBOT_SLACK_TEAM_IDS": "T0AAA,T0BBB"},
    "team ids that are not texts": {"ACRBOT_SLACK_TEAM_IDS": "[1]"},
    "one team id, not a list": {"ACRBOT_SLACK_TEAM_IDS": '"T0AAA"'},
    "an empty team list setting": {"ACRBOT_SLACK_TEAM_IDS": ""},
    "a negative back-off": {"ACRBOT_SLACK_RETRY_BACKOFF": "-1"},
    "a back-off that is not a number": {"ACRBOT_SLACK_RETRY_BACKOFF": "soon"},
    "a log format there is none of": {"ACRBOT_LOG_FORMAT": "xml"},
}


def _environment(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> dict[str, str]:
    for key in [k for k in os.environ if k.upper().startswith("ACRBOT_")]:
        monkeypatch.delenv(key)
    for key in ("AzureWebJobsStorage", "APPLICATIONINSIGHTS_CONNECTION_STRING"):
        monkeypatch.delenv(key, raising=False)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return dict(os.environ)


@pytest.mark.parametrize("values", ENVIRONMENTS.values(), ids=ENVIRONMENTS.keys())
def test_the_front_door_reads_what_settings_read(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, str]
) -> None:
    environ = _environment(monkeypatch, values)

    assert FrontSettings.from_env(environ) == Settings().front


@pytest.mark.parametrize("values", INVALID.values(), ids=INVALID.keys())
def test_a_setting_that_could_not_work_stops_both(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, str]
) -> None:
    environ = _environment(monkeypatch, values)

    with pytest.raises(ValueError, match="ACRBOT_"):
        FrontSettings.from_env(environ)
    with pytest.raises((ValidationError, SettingsError)):
        Settings()


def test_without_storage_settings_the_front_door_uses_the_local_emulator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    front = FrontSettings.from_env(_environment(monkeypatch, {}))

    assert front.storage == StorageTarget(connection_string=DEVELOPMENT_STORAGE)


def test_no_secret_shows_in_the_front_door_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    front = FrontSettings.from_env(_environment(monkeypatch, ENVIRONMENTS["everything set"]))

    shown = repr(front)
    assert "8f742231" not in shown
    assert "xoxb-1-2-3" not in shown
    assert "c2VjcmV0c2VjcmV0" not in shown
    assert "InstrumentationKey" not in shown
