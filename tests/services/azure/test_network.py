"""Egress discovery through the real azure-mgmt-network SDK, over HTTPS, against the loopback ARM
emulator serving Microsoft.Network in Azure's response shapes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.arm_emulator import ArmEmulator
from sandbox.arm_network import NetworkResources
from services.azure.network import (
    ArmEgressDiscovery,
    EgressDiscoveryError,
    merge_known_ips,
)
from tests.sandbox_helpers import StaticTokenCredential, arm_settings

SUB = "00000000-0000-0000-0000-00000000000a"
OTHER_SUB = "00000000-0000-0000-0000-00000000000b"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def emulator() -> Iterator[ArmEmulator]:
    with ArmEmulator() as emu:
        yield emu


@pytest.fixture
def network(emulator: ArmEmulator) -> NetworkResources:
    return NetworkResources().attach(emulator)


@pytest.fixture
def discovery(emulator: ArmEmulator) -> ArmEgressDiscovery:
    return ArmEgressDiscovery(arm=arm_settings(emulator), credential=StaticTokenCredential())


def seed_estate(net: NetworkResources) -> None:
    """A platform team's egress: a NAT gateway with an address and a prefix, an Application
    Gateway with a public and a private frontend, a firewall with a management IP, a secured-hub
    firewall, and AKS's outbound load balancer with one frontend no outbound rule uses."""
    ng_ip = net.add_public_ip(SUB, "rg-net", "pip-ng-aks-prod", "4.175.12.34")
    ng_prefix = net.add_public_ip_prefix(SUB, "rg-net", "ippre-egress", "20.61.14.0/30")
    net.add_nat_gateway(
        SUB, "rg-net", "ng-aks-prod", public_ips=[ng_ip], public_ip_prefixes=[ng_prefix]
    )
    agw_ip = net.add_public_ip(SUB, "rg-edge", "pip-agw", "20.50.2.4")
    net.add_application_gateway(SUB, "rg-edge", "agw-registry", frontend_public_ips=[agw_ip])
    fw_ip = net.add_public_ip(SUB, "rg-hub", "pip-fw", "51.105.0.10")
    fw_mgmt = net.add_public_ip(SUB, "rg-hub", "pip-fw-mgmt", "51.105.0.11")
    net.add_azure_firewall(
        SUB, "rg-hub", "fw-hub", public_ips=[fw_ip], management_public_ip=fw_mgmt
    )
    net.add_azure_firewall(SUB, "rg-vwan", "fw-vwan", hub_public_addresses=["52.174.1.1"])
    lb_out = net.add_public_ip(SUB, "MC_rg_aks", "pip-aks-out", "9.163.2.8")
    lb_in = net.add_public_ip(SUB, "MC_rg_aks", "pip-aks-ingress", "9.163.2.9")
    net.add_load_balancer(
        SUB,
        "MC_rg_aks",
        "kubernetes",
        frontends={"out-fe": lb_out, "ingress-fe": lb_in},
        outbound_rules={"aksOutboundRule": ["out-fe"]},
    )


def test_discovers_every_kind_of_egress_labelled_by_resource(
    network: NetworkResources, discovery: ArmEgressDiscovery
) -> None:
    seed_estate(network)

    report = discovery.discover(SUB)

    assert report.warnings == ()
    assert report.known_ips() == {
        "4.175.12.34": "NAT gateway ng-aks-prod (rg-net)",
        "9.163.2.8": "Load balancer kubernetes (MC_rg_aks) outbound rule aksOutboundRule",
        "20.50.2.4": "Application Gateway agw-registry (rg-edge)",
        "20.61.14.0/30": "NAT gateway ng-aks-prod (rg-net) prefix ippre-egress",
        "51.105.0.10": "Azure Firewall fw-hub (rg-hub)",
        "52.174.1.1": "Azure Firewall fw-vwan (rg-vwan)",
    }
    owners = {a.network: a.resource_id for a in report.addresses}
    assert owners["4.175.12.34"].endswith("/providers/Microsoft.Network/natGateways/ng-aks-prod")


def test_management_ip_and_frontends_without_outbound_rule_are_not_egress(
    network: NetworkResources, discovery: ArmEgressDiscovery
) -> None:
    seed_estate(network)

    found = discovery.discover(SUB).known_ips()

    assert "51.105.0.11" not in found  # the firewall's management IP configuration
    assert "9.163.2.9" not in found  # an inbound-only load balancer frontend


def test_follows_every_page_of_a_list(emulator: ArmEmulator, discovery: ArmEgressDiscovery) -> None:
    network = NetworkResources(page_size=2).attach(emulator)
    for i in range(5):
        ip = network.add_public_ip(SUB, "rg-net", f"pip-{i}", f"4.175.12.{10 + i}")
        network.add_nat_gateway(SUB, "rg-net", f"ng-{i}", public_ips=[ip])

    found = discovery.discover(SUB).known_ips()

    assert sorted(found) == [f"4.175.12.{10 + i}" for i in range(5)]
    pages = [r for r in emulator.requests if r.path.endswith("/natGateways")]
    assert [r.query.get("$skipToken") for r in pages] == [None, "2", "4"]


def test_a_load_balancer_prefix_and_a_reference_into_another_subscription(
    network: NetworkResources, discovery: ArmEgressDiscovery
) -> None:
    shared = network.add_public_ip(OTHER_SUB, "rg-shared", "pip-shared", "4.210.0.1")
    prefix = network.add_public_ip_prefix(SUB, "MC_rg_aks", "ippre-aks", "9.163.4.0/31")
    network.add_nat_gateway(SUB, "rg-net", "ng-shared", public_ips=[shared])
    network.add_load_balancer(
        SUB,
        "MC_rg_aks",
        "kubernetes",
        frontends={"fe-prefix": prefix},
        outbound_rules={"aksOutboundRule": ["fe-prefix"]},
    )

    found = discovery.discover(SUB).known_ips()

    assert found == {
        "4.210.0.1": "NAT gateway ng-shared (rg-net)",
        "9.163.4.0/31": (
            "Load balancer kubernetes (MC_rg_aks) outbound rule aksOutboundRule prefix ippre-aks"
        ),
    }


def test_an_address_two_resources_share_carries_both_labels(
    emulator: ArmEmulator, network: NetworkResources, discovery: ArmEgressDiscovery
) -> None:
    ip = network.add_public_ip(SUB, "rg-net", "pip-shared", "4.175.12.34")
    network.add_nat_gateway(SUB, "rg-net", "ng-a", public_ips=[ip])
    network.add_nat_gateway(SUB, "rg-net", "ng-b", public_ips=[ip])

    report = discovery.discover(SUB)

    assert report.known_ips() == {
        "4.175.12.34": "NAT gateway ng-a (rg-net); NAT gateway ng-b (rg-net)"
    }
    # Followed once, though referenced twice.
    assert sum(r.path.endswith("/publicIPAddresses/pip-shared") for r in emulator.requests) == 1


def test_missing_and_unallocated_addresses_become_warnings(
    network: NetworkResources, discovery: ArmEgressDiscovery
) -> None:
    kept = network.add_public_ip(SUB, "rg-net", "pip-ok", "4.175.12.34")
    gone = network.add_public_ip(SUB, "rg-net", "pip-gone", "4.175.12.35")
    pending = network.add_public_ip(SUB, "rg-net", "pip-pending", None)
    network.add_nat_gateway(SUB, "rg-net", "ng", public_ips=[kept, gone, pending])
    network.remove(gone)

    report = discovery.discover(SUB)

    assert report.known_ips() == {"4.175.12.34": "NAT gateway ng (rg-net)"}
    assert len(report.warnings) == 2
    assert "pip-gone does not exist" in report.warnings[0]
    assert "pip-pending has no address allocated yet" in report.warnings[1]


def test_refused_listing_is_one_readable_error(
    emulator: ArmEmulator, network: NetworkResources, discovery: ArmEgressDiscovery
) -> None:
    seed_estate(network)
    emulator.inject(
        "other",
        status=403,
        code="AuthorizationFailed",
        message="The client does not have authorization to perform action "
        "'Microsoft.Network/natGateways/read'.",
    )

    with pytest.raises(EgressDiscoveryError) as caught:
        discovery.discover(SUB)

    message = str(caught.value)
    assert message.startswith(f"cannot list NAT gateways in subscription {SUB}: 403")
    assert "AuthorizationFailed" in message
    assert "Microsoft.Network/natGateways/read" in message


def test_throttled_listing_is_retried(
    emulator: ArmEmulator, network: NetworkResources, discovery: ArmEgressDiscovery
) -> None:
    seed_estate(network)
    emulator.throttle("other", times=2, retry_after=0)

    assert len(discovery.discover(SUB).known_ips()) == 6
    # Two throttled tries, then four listings and five public IP or prefix reads.
    assert emulator.count("other") == 2 + 4 + 5
    assert all(r.path.endswith("/natGateways") for r in emulator.requests[:3])


def test_every_request_is_a_bearer_authenticated_get_on_the_sdk_api_version(
    emulator: ArmEmulator, network: NetworkResources, discovery: ArmEgressDiscovery
) -> None:
    seed_estate(network)

    discovery.discover(SUB)

    assert emulator.requests
    for request in emulator.requests:
        assert request.method == "GET"
        assert request.headers["Authorization"] == "Bearer test-token"
        assert request.query["api-version"] == "2026-03-01"


def test_merge_keeps_hand_written_entries_and_compares_networks() -> None:
    existing = {
        "4.175.12.34/32": "NAT gateway prod-westeurope (hand-written)",
        "10.20.0.0/16": "office VPN",
    }
    discovered = {
        "4.175.12.34": "NAT gateway ng-aks-prod (rg-net)",
        "20.50.2.4": "Application Gateway agw-registry (rg-edge)",
    }

    merged = merge_known_ips(existing, discovered)

    assert merged.entries == {
        "4.175.12.34/32": "NAT gateway prod-westeurope (hand-written)",
        "10.20.0.0/16": "office VPN",
        "20.50.2.4": "Application Gateway agw-registry (rg-edge)",
    }
    assert merged.added == ("20.50.2.4",)
    assert merged.already_known == ("4.175.12.34",)


def test_importing_the_adapters_does_not_load_the_network_sdk() -> None:
    code = (
        "import sys, services.azure.network, services.azure.service_tags\n"
        "assert 'azure.mgmt.network' not in sys.modules, 'imported eagerly'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
