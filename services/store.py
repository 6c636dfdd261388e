"""Grants in Azure Table Storage (azure-data-tables), with the indexes that keep queries bounded.

Tables (names prefixed with `Settings.table_prefix`):
- `<prefix>grants` — one entity per grant. PartitionKey = the UTC day encoded in the grant's
  ULID (`20260101`), so a grant is a point read from its id alone and a day's grants are one
  partition; RowKey = grant id. The grant is the JSON property `data`; `state`, `registry`, `ip`,
  `requester` and `expires_at` are copies for people browsing the table.
- `<prefix>grantindex` — every index, each in its own partitions:
  - `slot|<registry>` / `<ip>` → the open grant for that registry+IP. Created with
    `create_entity`, so two concurrent requests cannot both hold it (the uniqueness guard).
  - `deadline|expiry` and `deadline|lapse` / `<yyyymmddThhmmss.ffffffZ>|<grant id>` — fixed-width
    time first, so "due by now" is the key range `RowKey le '<now>~'` and reads only due rows.
  - `requester|<team>|<user>` / `<grant id>` — a requester's open grants (the open-request cap).
  - `removal|<registry>` / `<ip>|<grant id>` — rules the bot added whose grant ended and that
    wait for removal.
Index rows are hints: every reader re-reads the grant and drops rows that no longer match it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, TableServiceClient, UpdateMode

from services.grants import (
    ConcurrentUpdate,
    DeadlineKind,
    Grant,
    GrantNotFound,
    GrantState,
    Requester,
    grant_id_time,
    is_grant_id,
)
from services.settings import Settings

#: Entity group transactions take at most 100 operations, all in one partition.
BATCH_LIMIT = 100
_TIME_KEY_FORMAT = "%Y%m%dT%H%M%S.%fZ"


def time_key(when: datetime) -> str:
    """A fixed-width, lexically sortable UTC timestamp for RowKeys (microsecond precision)."""
    if when.tzinfo is None:
        raise ValueError("time keys need a timezone-aware datetime")
    return when.astimezone(UTC).strftime(_TIME_KEY_FORMAT)


def parse_time_key(key: str) -> datetime:
    return datetime.strptime(key, _TIME_KEY_FORMAT).replace(tzinfo=UTC)


def table_service(settings: Settings) -> TableServiceClient:
    return TableServiceClient.from_connection_string(settings.storage_connection_string)


def _batches(entities: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    by_partition: dict[str, list[dict[str, Any]]] = {}
    for entity in entities:
        by_partition.setdefault(entity["PartitionKey"], []).append(entity)
    for rows in by_partition.values():
        for start in range(0, len(rows), BATCH_LIMIT):
            yield rows[start : start + BATCH_LIMIT]


class TableGrantStore:
    """The `services.grants.GrantStore` port on Azure Table Storage."""

    def __init__(self, service: TableServiceClient, *, prefix: str) -> None:
        self._grants = service.create_table_if_not_exists(f"{prefix}grants")
        self._index = service.create_table_if_not_exists(f"{prefix}grantindex")
        self._read_lock = threading.Lock()
        #: Index rows returned by the service to deadline queries (shows queries are bounded).
        self.index_rows_read = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> TableGrantStore:
        return cls(table_service(settings), prefix=settings.table_prefix)

    # --- grants ---

    @staticmethod
    def _grant_entity(grant: Grant) -> dict[str, Any]:
        entity: dict[str, Any] = {
            "PartitionKey": grant_id_time(grant.id).strftime("%Y%m%d"),
            "RowKey": grant.id,
            "data": grant.model_dump_json(),
            "state": grant.state.value,
            "registry": grant.registry,
            "ip": str(grant.ip),
            "requester": f"{grant.requester.team_id}/{grant.requester.user_id}",
        }
        if grant.expires_at is not None:
            entity["expires_at"] = grant.expires_at
        return entity

    def create(self, grant: Grant) -> None:
        self._grants.create_entity(self._grant_entity(grant))

    def get(self, grant_id: str) -> tuple[Grant, str]:
        if not is_grant_id(grant_id):
            raise GrantNotFound(grant_id)
        try:
            entity = self._grants.get_entity(grant_id_time(grant_id).strftime("%Y%m%d"), grant_id)
        except ResourceNotFoundError:
            raise GrantNotFound(grant_id) from None
        return Grant.model_validate_json(entity["data"]), str(entity.metadata["etag"])

    def replace(self, grant: Grant, etag: str) -> str:
        try:
            meta = self._grants.update_entity(
                self._grant_entity(grant),
                mode=UpdateMode.REPLACE,
                etag=etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            raise ConcurrentUpdate(grant.id) from None
        return str(meta.get("etag", ""))

    def delete(self, grant_id: str) -> None:
        self._grants.delete_entity(grant_id_time(grant_id).strftime("%Y%m%d"), grant_id)

    # --- registry+IP slot ---

    @staticmethod
    def _slot_key(registry: str, ip: ipaddress.IPv4Address) -> tuple[str, str]:
        return f"slot|{registry}", str(ip)

    def claim_slot(self, registry: str, ip: ipaddress.IPv4Address, grant_id: str) -> bool:
        pk, rk = self._slot_key(registry, ip)
        try:
            self._index.create_entity({"PartitionKey": pk, "RowKey": rk, "grant_id": grant_id})
        except ResourceExistsError:
            return False
        return True

    def slot_holder(self, registry: str, ip: ipaddress.IPv4Address) -> tuple[str, str] | None:
        pk, rk = self._slot_key(registry, ip)
        try:
            entity = self._index.get_entity(pk, rk)
        except ResourceNotFoundError:
            return None
        return str(entity["grant_id"]), str(entity.metadata["etag"])

    def release_stale_slot(self, registry: str, ip: ipaddress.IPv4Address, etag: str) -> None:
        pk, rk = self._slot_key(registry, ip)
        # Someone else may already have freed or re-taken it: then there is nothing to do.
        with contextlib.suppress(ResourceModifiedError, ResourceNotFoundError):
            self._index.delete_entity(
                pk, rk, etag=etag, match_condition=MatchConditions.IfNotModified
            )

    def release_slot(self, registry: str, ip: ipaddress.IPv4Address, grant_id: str) -> None:
        held = self.slot_holder(registry, ip)
        if held is not None and held[0] == grant_id:
            self.release_stale_slot(registry, ip, held[1])

    # --- deadlines ---

    @staticmethod
    def _deadline_key(kind: DeadlineKind, when: datetime, grant_id: str) -> tuple[str, str]:
        return f"deadline|{kind.value}", f"{time_key(when)}|{grant_id}"

    def put_deadline(self, kind: DeadlineKind, when: datetime, grant_id: str) -> None:
        pk, rk = self._deadline_key(kind, when, grant_id)
        self._index.upsert_entity({"PartitionKey": pk, "RowKey": rk, "grant_id": grant_id})

    def drop_deadline(self, kind: DeadlineKind, when: datetime, grant_id: str) -> None:
        pk, rk = self._deadline_key(kind, when, grant_id)
        self._index.delete_entity(pk, rk)

    def deadlines(
        self, kind: DeadlineKind, *, after: datetime | None, until: datetime
    ) -> list[tuple[datetime, str]]:
        # "|" < "~", so "<t>|<id>" < "<t>~": the upper bound includes rows at exactly `until`
        # and the lower bound excludes rows at exactly `after`.
        query = "PartitionKey eq @pk and RowKey lt @hi"
        params: dict[str, Any] = {
            "pk": f"deadline|{kind.value}",
            "hi": time_key(until) + "~",
        }
        if after is not None:
            query += " and RowKey gt @lo"
            params["lo"] = time_key(after) + "~"
        rows = []
        for entity in self._index.query_entities(
            query, parameters=params, select=["RowKey"], results_per_page=BATCH_LIMIT * 10
        ):
            with self._read_lock:
                self.index_rows_read += 1
            stamp, _, grant_id = str(entity["RowKey"]).partition("|")
            rows.append((parse_time_key(stamp), grant_id))
        return rows

    # --- requester index ---

    @staticmethod
    def _requester_pk(requester: Requester) -> str:
        return f"requester|{requester.team_id}|{requester.user_id}"

    def add_requester_grant(self, requester: Requester, grant_id: str) -> None:
        self._index.upsert_entity(
            {"PartitionKey": self._requester_pk(requester), "RowKey": grant_id}
        )

    def drop_requester_grant(self, requester: Requester, grant_id: str) -> None:
        self._index.delete_entity(self._requester_pk(requester), grant_id)

    def requester_grants(self, requester: Requester) -> list[str]:
        rows = self._index.query_entities(
            "PartitionKey eq @pk",
            parameters={"pk": self._requester_pk(requester)},
            select=["RowKey"],
        )
        return [str(e["RowKey"]) for e in rows]

    # --- removals ---

    def add_removal(self, registry: str, ip: ipaddress.IPv4Address, grant_id: str) -> None:
        self._index.upsert_entity(
            {"PartitionKey": f"removal|{registry}", "RowKey": f"{ip}|{grant_id}"}
        )

    def drop_removal(self, registry: str, ip: ipaddress.IPv4Address, grant_id: str) -> None:
        self._index.delete_entity(f"removal|{registry}", f"{ip}|{grant_id}")

    def removals(self, registry: str) -> list[tuple[ipaddress.IPv4Address, str]]:
        rows = self._index.query_entities(
            "PartitionKey eq @pk", parameters={"pk": f"removal|{registry}"}, select=["RowKey"]
        )
        found = []
        for entity in rows:
            ip, _, grant_id = str(entity["RowKey"]).partition("|")
            found.append((ipaddress.IPv4Address(ip), grant_id))
        return found

    # --- bulk ---

    def load(self, grants: Sequence[Grant]) -> None:
        """Write many grants and their index rows in entity-group transactions (restore, tests).

        The grants must not exist yet; each index row is what the service would have written for
        the grant's current state.
        """
        self._submit(self._grants, (self._grant_entity(g) for g in grants))
        rows: list[dict[str, Any]] = []
        for grant in grants:
            if grant.is_open:
                pk, rk = self._slot_key(grant.registry, grant.ip)
                rows.append({"PartitionKey": pk, "RowKey": rk, "grant_id": grant.id})
                rows.append(
                    {"PartitionKey": self._requester_pk(grant.requester), "RowKey": grant.id}
                )
            if grant.state is GrantState.PENDING:
                pk, rk = self._deadline_key(DeadlineKind.LAPSE, grant.lapses_at, grant.id)
                rows.append({"PartitionKey": pk, "RowKey": rk, "grant_id": grant.id})
            if grant.state is GrantState.ACTIVE and grant.expires_at is not None:
                pk, rk = self._deadline_key(DeadlineKind.EXPIRY, grant.expires_at, grant.id)
                rows.append({"PartitionKey": pk, "RowKey": rk, "grant_id": grant.id})
        self._submit(self._index, rows)

    @staticmethod
    def _submit(table: TableClient, entities: Iterable[dict[str, Any]]) -> None:
        for batch in _batches(entities):
            table.submit_transaction([("create", e) for e in batch])
