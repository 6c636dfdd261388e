"""Storage clients from settings: a connection string (Azurite, account keys) or the account's
endpoints reached with the app's managed identity (`DefaultAzureCredential`).

SDK modules are imported where a client is built, so a process pays only for what it uses (the
HTTP function never loads the blob or the management SDKs).
"""

from __future__ import annotations

import contextlib
import threading
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.data.tables import TableClient, TableServiceClient
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueClient

    from services.front_settings import StorageTarget


@cache
def default_credential() -> TokenCredential:
    """One `DefaultAzureCredential` per process, made on first use (it probes the environment)."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


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
