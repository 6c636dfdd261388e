"""The append-only audit log: every grant transition and every registry change, in Table Storage.

Table `<prefix>audit`. PartitionKey = grant id (a grant's whole history is one partition query)
or `registry|<login server>` (a registry's changes). RowKey = `<fixed-width UTC time>|<process
sequence>|<random>`: sorts by time, then by the order events were recorded in this process
(so a frozen clock still keeps order), and the random suffix keeps writers on several hosts apart.
Events are only ever inserted with `create_entity`; nothing here updates or deletes them.
"""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from azure.data.tables import TableEntity, TableServiceClient
from pydantic import AwareDatetime, BaseModel, ConfigDict

from services.settings import Settings

_sequence = itertools.count()
#: Table properties hold at most 64 KiB (32 K UTF-16 characters); keep JSON well under it.
_MAX_JSON_CHARS = 30_000


def _time_key(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def new_event_id(at: datetime) -> str:
    return f"{_time_key(at)}|{next(_sequence):012d}|{secrets.token_hex(4)}"


class AuditEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

    partition: str
    event_id: str
    #: `transition` or `registry_change`.
    kind: str
    at: AwareDatetime
    actor: str
    grant_id: str | None = None
    registry: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    before: Any = None
    after: Any = None
    #: The rest of a registry change record (operation, ips, grant ids…).
    detail: dict[str, Any] | None = None


def _dump(value: Any) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    if len(text) > _MAX_JSON_CHARS:
        raise ValueError(f"audit payload of {len(text)} characters exceeds the property limit")
    return text


class AuditLog:
    """Insert-only audit events in Azure Table Storage."""

    def __init__(self, service: TableServiceClient, *, prefix: str) -> None:
        self._table = service.create_table_if_not_exists(f"{prefix}audit")

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditLog:
        return cls(
            TableServiceClient.from_connection_string(settings.storage_connection_string),
            prefix=settings.table_prefix,
        )

    @staticmethod
    def transition_event(
        *,
        grant_id: str,
        registry: str,
        actor: str,
        at: datetime,
        from_state: str | None,
        to_state: str,
        before: Any,
        after: Any,
    ) -> AuditEvent:
        return AuditEvent(
            partition=grant_id,
            event_id=new_event_id(at),
            kind="transition",
            at=at,
            actor=actor,
            grant_id=grant_id,
            registry=registry,
            from_state=from_state,
            to_state=to_state,
            before=before,
            after=after,
        )

    def append(self, event: AuditEvent) -> None:
        entity: dict[str, Any] = {
            "PartitionKey": event.partition,
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
        self._table.create_entity(entity)

    def record_registry_change(
        self,
        registry: str,
        change: BaseModel | Mapping[str, Any],
        *,
        actor: str,
        at: datetime,
        grant_ids: tuple[str, ...] = (),
    ) -> AuditEvent:
        """Append a registry change to the registry's history and to each grant's history.

        `change` is the registry layer's record (`services.registry.RegistryChange`): its rule
        lists (`rules_before`/`rules_after`, or `before`/`after` in a plain mapping) become the
        event's before and after; every other field (operation, ips, outcomes…) goes into
        `detail`.
        """
        record = change.model_dump(mode="json") if isinstance(change, BaseModel) else dict(change)
        # Key presence, not truthiness: an empty rule list is a real "before".
        before = (
            record.pop("rules_before") if "rules_before" in record else record.pop("before", None)
        )
        after = record.pop("rules_after") if "rules_after" in record else record.pop("after", None)
        detail = {**record, "grant_ids": list(grant_ids)}
        event = AuditEvent(
            partition=f"registry|{registry}",
            event_id=new_event_id(at),
            kind="registry_change",
            at=at,
            actor=actor,
            registry=registry,
            before=before,
            after=after,
            detail=detail,
        )
        self.append(event)
        for grant_id in grant_ids:
            self.append(event.model_copy(update={"partition": grant_id, "grant_id": grant_id}))
        return event

    def for_grant(self, grant_id: str) -> list[AuditEvent]:
        """A grant's events, oldest first."""
        return self._partition(grant_id)

    def for_registry(self, registry: str) -> list[AuditEvent]:
        """A registry's changes, oldest first."""
        return self._partition(f"registry|{registry.strip().lower()}")

    def _partition(self, partition: str) -> list[AuditEvent]:
        rows = self._table.query_entities("PartitionKey eq @pk", parameters={"pk": partition})
        events = [self._event(e) for e in rows]
        return sorted(events, key=lambda e: e.event_id)

    @staticmethod
    def _event(entity: TableEntity) -> AuditEvent:
        at = entity["at"]
        return AuditEvent(
            partition=str(entity["PartitionKey"]),
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
