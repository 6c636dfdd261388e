"""What a registry's firewall is: its IP rules, compared as networks, and the state around them.

`RegistryState` comes live from ARM (`services.azure.arm`) or from an `az acr show` / ARM REST
JSON snapshot. Immutable pydantic models, so they can be logged, cached and serialised as they are.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from functools import cache, cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

# pydantic validates TypedDicts from typing_extensions only, before Python 3.12.
from typing_extensions import TypedDict

from services.domain.ips import IPAddress, IPNetwork

#: ACR's documented limit on IP rules per Premium registry, used when `listUsages` is unavailable.
DEFAULT_IP_RULE_LIMIT = 100


class IpRule(BaseModel):
    """One entry of a registry's `ipRules`, in the exact form the registry holds it."""

    model_config = ConfigDict(frozen=True)

    value: str
    action: str = "Allow"

    @cached_property
    def network(self) -> IPNetwork:
        # Parsed once per rule: registries hold up to 100 rules and every lookup scans them.
        # Compared as networks, never strings: `1.2.3.4` and `1.2.3.4/32` are one rule.
        return ipaddress.ip_network(self.value.strip(), strict=False)

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> IpRule:
        """A rule from ARM's wire form (`value`) or the az CLI's (`ipAddressOrRange`)."""
        value = raw.get("value", raw.get("ipAddressOrRange"))
        return cls(value=str(value or "").strip(), action=str(raw.get("action") or "Allow"))

    def _network_or_none(self) -> IPNetwork | None:
        try:
            return self.network
        except ValueError:
            return None  # a rule we cannot read admits nothing we can reason about

    def covers(self, ip: IPAddress) -> bool:
        """Whether this is an Allow rule whose network contains `ip`."""
        net = self._network_or_none()
        return net is not None and self.action.lower() == "allow" and ip in net

    def is_exactly(self, ip: IPAddress) -> bool:
        """Whether this rule is the single address `ip` (`1.2.3.4` or `1.2.3.4/32`)."""
        net = self._network_or_none()
        return net is not None and net.num_addresses == 1 and net.network_address == ip


class RegistryState(BaseModel):
    """The part of a registry's configuration that decides whether a client IP gets in."""

    model_config = ConfigDict(frozen=True)

    name: str
    login_server: str
    resource_id: str | None = None
    location: str | None = None
    sku: str | None = None
    public_network_access: str = "Enabled"
    #: `Allow` means the firewall is open; `Deny` means only the rules let clients in.
    default_action: str = "Allow"
    ip_rules: tuple[IpRule, ...] = ()
    network_rule_bypass_options: str | None = None
    network_rule_bypass_allowed_for_tasks: bool | None = None
    data_endpoint_enabled: bool = False
    data_endpoint_host_names: tuple[str, ...] = ()
    private_endpoint_count: int = 0
    ip_rule_quota_used: int | None = None
    ip_rule_quota_limit: int | None = None
    #: Fields the snapshot or ARM carried that this model does not name, kept for display.
    extra: dict[str, Any] = Field(default_factory=dict, repr=False)

    @property
    def is_premium(self) -> bool:
        return (self.sku or "").lower() == "premium"

    @property
    def public_access_disabled(self) -> bool:
        return self.public_network_access.lower() == "disabled"

    @property
    def firewall_open(self) -> bool:
        return self.default_action.lower() == "allow"

    @property
    def rules_used(self) -> int:
        return (
            self.ip_rule_quota_used if self.ip_rule_quota_used is not None else len(self.ip_rules)
        )

    @property
    def rules_limit(self) -> int:
        return self.ip_rule_quota_limit or DEFAULT_IP_RULE_LIMIT

    @cached_property
    def allow_ranges(self) -> tuple[tuple[int, int, int, IpRule], ...]:
        """(IP version, first, last address as int, rule) of every readable Allow rule, in order.

        Built once per state so a lookup is integer comparisons, not `ipaddress` containment.
        """
        ranges = []
        for rule in self.ip_rules:
            net = rule._network_or_none()
            if net is not None and rule.action.lower() == "allow":
                first, last = int(net.network_address), int(net.broadcast_address)
                ranges.append((net.version, first, last, rule))
        return tuple(ranges)

    def rule_covering(self, ip: IPAddress) -> IpRule | None:
        """The first Allow rule whose network contains `ip`, or None."""
        version, value = ip.version, int(ip)
        for rule_version, first, last, rule in self.allow_ranges:
            if rule_version == version and first <= value <= last:
                return rule
        return None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RegistryState:
        """Build from `az acr show -o json` (flattened) or the ARM REST body (under `properties`).

        Raises ValueError when the document is not a registry: not an object, no name or login
        server, or a field of the wrong type (the message names the field).
        """
        if not isinstance(data, dict):
            raise ValueError("a registry document must be a JSON object")
        try:
            _registry_document().validate_python(data)
        except ValidationError as exc:
            raise ValueError(validation_message(exc)) from None
        props: dict[str, Any] = data.get("properties") or {}
        merged: dict[str, Any] = {**data, **props} if isinstance(props, dict) else dict(data)

        name = merged.get("name")
        login_server = merged.get("loginServer")
        if not isinstance(name, str) or not name:
            if isinstance(login_server, str) and login_server:
                name = login_server.split(".", 1)[0]
            else:
                raise ValueError("registry JSON has neither 'name' nor 'loginServer'")
        if not isinstance(login_server, str) or not login_server:
            login_server = f"{name.lower()}.azurecr.io"

        nrs = merged.get("networkRuleSet") or {}
        rules = [r for r in map(IpRule.from_raw, nrs.get("ipRules") or []) if r.value]

        sku = merged.get("sku")
        sku_name = sku.get("name") if isinstance(sku, dict) else sku
        # Without a network rule set the registry is open to all (Basic/Standard, or never set).
        default_action = nrs.get("defaultAction") or "Allow"
        pecs = merged.get("privateEndpointConnections") or []

        known = {
            "name", "loginServer", "id", "location", "sku", "publicNetworkAccess",
            "networkRuleSet", "networkRuleBypassOptions", "networkRuleBypassAllowedForTasks",
            "dataEndpointEnabled", "dataEndpointHostNames", "privateEndpointConnections",
            "properties",
        }  # fmt: skip
        return cls(
            name=name,
            login_server=login_server.lower(),
            resource_id=merged.get("id"),
            location=merged.get("location"),
            sku=sku_name,
            public_network_access=merged.get("publicNetworkAccess") or "Enabled",
            default_action=default_action,
            ip_rules=tuple(rules),
            network_rule_bypass_options=merged.get("networkRuleBypassOptions"),
            network_rule_bypass_allowed_for_tasks=merged.get("networkRuleBypassAllowedForTasks"),
            data_endpoint_enabled=bool(merged.get("dataEndpointEnabled")),
            data_endpoint_host_names=tuple(merged.get("dataEndpointHostNames") or ()),
            private_endpoint_count=len(pecs) if isinstance(pecs, list) else 0,
            extra={k: v for k, v in merged.items() if k not in known},
        )


class _Rule(TypedDict, total=False):
    action: str
    value: str
    ipAddressOrRange: str


class _RuleSet(TypedDict, total=False):
    defaultAction: str | None
    ipRules: list[_Rule] | None


class _Sku(TypedDict, total=False):
    name: str | None
    tier: str | None


class _RegistryFields(TypedDict, total=False):
    name: str
    loginServer: str
    id: str | None
    location: str | None
    sku: _Sku | str | None
    publicNetworkAccess: str | None
    networkRuleSet: _RuleSet | None
    networkRuleBypassOptions: str | None
    networkRuleBypassAllowedForTasks: bool | None
    dataEndpointEnabled: bool | None
    dataEndpointHostNames: list[str] | None
    privateEndpointConnections: list[Any] | None


class _RegistryDocument(_RegistryFields, total=False):
    properties: _RegistryFields | None


@cache
def _registry_document() -> TypeAdapter[_RegistryDocument]:
    """The shape `RegistryState.from_json` reads (both the az CLI's and ARM's), checked first so
    that a wrong type anywhere is a message naming the field, not an exception from deep inside.
    Built on first use (about 20 ms): the HTTP function imports this module and never reads a
    registry."""
    return TypeAdapter(_RegistryDocument)


def validation_message(exc: ValidationError) -> str:
    """A pydantic error on one line: where and what, for the first few problems."""
    errors = exc.errors()
    parts = [f"{'.'.join(map(str, e['loc'])) or 'document'}: {e['msg']}" for e in errors[:3]]
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more


#: One raw `ipRules` entry as ARM sends it (`{"action": "Allow", "value": "1.2.3.4"}`).
RawRule = dict[str, Any]


class RegistrySnapshot(BaseModel):
    """A registry as one GET returned it: the raw JSON (so a PATCH can send back exactly what was
    read, `virtualNetworkRules` and unknown fields included) and the state read from it."""

    model_config = ConfigDict(frozen=True)

    raw: dict[str, Any]
    #: ARM's `x-ms-request-id` of the call that produced it (the PATCH, for a write), and the
    #: correlation id the bot sent, for the audit trail and for Microsoft support.
    request_id: str | None = None
    correlation_id: str | None = None

    @cached_property
    def state(self) -> RegistryState:
        return RegistryState.from_json(self.raw)

    @property
    def ip_rules(self) -> list[RawRule]:
        props = self.raw.get("properties")
        nrs = props.get("networkRuleSet") if isinstance(props, dict) else None
        rules = nrs.get("ipRules") if isinstance(nrs, dict) else None
        return [dict(r) for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []


class RuleUsage(BaseModel):
    """IP rules used and allowed, from `listUsages` (limit: the documented 100 when unknown)."""

    model_config = ConfigDict(frozen=True)

    used: int | None = None
    limit: int = DEFAULT_IP_RULE_LIMIT
