"""The ARM emulator answers as live ARM did: its GET, PATCH, listUsages and operation-status
answers have the shapes (status, keys, JSON types, the relevant headers) of the public
recordings of live traffic in `tests/recordings/arm/`, and behave as those exchanges show."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.arm_emulator import API_VERSION, ArmEmulator
from sandbox.arm_replay import load_recording
from tests.sandbox.test_arm_emulator import REG, REG_PATH, call
from tests.sandbox_helpers import RESOURCE_GROUP, SUBSCRIPTION

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings" / "arm"
CLI = load_recording(RECORDINGS / "azure-cli-acr-network-rule.json")
POWERSHELL = load_recording(RECORDINGS / "azure-powershell-get-and-usage.json")
UPDATE = load_recording(RECORDINGS / "azure-powershell-update.json")

#: Registry fields the 2025-11-01 REST spec examples show that the (older) recordings predate.
SPEC_ONLY = frozenset({"networkRuleBypassAllowedForTasks", "roleAssignmentMode"})
#: What every recorded ARM answer carries, and the forms of their values.
HEADER_FORMS = {
    "cache-control": r"no-cache",
    "pragma": r"no-cache",
    "expires": r"-1",
    "content-type": r"application/json; charset=utf-8",
    "strict-transport-security": r"max-age=31536000; includeSubDomains",
    "x-content-type-options": r"nosniff",
    "api-supported-versions": r"\d{4}-\d{2}-\d{2}(-preview)?",
}
GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
#: Headers PowerShell's recordings kept (the CLI's recorder drops them), with their forms.
ID_FORMS = {
    "x-ms-request-id": GUID,
    "x-ms-correlation-request-id": GUID,
    "x-ms-routing-request-id": rf"[A-Z0-9]+:\d{{8}}T\d{{6}}Z:{GUID}",
}


@pytest.fixture
def emulator() -> Iterator[ArmEmulator]:
    with ArmEmulator() as emu:
        emu.add_registry(SUBSCRIPTION, RESOURCE_GROUP, REG, rules=["1.2.3.4"])
        yield emu


def recorded(recording: dict[str, Any], name: str) -> dict[str, Any]:
    response: dict[str, Any] = recording[name]["response"]
    return response


def mismatches(
    live: Any, ours: Any, where: str = "", allowed: frozenset[str] = frozenset()
) -> list[str]:
    """Where `ours` differs in shape from `live`: a key one has and the other lacks (unless
    `allowed`), or a JSON type that differs; lists compare their first elements."""
    if isinstance(live, dict) and isinstance(ours, dict):
        out = [f"{where}/{k}: missing" for k in live if k not in ours]
        out += [
            f"{where}/{k}: not in the recording" for k in ours if k not in live and k not in allowed
        ]
        for key in live.keys() & ours.keys():
            out += mismatches(live[key], ours[key], f"{where}/{key}", allowed)
        return out
    if isinstance(live, list) and isinstance(ours, list):
        return mismatches(live[0], ours[0], f"{where}/0", allowed) if live and ours else []
    if type(live) is not type(ours):
        return [f"{where}: {type(ours).__name__}, recorded {type(live).__name__}"]
    return []


def header_problems(headers: dict[str, str], recorded_names: set[str]) -> list[str]:
    got = {k.lower(): v for k, v in headers.items()}
    forms = {**HEADER_FORMS, **ID_FORMS}
    out = [f"{n}: missing" for n in sorted(recorded_names & forms.keys()) if n not in got]
    out += [
        f"{n}: {got[n]!r}"
        for n, form in forms.items()
        if n in got and n in recorded_names and not re.fullmatch(form, got[n])
    ]
    return out


def names(response: dict[str, Any]) -> set[str]:
    return {k.lower() for k in response["headers"]}


def test_get_answers_the_registry_as_live_arm_did(emulator: ArmEmulator) -> None:
    live = recorded(POWERSHELL, "GET the registry")

    status, headers, body = call(emulator, "GET", f"{REG_PATH}?api-version={API_VERSION}")

    assert status == live["status"] == 200
    assert mismatches(live["body"], body, allowed=SPEC_ONLY) == []
    assert header_problems(headers, names(live)) == []
    assert "x-ms-ratelimit-remaining-subscription-reads" in headers
    assert headers["api-supported-versions"] == API_VERSION


def test_patch_of_ip_rules_answers_200_at_once_with_the_whole_registry(emulator) -> None:
    live = recorded(
        CLI, "add --ip-address: PATCH of ipRules answered 200 at once with the whole registry"
    )
    rules = [{"action": "Allow", "value": "16.17.18.0/24"}]
    body = {"properties": {"networkRuleSet": {"defaultAction": "Deny", "ipRules": rules}}}

    status, headers, answer = call(emulator, "PATCH", f"{REG_PATH}?api-version={API_VERSION}", body)

    assert status == live["status"] == 200
    assert "azure-asyncoperation" not in names(live)
    assert "Azure-AsyncOperation" not in headers
    assert answer["properties"]["provisioningState"] == "Succeeded"
    assert answer["properties"]["networkRuleSet"]["ipRules"] == rules
    # The answer is the whole registry, as a GET gives it (the 2023-11 view of the same
    # registry: the PATCH's own 2021-08 view still showed virtualNetworkRules).
    after_get = recorded(CLI, "add --ip-address: network-rule list after")["body"]
    assert mismatches(after_get, answer, allowed=SPEC_ONLY) == []
    assert (
        header_problems(headers, names(recorded(UPDATE, "PATCH of ipRules answered 200 at once")))
        == []
    )
    assert "x-ms-ratelimit-remaining-subscription-writes" in headers


def test_a_rule_set_field_the_patch_does_not_name_is_kept(emulator: ArmEmulator) -> None:
    # Recorded: `{"networkRuleSet": {"defaultAction": "Allow"}}` kept the ipRules; a PATCH of
    # ipRules alone kept defaultAction.
    live = recorded(
        CLI, "update --default-action: a PATCH naming only defaultAction keeps the ipRules"
    )
    assert live["body"]["properties"]["networkRuleSet"]["ipRules"]
    path = f"{REG_PATH}?api-version={API_VERSION}"

    _, _, answer = call(
        emulator, "PATCH", path, {"properties": {"networkRuleSet": {"defaultAction": "Allow"}}}
    )
    assert answer["properties"]["networkRuleSet"] == {
        "defaultAction": "Allow",
        "ipRules": [{"action": "Allow", "value": "1.2.3.4"}],
    }
    _, _, answer = call(
        emulator, "PATCH", path, {"properties": {"networkRuleSet": {"ipRules": []}}}
    )
    assert answer["properties"]["networkRuleSet"] == {"defaultAction": "Allow", "ipRules": []}


def test_an_ip_rule_is_answered_as_allow_whatever_action_was_sent(emulator) -> None:
    interaction = UPDATE["PATCH of ipRules answered 200 at once"]
    sent = interaction["request"]["body"]["properties"]["networkRuleSet"]["ipRules"]
    live = interaction["response"]["body"]["properties"]["networkRuleSet"]["ipRules"]
    assert {r["action"] for r in sent} == {"Forbidden"}

    _, _, answer = call(
        emulator,
        "PATCH",
        f"{REG_PATH}?api-version={API_VERSION}",
        {"properties": {"networkRuleSet": {"ipRules": sent}}},
    )

    assert answer["properties"]["networkRuleSet"]["ipRules"] == live
    assert emulator.rules_raw(REG) == live


def test_list_usages_answers_the_recorded_entries_and_limits(emulator: ArmEmulator) -> None:
    live = recorded(POWERSHELL, "listUsages")

    status, headers, body = call(
        emulator, "GET", f"{REG_PATH}/listUsages?api-version={API_VERSION}"
    )

    assert status == live["status"] == 200
    assert mismatches(live["body"], body) == []
    assert [u["name"] for u in body["value"]] == [u["name"] for u in live["body"]["value"]]
    limits = {u["name"]: u["limit"] for u in body["value"]}
    assert limits == {u["name"]: u["limit"] for u in live["body"]["value"]}
    assert header_problems(headers, names(live)) == []


def test_the_asynchronous_option_answers_as_the_recorded_operation(emulator) -> None:
    created = recorded(CLI, "create: PUT answered 201 with Azure-AsyncOperation")
    polled = recorded(CLI, "create: the operation status poll")
    emulator.patch_status = 201
    emulator.in_progress_polls = 0
    body = {"properties": {"networkRuleSet": {"ipRules": []}}}

    status, headers, answer = call(emulator, "PATCH", f"{REG_PATH}?api-version={API_VERSION}", body)

    assert status == created["status"] == 201
    recorded_url = created["headers"]["azure-asyncoperation"]
    pattern = r".*/registries/[^/]+/operationStatuses/registries-" + GUID + r"\?api-version=.*"
    assert re.fullmatch(pattern, recorded_url)
    assert re.fullmatch(pattern, headers["Azure-AsyncOperation"])
    assert mismatches(created["body"], answer, allowed=SPEC_ONLY) == []
    status, _, answer = call(
        emulator, "GET", headers["Azure-AsyncOperation"][len(emulator.base_url) :]
    )
    assert status == polled["status"] == 200
    assert answer == polled["body"] == {"status": "Succeeded"}
