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
