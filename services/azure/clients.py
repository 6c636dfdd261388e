"""Storage clients from settings: a connection string (Azurite, account keys) or the account's
endpoints reached with the app's managed identity (`DefaultAzureCredential`).

SDK modules are imported where a client is built, so a process pays only for what it uses (the
HTTP function never loads the blob or the management SDKs).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from services.settings import StorageTarget

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.data.tables import TableServiceClient
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueClient


@cache
def default_credential() -> TokenCredential:
    """One `DefaultAzureCredential` per process, made on first use (it probes the environment)."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def table_service(target: StorageTarget) -> TableServiceClient:
    from azure.data.tables import TableServiceClient

    if target.connection_string is not None:
        return TableServiceClient.from_connection_string(
            target.connection_string.get_secret_value()
        )
    return TableServiceClient(target.endpoint("table"), credential=default_credential())


def blob_service(target: StorageTarget) -> BlobServiceClient:
    from azure.storage.blob import BlobServiceClient

    if target.connection_string is not None:
        return BlobServiceClient.from_connection_string(target.connection_string.get_secret_value())
    return BlobServiceClient(target.endpoint("blob"), credential=default_credential())


def queue_client(target: StorageTarget, queue: str) -> QueueClient:
    # The Functions queue trigger reads base64 text; the SDK sends plain text unless told.
    from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

    encode, decode = TextBase64EncodePolicy(), TextBase64DecodePolicy()
    if target.connection_string is not None:
        return QueueClient.from_connection_string(
            target.connection_string.get_secret_value(),
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
