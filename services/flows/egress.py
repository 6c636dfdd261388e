"""Finding the address an error hid, and naming whose a pasted address is.

- `prepare_lookup`: a card whose paste hid the address offers a lookup: of the resource the paste
  named, found in Azure (`EgressLookup.find`), else of one of the likely resources of the
  client's kind in the managed registries' subscriptions, listed with it (Resource Graph).
- `look_up_egress`: the resource named or picked → its outbound addresses (`EgressLookup`) → each
  judged as a pasted address would be (`diagnose`: already allowed, quota, policy) → one offer for
  the ones a temporary rule may cover. A fixed egress (a NAT gateway's, an AKS load balancer's
  public IP) gets the permanent rule suggested; an Azure-assigned one the shared-address warning.
- `name_owners`: a pasted address that is one of the organisation's public IP resources is named
  on the card with the permanent rule suggested, also when the known-IPs setting lacks it.

Without `ports.egress` (no Reader access configured) nothing here asks Azure: the card keeps its
manual advice.
"""

from __future__ import annotations

import ipaddress
import logging
from datetime import timedelta

from pydantic import BaseModel, ConfigDict

from services.diagnosis.verdicts import Verdict, diagnose
from services.domain.egress import (
    KIND_OF_CLIENT,
    EgressAddress,
    EgressLookupFailed,
    EgressReading,
    ResourceKind,
    ResourceRef,
)
from services.domain.errors import OfferExpired
from services.domain.failure import Client, FailureKind, PullFailure
from services.domain.ids import new_ulid
from services.domain.offers import OFFER_TTL, Offer
from services.flows.diagnose import DiagnosePorts, subscriptions_of
from services.flows.states import RegistryStates

logger = logging.getLogger(__name__)

#: Resources listed on a card to pick from.
CANDIDATES = 20

#: The client a resource kind pulls as, for judging its addresses like a paste from it.
_CLIENT_OF_KIND = {
    ResourceKind.CONTAINER_APP: Client.CONTAINER_APPS,
    ResourceKind.WEB_APP: Client.APP_SERVICE,
    ResourceKind.AKS_CLUSTER: Client.KUBELET,
    ResourceKind.CONTAINER_GROUP: Client.CONTAINER_INSTANCES,
}


def kind_for_client(client: str) -> ResourceKind | None:
    try:
        return KIND_OF_CLIENT.get(Client(client))
    except ValueError:
        return None


def prepare_lookup(ports: DiagnosePorts, offer: Offer) -> Offer | None:
    """The offer with a lookup attached: the resource the paste named, found in Azure (the one
    to look up with a click, or the few with its name), else the likely resources of the
    client's kind to pick from (Resource Graph). None when no lookup can be offered (no egress
    port, the address is known, or Azure refused access)."""
    if ports.egress is None or offer.ip is not None:
        return None
    pasted = offer.resource
    kind = pasted.kind if pasted is not None else kind_for_client(offer.client)
    subscriptions = subscriptions_of(ports)
    named: list[ResourceRef] = []
    candidates: list[ResourceRef] = []
    try:
        if pasted is not None:
            named = ports.egress.find(pasted.kind, pasted, subscriptions)[:CANDIDATES]
        if not named and kind is not None:
            candidates = ports.egress.candidates(kind, subscriptions, limit=CANDIDATES)
    except EgressLookupFailed as exc:
        # No Reader access (or Resource Graph failing): the card keeps its manual advice
        # rather than offer a lookup that would fail the same way.
        logger.warning("no egress lookup offered: %s", exc.reason)
        return None
    prepared = offer.model_copy(
        update={
            "lookup_kind": kind.value if kind else None,
            "candidates": tuple(r.id for r in named or candidates),
            "named": bool(named),
        }
    )
    ports.grants.put_offer(prepared)
    return prepared


class AddressCheck(BaseModel):
    """One looked-up address, judged against the registry as a pasted one would be."""

    model_config = ConfigDict(frozen=True)

    address: EgressAddress
    verdict: Verdict
    #: A temporary rule may be requested for it.
    eligible: bool
    #: Why not, or what else to know (the rule that already allows it).
    note: str | None = None


class EgressResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    registry: str
    kind: ResourceKind
    #: What was typed or picked.
    asked: str
    resource: ResourceRef | None = None
    reading: EgressReading | None = None
    #: Several resources have that name: the person must pick one by id.
    matches: tuple[ResourceRef, ...] = ()
    checks: tuple[AddressCheck, ...] = ()
    #: What may be requested (the eligible addresses), or None.
    offer: Offer | None = None
    #: Why the lookup gave no addresses to request, for people.
    problem: str | None = None
    #: The bot has no Reader access there: the manual advice applies.
    no_access: bool = False

    @property
    def permanent_suggested(self) -> bool:
        """Some address is a fixed egress: a permanent rule is the lasting fix."""
        return any(c.address.fixed for c in self.checks)


def look_up_egress(
    ports: DiagnosePorts,
    offer_id: str,
    *,
    kind: ResourceKind,
    name: str | None = None,
    candidate: int | None = None,
) -> EgressResult:
    """The egress addresses of the resource typed (`name`: a name or a resource id) or picked on
    the card (`candidate`), judged for the offer's registry. Raises `OfferExpired`."""
    offer = ports.grants.get_offer(offer_id)
    if offer is None or ports.clock.now() - offer.created_at > OFFER_TTL:
        raise OfferExpired()
    asked = (name or "").strip()
    if candidate is not None and 0 <= candidate < len(offer.candidates):
        asked = offer.candidates[candidate]
    base = EgressResult(registry=offer.registry, kind=kind, asked=asked[:300])
    if ports.egress is None:
        return base.model_copy(
            update={"problem": "Egress lookups are not set up for this bot.", "no_access": True}
        )
    if not asked:
        return base.model_copy(update={"problem": f"Name the {kind.display} to look up."})
    try:
        found = ports.egress.find(kind, asked, subscriptions_of(ports))
        if len(found) != 1:
            return _not_one(base, kind, asked, found)
        reading = ports.egress.egress(found[0])
    except EgressLookupFailed as exc:
        return base.model_copy(update={"problem": exc.reason, "no_access": exc.no_access})
    return _judge(ports, offer, base.model_copy(update={"resource": found[0], "reading": reading}))


def _not_one(
    base: EgressResult, kind: ResourceKind, asked: str, found: list[ResourceRef]
) -> EgressResult:
    if not found:
        problem = (
            f"No {kind.display} named {asked} in the managed registries' subscriptions (or the "
            "bot may not read it)."
        )
        return base.model_copy(update={"problem": problem})
    return base.model_copy(
        update={
            "matches": tuple(found[:10]),
            "problem": f"{len(found)} resources are named {asked}: look it up by its resource id.",
        }
    )


def _judge(ports: DiagnosePorts, offer: Offer, result: EgressResult) -> EgressResult:
    reading = result.reading
    assert reading is not None
    assert result.resource is not None
    config = ports.registries.get(offer.registry)
    states = ports.states or RegistryStates(ports.registry, ports.clock, timedelta(0))
    state = states.get(config)
    client = _CLIENT_OF_KIND[result.kind]
    refusing = frozenset(
        c.effective_login_server for c in ports.registries if not c.allow_azure_service_ips
    )
    checks = []
    for address in reading.addresses:
        d = diagnose(
            PullFailure(
                kind=FailureKind.IP_DENIED,
                ips=(address.ip,),
                registry=config.effective_login_server,
                client=client,
            ),
            registries=[state],
            known_ips=ports.lookups.known_ips,
            service_tags=ports.lookups.service_tags,
            tags_problem=ports.lookups.service_tags_problem,
            refuse_azure_ips=refusing,
        )
        eligible, note = d.grant_eligible, d.facts.grant_refusal
        if d.verdict is Verdict.ALREADY_ALLOWED:
            note = f"already allowed by the rule {d.facts.matched_rule}"
        elif d.verdict is Verdict.IP_NOT_ALLOWED and not address.fixed:
            # ARM says Azure assigned it, whatever the service-tag index knows: the registry's
            # policy on Azure-owned addresses applies.
            eligible = config.allow_azure_service_ips
            note = None if eligible else "this registry's policy refuses Azure-owned addresses"
        checks.append(
            AddressCheck(address=address, verdict=d.verdict, eligible=eligible, note=note)
        )
    wanted = [c.address.ip for c in checks if c.eligible]
    update: dict[str, object] = {"checks": tuple(checks)}
    if not reading.addresses:
        update["problem"] = "ARM shows no outbound address the bot could request for it."
    elif wanted:
        update["offer"] = _offer(ports, offer, result, checks, wanted)
    return result.model_copy(update=update)


def _offer(
    ports: DiagnosePorts,
    offer: Offer,
    result: EgressResult,
    checks: list[AddressCheck],
    wanted: list[ipaddress.IPv4Address],
) -> Offer:
    resource = result.resource
    assert resource is not None
    fixed = [c for c in checks if c.eligible and c.address.fixed]
    shared = [c for c in checks if c.eligible and not c.address.fixed]
    warnings = []
    if shared:
        warnings.append(
            f"{', '.join(str(c.address.ip) for c in shared)}: Azure-assigned outbound addresses "
            f"of {result.kind.display} {resource.name}; they stay with it but may be shared with "
            f"other workloads, which reach {offer.registry}'s endpoint too while the rule exists."
        )
    if fixed:
        warnings.append(
            f"{', '.join(str(c.address.ip) for c in fixed)}: {fixed[0].address.label}, a fixed "
            "egress of the organisation; a permanent rule through infrastructure-as-code is the "
            "lasting fix."
        )
    now = ports.clock.now()
    made = Offer(
        id=new_ulid(now),
        registry=offer.registry,
        ip=wanted[0],
        more_ips=tuple(wanted[1:]),
        verdict="egress_lookup",
        summary=(
            f"The egress of {result.kind.display} {resource.name} ({resource.resource_group}), "
            f"looked up in Azure: {', '.join(str(ip) for ip in wanted)}."
        ),
        warning=" ".join(warnings) or None,
        command=offer.command,
        client=_CLIENT_OF_KIND[result.kind].value,
        created_at=now,
    )
    ports.grants.put_offer(made)
    return made
