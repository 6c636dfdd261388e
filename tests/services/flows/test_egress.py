"""The egress lookup's flows on fakes: what a card whose paste hid the address offers to look up
(`prepare_lookup`: the resource the paste named, found in Azure, or the likely resources of the
client's kind), and how the addresses looked up are judged and offered (`look_up_egress`)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import pytest

from services.domain.egress import (
    EgressAddress,
    EgressLookupFailed,
    EgressReading,
    EgressSource,
    ResourceKind,
    ResourceRef,
)
from services.domain.failure import PastedResource
from services.domain.grants import Requester
from services.domain.offers import Offer
from services.domain.policy import RegistryConfig
from services.flows.egress import EgressResult, look_up_egress, prepare_lookup
from services.flows.requests import request_from_offer
from tests.fakes.egress import FakeEgressLookup
from tests.fakes.ports import REQUESTER, TEAM, Fakes, config, make_fakes

SUB = config().subscription_id
AKS = ResourceKind.AKS_CLUSTER


def _cluster(fake: FakeEgressLookup, group: str, name: str, pool: str) -> ResourceRef:
    ref = ResourceRef.from_id(
        f"/subscriptions/{SUB}/resourceGroups/{group}/providers/"
        f"Microsoft.ContainerService/managedClusters/{name}"
    )
    assert ref is not None
    return fake.add(EgressReading(resource=ref), node_pools=(pool,))


@pytest.fixture
def fakes() -> Fakes:
    fake = FakeEgressLookup()
    _cluster(fake, "rg-aks", "aks-prod", "nodepool1")
    _cluster(fake, "rg-aks", "aks-test", "nodepool1")
    _cluster(fake, "rg-gpu", "aks-gpu", "gpu")
    return make_fakes().with_ports(egress=fake)


def _offer(fakes: Fakes, resource: PastedResource | None) -> Offer:
    offer = Offer(
        id="01JOFFER",
        registry="contoso.azurecr.io",
        verdict="no_ip_in_error",
        summary="The refusal shows no address.",
        client="kubelet",
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
        resource=resource,
    )
    fakes.ports.grants.put_offer(offer)
    return offer


def _names(offer: Offer) -> list[str]:
    return [ref.name for ref in map(ResourceRef.from_id, offer.candidates) if ref is not None]


def test_the_one_resource_a_paste_named_is_offered_alone(fakes: Fakes) -> None:
    pasted = PastedResource(kind=AKS, node="aks-gpu-41825730-vmss000002")
    prepared = prepare_lookup(fakes.ports, _offer(fakes, pasted))
    assert prepared is not None
    assert (prepared.named, _names(prepared), prepared.lookup_kind) == (
        True,
        ["aks-gpu"],
        "aks_cluster",
    )
    assert fakes.ports.grants.get_offer(prepared.id) == prepared


def test_every_resource_that_fits_what_the_paste_named_is_offered(fakes: Fakes) -> None:
    pasted = PastedResource(kind=AKS, node="aks-nodepool1-12345678-vmss000000")
    prepared = prepare_lookup(fakes.ports, _offer(fakes, pasted))
    assert prepared is not None
    assert (prepared.named, _names(prepared)) == (True, ["aks-prod", "aks-test"])


def test_a_named_resource_azure_does_not_have_leaves_the_clients_kind(fakes: Fakes) -> None:
    pasted = PastedResource(kind=AKS, name="aks-gone")
    prepared = prepare_lookup(fakes.ports, _offer(fakes, pasted))
    assert prepared is not None
    assert (prepared.named, _names(prepared)) == (False, ["aks-gpu", "aks-prod", "aks-test"])


def test_without_access_no_lookup_is_offered(fakes: Fakes) -> None:
    assert isinstance(fakes.ports.egress, FakeEgressLookup)
    fakes.ports.egress.failure = EgressLookupFailed("no Reader", no_access=True)
    pasted = PastedResource(kind=AKS, name="aks-prod")
    assert prepare_lookup(fakes.ports, _offer(fakes, pasted)) is None


# --- look_up_egress: each address judged as a pasted one would be ------------------------------

WEB = ResourceKind.WEB_APP
APP = ResourceKind.CONTAINER_APP


def _reading(kind: ResourceKind, name: str, *addresses: tuple[str, EgressSource]) -> EgressReading:
    provider = {WEB: "Microsoft.Web/sites", APP: "Microsoft.App/containerApps"}[kind]
    ref = ResourceRef.from_id(
        f"/subscriptions/{SUB}/resourceGroups/rg-apps/providers/{provider}/{name}", kind
    )
    assert ref is not None
    return EgressReading(
        resource=ref,
        addresses=tuple(
            EgressAddress(ip=ipaddress.IPv4Address(ip), source=source, label=f"{name} ({source})")
            for ip, source in addresses
        ),
    )


def _lookup_world(*registries: RegistryConfig, rules: tuple[str, ...] = ()) -> Fakes:
    fake = FakeEgressLookup()
    assigned, nat = EgressSource.AZURE_ASSIGNED, EgressSource.NAT_GATEWAY
    fake.add(_reading(WEB, "shop-web", ("52.166.0.1", assigned), ("52.166.0.2", assigned)))
    fake.add(_reading(APP, "orders", ("20.76.1.10", assigned), ("4.175.12.34", nat)))
    fakes = make_fakes(*registries).with_ports(egress=fake)
    fakes.registry.set_rules("contoso", list(rules))
    return fakes


def _looked_up(fakes: Fakes, kind: ResourceKind, name: str) -> EgressResult:
    offer = _offer(fakes, None).model_copy(update={"created_at": fakes.clock.now()})
    fakes.ports.grants.put_offer(offer)
    return look_up_egress(fakes.ports, offer.id, kind=kind, name=name)


def test_every_looked_up_address_that_may_have_a_rule_is_offered_in_one_request() -> None:
    fakes = _lookup_world()
    result = _looked_up(fakes, WEB, "shop-web")
    assert [(str(c.address.ip), c.eligible) for c in result.checks] == [
        ("52.166.0.1", True),
        ("52.166.0.2", True),
    ]
    assert result.offer is not None
    assert [str(ip) for ip in result.offer.ips] == ["52.166.0.1", "52.166.0.2"]
    assert result.offer.warning is not None
    assert "shared with other workloads" in result.offer.warning
    assert not result.permanent_suggested
    assert fakes.ports.grants.get_offer(result.offer.id) == result.offer
    # One request from that offer: a grant per address, each approved and expiring on its own.
    made = request_from_offer(
        fakes.ports,
        result.offer.id,
        requester=Requester(user_id=REQUESTER, team_id=TEAM),
        justification="the web app's pull is refused",
    )
    assert [str(g.ip) for g in (made.grant, *made.also)] == ["52.166.0.1", "52.166.0.2"]


def test_an_address_a_rule_already_allows_is_shown_and_not_requested() -> None:
    fakes = _lookup_world(rules=("52.166.0.0/30",))
    result = _looked_up(fakes, WEB, "shop-web")
    assert [c.note for c in result.checks] == [
        "already allowed by the rule 52.166.0.0/30",
        "already allowed by the rule 52.166.0.0/30",
    ]
    assert not any(c.eligible for c in result.checks)
    assert result.offer is None


def test_a_registry_refusing_azure_addresses_is_offered_only_the_fixed_egress() -> None:
    fakes = _lookup_world(config(allow_azure_service_ips=False))
    result = _looked_up(fakes, APP, "orders")
    assert [(str(c.address.ip), c.eligible, c.note) for c in result.checks] == [
        ("20.76.1.10", False, "this registry's policy refuses Azure-owned addresses"),
        ("4.175.12.34", True, None),
    ]
    assert result.offer is not None
    assert [str(ip) for ip in result.offer.ips] == ["4.175.12.34"]
    assert result.permanent_suggested
    assert result.offer.warning is not None
    assert "permanent rule" in result.offer.warning


def test_a_name_that_is_not_one_resource_asks_for_its_id() -> None:
    fakes = _lookup_world()
    missing = _looked_up(fakes, WEB, "shop-gone")
    assert missing.problem is not None
    assert "No App Service / Function app named shop-gone" in missing.problem
    assert missing.offer is None
    egress = fakes.ports.egress
    assert isinstance(egress, FakeEgressLookup)
    other = ResourceRef.from_id(
        f"/subscriptions/{SUB}/resourceGroups/rg-other/providers/Microsoft.Web/sites/shop-web", WEB
    )
    assert other is not None
    egress.add(EgressReading(resource=other))
    twice = _looked_up(fakes, WEB, "shop-web")
    assert twice.problem == "2 resources are named shop-web: look it up by its resource id."
    assert len(twice.matches) == 2
    assert twice.checks == ()
