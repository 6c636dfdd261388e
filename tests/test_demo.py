from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.demo import EXAMPLES_DIR, demo_step_diagnose, load_demo_inputs, main, run_demo

ROOT = Path(__file__).resolve().parents[1]

#: Every example paste and the verdict the demo must print for it.
EXPECTED = {
    "01-docker-app-gateway.txt": "ip_not_allowed",
    "02-container-apps.txt": "azure_service_ip",
    "03-container-instances-inaccessible-image.txt": "no_ip_in_error",
    "04-kubelet-event.txt": "no_ip_in_error",
    "05-already-allowed.txt": "already_allowed",
    "06-known-nat-gateway.txt": "known_gateway_not_allowed",
    "07-private-ip.txt": "private_ip",
    "08-ipv6.txt": "ipv6_not_supported",
    "09-redacted.txt": "ip_redacted",
    "10-unauthorized-401.txt": "not_a_firewall_error",
    "11-public-access-disabled.txt": "public_access_disabled",
    "12-github-hosted-runner.txt": "azure_service_ip",
    "13-unknown-registry.txt": "registry_unknown",
    "14-quota-full.txt": "rule_quota_full",
    "15-firewall-open.txt": "firewall_open",
    "16-unrecognized.txt": "unrecognized",
    "17-aks-private-dns.txt": "not_a_firewall_error",
    "18-container-apps-managed-identity.txt": "no_ip_in_error",
    "19-docker-hub-rate-limit.txt": "not_a_firewall_error",
    "20-docker-not-installed.txt": "not_a_firewall_error",
    "21-aks-node-azure-egress.txt": "azure_service_ip",
    "22-acr-task-agent.txt": "azure_service_ip",
    "23-quoted-wrapped-address.txt": "ip_not_allowed",
}


def _verdicts(output: str) -> dict[str, str]:
    sections = re.split(r"^--- (\S+) ---$", output, flags=re.MULTILINE)
    found: dict[str, str] = {}
    for name, body in zip(sections[1::2], sections[2::2], strict=True):
        match = re.search(r"^Verdict: (\w+)$", body, flags=re.MULTILINE)
        assert match, f"no verdict printed for {name}"
        found[name] = match.group(1)
    return found


def test_every_example_paste_is_listed_in_this_test() -> None:
    assert {p.name for p in load_demo_inputs().pastes} == set(EXPECTED)


def test_demo_prints_every_examples_verdict() -> None:
    out = io.StringIO()
    assert run_demo(out, steps=[demo_step_diagnose]) == 0
    assert _verdicts(out.getvalue()) == EXPECTED


def test_demo_offers_grants_exactly_where_a_temporary_rule_is_the_everyday_fix() -> None:
    out = io.StringIO()
    run_demo(out, steps=[demo_step_diagnose])
    grants = re.findall(r"^Grant:   a temporary allow rule for (\S+) can be requested$",
                        out.getvalue(), flags=re.MULTILINE)  # fmt: skip
    # The seed's two cases (a laptop behind the gateway, a Container App on an Azure-owned
    # address), an AKS node's Azure egress, and a quoted paste with its address wrapped.
    assert grants == ["91.38.188.165", "20.103.186.69", "52.236.40.7", "91.38.190.7"]
    warnings = re.findall(r"^Warning: (\S+) is an Azure-owned address", out.getvalue(),
                          flags=re.MULTILINE)  # fmt: skip
    assert warnings == ["20.103.186.69", "52.236.40.7"]


def test_demo_subcommand_prints_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert _verdicts(out) == EXPECTED
    # The conversation walks paste → diagnosis → request (what was entered, not placeholders)
    # → an approval shorter than asked, named on the card → the requester's one message edited
    # in place → a reminder → an extension that reaches the approvers → expiry at the deadline
    # → the approver's App Home, in that order.
    steps = [
        "@dana ran /acr-why",
        "[Request temporary access]",
        "@dana submitted “Request access”",
        "Why do you need it?: Deploying the 1.4 hotfix from my laptop",
        "# Access request: 91.38.188.165 on contosoprod.azurecr.io",
        "*Your request for `91.38.188.165` on `contosoprod.azurecr.io`*",
        "Approved by @ari for 1 h (asked 4 h); allowed until",
        "is allowed on `contosoprod.azurecr.io`",
        "ipRules 4.175.12.34, 91.38.188.165) after the approval",
        "Need longer?",
        "@dana submitted “Ask for more time”",
        ":hourglass_flowing_sand: @ari, @sam: @dana asks for 1 h more",
        "Extended by 1 h by @sam",
        "@sam extended it",
        "an hour and a half later, the sweep timer fires",
        ", at its deadline.",
        "ipRules 4.175.12.34) after the sweep",
        "@ari opened the app's Home tab",
        # Errors that hid the address but named the resource: each one's egress looked up with
        # one click, asked for, approved and applied.
        "@dana clicked “Look up shop-api's egress”",
        "Egress of Container App shop-api",
        "# Access request: 20.76.1.10 on contosoprod.azurecr.io",
        "after shop-api's looked-up egress was approved",
        "Egress of App Service / Function app shop-web",
        "after shop-web's looked-up egress was approved",
        "@dana clicked “Look up aks-prod's egress”",
        "Egress of AKS cluster aks-prod",
        "# Access request: 20.61.5.5 on contosoprod.azurecr.io",
        "after aks-prod's looked-up egress was approved",
        "Approve click to the 'Active' card:",
    ]
    positions = [out.find(step) for step in steps]
    assert all(p >= 0 for p in positions), dict(zip(steps, positions, strict=True))
    assert positions == sorted(positions)
    # One requester message for the request, edited in place (never a new DM per step), and no
    # placeholder shown as if it had been typed.
    conversation = out[positions[0] : out.find("(later: a pull on shop-api")]
    assert (
        conversation.count("*Your request for `91.38.188.165`")
        == conversation.count("DM @dana · acr-bot edited its message") + 1
    )
    assert "DM @dana · acr-bot\n    *Your request for `91.38.188.165`" in conversation
    assert "[Deploying the hotfix for INC-1234" not in out
    # Each resource's addresses are on the registry once approved (in the order ARM kept them).
    applied = re.findall(r"ipRules ([^)]*)\) after (\S+)'s looked-up egress", out)
    assert [(name, set(rules.split(", "))) for rules, name in applied] == [
        ("shop-api", {"4.175.12.34", "20.76.1.10", "20.76.1.11"}),
        ("shop-web", {"4.175.12.34", "20.76.1.10", "20.76.1.11", "52.166.0.1", "52.166.0.2"}),
        ("aks-prod", {"4.175.12.34", "20.76.1.10", "20.76.1.11", "52.166.0.1", "52.166.0.2",
                      "20.61.5.5"}),
    ]  # fmt: skip


def test_demo_with_broken_examples_exits_two(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "known-ips.json").write_text("{broken")
    assert main(["--examples", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("demo: error:")


def test_python_m_bot_demo_runs() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACRBOT_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "sandbox.demo"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert _verdicts(proc.stdout) == EXPECTED
    assert EXAMPLES_DIR == ROOT / "examples"
