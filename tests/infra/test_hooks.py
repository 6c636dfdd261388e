"""The azd hooks that `azure.yaml` names, run as azd runs them: in the project folder, with the
environment's values and the template's outputs as environment variables. The Azure CLI is a
stand-in on PATH that records each call (and what came on its standard input) and answers as
`az` does; the Functions admin API is a loopback server. No azd, Azure CLI or PowerShell runs
here: the PowerShell twins are held to the same steps by reading them."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOOKS = ROOT / "infra" / "hooks"
URL = "https://func-acrbot-abc123.westeurope-01.azurewebsites.net/api/slack/events"
TOKEN = "xoxb-1234-5678-abcdefgh"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"

FAKE_AZ = r"""#!/bin/sh
# A stand-in for the Azure CLI: records the call, answers as az would.
log="$AZ_LOG"
printf 'az' >>"$log"
for arg in "$@"; do printf ' %s' "$arg" >>"$log"; done
printf '\n' >>"$log"
case "$*" in
  "keyvault secret show "*)
    [ "${AZ_SECRETS_EXIST:-0}" = 1 ] && exit 0
    echo "ERROR: (SecretNotFound) A secret with (name/id) was not found in this key vault." >&2
    exit 3 ;;
  "keyvault secret set "*)
    printf 'stdin ' >>"$log"; cat >>"$log"; printf '\n' >>"$log"
    count=$(grep -c '^az keyvault secret set' "$log")
    if [ "$count" -le "${AZ_SET_FAILURES:-0}" ]; then
      echo "ERROR: (Forbidden) Caller is not authorized to perform action on resource." >&2
      exit 1
    fi
    exit 0 ;;
  "functionapp keys list "*)
    echo "master-key-from-az"
    exit 0 ;;
esac
exit 0
"""


@pytest.fixture
def fake_az(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    az = bin_dir / "az"
    az.write_text(FAKE_AZ, encoding="utf-8")
    az.chmod(az.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def run_hook(
    name: str, project: Path, bin_dir: Path, **env: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    log = project / "az.log"
    log.touch()
    base = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(project),
        "AZ_LOG": str(log),
        "AZURE_ENV_NAME": "acrbot-prod",
        "AZURE_RESOURCE_GROUP": "rg-acrbot-prod",
        "AZURE_FUNCTION_APP_NAME": "func-acrbot-abc123",
        "AZURE_KEY_VAULT_NAME": "kv-acrbot-abc123",
        "SLACK_REQUEST_URL": URL,
        "ACRBOT_HOOK_WAIT": "0",
    }
    done = subprocess.run(
        ["sh", str(HOOKS / name)],
        cwd=project,
        env=base | env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done, log.read_text(encoding="utf-8").splitlines()


# -- azure.yaml -------------------------------------------------------------------------------


def azure_yaml_hooks() -> dict[str, dict[str, dict[str, str]]]:
    """hook -> platform -> fields, read from azure.yaml's `hooks:` block (two-space YAML)."""
    text = (ROOT / "azure.yaml").read_text(encoding="utf-8")
    block = re.search(r"^hooks:\n((?:  .*\n|\n)+)", text, re.MULTILINE)
    assert block, "azure.yaml has no hooks"
    hooks: dict[str, dict[str, dict[str, str]]] = {}
    hook = platform = ""
    for line in block.group(1).splitlines():
        if m := re.fullmatch(r"  (\w+):", line):
            hook = m.group(1)
            hooks[hook] = {}
        elif m := re.fullmatch(r"    (\w+):", line):
            platform = m.group(1)
            hooks[hook][platform] = {}
        elif m := re.fullmatch(r"      (\w+): (.*)", line):
            hooks[hook][platform][m.group(1)] = m.group(2)
    return hooks


def test_azure_yaml_names_postprovision_and_postdeploy_for_both_shells() -> None:
    hooks = azure_yaml_hooks()

    assert set(hooks) == {"postprovision", "postdeploy"}
    for hook, platforms in hooks.items():
        assert platforms["posix"]["shell"] == "sh"
        assert platforms["posix"]["run"] == f"./infra/hooks/{hook}.sh"
        assert platforms["windows"]["shell"] == "pwsh"
        assert platforms["windows"]["run"] == f"./infra/hooks/{hook}.ps1"
        for fields in platforms.values():
            assert fields["continueOnError"] == "false"
    # The postprovision hook may ask for a secret on the terminal.
    assert hooks["postprovision"]["posix"]["interactive"] == "true"


def test_every_hook_azure_yaml_names_exists_and_the_posix_ones_are_executable() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "--stage", "infra/hooks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    modes = {line.split()[-1]: line.split()[0] for line in tracked.splitlines()}
    for platforms in azure_yaml_hooks().values():
        for platform, fields in platforms.items():
            path = ROOT / fields["run"]
            assert path.is_file(), fields["run"]
            if platform == "posix":
                assert os.access(path, os.X_OK), f"{path} is not executable"
                assert path.read_text(encoding="utf-8").startswith("#!/bin/sh\n")
                # azd clones lose the bit unless git records it.
                assert modes[fields["run"].removeprefix("./")] == "100755"


def test_azure_yaml_requires_an_azd_that_takes_array_and_object_parameters() -> None:
    text = (ROOT / "azure.yaml").read_text(encoding="utf-8")
    assert re.search(r'^requiredVersions:\n  azd: ">= 1\.23\.4"$', text, re.MULTILINE)


def test_the_posix_hooks_pass_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck") or str(Path(sys.executable).with_name("shellcheck"))
    scripts = sorted(str(p) for p in HOOKS.glob("*.sh"))
    done = subprocess.run(
        [shellcheck, "--shell=sh", "--severity=style", *scripts],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout


# -- postprovision ----------------------------------------------------------------------------


def test_postprovision_renders_the_manifest_with_this_deployments_url(
    tmp_path: Path, fake_az: Path
) -> None:
    done, _ = run_hook("postprovision.sh", tmp_path, fake_az, AZ_SECRETS_EXIST="1")

    assert done.returncode == 0, done.stderr
    rendered = tmp_path / ".azure" / "acrbot-prod" / "slack-manifest.json"
    manifest = json.loads(rendered.read_text(encoding="utf-8"))
    settings = manifest["settings"]
    assert manifest["features"]["slash_commands"][0]["url"] == URL
    assert settings["event_subscriptions"]["request_url"] == URL
    assert settings["interactivity"]["request_url"] == URL
    assert "${" not in rendered.read_text(encoding="utf-8")
    # Everything else is the template's.
    template = json.loads((ROOT / "manifest.template.json").read_text(encoding="utf-8"))
    assert manifest["oauth_config"] == template["oauth_config"]
    assert str(rendered.relative_to(tmp_path)) in done.stdout


def test_postprovision_refuses_a_url_that_is_not_the_apps(tmp_path: Path, fake_az: Path) -> None:
    for url in ("http://func.azurewebsites.net/api/slack/events", URL + "|rm", ""):
        done, calls = run_hook("postprovision.sh", tmp_path, fake_az, SLACK_REQUEST_URL=url)
        assert done.returncode != 0
        assert "SLACK_REQUEST_URL" in done.stderr
        assert calls == []


def test_postprovision_puts_the_secrets_in_key_vault_off_the_command_line_and_resolves_them(
    tmp_path: Path, fake_az: Path
) -> None:
    done, calls = run_hook(
        "postprovision.sh",
        tmp_path,
        fake_az,
        ACRBOT_SLACK_BOT_TOKEN=TOKEN,
        ACRBOT_SLACK_SIGNING_SECRET=SECRET,
    )

    assert done.returncode == 0, done.stderr
    commands = [c for c in calls if c.startswith("az ")]
    assert commands[0] == (
        "az keyvault secret set --vault-name kv-acrbot-abc123 --name slack-bot-token "
        "--file /dev/stdin --encoding utf-8 --output none"
    )
    assert commands[1].startswith(
        "az keyvault secret set --vault-name kv-acrbot-abc123 --name slack-signing-secret "
    )
    assert [c for c in calls if c.startswith("stdin ")] == [f"stdin {TOKEN}", f"stdin {SECRET}"]
    # Then one settings change, so App Service resolves the references again.
    assert re.fullmatch(
        r"az functionapp config appsettings set --resource-group rg-acrbot-prod --name "
        r"func-acrbot-abc123 --settings ACRBOT_SECRETS_SET_AT=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "
        r"--output none",
        commands[2],
    )
    assert len(commands) == 3
    for line in commands:
        assert TOKEN not in line
        assert SECRET not in line
    assert TOKEN not in done.stdout + done.stderr


def test_postprovision_keeps_secrets_the_vault_has_and_changes_no_setting(
    tmp_path: Path, fake_az: Path
) -> None:
    done, calls = run_hook("postprovision.sh", tmp_path, fake_az, AZ_SECRETS_EXIST="1")

    assert done.returncode == 0, done.stderr
    assert [c.split(" --")[0] for c in calls] == [
        "az keyvault secret show",
        "az keyvault secret show",
    ]
    assert "slack-bot-token: kept" in done.stdout


def test_postprovision_without_a_value_or_a_terminal_says_so_and_goes_on(
    tmp_path: Path, fake_az: Path
) -> None:
    done, calls = run_hook("postprovision.sh", tmp_path, fake_az)

    assert done.returncode == 0
    assert "slack-bot-token: not set" in done.stderr
    assert not any("secret set" in c or "appsettings" in c for c in calls)


def test_postprovision_refuses_something_that_is_not_a_bot_token(
    tmp_path: Path, fake_az: Path
) -> None:
    done, calls = run_hook(
        "postprovision.sh", tmp_path, fake_az, ACRBOT_SLACK_BOT_TOKEN="xapp-1-A0-app-token"
    )

    assert done.returncode == 1
    assert "ACRBOT_SLACK_BOT_TOKEN does not look like" in done.stderr
    assert not any("secret set" in c for c in calls)
    assert "xapp-1-A0-app-token" not in done.stderr


def test_postprovision_waits_for_a_new_role_on_the_vault(tmp_path: Path, fake_az: Path) -> None:
    done, calls = run_hook(
        "postprovision.sh",
        tmp_path,
        fake_az,
        ACRBOT_SLACK_BOT_TOKEN=TOKEN,
        AZ_SECRETS_EXIST="1",
        AZ_SET_FAILURES="2",
    )

    assert done.returncode == 0, done.stderr
    assert sum(c.startswith("az keyvault secret set") for c in calls) == 3
    assert done.stdout.count("not yet allowed") == 2
    assert any("appsettings set" in c for c in calls)


def test_postprovision_gives_up_on_a_vault_it_may_not_write(tmp_path: Path, fake_az: Path) -> None:
    done, calls = run_hook(
        "postprovision.sh",
        tmp_path,
        fake_az,
        ACRBOT_SLACK_BOT_TOKEN=TOKEN,
        AZ_SET_FAILURES="99",
        ACRBOT_HOOK_TRIES="3",
    )

    assert done.returncode == 1
    assert "could not set slack-bot-token in kv-acrbot-abc123" in done.stderr
    assert not any("appsettings" in c for c in calls)


# -- postdeploy -------------------------------------------------------------------------------


class AdminApi:
    """The Functions host's admin endpoint on loopback: answers 503 `starting` times, then 202."""

    def __init__(self, starting: int = 0) -> None:
        self.starting = starting
        self.requests: list[dict[str, Any]] = []

    def serve(self) -> Iterator[str]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                api.requests.append(
                    {
                        "path": self.path,
                        "key": self.headers.get("x-functions-key"),
                        "body": json.loads(self.rfile.read(length) or b"null"),
                    }
                )
                status = 503 if len(api.requests) <= api.starting else 202
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture
def admin() -> Iterator[tuple[AdminApi, str]]:
    api = AdminApi(starting=2)
    for url in api.serve():
        yield api, url


def test_postdeploy_runs_the_service_tag_refresh_in_the_app(
    tmp_path: Path, fake_az: Path, admin: tuple[AdminApi, str]
) -> None:
    api, url = admin

    done, calls = run_hook("postdeploy.sh", tmp_path, fake_az, AZURE_FUNCTION_APP_URL=url)

    assert done.returncode == 0, done.stderr
    assert calls == [
        "az functionapp keys list --resource-group rg-acrbot-prod --name func-acrbot-abc123 "
        "--query masterKey --output tsv"
    ]
    # Two 503s while the app starts, then the host takes the run.
    assert [r["path"] for r in api.requests] == ["/admin/functions/refresh_service_tags"] * 3
    assert api.requests[-1]["key"] == "master-key-from-az"
    assert api.requests[-1]["body"] == {"input": ""}
    assert "Service-tag refresh started" in done.stdout
    assert "python -m bot doctor --app" in done.stdout


def test_postdeploy_that_cannot_reach_the_app_leaves_it_to_the_timer(
    tmp_path: Path, fake_az: Path, admin: tuple[AdminApi, str]
) -> None:
    api, url = admin

    done, _ = run_hook(
        "postdeploy.sh", tmp_path, fake_az, AZURE_FUNCTION_APP_URL=url, ACRBOT_HOOK_TRIES="2"
    )

    assert done.returncode == 0
    assert len(api.requests) == 2
    assert "the daily timer will run it" in done.stderr


@pytest.mark.parametrize(
    ("hook", "output"),
    [("postprovision.sh", "AZURE_KEY_VAULT_NAME"), ("postdeploy.sh", "AZURE_FUNCTION_APP_URL")],
)
def test_a_hook_without_a_template_output_stops_before_any_call(
    tmp_path: Path, fake_az: Path, hook: str, output: str
) -> None:
    done, calls = run_hook(hook, tmp_path, fake_az, **{output: ""})

    assert done.returncode == 1
    assert done.stderr == (
        f"{hook.removesuffix('.sh')}: the template's output {output} is missing; "
        "run azd provision again\n"
    )
    assert calls == []


# -- the PowerShell twins ---------------------------------------------------------------------


def az_commands(text: str) -> list[str]:
    """The Azure CLI subcommands a script calls, in order (`keyvault secret set`, …)."""
    return re.findall(r"\baz ((?:[a-z]+ ){1,3}[a-z]+)(?= -)", text)


@pytest.mark.parametrize("hook", ["postprovision", "postdeploy"])
def test_the_powershell_hooks_make_the_same_calls(hook: str) -> None:
    # A posix hook is its script and the helpers it sources.
    sh = (HOOKS / f"{hook}.sh").read_text(encoding="utf-8")
    assert '. "$here/common.sh"' in sh
    sh += (HOOKS / "common.sh").read_text(encoding="utf-8")
    ps1 = (HOOKS / f"{hook}.ps1").read_text(encoding="utf-8")

    assert az_commands(ps1) == az_commands(sh)
    assert "$ErrorActionPreference = 'Stop'" in ps1
    for name in re.findall(r"\b(ACRBOT_[A-Z_]+|AZURE_[A-Z_]+|SLACK_REQUEST_URL)\b", sh):
        assert name in ps1, f"{hook}.ps1 does not use {name}"
    # A secret never goes on a command line: no `--value` in either.
    assert "--value" not in sh
    assert "--value" not in ps1
