"""`diagnose`: explain a paste and answer where it came from, with the request (or lookup) the
diagnosis offers."""

from __future__ import annotations

from bot.egress import lookup_offer_blocks, request_value
from bot.jobs import DiagnoseJob
from bot.replies import Replier
from bot.views.diagnosis import diagnosis_blocks, diagnosis_text
from services.flows.diagnose import DiagnosePorts, diagnose_paste, make_offer

#: The reaction that says "working on it" on the person's own message.
WORKING = "eyes"


def handle(job: DiagnoseJob, *, ports: DiagnosePorts, replier: Replier, secret: str) -> None:
    replier.react(job.origin, WORKING)
    result = diagnose_paste(ports, job.text, states=ports.states)
    offer = make_offer(ports, result)
    value = request_value(secret, offer) if offer is not None else None
    blocks = diagnosis_blocks(
        result,
        cut=job.cut,
        request_value=value,
        needs_ip=offer is not None and offer.ip is None,
    )
    replier.answer(
        job.key,
        job.origin,
        text=diagnosis_text(result),
        blocks=[*blocks, *lookup_offer_blocks(ports, secret, offer)],
    )
    replier.react(job.origin, WORKING, remove=True)
