"""The ARM adapter against recorded live traffic: `ArmRegistryGateway` (the real
azure-mgmt-containerregistry client) reads, writes and verifies a registry's rules while the
loopback replay serves the answers live ARM gave the Azure CLI and Azure PowerShell
(`tests/recordings/arm/`): their status codes, headers and bodies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sandbox.arm_replay import ArmReplay, Exchange, Recorded, load_recording, path_of
from services.azure.arm import ArmRegistryGateway
from services.domain.policy import RegistryConfig
from services.settings import ArmSettings
from tests.sandbox_helpers import StaticTokenCredential

RECORDINGS = Path(__file__).resolve().parents[2] / "recordings" / "arm"
CLI = load_recording(RECORDINGS / "azure-cli-acr-network-rule.json")
POWERSHELL = load_recording(RECORDINGS / "azure-powershell-get-and-usage.json")

ZERO = "00000000-0000-0000-0000-000000000000"
CLI_REGISTRY = RegistryConfig(
    name="clireg000002", subscription_id=ZERO, resource_group="clitest.rg000001"
)
PS_REGISTRY = RegistryConfig(name="beauxq", subscription_id=ZERO, resource_group="ContainerTest")
RULE = {"action": "Allow", "value": "16.17.18.0/24"}

ADD = (
    "add --ip-address: GET before",
    "add --ip-address: PATCH of ipRules answered 200 at once with the whole registry",
    "add --ip-address: network-rule list after",
)


def exchange(recording: dict[str, Any], name: str, *, method: str | None = None) -> Exchange:
    """The recorded interaction `name` as the next expected exchange (its own request, or
    `method` on the same path answered with its recorded response)."""
    interaction = recording[name]
    return Exchange(
        method or interaction["request"]["method"], path_of(interaction), Recorded.of(interaction)
    )


def gateway_for(replay: ArmReplay) -> ArmRegistryGateway:
    # No retries: each recorded answer is played once, and a mismatch must fail the test.
    arm = ArmSettings(
        endpoint=replay.base_url,
        ca_bundle=replay.ca_path,
        polling_interval=0,
        retry_total=0,
        read_timeout=10,
    )
    return ArmRegistryGateway(arm=arm, credential=StaticTokenCredential())


def played_out(replay: ArmReplay) -> list[str]:
    """Every expected exchange was played, nothing else was asked: the methods received."""
    assert replay.mismatches == []
    assert replay.remaining == 0
    return [r.method for r in replay.received]


def test_a_rule_is_added_with_the_synchronous_200_live_arm_gave_and_read_back() -> None:
    with ArmReplay(exchange(CLI, name) for name in ADD) as replay:
        gateway = gateway_for(replay)
        before = gateway.read(CLI_REGISTRY)
        assert before.state.default_action == "Deny"
        assert before.state.is_premium
        assert before.ip_rules == []

        after = gateway.write(CLI_REGISTRY, before, [RULE])

        assert after.ip_rules == [RULE]
        # One PATCH, answered 200 at once: no poll; the verifying read is a GET after it.
        assert played_out(replay) == ["GET", "PATCH", "GET"]
        patch = replay.received[1]
        # Only ipRules changed; the rest of the rule set goes back as it was read.
        assert patch.body == {
            "properties": {"networkRuleSet": {"defaultAction": "Deny", "ipRules": [RULE]}}
        }
        assert patch.headers["x-ms-correlation-request-id"] == after.correlation_id


def test_a_rule_is_removed_with_the_recorded_exchanges() -> None:
    names = (
        "remove --ip-address: GET before",
        "remove --ip-address: PATCH of ipRules answered 200 at once",
        "remove --ip-address: network-rule list after",
    )
    script = [exchange(CLI, n) for n in names]
    with ArmReplay(script) as replay:
        gateway = gateway_for(replay)
        before = gateway.read(CLI_REGISTRY)
        assert before.ip_rules == [RULE]
        assert before.state.default_action == "Allow"

        after = gateway.write(CLI_REGISTRY, before, [])

        assert after.ip_rules == []
        assert played_out(replay) == ["GET", "PATCH", "GET"]
        assert replay.received[1].body == {
            "properties": {"networkRuleSet": {"defaultAction": "Allow", "ipRules": []}}
        }


def test_an_asynchronous_201_is_polled_at_the_recorded_operation_and_read_at_the_end() -> None:
    # The recordings' one asynchronous registry write is the create (201 + Azure-AsyncOperation,
    # then `{"status": "Succeeded"}`); the REST spec documents the same 201 for an update. A
    # PATCH answered with it is polled where the header points, then the registry is read.
    script = [
        exchange(CLI, ADD[0]),
        exchange(CLI, "create: PUT answered 201 with Azure-AsyncOperation", method="PATCH"),
        exchange(CLI, "create: the operation status poll"),
        exchange(CLI, ADD[2]),
    ]
    with ArmReplay(script) as replay:
        gateway = gateway_for(replay)
        after = gateway.write(CLI_REGISTRY, gateway.read(CLI_REGISTRY), [RULE])

        assert after.ip_rules == [RULE]
        assert played_out(replay) == ["GET", "PATCH", "GET", "GET"]
        poll = replay.received[2]
        assert poll.path.endswith(
            "/operationStatuses/registries-8ea4bc74-9f2f-11ee-bec6-00a619196125"
        )
        assert poll.query["api-version"] == "2022-02-01-preview"  # the header's own URL


def test_the_quota_comes_from_the_recorded_list_usages_and_the_request_id_is_kept() -> None:
    script = [exchange(POWERSHELL, "listUsages"), exchange(POWERSHELL, "GET the registry")]
    with ArmReplay(script) as replay:
        gateway = gateway_for(replay)
        usage = gateway.usage(PS_REGISTRY)
        snapshot = gateway.read(PS_REGISTRY)

        # A live Premium registry in 2025: 200 IP rules allowed (the docs still say 100).
        assert (usage.used, usage.limit) == (0, 200)
        assert snapshot.state.default_action == "Allow"  # the firewall is open
        assert snapshot.request_id == "00000000-0000-0000-0000-0000000000a1"
        assert played_out(replay) == ["GET", "GET"]
