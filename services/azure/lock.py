"""A per-registry write lock shared by every process and Function instance: a blob lease.

Registries have no ETag, so two read-modify-writes of one rule set that overlap lose a rule. Each
registry has one empty blob in the app's storage account; whoever holds its lease may write the
registry's rules. Taking it never waits: a busy lock means the caller's reconcile runs again a
little later (the holder will likely do the work anyway). A background thread renews the lease
while it is held, so a slow ARM update cannot outlive it; if the host dies, the lease lapses by
itself after `lease_seconds`.
"""

from __future__ import annotations

import logging
import threading
from contextlib import suppress
from types import TracebackType
from typing import TYPE_CHECKING

from azure.core.exceptions import HttpResponseError, ResourceExistsError

from services.domain.errors import LockLost

if TYPE_CHECKING:
    from azure.storage.blob import BlobLeaseClient, ContainerClient

logger = logging.getLogger(__name__)

#: Azure accepts lease lengths of 15 to 60 seconds (or infinite, which a crash would leave stuck).
MIN_LEASE_SECONDS = 15
MAX_LEASE_SECONDS = 60


class BlobLeaseLock:
    """`RegistryLock` on blob leases in one container (created on first use)."""

    def __init__(
        self,
        container: ContainerClient,
        *,
        lease_seconds: int = 30,
        renew_seconds: float | None = None,
    ) -> None:
        if not MIN_LEASE_SECONDS <= lease_seconds <= MAX_LEASE_SECONDS:
            raise ValueError(
                f"lease_seconds must be {MIN_LEASE_SECONDS}..{MAX_LEASE_SECONDS}, "
                f"not {lease_seconds}"
            )
        self._container = container
        self._lease_seconds = lease_seconds
        # A third of the lease leaves two chances to renew before it would lapse.
        self._renew_seconds = renew_seconds if renew_seconds is not None else lease_seconds / 3
        self._container_ready = False
        # Blobs known to exist: one storage call per change saved (a lock blob is never deleted).
        self._blobs: set[str] = set()
        self._mutex = threading.Lock()

    @staticmethod
    def blob_name(registry: str) -> str:
        return f"{registry.strip().lower()}.lock"

    def _ensure_blob(self, blob: str) -> None:
        with self._mutex:
            if blob in self._blobs:
                return
        if not self._container_ready:
            with suppress(ResourceExistsError):
                self._container.create_container()
            self._container_ready = True
        try:
            self._container.upload_blob(blob, b"", overwrite=False)
        except ResourceExistsError:
            pass  # exists already, or exists and is leased right now: both are fine
        except HttpResponseError as exc:
            if exc.status_code != 412:
                raise
        with self._mutex:
            self._blobs.add(blob)

    def try_hold(self, registry: str) -> HeldLease | None:
        """The lease on the registry's blob, renewed in the background until the `with` block
        ends; None at once when another holder has it."""
        from azure.storage.blob import BlobLeaseClient

        blob = self.blob_name(registry)
        self._ensure_blob(blob)
        lease = BlobLeaseClient(self._container.get_blob_client(blob))
        try:
            lease.acquire(lease_duration=self._lease_seconds)
        except HttpResponseError as exc:
            if exc.status_code == 409:
                return None
            raise
        return HeldLease(registry, lease, self._renew_seconds)


class HeldLease:
    """A lease that is held; a context manager that renews it and releases it at the end."""

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

    def __enter__(self) -> HeldLease:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        try:
            self._lease.release()
        except HttpResponseError:
            # Lost or expired already: nothing to give back; the lease lapses by itself.
            logger.warning("lease on %s was gone at release", self.registry)

    def check(self) -> None:
        if self.lost is not None:
            raise LockLost(self.registry, str(self.lost))

    def confirm(self) -> None:
        """Renew the lease now: a lease that lapsed or was broken while a slow write ran fails
        here, and the write's outcome is then unknown to this holder."""
        self.check()
        try:
            self._lease.renew()
        except HttpResponseError as exc:
            self.lost = exc
            raise LockLost(self.registry, f"the lease could not be renewed: {exc.reason}") from exc
        self.renewals += 1

    def _renew_loop(self) -> None:
        while not self._stop.wait(self._renew_seconds):
            try:
                self._lease.renew()
                self.renewals += 1
            except HttpResponseError as exc:
                logger.error(
                    "could not renew the lease on %s: %s",
                    self.registry,
                    exc,
                    extra={"registry": self.registry},
                )
                self.lost = exc
                return
