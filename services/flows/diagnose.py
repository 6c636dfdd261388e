"""Diagnosing a paste against the live registries: parse it, read the registry it names (or every
managed one when it names none or an unknown one, so the verdict can say which exist), and judge.

A registry that cannot be read does not stop the diagnosis: it is judged from the paste alone and
the result says what could not be read.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from services.clock import Clock
from services.diagnosis.parsing import parse_pull_failure
from services.diagnosis.verdicts import Diagnosis, Verdict, diagnose
from services.domain.egress import EgressLookupFailed, PublicIpOwner
from services.domain.errors import DomainError
from services.domain.failure import ReadExtent
from services.domain.ids import new_ulid
from services.domain.offers import Offer
from services.domain.policy import RegistryConfig, RegistryDirectory
from services.domain.registry import RegistryState
from services.flows.states import RegistryStates
from services.ports import (
    AddressLookups,
    EgressLookup,
    GrantStore,
    RegistryGateway,
    RegistryStateCache,
)


class DiagnosisResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    diagnosis: Diagnosis
    #: Registries that could not be read, with why (the diagnosis went ahead without them).
    registry_errors: tuple[str, ...] = ()
    #: Pasted addresses that are the organisation's own public IP resources (found in Azure).
    owners: tuple[PublicIpOwner, ...] = ()


logger = logging.getLogger(__name__)


class DiagnosePorts(Protocol):
    """What diagnosing a paste touches: the registries and their live state (read through the
    gateway, reused for a few seconds by `states`), the address books, the egress lookup (to name
    a pasted address's owner), the grant store (for the card's offer) and the clock."""

    @property
    def registries(self) -> RegistryDirectory: ...

    @property
    def registry(self) -> RegistryGateway: ...

    @property
    def states(self) -> RegistryStateCache | None: ...

    @property
    def lookups(self) -> AddressLookups: ...

    @property
    def egress(self) -> EgressLookup | None: ...

    @property
    def grants(self) -> GrantStore: ...

    @property
    def clock(self) -> Clock: ...


def _targets(ports: DiagnosePorts, named: str | None) -> list[RegistryConfig]:
    if named:
        found = ports.registries.find(named)
        if found is not None:
            return [found]
    # No name, or a name the bot does not manage: every managed registry, so the verdict can
    # name the one or say which exist.
    return list(ports.registries)


def diagnose_paste(
    ports: DiagnosePorts,
    text: str,
    *,
    states: RegistryStateCache | None = None,
    source: ReadExtent | None = None,
) -> DiagnosisResult:
    """Explain a pasted pull error against the live state of the registry it names. `source`:
    what `text` is a part of, when it is not the whole paste (the end of a long file); the
    result's `diagnosis.failure.read` says how much was read."""
    failure = parse_pull_failure(
        text, custom_domains=ports.registries.custom_domains, source=source
    )
    reader = states or RegistryStates(ports.registry, ports.clock, timedelta(0))
    snapshots: list[RegistryState] = []
    errors: list[str] = []
    for config in _targets(ports, failure.registry or failure.custom_domain):
        try:
            snapshots.append(reader.get(config))
        except DomainError as exc:
            errors.append(exc.message)
    refusing = frozenset(
        c.effective_login_server for c in ports.registries if not c.allow_azure_service_ips
    )
    result = diagnose(
        failure,
        registries=snapshots,
        known_ips=ports.lookups.known_ips,
        service_tags=ports.lookups.service_tags,
        tags_problem=ports.lookups.service_tags_problem,
        refuse_azure_ips=refusing,
    )
    return name_owners(ports, DiagnosisResult(diagnosis=result, registry_errors=tuple(errors)))


#: Verdicts whose card lets the person enter the address the paste did not show.
_IP_TO_ENTER = frozenset({Verdict.NO_IP_IN_ERROR, Verdict.IP_REDACTED})


def make_offer(ports: DiagnosePorts, result: DiagnosisResult) -> Offer | None:
    """What the card may offer to request, stored so the button carries only its id: the
    diagnosed address on a managed registry when a temporary rule is the fix, or the registry
    alone when the paste hid the address. None when nothing may be requested."""
    d = result.diagnosis
    named = d.facts.login_server or d.failure.registry
    config = ports.registries.find(named) if named else None
    if config is None:
        return None
    if d.grant_eligible and d.grant_ip is not None:
        ip = d.grant_ip
    elif d.verdict in _IP_TO_ENTER:
        ip = None
    else:
        return None
    now = ports.clock.now()
    offer = Offer(
        id=new_ulid(now),
        registry=config.effective_login_server,
        ip=ip,
        verdict=d.verdict.value,
        summary=d.summary,
        warning=d.grant_warning,
        command=d.failure.command,
        client=d.failure.client.value,
        created_at=now,
        resource=d.failure.resource if ip is None else None,
    )
    ports.grants.put_offer(offer)
    return offer


#: The pasted addresses looked up to name their owner, at most.
_OWNER_LOOKUPS = 3


def subscriptions_of(ports: DiagnosePorts) -> list[str]:
    """The managed registries' subscriptions: where the bot looks for the organisation's
    resources and addresses."""
    return sorted({c.subscription_id.lower() for c in ports.registries})


def name_owners(ports: DiagnosePorts, result: DiagnosisResult) -> DiagnosisResult:
    """`result` with the pasted addresses that are the organisation's own public IPs named, and
    the permanent rule suggested for the refused one. Addresses the known-IPs setting already
    names are not looked up; a failed lookup leaves the result as it was."""
    if ports.egress is None:
        return result
    d = result.diagnosis
    known = ports.lookups.known_ips
    subscriptions = subscriptions_of(ports)
    owners: list[PublicIpOwner] = []
    for ip in d.failure.ipv4[:_OWNER_LOOKUPS]:
        if not ip.is_global or known.lookup(ip) is not None:
            continue
        try:
            owner = ports.egress.owner_of(ip, subscriptions)
        except EgressLookupFailed as exc:
            logger.warning("could not look up who owns %s: %s", ip, exc.reason)
            break
        if owner is not None:
            owners.append(owner)
    if not owners:
        return result
    subject = next((o for o in owners if o.ip == d.facts.ip), None)
    if subject is None:
        return result.model_copy(update={"owners": tuple(owners)})
    step = (
        f"{subject.ip} is {subject.label}: a fixed address of the organisation. Ask the platform "
        "team to allow it permanently in the registry's network rules (infrastructure-as-code)"
        + ("; a temporary rule unblocks you meanwhile." if d.grant_eligible else ".")
    )
    diagnosis = d.model_copy(update={"steps": (step, *d.steps)})
    return result.model_copy(update={"diagnosis": diagnosis, "owners": tuple(owners)})
