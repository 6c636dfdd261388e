"""The one place adapters are built from settings.

`build_ports` gives a worker everything a flow may touch; the HTTP function needs only the
delivery ledger and the queue (`build_ledger`, `build_queue`, from the front door's settings) and
never builds the rest, so its cold start loads neither the blob nor the management SDKs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from services.clock import Clock, SystemClock

# Each builder imports what it builds: a worker that runs a reconcile never loads the diagnosis's
# address book or service tags, and the front door loads none of this module's types.
if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from services.azure.deliveries import TableDeliveryLedger
    from services.azure.queue import StorageJobQueue
    from services.azure.queue_drain import QueueDrain, QueueOptions
    from services.flows.doctor import DoctorContext
    from services.front_settings import FrontSettings
    from services.lookups import ServiceTagSource
    from services.ports import (
        AddressLookups,
        ApproverDirectory,
        AuditLog,
        DeliveryLedger,
        EgressLookup,
        GrantStore,
        JobQueue,
        RegistryGateway,
        RegistryLock,
        RegistryStateCache,
    )
    from services.settings import Settings

logger = logging.getLogger(__name__)


def build_ledger(settings: FrontSettings, clock: Clock | None = None) -> TableDeliveryLedger:
    """The delivery ledger (the front door's, for events Slack retries, and the worker's)."""
    from services.azure.clients import table_service
    from services.azure.deliveries import TableDeliveryLedger

    return TableDeliveryLedger(
        table_service(settings.storage), prefix=settings.table_prefix, clock=clock or SystemClock()
    )


def build_queue(settings: FrontSettings) -> StorageJobQueue:
    """The job queue (the front door's one adapter, and the worker's)."""
    from services.azure.clients import queue_client
    from services.azure.queue import StorageJobQueue

    return StorageJobQueue(queue_client(settings.storage, settings.queue_name))


def build_queue_drains(
    settings: Settings,
    *,
    jobs: Callable[[str, str], None],
    poison: Callable[[str, str], None],
    options: QueueOptions | None = None,
) -> list[QueueDrain]:
    """The job queue and its poison queue drained through `jobs` and `poison` (each called with
    a message's text and id), as host.json tells the Functions host to: for a process without
    the host (`python -m bot socket`)."""
    from services.azure.queue_drain import QueueDrain, QueueOptions

    chosen = options or QueueOptions.from_host_json()
    queue = settings.queue_name
    return [
        QueueDrain.for_storage(settings.storage, queue, jobs, options=chosen),
        QueueDrain.for_storage(settings.storage, f"{queue}-poison", poison, options=chosen),
    ]


def build_storage_probes(
    settings: Settings, timeout: float
) -> dict[str, Callable[[], int | dict[str, Any] | None]]:
    """The health route's checks of the app's storage (tables, the job and poison queues, the
    stored service tags' age)."""
    from services.azure.health import storage_probes

    return storage_probes(settings, timeout)


def service_tags_loader(settings: Settings, clock: Clock | None = None) -> ServiceTagSource:
    """The diagnosis's service tags: the document the daily refresh stores, kept per process and
    re-read when it changes; before the first refresh, the file named in settings, if any."""
    from services.azure.service_tags import StoredServiceTags

    return StoredServiceTags.from_settings(settings, clock or SystemClock())


class AzurePorts:
    """`Ports` on the Azure adapters, each built on first use: a worker running a reconcile
    never loads the diagnosis's service tags, one running a notice never the management SDK."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock,
        credential: TokenCredential | Callable[[], TokenCredential] | None,
        approvers: ApproverDirectory | Callable[[], ApproverDirectory] | None,
    ) -> None:
        self._settings = settings
        self.clock = clock
        self._credential = credential
        self._approvers = approvers
        self.registries = settings.directory
        self.policy = settings.policy
        self.timing = settings.arm.timing
        self.dry_run = settings.arm.dry_run

    @cached_property
    def _tables(self) -> Any:
        from services.azure.clients import table_service

        return table_service(self._settings.storage)

    def _arm_credential(self) -> TokenCredential | Callable[[], TokenCredential]:
        from services.azure.clients import default_credential

        return self._credential or default_credential

    @cached_property
    def grants(self) -> GrantStore:
        from services.azure.tables import TableGrantStore

        return TableGrantStore(self._tables, prefix=self._settings.table_prefix, clock=self.clock)

    @cached_property
    def audit(self) -> AuditLog:
        from services.azure.audit import TableAuditLog

        return TableAuditLog(self._tables, prefix=self._settings.table_prefix)

    @cached_property
    def ledger(self) -> DeliveryLedger:
        return build_ledger(self._settings.front, self.clock)

    @cached_property
    def registry(self) -> RegistryGateway:
        from services.azure.arm import ArmRegistryGateway

        return ArmRegistryGateway(arm=self._settings.arm, credential=self._arm_credential())

    @cached_property
    def lock(self) -> RegistryLock:
        from services.azure.clients import blob_service
        from services.azure.lock import BlobLeaseLock

        arm = self._settings.arm
        return BlobLeaseLock(
            blob_service(self._settings.storage).get_container_client(arm.lock_container),
            lease_seconds=arm.lock_lease_seconds,
        )

    @cached_property
    def jobs(self) -> JobQueue:
        return build_queue(self._settings.front)

    @cached_property
    def approvers(self) -> ApproverDirectory:
        source = self._approvers
        if source is None:
            from services.directory import StaticApproverDirectory

            return StaticApproverDirectory()
        return source() if callable(source) else source

    @cached_property
    def lookups(self) -> AddressLookups:
        from services.lookups import AddressBook

        settings = self._settings
        return AddressBook(
            settings.known_ips,
            service_tags_loader(settings, self.clock),
            clock=self.clock,
            max_age=timedelta(hours=settings.service_tags.max_age_hours),
        )

    @cached_property
    def states(self) -> RegistryStateCache | None:
        from services.flows.states import RegistryStates

        ttl = timedelta(seconds=self._settings.arm.state_cache_seconds)
        return RegistryStates(self.registry, self.clock, ttl)

    @cached_property
    def egress(self) -> EgressLookup | None:
        if not self._settings.egress_lookup:
            return None
        from services.azure.egress import ArmEgressLookup

        return ArmEgressLookup(arm=self._settings.arm, credential=self._arm_credential())


def build_ports(
    settings: Settings,
    *,
    clock: Clock | None = None,
    credential: TokenCredential | Callable[[], TokenCredential] | None = None,
    approvers: ApproverDirectory | Callable[[], ApproverDirectory] | None = None,
) -> AzurePorts:
    """Every port on its Azure adapter, each made when first used. `credential` defaults to
    `DefaultAzureCredential`; `approvers` (or a function making it) to a directory that knows no
    user groups."""
    return AzurePorts(
        settings, clock=clock or SystemClock(), credential=credential, approvers=approvers
    )


#: ARM retries for the doctor: it reports a failure in seconds instead of retrying for minutes.
_DOCTOR_ARM_RETRIES = 1
_DOCTOR_ARM_TIMEOUT = 20.0


def build_doctor_context(
    settings: Settings,
    *,
    clock: Clock | None = None,
    credential: TokenCredential | Callable[[], TokenCredential] | None = None,
    approvers: ApproverDirectory | None = None,
    as_app: bool = False,
) -> DoctorContext:
    """What `python -m bot doctor` and `/api/health/deep` check: ARM with short retries, the
    health route's storage probes, the stored service tags' time. `approvers` is the Slack
    user-group directory when a bot token is at hand; `as_app` when this runs inside the app."""
    from services.azure.arm import ArmRegistryGateway
    from services.azure.clients import default_credential
    from services.azure.permissions import REGISTRY_RULES_ACTIONS
    from services.azure.service_tags import ServiceTagStore
    from services.flows.doctor import DoctorContext

    arm = settings.arm.model_copy(
        update={"retry_total": _DOCTOR_ARM_RETRIES, "read_timeout": _DOCTOR_ARM_TIMEOUT}
    )
    gateway = ArmRegistryGateway(arm=arm, credential=credential or default_credential)
    # Storage answers within the health route's budget, without retries, as the route's do.
    budget = settings.health_timeout_seconds
    return DoctorContext(
        settings=settings,
        clock=clock or SystemClock(),
        registry=gateway,
        access=gateway,
        approvers=approvers,
        storage=build_storage_probes(settings, budget),
        service_tags_stored_at=lambda: ServiceTagStore.from_settings(settings).stored_at(
            retry_total=0, connection_timeout=budget, read_timeout=budget
        ),
        registry_actions=REGISTRY_RULES_ACTIONS,
        as_app=as_app,
    )
