"""Each port's contract runs against its in-memory fake and its Azure adapter alike."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.arm_emulator import ArmEmulator
from services.azure.arm import ArmRegistryGateway
from services.azure.audit import TableAuditLog
from services.azure.clients import blob_service, table_service
from services.azure.deliveries import TableDeliveryLedger
from services.azure.lock import BlobLeaseLock
from services.azure.tables import TableGrantStore
from services.clock import FrozenClock
from services.front_settings import StorageTarget
from tests.fakes.registry import FakeLock, FakeRegistryGateway
from tests.fakes.stores import InMemoryAuditLog, InMemoryGrantStore, InMemoryLedger
from tests.sandbox_helpers import StaticTokenCredential, arm_settings


def _target(connection_string: str) -> StorageTarget:
    return StorageTarget(connection_string=connection_string)


@pytest.fixture(params=["memory", "azure"])
def grant_store(request, clock: FrozenClock, unique_name: str):
    if request.param == "memory":
        return InMemoryGrantStore(clock)
    conn = request.getfixturevalue("azurite_connection_string")
    return TableGrantStore(table_service(_target(conn)), prefix=unique_name, clock=clock)


@pytest.fixture(params=["memory", "azure"])
def audit_log(request, unique_name: str):
    if request.param == "memory":
        return InMemoryAuditLog()
    conn = request.getfixturevalue("azurite_connection_string")
    return TableAuditLog(table_service(_target(conn)), prefix=unique_name)


@pytest.fixture(params=["memory", "azure"])
def ledger(request, clock: FrozenClock, unique_name: str):
    if request.param == "memory":
        return InMemoryLedger(clock)
    conn = request.getfixturevalue("azurite_connection_string")
    return TableDeliveryLedger(table_service(_target(conn)), prefix=unique_name, clock=clock)


@pytest.fixture(params=["memory", "azure"])
def registry_lock(request, unique_name: str):
    if request.param == "memory":
        return FakeLock()
    conn = request.getfixturevalue("azurite_connection_string")
    return BlobLeaseLock(blob_service(_target(conn)).get_container_client(unique_name))


class LockUnderTest:
    """A lock and a way to break the lease someone holds on it (as another party breaking the
    blob lease would), the same for fake and Azurite."""

    def __init__(self, lock, break_lease) -> None:
        self.lock = lock
        self.break_lease = break_lease


@pytest.fixture(params=["memory", "azure"])
def breakable_lock(request, unique_name: str) -> LockUnderTest:
    if request.param == "memory":
        fake = FakeLock()
        return LockUnderTest(fake, fake.break_externally)
    from azure.storage.blob import BlobLeaseClient

    conn = request.getfixturevalue("azurite_connection_string")
    container = blob_service(_target(conn)).get_container_client(unique_name)

    def break_lease(registry: str) -> None:
        blob = container.get_blob_client(BlobLeaseLock.blob_name(registry))
        BlobLeaseClient(blob).break_lease(lease_break_period=0)

    return LockUnderTest(BlobLeaseLock(container), break_lease)


@pytest.fixture
def arm_emulator() -> Iterator[ArmEmulator]:
    with ArmEmulator() as emulator:
        yield emulator


class GatewayUnderTest:
    """A gateway and a way to seed the registry behind it, the same for fake and emulator."""

    def __init__(self, gateway, seed, rules) -> None:
        self.gateway = gateway
        self.seed = seed
        self.rules = rules


@pytest.fixture(params=["memory", "azure"])
def gateway(request):
    if request.param == "memory":
        fake = FakeRegistryGateway()

        def seed(name: str, rules: list[str], **kwargs) -> None:
            fake.add(name, rules=rules, **kwargs)

        return GatewayUnderTest(fake, seed, fake.rules)
    emulator: ArmEmulator = request.getfixturevalue("arm_emulator")
    from tests.sandbox_helpers import RESOURCE_GROUP, SUBSCRIPTION

    def seed_arm(name: str, rules: list[str], **kwargs) -> None:
        emulator.add_registry(SUBSCRIPTION, RESOURCE_GROUP, name, rules=rules, **kwargs)

    real = ArmRegistryGateway(arm=arm_settings(emulator), credential=StaticTokenCredential())
    return GatewayUnderTest(real, seed_arm, emulator.rules)
