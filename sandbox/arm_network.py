"""Microsoft.Network for the loopback ARM emulator: the egress resources and service tags the bot
reads, in the response shapes of the REST API specification's examples (azure-rest-api-specs,
`specification/network/.../examples/`: `NatGatewayListAll.json`, `PublicIpAddressGet.json`,
`ApplicationGatewayListAll.json`, `AzureFirewallListBySubscription.json`, `ServiceTagsList.json`);
public IP prefixes and load balancers' outbound rules carry the same API's fields (`ipPrefix`,
`prefixLength`; `outboundRules[].properties.frontendIPConfigurations`, as an AKS `kubernetes`
load balancer shows them).

Served, for API version `NETWORK_API_VERSION` (the one `azure-mgmt-network` sends):

- `GET /subscriptions/{s}/providers/Microsoft.Network/{natGateways|applicationGateways|
  azureFirewalls|loadBalancers}`  a page of `page_size` resources, `nextLink` to the rest
- `GET /subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.Network/
  {publicIPAddresses|publicIPPrefixes}/{name}`  one resource, or 404 `ResourceNotFound`
- `GET /subscriptions/{s}/providers/Microsoft.Network/locations/{location}/serviceTags`

Seed it with `add_public_ip`, `add_public_ip_prefix`, `add_nat_gateway`,
`add_application_gateway`, `add_azure_firewall`, `add_load_balancer` and `set_service_tags`, then
`attach` it to an `ArmEmulator`.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from sandbox.arm_emulator import Answer, ArmEmulator, arm_error, resource_not_found

NETWORK_API_VERSION = "2026-03-01"
NETWORK = "Microsoft.Network"

_LISTS = {
    "natgateways": "natGateways",
    "applicationgateways": "applicationGateways",
    "azurefirewalls": "azureFirewalls",
    "loadbalancers": "loadBalancers",
}
_SINGLES = {"publicipaddresses": "publicIPAddresses", "publicipprefixes": "publicIPPrefixes"}


def resource_id(subscription: str, resource_group: str, kind: str, name: str) -> str:
    return (
        f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/"
        f"{NETWORK}/{kind}/{name}"
    )


def _etag() -> str:
    return f'W/"{uuid.uuid4()}"'


def _refs(ids: Iterable[str]) -> list[dict[str, str]]:
    return [{"id": i} for i in ids]


class ResourceStore:
    """Seeded ARM resources by id (ids compare case-insensitively, as ARM's do); thread-safe."""

    def __init__(self) -> None:
        self._resources: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def _add(self, body: dict[str, Any]) -> str:
        with self._lock:
            self._resources[body["id"].lower()] = body
        return str(body["id"])

    def get(self, resource: str) -> dict[str, Any] | None:
        """A copy of the seeded resource with this id, or None."""
        with self._lock:
            found = self._resources.get(resource.rstrip("/").lower())
            return copy.deepcopy(found) if found is not None else None

    def all(self) -> list[dict[str, Any]]:
        """Copies of every seeded resource."""
        with self._lock:
            return copy.deepcopy(list(self._resources.values()))

    def remove(self, resource: str) -> None:
        with self._lock:
            self._resources.pop(resource.lower(), None)


class NetworkResources(ResourceStore):
    """The seeded network resources of any number of subscriptions; thread-safe."""

    def __init__(self, *, page_size: int = 50) -> None:
        super().__init__()
        #: Resources per list page; `nextLink` carries the rest (`$skipToken` is an offset).
        self.page_size = page_size
        self._service_tags: dict[str, Any] = {"values": []}
        self._emulator: ArmEmulator | None = None

    def attach(self, emulator: ArmEmulator) -> NetworkResources:
        """Serve these resources from `emulator` (once: attaching again to it does nothing)."""
        if self._emulator is not emulator:
            self._emulator = emulator
            emulator.add_route(self.route)
        return self

    # -- seeding -----------------------------------------------------------------------------------

    def add_public_ip(
        self,
        subscription: str,
        resource_group: str,
        name: str,
        ip_address: str | None,
        *,
        location: str = "westeurope",
        version: str = "IPv4",
        prefix_id: str | None = None,
        attached_to: str | None = None,
    ) -> str:
        """A Standard public IP; `ip_address=None` is one not allocated yet (no `ipAddress`)."""
        props: dict[str, Any] = {
            "provisioningState": "Succeeded",
            "resourceGuid": str(uuid.uuid4()),
            "publicIPAddressVersion": version,
            "publicIPAllocationMethod": "Static",
            "idleTimeoutInMinutes": 4,
            "ipTags": [],
            "ddosSettings": {"protectionMode": "VirtualNetworkInherited"},
        }
        if ip_address is not None:
            props["ipAddress"] = ip_address
        if prefix_id is not None:
            props["publicIPPrefix"] = {"id": prefix_id}
        if attached_to is not None:
            props["ipConfiguration"] = {"id": attached_to}
        return self._add(
            {
                "name": name,
                "id": resource_id(subscription, resource_group, "publicIPAddresses", name),
                "etag": _etag(),
                "location": location,
                "type": f"{NETWORK}/publicIPAddresses",
                "sku": {"name": "Standard", "tier": "Regional"},
                "zones": ["1", "2", "3"],
                "properties": props,
            }
        )

    def add_public_ip_prefix(
        self,
        subscription: str,
        resource_group: str,
        name: str,
        ip_prefix: str,
        *,
        location: str = "westeurope",
        version: str = "IPv4",
    ) -> str:
        return self._add(
            {
                "name": name,
                "id": resource_id(subscription, resource_group, "publicIPPrefixes", name),
                "etag": _etag(),
                "location": location,
                "type": f"{NETWORK}/publicIPPrefixes",
                "sku": {"name": "Standard", "tier": "Regional"},
                "properties": {
                    "provisioningState": "Succeeded",
                    "resourceGuid": str(uuid.uuid4()),
                    "publicIPAddressVersion": version,
                    "prefixLength": int(ip_prefix.rsplit("/", 1)[1]),
                    "ipPrefix": ip_prefix,
                    "ipTags": [],
                    "publicIPAddresses": [],
                },
            }
        )

    def add_nat_gateway(
        self,
        subscription: str,
        resource_group: str,
        name: str,
        *,
        public_ips: Sequence[str] = (),
        public_ip_prefixes: Sequence[str] = (),
        location: str = "westeurope",
    ) -> str:
        nid = resource_id(subscription, resource_group, "natGateways", name)
        with self._lock:
            # Azure writes the association on each public IP and prefix too (`natGateway`).
            for target in (*public_ips, *public_ip_prefixes):
                found = self._resources.get(target.lower())
                if found is not None:
                    found["properties"]["natGateway"] = {"id": nid}
        return self._add(
            {
                "name": name,
                "id": nid,
                "etag": _etag(),
                "type": f"{NETWORK}/natGateways",
                "location": location,
                "sku": {"name": "Standard"},
                "properties": {
                    "idleTimeoutInMinutes": 4,
                    "provisioningState": "Succeeded",
                    "resourceGuid": str(uuid.uuid4()),
                    "publicIpAddresses": _refs(public_ips),
                    "publicIpPrefixes": _refs(public_ip_prefixes),
                    "subnets": [
                        {
                            "id": resource_id(
                                subscription, resource_group, "virtualNetworks", "vnet"
                            )
                            + f"/subnets/{name}-subnet"
                        }
                    ],
                },
            }
        )

    def add_application_gateway(
        self,
        subscription: str,
        resource_group: str,
        name: str,
        *,
        frontend_public_ips: Sequence[str] = (),
        private_frontend: str | None = "10.0.1.10",
        location: str = "westeurope",
    ) -> str:
        gid = resource_id(subscription, resource_group, "applicationGateways", name)
        frontends: list[dict[str, Any]] = [
            {
                "name": f"appGwPublicFrontendIp{i}",
                "id": f"{gid}/frontendIPConfigurations/appGwPublicFrontendIp{i}",
                "etag": _etag(),
                "type": f"{NETWORK}/applicationGateways/frontendIPConfigurations",
                "properties": {
                    "provisioningState": "Succeeded",
                    "privateIPAllocationMethod": "Dynamic",
                    "publicIPAddress": {"id": pip},
                },
            }
            for i, pip in enumerate(frontend_public_ips)
        ]
        if private_frontend is not None:
            frontends.append(
                {
                    "name": "appGwPrivateFrontendIp",
                    "id": f"{gid}/frontendIPConfigurations/appGwPrivateFrontendIp",
                    "etag": _etag(),
                    "type": f"{NETWORK}/applicationGateways/frontendIPConfigurations",
                    "properties": {
                        "provisioningState": "Succeeded",
                        "privateIPAddress": private_frontend,
                        "privateIPAllocationMethod": "Static",
                        "subnet": {
                            "id": resource_id(
                                subscription, resource_group, "virtualNetworks", "vnet"
                            )
                            + "/subnets/appgwsubnet"
                        },
                    },
                }
            )
        return self._add(
            {
                "name": name,
                "id": gid,
                "etag": _etag(),
                "type": f"{NETWORK}/applicationGateways",
                "location": location,
                "properties": {
                    "provisioningState": "Succeeded",
                    "resourceGuid": str(uuid.uuid4()),
                    "sku": {"name": "Standard_v2", "tier": "Standard_v2", "capacity": 2},
                    "operationalState": "Running",
                    "gatewayIPConfigurations": [
                        {
                            "name": "appgwipc",
                            "id": f"{gid}/gatewayIPConfigurations/appgwipc",
                            "properties": {
                                "provisioningState": "Succeeded",
                                "subnet": {
                                    "id": resource_id(
                                        subscription, resource_group, "virtualNetworks", "vnet"
                                    )
                                    + "/subnets/appgwsubnet"
                                },
                            },
                        }
                    ],
                    "frontendIPConfigurations": frontends,
                    "frontendPorts": [
                        {
                            "name": "appgwfp",
                            "id": f"{gid}/frontendPorts/appgwfp",
                            "properties": {"provisioningState": "Succeeded", "port": 443},
                        }
                    ],
                    "backendAddressPools": [],
                    "backendHttpSettingsCollection": [],
                    "httpListeners": [],
                    "requestRoutingRules": [],
                },
            }
        )

    def add_azure_firewall(
        self,
        subscription: str,
        resource_group: str,
        name: str,
        *,
        public_ips: Sequence[str] = (),
        management_public_ip: str | None = None,
        hub_public_addresses: Sequence[str] = (),
        location: str = "westeurope",
    ) -> str:
        """A firewall in a virtual network (`public_ips`) or in a Virtual WAN hub
        (`hub_public_addresses`, listed inline as the API does for secured hubs)."""
        fid = resource_id(subscription, resource_group, "azureFirewalls", name)
        vnet = resource_id(subscription, resource_group, "virtualNetworks", "vnet-hub")
        props: dict[str, Any] = {
            "provisioningState": "Succeeded",
            "threatIntelMode": "Alert",
            "sku": {"name": "AZFW_VNet", "tier": "Standard"},
            "ipConfigurations": [
                {
                    "name": f"ipconfig{i}",
                    "id": f"{fid}/azureFirewallIpConfigurations/ipconfig{i}",
                    "etag": _etag(),
                    "properties": {
                        "provisioningState": "Succeeded",
                        "privateIPAddress": "10.0.0.4",
                        "subnet": {"id": f"{vnet}/subnets/AzureFirewallSubnet"},
                        "publicIPAddress": {"id": pip},
                    },
                }
                for i, pip in enumerate(public_ips)
            ],
            "applicationRuleCollections": [],
            "natRuleCollections": [],
            "networkRuleCollections": [],
            "ipGroups": [],
        }
        if management_public_ip is not None:
            props["managementIpConfiguration"] = {
                "name": "azureFirewallMgmtIpConfiguration",
                "id": f"{fid}/azureFirewallIpConfigurations/azureFirewallMgmtIpConfiguration",
                "etag": _etag(),
                "properties": {
                    "provisioningState": "Succeeded",
                    "subnet": {"id": f"{vnet}/subnets/AzureFirewallManagementSubnet"},
                    "publicIPAddress": {"id": management_public_ip},
                },
            }
        if hub_public_addresses:
            props["sku"] = {"name": "AZFW_Hub", "tier": "Standard"}
            props["hubIPAddresses"] = {
                "privateIPAddress": "10.1.64.4",
                "publicIPs": {
                    "count": len(hub_public_addresses),
                    "addresses": [{"address": a} for a in hub_public_addresses],
                },
            }
        return self._add(
            {
                "name": name,
                "id": fid,
                "type": f"{NETWORK}/azureFirewalls",
                "etag": _etag(),
                "location": location,
                "zones": [],
                "tags": {},
                "properties": props,
            }
        )

    def add_load_balancer(
        self,
        subscription: str,
        resource_group: str,
        name: str,
        *,
        frontends: Mapping[str, str],
        outbound_rules: Mapping[str, Sequence[str]] | None = None,
        location: str = "westeurope",
    ) -> str:
        """`frontends`: frontend name → public IP or public IP prefix id; `outbound_rules`: rule
        name → the frontend names it uses. Like AKS's `kubernetes` load balancer."""
        outbound_rules = outbound_rules or {}
        lid = resource_id(subscription, resource_group, "loadBalancers", name)
        pool = f"{lid}/backendAddressPools/{name}-outbound"
        frontend_configs: list[dict[str, Any]] = []
        for fe_name, target in frontends.items():
            key = "publicIPPrefix" if "/publicipprefixes/" in target.lower() else "publicIPAddress"
            using = [rule for rule, fes in outbound_rules.items() if fe_name in fes]
            frontend_configs.append(
                {
                    "name": fe_name,
                    "id": f"{lid}/frontendIPConfigurations/{fe_name}",
                    "etag": _etag(),
                    "type": f"{NETWORK}/loadBalancers/frontendIPConfigurations",
                    "properties": {
                        "provisioningState": "Succeeded",
                        "privateIPAllocationMethod": "Dynamic",
                        key: {"id": target},
                        "outboundRules": _refs(f"{lid}/outboundRules/{r}" for r in using),
                    },
                }
            )
        rules = [
            {
                "name": rule,
                "id": f"{lid}/outboundRules/{rule}",
                "etag": _etag(),
                "type": f"{NETWORK}/loadBalancers/outboundRules",
                "properties": {
                    "provisioningState": "Succeeded",
                    "allocatedOutboundPorts": 0,
                    "protocol": "All",
                    "enableTcpReset": True,
                    "idleTimeoutInMinutes": 30,
                    "backendAddressPool": {"id": pool},
                    "frontendIPConfigurations": _refs(
                        f"{lid}/frontendIPConfigurations/{fe}" for fe in fes
                    ),
                },
            }
            for rule, fes in outbound_rules.items()
        ]
        return self._add(
            {
                "name": name,
                "id": lid,
                "etag": _etag(),
                "type": f"{NETWORK}/loadBalancers",
                "location": location,
                "sku": {"name": "Standard", "tier": "Regional"},
                "properties": {
                    "provisioningState": "Succeeded",
                    "resourceGuid": str(uuid.uuid4()),
                    "frontendIPConfigurations": frontend_configs,
                    "backendAddressPools": [
                        {"name": f"{name}-outbound", "id": pool, "properties": {}}
                    ],
                    "loadBalancingRules": [],
                    "probes": [],
                    "inboundNatRules": [],
                    "inboundNatPools": [],
                    "outboundRules": rules,
                },
            }
        )

    def set_service_tags(
        self, values: Sequence[Mapping[str, Any]], *, change_number: str = "1"
    ) -> None:
        """The tags every location answers with: `{"name", "properties": {...}}` entries."""
        entries = []
        for value in values:
            entry = copy.deepcopy(dict(value))
            entry.setdefault("id", entry["name"])
            entries.append(entry)
        with self._lock:
            self._service_tags = {
                "changeNumber": change_number,
                "cloud": "Public",
                "values": entries,
            }

    # -- serving -----------------------------------------------------------------------------------

    def route(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer | None:
        """The emulator route: None for paths outside Microsoft.Network."""
        parts = [p for p in path.split("/") if p]
        lowered = [p.lower() for p in parts]
        if method != "GET" or len(parts) < 4 or lowered[0] != "subscriptions":
            return None
        if lowered[2:4] == ["providers", NETWORK.lower()]:
            rest = lowered[4:]
        elif (
            len(parts) >= 6
            and lowered[2] == "resourcegroups"
            and lowered[4:6]
            == [
                "providers",
                NETWORK.lower(),
            ]
        ):
            rest = lowered[6:]
        else:
            return None
        version = query.get("api-version")
        if version != NETWORK_API_VERSION:
            return arm_error(
                400,
                "NoRegisteredProviderFound" if version else "MissingApiVersionParameter",
                f"No registered resource provider found for API version '{version}'. "
                f"The supported api-versions are '{NETWORK_API_VERSION}'.",
            )
        subscription = parts[1].lower()
        if lowered[2] == "providers" and len(rest) == 1 and rest[0] in _LISTS:
            return self._list(subscription, _LISTS[rest[0]], path, query)
        if (
            lowered[2] == "providers"
            and len(rest) == 3
            and rest[::2]
            == [
                "locations",
                "servicetags",
            ]
        ):
            with self._lock:
                tags = copy.deepcopy(self._service_tags)
            return (
                200,
                {},
                {
                    "name": "public",
                    "id": f"/subscriptions/{parts[1]}/providers/{NETWORK}/serviceTags/public",
                    "type": f"{NETWORK}/serviceTags",
                    **tags,
                },
            )
        if lowered[2] == "resourcegroups" and len(rest) == 2 and rest[0] in _SINGLES:
            found = self.get(path)
            if found is None:
                return resource_not_found(f"{NETWORK}/{_SINGLES[rest[0]]}/{parts[-1]}", parts[3])
            return 200, {}, found
        return None

    def _list(self, subscription: str, kind: str, path: str, query: dict[str, str]) -> Answer:
        prefix = f"/subscriptions/{subscription}/resourcegroups/"
        marker = f"/providers/{NETWORK.lower()}/{kind.lower()}/"
        with self._lock:
            items = [
                copy.deepcopy(body)
                for key, body in sorted(self._resources.items())
                if key.startswith(prefix) and marker in key and key.count("/") == 8
            ]
        try:
            start = int(query.get("$skipToken") or 0)
        except ValueError:
            return arm_error(400, "InvalidSkipToken", "The skip token is not valid.")
        page: dict[str, Any] = {"value": items[start : start + self.page_size]}
        if start + self.page_size < len(items):
            base = self._emulator.base_url if self._emulator is not None else ""
            page["nextLink"] = (
                f"{base}{path}?api-version={NETWORK_API_VERSION}"
                f"&$skipToken={quote(str(start + self.page_size))}"
            )
        return 200, {}, page
