"""The templates agree with the rest of the repository: every parameter is supplied by the azd
parameter file and documented in the README; the custom roles grant exactly the actions the code
needs (`services/azure/permissions.py`), and those are exactly the ARM calls the adapters make
against the emulator. Checkov itself runs in `make infra-check`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.arm_emulator import ArmEmulator, RecordedRequest
from sandbox.arm_network import NetworkResources
from services.azure.arm import ArmRegistryGateway
from services.azure.network import ArmEgressDiscovery
from services.azure.permissions import (
    EGRESS_DISCOVERY_ACTIONS,
    REGISTRY_RULES_ACTIONS,
    SERVICE_TAGS_ACTIONS,
)
from services.azure.service_tags import fetch_service_tags
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
APP = INFRA / "modules" / "app.bicep"
PARAMETERS = INFRA / "main.parameters.json"


def declared_parameters(template: Path) -> list[str]:
    return re.findall(r"^param\s+(\w+)\s", template.read_text(encoding="utf-8"), re.MULTILINE)


def bicep_array(template: Path, variable: str) -> list[str]:
    """The string items of `var <variable> = [ ... ]` in a template."""
    text = template.read_text(encoding="utf-8")
    match = re.search(rf"^var\s+{variable}\s*=\s*\[(.*?)^\]", text, re.MULTILINE | re.DOTALL)
    assert match, f"no `var {variable} = [...]` in {template.name}"
    return re.findall(r"'([^']*)'", match.group(1))


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


def test_roles_use_those_lists_and_no_wildcard_or_builtin_contributor() -> None:
    text = "".join(p.read_text(encoding="utf-8") for p in INFRA.rglob("*.bicep"))
    assert re.findall(r"actions:\s*(\w+)", text) == ["registryRulesActions", "serviceTagsActions"]
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
    access = (INFRA / "modules" / "registry-access.bicep").read_text(encoding="utf-8")
    assert "scope: registry\n" in access


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


# -- azd --------------------------------------------------------------------------------------


def test_azure_yaml_deploys_this_folder_as_the_function_service() -> None:
    text = (ROOT / "azure.yaml").read_text(encoding="utf-8")
    service = re.search(r"^services:\n  api:\n((?:    .*\n)+)", text, re.MULTILINE)
    assert service
    fields = dict(re.findall(r"^    (\w+): (.*)$", service.group(1), re.MULTILINE))
    assert fields == {"project": ".", "language": "python", "host": "function"}
    # azd finds the app by this tag.
    assert "'azd-service-name': 'api'" in APP.read_text(encoding="utf-8")
