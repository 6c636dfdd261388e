"""The queue-triggered worker: one job at a time, each idempotent.

A job is decoded (`bot.jobs.JOBS`), run through the flow it names, and answered through
`bot.replies.Replier`, which claims the job's key right before the answer. A job that raises is
left to the queue: it comes back, and after host.json's `maxDequeueCount` it lands in the poison
queue, whose handler (`poisoned`) tells the person who asked that it failed, with a reference an
operator can look up. A message that is not a job at all is logged and dropped: retrying it could
never help.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import ValidationError
from slack_sdk.errors import SlackApiError

from bot.egress import lookup_offer_blocks, request_value, run_egress_job
from bot.files import paste_of
from bot.jobs import (
    JOBS,
    DecideJob,
    Decision,
    DiagnoseJob,
    EgressJob,
    HomeJob,
    Origin,
    ReplyJob,
    RequestJob,
    Surface,
    duration_of,
)
from bot.notices import Notices, safe_handle
from bot.replies import STALE_CLAIM, StillRunning
from bot.views.diagnosis import diagnosis_blocks, diagnosis_text
from bot.views.format import mention
from bot.views.home import RegistryLine, home_view
from bot.views.messages import EMPTY_MENTION, HELP, failed_job, file_refusal, refusal
from services.domain.claims import ClaimState
from services.domain.errors import DomainError, NotAllowed
from services.domain.grants import (
    APPROVAL_CARD,
    REQUESTER_THREAD,
    Grant,
    GrantState,
    MessageRef,
    Requester,
    registry_partition,
    requester_partition,
)
from services.domain.ids import new_ulid
from services.domain.jobs import ExpireJob, GrantNotice, ReconcileJob, RegistryNotice
from services.flows.book import approvers_for, find, grants_in
from services.flows.decisions import (
    approve_grant,
    deny_extension_of,
    deny_grant,
    extend_grant,
    request_extension_of,
    revoke_grant,
)
from services.flows.diagnose import diagnose_paste, make_offer
from services.flows.expiry import expire_due
from services.flows.reconcile import run_reconcile_job
from services.flows.requests import request_from_offer, withdraw_request
from services.flows.sweep import SweepReport, sweep

if TYPE_CHECKING:
    from bot.runtime import Runtime

logger = logging.getLogger(__name__)

_WORKING = "eyes"
#: How long a delivery claim is kept (the sweep forgets older ones).
LEDGER_RETENTION = timedelta(days=3)


class Worker:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._notices = Notices(runtime)

    def handle(self, text: str, *, reference: str | None = None) -> None:
        """Run one queue message. Raises when the job should be tried again."""
        try:
            job = JOBS.validate_json(text)
        except ValidationError as exc:
            logger.error(
                "dropped a queue message that is not a job (%s): %s",
                reference,
                [e["type"] for e in exc.errors(include_input=False)][:5],
            )
            return
        if isinstance(job, DiagnoseJob):
            self.diagnose(job)
        elif isinstance(job, ReplyJob):
            self.reply(job)
        elif isinstance(job, ReconcileJob):
            report = run_reconcile_job(self._rt.ports, job)
            logger.info("reconcile %s: %s", report.registry, report.status.value)
        elif isinstance(job, ExpireJob):
            expire_due(self._rt.ports, job)
        elif isinstance(job, RegistryNotice):
            self._notices.registry_changed(job)
        elif isinstance(job, RequestJob):
            self.request(job)
        elif isinstance(job, DecideJob):
            self.decide(job)
            if job.origin.surface is Surface.HOME:
                self.home(
                    HomeJob(key=job.key, team_id=job.origin.team_id, user_id=job.origin.user_id)
                )
        elif isinstance(job, HomeJob):
            self.home(job)
        elif isinstance(job, GrantNotice):
            safe_handle(self._notices, job)
        elif isinstance(job, EgressJob):
            run_egress_job(self._rt, job)

    def diagnose(self, job: DiagnoseJob) -> None:
        replier = self._rt.replier
        replier.react(job.origin, _WORKING)
        ports = self._rt.ports
        pasted = paste_of(
            self._rt.slack,
            text=job.text,
            source=job.source,
            file_id=job.file_id,
            file_name=job.file_name,
        )
        if pasted.file is not None and pasted.refused_alone:
            replier.answer(job.key, job.origin, text=file_refusal(pasted.file))
            replier.react(job.origin, _WORKING, remove=True)
            return
        result = diagnose_paste(ports, pasted.text, states=ports.states, source=pasted.source)
        offer = make_offer(ports, result)
        value = request_value(self._rt, offer) if offer is not None else None
        blocks = diagnosis_blocks(
            result,
            file=pasted.file,
            request_value=value,
            needs_ip=offer is not None and offer.ip is None,
        )
        replier.answer(
            job.key,
            job.origin,
            text=diagnosis_text(result),
            blocks=[*blocks, *lookup_offer_blocks(self._rt, offer)],
        )
        replier.react(job.origin, _WORKING, remove=True)

    def request(self, job: RequestJob) -> None:
        """A request from a diagnosis card. The approval card and the requester's confirmation
        follow from the `requested` notice the flow queues. A redelivery after the worker died
        resumes the same request (the grant's id is noted on the claim before it is made)."""
        ports, replier = self._rt.ports, self._rt.replier
        key = f"request:{job.key}"
        claim = ports.ledger.begin(key, stale_after=STALE_CLAIM)
        if claim.state is ClaimState.DONE:
            return
        if claim.state is ClaimState.BUSY:
            raise StillRunning(key)
        origin = job.origin
        thread = None
        if origin.channel_id and origin.surface is not Surface.SLASH:
            thread = MessageRef(
                kind=REQUESTER_THREAD,
                channel=origin.channel_id,
                ts=origin.thread_ts or origin.message_ts or "",
            )
        grant_id = claim.data.get("grant")
        if grant_id is None:
            grant_id = new_ulid(ports.clock.now())
            ports.ledger.note(key, grant=grant_id)
        try:
            try:
                outcome = request_from_offer(
                    ports,
                    job.offer_id,
                    requester=Requester(user_id=origin.user_id, team_id=origin.team_id),
                    justification=job.justification,
                    duration=duration_of(job.duration_seconds),
                    ip=job.ip,
                    origin=thread if thread is not None and thread.ts else None,
                    grant_id=grant_id,
                )
            except DomainError as exc:
                replier.tell(origin, refusal(exc))
            else:
                if not outcome.created:
                    self._already_open(origin, outcome.grant)
        except Exception:
            ports.ledger.fail(key)
            raise
        ports.ledger.finish(key)

    def _already_open(self, origin: Origin, grant: Grant) -> None:
        link = self._card_link(grant.id)
        where = f" <{link}|Its approval card>." if link else ""
        self._rt.replier.tell(
            origin,
            f"There is already an open request for `{grant.ip}` on `{grant.registry}` "
            f"({grant.state.value}, asked by {mention(grant.requester.user_id)}); "
            f"it covers you too.{where}",
        )

    def _card_link(self, grant_id: str) -> str | None:
        """A link to the grant's approval card, when Slack gives one."""
        card = next(
            (r for r in self._rt.ports.grants.messages(grant_id) if r.kind == APPROVAL_CARD), None
        )
        if card is None:
            return None
        try:
            answer = self._rt.slack.chat_getPermalink(channel=card.channel, message_ts=card.ts)
        except SlackApiError:
            return None
        link = answer.get("permalink")
        # Slack's own https link; anything else is not shown (it would be live markup).
        return (
            link
            if isinstance(link, str) and link.startswith("https://") and "|" not in link
            else None
        )

    def decide(self, job: DecideJob) -> None:
        """A click on a grant's card. A redelivery after the worker died resumes it: a refusal
        that only says this person's own click already took effect is not shown, and what the
        click asks for next (the registry's reconcile) is asked for again."""
        ports, replier = self._rt.ports, self._rt.replier
        key = f"decide:{job.key}"
        claim = ports.ledger.begin(key, stale_after=STALE_CLAIM)
        if claim.state is ClaimState.DONE:
            return
        if claim.state is ClaimState.BUSY:
            raise StillRunning(key)
        try:
            try:
                self._check_card(job)
                self._decide(job)
            except DomainError as exc:
                if claim.state is ClaimState.RESUMED and self._took_effect(job):
                    logger.info("decision %s had taken effect before a crash", job.key)
                else:
                    replier.tell(job.origin, refusal(exc))
        except Exception:
            ports.ledger.fail(key)
            raise
        ports.ledger.finish(key)

    def _decide(self, job: DecideJob) -> None:
        ports, user = self._rt.ports, job.origin.user_id
        if job.decision is Decision.APPROVE:
            approve_grant(
                ports, job.grant_id, approver=user, duration=duration_of(job.duration_seconds)
            )
        elif job.decision is Decision.DENY:
            deny_grant(ports, job.grant_id, approver=user, reason=job.reason)
        elif job.decision is Decision.WITHDRAW:
            withdraw_request(ports, job.grant_id, actor=user)
        elif job.decision is Decision.REVOKE:
            revoke_grant(ports, job.grant_id, actor=user, reason=job.reason)
        elif job.decision is Decision.EXTEND_ASK:
            request_extension_of(
                ports,
                job.grant_id,
                actor=user,
                duration=duration_of(job.duration_seconds) or timedelta(0),
            )
        elif job.decision is Decision.EXTEND_APPROVE:
            extend_grant(ports, job.grant_id, approver=user)
        elif job.decision is Decision.EXTEND_DENY:
            deny_extension_of(ports, job.grant_id, approver=user)

    def _took_effect(self, job: DecideJob) -> bool:
        """Whether the grant shows this person's click as done (an earlier attempt did it);
        then the registry's reconcile is asked for again, in case that attempt died before."""
        ports, user = self._rt.ports, job.origin.user_id
        grant = find(ports, job.grant_id)
        if grant is None:
            return False
        decision = job.decision
        done = {
            Decision.APPROVE: user in grant.approvers_so_far,
            Decision.DENY: grant.state is GrantState.DENIED and grant.approver == user,
            Decision.WITHDRAW: grant.state is GrantState.WITHDRAWN,
            Decision.REVOKE: grant.state is GrantState.REVOKED and grant.ended_by == user,
            Decision.EXTEND_ASK: grant.extension_requested is not None,
            Decision.EXTEND_APPROVE: grant.extension_requested is None,
            Decision.EXTEND_DENY: grant.extension_requested is None,
        }[decision]
        if done and decision in (Decision.APPROVE, Decision.REVOKE):
            ports.jobs.send(ReconcileJob(registry=grant.registry))
        return done

    def _check_card(self, job: DecideJob) -> None:
        """The clicked message must be one of the grant's own: a button whose value was changed
        to name another grant is refused (its own card would have said so)."""
        origin = job.origin
        refs = self._rt.ports.grants.messages(job.grant_id)
        if not origin.message_ts:
            return  # a modal's submission: its grant came from the card that opened it
        if not any(r.channel == origin.channel_id and r.ts == origin.message_ts for r in refs):
            raise NotAllowed("This button does not belong to that request; nothing changed.")

    def reply(self, job: ReplyJob) -> None:
        text = HELP if job.message == "help" else EMPTY_MENTION
        self._rt.replier.answer(job.key, job.origin, text=text)

    def home(self, job: HomeJob) -> None:
        """Publish `job.user_id`'s App Home from the grants and registries as they are now."""
        ports = self._rt.ports
        user = job.user_id
        mine = [
            g
            for g in grants_in(
                ports, requester_partition(Requester(user_id=user, team_id=job.team_id))
            )
            if g.is_open
        ]
        waiting: list[Grant] = []
        active: list[Grant] = []
        lines: list[RegistryLine] = []
        is_approver = False
        for config in ports.registries:
            login = config.effective_login_server
            try:
                approves = user in approvers_for(ports, config, user)
            except DomainError:
                approves = False
            if approves:
                is_approver = True
                for grant in grants_in(ports, registry_partition(login)):
                    if grant.state is GrantState.PENDING and grant.requester.user_id != user:
                        waiting.append(grant)
                    elif grant.state in (GrantState.APPROVED, GrantState.ACTIVE):
                        active.append(grant)
            try:
                state = ports.states.get(config) if ports.states else None
                lines.append(
                    RegistryLine(
                        login,
                        used=state.rules_used if state else None,
                        limit=state.rules_limit if state else None,
                    )
                )
            except DomainError as exc:
                lines.append(RegistryLine(login, error=exc.message))
        view = home_view(
            mine=mine,
            waiting=waiting,
            active=active,
            registries=lines,
            is_approver=is_approver,
            now=ports.clock.now(),
        )
        self._rt.slack.views_publish(user_id=user, view=view)

    def poisoned(self, text: str, *, reference: str | None = None) -> None:
        """A job that kept failing: tell whoever asked, once."""
        try:
            job = JOBS.validate_json(text)
        except ValidationError:
            logger.error("poison message %s is not a job; nothing to tell anyone", reference)
            return
        ref = reference or str(getattr(job, "key", "unknown"))
        logger.error("job %s (%s) failed for good", ref, job.kind)
        if isinstance(job, DiagnoseJob | ReplyJob | RequestJob | DecideJob):
            what = {
                "diagnose": "diagnosing your paste",
                "reply": "answering you",
                "request": "sending your request",
                "decide": "recording your decision",
            }[job.kind]
            self._rt.replier.answer(
                f"poison:{job.key}",
                job.origin,
                text=f"Sorry, I could not finish {what} (reference {ref}).",
                blocks=failed_job(what, ref),
            )

    def sweep(self) -> SweepReport:
        """The timer's work: the sweep, then one reconcile job per registry it names."""
        ports = self._rt.ports
        report = sweep(ports)
        for registry in [*report.registries, *report.to_check]:
            ports.jobs.send(ReconcileJob(registry=registry, check=True))
        # Slack retries events within the hour and queue messages come back within days at most:
        # claims older than that only fill the table.
        ports.ledger.purge(ports.clock.now() - LEDGER_RETENTION)
        logger.info(
            "sweep: %d expired, %d lapsed, %d stalled, reconcile %s",
            len(report.expired),
            len(report.lapsed),
            len(report.stalled),
            ", ".join(report.registries) or "nothing",
        )
        return report
