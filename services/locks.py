"""A per-registry write lock shared by every process and Function instance: a blob lease.

Registries have no ETag, so two read-modify-writes of one rule set that overlap lose a rule. Each
registry has one empty blob in the app's storage account; whoever holds its lease may write the
registry's rules. A background thread renews the lease while it is held, so a slow ARM update
cannot outlive it; if the host dies, the lease lapses by itself after `lease_seconds`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from typing import Protocol

from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.storage.blob import BlobLeaseClient, BlobServiceClient, ContainerClient

from services.domain.errors import LockLost, RegistryBusy

logger = logging.getLogger(__name__)

#: Azure accepts lease lengths of 15 to 60 seconds (or infinite, which a crash would leave stuck).
MIN_LEASE_SECONDS = 15
MAX_LEASE_SECONDS = 60


class RegistryLock(Protocol):
    def hold(self, registry: str) -> AbstractContextManager[Lease]:
        """Hold the registry's write lock for the `with` block, or raise `RegistryBusy`."""
        ...


class Lease(Protocol):
    def check(self) -> None:
        """Raise `LockLost` when the lock was lost while held (renewal failed)."""
        ...


class BlobLeaseLock:
    """`RegistryLock` on blob leases in one container (created on first use)."""

    def __init__(
        self,
        container: ContainerClient,
        *,
        lease_seconds: int = 30,
        wait_seconds: float = 60.0,
        poll_seconds: float = 1.0,
        renew_seconds: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not MIN_LEASE_SECONDS <= lease_seconds <= MAX_LEASE_SECONDS:
            raise ValueError(
                f"lease_seconds must be {MIN_LEASE_SECONDS}..{MAX_LEASE_SECONDS}, "
                f"not {lease_seconds}"
            )
        self._container = container
        self._lease_seconds = lease_seconds
        self._wait_seconds = wait_seconds
        self._poll_seconds = poll_seconds
        # A third of the lease leaves two chances to renew before it would lapse.
        self._renew_seconds = renew_seconds if renew_seconds is not None else lease_seconds / 3
        self._sleep = sleep
        self._container_ready = False
        # Blobs known to exist: one storage call per change saved (a lock blob is never deleted).
        self._blobs: set[str] = set()

    @classmethod
    def from_connection_string(
        cls, connection_string: str, container: str, **kwargs: object
    ) -> BlobLeaseLock:
        service = BlobServiceClient.from_connection_string(connection_string)
        return cls(service.get_container_client(container), **kwargs)  # type: ignore[arg-type]

    def blob_name(self, registry: str) -> str:
        return f"{registry.strip().lower()}.lock"

    def _ensure_blob(self, blob: str) -> None:
        if blob in self._blobs:
            return
        if not self._container_ready:
            with suppress(ResourceExistsError):
                self._container.create_container()
            self._container_ready = True
        try:
            self._container.upload_blob(blob, b"", overwrite=False)
        except ResourceExistsError:
            # Exists already, or exists and is leased right now (412/409): both are fine.
            pass
        except HttpResponseError as exc:
            if exc.status_code != 412:
                raise
        self._blobs.add(blob)

    @contextmanager
    def hold(self, registry: str) -> Iterator[_HeldLease]:
        """Hold the lease on the registry's blob for the block; renewed in the background.

        Waits up to `wait_seconds` (counted as time slept between attempts) for a holder to
        release, then raises `RegistryBusy`. Released in every case when the block ends.
        """
        blob = self.blob_name(registry)
        self._ensure_blob(blob)
        lease = BlobLeaseClient(self._container.get_blob_client(blob))
        waited = 0.0
        while True:
            try:
                lease.acquire(lease_duration=self._lease_seconds)
                break
            except HttpResponseError as exc:
                if exc.status_code != 409:
                    raise
                if waited >= self._wait_seconds:
                    raise RegistryBusy(registry, waited) from exc
                step = min(self._poll_seconds, self._wait_seconds - waited)
                self._sleep(step)
                waited += step
        held = _HeldLease(registry, lease, self._renew_seconds)
        held.start()
        try:
            yield held
        finally:
            held.stop()
            try:
                lease.release()
            except HttpResponseError:
                # Lost or expired already: nothing to give back; the lease lapses by itself.
                logger.warning("lease on %s was gone at release", blob)


class _HeldLease:
    def __init__(self, registry: str, lease: BlobLeaseClient, renew_seconds: float) -> None:
        self.registry = registry
        self._lease = lease
        self._renew_seconds = renew_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._renew_loop, name=f"lease-renew-{registry}", daemon=True
        )
        self.renewals = 0
        self.lost: Exception | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def check(self) -> None:
        if self.lost is not None:
            raise LockLost(self.registry, str(self.lost))

    def _renew_loop(self) -> None:
        while not self._stop.wait(self._renew_seconds):
            try:
                self._lease.renew()
                self.renewals += 1
            except HttpResponseError as exc:
                logger.error("could not renew the lease on %s: %s", self.registry, exc)
                self.lost = exc
                return
