"""The templates agree with the rest of the repository: every parameter is supplied by the azd
parameter file and documented in the README; the custom roles grant exactly the actions the code
needs (`services/azure/permissions.py`), and those are exactly the ARM calls the adapters make
against the emulator; the guard rails, alerts and action group exist with the right scopes; every
name survives `azd down` and `azd up`. Checkov itself runs in `make infra-check`; the hooks are
tests/infra/test_hooks.py."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.arm_authorization import RoleAssignments
from sandbox.arm_egress import EgressResources
from sandbox.arm_emulator import ArmEmulator, RecordedRequest
from sandbox.arm_network import NetworkResources
from services.azure.arm import ArmRegistryGateway
from services.azure.egress import ArmEgressLookup
from services.azure.network import ArmEgressDiscovery
from services.azure.permissions import (
    EGRESS_DISCOVERY_ACTIONS,
    EGRESS_LOOKUP_ACTIONS,
    REGISTRY_ACCESS_CHECK_ACTIONS,
    REGISTRY_RULES_ACTIONS,
    SERVICE_TAGS_ACTIONS,
)
from services.azure.service_tags import fetch_service_tags
from services.flows.reconcile import ReconcileStatus
from tests.sandbox_helpers import (
    RESOURCE_GROUP,
    SUBSCRIPTION,
    StaticTokenCredential,
    arm_settings,
    registry_config,
)

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MAIN = INFRA / "main.bicep"
MODULES = INFRA / "modules"
APP = MODULES / "app.bicep"
ACCESS = MODULES / "registry-access.bicep"
ALERTS = MODULES / "alerts.bicep"
PARAMETERS = INFRA / "main.parameters.json"
EGRESS_ACCESS = MODULES / "egress-lookup-access.bicep"


def declared_parameters(template: Path) -> list[str]:
    return re.findall(r"^param\s+(\w+)\s", template.read_text(encoding="utf-8"), re.MULTILINE)


def bicep_array(template: Path, variable: str) -> list[str]:
    """The string items of `var <variable> = [ ... ]` in a template."""
    text = template.read_text(encoding="utf-8")
    match = re.search(rf"^var\s+{variable}\s*=\s*\[(.*?)^\]", text, re.MULTILINE | re.DOTALL)
    assert match, f"no `var {variable} = [...]` in {template.name}"
    return re.findall(r"'([^']*)'", match.group(1))


def resource_block(text: str, symbol: str) -> str:
    """The text of `resource <symbol> '…' = … {` up to its closing brace at the same indent."""
    match = re.search(
        rf"^(\s*)(?:resource|module) {symbol} '[^']+' = [^\n]*\n(.*?)^\1[}}\]]",
        text,
        re.MULTILINE | re.DOTALL,
    )
    assert match, f"no resource {symbol}"
    return match.group(0)


def all_templates() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(INFRA.rglob("*.bicep"))}


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def azd_parameters() -> dict[str, str]:
    data = json.loads(PARAMETERS.read_text(encoding="utf-8"))
    return {name: entry["value"] for name, entry in data["parameters"].items()}


# -- parameters -------------------------------------------------------------------------------


def test_the_parameter_file_supplies_exactly_the_declared_parameters() -> None:
    assert sorted(azd_parameters()) == sorted(declared_parameters(MAIN))


def test_every_parameter_comes_from_one_azd_environment_value() -> None:
    for name, value in azd_parameters().items():
        assert re.fullmatch(r"\$\{[A-Z][A-Z0-9_]*\}", value), f"{name}: {value!r}"


def test_every_parameter_and_its_environment_value_is_documented() -> None:
    section = readme_section("Deploying to Azure")
    for name, value in azd_parameters().items():
        assert f"`{name}`" in section, f"parameter {name} is not in the README's deployment section"
        variable = value.strip("${}")
        assert f"`{variable}`" in section, f"{variable} is not in the README's deployment section"


def test_module_parameters_are_all_passed_by_main() -> None:
    main = MAIN.read_text(encoding="utf-8")
    block = re.search(r"^module app 'modules/app.bicep' = \{(.*?)^\}", main, re.M | re.S)
    assert block
    passed = set(re.findall(r"^\s{4}(\w+):", block.group(1), re.MULTILINE))
    assert set(declared_parameters(APP)) <= passed


def test_app_settings_are_the_names_the_code_reads() -> None:
    app = APP.read_text(encoding="utf-8")
    settings = re.search(
        r"resource appSettings 'config' = \{.*?"
        r"properties: union\(optionalSettings, \{(.*?)\n    \}\)",
        app,
        re.S,
    )
    optional = re.search(r"^var optionalSettings = union\((.*?)^\)", app, re.M | re.S)
    assert settings
    assert optional
    names = set(re.findall(r"^\s+(\w+):", settings.group(1), re.MULTILINE))
    names |= set(re.findall(r"\{ (\w+): ", optional.group(1)))
    assert names == {
        "AzureWebJobsStorage__accountName",
        "AzureWebJobsStorage__credential",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        "ACRBOT_SLACK_BOT_TOKEN",
        "ACRBOT_SLACK_SIGNING_SECRET",
        "ACRBOT_SLACK_TEAM_IDS",
        "ACRBOT_SLACK_BOT_USER_ID",
        "ACRBOT_SLACK_APPROVALS_CHANNEL",
        "ACRBOT_REGISTRIES",
        "ACRBOT_KNOWN_IPS",
        "ACRBOT_POLICY__DEFAULT_APPROVERS",
        "ACRBOT_POLICY__DEFAULT_APPROVER_GROUP",
        "ACRBOT_POLICY__MAX_DURATION",
        "ACRBOT_POLICY__DEFAULT_DURATION",
        "ACRBOT_POLICY__ALLOWED_DURATIONS",
        "ACRBOT_POLICY__PENDING_TTL",
        "ACRBOT_SWEEP_SCHEDULE",
        "ACRBOT_SERVICE_TAGS__LOCATIONS",
        "ACRBOT_SERVICE_TAGS__SCHEDULE",
        "ACRBOT_SERVICE_TAGS__SUBSCRIPTION_ID",
        "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY",
    }
    # Secrets never sit in settings: both Slack credentials are Key Vault references.
    for secret in ("ACRBOT_SLACK_BOT_TOKEN", "ACRBOT_SLACK_SIGNING_SECRET"):
        assert re.search(rf"{secret}: '@Microsoft\.KeyVault\(SecretUri=", app)
    # Flex Consumption sets the runtime in functionAppConfig and rejects these settings.
    assert "FUNCTIONS_EXTENSION_VERSION" not in app
    assert "FUNCTIONS_WORKER_RUNTIME" not in app
    assert "AzureWebJobsStorage:" not in app  # no connection string, only the identity


# -- roles ------------------------------------------------------------------------------------


def test_registry_role_grants_exactly_the_registry_actions() -> None:
    actions = bicep_array(MAIN, "registryRulesActions")
    assert actions == list(REGISTRY_RULES_ACTIONS)
    assert len(set(actions)) == len(actions)


def test_service_tag_role_grants_exactly_the_service_tag_action() -> None:
    assert bicep_array(MAIN, "serviceTagsActions") == list(SERVICE_TAGS_ACTIONS)


def test_the_registry_role_also_lets_the_doctor_read_its_permissions() -> None:
    assert bicep_array(MAIN, "registryAccessCheckActions") == list(REGISTRY_ACCESS_CHECK_ACTIONS)


def test_roles_use_those_lists_and_no_wildcard_or_builtin_contributor() -> None:
    text = "".join(p.read_text(encoding="utf-8") for p in INFRA.rglob("*.bicep"))
    assert sorted(re.findall(r"\bactions: (\w.*)", text)) == [
        "concat(registryRulesActions, registryAccessCheckActions)",
        "egressLookupActions",
        "serviceTagsActions",
    ]
    assert "'*'" not in text
    contributor = "b24988ac-6180-42a0-ab88-20f7382dd24c"
    owner = "8e3af657-a8ff-443e-afed-cf82f3e3e87b"
    assert contributor not in text
    assert owner not in text


def test_registry_role_is_assigned_per_registry_at_the_registry_scope() -> None:
    main = MAIN.read_text(encoding="utf-8")
    assert re.search(
        r"module registryAccess 'modules/registry-access.bicep' = \[for \(r, i\) in registries:",
        main,
    )
    assert "scope: resourceGroup(r.subscription_id, r.resource_group)" in main
    access = ACCESS.read_text(encoding="utf-8")
    assignment = resource_block(access, "rulesAssignment")
    assert "scope: registry\n" in assignment


def test_the_registry_role_is_assignable_on_the_registries_groups_only() -> None:
    main = MAIN.read_text(encoding="utf-8")
    role = resource_block(main, "registryRulesRole")
    assert "assignableScopes: registryResourceGroupScopes\n" in role
    assert re.search(
        r"^var registryResourceGroupList = \[for r in registries: "
        r"'/subscriptions/\$\{r\.subscription_id\}/resourceGroups/\$\{r\.resource_group\}'\]$",
        main,
        re.MULTILINE,
    )
    assert re.search(
        r"^var registryResourceGroupScopes = union\(registryResourceGroupList, \[\]\)$",
        main,
        re.MULTILINE,
    )
    assert "subscription().id" not in role.split("properties:", 1)[1]


# The ARM operation each request needs, as Microsoft's provider operations list names it.
_REGISTRY_OPERATIONS = {
    "get_registry": "Microsoft.ContainerRegistry/registries/read",
    "patch_registry": "Microsoft.ContainerRegistry/registries/write",
    "list_usages": "Microsoft.ContainerRegistry/registries/listUsages/read",
    "operation_status": "Microsoft.ContainerRegistry/registries/operationStatuses/read",
}
_NETWORK_OPERATIONS = {
    "natGateways": "Microsoft.Network/natGateways/read",
    "applicationGateways": "Microsoft.Network/applicationGateways/read",
    "azureFirewalls": "Microsoft.Network/azureFirewalls/read",
    "loadBalancers": "Microsoft.Network/loadBalancers/read",
    "publicIPAddresses": "Microsoft.Network/publicIPAddresses/read",
    "publicIPPrefixes": "Microsoft.Network/publicIPPrefixes/read",
    "serviceTags": "Microsoft.Network/locations/serviceTags/read",
}


def _network_action(request: RecordedRequest) -> str:
    kinds = [part for part in request.path.split("/") if part in _NETWORK_OPERATIONS]
    assert len(kinds) == 1, request.path
    return _NETWORK_OPERATIONS[kinds[0]]


@pytest.fixture
def emulator() -> Iterator[ArmEmulator]:
    # ARM may answer an update asynchronously; polling it is one more action the role needs.
    with ArmEmulator(patch_status=201) as emu:
        yield emu


def test_the_access_check_action_is_exactly_the_call_the_doctor_makes(
    emulator: ArmEmulator,
) -> None:
    emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, "contoso")
    RoleAssignments().attach(emulator)
    gateway = ArmRegistryGateway(arm=arm_settings(emulator), credential=StaticTokenCredential())

    gateway.permissions(registry_config("contoso"))

    (request,) = emulator.requests
    assert request.path.endswith("/providers/Microsoft.Authorization/permissions")
    assert request.path.startswith(registry_config("contoso").resource_id)
    assert list(REGISTRY_ACCESS_CHECK_ACTIONS) == ["Microsoft.Authorization/permissions/read"]


def test_registry_actions_are_exactly_the_calls_the_registry_adapter_makes(
    emulator: ArmEmulator,
) -> None:
    emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, "contoso", rules=["1.2.3.4"])
    config = registry_config("contoso")
    gateway = ArmRegistryGateway(arm=arm_settings(emulator), credential=StaticTokenCredential())

    # Every method of the registry port: what a diagnosis reads and what a reconcile writes.
    gateway.usage(config)
    snapshot = gateway.read(config)
    gateway.write(config, snapshot, [*snapshot.ip_rules, {"action": "Allow", "value": "20.1.2.3"}])

    used = {_REGISTRY_OPERATIONS[r.kind] for r in emulator.requests}
    assert used == set(REGISTRY_RULES_ACTIONS)


def test_service_tag_action_is_exactly_the_call_the_refresh_makes(emulator: ArmEmulator) -> None:
    NetworkResources().attach(emulator).set_service_tags([])

    fetch_service_tags(
        arm_settings(emulator), StaticTokenCredential(), SUBSCRIPTION, ["westeurope", "uksouth"]
    )

    assert {_network_action(r) for r in emulator.requests} == set(SERVICE_TAGS_ACTIONS)


def test_egress_discovery_actions_are_exactly_its_calls(emulator: ArmEmulator) -> None:
    net = NetworkResources().attach(emulator)
    ip = net.add_public_ip(SUBSCRIPTION, "rg", "pip", "4.175.12.34")
    prefix = net.add_public_ip_prefix(SUBSCRIPTION, "rg", "ippre", "20.61.14.0/30")
    net.add_nat_gateway(SUBSCRIPTION, "rg", "ng", public_ips=[ip], public_ip_prefixes=[prefix])

    ArmEgressDiscovery(arm=arm_settings(emulator), credential=StaticTokenCredential()).discover(
        SUBSCRIPTION
    )

    assert {_network_action(r) for r in emulator.requests} == set(EGRESS_DISCOVERY_ACTIONS)


def test_egress_lookup_role_grants_exactly_the_lookup_actions_per_subscription() -> None:
    assert bicep_array(EGRESS_ACCESS, "egressLookupActions") == list(EGRESS_LOOKUP_ACTIONS)
    assert "targetScope = 'subscription'" in EGRESS_ACCESS.read_text(encoding="utf-8")
    main = MAIN.read_text(encoding="utf-8")
    calls = re.findall(r"^module \w+ 'modules/egress-lookup-access.bicep'.*$", main, re.MULTILINE)
    assert len(calls) == 1
    assert "grantEgressLookupRead ?" in calls[0]
    assert "scope: subscription(sub)" in main


# What each lookup request needs: a resource provider GET, or Resource Graph plus read access to
# every type a query names (Resource Graph returns only what the caller may read).
_LOOKUP_OPERATIONS = {
    "containerapps": "Microsoft.App/containerApps/read",
    "managedenvironments": "Microsoft.App/managedEnvironments/read",
    "sites": "Microsoft.Web/sites/read",
    "managedclusters": "Microsoft.ContainerService/managedClusters/read",
    "containergroups": "Microsoft.ContainerInstance/containerGroups/read",
    "subnets": "Microsoft.Network/virtualNetworks/subnets/read",
    "natgateways": "Microsoft.Network/natGateways/read",
    "publicipaddresses": "Microsoft.Network/publicIPAddresses/read",
    "publicipprefixes": "Microsoft.Network/publicIPPrefixes/read",
}


def test_egress_lookup_actions_are_exactly_its_calls(emulator: ArmEmulator) -> None:
    from services.domain.egress import ResourceKind
    from tests.contracts.test_egress_lookup import SUB, ArmWorld

    world = ArmWorld(emulator)
    lookup: ArmEgressLookup = world.lookup
    for kind in ResourceKind:
        for ref in lookup.candidates(kind, [SUB]):
            lookup.egress(ref)
    lookup.owner_of(ipaddress.IPv4Address("8.8.8.8"), [SUB])  # no public IP: the prefixes too

    used = set()
    for request in emulator.requests:
        parts = [p.lower() for p in request.path.split("/") if p]
        if parts[:2] == ["providers", "microsoft.resourcegraph"]:
            used.add("Microsoft.ResourceGraph/resources/read")
        else:
            used.add(_LOOKUP_OPERATIONS[parts[-2]])
    res: EgressResources = world.res
    for query in res.queries:
        for field, named in re.findall(r"(type|id) =~ '([^']*)'", query):
            segments = named.lower().split("/")
            used.add(_LOOKUP_OPERATIONS[segments[-1] if field == "type" else segments[-2]])
    assert used == set(EGRESS_LOOKUP_ACTIONS)


# -- azd --------------------------------------------------------------------------------------


def test_azure_yaml_deploys_this_folder_as_the_function_service() -> None:
    text = (ROOT / "azure.yaml").read_text(encoding="utf-8")
    service = re.search(r"^services:\n  api:\n((?:    .*\n)+)", text, re.MULTILINE)
    assert service
    fields = dict(re.findall(r"^    (\w+): (.*)$", service.group(1), re.MULTILINE))
    assert fields == {"project": ".", "language": "python", "host": "function"}
    # azd finds the app by this tag.
    assert "'azd-service-name': 'api'" in APP.read_text(encoding="utf-8")


def test_the_azd_outputs_the_hooks_and_the_doctor_read_exist() -> None:
    outputs = set(re.findall(r"^output (\w+) ", MAIN.read_text(encoding="utf-8"), re.MULTILINE))
    hooks = "".join(p.read_text(encoding="utf-8") for p in (INFRA / "hooks").glob("*.sh"))
    read = set(re.findall(r"\b(AZURE_[A-Z_]+|SLACK_[A-Z_]+)\b", hooks)) - {"AZURE_ENV_NAME"}
    assert read <= outputs, read - outputs
    # `python -m bot doctor --env-file .azure/<env>/.env` reads the storage and the app's URL.
    assert {"ACRBOT_STORAGE_ACCOUNT_NAME", "AZURE_FUNCTION_APP_URL"} <= outputs


# -- redeployable -----------------------------------------------------------------------------


def role_assignments() -> list[tuple[str, str]]:
    """(template, block) of every role assignment in the templates."""
    found = []
    for name, text in all_templates().items():
        for match in re.finditer(
            r"^resource (\w+) 'Microsoft\.Authorization/roleAssignments@", text, re.MULTILINE
        ):
            found.append((name, resource_block(text, match.group(1))))
    return found


def test_every_role_assignment_name_derives_from_its_principal() -> None:
    assignments = role_assignments()
    assert len(assignments) >= 5
    for template, block in assignments:
        name = re.search(r"^\s+name: (guid\(.*\))$", block, re.MULTILINE)
        assert name, f"{template}: a role assignment without a guid() name"
        assert re.search(r"\bprincipalId\b", name.group(1)), f"{template}: {name.group(1)}"
        assert re.search(r"^\s+principalId: principalId$", block, re.MULTILINE), template


def test_no_principal_type_is_assumed_for_people() -> None:
    for name, text in all_templates().items():
        assert "principalType: 'User'" not in text, name
    params = azd_parameters()
    assert params["principalType"] == "${AZURE_PRINCIPAL_TYPE}"


def test_custom_role_names_carry_the_resource_token() -> None:
    # Role names are unique per tenant: every template's, not only main.bicep's.
    names = {
        template: re.findall(r"roleName: '([^']*)'", text)
        for template, text in all_templates().items()
    }
    assert len(names["main.bicep"]) == 2
    assert len(names["egress-lookup-access.bicep"]) == 1
    for name in (n for found in names.values() for n in found):
        assert "${resourceToken}" in name
        assert "${environmentName}" in name
    # The egress role is defined once per registry subscription of one deployment: the
    # subscription tells those apart.
    [egress] = names["egress-lookup-access.bicep"]
    assert "uniqueString(subscription().id)" in egress
    assert "resourceToken: resourceToken" in resource_block(
        MAIN.read_text(encoding="utf-8"), "egressLookupAccess"
    )


def test_the_key_vault_can_be_renamed_or_recovered() -> None:
    main = MAIN.read_text(encoding="utf-8")
    app = APP.read_text(encoding="utf-8")
    assert (
        "keyVaultName: empty(keyVaultName) ? 'kv-acrbot-${take(resourceToken, 13)}' : keyVaultName"
        in main
    )
    vault = resource_block(app, "keyVault")
    assert "name: keyVaultName\n" in vault
    assert "createMode: keyVaultRecover ? 'recover' : 'default'" in vault
    assert "enablePurgeProtection: true" in vault


def test_deployment_names_are_fixed_or_derived_from_the_registry() -> None:
    # Module deployment names must not change between runs (a new name per run piles up
    # deployments); the per-registry ones derive from the registry.
    for template, text in all_templates().items():
        for name in re.findall(r"^module \w+ '[^']+' = [^\n]*\n  name: (.*)$", text, re.M):
            assert "utcNow" not in name, (template, name)
            assert "newGuid" not in name, (template, name)


# -- guard rails ------------------------------------------------------------------------------

#: Built-in policy definitions (Azure/azure-policy, built-in-policies/policyDefinitions/
#: Container Registry/*_AuditDeny.json).
GUARD_RAILS = {
    "9f2dea28-e834-476c-99c5-3507b4728395",  # anonymous pull disabled
    "dc921057-6b28-4fbe-9b83-f7bec05db6c2",  # admin user disabled
    "d0793b48-0edc-4296-a390-4c75d1bdfd71",  # no unrestricted network access
}


def test_each_registry_gets_the_built_in_guard_rails_on_itself() -> None:
    access = ACCESS.read_text(encoding="utf-8")
    assert set(re.findall(r"definition: '([0-9a-f-]{36})'", access)) == GUARD_RAILS
    rails = resource_block(access, "guardRail")
    assert rails.startswith(
        "resource guardRail 'Microsoft.Authorization/policyAssignments@2024-04-01' = "
        "[for rail in guardRails:"
    )
    assert "scope: registry\n" in rails
    assert (
        "policyDefinitionId: tenantResourceId('Microsoft.Authorization/policyDefinitions', "
        "rail.definition)" in rails
    )
    assert "value: policyEffect" in rails
    assert "name: guid(registry.id, rail.definition)" in rails
    main = MAIN.read_text(encoding="utf-8")
    assert "policyEffect: registryPolicyEffect" in main
    assert re.search(r"^param registryPolicyEffect string = 'Deny'$", main, re.MULTILINE)


def test_writes_by_the_apps_identity_raise_an_activity_log_alert() -> None:
    access = ACCESS.read_text(encoding="utf-8")
    alert = resource_block(access, "writesAlert")
    assert "'Microsoft.Insights/activityLogAlerts@" in alert
    assert "location: 'global'" in alert
    assert re.search(r"scopes: \[\s+resourceGroup\(\)\.id\s+\]", alert)
    conditions = re.findall(r"field: '(\w+)'\s+equals: ([^\n]+)", alert)
    assert conditions == [("category", "'Administrative'"), ("caller", "principalId")]
    assert "actionGroupId: actionGroupId" in alert
    main = MAIN.read_text(encoding="utf-8")
    assert "actionGroupId: app.outputs.actionGroupId" in main
    # One alert per resource group (its name derives from the group): registries that share one
    # would otherwise each report every write of the app's identity there.
    assert alert.startswith(
        "resource writesAlert 'Microsoft.Insights/activityLogAlerts@2020-10-01' = "
        "if (alertOnWrites) {"
    )
    assert "uniqueString(resourceGroup().id, environmentName)" in alert
    assert "registryName" not in alert.split("properties:")[0]
    assert (
        "alertOnWrites: indexOf(registryResourceGroupList, registryResourceGroupList[i]) == i"
        in resource_block(main, "registryAccess")
    )


# -- alerts -----------------------------------------------------------------------------------


def test_one_action_group_mails_the_alert_address() -> None:
    alerts = ALERTS.read_text(encoding="utf-8")
    group = resource_block(alerts, "actionGroup")
    assert "emailAddress: alertEmail" in group
    assert "alertEmail: alertEmail" in APP.read_text(encoding="utf-8")
    assert azd_parameters()["alertEmail"] == "${ACRBOT_ALERT_EMAIL}"
    # Every alert notifies it.
    for alert in ("logAlert", "healthAlert"):
        assert "actionGroup.id" in resource_block(alerts, alert), alert


def test_log_alerts_watch_what_the_code_logs() -> None:
    alerts = ALERTS.read_text(encoding="utf-8")
    names = re.findall(r"^    name: '([\w-]+)'$", alerts, re.MULTILINE)
    assert names == ["poison", "reconcile", "service-tags"]
    rule = resource_block(alerts, "logAlert")
    assert "scopes: [\n      workspaceId\n    ]" in rule
    assert "actionGroup.id" in rule
    code = "".join(
        p.read_text(encoding="utf-8") for d in ("bot", "services") for p in (ROOT / d).rglob("*.py")
    )
    # The log lines each query matches, as the code writes them.
    for written in (
        '"job %s (%s) failed for good"',
        '"poison message %s is not a job; nothing to tell anyone"',
        '"reconcile %s: %s"',
        '"service tag refresh failed: %s"',
    ):
        assert written in code, written
    # The statuses the reconcile query reads are the ones a reconcile reports.
    query = re.search(r"var reconcileQuery = replace\('''(.*?)'''", alerts, re.DOTALL)
    assert query
    read = query.group(1).split("| summarize")[0].split("status in")[1]
    statuses = set(re.findall(r'"(\w+)"', read))
    assert statuses == {"done", "nothing_to_do", "retry", "failed"}
    assert statuses <= {s.value for s in ReconcileStatus}
    for matched in (
        'Message startswith "poison message "',
        'Message endswith " failed for good"',
        'parse Message with "reconcile " registry ": " status',
        'Message startswith "service tag refresh failed"',
    ):
        assert matched in alerts, matched
    assert "'THRESHOLD', '${reconcileFailureMinutes}m'" in alerts


def test_an_availability_test_probes_the_health_route() -> None:
    alerts = ALERTS.read_text(encoding="utf-8")
    test = resource_block(alerts, "healthTest")
    assert "RequestUrl: '${appUrl}/api/health'" in test
    assert "ExpectedHttpStatusCode: 200" in test
    assert "'hidden-link:${appInsightsId}': 'Resource'" in test
    alert = resource_block(alerts, "healthAlert")
    assert "webTestId: healthTest.id" in alert
    assert "'odata.type': 'Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria'" in alert


def test_key_vault_audit_logs_go_to_the_workspace() -> None:
    app = APP.read_text(encoding="utf-8")
    audit = resource_block(app, "keyVaultAudit")
    assert "scope: keyVault\n" in audit
    assert "workspaceId: logAnalytics.id" in audit
    assert "categoryGroup: 'audit'" in audit


# -- the app's resources ----------------------------------------------------------------------


def test_storage_is_zone_redundant() -> None:
    storage = resource_block(APP.read_text(encoding="utf-8"), "storage")
    assert "name: 'Standard_ZRS'" in storage


def test_at_least_one_workspace_is_required() -> None:
    main = MAIN.read_text(encoding="utf-8")
    assert re.search(
        r"^@minLength\(1\)\n@description\([^\n]*\)\nparam slackTeamIds array$", main, re.MULTILINE
    )


def test_operators_get_the_data_roles_and_the_secrets_officer() -> None:
    main = MAIN.read_text(encoding="utf-8")
    app = APP.read_text(encoding="utf-8")
    assert azd_parameters()["operatorPrincipalIds"] == "${ACRBOT_OPERATOR_PRINCIPAL_IDS}"
    assert (
        "var operators = union(empty(principalId) ? [] : [principalId], operatorPrincipalIds)"
        in main
    )
    roles = resource_block(app, "operatorRoles")
    for role in (
        "storageBlobDataContributor",
        "storageQueueDataContributor",
        "storageTableDataContributor",
        "keyVaultSecretsOfficer",
    ):
        assert role in roles


def test_vnet_enabled_puts_storage_and_key_vault_behind_private_endpoints() -> None:
    network = (MODULES / "network.bicep").read_text(encoding="utf-8")
    app = APP.read_text(encoding="utf-8")
    assert re.search(r"^module network 'network\.bicep' = if \(vnetEnabled\)", app, re.MULTILINE)
    assert "virtualNetworkSubnetId: vnetEnabled ? network.outputs.appSubnetId : null" in app
    assert bicep_array(MODULES / "network.bicep", "storageZones") == ["blob", "queue", "table"]
    assert "groupIds: [\n            'vault'\n          ]" in network
    assert "serviceName: 'Microsoft.App/environments'" in network
    assert (
        "var privateAccess = vnetEnabled && empty(operatorIpRanges) ? 'Disabled' : 'Enabled'" in app
    )
    for symbol in ("storage", "keyVault"):
        block = resource_block(app, symbol)
        assert "publicNetworkAccess: privateAccess" in block
        assert "defaultAction: vnetEnabled ? 'Deny' : 'Allow'" in block
