"""`egress`: look up the outbound addresses of the resource a person named or picked on a card,
and answer with them and a request button for those a temporary rule may cover."""

from __future__ import annotations

import logging

from bot.egress import request_value
from bot.jobs import EgressJob
from bot.replies import Replier
from bot.views.egress import egress_blocks, egress_text
from bot.views.messages import refusal
from services.domain.egress import ResourceKind
from services.domain.errors import DomainError
from services.flows.diagnose import DiagnosePorts
from services.flows.egress import look_up_egress

logger = logging.getLogger(__name__)


def handle(job: EgressJob, *, ports: DiagnosePorts, replier: Replier, secret: str) -> None:
    try:
        kind = ResourceKind(job.resource_kind)
    except ValueError:
        replier.tell(job.origin, "That is not a kind of resource I can look up.")
        return
    try:
        result = look_up_egress(
            ports, job.offer_id, kind=kind, name=job.name, candidate=job.candidate
        )
    except DomainError as exc:
        replier.tell(job.origin, refusal(exc))
        return
    value = request_value(secret, result.offer) if result.offer is not None else None
    logger.info(
        "egress lookup of %s %s: %d addresses, %s",
        kind.value,
        result.resource.name if result.resource else result.asked,
        len(result.checks),
        result.problem or "ok",
    )
    replier.answer(
        job.key,
        job.origin,
        text=egress_text(result),
        blocks=egress_blocks(result, request_value=value),
    )
