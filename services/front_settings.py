"""The settings the front door reads — Slack's signing secret, token and ids, the job queue and the
storage account, the log format — read straight from the environment, without pydantic.

Why apart from `services.settings`: importing pydantic-settings and building the `Settings` model
costs a cold start more than an acknowledgement's whole budget beside a bare Bolt app
(`bench/front_door.py`). The names, aliases, defaults and checks here are `Settings`' own for the
same fields, and `tests/services/test_front_settings.py` holds the two equal for the same
environment; `Settings.front` gives this slice from a loaded `Settings`. Everything else — the
worker, the timers, the health routes, the command line — loads `Settings`, which validates every
setting; `python -m bot doctor` and the deep health route report a setting that could not work.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

#: Azurite's well-known development account (public, documented; not a secret).
DEVELOPMENT_STORAGE = "UseDevelopmentStorage=true"
#: `Settings`' defaults and patterns for the same fields.
SLACK_API_URL = "https://slack.com/api/"
QUEUE_NAME = "acrbot-jobs"
QUEUE_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{2,62}$"
TABLE_PREFIX = "acrbot"
TABLE_PREFIX_PATTERN = r"^[A-Za-z][A-Za-z0-9]{0,30}$"
SLACK_RETRY_BACKOFF = 0.5
LogFormat = Literal["text", "json"]


@dataclass(frozen=True, slots=True)
class StorageTarget:
    """A connection string (Azurite, keys) or an account reached with the app's identity."""

    connection_string: str | None = field(default=None, repr=False)
    account_name: str | None = None

    def endpoint(self, service: str) -> str:
        """`https://<account>.<service>.core.windows.net` for identity-based access."""
        if not self.account_name:
            raise ValueError("no storage account name to build an endpoint from")
        return f"https://{self.account_name}.{service}.core.windows.net"

    @classmethod
    def of(cls, connection_string: str | None, account_name: str | None) -> StorageTarget:
        """The connection string when one is set, else the account name, else Azurite."""
        value = (connection_string or "").strip()
        if value:
            return cls(connection_string=value)
        if account_name:
            return cls(account_name=account_name)
        return cls(connection_string=DEVELOPMENT_STORAGE)


@dataclass(frozen=True, slots=True, kw_only=True)
class FrontSettings:
    """What acknowledging a Slack request needs (and telemetry's set-up, in any process)."""

    slack_signing_secret: str = field(default="", repr=False)
    slack_bot_token: str = field(default="", repr=False)
    slack_team_ids: tuple[str, ...] = ()
    slack_bot_user_id: str | None = None
    slack_bot_id: str | None = None
    slack_api_url: str = SLACK_API_URL
    slack_retry_backoff: float = SLACK_RETRY_BACKOFF
    storage: StorageTarget = field(default_factory=lambda: StorageTarget.of(None, None))
    queue_name: str = QUEUE_NAME
    table_prefix: str = TABLE_PREFIX
    log_format: LogFormat = "text"
    applicationinsights_connection_string: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FrontSettings:
        """Read as `Settings` reads the same names: `ACRBOT_<FIELD>` in any case, lists as JSON,
        the Functions host's own names for the storage account and Application Insights.
        `ValueError` names a setting that could not work."""
        env = {k.lower(): v for k, v in (os.environ if environ is None else environ).items()}

        def get(*names: str) -> str | None:
            return next((env[n.lower()] for n in names if n.lower() in env), None)

        def own(name: str) -> str | None:
            return get(f"ACRBOT_{name}")

        backoff, api_url, log_format = (
            own("SLACK_RETRY_BACKOFF"),
            own("SLACK_API_URL"),
            own("LOG_FORMAT"),
        )
        if log_format not in (None, "text", "json"):
            raise ValueError(f"ACRBOT_LOG_FORMAT is {log_format!r}: 'text' or 'json'")
        return cls(
            slack_signing_secret=own("SLACK_SIGNING_SECRET") or "",
            slack_bot_token=own("SLACK_BOT_TOKEN") or "",
            slack_team_ids=_team_ids(own("SLACK_TEAM_IDS")),
            slack_bot_user_id=own("SLACK_BOT_USER_ID"),
            slack_bot_id=own("SLACK_BOT_ID"),
            slack_api_url=SLACK_API_URL if api_url is None else api_url,
            slack_retry_backoff=_backoff(backoff) if backoff is not None else SLACK_RETRY_BACKOFF,
            storage=StorageTarget.of(
                get("ACRBOT_STORAGE_CONNECTION_STRING", "AzureWebJobsStorage"),
                get("ACRBOT_STORAGE_ACCOUNT_NAME", "AzureWebJobsStorage__accountName"),
            ),
            queue_name=_matching("QUEUE_NAME", own("QUEUE_NAME"), QUEUE_NAME, QUEUE_NAME_PATTERN),
            table_prefix=_matching(
                "TABLE_PREFIX", own("TABLE_PREFIX"), TABLE_PREFIX, TABLE_PREFIX_PATTERN
            ),
            log_format="json" if log_format == "json" else "text",
            applicationinsights_connection_string=get(
                "ACRBOT_APPLICATIONINSIGHTS_CONNECTION_STRING",
                "APPLICATIONINSIGHTS_CONNECTION_STRING",
            ),
        )


def _team_ids(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    try:
        parsed = json.loads(value)
    except ValueError:
        raise ValueError('ACRBOT_SLACK_TEAM_IDS is a JSON list: ["T0123"]') from None
    if not isinstance(parsed, list) or not all(isinstance(t, str) for t in parsed):
        raise ValueError('ACRBOT_SLACK_TEAM_IDS is a JSON list of team ids: ["T0123"]')
    return tuple(parsed)


def _backoff(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"ACRBOT_SLACK_RETRY_BACKOFF is {value!r}: a number of seconds") from None
    if not seconds >= 0:
        raise ValueError(f"ACRBOT_SLACK_RETRY_BACKOFF is {value!r}: 0 or more seconds")
    return seconds


def _matching(name: str, value: str | None, default: str, pattern: str) -> str:
    if value is None:
        return default
    if re.search(pattern, value) is None:
        raise ValueError(f"ACRBOT_{name} is {value!r}, which does not match {pattern}")
    return value
