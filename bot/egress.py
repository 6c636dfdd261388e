"""The worker's side of the egress lookup: what a diagnosis card adds when the paste hid the address
(`lookup_offer_blocks`: the resource the paste named, to look up with one click, or the ones to
pick from), and the `egress` job (`run_egress_job`): look the resource up, answer with the
addresses found and a request button for the ones a temporary rule may cover."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from slack_sdk.models.blocks import Block

from bot.jobs import EgressJob
from bot.signing import seal_value
from bot.views.egress import egress_blocks, egress_text, lookup_blocks
from bot.views.messages import refusal
from services.domain.egress import ResourceKind
from services.domain.errors import DomainError
from services.domain.offers import Offer
from services.flows.egress import kind_for_client, look_up_egress, prepare_lookup

if TYPE_CHECKING:
    from bot.runtime import Runtime

logger = logging.getLogger(__name__)


def request_value(rt: Runtime, offer: Offer) -> str:
    """The sealed reference a request button carries: the offer, and what the form shows."""
    return seal_value(
        rt.settings.slack_signing_secret.get_secret_value(),
        {
            "o": offer.id,
            "r": offer.registry,
            "i": ", ".join(str(ip) for ip in offer.ips) or None,
            "s": offer.summary[:300],
            "c": offer.client,
        },
    )


def lookup_offer_blocks(rt: Runtime, offer: Offer | None) -> list[Block]:
    """The lookup a card offers for `offer` (a paste that hid the address), or nothing."""
    if offer is None or offer.ip is not None or rt.ports.egress is None:
        return []
    prepared = prepare_lookup(rt.ports, offer)
    if prepared is None:
        return []
    kind = prepared.resource.kind if prepared.resource else kind_for_client(prepared.client)
    sealed = seal_value(
        rt.settings.slack_signing_secret.get_secret_value(),
        {"o": prepared.id, "k": kind.value if kind else ""},
    )
    return lookup_blocks(
        sealed=sealed,
        kind=kind,
        candidates=list(prepared.candidates),
        pasted=prepared.resource,
        named=prepared.named,
    )


def run_egress_job(rt: Runtime, job: EgressJob) -> None:
    """Look up the resource the person named or picked, and answer with its egress card."""
    replier = rt.replier
    try:
        kind = ResourceKind(job.resource_kind)
    except ValueError:
        replier.tell(job.origin, "That is not a kind of resource I can look up.")
        return
    try:
        result = look_up_egress(
            rt.ports, job.offer_id, kind=kind, name=job.name, candidate=job.candidate
        )
    except DomainError as exc:
        replier.tell(job.origin, refusal(exc))
        return
    value = request_value(rt, result.offer) if result.offer is not None else None
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
