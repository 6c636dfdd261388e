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
from services.domain.failure import PastedResource


class FakeEgressLookup:
    def __init__(self) -> None:
        self._readings: dict[str, EgressReading] = {}
        #: An AKS cluster's node resource group and node pools, by its id (lower case).
        self._clusters: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._owners: dict[ipaddress.IPv4Address, PublicIpOwner] = {}
        #: Set to make every call fail as Azure would (e.g. without Reader access).
        self.failure: EgressLookupFailed | None = None
        self.calls: list[str] = []

    def add(
        self,
        reading: EgressReading,
        *,
        node_resource_group: str | None = None,
        node_pools: Sequence[str] = ("nodepool1",),
    ) -> ResourceRef:
        key = reading.resource.id.lower()
        self._readings[key] = reading
        if reading.resource.kind is ResourceKind.AKS_CLUSTER:
            ref = reading.resource
            group = node_resource_group or f"MC_{ref.resource_group}_{ref.name}_westeurope"
            self._clusters[key] = (group, tuple(node_pools))
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
        self, kind: ResourceKind, name: str | PastedResource, subscriptions: Sequence[str]
    ) -> list[ResourceRef]:
        self._check("find")
        if isinstance(name, PastedResource):
            return self._find_pasted(kind, name, subscriptions)
        by_id = ResourceRef.from_id(name.strip(), kind)
        if by_id is not None:
            found = self._readings.get(by_id.id.lower())
            return [found.resource] if found is not None else []
        wanted = name.strip().lower()
        return sorted(
            (r for r in self._in(subscriptions) if r.kind is kind and r.name.lower() == wanted),
            key=lambda r: (r.name.lower(), r.resource_group.lower()),
        )

    def _find_pasted(
        self, kind: ResourceKind, pasted: PastedResource, subscriptions: Sequence[str]
    ) -> list[ResourceRef]:
        subs = pasted.searched(subscriptions)
        if pasted.kind is not kind:
            return []
        if pasted.id is not None:
            found = self._readings.get(pasted.id.lower())
            return [found.resource] if found is not None else []
        mine = sorted(
            (r for r in self._in(subs) if r.kind is kind),
            key=lambda r: (r.name.lower(), r.resource_group.lower()),
        )
        if pasted.name is not None:
            named = [r for r in mine if r.name.lower() == pasted.name.lower()]
            group = (pasted.resource_group or "").lower()
            return [r for r in named if r.resource_group.lower() == group] or named
        clusters = [(r, self._clusters.get(r.id.lower(), ("", ()))) for r in mine]
        if pasted.node_resource_group is not None:
            wanted = pasted.node_resource_group.lower()
            found = [r for r, (group, _) in clusters if group.lower() == wanted]
            if found or pasted.node_pool is None:
                return found
        pool = (pasted.node_pool or "").lower()
        return [r for r, (_, pools) in clusters if pool in {p.lower() for p in pools}]

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
