"""Diagnosing a paste on fakes: a refused address that is one of the organisation's own public IPs
is named, with the permanent rule suggested; one the known-IPs setting names is not looked up; a
lookup that fails leaves the diagnosis as it was."""

from __future__ import annotations

import ipaddress

from services.diagnosis.service_tags import ServiceTagIndex
from services.domain.egress import EgressLookupFailed, PublicIpOwner
from services.flows.diagnose import diagnose_paste
from services.lookups import AddressBook
from tests.fakes.egress import FakeEgressLookup
from tests.fakes.ports import Fakes, config, make_fakes

NAT_IP = "4.175.12.34"
PASTE = (
    'Error response from daemon: Head "https://contoso.azurecr.io/v2/shop/api/manifests/1.4": '
    f"denied: client with IP '{NAT_IP}' is not allowed access. Refer https://aka.ms/acr/firewall "
    "to grant access."
)
OWNER = PublicIpOwner(
    ip=ipaddress.IPv4Address(NAT_IP),
    name="pip-ng-prod",
    resource_group="rg-network",
    subscription=config().subscription_id,
    owner_kind="NAT gateway",
    owner_name="ng-prod",
    owner_resource_group="rg-network",
)


def _world(known: dict[str, str] | None = None) -> tuple[Fakes, FakeEgressLookup]:
    egress = FakeEgressLookup()
    egress.add_owner(OWNER)
    fakes = make_fakes().with_ports(
        egress=egress, lookups=AddressBook(known or {}, ServiceTagIndex([]))
    )
    return fakes, egress


def test_a_refused_address_of_the_organisation_is_named_with_the_permanent_rule() -> None:
    fakes, _ = _world()
    result = diagnose_paste(fakes.ports, PASTE)
    assert result.owners == (OWNER,)
    d = result.diagnosis
    assert d.grant_eligible
    assert d.steps[0].startswith(
        f"{NAT_IP} is the public IP of NAT gateway ng-prod in rg-network: a fixed address"
    )
    assert "allow it permanently" in d.steps[0]
    assert "a temporary rule unblocks you meanwhile" in d.steps[0]


def test_an_address_the_known_ips_name_is_not_looked_up() -> None:
    fakes, egress = _world({NAT_IP: "NAT gateway prod-westeurope"})
    result = diagnose_paste(fakes.ports, PASTE)
    assert "owner_of" not in egress.calls
    assert result.owners == ()


def test_a_failed_lookup_leaves_the_diagnosis_as_it_was() -> None:
    fakes, egress = _world()
    without = diagnose_paste(fakes.with_ports(egress=None).ports, PASTE)
    egress.failure = EgressLookupFailed("the bot may not read it", no_access=True)
    result = diagnose_paste(fakes.ports, PASTE)
    assert egress.calls == ["owner_of"]
    assert result.owners == ()
    assert result.diagnosis == without.diagnosis
