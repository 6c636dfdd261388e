"""All configuration, loaded once from the environment (Function app settings), pydantic-settings.

Environment names are `ACRBOT_<FIELD>`; nested sections use `__` (`ACRBOT_ARM__DRY_RUN=true`);
lists and maps are JSON (`ACRBOT_REGISTRIES='[{"name": "contoso", ...}]'`). The storage account is
the Function app's own: a connection string in `AzureWebJobsStorage` (or
`ACRBOT_STORAGE_CONNECTION_STRING`), or, with a managed identity,
`AzureWebJobsStorage__accountName`.
Everything is validated here, so a setting that could not work stops the app at start-up.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import TYPE_CHECKING, Self

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.domain.policy import Policy, RegistryConfig, RegistryDirectory
from services.front_settings import (
    DEVELOPMENT_STORAGE,
    QUEUE_NAME,
    QUEUE_NAME_PATTERN,
    SLACK_API_URL,
    SLACK_RETRY_BACKOFF,
    TABLE_PREFIX,
    TABLE_PREFIX_PATTERN,
    FrontSettings,
    LogFormat,
    StorageTarget,
)

if TYPE_CHECKING:
    from services.domain.reconcile import ReconcileTiming

__all__ = ["DEVELOPMENT_STORAGE", "ArmSettings", "ServiceTagSettings", "Settings", "StorageTarget"]


class ArmSettings(BaseModel):
    """How the bot reaches Azure Resource Manager."""

    #: ARM endpoint; tests and the demo point it at the loopback emulator.
    endpoint: str = "https://management.azure.com"
    #: A CA bundle to trust for `endpoint` (the emulator's throw-away CA); None: system CAs.
    ca_bundle: str | None = None
    #: Seconds between long-running-operation polls when ARM sends no Retry-After.
    polling_interval: float = Field(default=5.0, ge=0)
    retry_total: int = Field(default=6, ge=0)
    retry_backoff_factor: float = Field(default=0.8, ge=0)
    retry_backoff_max: float = Field(default=60.0, ge=0)
    #: Seconds to wait for ARM's answer before the call counts as failed (and is retried).
    read_timeout: float = Field(default=60.0, gt=0)
    #: How long a registry's state read for a diagnosis is reused, in seconds (0: never).
    state_cache_seconds: float = Field(default=15.0, ge=0)
    #: Log what a reconcile would write and write nothing.
    dry_run: bool = False
    #: Per-registry write lock (blob lease): lease length (Azure accepts 15 to 60 seconds).
    lock_lease_seconds: int = Field(default=30, ge=15, le=60)
    lock_container: str = "acrbot-locks"
    #: When a registry's lock is busy, its reconcile is queued again after this many seconds.
    busy_retry_seconds: float = Field(default=2.0, ge=0)
    #: After ARM failed for a reconcile, it is queued again after this many seconds (doubling).
    failure_retry_seconds: float = Field(default=20.0, ge=0)
    #: How long after a write was sent ARM may still apply it when no answer said it did (a
    #: process killed during the PATCH, a read time-out): the registry is not written again
    #: until then, unless a read shows the write landed. ARM's own request time-out is a minute.
    write_fence_seconds: float = Field(default=120.0, gt=0)

    @property
    def timing(self) -> ReconcileTiming:
        # Imported here: the HTTP function's acknowledgement loads the settings, not this.
        from services.domain.reconcile import ReconcileTiming  # noqa: PLC0415

        return ReconcileTiming(
            busy_retry=timedelta(seconds=self.busy_retry_seconds),
            failure_retry=timedelta(seconds=self.failure_retry_seconds),
            max_retry=timedelta(minutes=5),
            write_fence=timedelta(seconds=self.write_fence_seconds),
        )


class ServiceTagSettings(BaseModel):
    """Where Azure's service tags come from: fetched daily for these regions, or a file."""

    locations: tuple[str, ...] = ()
    #: A ServiceTags_Public JSON file, used when nothing was fetched yet.
    file: str | None = None
    #: The subscription whose `serviceTags` endpoint the daily refresh asks (the app's own; the
    #: template sets it).
    subscription_id: str = ""
    #: How often the diagnosis checks whether the stored document changed (its ETag), in seconds.
    check_seconds: float = Field(default=300.0, ge=0)
    #: Tags older than this are not trusted to tell Azure's addresses apart: no temporary rule is
    #: offered for a public address until they are refreshed (Microsoft publishes weekly).
    max_age_hours: float = Field(default=192.0, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ACRBOT_",
        env_nested_delimiter="__",
        extra="ignore",
        populate_by_name=True,
    )

    storage_connection_string: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("ACRBOT_STORAGE_CONNECTION_STRING", "AzureWebJobsStorage"),
    )
    #: Identity-based storage (no key): the account name; endpoints are derived from it.
    storage_account_name: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "ACRBOT_STORAGE_ACCOUNT_NAME", "AzureWebJobsStorage__accountName"
        ),
    )
    table_prefix: str = Field(default=TABLE_PREFIX, pattern=TABLE_PREFIX_PATTERN)
    queue_name: str = Field(default=QUEUE_NAME, pattern=QUEUE_NAME_PATTERN)
    data_container: str = "acrbot-data"

    registries: tuple[RegistryConfig, ...] = ()
    #: The organisation's known egress IPs: IP or CIDR → label ("NAT gateway prod-westeurope").
    known_ips: dict[str, str] = Field(default_factory=dict)
    #: Cards look up the egress a paste hid and whose a pasted address is, when the app's
    #: identity may read the registries' subscriptions (the template's `grantEgressLookupRead`);
    #: without that access Azure refuses and the cards give the manual advice. False: never ask.
    egress_lookup: bool = True

    slack_bot_token: SecretStr = SecretStr("")
    slack_signing_secret: SecretStr = SecretStr("")
    #: Socket Mode only (`python -m bot socket`): the app-level token, `xapp-…`.
    slack_app_token: SecretStr = SecretStr("")
    #: Slack Web API base URL; tests point it at the loopback emulator.
    slack_api_url: str = SLACK_API_URL
    #: The Slack workspaces (team ids) the bot answers; requests from others are refused.
    slack_team_ids: tuple[str, ...] = ()
    #: The bot's own Slack user and bot ids (so the HTTP function never needs `auth.test`).
    slack_bot_user_id: str | None = None
    slack_bot_id: str | None = None
    #: Where approval cards go for registries that name no channel of their own.
    slack_approvals_channel: str | None = None
    #: Seconds the Slack SDK's retries of 5xx answers and dropped connections back off from
    #: (doubling, with jitter in proportion); 0.5 is the SDK's own default. Tests set 0.
    slack_retry_backoff: float = Field(default=SLACK_RETRY_BACKOFF, ge=0)

    #: Seconds before a notice that arrived ahead of its change looks again, once per entry; after
    #: the last it is dropped (its change never happened).
    notice_recheck_seconds: tuple[float, ...] = (5, 15, 30, 60, 120, 300)

    service_tags: ServiceTagSettings = Field(default_factory=ServiceTagSettings)
    arm: ArmSettings = Field(default_factory=ArmSettings)
    policy: Policy = Field(default_factory=Policy)
    #: `json`: one JSON object per log line (fields included); `text`: the host's own format.
    log_format: LogFormat = "text"
    #: Application Insights (set by the template). Unset: no OpenTelemetry at all.
    applicationinsights_connection_string: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "ACRBOT_APPLICATIONINSIGHTS_CONNECTION_STRING", "APPLICATIONINSIGHTS_CONNECTION_STRING"
        ),
    )
    #: What `GET /api/health` reports as the version after pyproject.toml's (a build id, a commit).
    build: str | None = None
    #: The health route's whole budget for its storage checks, in seconds.
    health_timeout_seconds: float = Field(default=3.0, gt=0, le=30)

    @field_validator("known_ips", mode="after")
    @classmethod
    def _known_ips_are_networks(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            try:
                ipaddress.ip_network(key.strip(), strict=False)
            except ValueError:
                raise ValueError(f"known IP {key!r} is not an IP address or CIDR") from None
        return value

    @model_validator(mode="after")
    def _registries_are_distinct(self) -> Self:
        RegistryDirectory(self.registries)  # raises on two registries claiming one name
        return self

    @property
    def directory(self) -> RegistryDirectory:
        return RegistryDirectory(self.registries)

    @property
    def storage(self) -> StorageTarget:
        """How to reach the app's storage account."""
        secret = self.storage_connection_string
        return StorageTarget.of(
            secret.get_secret_value() if secret else None, self.storage_account_name
        )

    @property
    def front(self) -> FrontSettings:
        """The front door's slice of these settings (what `FrontSettings.from_env` reads)."""
        insights = self.applicationinsights_connection_string
        return FrontSettings(
            slack_signing_secret=self.slack_signing_secret.get_secret_value(),
            slack_bot_token=self.slack_bot_token.get_secret_value(),
            slack_team_ids=self.slack_team_ids,
            slack_bot_user_id=self.slack_bot_user_id,
            slack_bot_id=self.slack_bot_id,
            slack_api_url=self.slack_api_url,
            slack_retry_backoff=self.slack_retry_backoff,
            storage=self.storage,
            queue_name=self.queue_name,
            table_prefix=self.table_prefix,
            log_format=self.log_format,
            applicationinsights_connection_string=insights.get_secret_value() if insights else None,
        )
