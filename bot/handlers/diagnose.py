"""`diagnose`: explain a paste (or the attached log it names) and answer where it came from, with
the request (or lookup) the diagnosis offers."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.egress import lookup_offer_blocks, request_value
from bot.files import paste_of
from bot.jobs import DiagnoseJob
from bot.replies import Replier
from bot.views.diagnosis import diagnosis_blocks, diagnosis_text
from bot.views.messages import file_refusal
from services.flows.diagnose import DiagnosePorts, diagnose_paste, make_offer

#: The reaction that says "working on it" on the person's own message.
WORKING = "eyes"


def handle(
    job: DiagnoseJob, *, ports: DiagnosePorts, replier: Replier, slack: WebClient, secret: str
) -> None:
    replier.react(job.origin, WORKING)
    pasted = paste_of(
        slack, text=job.text, source=job.source, file_id=job.file_id, file_name=job.file_name
    )
    if pasted.file is not None and pasted.refused_alone:
        replier.answer(job.key, job.origin, text=file_refusal(pasted.file))
        replier.react(job.origin, WORKING, remove=True)
        return
    result = diagnose_paste(ports, pasted.text, states=ports.states, source=pasted.source)
    offer = make_offer(ports, result)
    value = request_value(secret, offer) if offer is not None else None
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
        blocks=[*blocks, *lookup_offer_blocks(ports, secret, offer)],
    )
    replier.react(job.origin, WORKING, remove=True)
