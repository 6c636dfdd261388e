"""The `RegistryAccess` contract: the fake gateway and `ArmRegistryGateway` against the ARM
emulator with its RBAC plug-in list the caller's permission sets alike."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pytest

from sandbox.arm_authorization import RoleAssignments
from services.azure.arm import ArmRegistryGateway
from services.azure.permissions import REGISTRY_RULES_ACTIONS
from services.domain.access import PermissionSet, missing_actions
from services.domain.errors import ArmError
from services.ports import RegistryAccess
from tests.fakes.registry import FakeRegistryGateway
from tests.sandbox_helpers import (
    RESOURCE_GROUP,
    SUBSCRIPTION,
    StaticTokenCredential,
    arm_settings,
    registry_config,
)


@dataclass
class AccessUnderTest:
    access: RegistryAccess
    #: Give the caller these actions (and not-actions) on a registry.
    grant: Callable[[str, Iterable[str], Iterable[str]], None]
    #: The next permissions call is refused with 403.
    refuse: Callable[[], None]


@pytest.fixture(params=["memory", "azure"])
def access(request) -> AccessUnderTest:
    if request.param == "memory":
        fake = FakeRegistryGateway()
        fake.add("contoso")
        given: dict[str, list[PermissionSet]] = {}

        def grant_fake(name: str, actions: Iterable[str], not_actions: Iterable[str]) -> None:
            sets = given.setdefault(name, [])
            sets.append(PermissionSet(actions=tuple(actions), not_actions=tuple(not_actions)))
            fake.set_permissions(name, *sets)

        fake.set_permissions("contoso")
        refusal = ArmError("contoso", "refused", status=403, code="AuthorizationFailed")
        return AccessUnderTest(fake, grant_fake, lambda: fake.fail("permissions", refusal))
    emulator = request.getfixturevalue("arm_emulator")
    emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, "contoso")
    roles = RoleAssignments().attach(emulator)

    def grant_arm(name: str, actions: Iterable[str], not_actions: Iterable[str]) -> None:
        roles.grant(registry_config(name).resource_id, actions, not_actions)

    def refuse_arm() -> None:
        emulator.inject("other", status=403, code="AuthorizationFailed", message="No.")

    gateway = ArmRegistryGateway(arm=arm_settings(emulator), credential=StaticTokenCredential())
    return AccessUnderTest(gateway, grant_arm, refuse_arm)


def test_no_assignment_means_no_permission(access: AccessUnderTest) -> None:
    sets = access.access.permissions(registry_config("contoso"))
    assert missing_actions(sets, REGISTRY_RULES_ACTIONS) == list(REGISTRY_RULES_ACTIONS)


def test_the_registry_role_covers_every_action_the_bot_needs(access: AccessUnderTest) -> None:
    access.grant("contoso", REGISTRY_RULES_ACTIONS, ())

    sets = access.access.permissions(registry_config("contoso"))

    assert missing_actions(sets, REGISTRY_RULES_ACTIONS) == []


def test_not_actions_of_one_assignment_take_away_its_own_grant_only(
    access: AccessUnderTest,
) -> None:
    write = "Microsoft.ContainerRegistry/registries/write"
    access.grant("contoso", ["Microsoft.ContainerRegistry/*"], [write])

    sets = access.access.permissions(registry_config("contoso"))
    assert missing_actions(sets, REGISTRY_RULES_ACTIONS) == [write]

    access.grant("contoso", [write], ())
    sets = access.access.permissions(registry_config("contoso"))
    assert missing_actions(sets, REGISTRY_RULES_ACTIONS) == []


def test_a_refusal_is_an_arm_error(access: AccessUnderTest) -> None:
    access.refuse()

    with pytest.raises(ArmError) as refused:
        access.access.permissions(registry_config("contoso"))

    assert refused.value.status == 403
