"""Ports on fakes, for flow tests: `make_ports(...)` and the pieces it is made of."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from services.clock import FrozenClock
from services.diagnosis.service_tags import ServiceTagIndex
from services.directory import StaticApproverDirectory
from services.domain.policy import Policy, RegistryConfig, RegistryDirectory
from services.domain.reconcile import ReconcileTiming
from services.lookups import AddressBook
from services.ports import ApproverDirectory, EgressLookup, RegistryStateCache
from services.settings import Settings
from tests.fakes.registry import FakeLock, FakeRegistryGateway
from tests.fakes.stores import InMemoryAuditLog, InMemoryGrantStore, InMemoryLedger, InMemoryQueue

REQUESTER = "U0REQUEST"
APPROVER = "U0APPROVE"
APPROVER_2 = "U0APPROVE2"
TEAM = "T0TEAM"


def config(name: str = "contoso", **kwargs: Any) -> RegistryConfig:
    values: dict[str, Any] = {
        "name": name,
        "subscription_id": "00000000-0000-0000-0000-000000000001",
        "resource_group": "rg-registries",
        "approvers": (APPROVER, APPROVER_2),
    }
    values.update(kwargs)
    return RegistryConfig(**values)


@dataclass(frozen=True)
class FakePorts:
    """`Ports` on the in-memory fakes (it satisfies every flow's narrower protocol)."""

    registries: RegistryDirectory
    policy: Policy
    grants: InMemoryGrantStore
    audit: InMemoryAuditLog
    ledger: InMemoryLedger
    registry: FakeRegistryGateway
    lock: FakeLock
    jobs: InMemoryQueue
    approvers: ApproverDirectory
    clock: FrozenClock
    lookups: AddressBook
    timing: ReconcileTiming
    dry_run: bool = False
    states: RegistryStateCache | None = None
    egress: EgressLookup | None = None


@dataclass
class Fakes:
    ports: FakePorts
    clock: FrozenClock
    grants: InMemoryGrantStore
    audit: InMemoryAuditLog
    registry: FakeRegistryGateway
    lock: FakeLock
    jobs: InMemoryQueue

    def with_ports(self, **changes: Any) -> Fakes:
        return replace(self, ports=replace(self.ports, **changes))


def make_fakes(
    *registries: RegistryConfig,
    policy: Policy | None = None,
    clock: FrozenClock | None = None,
    groups: dict[str, list[str]] | None = None,
) -> Fakes:
    clock = clock or FrozenClock()
    registries = registries or (config(),)
    grants = InMemoryGrantStore(clock)
    audit = InMemoryAuditLog()
    gateway = FakeRegistryGateway()
    for reg in registries:
        gateway.add(reg.name)
    lock = FakeLock()
    jobs = InMemoryQueue(clock)
    ports = FakePorts(
        registries=RegistryDirectory(registries),
        policy=policy or Policy(),
        grants=grants,
        audit=audit,
        ledger=InMemoryLedger(clock),
        registry=gateway,
        lock=lock,
        jobs=jobs,
        approvers=StaticApproverDirectory(groups),
        clock=clock,
        # Tags loaded and empty: no address is Azure's, and the diagnosis trusts that.
        lookups=AddressBook({}, ServiceTagIndex([])),
        timing=Settings().arm.timing,  # the settings' defaults, as deployed
    )
    return Fakes(ports, clock, grants, audit, gateway, lock, jobs)
