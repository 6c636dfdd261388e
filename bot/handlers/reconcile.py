"""`reconcile`: converge a registry's rules with its grants (see `services.flows.reconcile`)."""

from __future__ import annotations

import logging

from services.domain.jobs import ReconcileJob
from services.flows.reconcile import ReconcilePorts, run_reconcile_job

logger = logging.getLogger(__name__)


def handle(job: ReconcileJob, *, ports: ReconcilePorts) -> None:
    report = run_reconcile_job(ports, job)
    logger.info("reconcile %s: %s", report.registry, report.status.value)
