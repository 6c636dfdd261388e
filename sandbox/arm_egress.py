"""The resources an egress lookup reads, for the loopback ARM emulator: Container Apps and their
environments, web apps, AKS clusters, container groups, subnets and single NAT gateways, and Azure
Resource Graph over all of them and `sandbox/arm_network.py`'s network resources.

Shapes follow the REST specifications' examples (azure-rest-api-specs): `ContainerApps_Get.json`
and `ManagedEnvironments_Get.json` (Microsoft.App, with `outboundIpAddresses`,
`vnetConfiguration.infrastructureSubnetId`, `workloadProfiles`), `GetWebApp.json` (Microsoft.Web
sites: comma-separated `outboundIpAddresses` / `possibleOutboundIpAddresses`,
`virtualNetworkSubnetId`, `outboundVnetRouting`), `ManagedClustersGet.json`
(Microsoft.ContainerService: `networkProfile.outboundType`, `loadBalancerProfile` /
`natGatewayProfile.effectiveOutboundIPs`), `SubnetGet.json` and `NatGatewayGet.json`
(Microsoft.Network), and `ResourcesBasicQuery.json` / `ResourcesPropertiesQuery.json`
(Microsoft.ResourceGraph: `totalRecords`, `count`, `resultTruncated`, `facets`, `data`).

Served, each for the API version its SDK sends:
- `GET .../Microsoft.App/containerApps/{n}`, `.../Microsoft.App/managedEnvironments/{n}`
- `GET .../Microsoft.Web/sites/{n}`
- `GET .../Microsoft.ContainerService/managedClusters/{n}`
- `GET .../Microsoft.Network/natGateways/{n}`, `.../virtualNetworks/{v}/subnets/{n}`
- `POST /providers/Microsoft.ResourceGraph/resources`: the small part of KQL the bot writes —
  `Resources | where <path> (=~|==|!=|!~) '<value>' [and …] | project <fields> | order by <field>
  [asc|desc] | limit N`. Anything else is refused as Resource Graph refuses a query it cannot
  parse (400 `BadRequest` with an `InvalidQuery` detail), so a query the adapter starts writing
  tomorrow fails here instead of silently matching nothing.

Seed with `add_*`, then `attach` to an `ArmEmulator` (after `NetworkResources.attach`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

from sandbox.arm_emulator import Answer, ArmEmulator, arm_error, resource_not_found
from sandbox.arm_network import NETWORK_API_VERSION, NetworkResources, ResourceStore

APPS_API_VERSION = "2026-07-01"
WEB_API_VERSION = "2025-05-01"
AKS_API_VERSION = "2026-08-01"
GRAPH_API_VERSION = "2021-03-01"

#: Provider (lower case) → the API version its SDK sends.
_VERSIONS = {
    "microsoft.app": APPS_API_VERSION,
    "microsoft.web": WEB_API_VERSION,
    "microsoft.containerservice": AKS_API_VERSION,
    "microsoft.network": NETWORK_API_VERSION,
}


def arm_id(subscription: str, resource_group: str, provider: str, *path: str) -> str:
    return (
        f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{provider}/"
        + ("/".join(path))
    )


class EgressResources(ResourceStore):
    """Seeded compute resources and subnets, plus Resource Graph over them and `network`;
    thread-safe."""

    def __init__(self, network: NetworkResources | None = None) -> None:
        super().__init__()
        self.network = network or NetworkResources()
        #: Every Resource Graph query received, for tests.
        self.queries: list[str] = []

    def attach(self, emulator: ArmEmulator) -> EgressResources:
        self.network.attach(emulator)
        emulator.add_route(self.route)
        return self

    # -- seeding -----------------------------------------------------------------------------------

    def add_subnet(
        self,
        subscription: str,
        resource_group: str,
        vnet: str,
        name: str,
        *,
        address_prefix: str = "10.0.0.0/23",
        nat_gateway: str | None = None,
        route_table: str | None = None,
        delegation: str | None = None,
    ) -> str:
        sid = arm_id(
            subscription, resource_group, "Microsoft.Network", "virtualNetworks", vnet,
            "subnets", name,
        )  # fmt: skip
        props: dict[str, Any] = {
            "addressPrefix": address_prefix,
            "provisioningState": "Succeeded",
            "privateEndpointNetworkPolicies": "Disabled",
            "privateLinkServiceNetworkPolicies": "Enabled",
            "delegations": [],
        }
        if nat_gateway is not None:
            props["natGateway"] = {"id": nat_gateway}
        if route_table is not None:
            props["routeTable"] = {"id": route_table}
        if delegation is not None:
            props["delegations"] = [
                {
                    "name": "delegation",
                    "id": f"{sid}/delegations/delegation",
                    "properties": {"serviceName": delegation, "provisioningState": "Succeeded"},
                    "type": "Microsoft.Network/virtualNetworks/subnets/delegations",
                }
            ]
        return self._add(
            {
                "name": name,
                "id": sid,
                "etag": f'W/"{uuid.uuid4()}"',
                "type": "Microsoft.Network/virtualNetworks/subnets",
                "properties": props,
            }
        )

    def add_managed_environment(
        self,
        subscription: str,
        resource_group: str,
        name: str,
        *,
        static_ip: str = "20.76.10.10",
        subnet: str | None = None,
        workload_profiles: bool = False,
        user_defined_routing_to: str | None = None,
        location: str = "westeurope",
    ) -> str:
        props: dict[str, Any] = {
            "provisioningState": "Succeeded",
            "defaultDomain": f"{name}.{location}.azurecontainerapps.io",
            "staticIp": static_ip,
            "zoneRedundant": False,
            "appLogsConfiguration": None,
        }
        vnet: dict[str, Any] = {}
        if subnet is not None:
            vnet.update({"infrastructureSubnetId": subnet, "internal": False})
        if user_defined_routing_to is not None:
            vnet["outboundSettings"] = {
                "outBoundType": "UserDefinedRouting",
                "virtualNetworkApplianceIp": user_defined_routing_to,
            }
        if vnet:
            props["vnetConfiguration"] = vnet
        if workload_profiles:
            props["workloadProfiles"] = [
                {"name": "Consumption", "workloadProfileType": "Consumption"},
                {"name": "general", "workloadProfileType": "D4", "minimumCount": 1,
                 "maximumCount": 3},
            ]  # fmt: skip
        return self._add(
            {
                "id": arm_id(
                    subscription, resource_group, "Microsoft.App", "managedEnvironments", name
                ),
                "name": name,
                "type": "Microsoft.App/managedEnvironments",
                "location": location,
                "tags": {},
                "properties": props,
            }
        )

    def add_container_app(
        self,
        subscription: str,
        resource_group: str,
        name: str,
        *,
        environment: str,
        outbound_ips: Sequence[str] = (),
        image: str = "contosoprod.azurecr.io/shop/api:1.4",
        location: str = "westeurope",
    ) -> str:
        return self._add(
            {
                "id": arm_id(subscription, resource_group, "Microsoft.App", "containerApps", name),
                "name": name,
                "type": "Microsoft.App/containerApps",
                "location": location,
                "properties": {
                    "provisioningState": "Succeeded",
                    "managedEnvironmentId": environment,
                    "environmentId": environment,
                    "workloadProfileName": "Consumption",
                    "outboundIpAddresses": list(outbound_ips),
                    "latestRevisionName": f"{name}--abc123",
                    "latestReadyRevisionName": f"{name}--abc123",
                    "configuration": {
                        "activeRevisionsMode": "Single",
                        "registries": [{"server": image.split("/", 1)[0], "identity": "system"}],
                        "maxInactiveRevisions": 100,
                    },
                    "template": {
                        "containers": [
                            {
                                "image": image,
                                "name": name,
                                "resources": {"cpu": 0.5, "memory": "1Gi"},
                            }
                        ],
                        "scale": {"minReplicas": 0, "maxReplicas": 10},
                    },
                },
            }
        )

    def add_web_app(
        self,
        subscription: str,
        resource_group: str,
        name: str,
        *,
        outbound_ips: Sequence[str],
        possible_outbound_ips: Sequence[str] = (),
        subnet: str | None = None,
        route_all: bool = False,
        image_pull_over_vnet: bool = False,
        kind: str = "app,linux,container",
        image: str = "contosoprod.azurecr.io/shop/web:2.0",
        location: str = "westeurope",
    ) -> str:
        possible = list(dict.fromkeys([*outbound_ips, *possible_outbound_ips]))
        props: dict[str, Any] = {
            "state": "Running",
            "hostNames": [f"{name}.azurewebsites.net"],
            "enabled": True,
            "enabledHostNames": [f"{name}.azurewebsites.net", f"{name}.scm.azurewebsites.net"],
            "serverFarmId": arm_id(
                subscription, resource_group, "Microsoft.Web", "serverfarms", f"{name}-plan"
            ),
            "reserved": True,
            "siteConfig": {
                "numberOfWorkers": 1,
                "linuxFxVersion": f"DOCKER|{image}",
                "acrUseManagedIdentityCreds": True,
                "vnetRouteAllEnabled": route_all,
            },
            "defaultHostName": f"{name}.azurewebsites.net",
            "httpsOnly": True,
            "outboundIpAddresses": ",".join(outbound_ips),
            "possibleOutboundIpAddresses": ",".join(possible),
            "outboundVnetRouting": {
                "allTraffic": False,
                "applicationTraffic": route_all,
                "contentShareTraffic": False,
                "imagePullTraffic": image_pull_over_vnet,
                "backupRestoreTraffic": False,
            },
        }
        if subnet is not None:
            props["virtualNetworkSubnetId"] = subnet
        return self._add(
            {
                "id": arm_id(subscription, resource_group, "Microsoft.Web", "sites", name),
                "name": name,
                "type": "Microsoft.Web/sites",
                "kind": kind,
                "location": location,
                "properties": props,
            }
        )

    def add_managed_cluster(
        self,
        subscription: str,
        resource_group: str,
        name: str,
        *,
        outbound_type: str = "loadBalancer",
        outbound_ips: Sequence[str] = (),
        subnet: str | None = None,
        node_pool: str = "nodepool1",
        location: str = "westeurope",
    ) -> str:
        """`outbound_ips`: public IP ids the load balancer or managed NAT gateway uses; its nodes
        are `aks-<node_pool>-<digits>-vmss<instance>`, in `MC_<group>_<name>_<location>`."""
        network: dict[str, Any] = {
            "networkPlugin": "azure",
            "networkPluginMode": "overlay",
            "podCidr": "10.244.0.0/16",
            "serviceCidr": "10.0.0.0/16",
            "dnsServiceIP": "10.0.0.10",
            "outboundType": outbound_type,
            "loadBalancerSku": "standard",
        }
        effective = [{"id": i} for i in outbound_ips]
        if outbound_type == "loadBalancer":
            network["loadBalancerProfile"] = {
                "managedOutboundIPs": {"count": len(effective) or 1},
                "effectiveOutboundIPs": effective,
                "backendPoolType": "nodeIPConfiguration",
            }
        elif outbound_type == "managedNATGateway":
            network["natGatewayProfile"] = {
                "managedOutboundIPProfile": {"count": len(effective) or 1},
                "effectiveOutboundIPs": effective,
                "idleTimeoutInMinutes": 4,
            }
        pool: dict[str, Any] = {
            "name": node_pool,
            "count": 3,
            "vmSize": "Standard_D4ds_v5",
            "osType": "Linux",
            "type": "VirtualMachineScaleSets",
            "mode": "System",
            "provisioningState": "Succeeded",
        }
        if subnet is not None:
            pool["vnetSubnetID"] = subnet
        return self._add(
            {
                "id": arm_id(
                    subscription,
                    resource_group,
                    "Microsoft.ContainerService",
                    "managedClusters",
                    name,
                ),
                "name": name,
                "type": "Microsoft.ContainerService/ManagedClusters",
                "location": location,
                "sku": {"name": "Base", "tier": "Free"},
                "properties": {
                    "provisioningState": "Succeeded",
                    "kubernetesVersion": "1.31.2",
                    "dnsPrefix": f"{name}-dns",
                    "fqdn": f"{name}-dns-1a2b3c4d.hcp.{location}.azmk8s.io",
                    "agentPoolProfiles": [pool],
                    "nodeResourceGroup": f"MC_{resource_group}_{name}_{location}",
                    "networkProfile": network,
                },
            }
        )

    def add_container_group(
        self,
        subscription: str,
        resource_group: str,
        name: str,
        *,
        subnet: str | None = None,
        location: str = "westeurope",
    ) -> str:
        props: dict[str, Any] = {
            "provisioningState": "Succeeded",
            "osType": "Linux",
            "sku": "Standard",
            "restartPolicy": "OnFailure",
            "containers": [
                {
                    "name": name,
                    "properties": {
                        "image": "contosoprod.azurecr.io/jobs/nightly:3",
                        "resources": {"requests": {"cpu": 1.0, "memoryInGB": 1.5}},
                    },
                }
            ],
        }
        if subnet is not None:
            props["subnetIds"] = [{"id": subnet}]
            props["ipAddress"] = {"type": "Private", "ip": "10.0.4.4", "ports": []}
        return self._add(
            {
                "id": arm_id(
                    subscription,
                    resource_group,
                    "Microsoft.ContainerInstance",
                    "containerGroups",
                    name,
                ),
                "name": name,
                "type": "Microsoft.ContainerInstance/containerGroups",
                "location": location,
                "properties": props,
            }
        )

    # -- serving -----------------------------------------------------------------------------------

    def route(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer | None:
        parts = [p for p in path.split("/") if p]
        lowered = [p.lower() for p in parts]
        if lowered[:3] == ["providers", "microsoft.resourcegraph", "resources"] and len(parts) == 3:
            if method != "POST":
                return None
            if query.get("api-version") != GRAPH_API_VERSION:
                return arm_error(
                    400,
                    "NoRegisteredProviderFound",
                    f"No registered resource provider found for API version "
                    f"'{query.get('api-version')}'. The supported api-versions are "
                    f"'{GRAPH_API_VERSION}'.",
                )
            return self._graph(body)
        if (
            method != "GET"
            or len(parts) < 8
            or lowered[0] != "subscriptions"
            or lowered[2] != "resourcegroups"
            or lowered[4] != "providers"
        ):
            return None
        provider = lowered[5]
        if provider not in _VERSIONS:
            return None
        rest = lowered[6:]
        if provider == "microsoft.network" and not (
            (len(rest) == 2 and rest[0] == "natgateways")
            or (len(rest) == 4 and rest[0] == "virtualnetworks" and rest[2] == "subnets")
        ):
            return None
        if len(rest) not in (2, 4):
            return None
        version = query.get("api-version")
        if version != _VERSIONS[provider]:
            return arm_error(
                400,
                "NoRegisteredProviderFound" if version else "MissingApiVersionParameter",
                f"No registered resource provider found for API version '{version}'. "
                f"The supported api-versions are '{_VERSIONS[provider]}'.",
            )
        found = self.get(path)
        if found is None and provider == "microsoft.network":
            found = self.network.get(path)
        if found is None:
            return resource_not_found(f"{parts[5]}/{'/'.join(parts[6:])}", parts[3])
        return 200, {}, found

    # -- Resource Graph ----------------------------------------------------------------------------

    def _rows(self) -> list[dict[str, Any]]:
        rows = []
        for body in [*self.all(), *self.network.all()]:
            parts = [p for p in body["id"].split("/") if p]
            if "/subnets/" in body["id"].lower():
                continue  # subnets are not rows of `Resources`
            rows.append(
                {
                    "id": body["id"],
                    "name": body["name"],
                    "type": body["type"].lower(),
                    "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                    "kind": body.get("kind", ""),
                    "location": body.get("location", ""),
                    "resourceGroup": parts[3].lower(),
                    "subscriptionId": parts[1],
                    "managedBy": "",
                    "sku": body.get("sku"),
                    "plan": None,
                    "properties": body.get("properties") or {},
                    "tags": body.get("tags") or {},
                    "identity": None,
                    "zones": body.get("zones"),
                    "extendedLocation": None,
                }
            )
        return rows

    def _graph(self, body: Any) -> Answer:
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return _graph_error("The request content was invalid.")
        text = body["query"]
        with self._lock:
            self.queries.append(text)
        subscriptions = {str(s).lower() for s in body.get("subscriptions") or []}
        try:
            plan = _parse_kql(text)
        except ValueError as exc:
            return _graph_error(str(exc))
        rows = [r for r in self._rows() if r["subscriptionId"].lower() in subscriptions]
        rows = [r for r in rows if all(_holds(r, clause) for clause in plan.where)]
        if plan.order is not None:
            field, descending = plan.order
            rows.sort(key=lambda r: str(_path(r, field) or "").lower(), reverse=descending)
        options = body.get("options") or {}
        top = int(options.get("$top") or 100)
        limit = min(plan.limit if plan.limit is not None else top, top)
        total = len(rows)
        rows = rows[:limit]
        if plan.project:
            rows = [{f.replace(".", "_"): _path(r, f) for f in plan.project} for r in rows]
        return (
            200,
            {},
            {
                "totalRecords": total,
                "count": len(rows),
                "resultTruncated": "true" if total > len(rows) else "false",
                "facets": [],
                "data": rows,
            },
        )


class _Plan:
    def __init__(self) -> None:
        self.where: list[tuple[str, str, str]] = []
        self.project: list[str] = []
        self.order: tuple[str, bool] | None = None
        self.limit: int | None = None


_FIELD = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_CLAUSE = re.compile(rf"\s*(?P<field>{_FIELD})\s*(?P<op>=~|==|!=|!~)\s*'(?P<value>[^']*)'\s*")


def _parse_kql(text: str) -> _Plan:
    stages = [s.strip() for s in text.split("|")]
    if not stages or stages[0].lower() != "resources":
        raise ValueError(f"Table '{stages[0] if stages else ''}' is not supported here.")
    plan = _Plan()
    for stage in stages[1:]:
        verb, _, rest = stage.partition(" ")
        verb = verb.lower()
        if verb == "where":
            for clause in re.split(r"\s+and\s+", rest):
                m = _CLAUSE.fullmatch(clause)
                if m is None:
                    raise ValueError(f"Cannot parse the condition '{clause}'.")
                plan.where.append((m["field"], m["op"], m["value"]))
        elif verb == "project":
            fields = [f.strip() for f in rest.split(",")]
            if not all(re.fullmatch(_FIELD, f) for f in fields):
                raise ValueError(f"Cannot parse the projection '{rest}'.")
            plan.project = fields
        elif verb == "order":
            m = re.fullmatch(rf"by\s+(?P<field>{_FIELD})(?:\s+(?P<dir>asc|desc))?", rest.strip())
            if m is None:
                raise ValueError(f"Cannot parse the ordering '{rest}'.")
            plan.order = (m["field"], m["dir"] == "desc")
        elif verb in ("limit", "take") and rest.strip().isdigit():
            plan.limit = int(rest)
        else:
            raise ValueError(f"The operator '{stage}' is not supported here.")
    return plan


def _path(row: dict[str, Any], field: str) -> Any:
    node: Any = row
    for key in field.split("."):
        if not isinstance(node, dict):
            return None
        # KQL column names are case-sensitive, property bag keys too.
        node = node.get(key)
    return node


def _holds(row: dict[str, Any], clause: tuple[str, str, str]) -> bool:
    field, op, value = clause
    actual = _path(row, field)
    text = "" if actual is None else str(actual)
    if op == "=~":
        return text.lower() == value.lower()
    if op == "!~":
        return text.lower() != value.lower()
    if op == "==":
        return text == value
    return text != value


def _graph_error(why: str) -> Answer:
    return (
        400,
        {},
        {
            "error": {
                "code": "BadRequest",
                "message": "Please provide below info when asking for support: timestamp = "
                f"2025-01-01T00:00:00.0000000Z, correlationId = {uuid.uuid4()}.",
                "details": [
                    {
                        "code": "InvalidQuery",
                        "message": "Query is invalid. Please refer to the documentation for the "
                        "Azure Resource Graph service and fix the error before retrying.",
                    },
                    {"code": "ParserFailure", "message": why},
                ],
            }
        },
    )


class Estate:
    """The resources `seed_estate` made: names and the addresses each one sends from."""

    container_app = "shop-api"
    container_app_ips = ("20.76.1.10", "20.76.1.11")
    web_app = "shop-web"
    web_app_ips = ("52.166.0.1", "52.166.0.2")
    web_app_possible = ("52.166.0.3", "52.166.0.4")
    aks_cluster = "aks-prod"
    aks_ip = "20.61.5.5"
    nat_gateway = "ng-prod"
    nat_ip = "4.175.99.10"
    container_group = "nightly"


def seed_estate(emulator: ArmEmulator, subscription: str) -> EgressResources:
    """The demo's and the end-to-end tests' Azure estate: a Container App on a consumption
    environment, a web app, an AKS cluster behind its outbound load balancer, and a container
    group in a subnet whose NAT gateway is `Estate.nat_ip`."""
    res = EgressResources().attach(emulator)
    net = res.network
    pip = net.add_public_ip(subscription, "rg-network", "pip-ng-prod", Estate.nat_ip)
    nat = net.add_nat_gateway(subscription, "rg-network", Estate.nat_gateway, public_ips=[pip])
    subnet = res.add_subnet(
        subscription, "rg-network", "vnet-prod", "snet-jobs", nat_gateway=nat,
        delegation="Microsoft.ContainerInstance/containerGroups",
    )  # fmt: skip
    env = res.add_managed_environment(subscription, "rg-apps", "cae-shared")
    res.add_container_app(
        subscription, "rg-apps", Estate.container_app, environment=env,
        outbound_ips=Estate.container_app_ips,
    )  # fmt: skip
    res.add_web_app(
        subscription, "rg-web", Estate.web_app, outbound_ips=Estate.web_app_ips,
        possible_outbound_ips=Estate.web_app_possible,
    )  # fmt: skip
    node_group = f"MC_rg-aks_{Estate.aks_cluster}_westeurope"
    lb_ip = net.add_public_ip(subscription, node_group, "kubernetes-outbound", Estate.aks_ip)
    res.add_managed_cluster(subscription, "rg-aks", Estate.aks_cluster, outbound_ips=[lb_ip])
    res.add_container_group(subscription, "rg-jobs", Estate.container_group, subnet=subnet)
    return res
