"""What a card carries for a request or an egress lookup: the request button's sealed value
(`request_value`), and what a diagnosis card adds when the paste hid the address
(`lookup_offer_blocks`: the resource the paste named, to look up with one click, or the ones to
pick from). The `egress` job itself is `bot.handlers.egress`."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.sealed import LookupButton, RequestButton
from bot.views.egress import lookup_blocks
from services.domain.offers import Offer
from services.flows.diagnose import DiagnosePorts
from services.flows.egress import kind_for_client, prepare_lookup


def request_value(secret: str, offer: Offer) -> str:
    """The sealed reference a request button carries: the offer, and what the form shows."""
    return RequestButton(
        offer=offer.id,
        registry=offer.registry,
        ips=", ".join(str(ip) for ip in offer.ips) or None,
        summary=offer.summary[:300],
        client=offer.client,
    ).seal(secret)


def lookup_offer_blocks(ports: DiagnosePorts, secret: str, offer: Offer | None) -> list[Block]:
    """The lookup a card offers for `offer` (a paste that hid the address), or nothing."""
    if offer is None or offer.ip is not None or ports.egress is None:
        return []
    prepared = prepare_lookup(ports, offer)
    if prepared is None:
        return []
    kind = prepared.resource.kind if prepared.resource else kind_for_client(prepared.client)
    sealed = LookupButton(offer=prepared.id, kind=kind.value if kind else "").seal(secret)
    return lookup_blocks(
        sealed=sealed,
        kind=kind,
        candidates=list(prepared.candidates),
        pasted=prepared.resource,
        named=prepared.named,
    )
