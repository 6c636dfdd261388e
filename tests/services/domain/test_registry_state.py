"""Registry state read from snapshots, and rules compared as networks (DESIGN invariant 7)."""

from __future__ import annotations

import ipaddress

import pytest

from services.domain.registry import IpRule, RegistryState


def state(*rules: IpRule) -> RegistryState:
    return RegistryState(name="contoso", login_server="contoso.azurecr.io", ip_rules=rules)


@pytest.mark.parametrize(
    ("rule", "ip", "covered"),
    [
        ("1.2.3.4", "1.2.3.4", True),
        ("1.2.3.4/32", "1.2.3.4", True),
        (" 1.2.3.4 ", "1.2.3.4", True),
        ("1.2.3.4", "1.2.3.45", False),
        ("1.2.3.0/24", "1.2.3.45", True),
        ("1.2.3.0/24", "1.2.4.1", False),
        # A host address written with a prefix is the network the registry applies.
        ("1.2.3.7/30", "1.2.3.4", True),
        ("1.2.3.4", "::ffff:1.2.3.4", False),
    ],
)
def test_rules_cover_addresses_as_networks(rule: str, ip: str, covered: bool) -> None:
    found = state(IpRule(value=rule)).rule_covering(ipaddress.ip_address(ip))
    assert (found is not None) is covered
    if covered:
        assert found == IpRule(value=rule)


def test_first_matching_allow_rule_wins_and_others_are_skipped() -> None:
    s = state(
        IpRule(value="1.2.3.4", action="Deny"),
        IpRule(value="not an ip"),
        IpRule(value="1.2.0.0/16"),
        IpRule(value="1.2.3.4"),
    )
    assert s.rule_covering(ipaddress.ip_address("1.2.3.4")) == IpRule(value="1.2.0.0/16")


def test_az_cli_and_arm_rest_snapshots_read_the_same() -> None:
    cli = {
        "name": "Contoso",
        "loginServer": "Contoso.azurecr.io",
        "sku": {"name": "Premium", "tier": "Premium"},
        "publicNetworkAccess": "Enabled",
        "networkRuleSet": {
            "defaultAction": "Deny",
            "ipRules": [{"action": "Allow", "ipAddressOrRange": "1.2.3.4"}],
        },
        "privateEndpointConnections": [{"id": "pe1"}],
        "zoneRedundancy": "Disabled",
    }
    rest = {
        "name": "Contoso",
        "sku": {"name": "Premium", "tier": "Premium"},
        "properties": {
            "loginServer": "contoso.azurecr.io",
            "publicNetworkAccess": "Enabled",
            "networkRuleSet": {
                "defaultAction": "Deny",
                "ipRules": [{"action": "Allow", "value": "1.2.3.4"}],
            },
            "privateEndpointConnections": [{"id": "pe1"}],
            "zoneRedundancy": "Disabled",
        },
    }
    a, b = RegistryState.from_json(cli), RegistryState.from_json(rest)
    assert a.login_server == b.login_server == "contoso.azurecr.io"
    assert a.ip_rules == b.ip_rules == (IpRule(value="1.2.3.4"),)
    assert a.is_premium
    assert not a.firewall_open
    assert a.private_endpoint_count == 1
    assert a.extra["zoneRedundancy"] == b.extra["zoneRedundancy"] == "Disabled"


def test_a_registry_without_network_rules_is_open() -> None:
    s = RegistryState.from_json({"name": "basicreg", "sku": {"name": "Basic"}})
    assert s.login_server == "basicreg.azurecr.io"
    assert s.firewall_open
    assert not s.is_premium


@pytest.mark.parametrize("doc", [{}, {"sku": {"name": "Premium"}}, []])
def test_a_document_that_is_not_a_registry_is_refused(doc: object) -> None:
    with pytest.raises(ValueError, match=r"registry|JSON object"):
        RegistryState.from_json(doc)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "exact"),
    [
        ({"value": "1.2.3.4"}, True),
        ({"value": "1.2.3.4/32", "action": "Allow"}, True),
        ({"ipAddressOrRange": " 1.2.3.4 "}, True),
        ({"value": "1.2.3.0/24"}, False),
        ({"value": "1.2.3.45"}, False),
        ({"value": "garbage"}, False),
    ],
)
def test_a_rule_is_exactly_one_address_only_as_a_host_network(
    raw: dict[str, str], exact: bool
) -> None:
    assert IpRule.from_raw(raw).is_exactly(ipaddress.IPv4Address("1.2.3.4")) is exact


def test_a_deny_or_unreadable_rule_covers_nothing() -> None:
    ip = ipaddress.IPv4Address("1.2.3.4")
    assert IpRule(value="1.2.3.0/24").covers(ip)
    assert not IpRule(value="1.2.3.0/24", action="Deny").covers(ip)
    assert not IpRule(value="1.2.3.x").covers(ip)
