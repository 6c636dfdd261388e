"""The Azure RBAC actions each identity of the bot needs, and the SDK call behind each one.

`infra/main.bicep` grants exactly these (`tests/infra/test_templates.py` compares the two), so a
new ARM call in the code fails the tests until the role follows it. Action names are the ones in
Microsoft's "Azure resource provider operations" list (Microsoft.ContainerRegistry,
Microsoft.Network).
"""

from __future__ import annotations

#: The Function app's managed identity, assigned per managed registry (a custom role on the
#: registry's scope, never Contributor). `services/azure/arm.py`, `ArmRegistryGateway`:
#:
#: - `Microsoft.ContainerRegistry/registries/read`: `registries.get` in `read` (the registry's
#:   network rule set, SKU, public network access, before a change and to verify it after) and
#:   the poller's final GET of `write`.
#: - `Microsoft.ContainerRegistry/registries/write`: `registries.begin_update` in `write` (PATCH
#:   the `networkRuleSet` with the new `ipRules`).
#: - `Microsoft.ContainerRegistry/registries/listUsages/read`: `registries.list_usages` in
#:   `usage` (the live `IPRules` quota).
#: - `Microsoft.ContainerRegistry/registries/operationStatuses/read`: the poller of
#:   `begin_update`, which GETs `.../registries/{name}/operationStatuses/{id}` from the PATCH's
#:   `Azure-AsyncOperation` header until the update has finished ("Gets a registry async
#:   operation status").
REGISTRY_RULES_ACTIONS: tuple[str, ...] = (
    "Microsoft.ContainerRegistry/registries/read",
    "Microsoft.ContainerRegistry/registries/write",
    "Microsoft.ContainerRegistry/registries/listUsages/read",
    "Microsoft.ContainerRegistry/registries/operationStatuses/read",
)

#: Also granted on each managed registry, for `python -m bot doctor` (and `/api/health/deep`):
#: `ArmRegistryGateway.permissions` GETs `{registry}/providers/Microsoft.Authorization/permissions`
#: ("Permissions - List For Resource": what the caller itself may do there), so the doctor can tell
#: that the registry role reaches a registry without writing to it.
REGISTRY_ACCESS_CHECK_ACTIONS: tuple[str, ...] = ("Microsoft.Authorization/permissions/read",)

#: The Function app's managed identity on its own subscription, for the daily service-tag fetch
#: (optional; `grantServiceTagsRead` in the template). `services/azure/service_tags.py`:
#:
#: - `Microsoft.Network/locations/serviceTags/read`: `service_tags.list(location)` (GET
#:   `/subscriptions/{id}/providers/Microsoft.Network/locations/{location}/serviceTags`).
SERVICE_TAGS_ACTIONS: tuple[str, ...] = ("Microsoft.Network/locations/serviceTags/read",)

#: A person or pipeline running `python -m bot discover-egress` (not the app: the template grants
#: nothing for it; Reader on the subscription covers it). `services/azure/network.py`:
#:
#: - `Microsoft.Network/natGateways/read`: `nat_gateways.list_all`.
#: - `Microsoft.Network/applicationGateways/read`: `application_gateways.list_all`.
#: - `Microsoft.Network/azureFirewalls/read`: `azure_firewalls.list_all`.
#: - `Microsoft.Network/loadBalancers/read`: `load_balancers.list_all`.
#: - `Microsoft.Network/publicIPAddresses/read`: `public_ip_addresses.get` (the address behind
#:   each reference).
#: - `Microsoft.Network/publicIPPrefixes/read`: `public_ip_prefixes.get` (the CIDR behind each
#:   prefix reference).
EGRESS_DISCOVERY_ACTIONS: tuple[str, ...] = (
    "Microsoft.Network/natGateways/read",
    "Microsoft.Network/applicationGateways/read",
    "Microsoft.Network/azureFirewalls/read",
    "Microsoft.Network/loadBalancers/read",
    "Microsoft.Network/publicIPAddresses/read",
    "Microsoft.Network/publicIPPrefixes/read",
)

#: The Function app's managed identity on each managed registry's subscription, for the egress
#: lookups (optional; `grantEgressLookupRead` in the template,
#: `infra/modules/egress-lookup-access.bicep`).
#: `services/azure/egress.py`, `ArmEgressLookup`:
#:
#: - `Microsoft.ResourceGraph/resources/read`: `resources` (POST
#:   `/providers/Microsoft.ResourceGraph/resources`) in `find`, `candidates`, `owner_of` and a
#:   container group's subnets. Resource Graph returns only rows the caller may read, so each
#:   type it is asked about needs its own read action below.
#: - `Microsoft.App/containerApps/read`: `container_apps.get` (the app's `outboundIpAddresses`).
#: - `Microsoft.App/managedEnvironments/read`: `managed_environments.get` (its subnet, workload
#:   profiles, user-defined routing).
#: - `Microsoft.Web/sites/read`: `web_apps.get` (outbound and possible outbound addresses, VNet
#:   routing).
#: - `Microsoft.ContainerService/managedClusters/read`: `managed_clusters.get` (the network
#:   profile's outbound type and `effectiveOutboundIPs`).
#: - `Microsoft.ContainerInstance/containerGroups/read`: a container group's `subnetIds`, read
#:   through Resource Graph.
#: - `Microsoft.Network/virtualNetworks/subnets/read`: `subnets.get` (its NAT gateway, route table).
#: - `Microsoft.Network/natGateways/read`: `nat_gateways.get` (its public IPs and prefixes).
#: - `Microsoft.Network/publicIPAddresses/read`: `public_ip_addresses.get`, and the public IP rows
#:   `owner_of` queries.
#: - `Microsoft.Network/publicIPPrefixes/read`: `public_ip_prefixes.get`, and the prefix rows.
EGRESS_LOOKUP_ACTIONS: tuple[str, ...] = (
    "Microsoft.ResourceGraph/resources/read",
    "Microsoft.App/containerApps/read",
    "Microsoft.App/managedEnvironments/read",
    "Microsoft.Web/sites/read",
    "Microsoft.ContainerService/managedClusters/read",
    "Microsoft.ContainerInstance/containerGroups/read",
    "Microsoft.Network/virtualNetworks/subnets/read",
    "Microsoft.Network/natGateways/read",
    "Microsoft.Network/publicIPAddresses/read",
    "Microsoft.Network/publicIPPrefixes/read",
)
