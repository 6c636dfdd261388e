"""Typed refusals and failures: the common base, and those of registry network-rule changes.

Each message is written for a developer reading it in Slack: what was refused, and why.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal the services raise; `message` is written for the person in Slack.

    The Slack layer turns any DomainError into its message in one place.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RegistryError(DomainError):
    """Base of every refusal or failure when reading or changing a registry's rules."""

    def __init__(self, registry: str | None, message: str) -> None:
        super().__init__(message)
        self.registry = registry


class RegistryNotConfigured(RegistryError):
    def __init__(self, registry: str) -> None:
        super().__init__(
            registry, f"`{registry}` is not a registry this bot manages; ask an admin to add it."
        )


class RegistryNotFound(RegistryError):
    def __init__(self, registry: str, resource_id: str) -> None:
        super().__init__(
            registry,
            f"Azure says registry `{registry}` does not exist ({resource_id}); "
            "the bot's configuration may be out of date.",
        )
        self.resource_id = resource_id


class NotPremium(RegistryError):
    def __init__(self, registry: str, sku: str | None) -> None:
        super().__init__(
            registry,
            f"`{registry}` is on the {sku or 'unknown'} SKU; IP rules exist only on Premium "
            "registries, so its firewall cannot be what refused you.",
        )
        self.sku = sku


class PublicAccessDisabled(RegistryError):
    def __init__(self, registry: str) -> None:
        super().__init__(
            registry,
            f"`{registry}` has public network access disabled, which overrides every IP rule: "
            "an allow rule would change nothing. Reach it through its private endpoint.",
        )


class UnsupportedIp(RegistryError):
    """The address cannot be granted: only single public IPv4 addresses can."""

    def __init__(self, ip: str, reason: str) -> None:
        super().__init__(None, f"`{ip}` cannot be allowed: {reason}")
        self.ip = ip
        self.reason = reason


class NotAnIp(UnsupportedIp):
    def __init__(self, ip: str) -> None:
        super().__init__(ip, "it is not an IPv4 address.")


class Ipv6NotSupported(UnsupportedIp):
    def __init__(self, ip: str) -> None:
        super().__init__(ip, "registry IP rules accept IPv4 only; pull over IPv4 instead.")


class NotPublicIp(UnsupportedIp):
    def __init__(self, ip: str, what: str) -> None:
        super().__init__(
            ip,
            f"it is a {what} address. IP rules act on the registry's public endpoint only; "
            "the registry sees your public egress IP (NAT gateway, proxy), not this one.",
        )


class RangeTooBroad(UnsupportedIp):
    def __init__(self, ip: str) -> None:
        super().__init__(ip, "only single addresses (/32) are granted, never ranges.")


class RuleQuotaFull(RegistryError):
    def __init__(self, registry: str, used: int, limit: int) -> None:
        super().__init__(
            registry,
            f"`{registry}` already has {used} of its {limit} IP rules; no rule can be added "
            "until some are removed. A NAT gateway with one permanent rule is the lasting fix.",
        )
        self.used = used
        self.limit = limit


class RegistryBusy(RegistryError):
    def __init__(self, registry: str, waited: float) -> None:
        super().__init__(
            registry,
            f"Another change to `{registry}`'s rules has been running for over {waited:g} s; "
            "try again in a minute.",
        )
        self.waited = waited


class LockLost(RegistryError):
    def __init__(self, registry: str, detail: str) -> None:
        super().__init__(
            registry,
            f"The bot lost its write lock on `{registry}` ({detail}); the change was not made.",
        )


class VerificationFailed(RegistryError):
    def __init__(self, registry: str, detail: str) -> None:
        super().__init__(
            registry,
            f"Azure accepted the change to `{registry}` but reading the rules back shows "
            f"{detail}. Someone may have edited the rules at the same moment; nothing is "
            "assumed done.",
        )


class ArmError(RegistryError):
    """Azure Resource Manager refused or failed the call (after retries, when retryable)."""

    def __init__(
        self, registry: str, message: str, *, status: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(registry, message)
        self.status = status
        self.code = code


class ArmUnavailable(ArmError):
    """ARM kept failing (throttling, 5xx, dropped connections) until the retries ran out."""
