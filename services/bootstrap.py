"""The one place adapters are built from settings.

`build_ports` gives a worker everything a flow may touch; the HTTP function needs only the
delivery ledger and the queue (`build_ledger`, `build_queue`) and never builds the rest, so its
cold start loads neither the blob nor the management SDKs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from services.clock import Clock, SystemClock
from services.directory import StaticApproverDirectory
from services.lookups import AddressBook, ServiceTagSource
from services.ports import ApproverDirectory, Ports
from services.settings import Settings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from services.azure.deliveries import TableDeliveryLedger
    from services.azure.queue import StorageJobQueue
    from services.azure.queue_drain import QueueDrain, QueueOptions
    from services.flows.doctor import DoctorContext

logger = logging.getLogger(__name__)


def build_ledger(settings: Settings, clock: Clock | None = None) -> TableDeliveryLedger:
    from services.azure.clients import table_service
    from services.azure.deliveries import TableDeliveryLedger

    return TableDeliveryLedger(
        table_service(settings.storage), prefix=settings.table_prefix, clock=clock or SystemClock()
    )


def build_queue(settings: Settings) -> StorageJobQueue:
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


def build_ports(
    settings: Settings,
    *,
    clock: Clock | None = None,
    credential: TokenCredential | Callable[[], TokenCredential] | None = None,
    approvers: ApproverDirectory | None = None,
) -> Ports:
    """Every port on its Azure adapter. `credential` defaults to `DefaultAzureCredential`
    (made on first use); `approvers` to a directory that knows no user groups."""
    from services.azure.arm import ArmRegistryGateway
    from services.azure.audit import TableAuditLog
    from services.azure.clients import blob_service, default_credential, table_service
    from services.azure.lock import BlobLeaseLock
    from services.azure.tables import TableGrantStore

    clock = clock or SystemClock()
    tables = table_service(settings.storage)
    lock = BlobLeaseLock(
        blob_service(settings.storage).get_container_client(settings.arm.lock_container),
        lease_seconds=settings.arm.lock_lease_seconds,
    )
    gateway = ArmRegistryGateway(arm=settings.arm, credential=credential or default_credential)
    egress = None
    if settings.egress_lookup:
        from services.azure.egress import ArmEgressLookup

        egress = ArmEgressLookup(arm=settings.arm, credential=credential or default_credential)
    from services.flows.diagnose import RegistryStates

    return Ports(
        registries=settings.directory,
        policy=settings.policy,
        grants=TableGrantStore(tables, prefix=settings.table_prefix, clock=clock),
        audit=TableAuditLog(tables, prefix=settings.table_prefix),
        ledger=build_ledger(settings, clock),
        registry=gateway,
        lock=lock,
        jobs=build_queue(settings),
        approvers=approvers or StaticApproverDirectory(),
        clock=clock,
        lookups=AddressBook(
            settings.known_ips,
            service_tags_loader(settings, clock),
            clock=clock,
            max_age=timedelta(hours=settings.service_tags.max_age_hours),
        ),
        settings=settings,
        dry_run=settings.arm.dry_run,
        states=RegistryStates(gateway, clock, timedelta(seconds=settings.arm.state_cache_seconds)),
        egress=egress,
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
