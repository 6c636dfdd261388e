"""Reconciling a registry: the only code that writes `ipRules` (DESIGN.md "Reconciling a registry").

1. Take the registry's lock without waiting; busy means "run again shortly" (`BUSY`), since the
   holder will most likely do this work too.
2. Under the lock: read the quota, then GET the registry, read its grants and the bot's entries,
   and plan one new `ipRules` list (`services.domain.reconcile.plan_reconcile`). Nothing else
   happens between the GET and the PATCH.
3. Write the intent before the PATCH: each entry about to be added or removed, and on each
   approved grant the entry it will own (or the foreign rule that covers it). A crash from here on
   is recovered by running the same reconcile again: the entries say what is the bot's.
4. One PATCH, wait for it, read back and verify every change and every rule kept; then activate,
   fail, flag or release each grant, record the entries as the registry spells them, audit the
   change, release the lock, and queue the notices.

Safe to run any number of times and after any crash; it never waits for a lock, it asks to be run
again (`retry_after`) instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial

from services.domain.audit import registry_change_event
from services.domain.errors import (
    ArmError,
    ArmUnavailable,
    DomainError,
    InvalidTransition,
    LockLost,
    NotPremium,
    RegistryNotFound,
    RuleQuotaFull,
    VerificationFailed,
)
from services.domain.grants import (
    NEEDS_RULE_STATES,
    RULE_ENDED_STATES,
    SYSTEM_ACTOR,
    Grant,
    GrantState,
    activate,
    fail,
    flag_vanished,
    record_intent,
    registry_partition,
    release,
)
from services.domain.jobs import GrantEvent, GrantNotice, ReconcileJob
from services.domain.policy import Policy, RegistryConfig
from services.domain.reconcile import (
    EntryState,
    OwnedEntry,
    Plan,
    plan_reconcile,
    spelling_after,
    verify,
)
from services.flows.book import grants_in, transition
from services.ports import Lease, Ports

logger = logging.getLogger(__name__)

#: The longest a failing registry's reconcile waits before it runs again.
MAX_RETRY_DELAY = timedelta(minutes=5)


class ReconcileStatus(StrEnum):
    #: The registry converged (with or without a PATCH).
    DONE = "done"
    #: Neither the grants nor the bot's entries asked for anything; ARM was not called.
    NOTHING_TO_DO = "nothing_to_do"
    #: Another worker holds the registry's lock: run again after `retry_after`.
    BUSY = "busy"
    #: ARM or the verification failed for now: run again after `retry_after`.
    RETRY = "retry"
    #: The registry cannot be changed at all (not found, no permission); approved grants failed.
    FAILED = "failed"
    #: The plan was computed and nothing was written.
    DRY_RUN = "dry_run"


@dataclass
class ReconcileReport:
    registry: str
    status: ReconcileStatus
    patched: bool = False
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    #: Entries of the bot's that were no longer on the registry (removed by hand, or never
    #: written before a crash).
    gone: list[str] = field(default_factory=list)
    activated: list[Grant] = field(default_factory=list)
    failed: list[Grant] = field(default_factory=list)
    released: list[Grant] = field(default_factory=list)
    vanished: list[Grant] = field(default_factory=list)
    retry_after: timedelta | None = None
    error: str | None = None
    plan: Plan | None = None
    rules_before: list[str] = field(default_factory=list)
    rules_after: list[str] = field(default_factory=list)


def _values(rules: list[dict[str, object]]) -> list[str]:
    return [str(r.get("value", "")) for r in rules]


def has_work(ports: Ports, registry: str) -> bool:
    """Whether the store says the registry's rules need changing: an approved grant, an ended
    grant not settled, or an entry of the bot's that no open grant needs (table reads only)."""
    grants = grants_in(ports, registry_partition(registry))
    if any(g.state is GrantState.APPROVED or g.state in RULE_ENDED_STATES for g in grants):
        return True
    needed = {g.ip for g in grants if g.state in NEEDS_RULE_STATES}
    return any(
        e.ip not in needed or e.state is not EntryState.PRESENT
        for e in ports.grants.entries(registry)
    )


def reconcile_registry(
    ports: Ports,
    registry: str,
    *,
    check: bool = False,
    dry_run: bool | None = None,
    attempt: int = 0,
) -> ReconcileReport:
    """Converge `registry`'s rules with its grants, under its lock, in at most one PATCH.

    `check` reads the registry even when the store shows nothing to do (to notice rules removed
    by hand); `dry_run` (default: the settings') plans and writes nothing; `attempt` counts the
    runs in a row that were busy or failing, for the back-off. Raises `RegistryNotManaged`.
    """
    config = ports.registries.get(registry)
    login = config.effective_login_server
    dry = ports.dry_run if dry_run is None else dry_run
    if not check and not dry and not has_work(ports, login):
        return ReconcileReport(login, ReconcileStatus.NOTHING_TO_DO)
    held = None if dry else ports.lock.try_hold(config.name)
    if not dry and held is None:
        return ReconcileReport(login, ReconcileStatus.BUSY, retry_after=_busy_delay(ports))
    notices: list[GrantNotice] = []
    with held if held is not None else nullcontext(None) as lease:
        try:
            report = _converge(ports, config, lease, dry, notices)
        except (ArmUnavailable, LockLost, VerificationFailed, RuleQuotaFull) as exc:
            report = _retry_later(ports, login, exc, attempt, notices)
        except (RegistryNotFound, NotPremium, ArmError) as exc:
            report = ReconcileReport(login, ReconcileStatus.FAILED, error=exc.message)
            report.failed = _fail_approved(ports, login, exc.message, notices, overdue_only=False)
    for notice in notices:
        ports.jobs.send(notice)
    return report


def _busy_delay(ports: Ports) -> timedelta:
    settings = ports.settings
    seconds = settings.arm.busy_retry_seconds if settings is not None else 2.0
    return timedelta(seconds=seconds)


def _retry_later(
    ports: Ports, login: str, exc: DomainError, attempt: int, notices: list[GrantNotice]
) -> ReconcileReport:
    logger.warning("reconcile of %s failed for now (attempt %d): %s", login, attempt, exc.message)
    settings = ports.settings
    base = settings.arm.failure_retry_seconds if settings is not None else 20.0
    delay = min(timedelta(seconds=base * 2 ** min(attempt, 10)), MAX_RETRY_DELAY)
    report = ReconcileReport(login, ReconcileStatus.RETRY, retry_after=delay, error=exc.message)
    # Grants past their activation deadline stop waiting; the others are told it takes longer
    # (once, on the first failure).
    report.failed = _fail_approved(
        ports, login, exc.message, notices, overdue_only=True, tell_waiting=attempt == 0
    )
    return report


def _fail_approved(
    ports: Ports,
    login: str,
    reason: str,
    notices: list[GrantNotice],
    *,
    overdue_only: bool,
    tell_waiting: bool = False,
) -> list[Grant]:
    now = ports.clock.now()
    failed = []
    for grant in grants_in(ports, registry_partition(login)):
        if grant.state is not GrantState.APPROVED:
            continue
        if overdue_only and (grant.activation_due_at is None or now < grant.activation_due_at):
            if tell_waiting:
                notices.append(GrantNotice(grant_id=grant.id, event=GrantEvent.APPLY_DELAYED))
            continue
        try:
            _, after = transition(
                ports, grant.id, partial(_fail, reason=reason), actor=SYSTEM_ACTOR
            )
        except InvalidTransition:
            continue
        failed.append(after)
        notices.append(GrantNotice(grant_id=grant.id, event=GrantEvent.FAILED))
    return failed


def _converge(
    ports: Ports,
    config: RegistryConfig,
    lease: Lease | None,
    dry: bool,
    notices: list[GrantNotice],
) -> ReconcileReport:
    login = config.effective_login_server
    usage = ports.registry.usage(config)  # before the GET: nothing may come between GET and PATCH
    snapshot = ports.registry.read(config)
    grants = [
        g
        for g in grants_in(ports, registry_partition(login))
        if g.state in NEEDS_RULE_STATES or g.state in RULE_ENDED_STATES
    ]
    plan = plan_reconcile(
        state=snapshot.state,
        rules=snapshot.ip_rules,
        grants=grants,
        entries=ports.grants.entries(login),
        limit=usage.limit,
        headroom=ports.policy.quota_headroom,
    )
    report = ReconcileReport(
        login,
        ReconcileStatus.DRY_RUN if dry else ReconcileStatus.DONE,
        plan=plan,
        added=list(plan.adds.values()),
        removed=[e.value for e in plan.removes],
        gone=[e.value for e in plan.gone],
        rules_before=_values(plan.rules_before),
        rules_after=_values(plan.new_rules),
    )
    if dry:
        logger.info(
            "dry run: %s ipRules %s -> %s (nothing was changed)",
            login,
            report.rules_before,
            report.rules_after,
        )
        return report

    _record_intent(ports, plan)
    after_rules = snapshot.ip_rules
    written = None
    if plan.changed:
        if lease is not None:
            lease.check()
        written = ports.registry.write(config, snapshot, plan.new_rules)
        after_rules = written.ip_rules
        problems = verify(plan, after_rules)
        if problems:
            raise VerificationFailed(config.name, "; ".join(problems))
        report.patched = True
        report.rules_after = _values(after_rules)
    _record_outcomes(ports, plan, after_rules, report, notices)
    if plan.changed or plan.gone:
        ports.audit.append(
            registry_change_event(
                login,
                actor=SYSTEM_ACTOR,
                at=ports.clock.now(),
                rules_before=plan.rules_before,
                rules_after=list(after_rules),
                detail={
                    "operation": "reconcile",
                    "added": report.added,
                    "removed": report.removed,
                    "gone": report.gone,
                    "grant_ids": list(plan.grant_ids),
                    "written": report.patched,
                    "request_id": written.request_id if written else None,
                    "correlation_id": written.correlation_id if written else None,
                },
            ),
            partitions=plan.grant_ids,
        )
    return report


def _record_intent(ports: Ports, plan: Plan) -> None:
    now = ports.clock.now()
    owners = {a.grant.ip: a.grant.id for a in plan.activations}
    for ip, value in plan.adds.items():
        ports.grants.put_entry(
            OwnedEntry(
                registry=plan.registry,
                ip=ip,
                value=value,
                state=EntryState.INTENDED,
                updated_at=now,
                first_grant=owners.get(ip),
            )
        )
    for entry in plan.removes:
        ports.grants.put_entry(
            entry.model_copy(update={"state": EntryState.REMOVING, "updated_at": now})
        )
    for act in plan.activations:
        wanted = (act.entry, act.entry is None, act.covered_by)
        current = (act.grant.rule_entry, act.grant.rule_preexisted, act.grant.covered_by)
        if wanted == current:
            continue
        try:
            transition(
                ports,
                act.grant.id,
                partial(_intent, entry=act.entry, covered_by=act.covered_by),
                actor=SYSTEM_ACTOR,
            )
        except InvalidTransition:
            continue  # revoked meanwhile: its entry, if written, is removed next time


def _record_outcomes(
    ports: Ports,
    plan: Plan,
    after_rules: list[dict[str, object]],
    report: ReconcileReport,
    notices: list[GrantNotice],
) -> None:
    now = ports.clock.now()
    for entry in plan.removes:
        ports.grants.drop_entry(plan.registry, entry.ip)
    for entry in plan.gone:
        logger.warning(
            "%s: the bot's entry %s was not on the registry (%s)",
            plan.registry,
            entry.value,
            "removed by hand" if entry.state is not EntryState.INTENDED else "never written",
        )
        ports.grants.drop_entry(plan.registry, entry.ip)
    spelled: dict[object, str] = {}
    for ip, value in plan.adds.items():
        spelled[ip] = spelling_after(value, ip, plan.rules_before, after_rules)
        ports.grants.put_entry(
            OwnedEntry(
                registry=plan.registry,
                ip=ip,
                value=spelled[ip],
                state=EntryState.PRESENT,
                updated_at=now,
                first_grant=next((a.grant.id for a in plan.activations if a.grant.ip == ip), None),
            )
        )
    for entry in plan.kept:
        ports.grants.put_entry(
            entry.model_copy(update={"state": EntryState.PRESENT, "updated_at": now})
        )
    for act in plan.activations:
        entry_value = spelled.get(act.grant.ip, act.entry) if act.entry is not None else None
        _step(
            ports,
            act.grant,
            change=partial(_activate, policy=ports.policy, entry=entry_value),
            event=GrantEvent.ACTIVATED,
            into=report.activated,
            notices=notices,
        )
    for failure in plan.failures:
        _step(
            ports,
            failure.grant,
            change=partial(_fail, reason=failure.error.message),
            event=GrantEvent.FAILED,
            into=report.failed,
            notices=notices,
        )
    for grant in plan.vanished:
        _step(
            ports,
            grant,
            change=_flag,
            event=GrantEvent.RULE_VANISHED,
            into=report.vanished,
            notices=notices,
        )
    removed = {e.ip for e in plan.removes} | {e.ip for e in plan.gone}
    for grant in plan.releases:
        event = GrantEvent.RULE_REMOVED if grant.ip in removed and grant.rule_entry else None
        _step(ports, grant, change=_release, event=event, into=report.released, notices=notices)


def _intent(grant: Grant, _now: datetime, *, entry: str | None, covered_by: str | None) -> Grant:
    return record_intent(grant, entry=entry, preexisted=entry is None, covered_by=covered_by)


def _activate(grant: Grant, now: datetime, *, policy: Policy, entry: str | None) -> Grant:
    return activate(grant, now=now, policy=policy, entry=entry)


def _fail(grant: Grant, now: datetime, *, reason: str) -> Grant:
    return fail(grant, reason=reason, now=now)


def _flag(grant: Grant, now: datetime) -> Grant:
    return flag_vanished(grant, now=now)


def _release(grant: Grant, _now: datetime) -> Grant:
    return release(grant)


def _step(
    ports: Ports,
    grant: Grant,
    *,
    change: Callable[[Grant, datetime], Grant],
    event: GrantEvent | None,
    into: list[Grant],
    notices: list[GrantNotice],
) -> None:
    try:
        _, after = transition(ports, grant.id, change, actor=SYSTEM_ACTOR)
    except InvalidTransition:
        return  # changed meanwhile (revoked while being applied): the next reconcile settles it
    into.append(after)
    if event is not None:
        notices.append(GrantNotice(grant_id=grant.id, event=event))


#: How many times one job runs the reconcile again when more work arrived while it ran.
_ROUNDS = 3


def run_reconcile_job(ports: Ports, job: ReconcileJob) -> ReconcileReport:
    """A queued `reconcile R`: converge R, again while approvals keep arriving meanwhile (a few
    rounds), and queue the job again after `retry_after` when R was busy or failing."""
    report = reconcile_registry(ports, job.registry, check=job.check, attempt=job.attempt)
    rounds = 1
    while (
        report.status is ReconcileStatus.DONE
        and rounds < _ROUNDS
        and has_work(ports, report.registry)
    ):
        report = reconcile_registry(ports, job.registry)
        rounds += 1
    if report.status in (ReconcileStatus.BUSY, ReconcileStatus.RETRY):
        again = job.model_copy(update={"attempt": job.attempt + 1, "check": False})
        ports.jobs.send(again, delay=report.retry_after or timedelta(0))
    return report
