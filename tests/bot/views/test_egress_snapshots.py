"""Snapshots of the egress lookup: what a card whose paste hid the address offers, the form that
names a resource, and the card of the addresses found (with its notification text)."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion

from bot.payloads import ModalContext
from bot.views.egress import egress_blocks, egress_text, lookup_blocks
from bot.views.lookup_form import lookup_modal
from services.diagnosis.verdicts import Verdict
from services.domain.egress import (
    EgressAddress,
    EgressReading,
    EgressSource,
    ResourceKind,
    ResourceRef,
)
from services.domain.failure import PastedResource
from services.domain.offers import Offer
from services.flows.egress import AddressCheck, EgressResult
from tests.bot.views.samples import NOW, REGISTRY, SEALED, message, view

SUB = "00000000-0000-0000-0000-0000000000a1"
APP = ResourceKind.CONTAINER_APP
AKS = ResourceKind.AKS_CLUSTER
WEB = ResourceKind.WEB_APP


#: Resource types as ARM spells them in ids.
PROVIDERS = {
    APP: "Microsoft.App/containerApps",
    AKS: "Microsoft.ContainerService/managedClusters",
    WEB: "Microsoft.Web/sites",
}


def _id(kind: ResourceKind, group: str, name: str) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{group}/providers/{PROVIDERS[kind]}/{name}"


def _ref(kind: ResourceKind, group: str, name: str) -> ResourceRef:
    ref = ResourceRef.from_id(_id(kind, group, name), kind)
    assert ref is not None
    return ref


NODE = PastedResource(kind=AKS, node="aks-nodepool1-12345678-vmss000000")

#: What the card offers, by what the paste named and what Azure had.
LOOKUPS: dict[str, dict[str, Any]] = {
    "the_one_resource_the_paste_named": {
        "kind": APP,
        "candidates": [_id(APP, "rg-apps", "shop-api")],
        "pasted": PastedResource(kind=APP, name="shop-api"),
        "named": True,
    },
    "several_resources_fit_the_paste": {
        "kind": AKS,
        "candidates": [_id(AKS, "rg-aks", "aks-prod"), _id(AKS, "rg-aks", "aks-test")],
        "pasted": NODE,
        "named": True,
    },
    "the_named_resource_was_not_found": {
        "kind": AKS,
        "candidates": [_id(AKS, "rg-aks", "aks-prod")],
        "pasted": PastedResource(kind=AKS, name="aks-gone", resource_group="rg-aks"),
        "named": False,
    },
    "likely_resources_of_the_kind": {
        "kind": WEB,
        "candidates": [_id(WEB, "rg-web", "shop-web"), _id(WEB, "rg-web", "shop-admin")],
    },
    "nothing_to_pick_from": {"kind": None, "candidates": []},
}


@pytest.mark.parametrize("variant", list(LOOKUPS))
def test_lookup_blocks(variant: str, snapshot_json: SnapshotAssertion) -> None:
    blocks = lookup_blocks(sealed=SEALED, **LOOKUPS[variant])
    assert message(None, blocks) == snapshot_json


@pytest.mark.parametrize("kind", [AKS, None], ids=["kind_known", "kind_unknown"])
def test_lookup_modal(kind: ResourceKind | None, snapshot_json: SnapshotAssertion) -> None:
    modal = lookup_modal(
        kind=kind, private_metadata=ModalContext(offer=SEALED, channel="C0PLATFORM").dump()
    )
    assert view(modal) == snapshot_json


def _address(ip: str, source: EgressSource, label: str) -> EgressAddress:
    return EgressAddress(ip=ipaddress.IPv4Address(ip), source=source, label=label)


def _offer(*ips: str, warning: str | None = None) -> Offer:
    first, *more = (ipaddress.IPv4Address(i) for i in ips)
    return Offer(
        id="01KJNS8W00OFFER00000000000",
        registry=REGISTRY,
        ip=first,
        more_ips=tuple(more),
        verdict=Verdict.AZURE_SERVICE_IP.value,
        summary="looked up",
        warning=warning,
        client="container_apps",
        created_at=NOW,
    )


def _app_result() -> EgressResult:
    ref = _ref(APP, "rg-apps", "shop-api")
    label = "environment cae-shared's outbound address (Azure-assigned)"
    addresses = (
        _address("20.76.1.10", EgressSource.AZURE_ASSIGNED, label),
        _address("20.76.1.11", EgressSource.AZURE_ASSIGNED, label),
    )
    return EgressResult(
        registry=REGISTRY,
        kind=APP,
        asked="shop-api",
        resource=ref,
        reading=EgressReading(
            resource=ref,
            addresses=addresses,
            notes=(
                "These are environment cae-shared's Azure-assigned outbound addresses: they stay "
                "with the environment but can change and may be shared with other workloads.",
            ),
        ),
        checks=tuple(
            AddressCheck(address=a, verdict=Verdict.AZURE_SERVICE_IP, eligible=True)
            for a in addresses
        ),
        offer=_offer(
            "20.76.1.10",
            "20.76.1.11",
            warning="20.76.1.10, 20.76.1.11: Azure-assigned outbound addresses of Container "
            "App shop-api; they stay with it but may be shared with other workloads, which reach "
            "contosoprod.azurecr.io's endpoint too while the rule exists.",
        ),
    )


def _nat_result() -> EgressResult:
    ref = _ref(APP, "rg-apps", "orders")
    nat = _address("4.175.12.34", EgressSource.NAT_GATEWAY, "NAT gateway ng-prod (rg-network)")
    return EgressResult(
        registry=REGISTRY,
        kind=APP,
        asked="orders",
        resource=ref,
        reading=EgressReading(
            resource=ref,
            addresses=(nat,),
            notes=(
                "Environment cae-wp sends outbound traffic through its subnet's NAT gateway: a "
                "fixed address, best allowed permanently.",
            ),
            through_vnet=True,
        ),
        checks=(
            AddressCheck(
                address=nat,
                verdict=Verdict.ALREADY_ALLOWED,
                eligible=False,
                note="already allowed by the rule 4.175.12.34",
            ),
        ),
    )


def _web_result() -> EgressResult:
    ref = _ref(WEB, "rg-web", "shop-web")
    label = "App Service app shop-web (Azure-assigned, shared by the scale unit)"
    addresses = (
        _address("52.166.0.1", EgressSource.AZURE_ASSIGNED, label),
        _address("52.166.0.2", EgressSource.AZURE_ASSIGNED, label),
    )
    possible = (_address("52.166.0.3", EgressSource.AZURE_POSSIBLE, label),)
    return EgressResult(
        registry=REGISTRY,
        kind=WEB,
        asked="shop-web",
        resource=ref,
        reading=EgressReading(
            resource=ref,
            addresses=addresses,
            possible=possible,
            notes=(
                "The app may also use 1 more addresses after a scale change "
                "(`possibleOutboundIpAddresses`).",
            ),
        ),
        checks=(
            AddressCheck(address=addresses[0], verdict=Verdict.AZURE_SERVICE_IP, eligible=True),
            AddressCheck(
                address=addresses[1],
                verdict=Verdict.ALREADY_ALLOWED,
                eligible=False,
                note="already allowed by the rule 52.166.0.0/28",
            ),
        ),
        offer=_offer("52.166.0.1"),
    )


#: What a lookup found: addresses to request, a fixed egress, several resources by one name,
#: no access, nothing found.
RESULTS: dict[str, EgressResult] = {
    "container_app_with_azure_addresses": _app_result(),
    "container_app_behind_a_nat_gateway": _nat_result(),
    "web_app_with_possible_addresses": _web_result(),
    "several_resources_by_that_name": EgressResult(
        registry=REGISTRY,
        kind=AKS,
        asked="aks-prod",
        matches=(_ref(AKS, "rg-aks", "aks-prod"), _ref(AKS, "rg-aks-west", "aks-prod")),
        problem="2 resources are named aks-prod: look it up by its resource id.",
    ),
    "no_access": EgressResult(
        registry=REGISTRY,
        kind=APP,
        asked="shop-api",
        problem="the bot may not read Container App shop-api (403 AuthorizationFailed: The "
        "client does not have authorization to perform action "
        "'Microsoft.App/containerApps/read')",
        no_access=True,
    ),
    "not_found": EgressResult(
        registry=REGISTRY,
        kind=APP,
        asked="shop-apii",
        problem="No Container App named shop-apii in the managed registries' subscriptions (or "
        "the bot may not read it).",
    ),
}


@pytest.mark.parametrize("variant", list(RESULTS))
def test_egress_card(variant: str, snapshot_json: SnapshotAssertion) -> None:
    result = RESULTS[variant]
    value = SEALED if result.offer is not None else None
    assert message(egress_text(result), egress_blocks(result, request_value=value)) == (
        snapshot_json
    )
