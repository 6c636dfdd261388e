from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.diagnosis.known_ips import KnownIps, KnownIpsError
from services.diagnosis.service_tags import ServiceTagIndex
from services.diagnosis.verdicts import RETRY_AFTER_MINUTES, Diagnosis, Verdict, diagnose
from services.domain.failure import Client, FailureKind, PullFailure
from services.domain.registry import RegistryState

PROD = "contosoprod.azurecr.io"


def _registry(**overrides: Any) -> RegistryState:
    doc: dict[str, Any] = {
        "name": "contosoprod",
        "loginServer": PROD,
        "sku": {"name": "Premium"},
        "publicNetworkAccess": "Enabled",
        "networkRuleBypassOptions": "AzureServices",
        "networkRuleBypassAllowedForTasks": False,
        "networkRuleSet": {
            "defaultAction": "Deny",
            "ipRules": [
                {"action": "Allow", "ipAddressOrRange": "85.214.10.0/24"},
                {"action": "Allow", "ipAddressOrRange": "1.2.3.4"},
            ],
        },
    }
    doc.update(overrides)
    return RegistryState.from_json(doc)


def _failure(*ips: str, **fields: Any) -> PullFailure:
    fields.setdefault("kind", FailureKind.IP_DENIED)
    fields.setdefault("registry", PROD)
    return PullFailure(ips=tuple(ipaddress.ip_address(ip) for ip in ips), **fields)


TAGS = ServiceTagIndex.from_json(
    {
        "values": [
            {"name": "AzureCloud", "properties": {"addressPrefixes": ["20.0.0.0/8"]}},
            {
                "name": "AzureCloud.westeurope",
                "properties": {"region": "westeurope", "addressPrefixes": ["20.103.0.0/16"]},
            },
            {
                "name": "AzureContainerApps.WestEurope",
                "properties": {
                    "region": "westeurope",
                    "systemService": "AzureContainerApps",
                    "addressPrefixes": ["20.103.176.0/20"],
                },
            },
        ]
    }
)
KNOWN = {"4.175.12.34": "NAT gateway ng-aks-prod", "193.17.128.0/24": "Head office"}


def _diagnose(failure: PullFailure, *registries: RegistryState) -> Diagnosis:
    return diagnose(failure, registries=registries, known_ips=KNOWN, service_tags=TAGS)


def test_public_ip_not_covered_is_eligible_for_a_grant() -> None:
    d = _diagnose(_failure("91.38.188.165"), _registry())
    assert d.verdict is Verdict.IP_NOT_ALLOWED
    assert d.grant_eligible is True
    assert d.grant_ip == ipaddress.IPv4Address("91.38.188.165")
    assert d.facts.registry_name == "contosoprod"
    assert d.facts.grant_refusal is None
    assert "temporary" in d.recommendation
    assert "NAT gateway" in d.recommendation


def test_ip_covered_by_a_cidr_rule_is_already_allowed() -> None:
    d = _diagnose(_failure("85.214.10.20"), _registry())
    assert d.verdict is Verdict.ALREADY_ALLOWED
    assert d.facts.matched_rule == "85.214.10.0/24"
    assert d.facts.retry_after_minutes == RETRY_AFTER_MINUTES
    assert f"{RETRY_AFTER_MINUTES} minutes" in d.recommendation
    assert d.grant_eligible is False


def test_rules_are_compared_as_networks_not_strings() -> None:
    assert _diagnose(_failure("1.2.3.4"), _registry()).verdict is Verdict.ALREADY_ALLOWED
    # 1.2.3.45 starts with the string "1.2.3.4" but is not covered by it.
    assert _diagnose(_failure("1.2.3.45"), _registry()).verdict is Verdict.IP_NOT_ALLOWED


def test_already_allowed_mentions_data_endpoints_when_enabled() -> None:
    reg = _registry(
        dataEndpointEnabled=True, dataEndpointHostNames=["contosoprod.westeurope.data.azurecr.io"]
    )
    d = _diagnose(_failure("85.214.10.20"), reg)
    assert "contosoprod.westeurope.data.azurecr.io" in d.recommendation


def test_first_ip_not_allowed_is_the_subject_and_the_rest_are_listed() -> None:
    d = _diagnose(_failure("85.214.10.20", "91.38.188.165"), _registry())
    assert d.verdict is Verdict.IP_NOT_ALLOWED
    assert d.facts.ip == ipaddress.ip_address("91.38.188.165")
    assert d.facts.other_ips == (ipaddress.ip_address("85.214.10.20"),)
    assert d.facts.allowed_ips == (ipaddress.ip_address("85.214.10.20"),)


def test_all_ips_allowed_reports_the_first() -> None:
    d = _diagnose(_failure("85.214.10.20", "1.2.3.4"), _registry())
    assert d.verdict is Verdict.ALREADY_ALLOWED
    assert d.facts.ip == ipaddress.ip_address("85.214.10.20")


def test_known_gateway_wins_over_azure_tag_and_is_not_granted() -> None:
    tags = ServiceTagIndex.from_json(
        {"values": [{"name": "AzureCloud", "properties": {"addressPrefixes": ["4.0.0.0/8"]}}]}
    )
    d = diagnose(
        _failure("4.175.12.34"), registries=[_registry()], known_ips=KNOWN, service_tags=tags
    )
    assert d.verdict is Verdict.KNOWN_GATEWAY_NOT_ALLOWED
    assert d.facts.gateway_label == "NAT gateway ng-aks-prod"
    assert d.facts.gateway_network == "4.175.12.34/32"
    assert d.grant_eligible is False
    assert "permanent" in d.recommendation


def test_known_ips_prefer_the_most_specific_network() -> None:
    known = KnownIps({"193.17.128.0/24": "office", "193.17.128.64/27": "build lab"})
    hit = known.lookup(ipaddress.IPv4Address("193.17.128.70"))
    assert hit is not None
    assert hit.label == "build lab"
    hit = known.lookup(ipaddress.IPv4Address("193.17.128.10"))
    assert hit is not None
    assert hit.label == "office"
    assert known.lookup(ipaddress.IPv4Address("193.17.129.1")) is None


def test_bad_known_ip_is_a_clear_error() -> None:
    with pytest.raises(KnownIpsError, match="not an IP address or CIDR"):
        diagnose(_failure("91.38.188.165"), known_ips={"10.0.0.300": "bad"})


def test_azure_ip_names_the_most_specific_tag_and_gives_container_apps_advice() -> None:
    d = _diagnose(_failure("20.103.186.69", client=Client.CONTAINER_APPS), _registry())
    assert d.verdict is Verdict.AZURE_SERVICE_IP
    assert d.facts.service_tags == (
        "AzureContainerApps.WestEurope",
        "AzureCloud.westeurope",
        "AzureCloud",
    )
    assert d.facts.service_tag_service == "AzureContainerApps"
    assert d.facts.service_tag_region == "westeurope"
    assert d.grant_eligible is False
    assert "NAT gateway" in d.recommendation
    assert "trusted-services bypass is AzureServices" in d.recommendation


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        (Client.CI, "self-hosted runner"),
        (Client.ACR_TASKS, "networkRuleBypassAllowedForTasks"),
        (Client.CONTAINER_INSTANCES, "managed identity"),
        (Client.APP_SERVICE, "VNet integration"),
    ],
)
def test_azure_ip_advice_depends_on_the_client(client: Client, expected: str) -> None:
    d = _diagnose(_failure("20.42.15.201", client=client), _registry())
    assert d.verdict is Verdict.AZURE_SERVICE_IP
    assert expected in d.recommendation


@pytest.mark.parametrize(
    "ip",
    ["10.240.0.17", "192.168.1.5", "172.16.0.1", "100.64.1.2", "127.0.0.1", "169.254.1.1",
     "0.0.0.0", "224.0.0.1", "240.0.0.1"],
)  # fmt: skip
def test_non_public_addresses_are_private_ip(ip: str) -> None:
    d = _diagnose(_failure(ip), _registry())
    assert d.verdict is Verdict.PRIVATE_IP
    assert d.grant_eligible is False
    assert "privatelink" in d.recommendation


def test_ipv6_is_not_supported() -> None:
    d = _diagnose(_failure("2a02:8071:5e1:a00::1"), _registry())
    assert d.verdict is Verdict.IPV6_NOT_SUPPORTED
    assert "IPv4" in d.recommendation
    assert d.grant_eligible is False


def test_redacted_ip_asks_for_the_original() -> None:
    d = _diagnose(_failure(ip_redacted=True), _registry())
    assert d.verdict is Verdict.IP_REDACTED
    assert d.facts.ip is None
    assert "redacted" in d.summary


def test_not_a_firewall_error_points_at_auth() -> None:
    d = _diagnose(_failure(kind=FailureKind.NOT_FIREWALL), _registry())
    assert d.verdict is Verdict.NOT_A_FIREWALL_ERROR
    assert "AcrPull" in d.recommendation
    assert "az acr login" in d.recommendation


def test_not_firewall_wins_even_with_an_ip_in_the_paste() -> None:
    d = _diagnose(_failure("91.38.188.165", kind=FailureKind.NOT_FIREWALL), _registry())
    assert d.verdict is Verdict.NOT_A_FIREWALL_ERROR


def test_unrecognized_says_what_to_paste() -> None:
    d = _diagnose(PullFailure(kind=FailureKind.UNRECOGNIZED))
    assert d.verdict is Verdict.UNRECOGNIZED
    assert "Paste the full error" in d.recommendation


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        (Client.CONTAINER_APPS, "outboundIpAddresses"),
        (Client.CONTAINER_INSTANCES, "AzureServices"),
        (Client.KUBELET, "anonymous token"),
        (Client.CONTAINERD, "permanent rule"),
        (Client.UNKNOWN, "`docker pull`"),
    ],
)
def test_firewall_suspected_without_ip_explains_how_to_find_it(
    client: Client, expected: str
) -> None:
    d = _diagnose(_failure(kind=FailureKind.FIREWALL_SUSPECTED, client=client), _registry())
    assert d.verdict is Verdict.NO_IP_IN_ERROR
    assert expected in d.recommendation
    assert d.grant_eligible is False


def test_no_ip_on_a_registry_with_public_access_disabled_blames_public_access() -> None:
    reg = _registry(publicNetworkAccess="Disabled")
    d = _diagnose(_failure(kind=FailureKind.FIREWALL_SUSPECTED), reg)
    assert d.verdict is Verdict.PUBLIC_ACCESS_DISABLED


def test_registry_unknown_lists_the_known_ones() -> None:
    d = _diagnose(_failure("91.38.188.165", registry="fabrikam.azurecr.io"), _registry())
    assert d.verdict is Verdict.REGISTRY_UNKNOWN
    assert d.facts.login_server == "fabrikam.azurecr.io"
    assert d.facts.known_registries == (PROD,)
    assert PROD in d.recommendation
    assert d.grant_eligible is False


def test_private_ip_is_reported_before_an_unknown_registry() -> None:
    d = _diagnose(_failure("10.0.0.4", registry="fabrikam.azurecr.io"), _registry())
    assert d.verdict is Verdict.PRIVATE_IP


def test_public_access_disabled_beats_rules() -> None:
    d = _diagnose(_failure("85.214.10.20"), _registry(publicNetworkAccess="Disabled"))
    assert d.verdict is Verdict.PUBLIC_ACCESS_DISABLED
    assert "private endpoint" in d.recommendation
    assert d.grant_eligible is False


def test_default_action_allow_is_firewall_open() -> None:
    reg = _registry(networkRuleSet={"defaultAction": "Allow", "ipRules": []})
    d = _diagnose(_failure("91.38.188.165"), reg)
    assert d.verdict is Verdict.FIREWALL_OPEN
    assert d.grant_eligible is False


def test_standard_sku_without_network_rules_is_firewall_open() -> None:
    reg = RegistryState.from_json({"name": "contosoprod", "sku": {"name": "Standard"}})
    d = _diagnose(_failure("91.38.188.165"), reg)
    assert d.verdict is Verdict.FIREWALL_OPEN
    assert "Standard" in d.summary


def test_full_quota_is_reported_with_used_and_limit() -> None:
    rules = [{"action": "Allow", "value": f"145.40.0.{i}"} for i in range(100)]
    reg = _registry(networkRuleSet={"defaultAction": "Deny", "ipRules": rules})
    d = _diagnose(_failure("62.96.77.14"), reg)
    assert d.verdict is Verdict.RULE_QUOTA_FULL
    assert (d.facts.quota_used, d.facts.quota_limit) == (100, 100)
    assert "100 of its 100" in d.recommendation
    assert d.grant_eligible is False


def test_quota_with_one_slot_left_still_allows_a_grant() -> None:
    rules = [{"action": "Allow", "value": f"145.40.0.{i}"} for i in range(99)]
    reg = _registry(networkRuleSet={"defaultAction": "Deny", "ipRules": rules})
    d = _diagnose(_failure("62.96.77.14"), reg)
    assert d.verdict is Verdict.IP_NOT_ALLOWED
    assert d.grant_eligible is True


def test_without_snapshots_the_paste_alone_decides() -> None:
    d = diagnose(_failure("91.38.188.165"))
    assert d.verdict is Verdict.IP_NOT_ALLOWED
    assert d.grant_eligible is True
    assert d.facts.registry_name is None
    assert d.facts.login_server == PROD
    assert diagnose(_failure("20.103.1.1"), service_tags=TAGS).verdict is Verdict.AZURE_SERVICE_IP
    assert (
        diagnose(_failure("4.175.12.34"), known_ips=KNOWN).verdict
        is Verdict.KNOWN_GATEWAY_NOT_ALLOWED
    )


def test_unnamed_registry_uses_the_only_snapshot() -> None:
    d = _diagnose(_failure("85.214.10.20", registry=None, registry_redacted=True), _registry())
    assert d.verdict is Verdict.ALREADY_ALLOWED
    assert d.facts.registry_assumed is True


def test_unnamed_registry_among_several_snapshots_is_not_granted() -> None:
    other = _registry(name="contosodev", loginServer="contosodev.azurecr.io")
    d = _diagnose(_failure("91.38.188.165", registry=None), _registry(), other)
    assert d.verdict is Verdict.IP_NOT_ALLOWED
    assert d.grant_eligible is False
    assert d.facts.grant_refusal is not None
    assert "which registry" in d.facts.grant_refusal


def test_registry_matched_by_data_endpoint_host() -> None:
    reg = _registry(dataEndpointHostNames=["contosoprod.westeurope.data.azurecr.io"])
    d = _diagnose(_failure("91.38.188.165", registry="contosoprod.westeurope.data.azurecr.io"), reg)
    assert d.facts.registry_name == "contosoprod"


def test_custom_domain_adds_the_gateway_note() -> None:
    d = _diagnose(_failure("91.38.188.165", custom_domain="cr.contoso.cloud"), _registry())
    assert d.verdict is Verdict.IP_NOT_ALLOWED
    assert "cr.contoso.cloud" in d.recommendation
    assert "X-Forwarded-For" in d.recommendation


def test_unmapped_custom_domain_is_an_unknown_registry_when_snapshots_exist() -> None:
    failure = _failure("91.38.188.165", registry=None, custom_domain="cr.fabrikam.cloud")
    d = _diagnose(failure, _registry())
    assert d.verdict is Verdict.REGISTRY_UNKNOWN
    assert d.facts.login_server == "cr.fabrikam.cloud"


def test_diagnosis_serialises_to_json() -> None:
    d = _diagnose(_failure("91.38.188.165"), _registry())
    data = d.model_dump(mode="json")
    assert data["verdict"] == "ip_not_allowed"
    assert data["grant_ip"] == "91.38.188.165"
    assert data["facts"]["ip"] == "91.38.188.165"


_any_ip = st.one_of(
    st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address),
    st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address),
    st.sampled_from(["85.214.10.20", "20.103.186.69", "4.175.12.34", "100.64.0.1", "1.2.3.4"]).map(
        ipaddress.ip_address
    ),
)
_rule = st.builds(
    lambda a, plen: str(ipaddress.IPv4Network((a, plen), strict=False)),
    st.integers(0, 2**32 - 1),
    st.integers(8, 32),
)


@settings(max_examples=300, deadline=None)
@given(
    ips=st.lists(_any_ip, min_size=1, max_size=3, unique=True),
    rules=st.lists(_rule, max_size=10),
    with_registry=st.booleans(),
)
def test_a_grant_is_only_ever_offered_for_an_uncovered_public_ipv4(
    ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address], rules: list[str], with_registry: bool
) -> None:
    reg = _registry(
        networkRuleSet={"defaultAction": "Deny", "ipRules": [{"value": r} for r in rules]}
    )
    failure = PullFailure(kind=FailureKind.IP_DENIED, ips=tuple(ips), registry=PROD)
    d = _diagnose(failure, *([reg] if with_registry else []))
    assert d.facts.ip in ips
    if not d.grant_eligible:
        assert d.grant_ip is None
        assert d.facts.grant_refusal
        return
    ip = d.grant_ip
    assert isinstance(ip, ipaddress.IPv4Address)
    assert ip == d.facts.ip
    assert ip.is_global
    assert d.verdict is Verdict.IP_NOT_ALLOWED
    assert not TAGS.lookup(ip)
    assert KnownIps(KNOWN).lookup(ip) is None
    if with_registry:
        assert reg.rule_covering(ip) is None
