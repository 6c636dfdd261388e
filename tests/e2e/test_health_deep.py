"""`GET /api/health/deep` (behind the function key): the doctor's checks inside the app, as its
identity with its resolved settings, through `function_app`'s own function; and
`python -m bot doctor --app` reading them over HTTP from a stand-in of the Functions host that
checks the key as the host does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest

import function_app
from bot import cli
from bot.doctor import REQUIRED_SCOPES
from sandbox.arm_authorization import RoleAssignments
from sandbox.functions_host import HttpHost
from services.azure.permissions import REGISTRY_ACCESS_CHECK_ACTIONS, REGISTRY_RULES_ACTIONS
from tests.e2e.conftest import World, make_world
from tests.sandbox_helpers import RESOURCE_GROUP, SUBSCRIPTION

pytestmark = pytest.mark.azurite

KEY = "doctor-function-key"
REGISTRY_ID = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
    "/providers/Microsoft.ContainerRegistry/registries/contosoprod"
)


@pytest.fixture
def app(
    azurite_connection_string, unique_name, monkeypatch
) -> Iterator[tuple[World, RoleAssignments]]:
    with make_world(azurite_connection_string, unique_name, monkeypatch) as world:
        world.slack.scopes = frozenset(REQUIRED_SCOPES)
        roles = RoleAssignments().attach(world.arm)
        roles.grant(REGISTRY_ID, [*REGISTRY_RULES_ACTIONS, *REGISTRY_ACCESS_CHECK_ACTIONS])
        yield world, roles


def deep(**params: str) -> tuple[int, dict[str, Any]]:
    function = function_app.health_deep.build().get_user_function()
    response: func.HttpResponse = function(
        func.HttpRequest(
            method="GET", url="http://localhost/api/health/deep", params=params, body=b""
        )
    )
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, json.loads(response.get_body())


def finding(body: dict[str, Any], check: str) -> dict[str, Any]:
    (found,) = [c for c in body["checks"] if c["check"] == check]
    return found


def test_the_route_needs_the_function_key() -> None:
    trigger = function_app.health_deep.build().get_trigger()
    assert trigger.route == "health/deep"
    assert trigger.auth_level == func.AuthLevel.FUNCTION


def test_inside_the_app_the_role_of_its_identity_is_checked(app) -> None:
    status, body = deep()

    failed = [c for c in body["checks"] if c["status"] == "fail"]
    # The e2e world names the registry's approvers and uses a service-tag file until the first
    # refresh stores some: a warning, not a failure.
    assert failed == []
    assert finding(body, "service tags")["status"] == "warn"
    assert status == 200
    role = finding(body, "registry contosoprod role")
    assert role["status"] == "ok"
    assert "read, write and list usages" in role["detail"]


def test_a_role_without_write_fails_inside_the_app(app) -> None:
    _, roles = app
    roles.revoke(REGISTRY_ID)
    roles.grant(
        REGISTRY_ID,
        ["Microsoft.ContainerRegistry/registries/*", *REGISTRY_ACCESS_CHECK_ACTIONS],
        ["Microsoft.ContainerRegistry/registries/write"],
    )

    _, body = deep()

    role = finding(body, "registry contosoprod role")
    assert role["status"] == "fail"
    assert role["detail"] == (
        "the app's identity lacks Microsoft.ContainerRegistry/registries/write"
    )
    assert "azd provision" in role["fix"]


def test_a_registry_the_app_may_not_read_names_the_role_fix(app) -> None:
    _, roles = app
    roles.revoke(REGISTRY_ID)

    _, body = deep()

    read = finding(body, "registry contosoprod")
    assert read["status"] == "fail"
    assert "the app's identity" in read["detail"]
    assert "AuthorizationFailed" in read["detail"]
    assert "assigns the bot's registry role" in read["fix"]


def test_an_unresolved_key_vault_reference_is_reported_without_its_text(app, monkeypatch) -> None:
    world, _ = app
    reference = "@Microsoft.KeyVault(SecretUri=https://kv-acrbot-x.vault.azure.net/secrets/slack-signing-secret/)"
    from bot import functions
    from bot.runtime import Runtime
    from services.settings import Settings

    monkeypatch.setenv("ACRBOT_SLACK_SIGNING_SECRET", reference)
    functions.install(Runtime(Settings(), credential=world.runtime.credential))

    status, body = deep()

    secret = finding(body, "slack signing secret")
    assert status == 503
    assert secret["status"] == "fail"
    assert "literal Key Vault reference" in secret["detail"]
    assert "kv-acrbot-x" not in json.dumps(body)


def test_settings_that_do_not_load_are_the_one_finding(app, monkeypatch) -> None:
    from bot import functions

    monkeypatch.setenv("ACRBOT_REGISTRIES", "not json")
    functions.install(None)

    status, body = deep()

    assert status == 503
    assert [c["check"] for c in body["checks"]] == ["settings"]
    assert "ACRBOT_REGISTRIES" in body["checks"][0]["detail"]


def test_the_anonymous_route_points_to_the_deep_one_and_reveals_nothing(app) -> None:
    function = function_app.health.build().get_user_function()
    response: func.HttpResponse = function(
        func.HttpRequest(
            method="GET", url="http://localhost/api/health", params={"deep": "1"}, body=b""
        )
    )

    body = json.loads(response.get_body())
    assert response.status_code == 400
    assert body == {
        "status": "error",
        "error": "deep checks are at /api/health/deep (function key)",
    }


def test_doctor_app_prints_the_apps_own_checks(app, monkeypatch, capsys) -> None:
    with HttpHost(function_app, function_key=KEY) as host:
        monkeypatch.setenv("ACRBOT_FUNCTION_KEY", KEY)
        code = cli.main(["doctor", "--app", host.url])

    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert (code, err) == (0, "")  # a service-tag file and no refresh yet: a warning only
    role = next(line for line in lines if "registry contosoprod role" in line)
    assert role.startswith("ok")
    assert any(line.startswith("warn  service tags") for line in lines), lines
    assert lines[-1].startswith(f"{len(lines) - 1} checks: ")


def test_doctor_app_with_a_wrong_key_is_one_failed_line(app, monkeypatch, capsys) -> None:
    with HttpHost(function_app, function_key=KEY) as host:
        monkeypatch.setenv("ACRBOT_FUNCTION_KEY", "not-the-key")
        code = cli.main(["doctor", "--app", host.url])

    out, _ = capsys.readouterr()
    assert code == 1
    assert out.splitlines()[0].startswith("FAIL  app")
    assert "refused the function key (401)" in out
    assert "ACRBOT_FUNCTION_KEY" in out


def test_doctor_app_prints_the_failures_the_app_found(app, monkeypatch, capsys) -> None:
    # The app answers 503 with its report: the command prints it, not the status.
    world, _ = app
    from bot import functions
    from bot.runtime import Runtime
    from services.settings import Settings

    monkeypatch.setenv(
        "ACRBOT_SLACK_SIGNING_SECRET", "@Microsoft.KeyVault(VaultName=kv;SecretName=s)"
    )
    functions.install(Runtime(Settings(), credential=world.runtime.credential))
    with HttpHost(function_app, function_key=KEY) as host:
        monkeypatch.setenv("ACRBOT_FUNCTION_KEY", KEY)
        code = cli.main(["doctor", "--app", host.url])

    out, err = capsys.readouterr()
    assert (code, err) == (1, "")
    secret = next(line for line in out.splitlines() if "slack signing secret" in line)
    assert secret.startswith("FAIL")
    assert "literal Key Vault reference" in secret
    assert any(line.startswith("ok    registry contosoprod role") for line in out.splitlines())


def test_doctor_app_against_a_url_without_the_route_says_to_deploy(
    app, monkeypatch, capsys
) -> None:
    with HttpHost(function_app, function_key=KEY) as host:
        monkeypatch.setenv("ACRBOT_FUNCTION_KEY", KEY)
        code = cli.main(["doctor", "--app", host.url + "/elsewhere"])

    out, _ = capsys.readouterr()
    assert code == 1
    [line, summary] = out.splitlines()
    assert line.startswith("FAIL  app")
    assert "answered 404" in line
    assert "-> fix: is the latest code deployed? azd deploy" in line
    assert summary == "1 checks: 1 failed"


def test_doctor_app_that_nobody_answers_is_one_failed_line(
    monkeypatch, capsys, closed_port: int
) -> None:
    port = closed_port
    monkeypatch.setenv("ACRBOT_FUNCTION_KEY", KEY)

    code = cli.main(["doctor", "--app", f"http://127.0.0.1:{port}"])

    out, _ = capsys.readouterr()
    assert code == 1
    assert out.splitlines()[0].startswith("FAIL  app")
    assert "not reachable" in out
    assert "-> fix: check the URL and that the app runs" in out
