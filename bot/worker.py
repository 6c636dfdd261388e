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
from typing import TYPE_CHECKING

from pydantic import ValidationError

from bot.jobs import JOBS, DiagnoseJob, ReplyJob
from bot.views.diagnosis import diagnosis_blocks, diagnosis_text
from bot.views.messages import EMPTY_MENTION, HELP, failed_job
from services.domain.jobs import GrantNotice, ReconcileJob
from services.flows.diagnose import diagnose_paste
from services.flows.reconcile import run_reconcile_job
from services.flows.sweep import SweepReport, sweep

if TYPE_CHECKING:
    from bot.runtime import Runtime

logger = logging.getLogger(__name__)

_WORKING = "eyes"


class Worker:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

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
        elif isinstance(job, GrantNotice):
            self.notice(job)

    def diagnose(self, job: DiagnoseJob) -> None:
        replier = self._rt.replier
        replier.react(job.origin, _WORKING)
        result = diagnose_paste(self._rt.ports, job.text, states=self._rt.ports.states)
        replier.answer(
            job.key,
            job.origin,
            text=diagnosis_text(result),
            blocks=diagnosis_blocks(result, cut=job.cut),
        )
        replier.react(job.origin, _WORKING, remove=True)

    def reply(self, job: ReplyJob) -> None:
        text = HELP if job.message == "help" else EMPTY_MENTION
        self._rt.replier.answer(job.key, job.origin, text=text)

    def notice(self, job: GrantNotice) -> None:
        logger.info("grant %s: %s", job.grant_id, job.event.value)

    def poisoned(self, text: str, *, reference: str | None = None) -> None:
        """A job that kept failing: tell whoever asked, once."""
        try:
            job = JOBS.validate_json(text)
        except ValidationError:
            logger.error("poison message %s is not a job; nothing to tell anyone", reference)
            return
        ref = reference or str(getattr(job, "key", "unknown"))
        logger.error("job %s (%s) failed for good", ref, job.kind)
        if isinstance(job, DiagnoseJob | ReplyJob):
            what = "diagnosing your paste" if isinstance(job, DiagnoseJob) else "answering you"
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
        for registry in report.registries:
            ports.jobs.send(ReconcileJob(registry=registry, check=True))
        logger.info(
            "sweep: %d expired, %d lapsed, %d stalled, reconcile %s",
            len(report.expired),
            len(report.lapsed),
            len(report.stalled),
            ", ".join(report.registries) or "nothing",
        )
        return report
