"""`EgressLookup` on Azure Resource Manager: where a Container App, a web or function app, an AKS
cluster or a container group sends its traffic from, and whose a public address is.

- Names and addresses are found with Azure Resource Graph (`azure-mgmt-resourcegraph`), across
  the subscriptions the caller names (the managed registries').
- A resource's egress is read with the SDK made for it: `azure-mgmt-appcontainers` (the app's
  `outboundIpAddresses`, its environment's infrastructure subnet), `azure-mgmt-web` (the site's
  `outboundIpAddresses`, `possibleOutboundIpAddresses`, VNet routing), `azure-mgmt-containerservice`
  (the network profile's `effectiveOutboundIPs`), and `azure-mgmt-network` for subnets, NAT
  gateways and public IPs. A container group exposes no egress; its subnet's NAT gateway, if any,
  is what the registry sees (read through Resource Graph: no extra SDK for one field).

Every SDK is imported when its first lookup runs (cold start matters). The SDK models are
mappings of the REST names, read with `services/azure/network.py`'s `field_at`; ids, public
IPs and prefixes are read with its `parse_resource_id` and `public_address`, as egress discovery
reads them.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError

from services.azure.clients import ArmClients, arm_options
from services.azure.network import (
    PUBLIC_IP,
    PUBLIC_IP_PREFIX,
    describe_azure_error,
    field_at,
    network_client,
    parse_resource_id,
    public_address,
)
from services.domain.egress import (
    EgressAddress,
    EgressLookupFailed,
    EgressReading,
    EgressSource,
    PublicIpOwner,
    ResourceKind,
    ResourceRef,
    is_resource_name,
)
from services.domain.failure import PastedResource
from services.settings import ArmSettings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

logger = logging.getLogger(__name__)

#: Rows a Resource Graph query may return at most (its own cap is 1000).
_TOP = 1000
#: A NAT gateway's public IP prefix is listed address by address up to this size; a bigger one
#: is named as a CIDR for a permanent rule (a temporary rule is one address).
_PREFIX_EXPANDS = 4

#: After Azure refused access, how long every lookup is answered with that refusal without asking
#: again (a deployment without Reader access would otherwise ask on every diagnosis).
NO_ACCESS_SECONDS = 600.0

#: What the segment after `providers/Microsoft.Network/` names, for people.
_OWNER_KINDS = {
    "natgateways": "NAT gateway",
    "loadbalancers": "load balancer",
    "azurefirewalls": "Azure Firewall",
    "applicationgateways": "Application Gateway",
    "networkinterfaces": "network interface",
    "virtualnetworkgateways": "VPN gateway",
    "bastionhosts": "Bastion host",
}


def _kql_string(value: str) -> str:
    # Values are names and ids checked against their grammar, or IPs: no quote can occur.
    if "'" in value or "\\" in value:
        raise ValueError(f"not a safe KQL string: {value!r}")
    return f"'{value}'"


class ArmEgressLookup:
    """The adapter; thread-safe, one client per SDK and subscription, made on first use."""

    def __init__(
        self,
        *,
        arm: ArmSettings,
        credential: TokenCredential | Callable[[], TokenCredential] | None = None,
    ) -> None:
        self._arm = arm
        self._clients: ArmClients[Any] = ArmClients(credential)
        self._refused: tuple[float, str] | None = None

    # -- clients -----------------------------------------------------------------------------------

    def _client(self, sdk: str, subscription: str = "") -> Any:
        return self._clients.get(
            (sdk, subscription.lower()),
            lambda credential: self._build(sdk, subscription, credential),
        )

    def _build(self, sdk: str, subscription: str, credential: TokenCredential) -> Any:
        if sdk == "network":
            return network_client(self._arm, credential, subscription)
        options = arm_options(self._arm)
        cls: Any
        if sdk == "graph":
            from azure.mgmt.resourcegraph import ResourceGraphClient

            return ResourceGraphClient(credential, **options)
        if sdk == "apps":
            from azure.mgmt.appcontainers import ContainerAppsAPIClient as cls
        elif sdk == "web":
            from azure.mgmt.web import WebSiteManagementClient as cls
        else:
            from azure.mgmt.containerservice import ContainerServiceClient as cls
        return cls(credential, subscription, **options)

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        """Run one ARM call; its failures become `EgressLookupFailed` saying what was asked."""
        refused = self._refused
        if refused is not None and time.monotonic() < refused[0]:
            raise EgressLookupFailed(refused[1], no_access=True)
        try:
            return call()
        except ResourceNotFoundError as exc:
            raise EgressLookupFailed(f"{what}: not found", not_found=True) from exc
        except HttpResponseError as exc:
            reason = describe_azure_error(exc)
            if exc.status_code in (401, 403):
                message = f"the bot may not read {what} ({reason})"
                self._refused = (time.monotonic() + NO_ACCESS_SECONDS, message)
                raise EgressLookupFailed(message, no_access=True) from exc
            raise EgressLookupFailed(f"cannot read {what}: {reason}") from exc
        except AzureError as exc:
            raise EgressLookupFailed(f"cannot read {what}: {describe_azure_error(exc)}") from exc

    # -- Resource Graph ----------------------------------------------------------------------------

    def _query(self, query: str, subscriptions: Sequence[str]) -> list[Mapping[str, Any]]:
        from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

        subs = sorted({s.lower() for s in subscriptions if s})
        if not subs:
            return []
        request = QueryRequest(
            subscriptions=subs,
            query=query,
            options=QueryRequestOptions(result_format="objectArray", top=_TOP),
        )
        graph = self._client("graph")
        answer = self._call("Azure Resource Graph", lambda: graph.resources(request))
        rows = answer.data if isinstance(answer.data, list) else []
        return [row for row in rows if isinstance(row, Mapping)]

    def _refs(self, kind: ResourceKind, rows: Iterable[Mapping[str, Any]]) -> list[ResourceRef]:
        refs = []
        for row in rows:
            ref = ResourceRef.from_id(str(row.get("id") or ""), kind)
            if ref is not None:
                refs.append(ref)
        return sorted(refs, key=lambda r: (r.name.lower(), r.resource_group.lower()))

    def find(
        self, kind: ResourceKind, name: str | PastedResource, subscriptions: Sequence[str]
    ) -> list[ResourceRef]:
        """Resources of `kind` named `name`, or the one a full resource id names; what a paste
        named is found as `services.ports.EgressLookup.find` says."""
        if isinstance(name, PastedResource):
            return self._find_pasted(kind, name, subscriptions)
        text = name.strip()
        by_id = ResourceRef.from_id(text, kind)
        if by_id is not None:
            return self._where(
                kind, f"id =~ {_kql_string(by_id.id)}", [*subscriptions, by_id.subscription]
            )
        if not is_resource_name(text):
            return []
        return self._where(kind, self._named(kind, text), subscriptions)

    def _where(
        self, kind: ResourceKind, where: str, subscriptions: Sequence[str]
    ) -> list[ResourceRef]:
        rows = self._query(
            f"Resources | where {where} | project id, name, type, resourceGroup, subscriptionId"
            " | limit 20",
            subscriptions,
        )
        return self._refs(kind, rows)

    @staticmethod
    def _named(kind: ResourceKind, name: str) -> str:
        return f"type =~ {_kql_string(kind.arm_type)} and name =~ {_kql_string(name)}"

    def _find_pasted(
        self, kind: ResourceKind, pasted: PastedResource, subscriptions: Sequence[str]
    ) -> list[ResourceRef]:
        subs = pasted.searched(subscriptions)
        if pasted.kind is not kind:
            return []
        if pasted.id is not None:
            return self.find(kind, pasted.id, subs)
        if pasted.name is not None:
            where = self._named(kind, pasted.name)
            if pasted.resource_group is not None:
                narrowed = self._where(
                    kind, f"{where} and resourceGroup =~ {_kql_string(pasted.resource_group)}", subs
                )
                if narrowed:
                    return narrowed
            return self._where(kind, where, subs)
        if kind is not ResourceKind.AKS_CLUSTER:
            return []
        if pasted.node_resource_group is not None:
            where = (
                f"type =~ {_kql_string(kind.arm_type)}"
                f" and properties.nodeResourceGroup =~ {_kql_string(pasted.node_resource_group)}"
            )
            found = self._where(kind, where, subs)
            if found or pasted.node_pool is None:
                return found
        return self._clusters_with_pool(str(pasted.node_pool), subs) if pasted.node_pool else []

    def _clusters_with_pool(self, pool: str, subscriptions: Sequence[str]) -> list[ResourceRef]:
        """The AKS clusters with a node pool named `pool`: a node's name says its pool, and the
        cluster only through its scale set (which the bot is not given access to read)."""
        kind = ResourceKind.AKS_CLUSTER
        rows = self._query(
            f"Resources | where type =~ {_kql_string(kind.arm_type)}"
            " | project id, name, type, resourceGroup, subscriptionId, properties"
            f" | limit {_TOP}",
            subscriptions,
        )
        matching = [
            row
            for row in rows
            if any(
                str(field_at(p, "name") or "").lower() == pool.lower()
                for p in field_at(row, "properties", "agentPoolProfiles") or []
            )
        ]
        return self._refs(kind, matching)

    def candidates(
        self, kind: ResourceKind, subscriptions: Sequence[str], *, limit: int = 20
    ) -> list[ResourceRef]:
        rows = self._query(
            f"Resources | where type =~ {_kql_string(kind.arm_type)}"
            f" | project id, name, type, resourceGroup, subscriptionId | order by name asc"
            f" | limit {max(1, min(limit, 100))}",
            subscriptions,
        )
        return self._refs(kind, rows)[:limit]

    def owner_of(
        self, ip: ipaddress.IPv4Address, subscriptions: Sequence[str]
    ) -> PublicIpOwner | None:
        """The public IP resource holding `ip`, else a public IP prefix containing it."""
        rows = self._query(
            "Resources | where type =~ 'microsoft.network/publicipaddresses'"
            f" and properties.ipAddress == {_kql_string(str(ip))}"
            " | project id, name, resourceGroup, subscriptionId, properties",
            subscriptions,
        )
        for row in rows:
            return self._owner(ip, row, prefix=None)
        prefixes = self._query(
            "Resources | where type =~ 'microsoft.network/publicipprefixes'"
            " | project id, name, resourceGroup, subscriptionId, properties",
            subscriptions,
        )
        for row in prefixes:
            try:
                network = ipaddress.ip_network(str(field_at(row, "properties", "ipPrefix")))
            except ValueError:
                continue
            if ip in network:
                return self._owner(ip, row, prefix=str(network))
        return None

    @staticmethod
    def _owner(
        ip: ipaddress.IPv4Address, row: Mapping[str, Any], prefix: str | None
    ) -> PublicIpOwner:
        parts = parse_resource_id(str(row.get("id") or ""))
        sub, group = (parts.subscription, parts.resource_group) if parts else ("", "")
        attached = field_at(row, "properties", "natGateway", "id") or field_at(
            row, "properties", "ipConfiguration", "id"
        )
        owner = parse_resource_id(str(attached)) if attached else None
        kind = name = owner_group = None
        if owner is not None:
            segments = [p for p in str(attached).split("/") if p]
            # `…/providers/Microsoft.Network/<kind>/<name>[/ipConfigurations/…]`
            kind = _OWNER_KINDS.get(segments[6].lower(), segments[6])
            name, owner_group = segments[7], owner.resource_group
        return PublicIpOwner(
            ip=ip,
            name=str(row.get("name") or ""),
            resource_group=str(row.get("resourceGroup") or group),
            subscription=str(row.get("subscriptionId") or sub),
            owner_kind=kind,
            owner_name=name,
            owner_resource_group=owner_group,
            prefix=prefix,
        )

    # -- egress per kind ---------------------------------------------------------------------------

    def egress(self, resource: ResourceRef) -> EgressReading:
        readers = {
            ResourceKind.CONTAINER_APP: self._container_app,
            ResourceKind.WEB_APP: self._web_app,
            ResourceKind.AKS_CLUSTER: self._aks_cluster,
            ResourceKind.CONTAINER_GROUP: self._container_group,
        }
        return readers[resource.kind](resource)

    def _container_app(self, ref: ResourceRef) -> EgressReading:
        apps = self._client("apps", ref.subscription)
        app = self._call(
            f"Container App {ref.name}",
            lambda: apps.container_apps.get(ref.resource_group, ref.name),
        )
        listed = _addresses(
            field_at(app, "properties", "outboundIpAddresses") or [],
            EgressSource.AZURE_ASSIGNED,
            f"Container App {ref.name} (Azure-assigned)",
        )
        env_id = str(
            field_at(app, "properties", "managedEnvironmentId")
            or field_at(app, "properties", "environmentId")
            or ""
        )
        env_id_parts = parse_resource_id(env_id)
        notes: list[str] = []
        if env_id_parts is None:
            return EgressReading(resource=ref, addresses=listed)
        env_sub, env_group = env_id_parts.subscription, env_id_parts.resource_group
        env_name = env_id_parts.name
        env_client = apps if env_sub.lower() == ref.subscription else self._client("apps", env_sub)
        env = self._call(
            f"Container Apps environment {env_name}",
            lambda: env_client.managed_environments.get(env_group, env_name),
        )
        vnet = field_at(env, "properties", "vnetConfiguration") or {}
        subnet = field_at(vnet, "infrastructureSubnetId")
        workload_profiles = bool(field_at(env, "properties", "workloadProfiles"))
        if field_at(vnet, "outboundSettings", "outBoundType") == "UserDefinedRouting":
            appliance = field_at(vnet, "outboundSettings", "virtualNetworkApplianceIp")
            notes.append(
                f"Environment {env_name} routes outbound traffic to a network appliance "
                f"({appliance or 'a firewall'}): "
                "that appliance's public address is the one the registry sees."
            )
            return EgressReading(resource=ref, notes=tuple(notes), through_vnet=True)
        if subnet and workload_profiles:
            nat = self._subnet_egress(str(subnet), notes)
            if nat is not None:
                notes.append(
                    f"Environment {env_name} sends outbound traffic through its subnet's NAT "
                    "gateway: a fixed address, best allowed permanently."
                )
                return EgressReading(
                    resource=ref, addresses=nat, notes=tuple(notes), through_vnet=True
                )
        if listed:
            notes.append(
                f"These are environment {env_name}'s Azure-assigned outbound addresses: they stay "
                "with the environment but can change and may be shared with other workloads."
            )
        return EgressReading(resource=ref, addresses=listed, notes=tuple(notes))

    def _web_app(self, ref: ResourceRef) -> EgressReading:
        web = self._client("web", ref.subscription)
        site = self._call(f"app {ref.name}", lambda: web.web_apps.get(ref.resource_group, ref.name))
        props = field_at(site, "properties") or {}
        label = f"App Service app {ref.name} (Azure-assigned, shared by the scale unit)"
        outbound = _addresses(
            _split(field_at(props, "outboundIpAddresses")), EgressSource.AZURE_ASSIGNED, label
        )
        possible = _addresses(
            _split(field_at(props, "possibleOutboundIpAddresses")),
            EgressSource.AZURE_POSSIBLE,
            label,
        )
        possible = tuple(a for a in possible if a.ip not in {o.ip for o in outbound})
        routing = field_at(props, "outboundVnetRouting") or {}
        route_all = bool(
            field_at(routing, "allTraffic")
            or field_at(routing, "applicationTraffic")
            or field_at(props, "vnetRouteAllEnabled")
            or field_at(props, "siteConfig", "vnetRouteAllEnabled")
        )
        image_pull = bool(
            field_at(routing, "allTraffic")
            or field_at(routing, "imagePullTraffic")
            or field_at(props, "vnetImagePullEnabled")
            or field_at(props, "siteConfig", "vnetImagePullEnabled")
        )
        subnet = field_at(props, "virtualNetworkSubnetId")
        notes: list[str] = []
        if subnet and image_pull:
            nat = self._subnet_egress(str(subnet), notes)
            notes.append(
                "Image pull over the VNet is on: the pull leaves through the app's integration "
                "subnet, so its NAT gateway or firewall is what the registry sees, not the "
                "app's outbound addresses."
            )
            return EgressReading(
                resource=ref, addresses=nat or (), notes=tuple(notes), through_vnet=True
            )
        if subnet and route_all:
            notes.append(
                "VNet route-all is on: the app's own traffic leaves through the VNet, but the "
                "image pull still uses these outbound addresses unless image pull over the VNet "
                "is turned on."
            )
        if possible:
            notes.append(
                f"The app may also use {len(possible)} more addresses after a scale change "
                "(`possibleOutboundIpAddresses`)."
            )
        return EgressReading(
            resource=ref, addresses=outbound, possible=possible, notes=tuple(notes)
        )

    def _aks_cluster(self, ref: ResourceRef) -> EgressReading:
        aks = self._client("aks", ref.subscription)
        cluster = self._call(
            f"AKS cluster {ref.name}",
            lambda: aks.managed_clusters.get(ref.resource_group, ref.name),
        )
        profile = field_at(cluster, "properties", "networkProfile") or {}
        outbound_type = str(field_at(profile, "outboundType") or "loadBalancer")
        notes: list[str] = []
        if outbound_type == "userDefinedRouting":
            notes.append(
                f"Cluster {ref.name} sends outbound traffic by user-defined routes, usually to "
                "an Azure Firewall: the firewall's public address is the one that counts."
            )
            return EgressReading(resource=ref, notes=tuple(notes), through_vnet=True)
        if outbound_type in ("none", "block"):
            notes.append(f"Cluster {ref.name} has no outbound path of its own ({outbound_type}).")
            return EgressReading(resource=ref, notes=tuple(notes))
        if outbound_type == "userAssignedNATGateway":
            pools = field_at(cluster, "properties", "agentPoolProfiles") or []
            subnets = dict.fromkeys(
                str(s) for s in (field_at(p, "vnetSubnetID") for p in pools) if s
            )
            found: list[EgressAddress] = []
            for subnet in subnets:
                found.extend(self._subnet_egress(subnet, notes) or ())
            return EgressReading(
                resource=ref, addresses=_unique(found), notes=tuple(notes), through_vnet=True
            )
        if outbound_type == "managedNATGateway":
            ids = field_at(profile, "natGatewayProfile", "effectiveOutboundIPs") or []
            source, what = EgressSource.NAT_GATEWAY, "managed NAT gateway"
        else:
            ids = field_at(profile, "loadBalancerProfile", "effectiveOutboundIPs") or []
            source, what = EgressSource.LOAD_BALANCER, "outbound load balancer"
        found = []
        for item in ids:
            target = str(field_at(item, "id") or "")
            found.extend(self._public_ip(target, source, f"{ref.name}'s {what}", notes))
        if found:
            notes.append(
                f"Cluster {ref.name}'s {what} addresses are public IP resources of the "
                "organisation: they stay for the cluster's life, so allow them permanently."
            )
        return EgressReading(resource=ref, addresses=_unique(found), notes=tuple(notes))

    def _container_group(self, ref: ResourceRef) -> EgressReading:
        rows = self._query(
            f"Resources | where id =~ {_kql_string(ref.id)}"
            " | project id, name, type, resourceGroup, subscriptionId, properties",
            [ref.subscription],
        )
        if not rows:
            raise EgressLookupFailed(f"container group {ref.name}: not found", not_found=True)
        notes = [
            "Container Instances exposes no outbound address: Azure assigns one when the group "
            "starts and changes it when the group is recreated."
        ]
        subnets = [
            str(field_at(s, "id")) for s in field_at(rows[0], "properties", "subnetIds") or []
        ]
        found: list[EgressAddress] = []
        for subnet in subnets:
            found.extend(self._subnet_egress(subnet, notes) or ())
        if subnets and not found:
            notes.append("Its subnet has no NAT gateway: give it one and allow that address.")
        return EgressReading(
            resource=ref, addresses=_unique(found), notes=tuple(notes), through_vnet=bool(subnets)
        )

    # -- network -----------------------------------------------------------------------------------

    def _subnet_egress(self, subnet_id: str, notes: list[str]) -> tuple[EgressAddress, ...] | None:
        """The addresses of a subnet's NAT gateway, or None when it has none (with a note when
        a route table may send the traffic elsewhere)."""
        parsed = parse_resource_id(subnet_id)
        if parsed is None or parsed.type != "microsoft.network/virtualnetworks/subnets":
            notes.append(f"Cannot read the subnet {subnet_id!r}.")
            return None
        group, [vnet], name = parsed.resource_group, parsed.parents, parsed.name
        network = self._client("network", parsed.subscription)
        subnet = self._call(f"subnet {vnet}/{name}", lambda: network.subnets.get(group, vnet, name))
        if field_at(subnet, "properties", "routeTable", "id"):
            notes.append(
                f"Subnet {vnet}/{name} has a route table: if it sends the default route to a "
                "firewall, the firewall's public address is the one the registry sees."
            )
        nat_id = field_at(subnet, "properties", "natGateway", "id")
        nat_parts = parse_resource_id(str(nat_id)) if nat_id else None
        if nat_parts is None:
            return None
        nat_group, nat_name = nat_parts.resource_group, nat_parts.name
        nat_client = self._client("network", nat_parts.subscription)
        nat = self._call(
            f"NAT gateway {nat_name}", lambda: nat_client.nat_gateways.get(nat_group, nat_name)
        )
        label = f"NAT gateway {nat_name} ({nat_group})"
        found: list[EgressAddress] = []
        for item in field_at(nat, "properties", "publicIpAddresses") or []:
            target = str(field_at(item, "id"))
            found.extend(self._public_ip(target, EgressSource.NAT_GATEWAY, label, notes))
        for item in field_at(nat, "properties", "publicIpPrefixes") or []:
            target = str(field_at(item, "id"))
            found.extend(self._public_ip(target, EgressSource.NAT_GATEWAY, label, notes))
        return _unique(found)

    def _public_ip(
        self, target: str, source: EgressSource, label: str, notes: list[str]
    ) -> list[EgressAddress]:
        """The address(es) behind a public IP or public IP prefix id."""
        parsed = parse_resource_id(target)
        if parsed is None or parsed.type not in (PUBLIC_IP, PUBLIC_IP_PREFIX):
            notes.append(f"{label}: cannot follow {target!r}.")
            return []
        name = parsed.name
        network = self._client("network", parsed.subscription)
        if parsed.type == PUBLIC_IP_PREFIX:
            prefix = self._call(f"public IP prefix {name}", lambda: public_address(network, parsed))
            try:
                net = ipaddress.IPv4Network(str(prefix))
            except ValueError:
                notes.append(f"{label}: public IP prefix {name} has no IPv4 range yet.")
                return []
            if net.num_addresses > _PREFIX_EXPANDS:
                notes.append(
                    f"{label} also sends from the prefix {net}: allow it as one permanent rule."
                )
                return []
            return [EgressAddress(ip=ip, source=source, label=label) for ip in net]
        value = self._call(f"public IP {name}", lambda: public_address(network, parsed))
        try:
            return [EgressAddress(ip=ipaddress.IPv4Address(str(value)), source=source, label=label)]
        except ValueError:
            notes.append(f"{label}: public IP {name} has no IPv4 address allocated.")
            return []


def _split(value: Any) -> list[str]:
    return [v.strip() for v in str(value or "").split(",") if v.strip()]


def _addresses(
    values: Iterable[Any], source: EgressSource, label: str
) -> tuple[EgressAddress, ...]:
    found = []
    for value in values:
        try:
            ip = ipaddress.IPv4Address(str(value).strip())
        except ValueError:
            continue  # IPv6 outbound addresses cannot be registry rules; the IPv4 ones are used
        found.append(EgressAddress(ip=ip, source=source, label=label))
    return _unique(found)


def _unique(addresses: Iterable[EgressAddress]) -> tuple[EgressAddress, ...]:
    seen: dict[ipaddress.IPv4Address, EgressAddress] = {}
    for address in addresses:
        seen.setdefault(address.ip, address)
    return tuple(seen.values())
