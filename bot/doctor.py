"""`python -m bot doctor`: one line per check with its fix; exit 0 when nothing failed, 1 when
something did, 2 on a usage error. Also the body of `GET /api/health/deep` (`app_report`).

```
python -m bot doctor [--env-file FILE] [--json]       the checks here, as the signed-in identity
python -m bot doctor --app [URL] [--env-file FILE]    the app's own checks (its identity, its
                                                      resolved secrets), behind the function key
```

The checks themselves are `services.flows.doctor`; this module adds the Slack ones (the bot
token works and holds the manifest's scopes, through `auth.test`, which is fine here: it is not
on the acknowledgement path), builds the context from settings and words the report.
`--env-file` reads a dotenv file as settings (azd's `.azure/<env>/.env` holds every `ACRBOT_`
value the template takes, and `AZURE_FUNCTION_APP_URL`); `--app` reads the function key from
`ACRBOT_FUNCTION_KEY`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot.health import DEEP_ROUTE
from services.flows.doctor import (
    PROVISION,
    RESOURCE_CHECKS,
    SETTINGS_CHECKS,
    UNRESOLVED_REFERENCE_FIX,
    Check,
    DoctorContext,
    DoctorReport,
    Finding,
    Status,
    fail,
    is_key_vault_reference,
    ok,
    run_checks,
    settings_failure,
    warn,
)

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from slack_sdk import WebClient

    from bot.runtime import Runtime
    from services.settings import Settings

PROG = "bot doctor"
#: The bot scopes of `manifest.template.json` (a test compares): what the bot calls, no more.
REQUIRED_SCOPES = frozenset(
    {
        "app_mentions:read",
        # After a crash, the bot looks for its own earlier post in the approvals channel (public
        # or private) before posting again (`Replier.post_once`); im:history does it in DMs.
        "channels:history",
        "groups:history",
        "chat:write",
        "commands",
        "files:read",
        "im:history",
        "im:write",
        "reactions:write",
        "usergroups:read",
    }
)
FUNCTION_KEY_ENV = "ACRBOT_FUNCTION_KEY"
APP_URL_ENV = "AZURE_FUNCTION_APP_URL"
#: The deep check makes a few ARM and Slack calls per registry; give it time.
APP_TIMEOUT_SECONDS = 120.0
_LABELS = {Status.OK: "ok", Status.WARN: "warn", Status.FAIL: "FAIL", Status.SKIP: "skip"}
_REINSTALL = "reinstall the app from the generated manifest (.azure/<env>/slack-manifest.json)"


class DoctorUsageError(Exception):
    """A bad command line; the message is the whole stderr line."""


# -- the Slack checks -------------------------------------------------------------------------


def slack_token_check(client: WebClient | None) -> Check:
    """The bot token check over `client` (None when there is no usable token)."""

    def check_slack_token(ctx: DoctorContext) -> list[Finding]:
        return _slack_token_findings(ctx.settings, client)

    return check_slack_token


def _slack_token_findings(settings: Settings, client: WebClient | None) -> list[Finding]:
    from slack_sdk.errors import SlackApiError, SlackClientError

    check = "slack bot token"
    token = settings.slack_bot_token.get_secret_value()
    if is_key_vault_reference(token):
        return [
            fail(
                check,
                "is the literal Key Vault reference: App Service did not resolve it",
                UNRESOLVED_REFERENCE_FIX.format(secret="slack-bot-token"),
            )
        ]
    if client is None or not token.strip():
        return [
            fail(
                check,
                "not set",
                "put the Bot User OAuth Token (xoxb-…, OAuth & Permissions) in Key Vault: "
                f"{PROVISION} asks for it (or set ACRBOT_SLACK_BOT_TOKEN here)",
            )
        ]
    try:
        answer = client.auth_test()
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        fixes = {
            "invalid_auth": "use the Bot User OAuth Token (xoxb-…) of this app",
            "account_inactive": "the app was uninstalled or its token revoked: reinstall it and "
            "set the new token",
            "token_revoked": "the token was revoked: reinstall the app and set the new token",
            "not_allowed_token_type": "use the Bot User OAuth Token (xoxb-…), not the "
            "app-level or a user token",
        }
        return [fail(check, f"Slack refused it ({error})", fixes.get(error, fixes["invalid_auth"]))]
    except SlackClientError as exc:
        return [
            fail(check, f"Slack not reachable ({type(exc).__name__})", "check the network path")
        ]
    team, user = str(answer.get("team_id")), str(answer.get("user_id"))
    findings = [
        ok(check, f"works: bot {answer.get('user')} ({user}) in {answer.get('team')} ({team})")
    ]
    teams = settings.slack_team_ids
    if teams and team not in teams:
        findings.append(
            fail(
                "slack workspace of the token",
                f"{team} is not in ACRBOT_SLACK_TEAM_IDS ({', '.join(teams)}): its requests "
                "would be refused",
                f"add it: azd env set ACRBOT_SLACK_TEAM_IDS '[\"{team}\"]' && {PROVISION}",
            )
        )
    bot_user = settings.slack_bot_user_id
    if bot_user and bot_user != user:
        findings.append(
            fail(
                "slack bot user id",
                f"ACRBOT_SLACK_BOT_USER_ID is {bot_user}, the token's bot is {user}: mentions "
                "of the bot are not recognised",
                f"azd env set ACRBOT_SLACK_BOT_USER_ID {user} && {PROVISION}",
            )
        )
    elif not bot_user:
        findings.append(
            warn(
                "slack bot user id",
                "ACRBOT_SLACK_BOT_USER_ID is not set: mentions of the bot are not recognised",
                f"azd env set ACRBOT_SLACK_BOT_USER_ID {user} && {PROVISION}",
            )
        )
    findings.append(_scopes_finding(answer.headers))
    return findings


def _scopes_finding(headers: Mapping[str, Any]) -> Finding:
    check = "slack scopes"
    lowered = {str(k).lower(): v for k, v in headers.items()}
    raw = lowered.get("x-oauth-scopes")
    if isinstance(raw, list):
        raw = ",".join(str(v) for v in raw)
    if raw is None:
        return warn(check, "Slack did not say which scopes the token holds")
    granted = {s.strip() for s in str(raw).split(",") if s.strip()}
    missing = sorted(REQUIRED_SCOPES - granted)
    if missing:
        return fail(check, f"missing {', '.join(missing)}", _REINSTALL)
    unused = sorted(granted - REQUIRED_SCOPES)
    if unused:
        return warn(
            check, f"all needed; also {', '.join(unused)}, which the bot never uses", _REINSTALL
        )
    return ok(check, "exactly the manifest's")


def doctor_checks(client: WebClient | None) -> list[Check]:
    """Every check in report order: settings, Slack, then what the settings point at."""
    return [*SETTINGS_CHECKS, slack_token_check(client), *RESOURCE_CHECKS]


# -- building and running ---------------------------------------------------------------------


def _slack_client(settings: Settings, client: WebClient | None = None) -> WebClient | None:
    token = settings.slack_bot_token.get_secret_value()
    if not token.strip() or is_key_vault_reference(token):
        return None
    if client is not None:
        return client
    from bot.front import web_client

    return web_client(settings.front, token)


def report_for(
    settings: Settings,
    *,
    credential: TokenCredential | None,
    as_app: bool,
    slack: WebClient | None = None,
    clock: Any = None,
) -> DoctorReport:
    """Run every check against `settings` (here, or inside the app when `as_app`)."""
    from bot.directory import SlackApproverDirectory
    from services.bootstrap import build_doctor_context
    from services.clock import SystemClock

    clock = clock or SystemClock()
    client = _slack_client(settings, slack)
    context = build_doctor_context(
        settings,
        clock=clock,
        credential=credential,
        approvers=SlackApproverDirectory(client, clock) if client is not None else None,
        as_app=as_app,
    )
    return run_checks(context, doctor_checks(client))


def app_report(get_runtime: Callable[[], Runtime]) -> DoctorReport:
    """`/api/health/deep`: the checks inside the app, as its identity, with its settings; the one
    failed finding when they do not load (the runtime reads them as it is built, for telemetry)."""
    try:
        runtime = get_runtime()
        settings = runtime.settings
    except ValueError as exc:  # pydantic's errors and the front door's settings' refusals
        return settings_failure(exc)
    return report_for(
        settings,
        credential=runtime.credential,
        as_app=True,
        slack=runtime.slack,
        clock=runtime.clock,
    )


def fetch_app_report(url: str, key: str, *, timeout: float = APP_TIMEOUT_SECONDS) -> DoctorReport:
    """The app's own report from `GET <url>/api/health/deep` with the function key; a refusal or
    an unreachable app is the report's one failed finding."""
    target = url.rstrip("/") + DEEP_ROUTE
    request = urllib.request.Request(
        target, headers={"x-functions-key": key, "Accept": "application/json"}
    )
    check = "app"
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            return DoctorReport(
                (
                    fail(
                        check,
                        f"{target} refused the function key ({exc.code})",
                        f"set {FUNCTION_KEY_ENV} to the app's default function key",
                    ),
                )
            )
        if exc.code != 503:
            return DoctorReport(
                (
                    fail(
                        check,
                        f"{target} answered {exc.code}",
                        "is the latest code deployed? azd deploy",
                    ),
                )
            )
        body = exc.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return DoctorReport(
            (
                fail(
                    check,
                    f"{target} not reachable ({reason})",
                    "check the URL and that the app runs",
                ),
            )
        )
    try:
        return DoctorReport.from_json(json.loads(body))
    except (ValueError, KeyError, TypeError):
        return DoctorReport(
            (fail(check, f"{target} did not answer a doctor report", "azd deploy the latest code"),)
        )


# -- rendering --------------------------------------------------------------------------------


def render(report: DoctorReport, out: TextIO) -> None:
    """One line per finding, then a summary line."""
    width = max((len(f.check) for f in report.findings), default=0)
    for f in report.findings:
        line = f"{_LABELS[f.status]:<4}  {f.check:<{width}}  {' '.join(f.detail.split())}"
        if f.fix:
            line += f" -> fix: {' '.join(f.fix.split())}"
        print(line, file=out)
    counts = ", ".join(
        f"{report.count(s)} {word}"
        for s, word in (
            (Status.OK, "ok"),
            (Status.WARN, "warnings"),
            (Status.FAIL, "failed"),
            (Status.SKIP, "skipped"),
        )
        if report.count(s)
    )
    print(f"{len(report.findings)} checks: {counts or 'none ran'}", file=out)


# -- the command ------------------------------------------------------------------------------


def add_commands(commands: Any) -> None:
    """Add `doctor` to the command line's subparsers."""
    doc = commands.add_parser(
        "doctor",
        help="check a configuration: one line per check with its fix",
        description="Check the settings, the Slack token and scopes, each registry (readable, "
        "firewall on, quota room, the app's role), approvers, storage, service tags and queues. "
        "Exit 0 when nothing failed, 1 when something did.",
    )
    doc.add_argument(
        "--env-file",
        type=Path,
        metavar="FILE",
        help="read settings from this dotenv file too (azd's .azure/<env>/.env)",
    )
    doc.add_argument(
        "--app",
        nargs="?",
        const="",
        metavar="URL",
        help=f"ask the deployed app for its own checks (default URL: {APP_URL_ENV}; the "
        f"function key from {FUNCTION_KEY_ENV})",
    )
    doc.add_argument("--json", action="store_true", help="print one JSON object")
    doc.set_defaults(handler=_cmd_doctor, prog=doc.prog)


def _arm_credential() -> TokenCredential | None:
    """The Azure credential of the command; None: `DefaultAzureCredential` (tests put a static
    token here)."""
    return None


def _cmd_doctor(args: argparse.Namespace) -> int:
    try:
        report = doctor_command(args)
    except DoctorUsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False))
    else:
        render(report, sys.stdout)
    return report.exit_code


def doctor_command(args: argparse.Namespace) -> DoctorReport:
    """The report the command line asked for. Raises `DoctorUsageError`."""
    file_values = _env_file_values(args.env_file)
    if args.app is not None:
        url = args.app or os.environ.get(APP_URL_ENV) or file_values.get(APP_URL_ENV) or ""
        if not url:
            raise DoctorUsageError(f"--app needs a URL, or {APP_URL_ENV} (an azd output)")
        key = os.environ.get(FUNCTION_KEY_ENV, "").strip()
        if not key:
            raise DoctorUsageError(
                f"--app needs the function key in {FUNCTION_KEY_ENV}: "
                "az functionapp keys list -g <group> -n <app> --query functionKeys.default -o tsv"
            )
        return fetch_app_report(url, key)
    return _local_report(args.env_file)


def _env_file_values(path: Path | None) -> Mapping[str, str | None]:
    if path is None:
        return {}
    if not path.is_file():
        raise DoctorUsageError(f"--env-file {str(path)!r}: no such file")
    from dotenv import dotenv_values

    return dotenv_values(path)


def _local_report(env_file: Path | None) -> DoctorReport:
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from services.settings import Settings

    try:
        settings = Settings(_env_file=env_file) if env_file is not None else Settings()
    except (ValidationError, SettingsError) as exc:
        return settings_failure(exc)
    return report_for(settings, credential=_arm_credential(), as_app=False)
