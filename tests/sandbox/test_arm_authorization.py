"""The ARM emulator's RBAC plug-in: a registry request whose action no assignment allows is
refused as ARM refuses it (403 `AuthorizationFailed`, the action and scope named), assignments
reach down from a subscription or resource group, and `notActions` take away only their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.arm_authorization import RoleAssignments
from sandbox.arm_emulator import ArmEmulator
from services.azure.arm import ArmRegistryGateway
from services.azure.permissions import REGISTRY_RULES_ACTIONS
from services.domain.errors import ArmError
from tests.sandbox_helpers import (
    RESOURCE_GROUP,
    SUBSCRIPTION,
    StaticTokenCredential,
    arm_settings,
    registry_config,
)

CONFIG = registry_config("contoso")


@pytest.fixture
def arm() -> Iterator[tuple[ArmEmulator, RoleAssignments, ArmRegistryGateway]]:
    with ArmEmulator() as emulator:
        emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, "contoso", rules=["1.1.1.1"])
        roles = RoleAssignments().attach(emulator)
        gateway = ArmRegistryGateway(arm=arm_settings(emulator), credential=StaticTokenCredential())
        yield emulator, roles, gateway


def test_without_an_assignment_a_read_is_refused_as_arm_refuses_it(arm) -> None:
    emulator, _, gateway = arm

    with pytest.raises(ArmError) as refused:
        gateway.read(CONFIG)

    assert refused.value.status == 403
    assert refused.value.code == "AuthorizationFailed"
    (request,) = emulator.requests  # a 403 is not retried
    assert request.kind == "get_registry"


def test_an_assignment_on_the_resource_group_reaches_the_registry(arm) -> None:
    _, roles, gateway = arm
    roles.grant(f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}", ["*/read"])

    snapshot = gateway.read(CONFIG)
    assert snapshot.state.login_server == "contoso.azurecr.io"
    rules = [*snapshot.ip_rules, {"action": "Allow", "value": "2.2.2.2"}]
    with pytest.raises(ArmError) as refused:
        gateway.write(CONFIG, snapshot, rules)
    assert refused.value.status == 403
    assert "update the rules of" in refused.value.message


def test_an_assignment_elsewhere_does_not(arm) -> None:
    _, roles, gateway = arm
    roles.grant(f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}-other", ["*"])
    roles.grant(f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}x", ["*"])

    with pytest.raises(ArmError) as refused:
        gateway.read(CONFIG)
    assert refused.value.status == 403
    assert refused.value.code == "AuthorizationFailed"


def test_the_bots_role_lets_it_do_its_whole_job_and_the_message_names_action_and_scope(
    arm,
) -> None:
    emulator, roles, gateway = arm
    roles.grant(CONFIG.resource_id, REGISTRY_RULES_ACTIONS)

    snapshot = gateway.read(CONFIG)
    after = gateway.write(
        CONFIG, snapshot, [*snapshot.ip_rules, {"action": "Allow", "value": "2.2.2.2"}]
    )
    assert [r["value"] for r in after.ip_rules] == ["1.1.1.1", "2.2.2.2"]

    roles.revoke(CONFIG.resource_id)
    roles.grant(
        CONFIG.resource_id,
        ["Microsoft.ContainerRegistry/registries/*"],
        ["Microsoft.ContainerRegistry/registries/listUsages/read"],
    )
    emulator.clear_log()
    usage = gateway.usage(CONFIG)  # the quota read falls back to the documented limit
    assert usage.used is None
    (request,) = emulator.requests
    assert request.kind == "list_usages"
