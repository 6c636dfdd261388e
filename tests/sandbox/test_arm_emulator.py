"""The loopback ARM emulator speaks what the real azure-mgmt-containerregistry SDK expects."""

from __future__ import annotations

import json
import ssl
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.containerregistry import ContainerRegistryManagementClient

from sandbox.arm_emulator import API_VERSION, ArmEmulator
from tests.sandbox_helpers import RESOURCE_GROUP, SUBSCRIPTION, StaticTokenCredential

REG = "contoso"


def raw(pipeline_response: Any, _d: Any, _h: Any) -> Any:
    return pipeline_response.http_response.json()


@pytest.fixture
def emulator() -> Iterator[ArmEmulator]:
    with ArmEmulator() as emu:
        yield emu


@pytest.fixture
def client(emulator: ArmEmulator) -> ContainerRegistryManagementClient:
    return ContainerRegistryManagementClient(
        StaticTokenCredential(),
        SUBSCRIPTION,
        base_url=emulator.base_url,
        connection_verify=emulator.ca_path,
        polling_interval=0,
        retry_total=3,
        retry_backoff_factor=0.0,
    )


def call(
    emulator: ArmEmulator,
    method: str,
    path: str,
    body: Any = None,
    *,
    timeout: float | None = None,
    **headers: str,
):
    """A plain HTTPS request, for what the SDK would never send."""
    context = ssl.create_default_context(cafile=emulator.ca_path)
    req = urllib.request.Request(
        emulator.base_url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": "Bearer t", "Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(req, context=context, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


REG_PATH = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
    f"/providers/Microsoft.ContainerRegistry/registries/{REG}"
)


def test_get_returns_the_registry_in_arm_shape_and_the_sdk_reads_it(emulator, client):
    emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, REG, rules=["1.2.3.4"])

    model = client.registries.get(RESOURCE_GROUP, REG)
    body = client.registries.get(RESOURCE_GROUP, REG, cls=raw)

    assert model.sku.name == "Premium"
    assert model.properties.network_rule_set.ip_rules[0].ip_address_or_range == "1.2.3.4"
    assert model.properties.login_server == "contoso.azurecr.io"
    assert body["id"] == REG_PATH
    assert body["type"] == "Microsoft.ContainerRegistry/registries"
    assert body["properties"]["networkRuleSet"] == {
        "defaultAction": "Deny",
        "ipRules": [{"action": "Allow", "value": "1.2.3.4"}],
    }
    request = emulator.requests[-1]
    assert request.query["api-version"] == API_VERSION
    assert request.headers["Authorization"] == "Bearer test-token"


def test_unknown_registry_is_arm_resource_not_found(emulator, client):
    with pytest.raises(ResourceNotFoundError) as caught:
        client.registries.get(RESOURCE_GROUP, "nope")

    assert caught.value.error.code == "ResourceNotFound"
    assert (
        "The Resource 'Microsoft.ContainerRegistry/registries/nope' under resource group "
        f"'{RESOURCE_GROUP}' was not found." in caught.value.error.message
    )


def test_answers_carry_request_and_correlation_ids(emulator):
    emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, REG)

    status, headers, _ = call(
        emulator,
        "GET",
        f"{REG_PATH}?api-version={API_VERSION}",
        **{"x-ms-correlation-request-id": "corr-1"},
    )

    assert status == 200
    assert headers["x-ms-request-id"]
    assert headers["x-ms-correlation-request-id"] == "corr-1"


@pytest.mark.parametrize(
    ("query", "code"),
    [("", "MissingApiVersionParameter"), ("?api-version=2019-05-01", "NoRegisteredProviderFound")],
)
def test_api_version_is_checked(emulator, query, code):
    emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, REG)

    status, _, body = call(emulator, "GET", REG_PATH + query)

    assert status == 400
    assert body["error"]["code"] == code


def test_requests_without_a_bearer_token_are_refused(emulator):
    emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, REG)

    status, _, body = call(
        emulator, "GET", f"{REG_PATH}?api-version={API_VERSION}", Authorization=""
    )

    assert status == 401
    assert body["error"]["code"] == "AuthenticationFailed"


def test_patch_replaces_ip_rules_and_completes_through_azure_async_operation(emulator, client):
    emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, REG, rules=["1.2.3.4", "5.6.7.8"])
    emulator.patch_status = 201
    emulator.in_progress_polls = 2
    body = {"properties": {"networkRuleSet": {"defaultAction": "Deny", "ipRules": [
        {"action": "Allow", "value": "9.9.9.9"},
    ]}}}  # fmt: skip

    final = client.registries.begin_update(RESOURCE_GROUP, REG, body, cls=raw).result()

    assert emulator.rules(REG) == ["9.9.9.9"]
    assert final["properties"]["provisioningState"] == "Succeeded"
    kinds = [r.kind for r in emulator.requests]
    assert kinds == [
        "patch_registry",
        "operation_status",
        "operation_status",
        "operation_status",
        "get_registry",
    ]
    status_path = emulator.requests[1].path
    assert status_path.startswith(REG_PATH + "/operationStatuses/")


def test_patch_answers_200_at_once_with_the_whole_registry_by_default(emulator):
    emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, REG, rules=["1.2.3.4"])
    body = {
        "properties": {"networkRuleSet": {"ipRules": [{"action": "Allow", "value": "2.2.2.2"}]}}
    }

    status, headers, answer = call(emulator, "PATCH", f"{REG_PATH}?api-version={API_VERSION}", body)

    assert status == 200
    assert "Azure-AsyncOperation" not in headers
    assert answer == emulator.registry_json(REG)
    assert answer["properties"]["provisioningState"] == "Succeeded"
    # Fields of the rule set the PATCH does not name are kept (defaultAction here).
    assert answer["properties"]["networkRuleSet"] == {
        "defaultAction": "Deny",
        "ipRules": [{"action": "Allow", "value": "2.2.2.2"}],
    }


def test_patch_answers_201_with_updating_state_and_async_operation_header(emulator):
    emulator.patch_status = 201
    emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, REG)
    body = {"properties": {"networkRuleSet": {"defaultAction": "Deny", "ipRules": []}}}

    status, headers, answer = call(emulator, "PATCH", f"{REG_PATH}?api-version={API_VERSION}", body)

    assert status == 201
    assert answer["properties"]["provisioningState"] == "Updating"
    assert headers["Azure-AsyncOperation"].startswith(emulator.base_url + REG_PATH)
    op_path = headers["Azure-AsyncOperation"][len(emulator.base_url) :]
    assert call(emulator, "GET", op_path)[2]["status"] == "InProgress"
    assert call(emulator, "GET", op_path)[2]["status"] == "Succeeded"


def test_patch_of_network_rules_on_a_basic_registry_is_refused(emulator, client):
    emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, REG, sku="Basic")
    body = {"properties": {"networkRuleSet": {"defaultAction": "Deny", "ipRules": []}}}

    with pytest.raises(HttpResponseError) as caught:
        client.registries.begin_update(RESOURCE_GROUP, REG, body).result()

    assert caught.value.status_code == 400
    assert caught.value.error.code == "NetworkRuleNotSupported"


def test_patch_over_the_quota_is_refused_with_acrs_message(emulator, client):
    emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, REG, ip_rule_limit=2)
    rules = [{"action": "Allow", "value": f"20.0.0.{i}"} for i in range(1, 4)]
    body = {"properties": {"networkRuleSet": {"defaultAction": "Deny", "ipRules": rules}}}

    with pytest.raises(HttpResponseError) as caught:
        client.registries.begin_update(RESOURCE_GROUP, REG, body).result()

    assert caught.value.error.code == "QuotaExceeded"
    assert caught.value.error.message == (
        "The requested feature IP rule exceeds allowed quota 2 for the SKU Premium."
    )
    assert emulator.rules(REG) == []


def test_list_usages_reports_ip_rules_against_the_limit(emulator, client):
    emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, REG, rules=["1.2.3.4"], ip_rule_limit=10)

    usages = {u.name: u for u in client.registries.list_usages(RESOURCE_GROUP, REG).value}

    assert (usages["IPRules"].limit, usages["IPRules"].current_value) == (10, 1)
    assert {"Size", "Webhooks", "Geo-replications", "VNetRules"} <= set(usages)


def test_unknown_fields_and_vnet_rules_are_kept_by_a_patch_that_sends_them(emulator, client):
    vnet = [{"action": "Allow", "id": "/subscriptions/x/subnets/a"}]
    emulator.add_registry(
        SUBSCRIPTION,
        RESOURCE_GROUP,
        REG,
        virtual_network_rules=vnet,
        extra_properties={"futureProperty": "x"},
    )
    nrs = emulator.registry_json(REG)["properties"]["networkRuleSet"]
    nrs["ipRules"] = [{"action": "Allow", "value": "1.2.3.4"}]

    client.registries.begin_update(
        RESOURCE_GROUP, REG, {"properties": {"networkRuleSet": nrs}}
    ).result()

    after = emulator.registry_json(REG)["properties"]
    assert after["networkRuleSet"]["virtualNetworkRules"] == vnet
    assert after["futureProperty"] == "x"


def test_injected_faults_are_served_in_order_and_logged(emulator, client):
    emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, REG)
    emulator.throttle("get_registry", times=1, retry_after=0)
    emulator.inject("get_registry", status=503)
    emulator.inject("get_registry", drop=True)

    client.registries.get(RESOURCE_GROUP, REG)

    assert emulator.count("get_registry") == 4


def test_a_slow_write_lands_before_its_late_answer(emulator):
    # Applied at once, answered past the caller's read time-out: the caller cannot tell it landed.
    emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, REG, rules=["1.2.3.4"])
    emulator.slow("patch_registry", 1.0)
    body = {"properties": {"networkRuleSet": {"ipRules": [{"value": "2.2.2.2"}]}}}

    with pytest.raises(TimeoutError):  # the read timed out
        call(emulator, "PATCH", f"{REG_PATH}?api-version={API_VERSION}", body, timeout=0.3)

    assert emulator.rules(REG) == ["2.2.2.2"]
    emulator.wait_idle()
    assert emulator.count("patch_registry") == 1
    status, _, answer = call(emulator, "GET", f"{REG_PATH}?api-version={API_VERSION}")
    assert (status, answer["properties"]["networkRuleSet"]["ipRules"][0]["value"]) == (
        200,
        "2.2.2.2",
    )


def test_a_hook_acts_as_a_foreign_writer_when_the_request_arrives(emulator, client):
    emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, REG, rules=["1.2.3.4"])
    emulator.on("get_registry", lambda emu: emu.add_rule(REG, "5.6.7.0/24"))

    seen = client.registries.get(RESOURCE_GROUP, REG, cls=raw)
    again = client.registries.get(RESOURCE_GROUP, REG, cls=raw)

    assert [r["value"] for r in seen["properties"]["networkRuleSet"]["ipRules"]] == [
        "1.2.3.4",
        "5.6.7.0/24",
    ]
    assert seen == again  # the hook ran once


def test_two_unlocked_read_modify_writes_lose_an_update(emulator, client):
    # What the bot's lock exists for: both read [A], each writes [A, own], the last one wins.
    emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, REG, rules=["1.2.3.4"])
    emulator.read_delay = 0.2

    def add(ip: str) -> None:
        nrs = client.registries.get(RESOURCE_GROUP, REG, cls=raw)["properties"]["networkRuleSet"]
        nrs["ipRules"].append({"action": "Allow", "value": ip})
        client.registries.begin_update(
            RESOURCE_GROUP, REG, {"properties": {"networkRuleSet": nrs}}
        ).result()

    threads = [threading.Thread(target=add, args=(ip,)) for ip in ("20.0.0.1", "20.0.0.2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(emulator.rules(REG)) == 2


def test_start_returns_base_url_and_ca_and_stop_closes():
    emu = ArmEmulator()
    base_url, ca_path = emu.start()
    try:
        assert base_url.startswith("https://127.0.0.1:")
        assert Path(ca_path).read_text().startswith("-----BEGIN CERTIFICATE-----")
    finally:
        emu.stop()
