"""Storage clients from settings: a connection string (Azurite, account keys) or the account's
endpoints reached with the app's managed identity (`DefaultAzureCredential`); and what every
management client shares (`arm_options`, `ArmClients`).

SDK modules are imported where a client is built, so a process pays only for what it uses (the
HTTP function never loads the blob or the management SDKs).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable
from functools import cache
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.data.tables import TableClient, TableServiceClient
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueClient

    from services.front_settings import StorageTarget
    from services.settings import ArmSettings


@cache
def default_credential() -> TokenCredential:
    """One `DefaultAzureCredential` per process, made on first use (it probes the environment)."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def arm_options(arm: ArmSettings) -> dict[str, Any]:
    """The keyword arguments every management client is built with: the configured endpoint
    (the emulator in tests), its CA, azure-core's retries and the read time-out."""
    return {
        "base_url": arm.endpoint,
        "connection_verify": arm.ca_bundle or True,
        "retry_total": arm.retry_total,
        "retry_backoff_factor": arm.retry_backoff_factor,
        "retry_backoff_max": arm.retry_backoff_max,
        "read_timeout": arm.read_timeout,
    }


_Client = TypeVar("_Client")


class ArmClients(Generic[_Client]):
    """An adapter's management clients, one per key (a subscription, say), each made on first
    use; thread-safe. The credential is made with the first client: a process that never reaches
    ARM never builds `DefaultAzureCredential` (the default), which probes the environment."""

    def __init__(
        self, credential: TokenCredential | Callable[[], TokenCredential] | None = None
    ) -> None:
        self._source = credential if credential is not None else default_credential
        self._credential: TokenCredential | None = None
        self._clients: dict[Hashable, _Client] = {}
        self._mutex = threading.Lock()

    def get(self, key: Hashable, make: Callable[[TokenCredential], _Client]) -> _Client:
        """The client for `key`, made by `make(credential)` the first time."""
        with self._mutex:
            client = self._clients.get(key)
            if client is None:
                if self._credential is None:
                    source = self._source
                    self._credential = source() if callable(source) else source
                client = self._clients[key] = make(self._credential)
            return client


def table_service(target: StorageTarget) -> TableServiceClient:
    from azure.data.tables import TableServiceClient

    if target.connection_string is not None:
        return TableServiceClient.from_connection_string(target.connection_string)
    return TableServiceClient(target.endpoint("table"), credential=default_credential())


#: Tables known to exist, per account: what this process listed or created.
_existing: dict[str, set[str]] = {}
_existing_mutex = threading.Lock()


def tables(service: TableServiceClient, *names: str) -> list[TableClient]:
    """Clients for the tables `names`, each created if it is missing. The deployment declares the
    app's tables; one listing per process and account tells which exist, instead of one create
    call per table that Azure answers "exists" (a cold worker would pay one per table); a table
    the listing did not show is created (Azurite starts empty)."""
    from azure.core.exceptions import ResourceExistsError

    account = service.url
    with _existing_mutex:
        known = _existing.get(account)
        if known is None or not known.issuperset(names):
            if known is None:
                known = _existing[account] = {t.name for t in service.list_tables()}
            for name in sorted(set(names) - known):
                with contextlib.suppress(ResourceExistsError):
                    service.create_table(name)
                known.add(name)
    return [service.get_table_client(name) for name in names]


def blob_service(target: StorageTarget) -> BlobServiceClient:
    from azure.storage.blob import BlobServiceClient

    if target.connection_string is not None:
        return BlobServiceClient.from_connection_string(target.connection_string)
    return BlobServiceClient(target.endpoint("blob"), credential=default_credential())


def queue_client(target: StorageTarget, queue: str) -> QueueClient:
    # The Functions queue trigger reads base64 text; the SDK sends plain text unless told.
    from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

    encode, decode = TextBase64EncodePolicy(), TextBase64DecodePolicy()
    if target.connection_string is not None:
        return QueueClient.from_connection_string(
            target.connection_string,
            queue,
            message_encode_policy=encode,
            message_decode_policy=decode,
        )
    return QueueClient(
        target.endpoint("queue"),
        queue,
        credential=default_credential(),
        message_encode_policy=encode,
        message_decode_policy=decode,
    )
