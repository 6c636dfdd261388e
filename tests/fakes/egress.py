"""An in-memory `EgressLookup`: resources with their readings, public IP owners, and failures on
demand; held to the same contract as `services.azure.egress.ArmEgressLookup`."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from services.domain.egress import (
    EgressLookupFailed,
    EgressReading,
    PublicIpOwner,
    ResourceKind,
    ResourceRef,
)


class FakeEgressLookup:
    def __init__(self) -> None:
        self._readings: dict[str, EgressReading] = {}
        self._owners: dict[ipaddress.IPv4Address, PublicIpOwner] = {}
        #: Set to make every call fail as Azure would (e.g. without Reader access).
        self.failure: EgressLookupFailed | None = None
        self.calls: list[str] = []

    def add(self, reading: EgressReading) -> ResourceRef:
        self._readings[reading.resource.id.lower()] = reading
        return reading.resource

    def add_owner(self, owner: PublicIpOwner) -> None:
        self._owners[owner.ip] = owner

    def _check(self, call: str) -> None:
        self.calls.append(call)
        if self.failure is not None:
            raise self.failure

    def _in(self, subscriptions: Sequence[str]) -> list[ResourceRef]:
        subs = {s.lower() for s in subscriptions}
        return [r.resource for r in self._readings.values() if r.resource.subscription in subs]

    def find(
        self, kind: ResourceKind, name: str, subscriptions: Sequence[str]
    ) -> list[ResourceRef]:
        self._check("find")
        by_id = ResourceRef.from_id(name.strip(), kind)
        if by_id is not None:
            found = self._readings.get(by_id.id.lower())
            return [found.resource] if found is not None else []
        wanted = name.strip().lower()
        return sorted(
            (r for r in self._in(subscriptions) if r.kind is kind and r.name.lower() == wanted),
            key=lambda r: (r.name.lower(), r.resource_group.lower()),
        )

    def candidates(
        self, kind: ResourceKind, subscriptions: Sequence[str], *, limit: int = 20
    ) -> list[ResourceRef]:
        self._check("candidates")
        found = [r for r in self._in(subscriptions) if r.kind is kind]
        return sorted(found, key=lambda r: (r.name.lower(), r.resource_group.lower()))[:limit]

    def egress(self, resource: ResourceRef) -> EgressReading:
        self._check("egress")
        reading = self._readings.get(resource.id.lower())
        if reading is None:
            raise EgressLookupFailed(f"{resource.name}: not found", not_found=True)
        return reading

    def owner_of(
        self, ip: ipaddress.IPv4Address, subscriptions: Sequence[str]
    ) -> PublicIpOwner | None:
        self._check("owner_of")
        owner = self._owners.get(ip)
        subs = {s.lower() for s in subscriptions}
        return owner if owner is not None and owner.subscription.lower() in subs else None
