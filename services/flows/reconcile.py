"""Reconciling a registry: the only code that writes `ipRules` (docs/ARCHITECTURE.md,
"Reconciling a registry").

1. Take the registry's lock without waiting; busy means "run again shortly" (`BUSY`), since the
   holder will most likely do this work too.
2. Read the registry's fence (`services.domain.reconcile.Fence`). An earlier write that may still
   land (a process killed during its PATCH, an answer that never came, a lease lost during it)
   keeps the registry fenced: nothing is written until a read shows it landed or its time is up
   (`RETRY` with the time left), because a write re-sent meanwhile could be overtaken by it.
3. Record the intent before the read, in one transaction with the fence: each entry the bot is
   about to add (INTENDED) or remove (REMOVING), from what the store knows. A crash from here on is
   recovered by running the same reconcile again: the entries say what is the bot's.
4. Read the quota, GET the registry and plan one new `ipRules` list
   (`services.domain.reconcile.plan_reconcile`). Between the GET's answer and the PATCH there is
   only planning (`ReconcileReport.window_ms`); when the registry disagrees with the intent
   recorded (someone added or removed a rule since the bot last looked), the intent is corrected
   and the registry read again first.
5. One PATCH, never re-sent blind; then the lease is confirmed (a lease lost during a slow write
   leaves the outcome unknown, never "done"), the rules are read back and verified, and what
   changed without the plan (a concurrent edit) is reported. Then the entries and the fence are
   settled in one transaction, each grant is activated, failed, flagged or released, the change is
   audited, the lock is released and the notices are queued.

Safe to run any number of times and after any crash; it never waits for a lock, it asks to be run
again (`retry_after`) instead. A registry taken out of the configuration is still reached through
its fence's resource id: its open grants end and the bot's entries are removed.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Protocol

from services.domain.audit import registry_change_event
from services.domain.errors import (
    ArmError,
    ArmUnavailable,
    ConcurrentUpdate,
    DomainError,
    InvalidTransition,
    LockLost,
    NotPremium,
    RegistryNotFound,
    RuleQuotaFull,
    VerificationFailed,
    WriteInFlight,
    WriteOutcomeUnknown,
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
    registry_partition,
    release,
    retire,
)
from services.domain.jobs import GrantEvent, GrantNotice, ReconcileJob, RegistryNotice
from services.domain.policy import (
    Policy,
    RegistryConfig,
    RegistryDirectory,
    config_from_resource_id,
)
from services.domain.reconcile import (
    ConcurrentEdit,
    EntryState,
    Fence,
    OwnedEntry,
    Plan,
    ReconcileTiming,
    concurrent_edit,
    disowned,
    intents_before_read,
    plan_reconcile,
    spelling_after,
    taken_by_late_write,
    verify,
)
from services.domain.registry import RawRule, RegistrySnapshot
from services.flows.book import BookPorts, grants_in, transition
from services.flows.expiry import schedule_expiry
from services.ports import Lease, RegistryGateway, RegistryLock

logger = logging.getLogger(__name__)

#: Times the registry is read again when it disagrees with the intent just recorded.
_READS = 3
#: Why the open grants of a registry taken out of the configuration end.
UNMANAGED_REASON = "the registry was taken out of the bot's configuration"


class ReconcilePorts(BookPorts, Protocol):
    """What reconciling a registry touches: the grant book (with the bot's entries and fences),
    the registries, the policy, the registry's rules on ARM, its lock, and the timing."""

    @property
    def registries(self) -> RegistryDirectory: ...

    @property
    def policy(self) -> Policy: ...

    @property
    def registry(self) -> RegistryGateway: ...

    @property
    def lock(self) -> RegistryLock: ...

    @property
    def timing(self) -> ReconcileTiming: ...

    @property
    def dry_run(self) -> bool: ...


class ReconcileStatus(StrEnum):
    #: The registry converged (with or without a PATCH).
    DONE = "done"
    #: Neither the grants nor the bot's entries asked for anything; ARM was not called.
    NOTHING_TO_DO = "nothing_to_do"
    #: Another worker holds the registry's lock: run again after `retry_after`.
    BUSY = "busy"
    #: ARM or the verification failed for now, or an earlier write may still land: run again
    #: after `retry_after`.
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
    #: Rules that changed without the plan while the bot wrote (reported to the approvers).
    concurrent: ConcurrentEdit | None = None
    #: Rules an earlier write of the bot's, landing late with its older list, took away.
    taken_late: list[str] = field(default_factory=list)
    #: The bot's own work between the GET's answer and sending the PATCH, in milliseconds.
    window_ms: float | None = None
    #: Whether the registry has left the configuration (its rules are being cleared).
    unmanaged: bool = False


def _values(rules: Sequence[RawRule]) -> list[str]:
    return [str(r.get("value", "")) for r in rules]


def has_work(ports: BookPorts, registry: str, grants: Sequence[Grant] | None = None) -> bool:
    """Whether the store says the registry's rules need changing: an approved grant, an ended
    grant not settled, an entry of the bot's that no open grant needs, or a write whose outcome
    is not settled yet (table reads only). `grants`: the registry's, when the caller has just
    read them (`grants_in` reads each one)."""
    if grants is None:
        grants = grants_in(ports, registry_partition(registry))
    if any(g.state is GrantState.APPROVED or g.state in RULE_ENDED_STATES for g in grants):
        return True
    fence, _ = ports.grants.fence(registry)
    if fence is not None and fence.until is not None:
        return True
    needed = {g.ip for g in grants if g.state in NEEDS_RULE_STATES}
    return any(
        e.ip not in needed or e.state is not EntryState.PRESENT
        for e in ports.grants.entries(registry)
    )


def _target(ports: ReconcilePorts, registry: str) -> tuple[RegistryConfig | None, bool]:
    """The registry's configuration and whether it is managed; a registry taken out of the
    configuration is reached through its fence's resource id (None when the bot never wrote)."""
    found = ports.registries.find(registry)
    if found is not None:
        return found, True
    login = registry.strip().lower()
    fence, _ = ports.grants.fence(login)
    if fence is None or not fence.resource_id:
        return None, False
    return config_from_resource_id(fence.resource_id, login), False


def reconcile_registry(
    ports: ReconcilePorts,
    registry: str,
    *,
    check: bool = False,
    dry_run: bool | None = None,
    attempt: int = 0,
) -> ReconcileReport:
    """Converge `registry`'s rules with its grants, under its lock, in at most one PATCH.

    `check` reads the registry even when the store shows nothing to do (to notice rules removed
    by hand); `dry_run` (default: the settings') plans and writes nothing; `attempt` counts the
    runs in a row that were busy or failing, for the back-off. A registry taken out of the
    configuration has its open grants ended and the bot's entries removed.
    """
    config, managed = _target(ports, registry)
    login = config.effective_login_server if config else registry.strip().lower()
    dry = ports.dry_run if dry_run is None else dry_run
    notices: list[GrantNotice | RegistryNotice] = []
    if not managed and not dry:
        _retire_open_grants(ports, login, notices)
    if config is None:
        # Never written by the bot: nothing of its own to remove; settle what is left.
        report = ReconcileReport(login, ReconcileStatus.NOTHING_TO_DO, unmanaged=True)
        if not dry:
            report.released = _settle_without_registry(ports, login, notices)
        _send(ports, notices)
        return report
    if not check and not dry and not has_work(ports, login):
        _send(ports, notices)
        return ReconcileReport(login, ReconcileStatus.NOTHING_TO_DO, unmanaged=not managed)
    held = None if dry else ports.lock.try_hold(config.name)
    if not dry and held is None:
        _send(ports, notices)
        return ReconcileReport(login, ReconcileStatus.BUSY, retry_after=ports.timing.busy_retry)
    with held if held is not None else nullcontext(None) as lease:
        try:
            report = _converge(ports, config, lease, dry, notices)
        except WriteInFlight as exc:
            report = _retry_later(ports, login, exc, attempt, notices, delay=exc.retry_after)
        except (
            ArmUnavailable,
            LockLost,
            VerificationFailed,
            RuleQuotaFull,
            ConcurrentUpdate,
        ) as exc:
            report = _retry_later(ports, login, exc, attempt, notices)
        except RegistryNotFound as exc:
            if not managed:
                # Deleted with its rules: nothing of the bot's is left on it.
                report = ReconcileReport(login, ReconcileStatus.DONE, unmanaged=True)
                report.released = _settle_without_registry(ports, login, notices)
            else:
                report = _failed(ports, login, exc, notices)
        except (NotPremium, ArmError) as exc:
            report = _failed(ports, login, exc, notices)
    report.unmanaged = not managed
    _send(ports, notices)
    return report


def _send(ports: ReconcilePorts, notices: Sequence[GrantNotice | RegistryNotice]) -> None:
    for notice in notices:
        ports.jobs.send(notice)


def _failed(
    ports: ReconcilePorts, login: str, exc: DomainError, notices: list[GrantNotice | RegistryNotice]
) -> ReconcileReport:
    report = ReconcileReport(login, ReconcileStatus.FAILED, error=exc.message)
    report.failed = _fail_approved(ports, login, exc.message, notices, overdue_only=False)
    return report


def _retire_open_grants(
    ports: ReconcilePorts, login: str, notices: list[GrantNotice | RegistryNotice]
) -> None:
    for grant in grants_in(ports, registry_partition(login)):
        if not grant.is_open:
            continue
        try:
            transition(
                ports,
                grant.id,
                lambda g, now: retire(g, now=now, reason=UNMANAGED_REASON),
                actor=SYSTEM_ACTOR,
                announce=_ended_notice,
            )
        except InvalidTransition:
            continue


def _ended_notice(grant: Grant) -> list[GrantNotice]:
    event = GrantEvent.LAPSED if grant.state is GrantState.LAPSED else GrantEvent.REVOKED
    return [GrantNotice(grant_id=grant.id, event=event)]


def _settle_without_registry(
    ports: ReconcilePorts, login: str, notices: list[GrantNotice | RegistryNotice]
) -> list[Grant]:
    """Release the ended grants of a registry the bot cannot reach and holds nothing on."""
    released: list[Grant] = []
    for grant in grants_in(ports, registry_partition(login)):
        if grant.state in RULE_ENDED_STATES and not grant.released:
            _step(ports, grant, change=_release, event=None, into=released)
    for entry in ports.grants.entries(login):
        logger.error(
            "%s is not configured and was never reached by the bot: its entry %s stays",
            login,
            entry.value,
        )
    return released


def _retry_later(
    ports: ReconcilePorts,
    login: str,
    exc: DomainError,
    attempt: int,
    notices: list[GrantNotice | RegistryNotice],
    *,
    delay: timedelta | None = None,
) -> ReconcileReport:
    logger.warning("reconcile of %s failed for now (attempt %d): %s", login, attempt, exc.message)
    if delay is None:
        timing = ports.timing
        delay = min(timing.failure_retry * 2 ** min(attempt, 10), timing.max_retry)
    report = ReconcileReport(login, ReconcileStatus.RETRY, retry_after=delay, error=exc.message)
    # Grants past their activation deadline stop waiting; the others are told it takes longer
    # (once, on the first failure).
    report.failed = _fail_approved(
        ports, login, exc.message, notices, overdue_only=True, tell_waiting=attempt == 0
    )
    return report


def _fail_approved(
    ports: ReconcilePorts,
    login: str,
    reason: str,
    notices: list[GrantNotice | RegistryNotice],
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
                ports,
                grant.id,
                partial(_fail, reason=reason),
                actor=SYSTEM_ACTOR,
                announce=lambda g: [GrantNotice(grant_id=g.id, event=GrantEvent.FAILED)],
            )
        except InvalidTransition:
            continue
        failed.append(after)
    return failed


@dataclass
class _Ledger:
    """The registry's fence and entries as this reconcile holds them."""

    fence: Fence | None
    etag: str | None
    entries: dict[ipaddress.IPv4Address, OwnedEntry]
    #: Entries recorded by this reconcile (not there before it).
    fresh: set[ipaddress.IPv4Address] = field(default_factory=set)

    @property
    def last_seen(self) -> tuple[str, ...] | None:
        return self.fence.last_seen if self.fence is not None else None

    def foreign_picture(
        self, rules: Sequence[RawRule], own: Iterable[OwnedEntry] | None = None
    ) -> tuple[str, ...]:
        """The values of `rules` that are not the bot's entries (what `last_seen` keeps); `own`
        the entries to leave out (default: the ones held now)."""
        values = {e.value for e in (self.entries.values() if own is None else own)}
        return tuple(v for v in _values(rules) if v not in values)


def _commit(
    ports: ReconcilePorts,
    book: _Ledger,
    fence: Fence,
    *,
    put: Sequence[OwnedEntry] = (),
    drop: Sequence[ipaddress.IPv4Address] = (),
) -> None:
    book.etag = ports.grants.commit(fence.registry, fence=fence, etag=book.etag, put=put, drop=drop)
    book.fence = fence
    for ip in drop:
        book.entries.pop(ip, None)
    for entry in put:
        book.entries[entry.ip] = entry


def _converge(
    ports: ReconcilePorts,
    config: RegistryConfig,
    lease: Lease | None,
    dry: bool,
    notices: list[GrantNotice | RegistryNotice],
) -> ReconcileReport:
    login = config.effective_login_server
    now = ports.clock.now()
    fence, etag = ports.grants.fence(login)
    book = _Ledger(fence, etag, {e.ip: e for e in ports.grants.entries(login)})
    grants = [
        g
        for g in grants_in(ports, registry_partition(login))
        if g.state in NEEDS_RULE_STATES or g.state in RULE_ENDED_STATES
    ]
    earlier: Fence | None = None
    if fence is not None and fence.in_flight(now) and not dry:
        _wait_for_earlier_write(ports, config, book, fence, now)  # returns only when it has landed
        earlier = fence
    elif fence is not None and fence.until is not None and fence.sent is not None:
        earlier = fence  # its time is up: it landed, or never will; it may have taken rules

    if not dry:
        intents = intents_before_read(
            registry=login,
            grants=grants,
            entries=book.entries.values(),
            last_seen=book.last_seen,
            now=now,
        )
        book.fresh = {e.ip for e in intents if e.ip not in book.entries}
        _commit(
            ports, book, _fence(config, now + ports.timing.write_fence, book, now=now), put=intents
        )

    usage = ports.registry.usage(config)  # before the GET: nothing may come between GET and PATCH
    for _ in range(_READS):
        snapshot = ports.registry.read(config)
        read_at = time.perf_counter()
        foreign = disowned(
            book.entries.values(), snapshot.ip_rules, fresh=book.fresh, last_seen=book.last_seen
        )
        plan = plan_reconcile(
            state=snapshot.state,
            rules=snapshot.ip_rules,
            grants=grants,
            entries=[e for e in book.entries.values() if e not in foreign],
            limit=usage.limit,
            headroom=ports.policy.quota_headroom,
        )
        unrecorded = [ip for ip in plan.adds if ip not in book.entries]
        stale = [e.ip for e in foreign if e.ip in book.fresh]
        if dry or not plan.changed or not (unrecorded or stale):
            break
        # The registry changed since the bot last looked: correct the intent, then read again so
        # that only planning sits between the read and the write.
        put = [
            _intended(login, ip, value, plan, now)
            for ip, value in plan.adds.items()
            if ip in unrecorded
        ]
        book.fresh |= set(unrecorded)
        book.fresh -= set(stale)
        _commit(
            ports,
            book,
            _fence(config, now + ports.timing.write_fence, book, now=now),
            put=put,
            drop=stale,
        )
    else:
        raise VerificationFailed(config.name, "rules that kept changing while the bot read them")

    if dry:
        logger.info(
            "dry run: %s ipRules %s -> %s (nothing was changed)",
            login,
            _values(plan.rules_before),
            _values(plan.new_rules),
        )
        return _report(login, plan, ReconcileStatus.DRY_RUN)
    written: RegistrySnapshot | None = None
    window: float | None = None
    if plan.changed:
        # Straight from the plan to the PATCH: nothing else between the GET and the write.
        written, window = _write(
            ports, config, lease, book, plan=plan, snapshot=snapshot, now=now, read_at=read_at
        )
    report = _report(login, plan, ReconcileStatus.DONE)
    report.window_ms = window
    if earlier is not None:
        report.taken_late = list(taken_by_late_write(earlier, snapshot.ip_rules))
    after_rules: list[RawRule] = snapshot.ip_rules
    if written is not None:
        after_rules = written.ip_rules
        report.concurrent = concurrent_edit(
            before=snapshot.ip_rules, written=plan.new_rules, after=after_rules
        )
        problems = verify(plan, after_rules)
        if problems:
            _commit(ports, book, _fence(config, None, book, now=now, seen=after_rules))
            _report_edits(report, plan, after_rules, notices)
            raise VerificationFailed(config.name, "; ".join(problems))
        report.patched = True
        report.rules_after = _values(after_rules)
    _record_outcomes(
        ports,
        config,
        book,
        plan=plan,
        foreign=foreign,
        after_rules=after_rules,
        report=report,
        notices=notices,
    )
    _report_edits(report, plan, after_rules, notices)
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
                    "concurrent_vanished": list(report.concurrent.vanished)
                    if report.concurrent
                    else [],
                    "concurrent_appeared": list(report.concurrent.appeared)
                    if report.concurrent
                    else [],
                    "taken_late": report.taken_late,
                },
            ),
            partitions=plan.grant_ids,
        )
    return report


def _report(login: str, plan: Plan, status: ReconcileStatus) -> ReconcileReport:
    return ReconcileReport(
        login,
        status,
        plan=plan,
        added=list(plan.adds.values()),
        removed=[e.value for e in plan.removes],
        gone=[e.value for e in plan.gone],
        rules_before=_values(plan.rules_before),
        rules_after=_values(plan.new_rules),
    )


def _fence(
    config: RegistryConfig,
    until: datetime | None,
    book: _Ledger,
    *,
    now: datetime,
    seen: Sequence[RawRule] | None = None,
    own: Iterable[OwnedEntry] | None = None,
    plan: Plan | None = None,
) -> Fence:
    """The fence to write: in flight until `until` (None: nothing in flight); `seen` the rules
    just read (default: what the fence knew), less the bot's entries (`own`, default the ones
    held now); `plan` the write whose outcome is unknown."""
    last_seen = book.foreign_picture(seen, own) if seen is not None else book.last_seen
    return Fence(
        registry=config.effective_login_server,
        resource_id=config.resource_id,
        until=until,
        adds=tuple(plan.adds.values()) if plan else (),
        removes=tuple(e.value for e in plan.removes) if plan else (),
        sent=tuple(_values(plan.new_rules)) if plan else None,
        last_seen=last_seen,
        updated_at=now,
    )


def _intended(
    login: str, ip: ipaddress.IPv4Address, value: str, plan: Plan, now: datetime
) -> OwnedEntry:
    return OwnedEntry(
        registry=login,
        ip=ip,
        value=value,
        state=EntryState.INTENDED,
        updated_at=now,
        first_grant=_first_grant(plan, ip),
    )


def _first_grant(plan: Plan, ip: ipaddress.IPv4Address) -> str | None:
    """The grant the plan activates first with the entry for `ip` (recorded on the entry)."""
    return next((a.grant.id for a in plan.activations if a.grant.ip == ip), None)


def _wait_for_earlier_write(
    ports: ReconcilePorts, config: RegistryConfig, book: _Ledger, fence: Fence, now: datetime
) -> None:
    """An earlier write may still land. Return when a read shows it did; otherwise note what
    the registry shows now (to tell later which rules a late landing took) and raise
    `WriteInFlight` with the time left."""
    left = (fence.until or now) - now + timedelta(seconds=1)
    if fence.sent is None:
        raise WriteInFlight(config.name, left)  # what it carried is unknown: wait it out
    snapshot = ports.registry.read(config)
    if fence.landed(snapshot.ip_rules):
        logger.info("%s: the bot's earlier write has landed", config.effective_login_server)
        return
    _commit(
        ports,
        book,
        fence.model_copy(
            update={"last_seen": book.foreign_picture(snapshot.ip_rules), "updated_at": now}
        ),
    )
    raise WriteInFlight(config.name, left)


def _write(
    ports: ReconcilePorts,
    config: RegistryConfig,
    lease: Lease | None,
    book: _Ledger,
    *,
    plan: Plan,
    snapshot: RegistrySnapshot,
    now: datetime,
    read_at: float,
) -> tuple[RegistrySnapshot, float]:
    """The one PATCH, and the bot's own time between the GET's answer and sending it (ms). An
    unknown outcome keeps the registry fenced with what was sent; a known failure lifts the
    fence (nothing of the bot's is in flight)."""
    if lease is not None:
        lease.check()
    window = (time.perf_counter() - read_at) * 1000
    try:
        written = ports.registry.write(config, snapshot, plan.new_rules)
    except WriteOutcomeUnknown:
        _fence_unknown_write(ports, config, book, plan=plan, snapshot=snapshot, now=now)
        raise
    except DomainError:
        _commit(ports, book, _fence(config, None, book, now=ports.clock.now()))
        raise
    if lease is not None:
        try:
            lease.confirm()
        except LockLost as exc:
            # Another worker may hold the registry now; the fence keeps it from writing until
            # this write is seen. This one settles nothing: a later run re-reads and re-plans.
            _fence_unknown_write(ports, config, book, plan=plan, snapshot=snapshot, now=now)
            raise WriteOutcomeUnknown(config.name, "the lock was lost during the write") from exc
    return written, window


def _fence_unknown_write(
    ports: ReconcilePorts,
    config: RegistryConfig,
    book: _Ledger,
    *,
    plan: Plan,
    snapshot: RegistrySnapshot,
    now: datetime,
) -> None:
    """Keep the registry fenced after a write whose outcome is unknown, with what it carried,
    until it can no longer land (counted from when the reconcile began)."""
    fence = _fence(
        config,
        now + ports.timing.write_fence,
        book,
        seen=snapshot.ip_rules,
        plan=plan,
        now=ports.clock.now(),
    )
    _commit(ports, book, fence)


def _report_edits(
    report: ReconcileReport,
    plan: Plan,
    after_rules: Sequence[RawRule],
    notices: list[GrantNotice | RegistryNotice],
) -> None:
    edit = report.concurrent
    if edit or report.taken_late:
        vanished = sorted({*(edit.vanished if edit else ()), *report.taken_late})
        appeared = list(edit.appeared) if edit else []
        logger.warning(
            "%s: rules changed without the bot's plan: vanished %s, appeared %s; read %s, "
            "wrote %s, read back %s",
            report.registry,
            vanished,
            appeared,
            _values(plan.rules_before),
            _values(plan.new_rules),
            _values(after_rules),
        )
        notices.append(
            RegistryNotice(
                registry=report.registry,
                vanished=tuple(vanished),
                appeared=tuple(appeared),
                late=bool(report.taken_late),
                rules_before=tuple(_values(plan.rules_before)),
                rules_written=tuple(_values(plan.new_rules)),
                rules_after=tuple(_values(after_rules)),
            )
        )


def _record_outcomes(
    ports: ReconcilePorts,
    config: RegistryConfig,
    book: _Ledger,
    *,
    plan: Plan,
    foreign: Sequence[OwnedEntry],
    after_rules: list[RawRule],
    report: ReconcileReport,
    notices: list[GrantNotice | RegistryNotice],
) -> None:
    now = ports.clock.now()
    for entry in plan.gone:
        if entry.state is not EntryState.REMOVING:
            logger.warning(
                "%s: the bot's entry %s was not on the registry (%s)",
                plan.registry,
                entry.value,
                "removed by hand" if entry.state is not EntryState.INTENDED else "never written",
            )
    drop = [e.ip for e in (*plan.removes, *plan.gone, *foreign) if e.ip not in plan.adds]
    put: list[OwnedEntry] = []
    spelled: dict[ipaddress.IPv4Address, str] = {}
    for ip, value in plan.adds.items():
        spelled[ip] = spelling_after(value, ip, plan.rules_before, after_rules)
        put.append(
            OwnedEntry(
                registry=plan.registry,
                ip=ip,
                value=spelled[ip],
                state=EntryState.PRESENT,
                updated_at=now,
                first_grant=_first_grant(plan, ip),
            )
        )
    put += [
        e.model_copy(update={"state": EntryState.PRESENT, "updated_at": now}) for e in plan.kept
    ]
    # Intent recorded for an address the plan left alone (a foreign rule admits it).
    kept = {k.ip for k in plan.kept}
    drop += [
        ip
        for ip, e in book.entries.items()
        if e.state is EntryState.INTENDED and ip not in plan.adds and ip not in kept
    ]
    settled = {**book.entries}
    for ip in drop:
        settled.pop(ip, None)
    for entry in put:
        settled[entry.ip] = entry
    _commit(
        ports,
        book,
        _fence(config, None, book, now=now, seen=after_rules, own=settled.values()),
        put=put,
        drop=list(dict.fromkeys(drop)),
    )
    for act in plan.activations:
        entry_value = spelled.get(act.grant.ip, act.entry) if act.entry is not None else None
        _step(
            ports,
            act.grant,
            change=partial(
                _activate, policy=ports.policy, entry=entry_value, covered_by=act.covered_by
            ),
            event=GrantEvent.ACTIVATED,
            into=report.activated,
        )
    for grant in report.activated:
        schedule_expiry(ports, grant)
    for failure in plan.failures:
        _step(
            ports,
            failure.grant,
            change=partial(_fail, reason=failure.error.message),
            event=GrantEvent.FAILED,
            into=report.failed,
        )
    for grant in plan.vanished:
        _step(
            ports,
            grant,
            change=_flag,
            event=GrantEvent.RULE_VANISHED,
            into=report.vanished,
        )
    removed = {e.ip for e in plan.removes} | {
        e.ip for e in plan.gone if e.state is EntryState.REMOVING
    }
    for grant in plan.releases:
        bot_removed = grant.ip in removed and grant.rule_entry is not None
        _step(
            ports,
            grant,
            change=partial(_release, removed_at=now if bot_removed else None),
            event=GrantEvent.RULE_REMOVED if bot_removed else None,
            into=report.released,
        )


def _activate(
    grant: Grant, now: datetime, *, policy: Policy, entry: str | None, covered_by: str | None
) -> Grant:
    return activate(grant, now=now, policy=policy, entry=entry, covered_by=covered_by)


def _fail(grant: Grant, now: datetime, *, reason: str) -> Grant:
    return fail(grant, reason=reason, now=now)


def _flag(grant: Grant, now: datetime) -> Grant:
    return flag_vanished(grant, now=now)


def _release(grant: Grant, _now: datetime, *, removed_at: datetime | None = None) -> Grant:
    return release(grant, rule_removed_at=removed_at)


def _step(
    ports: ReconcilePorts,
    grant: Grant,
    *,
    change: Callable[[Grant, datetime], Grant],
    event: GrantEvent | None,
    into: list[Grant],
) -> None:
    """One grant's transition, its notice (if any) queued ahead of it."""
    try:
        _, after = transition(
            ports,
            grant.id,
            change,
            actor=SYSTEM_ACTOR,
            announce=(lambda g: [GrantNotice(grant_id=g.id, event=event)]) if event else None,
        )
    except InvalidTransition:
        return  # changed meanwhile (revoked while being applied): the next reconcile settles it
    into.append(after)


#: How many times one job runs the reconcile again when more work arrived while it ran.
_ROUNDS = 3


def run_reconcile_job(ports: ReconcilePorts, job: ReconcileJob) -> ReconcileReport:
    """A queued `reconcile R`: converge R, again while approvals keep arriving meanwhile (a few
    rounds), and queue the job again after `retry_after` when R was busy or failing."""
    report = reconcile_registry(ports, job.registry, check=job.check, attempt=job.attempt)
    rounds = 1
    while (
        report.status is ReconcileStatus.DONE
        and rounds < _ROUNDS
        and has_work(ports, report.registry)
    ):
        # `check`: the store was just asked; the run need not ask again before taking the lock.
        report = reconcile_registry(ports, job.registry, check=True)
        rounds += 1
    if report.status in (ReconcileStatus.BUSY, ReconcileStatus.RETRY):
        again = job.model_copy(update={"attempt": job.attempt + 1, "check": False})
        ports.jobs.send(again, delay=report.retry_after or timedelta(0))
    return report
