"""`python -m bot discover-egress` and `python -m bot refresh-service-tags` through `bot.cli.main`,
against the loopback ARM emulator (configured as the app would be, by `ACRBOT_ARM__…`) and
Azurite. Only the identity is a stand-in: a static bearer token instead of Entra ID."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from bot import cli
from bot.cli import azure as cli_azure
from sandbox.arm_emulator import ArmEmulator
from sandbox.arm_network import NetworkResources
from services.azure.service_tags import ServiceTagStore
from tests.sandbox_helpers import StaticTokenCredential

SUB = "00000000-0000-0000-0000-0000000000e1"


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[ArmEmulator]:
    with ArmEmulator() as emu:
        monkeypatch.setenv("ACRBOT_ARM__ENDPOINT", emu.base_url)
        monkeypatch.setenv("ACRBOT_ARM__CA_BUNDLE", emu.ca_path)
        monkeypatch.setenv("ACRBOT_ARM__RETRY_TOTAL", "1")
        monkeypatch.setenv("ACRBOT_ARM__RETRY_BACKOFF_FACTOR", "0")
        monkeypatch.setattr(cli_azure, "_arm_credential", StaticTokenCredential)
        yield emu


@pytest.fixture
def network(emulator: ArmEmulator) -> NetworkResources:
    net = NetworkResources().attach(emulator)
    ip = net.add_public_ip(SUB, "rg-net", "pip-ng-aks-prod", "4.175.12.34")
    prefix = net.add_public_ip_prefix(SUB, "rg-net", "ippre-egress", "20.61.14.0/30")
    net.add_nat_gateway(SUB, "rg-net", "ng-aks-prod", public_ips=[ip], public_ip_prefixes=[prefix])
    agw = net.add_public_ip(SUB, "rg-edge", "pip-agw", "20.50.2.4")
    net.add_application_gateway(SUB, "rg-edge", "agw-registry", frontend_public_ips=[agw])
    return net


def test_lists_the_egress_addresses(
    network: NetworkResources, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["discover-egress", "--subscription", SUB])

    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "4.175.12.34        NAT gateway ng-aks-prod (rg-net)",
        "20.50.2.4          Application Gateway agw-registry (rg-edge)",
        "20.61.14.0/30      NAT gateway ng-aks-prod (rg-net) prefix ippre-egress",
    ]


def test_json_is_the_known_ips_object(
    network: NetworkResources, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["discover-egress", "--subscription", SUB, "--json"])

    out, _ = capsys.readouterr()
    assert code == 0
    assert json.loads(out) == {
        "4.175.12.34": "NAT gateway ng-aks-prod (rg-net)",
        "20.50.2.4": "Application Gateway agw-registry (rg-edge)",
        "20.61.14.0/30": "NAT gateway ng-aks-prod (rg-net) prefix ippre-egress",
    }


def test_write_creates_a_file_diagnose_accepts(
    network: NetworkResources, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "known-ips.json"

    code = cli.main(["discover-egress", "--subscription", SUB, "--write", str(target)])

    out, _ = capsys.readouterr()
    assert code == 0
    assert out.splitlines()[-1] == f"3 egress addresses found, 3 new; {target} now holds 3 entries"
    paste = "denied: client with IP '20.61.14.2' is not allowed access. Refer https://aka.ms/acr/firewall"
    assert cli.main(["diagnose", "--json", "--known-ips", str(target), paste]) == 0
    diagnosis = json.loads(capsys.readouterr().out)
    assert diagnosis["verdict"] == "known_gateway_not_allowed"
    assert diagnosis["facts"]["gateway_label"] == (
        "NAT gateway ng-aks-prod (rg-net) prefix ippre-egress"
    )


def test_write_merges_and_keeps_hand_written_entries(
    network: NetworkResources, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "known-ips.json"
    target.write_text(
        json.dumps({"4.175.12.34/32": "NAT gateway prod (by hand)", "10.20.0.0/16": "office VPN"})
    )

    code = cli.main(["discover-egress", "--subscription", SUB, "--write", str(target)])

    assert code == 0
    assert "3 egress addresses found, 2 new" in capsys.readouterr().out
    assert json.loads(target.read_text()) == {
        "4.175.12.34/32": "NAT gateway prod (by hand)",
        "10.20.0.0/16": "office VPN",
        "20.50.2.4": "Application Gateway agw-registry (rg-edge)",
        "20.61.14.0/30": "NAT gateway ng-aks-prod (rg-net) prefix ippre-egress",
    }
    assert [p.name for p in tmp_path.iterdir()] == ["known-ips.json"]


def test_an_unusable_file_to_merge_into_is_a_usage_error(
    network: NetworkResources, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "known-ips.json"
    target.write_text('{"not an address": "x"}')

    code = cli.main(["discover-egress", "--subscription", SUB, "--write", str(target)])

    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.startswith("bot discover-egress: error: known IP entry 'not an address'")
    assert target.read_text() == '{"not an address": "x"}'


def test_refused_by_azure_exits_1_with_one_line(
    emulator: ArmEmulator, network: NetworkResources, capsys: pytest.CaptureFixture[str]
) -> None:
    emulator.inject("other", status=403, code="AuthorizationFailed", message="no access")

    code = cli.main(["discover-egress", "--subscription", SUB])

    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert err == (
        f"bot discover-egress: error: cannot list NAT gateways in subscription {SUB}: "
        "403 AuthorizationFailed: no access\n"
    )


def test_unresolvable_references_are_warnings_on_stderr(
    network: NetworkResources, capsys: pytest.CaptureFixture[str]
) -> None:
    pending = network.add_public_ip(SUB, "rg-net", "pip-new", None)
    network.add_nat_gateway(SUB, "rg-net", "ng-new", public_ips=[pending])

    code = cli.main(["discover-egress", "--subscription", SUB])

    out, err = capsys.readouterr()
    assert code == 0
    assert len(out.splitlines()) == 3
    assert err.startswith("bot discover-egress: warning: NAT gateway ng-new (rg-net): ")
    assert err.rstrip().endswith("pip-new has no address allocated yet")


def test_subscription_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["discover-egress"])

    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.startswith("bot discover-egress: error: the following arguments are required")


@pytest.mark.azurite
def test_refresh_service_tags_stores_them_in_the_app_storage(
    emulator: ArmEmulator,
    monkeypatch: pytest.MonkeyPatch,
    azurite_connection_string: str,
    unique_name: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    NetworkResources().attach(emulator).set_service_tags(
        [
            {
                "name": "AzureContainerApps.WestEurope",
                "properties": {
                    "changeNumber": "3",
                    "region": "westeurope",
                    "systemService": "AzureContainerApps",
                    "addressPrefixes": ["20.103.186.0/24"],
                },
            }
        ],
        change_number="77",
    )
    monkeypatch.setenv("ACRBOT_STORAGE_CONNECTION_STRING", azurite_connection_string)
    monkeypatch.setenv("ACRBOT_DATA_CONTAINER", unique_name)
    monkeypatch.setenv("ACRBOT_SERVICE_TAGS__LOCATIONS", '["northeurope"]')

    code = cli.main(["refresh-service-tags", "--subscription", SUB, "--location", "westeurope"])

    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out == (
        "Stored 1 service tags (1 prefixes, change number 77) from westeurope in "
        f"{unique_name}/service-tags.json.\n"
    )
    container = BlobServiceClient.from_connection_string(
        azurite_connection_string
    ).get_container_client(unique_name)
    index = ServiceTagStore(container).load_index()
    assert index is not None
    assert index.lookup("20.103.186.69") == ("AzureContainerApps.WestEurope",)


def test_refresh_service_tags_without_a_subscription_exits_1(
    emulator: ArmEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["refresh-service-tags", "--location", "westeurope"])

    out, err = capsys.readouterr()
    assert (code, out) == (1, "")
    assert "ACRBOT_SERVICE_TAGS__SUBSCRIPTION_ID" in err
