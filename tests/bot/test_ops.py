"""`python -m bot reconcile` and `python -m bot sweep` run the flows with the environment's
settings: against Azurite and the ARM emulator here."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from sandbox.arm_emulator import ArmEmulator
from services.bootstrap import build_ports
from services.domain.grants import Requester
from services.flows.decisions import approve_grant
from services.flows.requests import request_grant
from services.settings import Settings
from tests.sandbox_helpers import RESOURCE_GROUP, SUBSCRIPTION, StaticTokenCredential

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.azurite


@pytest.fixture
def env(azurite_connection_string, unique_name, monkeypatch) -> Iterator[tuple[dict, ArmEmulator]]:
    with ArmEmulator() as emulator:
        emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, "contoso", rules=["1.1.1.1"])
        values = {
            "AzureWebJobsStorage": azurite_connection_string,
            "ACRBOT_TABLE_PREFIX": unique_name,
            "ACRBOT_QUEUE_NAME": f"{unique_name}-jobs",
            "ACRBOT_REGISTRIES": json.dumps(
                [{"name": "contoso", "subscription_id": SUBSCRIPTION,
                  "resource_group": RESOURCE_GROUP, "approvers": ["U0APPROVER"]}]
            ),
            "ACRBOT_ARM__ENDPOINT": emulator.base_url,
            "ACRBOT_ARM__CA_BUNDLE": emulator.ca_path,
            "ACRBOT_ARM__POLLING_INTERVAL": "0",
            "ACRBOT_ARM__LOCK_CONTAINER": unique_name,
        }  # fmt: skip
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        yield values, emulator


def approve_one(ip: str = "20.1.2.3") -> str:
    ports = build_ports(Settings(), credential=StaticTokenCredential())
    grant = request_grant(
        ports,
        registry="contoso",
        ip=ip,
        requester=Requester(user_id="U0REQ", team_id="T1"),
        justification="run by hand from the command line",
        duration=timedelta(hours=1),
    ).grant
    approve_grant(ports, grant.id, approver="U0APPROVER")
    return grant.id


def run_cli(*argv: str, capsys) -> tuple[int, str, str]:
    """The command line in-process, with ports signed in to the emulator by a static token."""
    from bot.cli import build_parser

    args = build_parser().parse_args(argv)
    ports = build_ports(Settings(), credential=StaticTokenCredential())
    code = args.handler(args, ports)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_reconcile_dry_run_prints_the_plan_and_changes_nothing(env, capsys) -> None:
    _values, emulator = env
    approve_one()
    code, out, err = run_cli("reconcile", "contoso", "--dry-run", capsys=capsys)
    assert code == 0, err
    assert "dry_run" in out
    assert "would become:  1.1.1.1, 20.1.2.3" in out
    assert emulator.rules("contoso") == ["1.1.1.1"]


def test_reconcile_applies_and_sweep_reports(env, capsys) -> None:
    _values, emulator = env
    grant_id = approve_one()
    code, out, err = run_cli("reconcile", "contoso.azurecr.io", capsys=capsys)
    assert code == 0, err
    assert f"activated: {grant_id} 20.1.2.3" in out
    assert emulator.rules("contoso") == ["1.1.1.1", "20.1.2.3"]
    code, out, err = run_cli("sweep", "--dry-run", capsys=capsys)
    assert code == 0, err
    assert "would expire 0" in out


def test_an_unmanaged_registry_is_a_one_line_error(env) -> None:
    import os

    values, _ = env
    out = subprocess.run(
        [sys.executable, "-m", "bot", "reconcile", "elsewhere"],
        capture_output=True,
        check=False,
        text=True,
        env={**os.environ, **values},
        cwd=ROOT,
    )
    assert out.returncode == 2
    [line] = out.stderr.strip().splitlines()
    assert line.startswith("bot reconcile: error: `elsewhere` is not a registry this bot manages")
    assert out.stdout == ""


def test_grants_and_the_auditors_csv(env, capsys) -> None:
    import csv
    import io

    grant_id = approve_one()
    code, out, err = run_cli("reconcile", "contoso", capsys=capsys)
    assert code == 0, err
    code, out, err = run_cli("grants", "--registry", "contoso", "--state", "active", capsys=capsys)
    assert code == 0, err
    assert grant_id in out
    assert "1 grant(s)" in out
    code, out, err = run_cli("grants", "--json", capsys=capsys)
    assert [json.loads(line)["id"] for line in out.splitlines()] == [grant_id]
    code, out, err = run_cli("audit", "--grant", grant_id, capsys=capsys)
    assert "pending -> approved" in out
    assert "approved -> active" in out
    code, out, err = run_cli(
        "audit", "--registry", "contoso.azurecr.io", "--since", "2000-01-01", "--format", "csv",
        capsys=capsys,
    )  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["added"] for r in rows] == ["20.1.2.3"]
    assert rows[0]["rules_before"] == "1.1.1.1"
    assert rows[0]["rules_after"] == "1.1.1.1 20.1.2.3"


@pytest.mark.parametrize("command", ["reconcile", "sweep"])
@pytest.mark.parametrize(
    "case",
    [
        ("ACRBOT_REGISTRIES", "[not json", 2, "ACRBOT_REGISTRIES is not valid JSON"),
        ("AzureWebJobsStorage", "this is not a connection string", 2, "connection string"),
        ("AzureWebJobsStorage", "unreachable", 1, "storage could not be reached"),
    ],
    ids=["non-json-setting", "malformed-connection-string", "unreachable-storage"],
)
def test_a_bad_environment_is_one_line_not_a_traceback(
    env, command: str, case: tuple[str, str, int, str], closed_port: int
) -> None:
    import os

    setting, value, code, says = case
    values, _ = env
    if value == "unreachable":
        port = closed_port
        value = (
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
            "AccountKey=c2VjcmV0LWtleS1mb3ItaGVhbHRoLXRlc3Q=;"
            f"BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
            f"QueueEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
            f"TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
        )
    args = [sys.executable, "-m", "bot", command] + (["contoso"] if command == "reconcile" else [])
    out = subprocess.run(
        args,
        capture_output=True,
        check=False,
        text=True,
        env={**os.environ, **values, setting: value},
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == code, out.stderr
    [line] = out.stderr.strip().splitlines()
    assert line.startswith(f"bot {command}: error: ")
    assert says in line
