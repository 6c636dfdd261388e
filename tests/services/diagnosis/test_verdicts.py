from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.diagnosis.known_ips import KnownIps, KnownIpsError
from services.diagnosis.service_tags import ServiceTagIndex
from services.diagnosis.verdicts import (
    RETRY_AFTER_MINUTES,
    AzureEgress,
    Diagnosis,
    DiagnosisFacts,
    Verdict,
    diagnose,
)
from services.domain.failure import (
    Client,
    FailureKind,
    FirewallHint,
    NotFirewallCause,
    PullFailure,
)
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
    assert "temporary" in "\n".join(d.steps)
    assert "NAT gateway" in "\n".join(d.steps)


def test_ip_covered_by_a_cidr_rule_is_already_allowed() -> None:
    d = _diagnose(_failure("85.214.10.20"), _registry())
    assert d.verdict is Verdict.ALREADY_ALLOWED
    assert d.facts.matched_rule == "85.214.10.0/24"
    assert d.facts.retry_after_minutes == RETRY_AFTER_MINUTES
    assert f"{RETRY_AFTER_MINUTES} minutes" in "\n".join(d.steps)
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
    assert "contosoprod.westeurope.data.azurecr.io" in "\n".join(d.steps)


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
    assert "permanent" in "\n".join(d.steps)


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
    assert "NAT gateway" in "\n".join(d.steps)
    assert "trusted-services bypass is AzureServices" in "\n".join(d.steps)


def test_the_seed_case_container_apps_on_azure_space_is_offered_a_rule_with_a_warning() -> None:
    d = _diagnose(_failure("20.103.186.69", client=Client.CONTAINER_APPS), _registry())
    assert d.verdict is Verdict.AZURE_SERVICE_IP
    assert d.grant_eligible is True
    assert d.grant_ip == ipaddress.IPv4Address("20.103.186.69")
    assert d.facts.azure_egress is AzureEgress.STAYS_WITH_RESOURCE
    assert d.facts.grant_refusal is None
    assert d.grant_warning is not None
    assert "Azure-owned" in d.grant_warning
    assert "shared" in d.grant_warning
    assert "NAT gateway" in d.grant_warning
    assert "temporary allow rule for 20.103.186.69" in d.steps[0]


@pytest.mark.parametrize(
    "client", [Client.CONTAINER_INSTANCES, Client.APP_SERVICE, Client.KUBELET, Client.CONTAINERD]
)
def test_azure_egress_that_stays_with_its_resource_is_offered_a_rule(client: Client) -> None:
    d = _diagnose(_failure("20.42.15.201", client=client), _registry())
    assert d.verdict is Verdict.AZURE_SERVICE_IP
    assert d.facts.azure_egress is AzureEgress.STAYS_WITH_RESOURCE
    assert d.grant_eligible is True
    assert d.grant_warning


def test_a_service_tag_names_the_service_when_the_paste_does_not() -> None:
    d = _diagnose(_failure("20.103.186.69"), _registry())
    assert d.facts.azure_egress is AzureEgress.STAYS_WITH_RESOURCE
    assert d.grant_eligible is True


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"client": Client.CI}, "every run"),
        ({"client": Client.DOCKER, "ci_log": True}, "every run"),
        ({"client": Client.ACR_TASKS}, "tasks bypass"),
        ({"client": Client.ACR_IMPORT}, "trusted-services"),
    ],
)
def test_azure_addresses_that_change_every_run_get_no_rule(
    fields: dict[str, Any], reason: str
) -> None:
    d = _diagnose(_failure("20.42.15.201", **fields), _registry())
    assert d.verdict is Verdict.AZURE_SERVICE_IP
    assert d.facts.azure_egress is AzureEgress.CHANGES_PER_RUN
    assert d.grant_eligible is False
    assert d.grant_warning is None
    assert d.facts.grant_refusal is not None
    assert reason in d.facts.grant_refusal
    assert d.steps[-1].startswith("The bot will not offer a temporary rule")


@pytest.mark.parametrize("client", [Client.UNKNOWN, Client.DOCKER, Client.PODMAN])
def test_generic_azure_space_without_a_named_service_gets_no_rule(client: Client) -> None:
    d = _diagnose(_failure("20.42.15.201", client=client), _registry())
    assert d.facts.azure_egress is AzureEgress.UNKNOWN
    assert d.grant_eligible is False
    assert d.facts.grant_refusal is not None
    assert "which Azure service" in d.facts.grant_refusal


def test_a_registry_policy_can_refuse_azure_owned_addresses() -> None:
    failure = _failure("20.103.186.69", client=Client.CONTAINER_APPS)
    d = diagnose(
        failure,
        registries=[_registry()],
        service_tags=TAGS,
        refuse_azure_ips=frozenset({"ContosoProd.azurecr.io"}),
    )
    assert d.verdict is Verdict.AZURE_SERVICE_IP
    assert d.grant_eligible is False
    assert d.facts.azure_ips_refused_by_policy is True
    assert d.facts.grant_refusal is not None
    assert "policy" in d.facts.grant_refusal
    # Another registry's policy does not apply.
    other = diagnose(
        failure,
        registries=[_registry()],
        service_tags=TAGS,
        refuse_azure_ips=frozenset({"contosodev.azurecr.io"}),
    )
    assert other.grant_eligible is True


def test_an_azure_rule_still_needs_room_and_a_premium_registry() -> None:
    rules = [{"action": "Allow", "value": f"145.40.0.{i}"} for i in range(100)]
    full = _registry(networkRuleSet={"defaultAction": "Deny", "ipRules": rules})
    d = _diagnose(_failure("20.103.186.69", client=Client.CONTAINER_APPS), full)
    assert d.verdict is Verdict.AZURE_SERVICE_IP
    assert d.grant_eligible is False
    assert d.facts.grant_refusal is not None
    assert "quota" in d.facts.grant_refusal


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
    assert expected in "\n".join(d.steps)


@pytest.mark.parametrize(
    "ip",
    ["10.240.0.17", "192.168.1.5", "172.16.0.1", "100.64.1.2", "127.0.0.1", "169.254.1.1",
     "0.0.0.0", "224.0.0.1", "240.0.0.1"],
)  # fmt: skip
def test_non_public_addresses_are_private_ip(ip: str) -> None:
    d = _diagnose(_failure(ip), _registry())
    assert d.verdict is Verdict.PRIVATE_IP
    assert d.grant_eligible is False
    assert "privatelink" in "\n".join(d.steps)


def test_ipv6_is_not_supported() -> None:
    d = _diagnose(_failure("2a02:8071:5e1:a00::1"), _registry())
    assert d.verdict is Verdict.IPV6_NOT_SUPPORTED
    assert "IPv4" in "\n".join(d.steps)
    assert d.grant_eligible is False


def test_redacted_ip_asks_for_the_original() -> None:
    d = _diagnose(_failure(ip_redacted=True), _registry())
    assert d.verdict is Verdict.IP_REDACTED
    assert d.facts.ip is None
    assert "redacted" in d.summary


def test_not_a_firewall_error_points_at_auth() -> None:
    d = _diagnose(_failure(kind=FailureKind.NOT_FIREWALL), _registry())
    assert d.verdict is Verdict.NOT_A_FIREWALL_ERROR
    assert "AcrPull" in "\n".join(d.steps)
    assert "az acr login" in "\n".join(d.steps)


def test_not_firewall_wins_even_with_an_ip_in_the_paste() -> None:
    d = _diagnose(_failure("91.38.188.165", kind=FailureKind.NOT_FIREWALL), _registry())
    assert d.verdict is Verdict.NOT_A_FIREWALL_ERROR


def test_unrecognized_says_what_to_paste() -> None:
    d = _diagnose(PullFailure(kind=FailureKind.UNRECOGNIZED))
    assert d.verdict is Verdict.UNRECOGNIZED
    assert "Paste the full error" in "\n".join(d.steps)


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
    assert expected in "\n".join(d.steps)
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
    assert PROD in "\n".join(d.steps)
    assert d.grant_eligible is False


def test_private_ip_is_reported_before_an_unknown_registry() -> None:
    d = _diagnose(_failure("10.0.0.4", registry="fabrikam.azurecr.io"), _registry())
    assert d.verdict is Verdict.PRIVATE_IP


def test_public_access_disabled_beats_rules() -> None:
    d = _diagnose(_failure("85.214.10.20"), _registry(publicNetworkAccess="Disabled"))
    assert d.verdict is Verdict.PUBLIC_ACCESS_DISABLED
    assert "private endpoint" in "\n".join(d.steps)
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
    assert "100 of its 100" in "\n".join(d.steps)
    assert d.grant_eligible is False


def test_quota_with_one_slot_left_still_allows_a_grant() -> None:
    rules = [{"action": "Allow", "value": f"145.40.0.{i}"} for i in range(99)]
    reg = _registry(networkRuleSet={"defaultAction": "Deny", "ipRules": rules})
    d = _diagnose(_failure("62.96.77.14"), reg)
    assert d.verdict is Verdict.IP_NOT_ALLOWED
    assert d.grant_eligible is True


def test_without_snapshots_the_paste_alone_decides() -> None:
    d = diagnose(_failure("91.38.188.165"), service_tags=TAGS)
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
    assert "cr.contoso.cloud" in "\n".join(d.steps)
    assert "X-Forwarded-For" in "\n".join(d.steps)


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
        assert d.grant_warning is None
        assert d.facts.grant_refusal
        return
    ip = d.grant_ip
    assert isinstance(ip, ipaddress.IPv4Address)
    assert ip == d.facts.ip
    assert ip.is_global
    assert KnownIps(KNOWN).lookup(ip) is None
    if with_registry:
        assert reg.rule_covering(ip) is None
    if TAGS.lookup(ip):
        # Azure-owned: only when its service keeps the address, and always with the warning.
        assert d.verdict is Verdict.AZURE_SERVICE_IP
        assert d.facts.azure_egress is AzureEgress.STAYS_WITH_RESOURCE
        assert d.grant_warning
    else:
        assert d.verdict is Verdict.IP_NOT_ALLOWED
        assert d.grant_warning is None


@pytest.mark.parametrize(
    ("cause", "summary", "step"),
    [
        (
            NotFirewallCause.AUTHENTICATION,
            "asked for credentials",
            "az acr login --name contosoprod",
        ),
        (NotFirewallCause.PERMISSION, "may not do this", "--role AcrPull"),
        (NotFirewallCause.NOT_FOUND, "does not exist", "az acr repository show-tags"),
        (NotFirewallCause.STORAGE, "storage", "az acr show-endpoints --name contosoprod"),
        (NotFirewallCause.DNS, "could not resolve", "nslookup contosoprod.azurecr.io"),
        (NotFirewallCause.TLS, "certificate check failed", "root CA"),
        (NotFirewallCause.RATE_LIMITED, "throttled", "az acr cache create --registry contosoprod"),
        (NotFirewallCause.SERVER_ERROR, "server error", "az acr check-health --name contosoprod"),
        (NotFirewallCause.NOT_FROM_REGISTRY, "did not come from the registry", "WWW-Authenticate"),
        (NotFirewallCause.CONNECTIVITY, "timed out, was reset", "curl -sv https://contosoprod"),
        (NotFirewallCause.PRIVATE_ENDPOINT, "private address", "private-endpoint-connection list"),
        (NotFirewallCause.LOCAL_TOOL, "not a registry error", "daemon"),
    ],
)
def test_each_cause_that_is_not_the_firewall_gets_its_own_advice(
    cause: NotFirewallCause, summary: str, step: str
) -> None:
    d = _diagnose(_failure(kind=FailureKind.NOT_FIREWALL, cause=cause), _registry())
    assert d.verdict is Verdict.NOT_A_FIREWALL_ERROR
    assert d.facts.cause is cause
    assert summary in d.summary
    assert step in "\n".join(d.steps)
    assert d.grant_eligible is False


def test_dns_for_a_private_link_name_points_at_the_private_zone_and_its_vnet_link() -> None:
    failure = _failure(
        kind=FailureKind.NOT_FIREWALL,
        cause=NotFirewallCause.DNS,
        endpoint="contosoprod.westeurope.data.azurecr.io",
    )
    steps = "\n".join(_diagnose(failure, _registry()).steps)
    assert "privatelink.azurecr.io" in steps
    assert "linked to the client's VNet" in steps
    plain = _failure(kind=FailureKind.NOT_FIREWALL, cause=NotFirewallCause.DNS)
    assert "privatelink.azurecr.io" not in "\n".join(_diagnose(plain, _registry()).steps)


def test_tls_on_the_private_link_name_says_to_use_the_login_server() -> None:
    failure = _failure(
        kind=FailureKind.NOT_FIREWALL,
        cause=NotFirewallCause.TLS,
        endpoint="contosoprod.privatelink.azurecr.io",
    )
    first = _diagnose(failure, _registry()).steps[0]
    assert "`contosoprod.azurecr.io`, not `contosoprod.privatelink.azurecr.io`" in first


def test_a_private_endpoint_timeout_names_the_address_dialled() -> None:
    failure = _failure(
        kind=FailureKind.NOT_FIREWALL,
        cause=NotFirewallCause.PRIVATE_ENDPOINT,
        remote_ip=ipaddress.ip_address("10.201.3.5"),
    )
    assert "10.201.3.5" in _diagnose(failure, _registry()).summary


@pytest.mark.parametrize(
    ("hint", "client", "other_cause"),
    [
        (FirewallHint.INACCESSIBLE_IMAGE, Client.CONTAINER_INSTANCES, "az role assignment list"),
        (FirewallHint.MANAGED_IDENTITY_PULL, Client.CONTAINER_APPS, "AcrPull"),
        (FirewallHint.REGISTRY_ACCESS_DENIED, Client.ACR_IMPORT, "--allow-trusted-services"),
        (FirewallHint.CHALLENGE, Client.AZ_CLI, "404 or HTML is not the registry"),
        (FirewallHint.REFRESH_TOKEN, Client.AZ_CLI, "publicNetworkAccess"),
        (FirewallHint.FORBIDDEN, Client.AZ_CLI, "publicNetworkAccess"),
        (FirewallHint.APP_SERVICE_DENIED, Client.APP_SERVICE, "vnetImagePullEnabled"),
        (FirewallHint.ANONYMOUS_TOKEN, Client.KUBELET, "gives a 401 instead"),
        (FirewallHint.SENTENCE_CUT, Client.DOCKER, "Paste the whole line"),
        (FirewallHint.STATUS_403, Client.UNKNOWN, "A proxy or a gateway"),
    ],
)
def test_a_refusal_without_an_ip_names_the_other_likely_cause_and_how_to_tell(
    hint: FirewallHint, client: Client, other_cause: str
) -> None:
    failure = _failure(kind=FailureKind.FIREWALL_SUSPECTED, hint=hint, client=client)
    d = _diagnose(failure, _registry())
    assert d.verdict is Verdict.NO_IP_IN_ERROR
    assert d.facts.hint is hint
    assert other_cause in "\n".join(d.steps)


def test_facts_refuse_a_field_that_does_not_exist() -> None:
    with pytest.raises(ValueError, match="matched_rul"):
        DiagnosisFacts.model_validate({"matched_rul": "1.2.3.4"})


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(list(FailureKind)),
    cause=st.none() | st.sampled_from(list(NotFirewallCause)),
    hint=st.none() | st.sampled_from(list(FirewallHint)),
    client=st.sampled_from(list(Client)),
    ip=_any_ip,
)
def test_every_diagnosis_has_a_summary_and_one_line_steps(
    kind: FailureKind,
    cause: NotFirewallCause | None,
    hint: FirewallHint | None,
    client: Client,
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    ips = (ip,) if kind is FailureKind.IP_DENIED else ()
    failure = PullFailure(kind=kind, ips=ips, cause=cause, hint=hint, client=client)
    d = _diagnose(failure, _registry())
    assert d.summary
    assert d.steps
    assert all(step and "\n" not in step for step in d.steps)
    assert d.grant_eligible is (d.grant_ip is not None)


@pytest.mark.parametrize(
    ("ip", "tags", "problem", "why"),
    [
        ("20.103.1.1", None, None, "no copy of Azure's service tags"),
        ("91.38.188.165", "stale", "its copy of Azure's service tags is 12 days old", "12 days"),
    ],
)
def test_without_trusted_service_tags_no_rule_is_offered_for_a_public_address(
    ip, tags, problem, why
) -> None:
    # Defect 6 (security): with no index loaded, a hosted runner's Azure address fell through to
    # the grantable path. Fail closed: the bot cannot tell it from Azure's, so it offers nothing.
    d = diagnose(
        _failure(ip),
        service_tags=TAGS if tags else None,
        tags_problem=problem,
    )
    assert d.verdict is Verdict.IP_NOT_ALLOWED
    assert d.grant_eligible is False
    assert why in (d.facts.grant_refusal or "")
    assert any("refresh-service-tags" in step for step in d.steps)
