"""The ARM adapter on the wire: the real azure-mgmt-containerregistry client against the loopback
HTTPS emulator (long-running operations, retries, throttling, dropped connections, refusals)."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from sandbox.arm_emulator import ArmEmulator
from services.azure.arm import ArmRegistryGateway
from services.domain.errors import (
    ArmError,
    ArmUnavailable,
    NotPremium,
    RuleQuotaFull,
    WriteOutcomeUnknown,
)
from services.domain.registry import RegistrySnapshot
from tests.sandbox_helpers import (
    RESOURCE_GROUP,
    SUBSCRIPTION,
    StaticTokenCredential,
    arm_settings,
    registry_config,
)

REG = "contoso"
CONFIG = registry_config(REG)


@pytest.fixture
def emulator(request) -> Iterator[ArmEmulator]:
    with ArmEmulator(**getattr(request, "param", {})) as emu:
        yield emu


@pytest.fixture
def gateway(emulator: ArmEmulator) -> ArmRegistryGateway:
    return ArmRegistryGateway(arm=arm_settings(emulator), credential=StaticTokenCredential())


def seed(emulator: ArmEmulator, *rules, **kwargs) -> None:
    emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, REG, rules=rules, **kwargs)


def add(snapshot: RegistrySnapshot, value: str) -> list[dict[str, str]]:
    return [*snapshot.ip_rules, {"action": "Allow", "value": value}]


def test_arm_calls_of_one_write(emulator: ArmEmulator, gateway: ArmRegistryGateway) -> None:
    seed(emulator, "1.2.3.4")
    snapshot = gateway.read(CONFIG)
    after = gateway.write(CONFIG, snapshot, add(snapshot, "20.103.186.69"))
    assert [r["value"] for r in after.ip_rules] == ["1.2.3.4", "20.103.186.69"]
    # ARM answers the PATCH at once (200, the whole registry); the adapter reads back to verify.
    assert [r.kind for r in emulator.requests] == ["get_registry", "patch_registry", "get_registry"]
    # The PATCH's request id and one correlation id per call are kept for the audit trail.
    assert after.request_id
    assert after.correlation_id
    patch = next(r for r in emulator.requests if r.kind == "patch_registry")
    assert patch.headers["x-ms-correlation-request-id"] == after.correlation_id


@pytest.mark.parametrize("emulator", [{"patch_status": 201}], indirect=True)
def test_an_asynchronous_201_is_polled_and_its_final_read_verified(
    emulator: ArmEmulator, gateway
) -> None:
    seed(emulator)
    after = gateway.write(CONFIG, gateway.read(CONFIG), [{"action": "Allow", "value": "2.2.2.2"}])
    assert [r["value"] for r in after.ip_rules] == ["2.2.2.2"]
    assert [r.kind for r in emulator.requests] == [
        "get_registry",
        "patch_registry",
        "operation_status",
        "operation_status",
        "get_registry",
    ]


@pytest.mark.parametrize("emulator", [{"in_progress_polls": 5, "patch_status": 201}], indirect=True)
def test_a_slow_operation_is_polled_until_it_succeeds(emulator: ArmEmulator, gateway) -> None:
    seed(emulator)
    gateway.write(CONFIG, gateway.read(CONFIG), [{"action": "Allow", "value": "2.2.2.2"}])
    assert emulator.count("operation_status") == 6


def test_only_ip_rules_change_everything_else_is_sent_back_as_read(
    emulator: ArmEmulator, gateway
) -> None:
    vnet = [{"action": "Allow", "id": "/subscriptions/x/.../subnets/build", "state": "Active"}]
    seed(
        emulator,
        "1.2.3.0/24",
        {"action": "Allow", "value": "9.9.9.9", "futureField": {"kept": True}},
        virtual_network_rules=vnet,
        network_rule_set_extra={"someFutureSetting": "on"},
        extra_properties={"futureProperty": [1, 2, 3]},
    )
    before = emulator.registry_json(REG)["properties"]["networkRuleSet"]
    snapshot = gateway.read(CONFIG)
    gateway.write(CONFIG, snapshot, add(snapshot, "20.103.186.69"))
    [patch] = [r.body for r in emulator.requests if r.kind == "patch_registry"]
    assert list(patch) == ["properties"]
    assert list(patch["properties"]) == ["networkRuleSet"]
    sent = copy.deepcopy(patch["properties"]["networkRuleSet"])
    assert sent.pop("ipRules")[1] == {
        "action": "Allow",
        "value": "9.9.9.9",
        "futureField": {"kept": True},
    }
    expected = copy.deepcopy(before)
    expected.pop("ipRules")
    assert sent == expected
    assert emulator.registry_json(REG)["properties"]["futureProperty"] == [1, 2, 3]


def test_usage_reads_the_live_quota_and_falls_back_to_100(emulator: ArmEmulator, gateway) -> None:
    seed(emulator, "1.1.1.1", ip_rule_limit=40)
    usage = gateway.usage(CONFIG)
    assert (usage.used, usage.limit) == (1, 40)
    emulator.inject("list_usages", status=500, times=10)
    assert gateway.usage(CONFIG).limit == 100


def test_arms_own_quota_refusal_becomes_rule_quota_full(emulator: ArmEmulator, gateway) -> None:
    seed(emulator, "1.1.1.1", ip_rule_limit=1)
    snapshot = gateway.read(CONFIG)
    with pytest.raises(RuleQuotaFull) as refused:
        gateway.write(CONFIG, snapshot, add(snapshot, "2.2.2.2"))
    assert refused.value.limit == 1


def test_rules_on_a_basic_registry_are_not_premium(emulator: ArmEmulator, gateway) -> None:
    seed(emulator, sku="Basic")
    with pytest.raises(NotPremium):
        gateway.write(CONFIG, gateway.read(CONFIG), [{"action": "Allow", "value": "2.2.2.2"}])


def test_throttling_with_retry_after_is_retried(emulator: ArmEmulator, gateway) -> None:
    seed(emulator)
    emulator.throttle("get_registry", times=2, retry_after=0)
    emulator.throttle("patch_registry", times=1, retry_after=0)
    gateway.write(CONFIG, gateway.read(CONFIG), [{"action": "Allow", "value": "2.2.2.2"}])
    assert emulator.count("get_registry") == 4  # 2 throttled + read + read back
    assert emulator.count("patch_registry") == 2


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("get_registry", 502),
        ("get_registry", 503),
        ("operation_status", 500),
    ],
)
def test_server_errors_of_reads_are_retried(emulator: ArmEmulator, gateway, kind, status) -> None:
    seed(emulator)
    if kind == "operation_status":
        emulator.patch_status = 201  # only an asynchronous update is polled
    snapshot = gateway.read(CONFIG)
    emulator.inject(kind, status=status)
    gateway.write(CONFIG, snapshot, [{"action": "Allow", "value": "2.2.2.2"}])
    assert emulator.rules(REG) == ["2.2.2.2"]
    assert emulator.count(kind) >= 2  # the failed read and its retry


@pytest.mark.parametrize("status", [500, 503])
def test_an_answered_patch_failure_is_not_sent_again(
    emulator: ArmEmulator, gateway, status
) -> None:
    # ARM has finished with the request: it did not land (here), and a read will tell.
    seed(emulator, "1.2.3.4")
    snapshot = gateway.read(CONFIG)
    emulator.inject("patch_registry", status=status)
    with pytest.raises(ArmUnavailable) as failed:
        gateway.write(CONFIG, snapshot, add(snapshot, "20.103.186.69"))
    assert not isinstance(failed.value, WriteOutcomeUnknown)
    assert emulator.count("patch_registry") == 1
    assert emulator.rules(REG) == ["1.2.3.4"]


def test_a_throttled_patch_is_sent_again(emulator: ArmEmulator, gateway) -> None:
    # 429: ARM did not take the request, so sending it again cannot land twice.
    seed(emulator, "1.2.3.4")
    snapshot = gateway.read(CONFIG)
    emulator.throttle("patch_registry", retry_after=0)
    gateway.write(CONFIG, snapshot, add(snapshot, "20.103.186.69"))
    assert emulator.count("patch_registry") == 2
    assert emulator.rules(REG) == ["1.2.3.4", "20.103.186.69"]


@pytest.mark.parametrize(
    "fault",
    [
        {"drop": True},
        {"drop": True, "applied": True},
        {"status": 504, "applied": True},
        {"status": 504},
    ],
    ids=["dropped-before", "applied-then-dropped", "applied-then-504", "gateway-504"],
)
def test_a_patch_without_an_answer_is_unknown_and_never_sent_twice(
    emulator: ArmEmulator, gateway, fault
) -> None:
    seed(emulator, "1.2.3.4")
    snapshot = gateway.read(CONFIG)
    emulator.inject("patch_registry", **fault)
    with pytest.raises(WriteOutcomeUnknown):
        gateway.write(CONFIG, snapshot, add(snapshot, "20.103.186.69"))
    assert emulator.count("patch_registry") == 1
    landed = ["1.2.3.4", "20.103.186.69"] if fault.get("applied") else ["1.2.3.4"]
    assert emulator.rules(REG) == landed


def test_a_patch_that_lands_after_the_read_timeout_is_unknown(emulator: ArmEmulator) -> None:
    # The write ARM applies after the client stopped waiting: one PATCH, then it lands late.
    seed(emulator, "1.2.3.4")
    gateway = ArmRegistryGateway(
        arm=arm_settings(emulator, read_timeout=0.3), credential=StaticTokenCredential()
    )
    snapshot = gateway.read(CONFIG)
    gate = emulator.land_late("patch_registry")
    with pytest.raises(WriteOutcomeUnknown, match="did not say"):
        gateway.write(CONFIG, snapshot, add(snapshot, "20.103.186.69"))
    assert emulator.rules(REG) == ["1.2.3.4"]
    emulator.add_rule(REG, "9.9.9.9")  # someone's edit while the write is in flight
    gate.set()
    emulator.wait_idle()
    assert emulator.count("patch_registry") == 1
    # The late write replaced the list with what it carried: the edit is gone.
    assert emulator.rules(REG) == ["1.2.3.4", "20.103.186.69"]


def test_a_slow_answer_past_the_read_timeout_is_retried(emulator: ArmEmulator) -> None:
    seed(emulator)
    gateway = ArmRegistryGateway(
        arm=arm_settings(emulator, read_timeout=0.3), credential=StaticTokenCredential()
    )
    emulator.inject("get_registry", delay=1.0)
    gateway.read(CONFIG)
    assert emulator.count("get_registry") == 2


def test_exhausted_retries_raise_arm_unavailable(emulator: ArmEmulator, gateway) -> None:
    seed(emulator)
    emulator.throttle("get_registry", times=4, retry_after=0)
    with pytest.raises(ArmUnavailable, match=r"kept answering 429.*after 3 retries"):
        gateway.read(CONFIG)


def test_missing_permission_is_explained(emulator: ArmEmulator, gateway) -> None:
    seed(emulator)
    snapshot = gateway.read(CONFIG)
    emulator.inject(
        "patch_registry",
        status=403,
        code="AuthorizationFailed",
        message="The client does not have authorization to perform action.",
    )
    with pytest.raises(ArmError, match="read, write and listUsages") as refused:
        gateway.write(CONFIG, snapshot, [])
    assert refused.value.status == 403
    assert not isinstance(refused.value, ArmUnavailable)


def test_the_sdk_is_not_loaded_until_arm_is_called() -> None:
    import subprocess
    import sys

    code = (
        "import sys, services.azure.arm, services.bootstrap, services.flows.reconcile; "
        "print(any(m.startswith(('azure.mgmt', 'azure.identity')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
