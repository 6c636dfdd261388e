"""The registries the bot manages, who approves on them, and the policy bounding every grant.

`RegistryDirectory` is the one place a registry is found by name, login server or custom domain;
diagnosis, grants and the ARM adapter all ask it, so they cannot disagree about a name.
`Policy` is validated when settings load: a policy that could not be applied (a default duration
outside the allowed choices, a zero duration) stops the app at start-up, not at the first request.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.domain.errors import RegistryNotManaged


def _host(value: str) -> str:
    return value.strip().lower().rstrip(".")


class RegistryConfig(BaseModel):
    """A registry the bot manages, and who may approve exceptions on it."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=5, max_length=50, pattern=r"^[A-Za-z0-9]+$")
    subscription_id: str = Field(min_length=1)
    resource_group: str = Field(min_length=1)
    #: Defaults to `<name>.azurecr.io`; set it for sovereign clouds (`.azurecr.cn`, `.azurecr.us`).
    login_server: str = ""
    #: Custom domains (an Application Gateway in front) that resolve to this registry.
    custom_domains: tuple[str, ...] = ()
    #: Slack user ids allowed to approve requests for this registry; empty means policy default.
    approvers: tuple[str, ...] = ()
    #: A Slack user-group id whose members may approve (resolved through the approver directory).
    approver_group: str | None = None
    #: The Slack channel where approval cards for this registry go; None: the default channel.
    approvals_channel: str | None = None
    #: Distinct approvals needed before the rule is applied.
    required_approvals: int = Field(default=1, ge=1, le=2)
    #: Whether a temporary rule may be offered for an Azure-owned (shared) address.
    allow_azure_service_ips: bool = True

    @field_validator("login_server", mode="after")
    @classmethod
    def _lower(cls, value: str) -> str:
        return _host(value)

    @field_validator("custom_domains", mode="after")
    @classmethod
    def _lower_domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(_host(d) for d in value if _host(d)))

    @property
    def effective_login_server(self) -> str:
        return self.login_server or f"{self.name.lower()}.azurecr.io"

    @property
    def names(self) -> frozenset[str]:
        """Every name this registry answers to, lower case."""
        return frozenset({self.name.lower(), self.effective_login_server, *self.custom_domains})

    @property
    def resource_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.ContainerRegistry/registries/{self.name}"
        )


def config_from_resource_id(resource_id: str, login_server: str) -> RegistryConfig:
    """Enough of a registry's configuration to reach it through ARM, from its resource id: for a
    registry taken out of the configuration that still holds the bot's entries."""
    parts = [p for p in resource_id.split("/") if p]
    lowered = [p.lower() for p in parts]
    try:
        subscription = parts[lowered.index("subscriptions") + 1]
        group = parts[lowered.index("resourcegroups") + 1]
        name = parts[lowered.index("registries") + 1]
    except (ValueError, IndexError):
        raise RegistryNotManaged(login_server) from None
    return RegistryConfig(
        name=name, subscription_id=subscription, resource_group=group, login_server=login_server
    )


class RegistryDirectory:
    """The managed registries, found by name, login server or custom domain (case-insensitive)."""

    def __init__(self, registries: Iterable[RegistryConfig] = ()) -> None:
        self._registries = tuple(registries)
        self._by_name: dict[str, RegistryConfig] = {}
        for config in self._registries:
            for name in config.names:
                other = self._by_name.setdefault(name, config)
                if other is not config:
                    raise ValueError(f"registries {other.name} and {config.name} both claim {name}")

    def __iter__(self) -> Iterator[RegistryConfig]:
        return iter(self._registries)

    def __len__(self) -> int:
        return len(self._registries)

    def find(self, key: str) -> RegistryConfig | None:
        """The registry called `key` (name, login server or custom domain), if managed."""
        return self._by_name.get(_host(key))

    def get(self, key: str) -> RegistryConfig:
        """Like `find`, but a registry the bot does not manage is `RegistryNotManaged`."""
        found = self.find(key)
        if found is None:
            raise RegistryNotManaged(key.strip())
        return found

    @property
    def custom_domains(self) -> dict[str, str]:
        """Custom domain → login server of the registry behind it."""
        return {d: r.effective_login_server for r in self._registries for d in r.custom_domains}

    @property
    def login_servers(self) -> tuple[str, ...]:
        return tuple(r.effective_login_server for r in self._registries)


class Policy(BaseModel):
    """Who may approve, for how long, and how much may be asked for."""

    model_config = ConfigDict(frozen=True)

    #: Approvers for registries that name none of their own.
    default_approvers: tuple[str, ...] = ()
    default_approver_group: str | None = None
    allowed_durations: tuple[timedelta, ...] = (
        timedelta(hours=1),
        timedelta(hours=4),
        timedelta(hours=8),
        timedelta(hours=24),
    )
    #: The longest a grant may run from its activation, extensions included.
    max_duration: timedelta = timedelta(hours=24)
    default_duration: timedelta = timedelta(hours=4)
    #: A request nobody decides within this time lapses.
    pending_ttl: timedelta = timedelta(hours=8)
    #: An approved grant whose rule is not applied within this time fails (after retries).
    activation_timeout: timedelta = timedelta(minutes=10)
    max_open_requests_per_requester: int = Field(default=3, ge=1, le=50)
    #: Rule slots kept free under the registry's quota for people and infrastructure-as-code.
    quota_headroom: int = Field(default=5, ge=0, le=99)
    #: Visible characters a justification needs at least, and may have at most.
    justification_min_length: int = Field(default=10, ge=1)
    justification_max_length: int = Field(default=500, ge=1, le=3000)
    #: Longest deny or revoke reason kept.
    reason_max_length: int = Field(default=500, ge=1, le=3000)
    #: Whether a denial, and an early revoke, must say why (optional by default).
    deny_reason_required: bool = False
    revoke_reason_required: bool = False
    #: How many times one active grant may be extended.
    max_extensions: int = Field(default=3, ge=0)
    #: The longest a grant may run in all, from activation to its last expiry.
    max_total_duration: timedelta = timedelta(hours=72)
    #: The requester is reminded this long before their grant expires.
    expiry_reminder: timedelta = timedelta(minutes=30)
    #: Approvers are reminded this long before a pending request lapses.
    lapse_reminder: timedelta = timedelta(hours=1)

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        durations = {
            "max_duration": self.max_duration,
            "default_duration": self.default_duration,
            "pending_ttl": self.pending_ttl,
            "activation_timeout": self.activation_timeout,
            "max_total_duration": self.max_total_duration,
        }
        for name, value in durations.items():
            if value <= timedelta(0):
                raise ValueError(f"{name} must be positive, not {value}")
        if not self.allowed_durations:
            raise ValueError("allowed_durations must name at least one duration")
        if any(d <= timedelta(0) for d in self.allowed_durations):
            raise ValueError("every allowed duration must be positive")
        if any(d > self.max_duration for d in self.allowed_durations):
            raise ValueError("an allowed duration exceeds max_duration")
        if self.default_duration not in self.allowed_durations:
            raise ValueError("default_duration must be one of allowed_durations")
        if self.max_total_duration < self.max_duration:
            raise ValueError("max_total_duration must be at least max_duration")
        if self.justification_min_length > self.justification_max_length:
            raise ValueError("justification_min_length exceeds justification_max_length")
        for name in ("expiry_reminder", "lapse_reminder"):
            if getattr(self, name) < timedelta(0):
                raise ValueError(f"{name} must not be negative")
        return self

    @field_validator("allowed_durations", mode="after")
    @classmethod
    def _sorted(cls, value: tuple[timedelta, ...]) -> tuple[timedelta, ...]:
        return tuple(sorted(set(value)))


def approvers_of(
    registry: RegistryConfig, policy: Policy, group_members: Sequence[str] = ()
) -> frozenset[str]:
    """Who may approve for `registry`: its own list and group, else the policy's defaults.

    `group_members` are the resolved members of `approver_group_of(registry, policy)`.
    """
    own = registry.approvers if (registry.approvers or registry.approver_group) else None
    listed = own if own is not None else policy.default_approvers
    return frozenset(listed) | frozenset(group_members)


def approver_group_of(registry: RegistryConfig, policy: Policy) -> str | None:
    """The Slack user group whose members may approve for `registry`, if any."""
    if registry.approvers or registry.approver_group:
        return registry.approver_group
    return policy.default_approver_group
