"""`ArmRegistryRules` through the real azure-mgmt-containerregistry SDK, over HTTPS, against the
loopback ARM emulator; the per-registry lock is a real blob lease on Azurite."""

from __future__ import annotations

import copy
import ipaddress
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from sandbox.arm_emulator import ArmEmulator
from services.clock import FrozenClock
from services.domain.errors import (
    ArmError,
    ArmUnavailable,
    Ipv6NotSupported,
    NotAnIp,
    NotPremium,
    NotPublicIp,
    PublicAccessDisabled,
    RangeTooBroad,
    RegistryBusy,
    RegistryNotConfigured,
    RegistryNotFound,
    RuleQuotaFull,
    UnsupportedIp,
    VerificationFailed,
)
from services.registry import ArmRegistryRules, ChangeOperation, IpOutcome
from tests.services.registry_fixtures import (
    RESOURCE_GROUP,
    SUBSCRIPTION,
    NoLock,
    arm_settings,
    blob_lock,
    make_rules,
    registry_config,
)

pytestmark = pytest.mark.azurite

REG = "contoso"


@pytest.fixture
def emulator(request: pytest.FixtureRequest) -> Iterator[ArmEmulator]:
    """An emulator; `@pytest.mark.parametrize("emulator", [{...}], indirect=True)` configures it."""
    with ArmEmulator(**getattr(request, "param", {})) as emu:
        yield emu


@pytest.fixture
def lock(emulator: ArmEmulator, azurite_connection_string: str, unique_name: str):
    return blob_lock(azurite_connection_string, unique_name, arm_settings(emulator))


@pytest.fixture
def rules(emulator: ArmEmulator, lock, clock: FrozenClock) -> ArmRegistryRules:
    return make_rules(emulator, [registry_config(REG)], lock=lock, clock=clock)


def seed(emulator: ArmEmulator, *rules: str, **kwargs) -> dict:
    return emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, REG, rules=list(rules), **kwargs)


# -- state ---------------------------------------------------------------------------------------


def test_state_reads_firewall_and_live_quota(emulator: ArmEmulator, rules: ArmRegistryRules):
    seed(emulator, "1.2.3.4", "5.6.7.0/24", ip_rule_limit=10)

    state = rules.state("contoso.azurecr.io")

    assert state.name == REG
    assert state.is_premium
    assert state.default_action == "Deny"
    assert [r.value for r in state.ip_rules] == ["1.2.3.4", "5.6.7.0/24"]
    assert state.network_rule_bypass_options == "AzureServices"
    assert state.network_rule_bypass_allowed_for_tasks is False
    assert (state.ip_rule_quota_used, state.ip_rule_quota_limit) == (2, 10)
    assert emulator.count("list_usages") == 1


def test_state_falls_back_to_100_when_usages_fail(emulator: ArmEmulator, rules):
    seed(emulator, "1.2.3.4")
    emulator.inject("list_usages", status=500, times=4)  # retry_total=3: every attempt fails

    state = rules.state(REG)

    assert state.ip_rule_quota_limit is None
    assert state.rules_limit == 100


def test_state_is_cached_within_ttl_and_refreshed_after(
    emulator: ArmEmulator, rules: ArmRegistryRules, clock: FrozenClock
):
    seed(emulator, "1.2.3.4")
    first = rules.state(REG)
    emulator.add_rule(REG, "9.9.9.9")

    clock.advance(timedelta(seconds=14))
    cached = rules.state(REG)
    clock.advance(timedelta(seconds=1))
    fresh = rules.state(REG)

    assert cached is first
    assert emulator.count("get_registry") == 2
    assert [r.value for r in fresh.ip_rules] == ["1.2.3.4", "9.9.9.9"]


def test_a_write_invalidates_the_cached_state(emulator: ArmEmulator, rules: ArmRegistryRules):
    seed(emulator)
    rules.state(REG)
    rules.allow(REG, "20.103.186.69")

    assert rules.state(REG).rule_covering(ipaddress.ip_address("20.103.186.69"))


# -- allow ---------------------------------------------------------------------------------------


def test_allow_adds_the_rule_and_records_the_change(
    emulator: ArmEmulator, rules: ArmRegistryRules, clock: FrozenClock
):
    seed(emulator, "1.2.3.4")

    change = rules.allow(REG, "20.103.186.69")

    assert emulator.rules(REG) == ["1.2.3.4", "20.103.186.69"]
    assert change.operation is ChangeOperation.ALLOW
    assert change.outcome("20.103.186.69") is IpOutcome.ADDED
    assert [r.value for r in change.rules_before] == ["1.2.3.4"]
    assert [r.value for r in change.rules_after] == ["1.2.3.4", "20.103.186.69"]
    assert change.written
    assert not change.dry_run
    assert change.at == clock.now()
    patch = next(r for r in emulator.requests if r.kind == "patch_registry")
    assert change.correlation_id == patch.headers["x-ms-correlation-request-id"]
    assert change.request_id
    assert change.resource_id.endswith("/registries/contoso")


@pytest.mark.parametrize(
    ("existing", "asked", "covered_by"),
    [
        ("20.103.186.69", "20.103.186.69", None),
        ("20.103.186.69/32", "20.103.186.69", None),
        ("20.103.186.69", "20.103.186.69/32", None),
        ("20.103.186.0/24", "20.103.186.69", "20.103.186.0/24"),
    ],
)
def test_allow_of_a_covered_ip_is_already_present_and_writes_nothing(
    emulator: ArmEmulator, rules: ArmRegistryRules, existing, asked, covered_by
):
    seed(emulator, existing)

    change = rules.allow(REG, asked)

    assert change.outcome("20.103.186.69") is IpOutcome.ALREADY_PRESENT
    assert change.covered_by.get("20.103.186.69") == covered_by
    assert not change.written
    assert emulator.count("patch_registry") == 0
    assert emulator.rules(REG) == [existing]


def test_rules_are_compared_as_networks_not_strings(emulator: ArmEmulator, rules):
    seed(emulator, "1.2.3.4")

    change = rules.allow(REG, "1.2.3.45")

    assert change.outcome("1.2.3.45") is IpOutcome.ADDED
    assert emulator.rules(REG) == ["1.2.3.4", "1.2.3.45"]


@pytest.mark.parametrize("emulator", [{"patch_status": 200}], indirect=True)
def test_allow_works_when_arm_completes_synchronously_with_200(emulator: ArmEmulator, rules):
    seed(emulator)

    change = rules.allow(REG, "20.103.186.69")

    assert change.outcome("20.103.186.69") is IpOutcome.ADDED
    assert emulator.count("operation_status") == 0
    # A 200 only echoes the request, so the rules are read back with a GET.
    assert emulator.count("get_registry") == 2


@pytest.mark.parametrize("emulator", [{"in_progress_polls": 5}], indirect=True)
def test_slow_long_running_operation_is_polled_until_it_succeeds(emulator: ArmEmulator, rules):
    seed(emulator)

    change = rules.allow(REG, "20.103.186.69")

    assert change.written
    assert emulator.count("operation_status") == 6
    assert emulator.registry_json(REG)["properties"]["provisioningState"] == "Succeeded"


# -- remove --------------------------------------------------------------------------------------


def test_remove_deletes_the_rule_in_the_form_the_registry_holds_it(emulator: ArmEmulator, rules):
    seed(emulator, "5.6.7.8", "20.103.186.69/32")

    change = rules.remove(REG, ["20.103.186.69"])

    assert change.outcome("20.103.186.69") is IpOutcome.REMOVED
    assert emulator.rules(REG) == ["5.6.7.8"]
    assert change.operation is ChangeOperation.REMOVE


def test_remove_never_touches_a_broader_range_covering_the_ip(emulator: ArmEmulator, rules):
    seed(emulator, "20.103.186.0/24", "20.103.186.69")

    change = rules.remove(REG, ["20.103.186.69"])

    assert change.outcome("20.103.186.69") is IpOutcome.REMOVED
    assert change.covered_by == {"20.103.186.69": "20.103.186.0/24"}
    assert emulator.rules(REG) == ["20.103.186.0/24"]


def test_remove_of_an_absent_ip_writes_nothing(emulator: ArmEmulator, rules):
    seed(emulator, "20.103.186.0/24")

    change = rules.remove(REG, ["20.103.186.69", "1.2.3.45"])

    assert change.outcomes == {"20.103.186.69": IpOutcome.ABSENT, "1.2.3.45": IpOutcome.ABSENT}
    assert not change.written
    assert emulator.count("patch_registry") == 0


def test_batch_remove_is_one_update_for_many_ips(emulator: ArmEmulator, rules):
    ours = [f"20.0.0.{i}" for i in range(1, 31)]
    seed(emulator, "1.2.3.0/24", *ours, "9.9.9.9")
    emulator.clear_log()

    change = rules.remove(REG, [*ours, "8.8.8.8"])

    assert emulator.rules(REG) == ["1.2.3.0/24", "9.9.9.9"]
    assert all(change.outcome(ip) is IpOutcome.REMOVED for ip in ours)
    assert change.outcome("8.8.8.8") is IpOutcome.ABSENT
    assert emulator.count("patch_registry") == 1
    print(f"\nARM calls for a batch remove of 30 IPs: {emulator.count()}")


def test_arm_calls_for_one_allow(emulator: ArmEmulator, rules):
    seed(emulator, "1.2.3.4")
    emulator.clear_log()

    rules.allow(REG, "20.103.186.69")

    calls = [r.kind for r in emulator.requests]
    assert calls == [
        "get_registry",
        "list_usages",
        "patch_registry",
        "operation_status",
        "operation_status",
        "get_registry",
    ]
    print(f"\nARM calls for one allow: {len(calls)}")


# -- what survives -------------------------------------------------------------------------------


def test_only_ip_rules_change_everything_else_is_sent_back_as_read(emulator: ArmEmulator, rules):
    vnet = [{"action": "Allow", "id": "/subscriptions/x/.../subnets/build", "state": "Active"}]
    seed(
        emulator,
        "5.6.7.8/32",
        "1.2.3.0/24",
        {"action": "Allow", "value": "9.9.9.9", "futureField": {"kept": True}},
        virtual_network_rules=vnet,
        network_rule_set_extra={"someFutureSetting": "on"},
        extra_properties={"futureProperty": [1, 2, 3]},
    )
    before = emulator.registry_json(REG)["properties"]["networkRuleSet"]

    rules.allow(REG, "20.103.186.69")
    rules.remove(REG, ["20.103.186.69"])

    patches = [r.body for r in emulator.requests if r.kind == "patch_registry"]
    assert len(patches) == 2
    for body in patches:
        assert list(body) == ["properties"]
        assert list(body["properties"]) == ["networkRuleSet"]
        sent = copy.deepcopy(body["properties"]["networkRuleSet"])
        sent.pop("ipRules")
        expected = copy.deepcopy(before)
        expected.pop("ipRules")
        assert sent == expected
    after = emulator.registry_json(REG)["properties"]
    assert after["networkRuleSet"] == before
    assert after["futureProperty"] == [1, 2, 3]


def test_a_foreign_writer_between_our_operations_is_preserved(
    emulator: ArmEmulator, rules: ArmRegistryRules
):
    seed(emulator, "1.2.3.4")
    rules.state(REG)  # cached: the next write must not trust it
    emulator.add_rule(REG, "5.6.7.0/24")
    # And during the first update's polling, a person adds another rule in the portal.
    emulator.on("operation_status", lambda emu: emu.add_rule(REG, "8.8.4.4/32"))

    rules.allow(REG, "20.103.186.69")
    rules.allow(REG, "20.103.186.70")

    assert emulator.rules(REG) == [
        "1.2.3.4", "5.6.7.0/24", "20.103.186.69", "8.8.4.4/32", "20.103.186.70",
    ]  # fmt: skip


def test_a_rule_undone_before_the_read_back_fails_verification(emulator: ArmEmulator, rules):
    seed(emulator, "1.2.3.4")
    emulator.on("operation_status", lambda emu: emu.set_rules(REG, ["1.2.3.4"]))

    with pytest.raises(VerificationFailed, match=r"no rule admits 20\.103\.186\.69"):
        rules.allow(REG, "20.103.186.69")


# -- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "error"),
    [
        ("2001:db8::1", Ipv6NotSupported),
        ("::ffff:1.2.3.4", Ipv6NotSupported),
        ("10.1.2.3", NotPublicIp),
        ("172.16.0.1", NotPublicIp),
        ("192.168.1.1", NotPublicIp),
        ("127.0.0.1", NotPublicIp),
        ("169.254.169.254", NotPublicIp),
        ("224.0.0.1", NotPublicIp),
        ("0.0.0.0", NotPublicIp),
        ("100.64.1.1", NotPublicIp),
        ("240.0.0.1", NotPublicIp),
        ("192.0.2.10", NotPublicIp),
        ("20.103.186.0/24", RangeTooBroad),
        ("20.103.186.68/31", RangeTooBroad),
        ("x.x.x.x", NotAnIp),
        ("<your IP address>", NotAnIp),
    ],
)
def test_allow_refuses_addresses_that_cannot_be_granted(
    emulator: ArmEmulator, rules: ArmRegistryRules, ip, error
):
    seed(emulator)

    with pytest.raises(error) as caught:
        rules.allow(REG, ip)

    assert isinstance(caught.value, UnsupportedIp)
    assert ip in caught.value.message
    assert emulator.requests == []


def test_unconfigured_registry_is_refused(emulator: ArmEmulator, rules):
    with pytest.raises(RegistryNotConfigured, match="not a registry this bot manages"):
        rules.allow("fabrikam.azurecr.io", "20.103.186.69")
    assert emulator.requests == []


def test_configured_registry_missing_in_azure_is_not_found(emulator: ArmEmulator, rules):
    with pytest.raises(RegistryNotFound, match="does not exist"):
        rules.allow(REG, "20.103.186.69")
    with pytest.raises(RegistryNotFound):
        rules.state(REG)
    with pytest.raises(RegistryNotFound):
        rules.remove(REG, ["20.103.186.69"])


@pytest.mark.parametrize("sku", ["Basic", "Standard"])
def test_non_premium_registry_is_refused(emulator: ArmEmulator, rules, sku):
    seed(emulator, sku=sku)

    with pytest.raises(NotPremium, match=f"{sku} SKU"):
        rules.allow(REG, "20.103.186.69")
    assert emulator.count("patch_registry") == 0


def test_public_access_disabled_is_refused(emulator: ArmEmulator, rules):
    seed(emulator, public_network_access="Disabled")

    with pytest.raises(PublicAccessDisabled, match="overrides every IP rule"):
        rules.allow(REG, "20.103.186.69")
    assert emulator.count("patch_registry") == 0


def test_full_quota_is_refused_before_any_update(emulator: ArmEmulator, rules):
    seed(emulator, *[f"20.0.{i // 250}.{i % 250 + 1}" for i in range(100)])

    with pytest.raises(RuleQuotaFull, match="100 of its 100"):
        rules.allow(REG, "20.103.186.69")
    assert emulator.count("patch_registry") == 0


def test_live_quota_limit_from_usages_is_honoured(emulator: ArmEmulator, rules):
    seed(emulator, *[f"20.0.0.{i}" for i in range(1, 11)], ip_rule_limit=10)

    with pytest.raises(RuleQuotaFull, match="10 of its 10"):
        rules.allow(REG, "20.103.186.69")
    assert emulator.count("patch_registry") == 0


def test_quota_defaults_to_100_when_usages_are_unavailable(emulator: ArmEmulator, rules):
    seed(emulator, *[f"20.0.0.{i}" for i in range(1, 100)])
    emulator.inject("list_usages", status=503, times=4)

    assert rules.allow(REG, "20.103.186.69").written
    emulator.inject("list_usages", status=503, times=4)
    with pytest.raises(RuleQuotaFull, match="100 of its 100"):
        rules.allow(REG, "20.103.186.70")


def test_quota_overflow_reported_by_arm_becomes_rule_quota_full(emulator: ArmEmulator, rules):
    # Usages claim room, but ARM itself refuses: a rule was added between the read and the write.
    seed(emulator, *[f"20.0.0.{i}" for i in range(1, 6)], ip_rule_limit=5)
    emulator.inject("list_usages", status=500, times=4)

    with pytest.raises(RuleQuotaFull, match="5 of its 5"):
        rules.allow(REG, "20.103.186.69")


def test_dry_run_reads_but_never_writes(emulator: ArmEmulator, lock, clock, caplog):
    seed(emulator, "1.2.3.4", "20.103.186.70")
    svc = make_rules(emulator, [registry_config(REG)], lock=lock, clock=clock, dry_run=True)

    with caplog.at_level("INFO", logger="services.registry"):
        added = svc.allow(REG, "20.103.186.69")
        removed = svc.remove(REG, ["20.103.186.70"])

    assert emulator.count("patch_registry") == 0
    assert emulator.rules(REG) == ["1.2.3.4", "20.103.186.70"]
    assert added.dry_run
    assert not added.written
    assert [r.value for r in added.rules_after] == ["1.2.3.4", "20.103.186.70", "20.103.186.69"]
    assert removed.dry_run
    assert removed.outcome("20.103.186.70") is IpOutcome.REMOVED
    assert "dry run: would allow 20.103.186.69 on contoso" in caplog.text


# -- retries and failures ------------------------------------------------------------------------


def test_throttling_with_retry_after_is_retried(emulator: ArmEmulator, rules):
    seed(emulator)
    emulator.throttle("get_registry", times=2, retry_after=0)
    emulator.throttle("patch_registry", times=1, retry_after=1)

    assert rules.allow(REG, "20.103.186.69").written
    assert emulator.count("get_registry") == 4  # 2 throttled + read + read-back
    assert emulator.count("patch_registry") == 2


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("patch_registry", 500),
        ("patch_registry", 503),
        ("get_registry", 502),
        ("operation_status", 500),
    ],
)
def test_server_errors_are_retried(emulator: ArmEmulator, rules, kind, status):
    seed(emulator)
    emulator.inject(kind, status=status)
    before = emulator.count(kind)

    assert rules.allow(REG, "20.103.186.69").written
    assert emulator.rules(REG) == ["20.103.186.69"]
    clean = {"patch_registry": 1, "get_registry": 2, "operation_status": 2}[kind]
    assert emulator.count(kind) - before == clean + 1


def test_dropped_connection_is_retried(emulator: ArmEmulator, rules):
    seed(emulator)
    emulator.inject("get_registry", drop=True)

    assert rules.allow(REG, "20.103.186.69").written
    assert emulator.count("get_registry") == 3


def test_dropped_connection_on_the_update_is_retried(emulator: ArmEmulator, rules):
    # The update carries the whole list, so sending it again is safe.
    seed(emulator, "1.2.3.4")
    emulator.inject("patch_registry", drop=True)

    assert rules.allow(REG, "20.103.186.69").written
    assert emulator.count("patch_registry") == 2
    assert emulator.rules(REG) == ["1.2.3.4", "20.103.186.69"]


def test_slow_answer_past_the_read_timeout_is_retried(emulator: ArmEmulator, lock, clock):
    seed(emulator)
    svc = make_rules(emulator, [registry_config(REG)], lock=lock, clock=clock, read_timeout=0.3)
    emulator.inject("get_registry", delay=1.0)

    assert svc.allow(REG, "20.103.186.69").written
    assert emulator.count("get_registry") == 3


def test_exhausted_retries_raise_arm_unavailable(emulator: ArmEmulator, rules):
    seed(emulator)
    emulator.throttle("get_registry", times=4, retry_after=0)

    with pytest.raises(ArmUnavailable, match=r"kept answering 429.*after 3 retries"):
        rules.allow(REG, "20.103.186.69")
    assert emulator.count("get_registry") == 4


def test_missing_permission_is_explained(emulator: ArmEmulator, rules):
    seed(emulator)
    emulator.inject(
        "patch_registry",
        status=403,
        code="AuthorizationFailed",
        message="The client does not have authorization to perform action.",
    )

    with pytest.raises(ArmError, match="Container Registry Contributor"):
        rules.allow(REG, "20.103.186.69")


def test_a_held_lock_makes_the_change_wait_then_report_busy(
    emulator: ArmEmulator, azurite_connection_string, unique_name, clock
):
    seed(emulator)
    arm = arm_settings(emulator, lock_wait_seconds=0.2)
    svc = make_rules(
        emulator,
        [registry_config(REG)],
        lock=blob_lock(azurite_connection_string, unique_name, arm),
        clock=clock,
    )
    other = blob_lock(azurite_connection_string, unique_name, arm)

    with other.hold(REG), pytest.raises(RegistryBusy, match="try again"):
        svc.allow(REG, "20.103.186.69")
    assert emulator.requests == []


# -- concurrency ---------------------------------------------------------------------------------


def _allow_concurrently(svc: ArmRegistryRules, ips: list[str]) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(ips))

    def run(ip: str) -> None:
        barrier.wait()
        try:
            svc.allow(REG, ip)
        except BaseException as exc:  # collected and asserted on by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(ip,)) for ip in ips]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


IPS_20 = [f"20.103.186.{i}" for i in range(1, 21)]


def test_twenty_concurrent_allows_lose_no_rule(emulator: ArmEmulator, rules):
    seed(emulator, "1.2.3.0/24")

    errors = _allow_concurrently(rules, IPS_20)

    assert errors == []
    assert sorted(emulator.rules(REG)) == sorted(["1.2.3.0/24", *IPS_20])


def test_without_the_lock_concurrent_allows_lose_rules(emulator: ArmEmulator, clock):
    seed(emulator, "1.2.3.0/24")
    svc = make_rules(emulator, [registry_config(REG)], lock=NoLock(), clock=clock)
    # Every GET is held after its snapshot: all twenty read the same rule set, then each PATCH
    # replaces the list with its own one addition.
    emulator.read_delay = 0.3

    errors = _allow_concurrently(svc, IPS_20)

    left = [ip for ip in emulator.rules(REG) if ip in IPS_20]
    assert len(left) < 20
    # The read-back catches the losses it can see; it never reports a failure of another kind.
    assert errors
    assert all(isinstance(e, VerificationFailed) for e in errors)


# -- wiring --------------------------------------------------------------------------------------


def test_from_settings_wires_the_sdk_and_the_blob_lock_from_the_environment(
    emulator: ArmEmulator, azurite_connection_string, unique_name, monkeypatch, clock
):
    import json

    from services.settings import Settings
    from tests.services.registry_fixtures import StaticTokenCredential

    seed(emulator, "1.2.3.4")
    env = {
        "ACRBOT_STORAGE_CONNECTION_STRING": azurite_connection_string,
        "ACRBOT_REGISTRIES": json.dumps(
            [{"name": REG, "subscription_id": SUBSCRIPTION, "resource_group": RESOURCE_GROUP,
              "custom_domains": ["cr.example.cloud"]}]
        ),
        "ACRBOT_ARM__ENDPOINT": emulator.base_url,
        "ACRBOT_ARM__CA_BUNDLE": emulator.ca_path,
        "ACRBOT_ARM__POLLING_INTERVAL": "0",
        "ACRBOT_ARM__LOCK_CONTAINER": unique_name,
    }  # fmt: skip
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    credential = StaticTokenCredential()

    svc = ArmRegistryRules.from_settings(Settings(), clock=clock, credential=credential)
    change = svc.allow("cr.example.cloud", "20.103.186.69")

    assert change.registry == REG
    assert emulator.rules(REG) == ["1.2.3.4", "20.103.186.69"]
    assert credential.calls >= 1
    assert svc.state(REG).rule_covering(ipaddress.ip_address("20.103.186.69")) is not None
