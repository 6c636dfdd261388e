"""The append-only audit log in Azure Table Storage.

Table `<prefix>audit`. PartitionKey = grant id (a grant's whole history is one partition query) or
`registry|<login server>` (a registry's changes); an event about a registry change and its grants
is written once under each. RowKey = the event id (`<fixed-width UTC time>|<sequence>|<random>`),
so a partition reads back in order. Events are only inserted; nothing here updates or deletes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceExistsError

from services.azure.clients import tables
from services.domain.audit import AuditEvent
from services.domain.ids import time_key

if TYPE_CHECKING:
    from azure.data.tables import TableEntity, TableServiceClient

#: Table properties hold at most 64 KiB (32 K UTF-16 characters); keep JSON well under it.
MAX_JSON_CHARS = 30_000


def _dump(value: Any) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    if len(text) > MAX_JSON_CHARS:
        # Inputs are bounded before they reach a grant; this only guards the audit write itself,
        # which must not fail after the change it records was made.
        return json.dumps({"truncated": True, "text": text[: MAX_JSON_CHARS - 100]})
    return text


def registry_partition(registry: str) -> str:
    return f"registry|{registry.strip().lower()}"


class TableAuditLog:
    """`AuditLog` on Azure Table Storage."""

    def __init__(self, service: TableServiceClient, *, prefix: str) -> None:
        [self._table] = tables(service, f"{prefix}audit")

    def append(self, event: AuditEvent, *, partitions: Iterable[str] = ()) -> None:
        primary = event.grant_id if event.kind == "transition" and event.grant_id else None
        if primary is None:
            primary = registry_partition(event.registry or "unknown")
        entity: dict[str, Any] = {
            "RowKey": event.event_id,
            "kind": event.kind,
            "at": event.at,
            "actor": event.actor,
            "before": _dump(event.before),
            "after": _dump(event.after),
            "detail": _dump(event.detail),
        }
        for name in ("grant_id", "registry", "from_state", "to_state"):
            value = getattr(event, name)
            if value is not None:
                entity[name] = value
        for partition in dict.fromkeys([primary, *partitions]):
            # The same event written again after a retry is there already.
            with contextlib.suppress(ResourceExistsError):
                self._table.create_entity({**entity, "PartitionKey": partition})

    def for_grant(self, grant_id: str) -> list[AuditEvent]:
        return self._partition(grant_id, None)

    def for_registry(self, registry: str, *, since: datetime | None = None) -> list[AuditEvent]:
        return self._partition(registry_partition(registry), since)

    def _partition(self, partition: str, since: datetime | None) -> list[AuditEvent]:
        query = "PartitionKey eq @pk"
        params: dict[str, Any] = {"pk": partition}
        if since is not None:
            query += " and RowKey ge @lo"
            params["lo"] = time_key(since)
        rows = self._table.query_entities(query, parameters=params)
        return sorted((self._event(e) for e in rows), key=lambda e: e.event_id)

    @staticmethod
    def _event(entity: TableEntity) -> AuditEvent:
        at = entity["at"]
        return AuditEvent(
            event_id=str(entity["RowKey"]),
            kind=str(entity["kind"]),
            at=at.astimezone(UTC) if isinstance(at, datetime) else at,
            actor=str(entity["actor"]),
            grant_id=entity.get("grant_id"),
            registry=entity.get("registry"),
            from_state=entity.get("from_state"),
            to_state=entity.get("to_state"),
            before=json.loads(entity.get("before") or "null"),
            after=json.loads(entity.get("after") or "null"),
            detail=json.loads(entity.get("detail") or "null"),
        )
