"""`python -m bot report`: grants read from Azurite's tables with the environment's settings, the
table and the JSON object, and the usage errors (exit 2, one line)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from services.bootstrap import build_ports
from services.domain.grants import GrantState
from services.settings import Settings
from tests.sandbox_helpers import RESOURCE_GROUP, SUBSCRIPTION
from tests.services.flows.test_report import grant

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.azurite

CONTOSO, FABRIKAM = "contoso.azurecr.io", "fabrikam.azurecr.io"


@pytest.fixture
def env(azurite_connection_string: str, unique_name: str, monkeypatch) -> dict[str, str]:
    values = {
        "AzureWebJobsStorage": azurite_connection_string,
        "ACRBOT_TABLE_PREFIX": unique_name,
        "ACRBOT_REGISTRIES": json.dumps(
            [
                {"name": name, "subscription_id": SUBSCRIPTION, "resource_group": RESOURCE_GROUP}
                for name in ("contoso", "fabrikam")
            ]
        ),
        "ACRBOT_KNOWN_IPS": json.dumps({"4.175.12.34": "NAT gateway ng-aks-prod"}),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    store = build_ports(Settings()).grants
    for g in (
        grant("20.61.12.7", GrantState.EXPIRED, 30, user="U0DEV"),
        grant("20.61.12.7", GrantState.EXPIRED, 20, user="U0OPS"),
        grant("20.61.12.7", GrantState.ACTIVE, 0.05, user="U0DEV"),
        grant("4.175.12.34", GrantState.EXPIRED, 9, registry=FABRIKAM),
        grant("4.175.12.34", GrantState.REVOKED, 8, registry=FABRIKAM),
        grant("91.38.188.165", GrantState.EXPIRED, 3),
    ):
        store.create(g)
    return values


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["report", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_report_lists_recurring_ips_per_registry(env, capsys) -> None:
    code, out, err = run(capsys)

    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == (
        "Recurring IPs (granted 2 or more times): candidates for a permanent rule or a NAT gateway."
    )
    contoso, fabrikam = lines.index(CONTOSO), lines.index(FABRIKAM)
    assert contoso < fabrikam
    assert lines[contoso + 1].split() == [
        "IP", "GRANTS", "REQUESTS", "LAST", "USED", "(UTC)", "REQUESTERS", "NOTE"
    ]  # fmt: skip
    row = lines[contoso + 2].split()
    assert row[:3] == ["20.61.12.7", "3", "3"]
    assert "U0DEV (2), U0OPS (1)" in lines[contoso + 2]
    assert lines[contoso + 2].endswith("in use")
    assert lines[fabrikam + 2].split()[:3] == ["4.175.12.34", "2", "2"]
    assert lines[fabrikam + 2].endswith("known: NAT gateway ng-aks-prod")
    assert "91.38.188.165" not in out
    assert lines[-1].startswith("2 addresses on 2 registries; 1 already in ACRBOT_KNOWN_IPS")


def test_json_gives_one_object_with_every_candidate(env, capsys) -> None:
    code, out, _ = run(capsys, "--json", "--registry", "fabrikam")

    assert code == 0
    data = json.loads(out)
    assert data["registry"] == FABRIKAM
    assert data["min_grants"] == 2
    [candidate] = data["candidates"]
    assert candidate["ip"] == "4.175.12.34"
    assert candidate["grants"] == 2
    assert candidate["known_ip"] == "NAT gateway ng-aks-prod"
    assert candidate["in_use"] is False
    assert candidate["requesters"] == [{"user_id": "U0DEV", "team_id": "T0", "grants": 2}]
    assert set(candidate) >= {"first_granted", "last_granted", "last_used", "requests"}


def test_since_and_min_grants_narrow_it(env, capsys) -> None:
    code, out, _ = run(capsys, "--since", "2026-02-20", "--min-grants", "1", "--json")

    assert code == 0
    ips = {(c["registry"], c["ip"], c["grants"]) for c in json.loads(out)["candidates"]}
    assert ips == {
        (CONTOSO, "91.38.188.165", 1),
        (CONTOSO, "20.61.12.7", 1),
        (FABRIKAM, "4.175.12.34", 2),
    }


def test_nothing_recurring_says_so(env, capsys) -> None:
    code, out, _ = run(capsys, "--since", "2026-03-01T11:00:00+00:00")

    assert code == 0
    assert out.strip() == "No address was granted 2 or more times since 2026-03-01 11:00 UTC."


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--registry", "nosuch"], "bot report: error: unknown registry 'nosuch'"),
        (["--since", "last tuesday"], "bot report: error: argument --since: not a date"),
        (["--min-grants", "0"], "bot report: error: argument --min-grants: not a positive"),
        (["--bogus"], "bot report: error: unrecognized arguments: --bogus"),
    ],
)
def test_usage_errors_exit_2_with_one_line(env, capsys, argv, message) -> None:
    code, out, err = run(capsys, *argv)

    assert code == 2
    assert out == ""
    assert err.startswith(message)
    assert err.count("\n") == 1


def test_invalid_settings_exit_2_with_one_line(monkeypatch, capsys) -> None:
    monkeypatch.setenv("ACRBOT_KNOWN_IPS", '{"not-an-ip": "x"}')

    code, out, err = run(capsys)

    assert (code, out) == (2, "")
    assert err.startswith("bot report: error: invalid setting known_ips")
    assert err.count("\n") == 1


def test_it_runs_as_a_module(env) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "report", "--json"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["candidates"]) == 2
