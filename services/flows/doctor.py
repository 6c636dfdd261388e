"""Is this configuration able to work? The checks behind `python -m bot doctor` (from an
operator's laptop) and `GET /api/health/deep` (inside the app, behind the function key).

A check is a function of a `DoctorContext` returning `Finding`s: one line each, what was seen and,
when it is not right, the one thing to do about it. `SERVICE_CHECKS` are the checks that need no
Slack (settings, registries, approvers, storage, service tags, queues); the Slack checks live in
`bot/doctor.py` and join the list there. A new check is one more function in a list:
`run_checks` runs them in order, and an exception in one becomes that check's failed finding
without stopping the rest.

The checks read and never write: no registry is changed, no grant touched, no message sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from services.clock import Clock
from services.domain.access import missing_actions
from services.domain.errors import (
    ArmError,
    ArmUnavailable,
    DirectoryUnavailable,
    NotPremium,
    RegistryNotFound,
)
from services.domain.policy import RegistryConfig, approver_group_of, approvers_of
from services.domain.registry import RegistryState
from services.ports import ApproverDirectory, RegistryAccess, RegistryGateway
from services.settings import Settings

#: Stored service tags older than this mean the daily refresh has failed at least once since.
SERVICE_TAGS_STALE_AFTER = timedelta(hours=48)
#: A job queue this long is not keeping up (a single reading cannot tell more).
JOB_BACKLOG_WARNING = 50
#: The share of a registry's IP-rule quota in use that earns a warning.
QUOTA_WARNING_SHARE = 0.9
#: The prefix of an app setting App Service could not resolve from Key Vault.
KEY_VAULT_REFERENCE = "@Microsoft.KeyVault("

PROVISION = "azd provision"


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Finding:
    """One line of the report: the check, its status, what was seen and the fix."""

    check: str
    status: Status
    detail: str
    fix: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"check": self.check, "status": self.status.value, "detail": self.detail} | (
            {"fix": self.fix} if self.fix else {}
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        return cls(
            check=str(data["check"]),
            status=Status(str(data["status"])),
            detail=str(data.get("detail") or ""),
            fix=str(data["fix"]) if data.get("fix") else None,
        )


def ok(check: str, detail: str) -> Finding:
    return Finding(check, Status.OK, detail)


def warn(check: str, detail: str, fix: str | None = None) -> Finding:
    return Finding(check, Status.WARN, detail, fix)


def fail(check: str, detail: str, fix: str) -> Finding:
    return Finding(check, Status.FAIL, detail, fix)


def skip(check: str, detail: str) -> Finding:
    return Finding(check, Status.SKIP, detail)


@dataclass(frozen=True)
class DoctorReport:
    findings: tuple[Finding, ...]

    @property
    def failed(self) -> bool:
        return any(f.status is Status.FAIL for f in self.findings)

    @property
    def exit_code(self) -> int:
        """0 when nothing failed (warnings and skips included), 1 otherwise."""
        return 1 if self.failed else 0

    def count(self, status: Status) -> int:
        return sum(1 for f in self.findings if f.status is status)

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "failed" if self.failed else "ok",
            "checks": [f.as_json() for f in self.findings],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DoctorReport:
        return cls(tuple(Finding.from_json(c) for c in data.get("checks") or []))


@dataclass(frozen=True)
class DoctorContext:
    """What the checks may look at; built by `services.bootstrap.build_doctor_context`."""

    settings: Settings
    clock: Clock
    registry: RegistryGateway
    access: RegistryAccess
    #: The Slack user-group directory; None where no Slack token is at hand.
    approvers: ApproverDirectory | None
    #: The health route's storage probes: `tables`, `queue`, `poison` (a backlog or None).
    storage: Mapping[str, Callable[[], int | dict[str, Any] | None]]
    #: When the daily refresh last stored the service tags (None: never).
    service_tags_stored_at: Callable[[], datetime | None]
    #: The actions the app's identity needs on every registry (`REGISTRY_RULES_ACTIONS`).
    registry_actions: tuple[str, ...]
    #: True inside the app: the checks run as the app's identity, so its role can be checked.
    as_app: bool = False

    @property
    def identity(self) -> str:
        return "the app's identity" if self.as_app else "the signed-in identity (az login)"


Check = Callable[[DoctorContext], Sequence[Finding]]


def run_checks(context: DoctorContext, checks: Iterable[Check]) -> DoctorReport:
    """Every check's findings, in order. A check that raises becomes one failed finding named
    after it, and the others still run."""
    findings: list[Finding] = []
    for check in checks:
        try:
            findings += check(context)
        except Exception as exc:
            name = getattr(check, "__name__", "check").removeprefix("check_").replace("_", " ")
            findings.append(
                fail(name, f"the check itself failed: {_describe(exc)}", "report this as a bug")
            )
    return DoctorReport(tuple(findings))


def settings_failure(exc: Exception) -> DoctorReport:
    """The report when the settings do not load (pydantic's `ValidationError`, or
    pydantic-settings' `SettingsError` for a value that is not JSON): one failed finding naming
    the first bad setting; nothing else can be checked."""
    errors = exc.errors() if callable(getattr(exc, "errors", None)) else None  # type: ignore[attr-defined]
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.get("loc") or ()) or "settings"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        detail = f"ACRBOT_{where.upper()}: {first.get('msg')}{more}"
    else:
        named = re.search(r'field "(\w+)"', str(exc))
        where = named.group(1).upper() if named else "…"
        detail = f"ACRBOT_{where}: cannot be read (lists and maps are JSON)"
    return DoctorReport(
        (
            fail(
                "settings",
                detail,
                f"correct the value (azd env set … && {PROVISION}, or the app setting)",
            ),
        )
    )


def _describe(exc: BaseException) -> str:
    """An exception in a few words: its message for the domain's, else class, status, code."""
    message = getattr(exc, "message", None)
    if isinstance(message, str) and message and not hasattr(exc, "response"):
        return " ".join(message.split())
    status = getattr(exc, "status_code", None)
    code = getattr(exc, "error_code", None)
    return " ".join(str(p) for p in (type(exc).__name__, status, code) if p)


# -- settings and secrets --------------------------------------------------------------------


def check_settings(ctx: DoctorContext) -> list[Finding]:
    """The settings loaded (the caller reports when they did not) and name a registry."""
    settings = ctx.settings
    if not settings.registries:
        return [
            fail(
                "settings",
                "valid, but no registries are configured: the bot manages nothing",
                f"set ACRBOT_REGISTRIES (azd env set ACRBOT_REGISTRIES '[…]' && {PROVISION})",
            )
        ]
    count = len(settings.registries)
    account = settings.storage.account_name
    storage = f"storage account {account}" if account else "storage by connection string"
    return [
        ok(
            "settings",
            f"valid: {count} {'registry' if count == 1 else 'registries'}, {storage}"
            + (", dry run (no registry is changed)" if settings.arm.dry_run else ""),
        )
    ]


def check_team_ids(ctx: DoctorContext) -> list[Finding]:
    """At least one Slack workspace is named: an empty list would accept any."""
    teams = ctx.settings.slack_team_ids
    if not teams:
        return [
            fail(
                "slack workspaces",
                "ACRBOT_SLACK_TEAM_IDS is empty: requests from any workspace would be accepted",
                "set your workspace id (auth.test's team_id, T…): "
                f"azd env set ACRBOT_SLACK_TEAM_IDS '[\"T…\"]' && {PROVISION}",
            )
        ]
    return [ok("slack workspaces", ", ".join(teams))]


def is_key_vault_reference(value: str) -> bool:
    """An app setting that still holds its `@Microsoft.KeyVault(...)` text was not resolved."""
    return value.strip().startswith(KEY_VAULT_REFERENCE)


UNRESOLVED_REFERENCE_FIX = (
    "the secret {secret} must exist in the vault and the app hold Key Vault Secrets User; then "
    f"change an app setting so App Service resolves it again ({PROVISION} does; a restart "
    "does not)"
)


def check_signing_secret(ctx: DoctorContext) -> list[Finding]:
    """The signing secret is set and is not an unresolved Key Vault reference."""
    secret = ctx.settings.slack_signing_secret.get_secret_value()
    check = "slack signing secret"
    if is_key_vault_reference(secret):
        return [
            fail(
                check,
                "is the literal Key Vault reference: App Service did not resolve it, so every "
                "Slack request fails its signature check",
                UNRESOLVED_REFERENCE_FIX.format(secret="slack-signing-secret"),
            )
        ]
    if not secret.strip():
        return [
            fail(
                check,
                "not set: every Slack request would be refused",
                "put the app's Signing Secret (Basic Information) in Key Vault: "
                f"{PROVISION} asks for it (or set ACRBOT_SLACK_SIGNING_SECRET here)",
            )
        ]
    return [ok(check, "set")]


# -- registries -------------------------------------------------------------------------------


def check_registries(ctx: DoctorContext) -> list[Finding]:
    """Per registry: readable, firewall on (Premium, public access, `Deny`), quota room, and
    inside the app the role of its identity (read from ARM, nothing written)."""
    findings: list[Finding] = []
    for registry in ctx.settings.registries:
        findings += _registry_findings(ctx, registry)
    return findings


def _arm_fix(ctx: DoctorContext, exc: ArmError, what: str) -> str:
    if exc.status == 403:
        if ctx.as_app:
            return (
                f"{PROVISION} assigns the bot's registry role on every registry in "
                "ACRBOT_REGISTRIES (a new assignment takes up to 10 minutes)"
            )
        return (
            f"give yourself Reader on it to {what} from here, or ask the app: "
            "python -m bot doctor --app"
        )
    if exc.status == 401:
        return "sign in again (az login)" if not ctx.as_app else "check the app's identity"
    return "try again later; if it persists, check ARM's status and the network path to it"


def _registry_findings(ctx: DoctorContext, registry: RegistryConfig) -> list[Finding]:
    name = f"registry {registry.name}"
    try:
        snapshot = ctx.registry.read(registry)
    except RegistryNotFound:
        return [
            fail(
                name,
                f"not found in Azure ({registry.resource_id})",
                "correct its name, resource_group or subscription_id in ACRBOT_REGISTRIES",
            )
        ]
    except ArmError as exc:
        seen = "ARM did not answer" if isinstance(exc, ArmUnavailable) else exc.message
        return [
            fail(name, f"cannot be read as {ctx.identity}: {seen}", _arm_fix(ctx, exc, "read it"))
        ]
    state = snapshot.state
    findings = [ok(name, f"readable ({state.login_server})")]
    findings.append(_firewall_finding(f"{name} firewall", state))
    if state.is_premium:
        findings.append(_quota_finding(ctx, registry, f"{name} rule quota"))
    findings.append(_role_finding(ctx, registry, f"{name} role"))
    return findings


def _firewall_finding(check: str, state: RegistryState) -> Finding:
    if not state.is_premium:
        reason = NotPremium(state.name, state.sku).message
        return fail(check, reason, "upgrade it to Premium, or take it out of ACRBOT_REGISTRIES")
    if state.public_access_disabled:
        return fail(
            check,
            "public network access is Disabled: it overrides every IP rule, so a rule the bot "
            "adds lets nobody in",
            "choose 'Selected networks' (az acr update --public-network-enabled true "
            "--default-action Deny), or take it out of ACRBOT_REGISTRIES",
        )
    if state.firewall_open:
        return fail(
            check,
            "defaultAction is Allow: the firewall is open to every address, so the bot's rules "
            "change nothing",
            f"add the permanent rules you need, then az acr update -n {state.name} "
            "--default-action Deny",
        )
    return ok(check, f"selected networks only (Deny), {len(state.ip_rules)} IP rules")


def _quota_finding(ctx: DoctorContext, registry: RegistryConfig, check: str) -> Finding:
    usage = ctx.registry.usage(registry)
    if usage.used is None:
        return warn(check, f"usage not readable; assuming the documented limit {usage.limit}")
    detail = f"{usage.used} of {usage.limit} IP rules in use"
    fix = (
        "remove rules nobody needs, or replace recurring ones by a permanent rule or a NAT "
        "gateway (python -m bot report)"
    )
    if usage.used >= usage.limit:
        return fail(check, f"{detail}: no room for a temporary rule", fix)
    if usage.used >= QUOTA_WARNING_SHARE * usage.limit:
        return warn(check, f"{detail}: nearly full", fix)
    return ok(check, detail)


def _role_finding(ctx: DoctorContext, registry: RegistryConfig, check: str) -> Finding:
    if not ctx.as_app:
        return skip(check, "the app's identity is checked inside the app: doctor --app")
    try:
        sets = ctx.access.permissions(registry)
    except ArmError as exc:
        return warn(
            check,
            f"ARM did not list the app's permissions ({exc.status or 'no status'}); the role "
            "could not be checked",
            f"{PROVISION} grants Microsoft.Authorization/permissions/read with the registry role",
        )
    missing = missing_actions(sets, ctx.registry_actions)
    if missing:
        return fail(
            check,
            f"the app's identity lacks {', '.join(missing)}",
            f"{PROVISION} assigns the bot's registry role on it (it must be in ACRBOT_REGISTRIES)",
        )
    return ok(check, "the app's identity may read, write and list usages")


# -- approvers --------------------------------------------------------------------------------


def check_approvers(ctx: DoctorContext) -> list[Finding]:
    """Per registry: its user group can be read, and enough people can approve."""
    findings: list[Finding] = []
    policy = ctx.settings.policy
    for registry in ctx.settings.registries:
        check = f"approvers {registry.name}"
        group = approver_group_of(registry, policy)
        members: frozenset[str] = frozenset()
        if group is not None:
            if ctx.approvers is None:
                findings.append(skip(check, f"user group {group}: no Slack token here to read it"))
                continue
            try:
                members = ctx.approvers.members(group)
            except DirectoryUnavailable as exc:
                findings.append(_group_failure(check, group, exc.detail))
                continue
        everyone = approvers_of(registry, policy, sorted(members))
        needed = registry.required_approvals
        if not everyone:
            what = f"user group {group} is empty" if group else "no approvers are configured"
            findings.append(
                fail(
                    check,
                    f"{what}: nobody can approve a request",
                    "name approvers or an approver_group on the registry in ACRBOT_REGISTRIES, "
                    "or set ACRBOT_POLICY__DEFAULT_APPROVERS",
                )
            )
        elif len(everyone) < needed:
            findings.append(
                fail(
                    check,
                    f"{len(everyone)} approver(s) for {needed} required approvals",
                    "add approvers, or lower required_approvals",
                )
            )
        else:
            source = f" (user group {group}: {len(members)})" if group else ""
            findings.append(ok(check, f"{len(everyone)} can approve{source}"))
    return findings


def _group_failure(check: str, group: str, detail: str) -> Finding:
    fixes = {
        "no_such_subteam": "use the group's id (S…, from the group's page or usergroups.list), "
        "not its handle",
        "missing_scope": "the app lacks usergroups:read: reinstall it from the generated manifest",
        "invalid_auth": "the bot token is wrong (see slack bot token)",
        "not_authed": "the bot token is missing (see slack bot token)",
    }
    return fail(
        check,
        f"user group {group} cannot be read ({detail}): nobody in it can approve",
        fixes.get(detail, "check the group in Slack and the bot token"),
    )


# -- storage, queues and service tags --------------------------------------------------------


def _storage_fix(ctx: DoctorContext, exc: BaseException) -> str:
    if getattr(exc, "status_code", None) == 403:
        if ctx.as_app:
            return f"{PROVISION} gives the app's identity its storage data roles"
        return (
            "you have no data role on the account: add your object id to "
            f"ACRBOT_OPERATOR_PRINCIPAL_IDS and {PROVISION} (with vnetEnabled, use doctor --app)"
        )
    return (
        "check the account name (AzureWebJobsStorage__accountName / "
        "ACRBOT_STORAGE_ACCOUNT_NAME) and that this machine may reach it"
    )


def check_storage(ctx: DoctorContext) -> list[Finding]:
    """The health route's probes: the tables answer, the job queue's and the poison queue's
    backlogs."""
    findings: list[Finding] = []
    for key, check in (("tables", "storage"), ("queue", "job queue"), ("poison", "poison queue")):
        probe = ctx.storage.get(key)
        if probe is None:
            continue
        try:
            backlog = probe()
        except Exception as exc:
            findings.append(fail(check, f"not reachable: {_describe(exc)}", _storage_fix(ctx, exc)))
            continue
        findings.append(_queue_finding(check, backlog if isinstance(backlog, int) else None))
    return findings


def _queue_finding(check: str, backlog: int | None) -> Finding:
    if backlog is None:
        return ok(check, "reachable")
    if check == "poison queue" and backlog > 0:
        return fail(
            check,
            f"{backlog} job(s) failed five times and were set aside",
            "find them in Application Insights (acrbot.poison), fix the cause, then move the "
            "messages back to the job queue",
        )
    if backlog >= JOB_BACKLOG_WARNING:
        return warn(
            check,
            f"{backlog} jobs waiting",
            "if it keeps growing the worker is not draining it: see Troubleshooting, "
            "'The queue does not drain'",
        )
    return ok(check, f"{backlog} waiting")


def check_service_tags(ctx: DoctorContext) -> list[Finding]:
    """Service tags are stored, and the daily refresh stored them within two days."""
    check = "service tags"
    try:
        stored = ctx.service_tags_stored_at()
    except Exception as exc:
        return [fail(check, f"not readable: {_describe(exc)}", _storage_fix(ctx, exc))]
    refresh = "python -m bot refresh-service-tags shows why the daily refresh fails"
    if stored is None:
        if ctx.settings.service_tags.file:
            return [
                warn(
                    check,
                    "none refreshed yet; using ACRBOT_SERVICE_TAGS__FILE",
                    "the daily timer stores fresh ones (or run python -m bot refresh-service-tags)",
                )
            ]
        return [
            fail(
                check,
                "none stored: Azure-owned addresses cannot be recognised, so none gets a rule",
                "run python -m bot refresh-service-tags (the postdeploy hook runs it once); "
                + refresh,
            )
        ]
    age = ctx.clock.now() - stored
    hours = max(0, int(age.total_seconds() // 3600))
    if age > SERVICE_TAGS_STALE_AFTER:
        return [fail(check, f"stored {hours} hours ago: the daily refresh keeps failing", refresh)]
    return [ok(check, f"stored {hours} hours ago")]


#: The checks of the configuration itself, shown first (the Slack token's check follows them).
SETTINGS_CHECKS: tuple[Check, ...] = (check_settings, check_team_ids, check_signing_secret)
#: The checks of what the configuration points at, shown after the Slack checks.
RESOURCE_CHECKS: tuple[Check, ...] = (
    check_registries,
    check_approvers,
    check_storage,
    check_service_tags,
)
#: Every check that needs no Slack client.
SERVICE_CHECKS: tuple[Check, ...] = SETTINGS_CHECKS + RESOURCE_CHECKS
