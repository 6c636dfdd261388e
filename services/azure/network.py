"""The organisation's egress IPs, discovered in Azure instead of typed: NAT gateways, Application
Gateways, Azure Firewalls and load balancers' outbound rules, through `azure-mgmt-network`.

`ArmEgressDiscovery.discover(subscription)` lists the four kinds of resource in a subscription,
follows each public IP address and public IP prefix they reference (also into other resource
groups or subscriptions), and returns every public address (a prefix as its CIDR) with a label
naming the resource (`NAT gateway ng-aks-prod (rg-net)`). `EgressReport.known_ips()` is the JSON
object `--known-ips` and `ACRBOT_KNOWN_IPS` accept; `merge_known_ips` adds it to an existing file
without losing what people wrote there.

Only the egress side counts: a firewall's management IP configuration and a load balancer
frontend that no outbound rule uses are not where a client's traffic leaves from.

`azure.mgmt.network` is imported on first use: it is large, and the HTTP function's cold start
must not pay for it. The egress lookup (`services/azure/egress.py`) reads models, ids and public
addresses with this module's `field_at`, `parse_resource_id` and `public_address`.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError

from services.azure.clients import ArmClients, arm_options
from services.settings import ArmSettings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.mgmt.network import NetworkManagementClient

logger = logging.getLogger(__name__)


class EgressDiscoveryError(Exception):
    """Azure refused or failed a listing; the message says which and why, in one line."""


@dataclass(frozen=True)
class EgressAddress:
    """A public address (`4.175.12.34`) or prefix (`4.175.12.32/30`) and who sends from it."""

    network: str
    label: str
    #: The NAT gateway, gateway, firewall or load balancer it belongs to.
    resource_id: str


@dataclass(frozen=True)
class EgressReport:
    subscriptions: tuple[str, ...]
    addresses: tuple[EgressAddress, ...]
    #: References that could not be followed (missing, forbidden, not allocated yet).
    warnings: tuple[str, ...] = ()

    def known_ips(self) -> dict[str, str]:
        """Network → label; a network several resources share gets their labels joined."""
        labels: dict[str, list[str]] = {}
        for address in self.addresses:
            seen = labels.setdefault(address.network, [])
            if address.label not in seen:
                seen.append(address.label)
        return {net: "; ".join(names) for net, names in _sorted_networks(labels)}


@dataclass(frozen=True)
class KnownIpsMerge:
    entries: dict[str, str]
    #: Networks that were not in the file before.
    added: tuple[str, ...]
    #: Discovered networks the file already had (its label is kept).
    already_known: tuple[str, ...]


def merge_known_ips(existing: Mapping[str, str], discovered: Mapping[str, str]) -> KnownIpsMerge:
    """`existing` plus whatever `discovered` adds. Entries already there stay as written, also
    when discovery no longer finds them: removing a known address is a person's decision, and a
    hand-written label (`NAT gateway prod-westeurope`) is not replaced by a generated one.
    Networks are compared as networks: `4.1.2.3` and `4.1.2.3/32` are the same entry."""
    have: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, str] = {}
    for key in existing:
        try:
            have[ipaddress.ip_network(key.strip(), strict=False)] = key
        except ValueError:
            continue  # not ours to judge; it is kept below as it is
    entries = dict(existing)
    added: list[str] = []
    known: list[str] = []
    for key, label in discovered.items():
        net = ipaddress.ip_network(key, strict=False)
        if net in have:
            known.append(key)
        else:
            entries[key] = label
            have[net] = key
            added.append(key)
    return KnownIpsMerge(dict(_sorted_networks(entries)), tuple(added), tuple(known))


def _sorted_networks(items: Mapping[str, Any]) -> list[tuple[str, Any]]:
    def key(item: tuple[str, Any]) -> tuple[int, int, int, str]:
        try:
            net = ipaddress.ip_network(item[0].strip(), strict=False)
        except ValueError:
            return (9, 0, 0, item[0])
        return (net.version, int(net.network_address), net.prefixlen, item[0])

    return sorted(items.items(), key=key)


def network_client(
    arm: ArmSettings, credential: TokenCredential, subscription_id: str
) -> NetworkManagementClient:
    """A `NetworkManagementClient` on the configured ARM endpoint (the emulator in tests), with
    the same retry, timeout and CA settings as the registry adapter."""
    from azure.mgmt.network import NetworkManagementClient

    return NetworkManagementClient(credential, subscription_id, **arm_options(arm))


def field_at(node: Any, *path: str) -> Any:
    """`node[a][b]…` through the SDK's models (mappings of the REST names), or None."""
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _items(node: Any, *path: str) -> Iterator[Any]:
    value = field_at(node, *path)
    if isinstance(value, list):
        yield from value


PUBLIC_IP = "microsoft.network/publicipaddresses"
PUBLIC_IP_PREFIX = "microsoft.network/publicipprefixes"


@dataclass(frozen=True)
class ResourceId:
    """The parts of an ARM resource id (`/subscriptions/{s}/resourceGroups/{g}/providers/…`)."""

    subscription: str
    resource_group: str
    #: The resource type, lower case: `microsoft.network/natgateways`, or for a child resource
    #: `microsoft.network/virtualnetworks/subnets`.
    type: str
    name: str
    #: The names of its parents, outermost first (a subnet's virtual network).
    parents: tuple[str, ...] = ()


def parse_resource_id(resource_id: str) -> ResourceId | None:
    """The parts of an ARM resource id, or None for text of another shape."""
    parts = [p for p in resource_id.split("/") if p]
    if (
        len(parts) < 8
        or len(parts) % 2
        or [parts[0].lower(), parts[2].lower(), parts[4].lower()]
        != ["subscriptions", "resourcegroups", "providers"]
    ):
        return None
    names = parts[7::2]
    types = "/".join(p.lower() for p in (parts[5], *parts[6::2]))
    return ResourceId(parts[1], parts[3], types, names[-1], tuple(names[:-1]))


def public_address(client: NetworkManagementClient, target: ResourceId) -> Any:
    """What a public IP (`ipAddress`) or public IP prefix (`ipPrefix`) resource holds, as ARM
    writes it: None until one is allocated. Raises azure-core's errors, and `ValueError` for a
    resource of another type."""
    group, name = target.resource_group, target.name
    if target.type == PUBLIC_IP_PREFIX:
        return field_at(client.public_ip_prefixes.get(group, name), "properties", "ipPrefix")
    if target.type == PUBLIC_IP:
        return field_at(client.public_ip_addresses.get(group, name), "properties", "ipAddress")
    raise ValueError(f"not a public IP or public IP prefix: {target.type}")


def _label(kind: str, resource: Any) -> str:
    parsed = parse_resource_id(str(field_at(resource, "id") or ""))
    group = f" ({parsed.resource_group})" if parsed else ""
    return f"{kind} {field_at(resource, 'name')}{group}"


@dataclass
class _Reference:
    """A public IP or prefix some egress resource points at."""

    target: str
    label: str
    owner: str


@dataclass
class _Scan:
    references: list[_Reference] = field(default_factory=list)
    inline: list[EgressAddress] = field(default_factory=list)


class ArmEgressDiscovery:
    """Egress discovery on Azure Resource Manager; thread-safe, one client per subscription."""

    def __init__(
        self,
        *,
        arm: ArmSettings,
        credential: TokenCredential | Callable[[], TokenCredential] | None = None,
    ) -> None:
        self._arm = arm
        self._clients: ArmClients[NetworkManagementClient] = ArmClients(credential)

    def _client(self, subscription_id: str) -> NetworkManagementClient:
        return self._clients.get(
            subscription_id.lower(),
            lambda credential: network_client(self._arm, credential, subscription_id),
        )

    def discover(self, subscriptions: str | Iterable[str]) -> EgressReport:
        """Every egress address of the subscription(s), labelled by resource.

        Raises `EgressDiscoveryError` when a listing fails (no access, ARM unavailable); a single
        reference that cannot be followed becomes a warning instead.
        """
        subs = (subscriptions,) if isinstance(subscriptions, str) else tuple(subscriptions)
        scan = _Scan()
        for sub in subs:
            self._scan(sub, scan)
        addresses = list(scan.inline)
        warnings: list[str] = []
        resolved: dict[str, str | None] = {}
        for ref in scan.references:
            target = ref.target.lower()
            if target not in resolved:
                resolved[target] = self._resolve(ref, warnings)
            network = resolved[target]
            if network is not None:
                label = ref.label
                if "/publicipprefixes/" in target:
                    label = f"{ref.label} prefix {ref.target.rsplit('/', 1)[-1]}"
                addresses.append(EgressAddress(network, label, ref.owner))
        return EgressReport(subs, tuple(addresses), tuple(warnings))

    # -- listing -----------------------------------------------------------------------------------

    def _scan(self, subscription_id: str, scan: _Scan) -> None:
        client = self._client(subscription_id)
        listings: list[tuple[str, Callable[[], Iterable[Any]], Callable[[Any, _Scan], None]]] = [
            ("NAT gateways", client.nat_gateways.list_all, self._nat_gateway),
            ("Application Gateways", client.application_gateways.list_all, self._app_gateway),
            ("Azure Firewalls", client.azure_firewalls.list_all, self._firewall),
            ("load balancers", client.load_balancers.list_all, self._load_balancer),
        ]
        for what, list_all, collect in listings:
            try:
                for resource in list_all():
                    collect(resource, scan)
            except AzureError as exc:
                reason = describe_azure_error(exc)
                raise EgressDiscoveryError(
                    f"cannot list {what} in subscription {subscription_id}: {reason}"
                ) from exc

    @staticmethod
    def _nat_gateway(nat: Any, scan: _Scan) -> None:
        label, owner = _label("NAT gateway", nat), str(field_at(nat, "id"))
        for ref in _items(nat, "properties", "publicIpAddresses"):
            scan.references.append(_Reference(str(field_at(ref, "id")), label, owner))
        for ref in _items(nat, "properties", "publicIpPrefixes"):
            scan.references.append(_Reference(str(field_at(ref, "id")), label, owner))

    @staticmethod
    def _app_gateway(gateway: Any, scan: _Scan) -> None:
        # Towards a public backend (a registry) the gateway sends from its public frontend IP.
        label, owner = _label("Application Gateway", gateway), str(field_at(gateway, "id"))
        for frontend in _items(gateway, "properties", "frontendIPConfigurations"):
            target = field_at(frontend, "properties", "publicIPAddress", "id")
            if target:
                scan.references.append(_Reference(str(target), label, owner))

    @staticmethod
    def _firewall(firewall: Any, scan: _Scan) -> None:
        label, owner = _label("Azure Firewall", firewall), str(field_at(firewall, "id"))
        for config in _items(firewall, "properties", "ipConfigurations"):
            target = field_at(config, "properties", "publicIPAddress", "id")
            if target:
                scan.references.append(_Reference(str(target), label, owner))
        # A firewall in a Virtual WAN hub lists its public addresses inline.
        for entry in _items(firewall, "properties", "hubIPAddresses", "publicIPs", "addresses"):
            address = field_at(entry, "address")
            if address:
                scan.inline.append(EgressAddress(str(address), label, owner))

    @staticmethod
    def _load_balancer(balancer: Any, scan: _Scan) -> None:
        owner = str(field_at(balancer, "id"))
        frontends = {
            str(field_at(fe, "id")).lower(): fe
            for fe in _items(balancer, "properties", "frontendIPConfigurations")
        }
        for rule in _items(balancer, "properties", "outboundRules"):
            label = f"{_label('Load balancer', balancer)} outbound rule {field_at(rule, 'name')}"
            for ref in _items(rule, "properties", "frontendIPConfigurations"):
                frontend = frontends.get(str(field_at(ref, "id")).lower())
                target = field_at(frontend, "properties", "publicIPAddress", "id") or field_at(
                    frontend, "properties", "publicIPPrefix", "id"
                )
                if target:
                    scan.references.append(_Reference(str(target), label, owner))

    # -- following references ----------------------------------------------------------------------

    def _resolve(self, ref: _Reference, warnings: list[str]) -> str | None:
        """The address or CIDR behind a public IP or prefix id, or None (with a warning)."""
        parsed = parse_resource_id(ref.target)
        if parsed is None or parsed.type not in {PUBLIC_IP, PUBLIC_IP_PREFIX}:
            warnings.append(f"{ref.label}: cannot follow the reference {ref.target!r}")
            return None
        client = self._client(parsed.subscription)
        try:
            value = public_address(client, parsed)
        except ResourceNotFoundError:
            warnings.append(f"{ref.label}: {ref.target} does not exist")
            return None
        except HttpResponseError as exc:
            warnings.append(f"{ref.label}: cannot read {ref.target}: {describe_azure_error(exc)}")
            return None
        except AzureError as exc:
            raise EgressDiscoveryError(
                f"cannot read {ref.target}: {describe_azure_error(exc)}"
            ) from exc
        if not value:
            warnings.append(f"{ref.label}: {ref.target} has no address allocated yet")
            return None
        try:
            # A single address stays bare (`4.175.12.34`), as people write known IPs.
            text = str(value).strip()
            if "/" in text:
                return str(ipaddress.ip_network(text, strict=False))
            return str(ipaddress.ip_address(text))
        except ValueError:
            warnings.append(f"{ref.label}: {ref.target} has an unreadable address {value!r}")
            return None


def describe_azure_error(exc: AzureError) -> str:
    """One line from an azure-core error: status, ARM error code and message when there are."""
    if isinstance(exc, HttpResponseError) and exc.error is not None:
        return f"{exc.status_code} {exc.error.code}: {exc.error.message}"
    if isinstance(exc, HttpResponseError):
        return f"{exc.status_code} {exc.reason}"
    return exc.message or type(exc).__name__
