"""`prepare_lookup` on fakes: what a card whose paste hid the address offers to look up — the
resource the paste named, found in Azure, or the likely resources of the client's kind."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.domain.egress import EgressLookupFailed, EgressReading, ResourceKind, ResourceRef
from services.domain.failure import PastedResource
from services.domain.offers import Offer
from services.flows.egress import prepare_lookup
from tests.fakes.egress import FakeEgressLookup
from tests.fakes.ports import Fakes, config, make_fakes

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
