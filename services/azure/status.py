"""Where the daily service-tag refresh records when it last stored the tags: one row of the table
`<prefix>status`, so the health route reads it with the table SDK it has anyway (it loads no blob
SDK). Written by the refresh (`record_refresh`), read by the health route and by the refresh
itself when the host starts (`refreshed_at`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceNotFoundError

from services.azure.clients import tables

if TYPE_CHECKING:
    from azure.data.tables import TableServiceClient

STATUS_TABLE = "status"
STATUS_PARTITION = "service-tags"
STATUS_ROW = "stored"


def refreshed_at(service: TableServiceClient, prefix: str, **options: Any) -> datetime | None:
    """When a refresh last stored the tags (the status row's `fetchedAt`), or None when none did
    (no row, no table yet, or no time on it). `options` go to the request (`retry_total`,
    `connection_timeout`, `read_timeout`)."""
    table = service.get_table_client(f"{prefix}{STATUS_TABLE}")
    try:
        row = table.get_entity(STATUS_PARTITION, STATUS_ROW, **options)
        fetched = datetime.fromisoformat(str(row.get("fetchedAt")))
    except (ResourceNotFoundError, ValueError):
        return None
    return fetched if fetched.tzinfo is not None else fetched.replace(tzinfo=UTC)


def record_refresh(service: TableServiceClient, prefix: str, document: Mapping[str, Any]) -> None:
    """Note when the stored document was fetched, and its change number."""
    [table] = tables(service, f"{prefix}{STATUS_TABLE}")
    table.upsert_entity(
        {
            "PartitionKey": STATUS_PARTITION,
            "RowKey": STATUS_ROW,
            "fetchedAt": str(document.get("fetchedAt") or ""),
            "changeNumber": str(document.get("changeNumber") or ""),
        }
    )
