"""`decide`: a click on a grant's card (approve, deny, withdraw, revoke, the extension's). Who may
decide is worked out by the services. A redelivery after the worker died resumes it: a refusal
that only says this person's own click already took effect is not shown, and what the click asks
for next (the registry's reconcile) is asked for again."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Protocol

from slack_sdk import WebClient

from bot.handlers.home import publish
from bot.jobs import DecideJob, Decision, Surface, duration_of
from bot.replies import STALE_CLAIM, Replier, StillRunning
from bot.views.messages import refusal
from services.domain.claims import ClaimState
from services.domain.errors import DomainError, NotAllowed
from services.domain.grants import GrantState
from services.domain.jobs import ReconcileJob
from services.flows.book import find
from services.flows.decisions import (
    DecisionPorts,
    approve_grant,
    deny_extension_of,
    deny_grant,
    extend_grant,
    request_extension_of,
    revoke_grant,
)
from services.flows.home import HomePorts
from services.flows.requests import withdraw_request
from services.ports import DeliveryLedger

logger = logging.getLogger(__name__)


class DecideJobPorts(DecisionPorts, HomePorts, Protocol):
    @property
    def ledger(self) -> DeliveryLedger: ...


def handle(
    job: DecideJob, *, ports: DecideJobPorts, replier: Replier, slack: WebClient, secret: str
) -> None:
    key = f"decide:{job.key}"
    claim = ports.ledger.begin(key, stale_after=STALE_CLAIM)
    if claim.state is ClaimState.DONE:
        return
    if claim.state is ClaimState.BUSY:
        raise StillRunning(key)
    refused = False
    try:
        try:
            _check_card(ports, job)
            _decide(ports, job)
        except DomainError as exc:
            if claim.state is ClaimState.RESUMED and _took_effect(ports, job):
                logger.info("decision %s had taken effect before a crash", job.key)
            else:
                refused = True
                replier.tell(job.origin, refusal(exc))
    except Exception:
        ports.ledger.fail(key)
        raise
    ports.ledger.finish(key)
    if refused and job.origin.surface is Surface.HOME:
        # A Home that offered a click it should not have (decided elsewhere meanwhile) is shown
        # as it is now; a decision that took effect republishes everyone's Home with its notice.
        publish(ports, slack, secret, team_id=job.origin.team_id, user_id=job.origin.user_id)


def _decide(ports: DecisionPorts, job: DecideJob) -> None:
    user = job.origin.user_id
    decision = job.decision
    if decision is Decision.APPROVE:
        approve_grant(
            ports, job.grant_id, approver=user, duration=duration_of(job.duration_seconds)
        )
    elif decision is Decision.DENY:
        deny_grant(ports, job.grant_id, approver=user, reason=job.reason)
    elif decision is Decision.WITHDRAW:
        withdraw_request(ports, job.grant_id, actor=user)
    elif decision is Decision.REVOKE:
        revoke_grant(ports, job.grant_id, actor=user, reason=job.reason)
    elif decision is Decision.EXTEND_ASK:
        # No choice is no allowed duration: refused like one (the form always has a choice).
        extension = duration_of(job.duration_seconds) or timedelta(0)
        request_extension_of(ports, job.grant_id, actor=user, duration=extension)
    elif decision is Decision.EXTEND_APPROVE:
        extend_grant(ports, job.grant_id, approver=user)
    elif decision is Decision.EXTEND_DENY:
        deny_extension_of(ports, job.grant_id, approver=user)


def _check_card(ports: DecisionPorts, job: DecideJob) -> None:
    """The clicked message must be one of the grant's own: a button whose value was changed to
    name another grant is refused (its own card would have said so)."""
    origin = job.origin
    if not origin.message_ts:
        return  # a modal's submission: its grant came from the card that opened it
    refs = ports.grants.messages(job.grant_id)
    if not any(r.channel == origin.channel_id and r.ts == origin.message_ts for r in refs):
        raise NotAllowed("This button does not belong to that request; nothing changed.")


def _took_effect(ports: DecisionPorts, job: DecideJob) -> bool:
    """Whether the grant shows this person's click as done (an earlier attempt did it); then
    the registry's reconcile is asked for again, in case that attempt died before."""
    user = job.origin.user_id
    grant = find(ports, job.grant_id)
    if grant is None:
        return False
    done = {
        Decision.APPROVE: user in grant.approvers_so_far,
        Decision.DENY: grant.state is GrantState.DENIED and grant.approver == user,
        Decision.WITHDRAW: grant.state is GrantState.WITHDRAWN,
        Decision.REVOKE: grant.state is GrantState.REVOKED and grant.ended_by == user,
        Decision.EXTEND_ASK: grant.extension_requested is not None,
        Decision.EXTEND_APPROVE: grant.extension_requested is None,
        Decision.EXTEND_DENY: grant.extension_requested is None,
    }[job.decision]
    if done and job.decision in (Decision.APPROVE, Decision.REVOKE):
        ports.jobs.send(ReconcileJob(registry=grant.registry))
    return done
