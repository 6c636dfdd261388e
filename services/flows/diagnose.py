"""Diagnosing a paste against the live registries: parse it, read the registry it names (or every
managed one when it names none or an unknown one, so the verdict can say which exist), and judge.

A registry that cannot be read does not stop the diagnosis: it is judged from the paste alone and
the result says what could not be read.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from services.clock import Clock
from services.diagnosis.parsing import parse_pull_failure
from services.diagnosis.verdicts import Diagnosis, Verdict, diagnose
from services.domain.egress import PublicIpOwner
from services.domain.errors import DomainError
from services.domain.failure import ReadExtent
from services.domain.ids import new_ulid
from services.domain.offers import Offer
from services.domain.policy import RegistryConfig
from services.domain.registry import RegistryState
from services.ports import Ports, RegistryGateway


class RegistryStates:
    """Registry states (GET + listUsages) for diagnoses, reused for `ttl` per registry.

    Only diagnoses read through it; the reconcile always reads fresh under the lock.
    """

    def __init__(self, gateway: RegistryGateway, clock: Clock, ttl: timedelta) -> None:
        self._gateway = gateway
        self._clock = clock
        self._ttl = ttl
        self._cache: dict[str, tuple[datetime, RegistryState]] = {}
        self._mutex = threading.Lock()

    def get(self, config: RegistryConfig) -> RegistryState:
        now = self._clock.now()
        key = config.resource_id.lower()
        with self._mutex:
            cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        usage = self._gateway.usage(config)
        state = self._gateway.read(config).state.model_copy(
            update={"ip_rule_quota_used": usage.used, "ip_rule_quota_limit": usage.limit}
        )
        with self._mutex:
            self._cache[key] = (now, state)
        return state

    def forget(self, config: RegistryConfig) -> None:
        with self._mutex:
            self._cache.pop(config.resource_id.lower(), None)


class DiagnosisResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    diagnosis: Diagnosis
    #: Registries that could not be read, with why (the diagnosis went ahead without them).
    registry_errors: tuple[str, ...] = ()
    #: Pasted addresses that are the organisation's own public IP resources (found in Azure).
    owners: tuple[PublicIpOwner, ...] = ()


def _targets(ports: Ports, named: str | None) -> list[RegistryConfig]:
    if named:
        found = ports.registries.find(named)
        if found is not None:
            return [found]
    # No name, or a name the bot does not manage: every managed registry, so the verdict can
    # name the one or say which exist.
    return list(ports.registries)


def diagnose_paste(
    ports: Ports,
    text: str,
    *,
    states: RegistryStates | None = None,
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
    answer = DiagnosisResult(diagnosis=result, registry_errors=tuple(errors))
    if ports.egress is None:
        return answer
    from services.flows.egress import name_owners  # noqa: PLC0415 (it imports this module)

    return name_owners(ports, answer)


#: Verdicts whose card lets the person enter the address the paste did not show.
_IP_TO_ENTER = frozenset({Verdict.NO_IP_IN_ERROR, Verdict.IP_REDACTED})


def make_offer(ports: Ports, result: DiagnosisResult) -> Offer | None:
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
