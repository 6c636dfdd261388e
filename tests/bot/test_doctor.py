"""`python -m bot doctor` against the local stand-ins: Azurite for storage, the ARM emulator (with
its RBAC plug-in) for the registries, the Slack emulator for the token, its scopes and the
approver groups. A well-configured site passes every check; each misconfiguration fails its own
line, with a fix on that line, and the exit code is 1.

Only the identity is a stand-in: a static bearer token instead of Entra ID."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from bot import cli
from bot import doctor as doctor_module
from bot.doctor import REQUIRED_SCOPES
from sandbox.arm_authorization import RoleAssignments
from sandbox.arm_emulator import ArmEmulator
from sandbox.slack_emulator import SlackEmulator
from services.azure.service_tags import ServiceTagStore
from services.clock import FrozenClock
from services.flows.doctor import JOB_BACKLOG_WARNING
from services.settings import Settings
from tests.sandbox_helpers import RESOURCE_GROUP, SUBSCRIPTION, StaticTokenCredential

pytestmark = pytest.mark.azurite

TOKEN = "xoxb-doctor-token"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
GROUP = "S0APPROVERS"
REGISTRY = "contosoprod"
REGISTRY_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
    f"/providers/Microsoft.ContainerRegistry/registries/{REGISTRY}"
)
TAGS = {
    "changeNumber": "1",
    "cloud": "Public",
    "values": [
        {
            "name": "AzureContainerApps",
            "id": "AzureContainerApps",
            "properties": {"addressPrefixes": ["20.103.186.0/24"]},
        }
    ],
}


@dataclass
class Site:
    """A configured bot on the stand-ins; tests break one thing and run the doctor."""

    slack: SlackEmulator
    arm: ArmEmulator
    roles: RoleAssignments
    storage: str
    unique: str
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]

    def setenv(self, name: str, value: str) -> None:
        self.monkeypatch.setenv(name, value)

    def registries(self, **fields: object) -> None:
        entry = {
            "name": REGISTRY,
            "subscription_id": SUBSCRIPTION,
            "resource_group": RESOURCE_GROUP,
            "approver_group": GROUP,
            **fields,
        }
        self.setenv("ACRBOT_REGISTRIES", json.dumps([entry]))

    def doctor(self, *args: str) -> tuple[int, list[str], str]:
        code = cli.main(["doctor", *args])
        out, err = self.capsys.readouterr()
        return code, out.splitlines(), err

    def line(self, lines: list[str], check: str) -> str:
        found = [line for line in lines if line.split("  ", 1)[-1].lstrip().startswith(check)]
        assert found, f"no line for {check!r} in:\n" + "\n".join(lines)
        return found[0]

    def store_tags(self) -> None:
        blobs = BlobServiceClient.from_connection_string(self.storage)
        ServiceTagStore(blobs.get_container_client(self.unique)).save(TAGS)

    def poison(self, count: int) -> None:
        self.enqueue(f"{self.unique}-jobs-poison", count)

    def enqueue(self, name: str, count: int) -> None:
        queue = QueueClient.from_connection_string(self.storage, name)
        queue.create_queue()
        for i in range(count):
            queue.send_message(f"job {i}")


@pytest.fixture
def site(
    azurite_connection_string: str,
    unique_name: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Site]:
    with SlackEmulator(bot_token=TOKEN, scopes=REQUIRED_SCOPES) as slack, ArmEmulator() as arm:
        slack.add_user("U0APPROVER", "approver")
        slack.add_usergroup(GROUP, "acr-approvers", ["U0APPROVER", "U0APPROVER2"])
        arm.add_registry(SUBSCRIPTION, RESOURCE_GROUP, REGISTRY, rules=["4.175.12.34"])
        roles = RoleAssignments().attach(arm)
        # An operator with Reader: reads the registry; the app has the bot's role.
        roles.grant(f"/subscriptions/{SUBSCRIPTION}", ["*/read"])
        env = {
            "AzureWebJobsStorage": azurite_connection_string,
            "ACRBOT_TABLE_PREFIX": unique_name,
            "ACRBOT_QUEUE_NAME": f"{unique_name}-jobs",
            "ACRBOT_DATA_CONTAINER": unique_name,
            "ACRBOT_SLACK_BOT_TOKEN": TOKEN,
            "ACRBOT_SLACK_SIGNING_SECRET": SECRET,
            "ACRBOT_SLACK_API_URL": slack.api_url,
            "ACRBOT_SLACK_TEAM_IDS": json.dumps([slack.team_id]),
            "ACRBOT_SLACK_BOT_USER_ID": slack.bot_user_id,
            "ACRBOT_ARM__ENDPOINT": arm.base_url,
            "ACRBOT_ARM__CA_BUNDLE": arm.ca_path,
            "ACRBOT_ARM__RETRY_BACKOFF_FACTOR": "0",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(doctor_module, "_arm_credential", StaticTokenCredential)
        made = Site(slack, arm, roles, azurite_connection_string, unique_name, monkeypatch, capsys)
        made.registries()
        made.store_tags()
        yield made


def test_a_working_configuration_passes_every_check(site: Site) -> None:
    code, lines, err = site.doctor()

    assert (code, err) == (0, "")
    checks = [
        "settings",
        "slack workspaces",
        "slack signing secret",
        "slack bot token",
        "slack scopes",
        f"registry {REGISTRY}",
        f"registry {REGISTRY} firewall",
        f"registry {REGISTRY} rule quota",
        f"registry {REGISTRY} role",
        f"approvers {REGISTRY}",
        "storage",
        "job queue",
        "poison queue",
        "service tags",
    ]
    for check in checks:
        assert site.line(lines, check).startswith(("ok", "skip")), site.line(lines, check)
    # From a laptop the app's role is checked by the app (`--app`), not by this identity.
    assert site.line(lines, f"registry {REGISTRY} role").startswith("skip")
    assert "1 of 200 IP rules in use" in site.line(lines, f"registry {REGISTRY} rule quota")
    assert "2 can approve (user group S0APPROVERS: 2)" in site.line(lines, f"approvers {REGISTRY}")
    assert lines[-1].startswith(f"{len(lines) - 1} checks: ")
    assert "failed" not in lines[-1]


def test_json_is_one_object_with_every_check(site: Site) -> None:
    code, lines, _ = site.doctor("--json")

    body = json.loads("\n".join(lines))
    assert code == 0
    assert body["status"] == "ok"
    assert {c["check"] for c in body["checks"]} >= {"settings", "storage", "service tags"}
    assert all(set(c) <= {"check", "status", "detail", "fix"} for c in body["checks"])


def assert_fails(site: Site, check: str, *words: str) -> str:
    code, lines, err = site.doctor()
    line = site.line(lines, check)
    assert code == 1, "\n".join(lines)
    assert err == ""
    assert line.startswith("FAIL"), line
    assert " -> fix: " in line, line
    for word in words:
        assert word in line, line
    return line


# -- the settings ------------------------------------------------------------------------------


def test_settings_that_do_not_load_are_one_failed_line(site: Site) -> None:
    site.setenv("ACRBOT_REGISTRIES", '[{"name": "x"}]')

    code, lines, _ = site.doctor()

    assert code == 1
    assert len(lines) == 2
    assert lines[0].startswith("FAIL  settings")
    assert "ACRBOT_REGISTRIES" in lines[0]
    assert "-> fix: correct the value" in lines[0]


def test_no_registries(site: Site) -> None:
    site.setenv("ACRBOT_REGISTRIES", "[]")
    assert_fails(site, "settings", "no registries", "ACRBOT_REGISTRIES")


def test_no_team_ids(site: Site) -> None:
    site.setenv("ACRBOT_SLACK_TEAM_IDS", "[]")
    assert_fails(site, "slack workspaces", "any workspace", "azd env set ACRBOT_SLACK_TEAM_IDS")


def test_a_signing_secret_that_is_still_a_key_vault_reference(site: Site) -> None:
    site.setenv(
        "ACRBOT_SLACK_SIGNING_SECRET",
        "@Microsoft.KeyVault(SecretUri=https://kv-acrbot.vault.azure.net/secrets/slack-signing-secret/)",
    )
    line = assert_fails(site, "slack signing secret", "literal Key Vault reference")
    assert "a restart does not" in line
    assert "kv-acrbot" not in line  # the reference is not echoed


def test_a_missing_signing_secret(site: Site) -> None:
    site.setenv("ACRBOT_SLACK_SIGNING_SECRET", "")
    assert_fails(site, "slack signing secret", "not set", "Signing Secret")


# -- Slack ------------------------------------------------------------------------------------


def test_a_bot_token_that_is_still_a_key_vault_reference(site: Site) -> None:
    site.setenv("ACRBOT_SLACK_BOT_TOKEN", "@Microsoft.KeyVault(VaultName=kv;SecretName=t)")
    assert_fails(site, "slack bot token", "literal Key Vault reference", "slack-bot-token")
    assert site.slack.calls("auth.test") == []


def test_a_token_slack_refuses(site: Site) -> None:
    site.setenv("ACRBOT_SLACK_BOT_TOKEN", "xoxb-not-this-one")
    line = assert_fails(site, "slack bot token", "invalid_auth", "Bot User OAuth Token")
    assert "xoxb-not-this-one" not in line


def test_a_revoked_token(site: Site) -> None:
    site.slack.fail("auth.test", "token_revoked")
    assert_fails(site, "slack bot token", "token_revoked", "reinstall")


def test_a_token_of_another_workspace(site: Site) -> None:
    site.setenv("ACRBOT_SLACK_TEAM_IDS", '["T0OTHER"]')
    assert_fails(site, "slack workspace of the token", site.slack.team_id, "T0OTHER")


def test_a_wrong_bot_user_id(site: Site) -> None:
    site.setenv("ACRBOT_SLACK_BOT_USER_ID", "U0SOMEONE")
    assert_fails(site, "slack bot user id", "U0SOMEONE", site.slack.bot_user_id)


def test_a_missing_scope_and_an_unused_one(site: Site) -> None:
    site.slack.scopes = frozenset(REQUIRED_SCOPES - {"usergroups:read"} | {"users:read"})

    line = assert_fails(site, "slack scopes", "missing usergroups:read", "generated manifest")

    _, lines, _ = site.doctor()
    assert "users:read" not in line
    # Without the scope the group cannot be read either: Slack's own `missing_scope`.
    assert "missing_scope" in site.line(lines, f"approvers {REGISTRY}")


def test_a_scope_the_bot_never_uses_is_a_warning(site: Site) -> None:
    site.slack.scopes = frozenset(REQUIRED_SCOPES | {"users:read"})

    code, lines, _ = site.doctor()

    assert code == 0
    line = site.line(lines, "slack scopes")
    assert line.startswith("warn")
    assert "users:read" in line


# -- registries -------------------------------------------------------------------------------


def test_a_registry_azure_does_not_know(site: Site) -> None:
    site.registries(resource_group="rg-elsewhere")
    assert_fails(site, f"registry {REGISTRY}", "not found", "rg-elsewhere", "resource_group")


def test_a_registry_this_identity_may_not_read(site: Site) -> None:
    site.roles.revoke(f"/subscriptions/{SUBSCRIPTION}")
    line = assert_fails(site, f"registry {REGISTRY}", "AuthorizationFailed", "doctor --app")
    assert "signed-in identity" in line


def test_an_open_firewall(site: Site) -> None:
    site.arm.add_registry(SUBSCRIPTION, RESOURCE_GROUP, REGISTRY, default_action="Allow")
    assert_fails(
        site, f"registry {REGISTRY} firewall", "defaultAction is Allow", "--default-action Deny"
    )


def test_public_network_access_disabled(site: Site) -> None:
    site.arm.add_registry(SUBSCRIPTION, RESOURCE_GROUP, REGISTRY, public_network_access="Disabled")
    assert_fails(site, f"registry {REGISTRY} firewall", "Disabled", "Selected networks")


def test_a_registry_below_premium(site: Site) -> None:
    site.arm.add_registry(SUBSCRIPTION, RESOURCE_GROUP, REGISTRY, sku="Standard")
    assert_fails(site, f"registry {REGISTRY} firewall", "Standard SKU", "Premium")


def test_a_full_rule_quota(site: Site) -> None:
    site.arm.add_registry(
        SUBSCRIPTION, RESOURCE_GROUP, REGISTRY, rules=["1.1.1.1", "2.2.2.2"], ip_rule_limit=2
    )
    assert_fails(site, f"registry {REGISTRY} rule quota", "2 of 2", "python -m bot report")


# -- approvers --------------------------------------------------------------------------------


def test_an_approver_group_slack_does_not_know(site: Site) -> None:
    site.registries(approver_group="S0TYPO")
    assert_fails(site, f"approvers {REGISTRY}", "S0TYPO", "no_such_subteam", "group's id")


def test_nobody_to_approve(site: Site) -> None:
    site.registries(approver_group=None)
    assert_fails(site, f"approvers {REGISTRY}", "nobody can approve", "approver_group")


def test_fewer_approvers_than_required_approvals(site: Site) -> None:
    site.registries(approver_group=None, approvers=["U0APPROVER"], required_approvals=2)
    assert_fails(site, f"approvers {REGISTRY}", "1 approver(s) for 2", "required_approvals")


# -- storage, queues, service tags ------------------------------------------------------------


def test_storage_that_refuses_this_identity(site: Site) -> None:
    # Azurite refuses a wrong account key as Azure Storage refuses an identity without a data
    # role: 403.
    wrong_key = site.storage.replace("AccountKey=", "AccountKey=AAAA", 1)
    site.setenv("AzureWebJobsStorage", wrong_key)
    line = assert_fails(site, "storage", "403", "ACRBOT_OPERATOR_PRINCIPAL_IDS")
    assert "AccountKey" not in line


def test_storage_nobody_answers(site: Site, closed_port: int) -> None:
    site.setenv(
        "AzureWebJobsStorage",
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        "AccountKey=c2VjcmV0LWtleS1mb3ItZG9jdG9yLXRlc3Q=;"
        f"BlobEndpoint=http://127.0.0.1:{closed_port}/devstoreaccount1;"
        f"QueueEndpoint=http://127.0.0.1:{closed_port}/devstoreaccount1;"
        f"TableEndpoint=http://127.0.0.1:{closed_port}/devstoreaccount1;",
    )
    site.setenv("ACRBOT_HEALTH_TIMEOUT_SECONDS", "1")
    code, lines, _ = site.doctor()
    assert code == 1
    for check in ("storage", "job queue", "poison queue", "service tags"):
        line = site.line(lines, check)
        assert line.startswith("FAIL"), line
        assert "not reachable" in line or "not readable" in line
        assert "-> fix: check the account name" in line


def test_jobs_in_the_poison_queue(site: Site) -> None:
    site.poison(2)
    assert_fails(site, "poison queue", "2 job(s)", "Application Insights")


def test_a_job_queue_that_is_not_draining_is_a_warning(site: Site) -> None:
    site.enqueue(f"{site.unique}-jobs", JOB_BACKLOG_WARNING)

    code, lines, _ = site.doctor()

    assert code == 0
    line = site.line(lines, "job queue")
    assert line.startswith("warn"), line
    assert f"{JOB_BACKLOG_WARNING} jobs waiting" in line
    assert "The queue does not drain" in line


def test_no_service_tags_stored(site: Site) -> None:
    site.setenv("ACRBOT_DATA_CONTAINER", f"{site.unique}-empty")
    assert_fails(site, "service tags", "none stored", "refresh-service-tags")


def test_stale_service_tags(site: Site) -> None:
    from bot.doctor import report_for

    later = FrozenClock(datetime.now(UTC) + timedelta(days=3))
    report = report_for(Settings(), credential=StaticTokenCredential(), as_app=False, clock=later)

    (tags,) = [f for f in report.findings if f.check == "service tags"]
    assert tags.status.value == "fail"
    assert "keeps failing" in tags.detail
    assert tags.fix is not None
    assert "refresh-service-tags" in tags.fix


# -- the command line -------------------------------------------------------------------------


def test_an_env_file_like_azds_supplies_the_settings(site: Site, tmp_path: Path) -> None:
    # azd writes every value double-quoted, JSON escaped inside.
    registries = json.dumps(
        [{"name": REGISTRY, "subscription_id": SUBSCRIPTION, "resource_group": RESOURCE_GROUP,
          "approver_group": GROUP}]
    )  # fmt: skip
    env = tmp_path / ".env"
    env.write_text(
        f"ACRBOT_REGISTRIES={json.dumps(registries)}\n"
        f"ACRBOT_SLACK_TEAM_IDS={json.dumps(json.dumps([site.slack.team_id]))}\n"
        'AZURE_FUNCTION_APP_URL="https://func-acrbot-x.azurewebsites.net"\n',
        encoding="utf-8",
    )
    site.monkeypatch.delenv("ACRBOT_REGISTRIES")
    site.monkeypatch.delenv("ACRBOT_SLACK_TEAM_IDS")

    code, lines, _ = site.doctor("--env-file", str(env))

    assert code == 0, "\n".join(lines)
    assert site.line(lines, "slack workspaces").endswith(site.slack.team_id)


def test_usage_errors_exit_2_with_one_line(site: Site, tmp_path: Path) -> None:
    code, lines, err = site.doctor("--env-file", str(tmp_path / "missing.env"))
    assert (code, lines) == (2, [])
    assert err.startswith("bot doctor: error: --env-file")
    assert len(err.splitlines()) == 1

    code, lines, err = site.doctor("--app")
    assert (code, lines) == (2, [])
    assert "AZURE_FUNCTION_APP_URL" in err

    code, lines, err = site.doctor("--app", "https://func.example")
    assert (code, lines) == (2, [])
    assert "ACRBOT_FUNCTION_KEY" in err
    assert "az functionapp keys list" in err
