"""All configuration, loaded once from the environment (Function app settings), pydantic-settings.

Environment names are `ACRBOT_<FIELD>`; nested sections use `__` (`ACRBOT_ARM__DRY_RUN=true`);
lists and maps are JSON (`ACRBOT_REGISTRIES='[{"name": "contoso", ...}]'`). The storage account is
the Function app's own, `AzureWebJobsStorage`, unless `ACRBOT_STORAGE_CONNECTION_STRING` is set.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Azurite's well-known development account (public, documented; not a secret).
DEVELOPMENT_STORAGE = "UseDevelopmentStorage=true"


class RegistryConfig(BaseModel):
    """A registry the bot manages, and who may approve exceptions on it."""

    model_config = ConfigDict(frozen=True)

    name: str
    subscription_id: str
    resource_group: str
    #: Defaults to `<name>.azurecr.io`; set it for sovereign clouds (`.azurecr.cn`, `.azurecr.us`).
    login_server: str = ""
    #: Custom domains (an Application Gateway in front) that resolve to this registry.
    custom_domains: tuple[str, ...] = ()
    #: Slack user ids allowed to approve requests for this registry; empty means policy default.
    approvers: tuple[str, ...] = ()
    #: A Slack user-group id whose members may approve; resolved by the Slack layer.
    approver_group: str | None = None

    @field_validator("login_server", mode="after")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()

    @property
    def effective_login_server(self) -> str:
        return self.login_server or f"{self.name.lower()}.azurecr.io"

    @property
    def resource_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.ContainerRegistry/registries/{self.name}"
        )


class ArmSettings(BaseModel):
    """How the bot reaches Azure Resource Manager."""

    #: ARM endpoint; tests and the demo point it at the loopback emulator.
    endpoint: str = "https://management.azure.com"
    #: A CA bundle to trust for `endpoint` (the emulator's throw-away CA); None means system CAs.
    ca_bundle: str | None = None
    #: Seconds between long-running-operation polls when ARM sends no Retry-After.
    polling_interval: float = 5.0
    retry_total: int = 6
    retry_backoff_factor: float = 0.8
    retry_backoff_max: float = 60.0
    #: How long a registry's state read from ARM is reused, in seconds (0 disables the cache).
    state_cache_seconds: float = 15.0
    #: Log the change that would be made and make none.
    dry_run: bool = False
    #: Per-registry write lock (blob lease): lease length, and how long to wait for it.
    lock_lease_seconds: int = 30
    lock_wait_seconds: float = 60.0
    lock_container: str = "acrbot-locks"
    #: Seconds between attempts to take a registry's lock while another holder has it.
    lock_poll_seconds: float = 1.0
    #: Seconds to wait for ARM's answer before the call counts as failed (and is retried if safe).
    read_timeout: float = 60.0


class PolicySettings(BaseModel):
    """Who may approve, for how long, and how much may be asked for."""

    #: Approvers for registries that name none of their own.
    default_approvers: tuple[str, ...] = ()
    default_approver_group: str | None = None
    allowed_durations: tuple[timedelta, ...] = (
        timedelta(hours=1),
        timedelta(hours=4),
        timedelta(hours=8),
        timedelta(hours=24),
    )
    max_duration: timedelta = timedelta(hours=24)
    default_duration: timedelta = timedelta(hours=4)
    #: A request nobody decides within this time lapses.
    pending_ttl: timedelta = timedelta(hours=8)
    #: An approved grant whose rule is not applied within this time is reported as stalled.
    activation_timeout: timedelta = timedelta(minutes=10)
    max_open_requests_per_requester: int = 3
    #: Rule slots kept free under the registry's quota for people and infrastructure-as-code.
    quota_headroom: int = 5
    justification_min_length: int = 10
    justification_max_length: int = 500
    #: How many times one active grant may be extended.
    max_extensions: int = 3


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ACRBOT_",
        env_nested_delimiter="__",
        extra="ignore",
        populate_by_name=True,
    )

    storage_connection_string: str = Field(
        default=DEVELOPMENT_STORAGE,
        validation_alias=AliasChoices("ACRBOT_STORAGE_CONNECTION_STRING", "AzureWebJobsStorage"),
    )
    table_prefix: str = "acrbot"
    queue_name: str = "acrbot-jobs"

    registries: tuple[RegistryConfig, ...] = ()
    #: The organisation's known egress IPs: IP or CIDR → label ("NAT gateway prod-westeurope").
    known_ips: dict[str, str] = Field(default_factory=dict)

    slack_bot_token: SecretStr = SecretStr("")
    slack_signing_secret: SecretStr = SecretStr("")
    #: Slack Web API base URL; tests point it at the loopback emulator.
    slack_api_url: str = "https://slack.com/api/"

    arm: ArmSettings = Field(default_factory=ArmSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)

    def registry(self, name_or_login_server: str) -> RegistryConfig | None:
        """The configured registry with this name, login server or custom domain, if any."""
        key = name_or_login_server.strip().lower()
        for reg in self.registries:
            names = {reg.name.lower(), reg.effective_login_server}
            if key in names or key in {d.lower() for d in reg.custom_domains}:
                return reg
        return None

    @property
    def custom_domains(self) -> dict[str, str]:
        """Custom domain → login server of the registry behind it."""
        return {
            d.lower(): reg.effective_login_server
            for reg in self.registries
            for d in reg.custom_domains
        }
