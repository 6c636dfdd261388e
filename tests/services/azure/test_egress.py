"""`ArmEgressLookup` past what its contract says the same for the fake: how the adapter follows a
NAT gateway's public IP prefix, through the real SDKs against the loopback ARM emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.arm_egress import EgressResources
from sandbox.arm_emulator import ArmEmulator
from services.azure.egress import ArmEgressLookup
from services.domain.egress import EgressSource, ResourceKind
from tests.sandbox_helpers import StaticTokenCredential, arm_settings

SUB = "00000000-0000-0000-0000-0000000000a1"


@pytest.fixture
def estate() -> Iterator[tuple[EgressResources, ArmEgressLookup]]:
    with ArmEmulator() as emulator:
        resources = EgressResources().attach(emulator)
        lookup = ArmEgressLookup(
            arm=arm_settings(emulator, retry_total=0), credential=StaticTokenCredential()
        )
        yield resources, lookup


def _group_behind(resources: EgressResources, name: str, prefix: str, *, with_ip: bool) -> None:
    net = resources.network
    prefixes = [net.add_public_ip_prefix(SUB, "rg-network", f"ippre-{name}", prefix)]
    ips = [net.add_public_ip(SUB, "rg-network", f"pip-{name}", "4.175.20.1")] if with_ip else []
    nat = net.add_nat_gateway(
        SUB, "rg-network", f"ng-{name}", public_ips=ips, public_ip_prefixes=prefixes
    )
    subnet = resources.add_subnet(SUB, "rg-network", "vnet-prod", f"snet-{name}", nat_gateway=nat)
    resources.add_container_group(SUB, "rg-jobs", name, subnet=subnet)


def test_a_nat_gateways_small_public_ip_prefix_is_read_address_by_address(estate) -> None:
    # The prefix was read as a public IP address (the id's type was lost on the way), which ARM
    # answers 404: the whole lookup failed with "not found".
    resources, lookup = estate
    _group_behind(resources, "nightly", "4.175.12.32/30", with_ip=False)
    [ref] = lookup.find(ResourceKind.CONTAINER_GROUP, "nightly", [SUB])
    reading = lookup.egress(ref)
    assert [str(a.ip) for a in reading.addresses] == [
        "4.175.12.32",
        "4.175.12.33",
        "4.175.12.34",
        "4.175.12.35",
    ]
    assert {a.source for a in reading.addresses} == {EgressSource.NAT_GATEWAY}
    assert all(a.fixed for a in reading.addresses)


def test_a_large_prefix_is_named_for_a_permanent_rule_beside_the_gateways_own_ip(estate) -> None:
    resources, lookup = estate
    _group_behind(resources, "weekly", "4.175.16.0/28", with_ip=True)
    [ref] = lookup.find(ResourceKind.CONTAINER_GROUP, "weekly", [SUB])
    reading = lookup.egress(ref)
    assert [str(a.ip) for a in reading.addresses] == ["4.175.20.1"]
    assert any("4.175.16.0/28" in note and "permanent" in note for note in reading.notes)
