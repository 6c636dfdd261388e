"""The `EgressLookup` contract: the in-memory fake and the ARM adapter (Resource Graph and the
resource providers through the loopback emulator) answer alike.

Each world seeds the same estate: a Container App on a consumption environment, one on a
workload-profile environment behind a NAT gateway, a web app, an AKS cluster with its outbound
load balancer, one with user-defined routing, and a container group in a subnet with a NAT gateway.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.arm_egress import EgressResources
from sandbox.arm_emulator import ArmEmulator
from services.azure.egress import ArmEgressLookup
from services.domain.egress import (
    EgressAddress,
    EgressLookupFailed,
    EgressReading,
    EgressSource,
    PublicIpOwner,
    ResourceKind,
    ResourceRef,
)
from services.domain.failure import PastedResource
from tests.fakes.egress import FakeEgressLookup
from tests.sandbox_helpers import StaticTokenCredential, arm_settings

SUB = "00000000-0000-0000-0000-0000000000a1"
OTHER_SUB = "00000000-0000-0000-0000-0000000000b2"
APP_IPS = ["20.76.1.10", "20.76.1.11"]
NAT_IP = "4.175.12.34"
WEB_IPS = ["52.166.0.1", "52.166.0.2"]
WEB_POSSIBLE = ["52.166.0.3"]
AKS_IP = "20.61.5.5"


def _ref(kind: ResourceKind, group: str, name: str, sub: str = SUB) -> ResourceRef:
    provider = {
        ResourceKind.CONTAINER_APP: "Microsoft.App/containerApps",
        ResourceKind.WEB_APP: "Microsoft.Web/sites",
        ResourceKind.AKS_CLUSTER: "Microsoft.ContainerService/managedClusters",
        ResourceKind.CONTAINER_GROUP: "Microsoft.ContainerInstance/containerGroups",
    }[kind]
    ref = ResourceRef.from_id(
        f"/subscriptions/{sub}/resourceGroups/{group}/providers/{provider}/{name}", kind
    )
    assert ref is not None
    return ref


def _addresses(ips: list[str], source: EgressSource, label: str) -> tuple[EgressAddress, ...]:
    return tuple(
        EgressAddress(ip=ipaddress.IPv4Address(i), source=source, label=label) for i in ips
    )


class ArmWorld:
    def __init__(self, emulator: ArmEmulator) -> None:
        self.emulator = emulator
        res = self.res = EgressResources().attach(emulator)
        net = res.network
        pip = net.add_public_ip(SUB, "rg-network", "pip-ng-prod", NAT_IP)
        nat = net.add_nat_gateway(SUB, "rg-network", "ng-prod", public_ips=[pip])
        subnet = res.add_subnet(SUB, "rg-network", "vnet-prod", "snet-apps", nat_gateway=nat)
        plain = res.add_subnet(SUB, "rg-network", "vnet-prod", "snet-plain")
        env = res.add_managed_environment(SUB, "rg-apps", "cae-shared")
        res.add_container_app(SUB, "rg-apps", "shop-api", environment=env, outbound_ips=APP_IPS)
        wp = res.add_managed_environment(
            SUB, "rg-apps", "cae-wp", subnet=subnet, workload_profiles=True
        )
        res.add_container_app(SUB, "rg-apps", "orders", environment=wp, outbound_ips=APP_IPS)
        res.add_web_app(
            SUB, "rg-web", "shop-web", outbound_ips=WEB_IPS, possible_outbound_ips=WEB_POSSIBLE
        )
        lb_ip = net.add_public_ip(SUB, "mc_rg-aks_aks-prod_westeurope", "kube-out", AKS_IP)
        res.add_managed_cluster(SUB, "rg-aks", "aks-prod", outbound_ips=[lb_ip])
        res.add_managed_cluster(
            SUB, "rg-aks", "aks-locked", outbound_type="userDefinedRouting", node_pool="system"
        )
        res.add_container_group(SUB, "rg-jobs", "nightly", subnet=subnet)
        res.add_container_group(SUB, "rg-jobs", "plain", subnet=plain)
        res.add_container_app(OTHER_SUB, "rg-x", "shop-api", environment=env, outbound_ips=[])
        self.lookup = ArmEgressLookup(
            arm=arm_settings(emulator, retry_total=0), credential=StaticTokenCredential()
        )

    def deny_access(self) -> None:
        self.emulator.inject(
            "other", status=403, code="AuthorizationFailed", message="no Reader", times=20
        )


class MemoryWorld:
    def __init__(self) -> None:
        fake = self.lookup = FakeEgressLookup()
        nat = "NAT gateway ng-prod (rg-network)"
        ca = ResourceKind.CONTAINER_APP
        fake.add(
            EgressReading(
                resource=_ref(ca, "rg-apps", "shop-api"),
                addresses=_addresses(APP_IPS, EgressSource.AZURE_ASSIGNED, "shop-api"),
                notes=("Azure-assigned",),
            )
        )
        fake.add(
            EgressReading(
                resource=_ref(ca, "rg-apps", "orders"),
                addresses=_addresses([NAT_IP], EgressSource.NAT_GATEWAY, nat),
                notes=("NAT",),
                through_vnet=True,
            )
        )
        fake.add(
            EgressReading(resource=_ref(ca, "rg-x", "shop-api", OTHER_SUB), addresses=(), notes=())
        )
        fake.add(
            EgressReading(
                resource=_ref(ResourceKind.WEB_APP, "rg-web", "shop-web"),
                addresses=_addresses(WEB_IPS, EgressSource.AZURE_ASSIGNED, "shop-web"),
                possible=_addresses(WEB_POSSIBLE, EgressSource.AZURE_POSSIBLE, "shop-web"),
                notes=("possible",),
            )
        )
        aks = ResourceKind.AKS_CLUSTER
        fake.add(
            EgressReading(
                resource=_ref(aks, "rg-aks", "aks-prod"),
                addresses=_addresses([AKS_IP], EgressSource.LOAD_BALANCER, "aks-prod"),
                notes=("permanent",),
            )
        )
        fake.add(
            EgressReading(
                resource=_ref(aks, "rg-aks", "aks-locked"), notes=("firewall",), through_vnet=True
            ),
            node_pools=("system",),
        )
        group = ResourceKind.CONTAINER_GROUP
        fake.add(
            EgressReading(
                resource=_ref(group, "rg-jobs", "nightly"),
                addresses=_addresses([NAT_IP], EgressSource.NAT_GATEWAY, nat),
                notes=("none exposed",),
                through_vnet=True,
            )
        )
        fake.add(
            EgressReading(
                resource=_ref(group, "rg-jobs", "plain"),
                notes=("none exposed", "no NAT gateway"),
                through_vnet=True,
            )
        )
        fake.add_owner(
            PublicIpOwner(
                ip=ipaddress.IPv4Address(NAT_IP),
                name="pip-ng-prod",
                resource_group="rg-network",
                subscription=SUB,
                owner_kind="NAT gateway",
                owner_name="ng-prod",
                owner_resource_group="rg-network",
            )
        )
        fake.add_owner(
            PublicIpOwner(
                ip=ipaddress.IPv4Address(AKS_IP),
                name="kube-out",
                resource_group="mc_rg-aks_aks-prod_westeurope",
                subscription=SUB,
            )
        )

    def deny_access(self) -> None:
        self.lookup.failure = EgressLookupFailed("the bot may not read it", no_access=True)


@pytest.fixture(params=["memory", "azure"])
def world(request: Any) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryWorld()
        return
    with ArmEmulator() as emulator:
        yield ArmWorld(emulator)


def _ips(addresses: tuple[EgressAddress, ...]) -> list[str]:
    return [str(a.ip) for a in addresses]


def test_finds_a_resource_by_name_in_the_given_subscriptions_only(world: Any) -> None:
    found = world.lookup.find(ResourceKind.CONTAINER_APP, "SHOP-API", [SUB])
    assert [(r.name, r.resource_group, r.subscription) for r in found] == [
        ("shop-api", "rg-apps", SUB)
    ]
    both = world.lookup.find(ResourceKind.CONTAINER_APP, "shop-api", [SUB, OTHER_SUB])
    assert sorted(r.subscription for r in both) == [SUB, OTHER_SUB]
    assert world.lookup.find(ResourceKind.WEB_APP, "shop-api", [SUB]) == []


def test_finds_a_resource_by_its_id(world: Any) -> None:
    ref = _ref(ResourceKind.AKS_CLUSTER, "rg-aks", "aks-prod")
    assert world.lookup.find(ResourceKind.AKS_CLUSTER, ref.id, []) == [ref]


def test_finds_what_a_paste_named_in_the_group_it_named(world: Any) -> None:
    ca = ResourceKind.CONTAINER_APP
    pasted = PastedResource(kind=ca, name="shop-api", resource_group="RG-X")
    found = world.lookup.find(ca, pasted, [SUB, OTHER_SUB])
    assert [(r.resource_group, r.subscription) for r in found] == [("rg-x", OTHER_SUB)]
    # A group that holds no such resource (a placeholder, a typo) does not hide the others.
    elsewhere = PastedResource(kind=ca, name="shop-api", resource_group="rg-nothing")
    assert len(world.lookup.find(ca, elsewhere, [SUB, OTHER_SUB])) == 2
    assert world.lookup.find(ResourceKind.WEB_APP, pasted, [SUB]) == []


def test_finds_what_a_paste_named_by_its_id(world: Any) -> None:
    pasted = PastedResource(
        kind=ResourceKind.WEB_APP, name="shop-web", resource_group="rg-web", subscription=SUB
    )
    assert world.lookup.find(ResourceKind.WEB_APP, pasted, []) == [
        _ref(ResourceKind.WEB_APP, "rg-web", "shop-web")
    ]


def test_finds_an_aks_cluster_by_its_node_resource_group(world: Any) -> None:
    aks = ResourceKind.AKS_CLUSTER
    pasted = PastedResource(kind=aks, node_resource_group="MC_rg-aks_aks-prod_westeurope")
    assert [r.name for r in world.lookup.find(aks, pasted, [SUB])] == ["aks-prod"]


def test_finds_the_aks_clusters_with_the_pool_of_a_node(world: Any) -> None:
    aks = ResourceKind.AKS_CLUSTER
    node = PastedResource(kind=aks, node="aks-system-41825730-vmss00000a")
    assert [r.name for r in world.lookup.find(aks, node, [SUB])] == ["aks-locked"]
    scale_set = PastedResource(kind=aks, node="aks-nodepool1-12345678-vmss")
    assert [r.name for r in world.lookup.find(aks, scale_set, [SUB])] == ["aks-prod"]
    nowhere = PastedResource(kind=aks, node="aks-gpu-12345678-vmss000000")
    assert world.lookup.find(aks, nowhere, [SUB]) == []


def test_candidates_are_the_resources_of_that_kind_by_name(world: Any) -> None:
    names = [r.name for r in world.lookup.candidates(ResourceKind.AKS_CLUSTER, [SUB])]
    assert names == ["aks-locked", "aks-prod"]
    assert len(world.lookup.candidates(ResourceKind.AKS_CLUSTER, [SUB], limit=1)) == 1


def test_a_consumption_container_app_sends_from_its_azure_assigned_addresses(world: Any) -> None:
    reading = world.lookup.egress(_ref(ResourceKind.CONTAINER_APP, "rg-apps", "shop-api"))
    assert _ips(reading.addresses) == APP_IPS
    assert {a.source for a in reading.addresses} == {EgressSource.AZURE_ASSIGNED}
    assert not any(a.fixed for a in reading.addresses)
    assert not reading.through_vnet


def test_a_workload_profile_environment_sends_through_its_subnets_nat_gateway(
    world: Any,
) -> None:
    reading = world.lookup.egress(_ref(ResourceKind.CONTAINER_APP, "rg-apps", "orders"))
    assert _ips(reading.addresses) == [NAT_IP]
    assert reading.addresses[0].fixed
    assert reading.addresses[0].label.startswith("NAT gateway")
    assert reading.through_vnet


def test_a_web_app_has_outbound_and_possible_addresses(world: Any) -> None:
    reading = world.lookup.egress(_ref(ResourceKind.WEB_APP, "rg-web", "shop-web"))
    assert _ips(reading.addresses) == WEB_IPS
    assert _ips(reading.possible) == WEB_POSSIBLE
    assert reading.notes


def test_an_aks_cluster_sends_from_its_load_balancers_public_ips(world: Any) -> None:
    reading = world.lookup.egress(_ref(ResourceKind.AKS_CLUSTER, "rg-aks", "aks-prod"))
    assert _ips(reading.addresses) == [AKS_IP]
    assert reading.addresses[0].source is EgressSource.LOAD_BALANCER


def test_user_defined_routing_gives_no_address_and_says_why(world: Any) -> None:
    reading = world.lookup.egress(_ref(ResourceKind.AKS_CLUSTER, "rg-aks", "aks-locked"))
    assert reading.addresses == ()
    assert reading.through_vnet
    assert reading.notes


def test_a_container_group_exposes_nothing_but_its_subnets_nat_gateway(world: Any) -> None:
    nat = world.lookup.egress(_ref(ResourceKind.CONTAINER_GROUP, "rg-jobs", "nightly"))
    assert _ips(nat.addresses) == [NAT_IP]
    plain = world.lookup.egress(_ref(ResourceKind.CONTAINER_GROUP, "rg-jobs", "plain"))
    assert plain.addresses == ()
    assert len(plain.notes) == 2


def test_a_missing_resource_is_not_found(world: Any) -> None:
    with pytest.raises(EgressLookupFailed) as caught:
        world.lookup.egress(_ref(ResourceKind.WEB_APP, "rg-web", "gone"))
    assert caught.value.not_found
    assert not caught.value.no_access


def test_owner_of_names_the_nat_gateway_behind_a_public_ip(world: Any) -> None:
    owner = world.lookup.owner_of(ipaddress.IPv4Address(NAT_IP), [SUB])
    assert owner is not None
    assert owner.label == "the public IP of NAT gateway ng-prod in rg-network"
    assert world.lookup.owner_of(ipaddress.IPv4Address(NAT_IP), [OTHER_SUB]) is None
    assert world.lookup.owner_of(ipaddress.IPv4Address("8.8.8.8"), [SUB]) is None


def test_without_access_every_call_says_so(world: Any) -> None:
    world.deny_access()
    with pytest.raises(EgressLookupFailed) as caught:
        world.lookup.find(ResourceKind.CONTAINER_APP, "shop-api", [SUB])
    assert caught.value.no_access
    with pytest.raises(EgressLookupFailed) as again:
        world.lookup.egress(_ref(ResourceKind.CONTAINER_APP, "rg-apps", "shop-api"))
    assert again.value.no_access
