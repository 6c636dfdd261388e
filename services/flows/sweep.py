"""The sweep: what time alone makes happen. Run by a timer every few minutes.

It expires active grants whose time has passed, lapses pending requests nobody decided, reports
approved grants whose rule was not applied in time (a crash between approval and apply), and says
which registries need a reconcile — however many grants ended on one, its rules change in one
update. Everything is driven by deadline index rows read by key range, so a sweep that did not run
for a day catches up in one go; two sweeps at once do the work once (each transition is
ETag-guarded and skipped when someone else made it first).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from services.domain.errors import DomainError, InvalidTransition
from services.domain.grants import (
    APPROVAL_CARD,
    SYSTEM_ACTOR,
    DeadlineKind,
    Grant,
    GrantState,
    deadline_partition,
    lapse,
    mark_lapse_reminded,
    mark_reminded,
    registry_partition,
)
from services.domain.ids import time_key
from services.domain.jobs import GrantEvent, GrantNotice, ReconcileJob
from services.domain.policy import RegistryDirectory
from services.flows.book import BookPorts, grants_in, transition
from services.flows.expiry import expire_grant
from services.flows.reconcile import ReconcilePorts, ReconcileReport, has_work, reconcile_registry
from services.ports import DeliveryLedger

logger = logging.getLogger(__name__)

#: A pending grant with no approval card this long after it was asked for is announced again.
UNSEEN_AFTER = timedelta(minutes=2)


class SweepPorts(BookPorts, Protocol):
    """What the sweep touches: the grant book and the registries (to name those with work)."""

    @property
    def registries(self) -> RegistryDirectory: ...


@dataclass
class SweepReport:
    expired: list[Grant] = field(default_factory=list)
    lapsed: list[Grant] = field(default_factory=list)
    #: Approved but not active by their activation deadline; their registry is reconciled again.
    stalled: list[Grant] = field(default_factory=list)
    #: Requesters reminded that their grant expires soon; approvers reminded of a pending one.
    reminded: list[Grant] = field(default_factory=list)
    lapse_reminded: list[Grant] = field(default_factory=list)
    #: Login servers whose rules need a reconcile, each once.
    registries: list[str] = field(default_factory=list)
    #: Registries with active grants and nothing due: read to notice rules removed by hand.
    to_check: list[str] = field(default_factory=list)
    #: Pending grants whose approval card never went out, announced again.
    reannounced: list[Grant] = field(default_factory=list)
    #: Registries taken out of the configuration that still hold the bot's entries or grants.
    unmanaged: list[str] = field(default_factory=list)
    #: Registries the sweep could not look at, with why (the others went ahead).
    errors: dict[str, str] = field(default_factory=dict)
    dry_run: bool = False


def _ignore_now(mark: Callable[[Grant], Grant]) -> Callable[[Grant, datetime], Grant]:
    def change(grant: Grant, _now: datetime) -> Grant:
        return mark(grant)

    return change


def _reannounce_unseen(ports: SweepPorts) -> list[Grant]:
    """Pending grants whose approval card never went out (the request's worker died after
    storing it and was not run again): announce them again. Posting is once per card, so a
    grant whose card is only slow is not shown twice."""
    now = ports.clock.now()
    unseen = []
    for grant in grants_in(ports, deadline_partition(DeadlineKind.LAPSE)):
        if grant.state is not GrantState.PENDING or now - grant.requested_at < UNSEEN_AFTER:
            continue
        if any(ref.kind == APPROVAL_CARD for ref in ports.grants.messages(grant.id)):
            continue
        ports.jobs.send(GrantNotice(grant_id=grant.id, event=GrantEvent.REQUESTED))
        unseen.append(grant)
    return unseen


def _announce(event: GrantEvent, seq: str = "") -> Callable[[Grant], list[GrantNotice]]:
    return lambda grant: [GrantNotice(grant_id=grant.id, event=event, seq=seq)]


def _due(ports: SweepPorts, kind: DeadlineKind) -> list[Grant]:
    return grants_in(ports, deadline_partition(kind), until=time_key(ports.clock.now()))


def sweep(ports: SweepPorts, *, dry_run: bool = False) -> SweepReport:
    """Do what is due now; returns what was done and which registries to reconcile.

    With `dry_run` nothing is changed: the report says what would be.
    """
    report = SweepReport(dry_run=dry_run)
    touched: dict[str, None] = {}
    for grant in _due(ports, DeadlineKind.EXPIRY):
        touched[grant.registry] = None
        if dry_run:
            report.expired.append(grant)
            continue
        expired = expire_grant(ports, grant.id)
        if expired is not None:  # else extended or revoked since it was read
            report.expired.append(expired)
    for grant in _due(ports, DeadlineKind.LAPSE):
        if dry_run:
            report.lapsed.append(grant)
            continue
        try:
            before, after = transition(
                ports,
                grant.id,
                lambda g, now: lapse(g, now=now),
                actor=SYSTEM_ACTOR,
                announce=_announce(GrantEvent.LAPSED),
            )
        except InvalidTransition:
            continue  # decided since it was read
        if before.state is GrantState.PENDING:
            report.lapsed.append(after)
    for kind, mark, event, into in (
        (DeadlineKind.EXPIRY_REMINDER, mark_reminded, GrantEvent.EXPIRY_REMINDER, report.reminded),
        (
            DeadlineKind.LAPSE_REMINDER,
            mark_lapse_reminded,
            GrantEvent.LAPSE_REMINDER,
            report.lapse_reminded,
        ),
    ):
        for grant in _due(ports, kind):
            if dry_run:
                into.append(grant)
                continue
            # The key names the deadline reminded of, so a reminder after an extension is new.
            seq = (grant.expires_at or grant.lapses_at).isoformat()
            try:
                _, after = transition(
                    ports,
                    grant.id,
                    _ignore_now(mark),
                    actor=SYSTEM_ACTOR,
                    announce=_announce(event, seq),
                )
            except InvalidTransition:
                continue  # ended, extended or already reminded since it was read
            into.append(after)
    for grant in _due(ports, DeadlineKind.ACTIVATION):
        report.stalled.append(grant)
        touched[grant.registry] = None
    if not dry_run:
        report.reannounced = _reannounce_unseen(ports)
    for config in ports.registries:
        login = config.effective_login_server
        if login in touched:
            continue
        try:
            grants = grants_in(ports, registry_partition(login))
            if has_work(ports, login, grants):
                touched[login] = None
            elif any(g.state is GrantState.ACTIVE for g in grants):
                report.to_check.append(login)
        except DomainError as exc:
            report.errors[login] = exc.message
    # Registries taken out of the configuration that still hold the bot's entries (or grants):
    # their reconcile ends the grants and removes the entries.
    for fence in ports.grants.fences():
        login = fence.registry
        if login in touched or ports.registries.find(login) is not None:
            continue
        try:
            grants = grants_in(ports, registry_partition(login))
            if has_work(ports, login, grants) or any(g.is_open for g in grants):
                touched[login] = None
                report.unmanaged.append(login)
        except DomainError as exc:
            report.errors[login] = exc.message
    report.registries = list(touched)
    return report


#: How long a delivery claim is kept: Slack retries events within the hour, and a queue message
#: comes back within days at most; older claims only fill the table.
LEDGER_RETENTION = timedelta(days=3)


class TimerPorts(ReconcilePorts, Protocol):
    """What the sweep timer touches: the sweep's and the reconcile's (when it runs them itself),
    and the delivery ledger (which it purges)."""

    @property
    def ledger(self) -> DeliveryLedger: ...


@dataclass
class SweepRun:
    """One sweep and what followed: each registry it named, reconciled now or queued."""

    report: SweepReport
    #: Registries reconciled right away (`inline`), with how each went.
    reconciled: dict[str, ReconcileReport] = field(default_factory=dict)
    purged: int = 0


def sweep_and_reconcile(
    ports: TimerPorts, *, inline: bool = False, dry_run: bool = False
) -> SweepRun:
    """The sweep, then a reconcile of every registry it named — queued (the timer: each runs in
    the worker, one per registry) or run right away (`inline`: an operator at the command line)
    — and the delivery ledger's old claims forgotten. With `dry_run` nothing is changed."""
    report = sweep(ports, dry_run=dry_run)
    run = SweepRun(report)
    for registry in [*report.registries, *report.to_check]:
        if inline:
            run.reconciled[registry] = reconcile_registry(
                ports, registry, check=True, dry_run=dry_run or None
            )
        else:
            ports.jobs.send(ReconcileJob(registry=registry, check=True))
    if not dry_run:
        run.purged = ports.ledger.purge(ports.clock.now() - LEDGER_RETENTION)
    logger.info(
        "sweep: %d expired, %d lapsed, %d stalled, reconcile %s",
        len(report.expired),
        len(report.lapsed),
        len(report.stalled),
        ", ".join(report.registries) or "nothing",
    )
    return run
