from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
PROD = str(EXAMPLES / "registries" / "contosoprod.json")
PRIVATE = str(EXAMPLES / "registries" / "contosoprivate.arm.json")
KNOWN = str(EXAMPLES / "known-ips.json")
TAGS = str(EXAMPLES / "service-tags.json")

SEED = (
    'Error response from daemon: Head "https://cr.contoso.cloud/v2/nginx/manifests/latest": '
    "denied: client with IP '91.38.188.165' is not allowed access. "
    "Refer https://aka.ms/acr/firewall to grant access."
)


def _denial(ip: str, registry: str = "contosoprod.azurecr.io") -> str:
    return (
        f'Error response from daemon: Head "https://{registry}/v2/web/manifests/3.0.0": '
        f"denied: client with IP '{ip}' is not allowed access. "
        "Refer https://aka.ms/acr/firewall to grant access."
    )


def _run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code = main(["diagnose", "--json", *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == ""
    data: dict[str, Any] = json.loads(out)
    return data


def _run_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(["diagnose", *argv])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("bot diagnose: error: ")
    return lines[0]


def test_json_output_carries_the_contract_fields(capsys: pytest.CaptureFixture[str]) -> None:
    data = _run_json(
        capsys,
        "--registry-json", PROD, "--known-ips", KNOWN, "--service-tags", TAGS,
        "--custom-domain", "cr.contoso.cloud=contosoprod.azurecr.io",
        SEED,
    )  # fmt: skip
    for key in ("kind", "ips", "registry", "custom_domain", "client", "verdict", "summary",
                "recommendation", "steps", "grant_eligible", "grant_warning", "facts"):  # fmt: skip
        assert key in data
    assert isinstance(data["steps"], list)
    assert data["recommendation"] == "\n".join(data["steps"])
    assert data["kind"] == "ip_denied"
    assert data["ips"] == ["91.38.188.165"]
    assert data["registry"] == "contosoprod.azurecr.io"
    assert data["custom_domain"] == "cr.contoso.cloud"
    assert data["client"] == "docker"
    assert data["verdict"] == "ip_not_allowed"
    assert data["grant_eligible"] is True
    assert data["grant_ip"] == "91.38.188.165"
    assert data["facts"]["registry_name"] == "contosoprod"
    assert data["facts"]["quota_used"] == 3
    assert "X-Forwarded-For" in data["recommendation"]


def test_text_is_read_from_stdin_when_omitted_or_dash(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(_denial("85.214.10.20")))
    assert _run_json(capsys, "--registry-json", PROD)["verdict"] == "already_allowed"
    monkeypatch.setattr(sys, "stdin", io.StringIO(_denial("85.214.10.20")))
    data = _run_json(capsys, "--registry-json", PROD, "-")
    assert data["facts"]["matched_rule"] == "85.214.10.0/24"


def test_readable_output_names_verdict_and_next_steps(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["diagnose", "--registry-json", PROD, _denial("85.214.10.20")])
    out, err = capsys.readouterr()
    assert code == 0
    assert err == ""
    assert out.startswith("Verdict: already_allowed\n")
    assert "85.214.10.0/24" in out
    assert "What to do:" in out
    assert "retry in 5 minutes" in out


def test_without_snapshots_the_paste_alone_decides(capsys: pytest.CaptureFixture[str]) -> None:
    data = _run_json(
        capsys,
        "--service-tags",
        str(EXAMPLES / "service-tags.json"),
        _denial("91.38.188.165", "fabrikam.azurecr.io"),
    )
    assert data["verdict"] == "ip_not_allowed"
    assert data["registry"] == "fabrikam.azurecr.io"
    assert data["grant_eligible"] is True


def test_without_service_tags_no_rule_is_offered_and_the_cli_says_why(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Defect 6: `diagnose` without `--service-tags` offered a rule for a hosted runner's Azure
    # address. It fails closed now, in the JSON and in the readable output.
    data = _run_json(capsys, _denial("20.103.186.69", "fabrikam.azurecr.io"))
    assert data["verdict"] == "ip_not_allowed"
    assert data["grant_eligible"] is False
    assert "no service tags were given (--service-tags)" in data["facts"]["grant_refusal"]
    code = main(["diagnose", _denial("20.103.186.69", "fabrikam.azurecr.io")])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "cannot tell whether 20.103.186.69 is one of Azure's shared addresses" in out


def test_registry_absent_from_given_snapshots_is_unknown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = _run_json(
        capsys, "--registry-json", PROD, _denial("91.38.188.165", "fabrikam.azurecr.io")
    )
    assert data["verdict"] == "registry_unknown"
    assert data["facts"]["known_registries"] == ["contosoprod.azurecr.io"]
    assert data["grant_eligible"] is False


def test_arm_rest_snapshot_and_json_array_are_accepted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    both = tmp_path / "both.json"
    docs = [json.loads(Path(PROD).read_text()), json.loads(Path(PRIVATE).read_text())]
    both.write_text(json.dumps(docs))
    data = _run_json(
        capsys, "--registry-json", str(both), _denial("91.38.188.165", "contosoprivate.azurecr.io")
    )
    assert data["verdict"] == "public_access_disabled"
    data = _run_json(capsys, "--registry-json", str(both), _denial("85.214.10.9"))
    assert data["verdict"] == "already_allowed"


def test_known_ips_and_service_tags_files_are_used(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--registry-json", PROD, "--known-ips", KNOWN, "--service-tags", TAGS]
    data = _run_json(capsys, *args, _denial("4.175.12.34"))
    assert data["verdict"] == "known_gateway_not_allowed"
    assert data["facts"]["gateway_label"] == "NAT gateway ng-aks-prod-westeurope"
    data = _run_json(capsys, *args, _denial("20.103.186.69"))
    assert data["verdict"] == "azure_service_ip"
    assert data["facts"]["service_tags"][0] == "AzureContainerApps.WestEurope"


def test_unrecognized_text_still_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    data = _run_json(capsys, "it is broken, please help")
    assert data["verdict"] == "unrecognized"
    assert data["ips"] == []
    assert data["registry"] is None


def test_redacted_ip_gives_empty_ips(capsys: pytest.CaptureFixture[str]) -> None:
    data = _run_json(capsys, _denial("x.x.x.x"))
    assert data["verdict"] == "ip_redacted"
    assert data["ips"] == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON"),
        ('{"foo": 1}', "is not a registry"),
        ("[1, 2]", "is not a registry"),
    ],
)
def test_bad_registry_file_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "reg.json"
    path.write_text(content)
    assert message in _run_error(capsys, "--registry-json", str(path), SEED)


def test_missing_file_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert "cannot read" in _run_error(capsys, "--registry-json", str(tmp_path / "nope.json"), SEED)
    assert "cannot read" in _run_error(capsys, "--known-ips", str(tmp_path / "nope.json"), SEED)


def test_bad_known_ips_are_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "known.json"
    path.write_text('{"10.0.0.0/33": "bad"}')
    assert "10.0.0.0/33" in _run_error(capsys, "--known-ips", str(path), SEED)
    path.write_text('["10.0.0.0/8"]')
    assert "JSON object" in _run_error(capsys, "--known-ips", str(path), SEED)


def test_bad_service_tags_are_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "tags.json"
    path.write_text('{"values": [{"name": "X", "properties": {"addressPrefixes": ["nope"]}}]}')
    assert "bad prefix" in _run_error(capsys, "--service-tags", str(path), SEED)


@pytest.mark.parametrize("value", ["cr.contoso.cloud", "=contosoprod.azurecr.io", "a b=c.d", "x=y"])
def test_bad_custom_domain_is_a_usage_error(capsys: pytest.CaptureFixture[str], value: str) -> None:
    assert "DOMAIN=LOGIN_SERVER" in _run_error(capsys, "--custom-domain", value, SEED)


def test_unknown_option_is_a_one_line_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert "--bogus" in _run_error(capsys, "--bogus", SEED)


def test_missing_subcommand_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("bot: error:")


def _subprocess_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACRBOT_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def test_python_m_bot_diagnose_json_reads_stdin() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "diagnose", "--json", "--registry-json", PROD,
         "--custom-domain", "cr.contoso.cloud=contosoprod.azurecr.io"],
        input=SEED, capture_output=True, text=True, cwd=ROOT, env=_subprocess_env(), timeout=60,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    data = json.loads(proc.stdout)
    assert data["verdict"] == "ip_not_allowed"
    assert data["registry"] == "contosoprod.azurecr.io"
    assert data["custom_domain"] == "cr.contoso.cloud"


def test_python_m_bot_usage_error_exits_two_with_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "diagnose", "--json", "--custom-domain", "nope"],
        input=SEED, capture_output=True, text=True, cwd=ROOT, env=_subprocess_env(), timeout=60,
        check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("bot diagnose: error: --custom-domain 'nope'")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_json_carries_the_steps_the_warning_and_the_failed_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    paste = (
        "$ az containerapp update -n orders -g rg --image contosoprod.azurecr.io/orders:2\n"
        + _denial("20.103.186.69").replace("Error response from daemon", "containerapp")
    )
    data = _run_json(capsys, "--registry-json", PROD, "--service-tags", TAGS, paste)
    assert data["verdict"] == "azure_service_ip"
    assert data["client"] == "container_apps"
    assert data["grant_eligible"] is True
    assert "Azure-owned" in data["grant_warning"]
    assert data["facts"]["azure_egress"] == "stays_with_resource"
    data = _run_json(capsys, "$ docker pull contosoprod.azurecr.io/web:3\nsh: docker: not found")
    assert data["verdict"] == "not_a_firewall_error"
    assert data["cause"] == "local_tool"
    assert data["facts"]["cause"] == "local_tool"
    assert data["command"] == "docker pull contosoprod.azurecr.io/web:3"
    assert data["grant_warning"] is None


def test_readable_output_lists_each_step(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", "--registry-json", PROD, _denial("91.38.188.165")]) == 0
    out = capsys.readouterr().out
    steps = out.split("What to do:\n", 1)[1].splitlines()
    assert len(steps) >= 2
    assert all(line.startswith("  - ") for line in steps)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"name": "x", "networkRuleSet": {"ipRules": "abc"}},
         "networkRuleSet.ipRules: Input should be a valid list"),
        ({"name": "x", "networkRuleSet": "open"}, "networkRuleSet: Input should be a valid "
         "dictionary"),
        ({"name": "x", "networkRuleSet": {"ipRules": [5]}}, "networkRuleSet.ipRules.0: Input "
         "should be a valid dictionary"),
        ({"name": "x", "properties": {"publicNetworkAccess": ["Enabled"]}}, "properties."
         "publicNetworkAccess: Input should be a valid string"),
        ({"name": "x", "location": {"a": 1}}, "location: Input should be a valid string"),
        ([{"name": "ok"}, 7], "entry 1 is not a registry"),
    ],
)  # fmt: skip
def test_structurally_wrong_registry_json_is_one_line_naming_file_and_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, document: object, problem: str
) -> None:
    path = tmp_path / "reg.json"
    path.write_text(json.dumps(document))
    line = _run_error(capsys, "--registry-json", str(path), SEED)
    assert str(path) in line
    assert problem in line


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("option", "content", "what"),
    [
        ("--registry-json", _deep(100_000), "registry file"),
        ("--service-tags", '{"values": ' + _deep(100_000) + "}", "service tags file"),
        ("--known-ips", '{"a": ' + _deep(100_000) + "}", "known IPs file"),
    ],
)
def test_deeply_nested_json_is_a_usage_error_not_a_crash(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, option: str, content: str, what: str
) -> None:
    path = tmp_path / "deep.json"
    path.write_text(content)
    line = _run_error(capsys, option, str(path), SEED)
    assert f"{what} {str(path)!r}" in line
    assert "nested too deeply" in line


def _run_bytes(stdin: bytes, *argv: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "diagnose", *argv],
        input=stdin, capture_output=True, cwd=ROOT, env={**_subprocess_env(), **env}, timeout=60,
        check=False,
    )  # fmt: skip


def test_invalid_utf8_on_strict_stdin_is_one_line_and_exit_two() -> None:
    proc = _run_bytes(b"denied: client with IP \xff\xfe", PYTHONIOENCODING="utf-8:strict")
    assert proc.returncode == 2
    assert proc.stdout == b""
    err = proc.stderr.decode()
    assert err.startswith("bot diagnose: error: standard input is not valid UTF-8")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "env",
    [{"LC_ALL": "C", "LANG": "C"}, {"PYTHONUTF8": "1"}],
    ids=["c-locale", "utf8-mode"],
)
def test_invalid_utf8_on_stdin_is_refused_under_any_locale(env: dict[str, str]) -> None:
    # Under the C locale (and in UTF-8 mode) Python reads stdin with `surrogateescape`: bytes
    # that are not UTF-8 became a paste, and the command exited 0.
    proc = _run_bytes(b"denied: client with IP \xff\xfe", **env)
    assert proc.returncode == 2
    assert proc.stdout == b""
    err = proc.stderr.decode()
    assert err.startswith("bot diagnose: error: standard input is not valid UTF-8")
    assert len(err.strip().splitlines()) == 1


def test_structurally_wrong_file_through_the_real_command(tmp_path: Path) -> None:
    path = tmp_path / "reg.json"
    path.write_text('{"name": "x", "networkRuleSet": {"ipRules": [5]}}')
    proc = _run_bytes(SEED.encode(), "--json", "--registry-json", str(path))
    assert proc.returncode == 2
    assert proc.stdout == b""
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1
    assert str(path) in lines[0]


def test_a_terminal_that_cannot_print_the_paste_gets_escapes_not_a_crash() -> None:
    paste = "café: denied: client with IP '91.38.188.165' is not allowed access".encode()
    proc = _run_bytes(paste, "--json", PYTHONIOENCODING="ascii:strict")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b""
    assert json.loads(proc.stdout)["ips"] == ["91.38.188.165"]
    readable = _run_bytes(paste, PYTHONIOENCODING="ascii:strict")
    assert readable.returncode == 0, readable.stderr
    assert readable.stdout.startswith(b"Verdict: ip_not_allowed")


# -- long logs: the end is read, and the output says how much --------------------------------

_LOG_LINE = "2024-05-01T10:00:00.0000000Z ##[debug] layer 5f70bf18a086: Layer already exists\n"


def _long_log(tmp_path: Path, size: int = 3_100_000) -> Path:
    """A CI log of `size` bytes whose only error is its last line."""
    path = tmp_path / "build.log"
    with path.open("w", encoding="utf-8") as out:
        for _ in range(size // len(_LOG_LINE)):
            out.write(_LOG_LINE)
        out.write(_denial("20.61.12.7") + "\n")
    return path


def test_a_3mb_log_on_stdin_is_diagnosed_from_its_last_line(tmp_path: Path) -> None:
    log = _long_log(tmp_path)
    total = log.stat().st_size
    with log.open("rb") as stdin:
        proc = subprocess.run(
            [sys.executable, "-m", "bot", "diagnose", "--json", "--registry-json", PROD],
            stdin=stdin, capture_output=True, cwd=ROOT, env=_subprocess_env(), timeout=60,
            check=False,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["verdict"] == "ip_not_allowed"
    assert data["ips"] == ["20.61.12.7"]
    assert data["read"]["part"] == "end"
    assert data["read"]["total_bytes"] == total
    assert 1_000_000 - 4096 <= data["read"]["read_bytes"] <= 1_000_000

    with log.open("rb") as stdin:
        readable = subprocess.run(
            [sys.executable, "-m", "bot", "diagnose", "--registry-json", PROD],
            stdin=stdin, capture_output=True, cwd=ROOT, env=_subprocess_env(), timeout=60,
            check=False,
        )  # fmt: skip
    assert readable.returncode == 0, readable.stderr
    assert b"Verdict: ip_not_allowed" in readable.stdout
    assert b"Read:    the last 1.0 MB of 3.1 MB" in readable.stdout


def test_stdin_keeps_only_the_end_of_a_long_log_in_memory(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log = _long_log(tmp_path, 20_000_000)
    with log.open("rb") as raw:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(raw, encoding="utf-8"))
        tracemalloc.start()
        try:
            data = _run_json(capsys)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert data["ips"] == ["20.61.12.7"]
    assert data["read"]["total_bytes"] == log.stat().st_size
    assert peak < 20_000_000, peak  # the parse of 1 MB; the 20 MB log never held at once


def test_a_text_argument_over_the_window_says_so_too(capsys: pytest.CaptureFixture[str]) -> None:
    paste = _LOG_LINE * 30_000 + _denial("20.61.12.7")
    data = _run_json(capsys, paste)
    assert data["ips"] == ["20.61.12.7"]
    assert data["read"]["part"] == "end"
    assert data["read"]["total_bytes"] == len(paste)
    assert _run_json(capsys, _denial("20.61.12.7"))["read"]["part"] == "whole"


def test_a_bad_byte_past_the_first_chunk_is_named_by_its_offset() -> None:
    data = b"a" * 200_000 + b"\xff" + b"b" * 10
    proc = _run_bytes(data)
    assert proc.returncode == 2
    assert proc.stdout == b""
    assert "at byte 200000)" in proc.stderr.decode()


# -- settings that do not load: one line and exit 2, whichever command reads them ---------------

_SETTINGS_COMMANDS = [
    ["reconcile", "contoso"],
    ["sweep"],
    ["grants"],
    ["audit", "--grant", "01KJNS8W00A1B2C3D4E5F6G7H8"],
    ["report"],
    ["discover-egress", "--subscription", "00000000-0000-0000-0000-000000000000"],
    ["refresh-service-tags"],
]


@pytest.mark.parametrize("argv", _SETTINGS_COMMANDS, ids=lambda argv: argv[0])
@pytest.mark.parametrize(
    "setting",
    [
        ("ACRBOT_KNOWN_IPS", '{"not-an-ip": "x"}', "invalid setting known_ips: "),
        ("ACRBOT_REGISTRIES", "[not json", "ACRBOT_REGISTRIES is not valid JSON"),
    ],
    ids=["invalid", "not-json"],
)
def test_settings_that_do_not_load_are_one_line_and_exit_2(
    argv: list[str],
    setting: tuple[str, str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name, value, says = setting
    monkeypatch.setenv(name, value)

    code = main(argv)

    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    [line] = err.splitlines()
    assert line.startswith(f"bot {argv[0]}: error: {says}"), line
