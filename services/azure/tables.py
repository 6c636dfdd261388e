"""The grant store on Azure Table Storage (azure-data-tables).

Tables (names prefixed with `Settings.table_prefix`):
- `<prefix>grants` — one entity per grant. PartitionKey = the UTC day in the grant's ULID
  (`20260101`), so a grant is a point read from its id alone; RowKey = grant id. The grant is the
  JSON property `data`; `state`, `registry`, `ip` and `requester` are copies for filters and for
  people browsing the table.
- `<prefix>grantindex` — the index rows `services.domain.grants.index_rows` derives from each
  grant (slots, caps, deadlines, requester and registry lists), with `grant_id` and `written_at`.
  Deadline RowKeys start with a fixed-width time, so "due by now" is a key range.
- `<prefix>entries` — the bot's own `ipRules` entries: PartitionKey = registry, RowKey = IP; and
  each registry's fence (`~fence`, `services.domain.reconcile.Fence`), written with them in one
  transaction.
- `<prefix>messages` — where each grant's Slack messages are: PartitionKey = grant id.
- `<prefix>offers` — what each diagnosis card lets people request: PartitionKey = day, RowKey = id.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode

from services.azure.clients import tables
from services.clock import Clock
from services.domain.errors import ConcurrentUpdate, GrantNotFound
from services.domain.grants import Grant, GrantState, IndexRow, MessageRef, index_rows
from services.domain.ids import is_ulid, ulid_time
from services.domain.reconcile import Fence, OwnedEntry
from services.ports import IndexEntry

if TYPE_CHECKING:
    from azure.data.tables import TableEntity, TableServiceClient

    from services.domain.offers import Offer


#: The fence's RowKey in a registry's partition of the entries table (entries are IPs: "~" sorts
#: after every one of them).
_FENCE_ROW = "~fence"


def _day(grant_id: str) -> str:
    if not is_ulid(grant_id):
        raise GrantNotFound(grant_id)
    return ulid_time(grant_id).strftime("%Y%m%d")


class TableGrantStore:
    """`GrantStore` on Azure Table Storage; missing tables are created on construction."""

    def __init__(self, service: TableServiceClient, *, prefix: str, clock: Clock) -> None:
        self._grants, self._index, self._entries, self._messages, self._offers = tables(
            service,
            f"{prefix}grants",
            f"{prefix}grantindex",
            f"{prefix}entries",
            f"{prefix}messages",
            f"{prefix}offers",
        )
        self._clock = clock

    # --- grants ---

    @staticmethod
    def _grant_entity(grant: Grant) -> dict[str, Any]:
        return {
            "PartitionKey": _day(grant.id),
            "RowKey": grant.id,
            "data": grant.model_dump_json(),
            "state": grant.state.value,
            "registry": grant.registry,
            "ip": str(grant.ip),
            "requester": f"{grant.requester.team_id}/{grant.requester.user_id}",
        }

    def create(self, grant: Grant) -> None:
        try:
            self._grants.create_entity(self._grant_entity(grant))
        except ResourceExistsError:
            raise ConcurrentUpdate(grant.id) from None

    def get(self, grant_id: str) -> tuple[Grant, str]:
        try:
            entity = self._grants.get_entity(_day(grant_id), grant_id)
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
        self._grants.delete_entity(_day(grant_id), grant_id)

    def scan(
        self, *, registry: str | None = None, state: GrantState | None = None
    ) -> Iterator[Grant]:
        clauses, params = [], {}
        if registry is not None:
            clauses.append("registry eq @registry")
            params["registry"] = registry
        if state is not None:
            clauses.append("state eq @state")
            params["state"] = state.value
        rows = (
            self._grants.query_entities(" and ".join(clauses), parameters=params)
            if clauses
            else self._grants.list_entities()
        )
        for entity in rows:
            yield Grant.model_validate_json(entity["data"])

    # --- index rows ---

    def _row_entity(self, row: IndexRow, grant_id: str) -> dict[str, Any]:
        return {
            "PartitionKey": row.partition,
            "RowKey": row.row,
            "grant_id": grant_id,
            "written_at": self._clock.now(),
        }

    @staticmethod
    def _entry(entity: TableEntity) -> IndexEntry:
        return IndexEntry(
            partition=str(entity["PartitionKey"]),
            row=str(entity["RowKey"]),
            grant_id=str(entity["grant_id"]),
            written_at=entity["written_at"],
            etag=str(entity.metadata["etag"]),
        )

    def put_rows(self, rows: Iterable[IndexRow], grant_id: str) -> None:
        for row in rows:
            if not row.claim:
                self._index.upsert_entity(self._row_entity(row, grant_id))

    def drop_rows(self, rows: Iterable[IndexRow], grant_id: str) -> None:
        for row in rows:
            if not row.claim:
                self._index.delete_entity(row.partition, row.row)
                continue
            held = self.holder(row)
            if held is not None and held.grant_id == grant_id:
                # Someone may have taken it over since: then it is theirs to keep.
                with contextlib.suppress(ResourceModifiedError, ResourceNotFoundError):
                    self._index.delete_entity(
                        row.partition,
                        row.row,
                        etag=held.etag,
                        match_condition=MatchConditions.IfNotModified,
                    )

    def claim(self, row: IndexRow, grant_id: str) -> bool:
        try:
            self._index.create_entity(self._row_entity(row, grant_id))
        except ResourceExistsError:
            return False
        return True

    def holder(self, row: IndexRow) -> IndexEntry | None:
        try:
            return self._entry(self._index.get_entity(row.partition, row.row))
        except ResourceNotFoundError:
            return None

    def take_over(self, row: IndexRow, grant_id: str, etag: str) -> bool:
        try:
            self._index.update_entity(
                self._row_entity(row, grant_id),
                mode=UpdateMode.REPLACE,
                etag=etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return False
        return True

    def rows(
        self, partition: str, *, after: str | None = None, until: str | None = None
    ) -> list[IndexEntry]:
        # "|" < "~": an upper bound of `<time>~` includes rows `<time>|<id>` at exactly `until`.
        query = "PartitionKey eq @pk"
        params: dict[str, Any] = {"pk": partition}
        if until is not None:
            query += " and RowKey lt @hi"
            params["hi"] = until + "~"
        if after is not None:
            query += " and RowKey gt @lo"
            params["lo"] = after + "~"
        return [
            self._entry(e)
            for e in self._index.query_entities(query, parameters=params, results_per_page=1000)
        ]

    # --- the bot's own entries, and each registry's fence beside them ---

    def entries(self, registry: str) -> list[OwnedEntry]:
        rows = self._entries.query_entities(
            "PartitionKey eq @pk and RowKey ne @fence",
            parameters={"pk": registry, "fence": _FENCE_ROW},
        )
        return [OwnedEntry.model_validate_json(e["data"]) for e in rows]

    @staticmethod
    def _entry_entity(entry: OwnedEntry) -> dict[str, Any]:
        return {
            "PartitionKey": entry.registry,
            "RowKey": str(entry.ip),
            "data": entry.model_dump_json(),
            "value": entry.value,
            "state": entry.state.value,
        }

    def fence(self, registry: str) -> tuple[Fence | None, str | None]:
        try:
            entity = self._entries.get_entity(registry, _FENCE_ROW)
        except ResourceNotFoundError:
            return None, None
        return Fence.model_validate_json(entity["data"]), str(entity.metadata["etag"])

    def commit(
        self,
        registry: str,
        *,
        fence: Fence,
        etag: str | None,
        put: Iterable[OwnedEntry] = (),
        drop: Iterable[ipaddress.IPv4Address] = (),
    ) -> str:
        """One entity-group transaction (one partition: the registry): the fence, only if
        unchanged, and the entries. Past the 100 operations a transaction takes, the entries
        follow in further transactions after the fence's."""
        from azure.data.tables import TableTransactionError

        fence_row = {
            "PartitionKey": registry,
            "RowKey": _FENCE_ROW,
            "data": fence.model_dump_json(),
            "until": fence.until.isoformat() if fence.until else "",
        }
        first: tuple[Any, ...] = (
            ("create", fence_row)
            if etag is None
            else (
                "update",
                fence_row,
                {
                    "mode": UpdateMode.REPLACE,
                    "etag": etag,
                    "match_condition": MatchConditions.IfNotModified,
                },
            )
        )
        rest: list[tuple[Any, ...]] = [("upsert", self._entry_entity(e)) for e in put]
        gone = {str(ip) for ip in drop} - {str(e.ip) for e in put}
        existing = (
            {
                str(e["RowKey"])
                for e in self._entries.query_entities(
                    "PartitionKey eq @pk", parameters={"pk": registry}, select=["RowKey"]
                )
            }
            if gone
            else set()
        )
        rest += [
            ("delete", {"PartitionKey": registry, "RowKey": ip}) for ip in sorted(gone & existing)
        ]
        batches = [[first, *rest[:99]]] + [rest[i : i + 100] for i in range(99, len(rest), 100)]
        new_etag = ""
        for number, batch in enumerate(batches):
            try:
                results = self._entries.submit_transaction(batch)
            except TableTransactionError as exc:
                if number == 0 and exc.status_code in (409, 412):
                    raise ConcurrentUpdate(f"{registry}/fence") from None
                raise
            if number == 0:
                new_etag = str(results[0].get("etag", ""))
        return new_etag

    def fences(self) -> list[Fence]:
        rows = self._entries.query_entities("RowKey eq @fence", parameters={"fence": _FENCE_ROW})
        return [Fence.model_validate_json(e["data"]) for e in rows]

    # --- bulk ---

    def bulk_load(self, grants: Iterable[Grant], entries: Iterable[OwnedEntry] = ()) -> None:
        """Write many new grants with their index rows, and entries, in entity-group
        transactions of up to 100 per partition (a restore, or a test's history). Claim rows are
        written as they would be claimed; nothing here may exist yet."""
        grant_rows: list[dict[str, Any]] = []
        index: list[dict[str, Any]] = []
        for grant in grants:
            grant_rows.append(self._grant_entity(grant))
            index += [self._row_entity(r, grant.id) for r in index_rows(grant)]
        entry_rows = [
            {
                "PartitionKey": e.registry,
                "RowKey": str(e.ip),
                "data": e.model_dump_json(),
                "value": e.value,
                "state": e.state.value,
            }
            for e in entries
        ]
        for table, rows in (
            (self._grants, grant_rows),
            (self._index, index),
            (self._entries, entry_rows),
        ):
            by_partition: dict[str, list[dict[str, Any]]] = {}
            for row in rows:
                by_partition.setdefault(row["PartitionKey"], []).append(row)
            for batch in by_partition.values():
                for start in range(0, len(batch), 100):
                    table.submit_transaction([("create", e) for e in batch[start : start + 100]])

    # --- offers ---

    def put_offer(self, offer: Offer) -> None:
        self._offers.upsert_entity(
            {"PartitionKey": _day(offer.id), "RowKey": offer.id, "data": offer.model_dump_json()}
        )

    def get_offer(self, offer_id: str) -> Offer | None:
        try:
            entity = self._offers.get_entity(_day(offer_id), offer_id)
        except (ResourceNotFoundError, GrantNotFound):
            return None
        # Imported here: a worker that never reads an offer never loads the diagnosis's models.
        from services.domain.offers import Offer

        return Offer.model_validate_json(entity["data"])

    # --- messages ---

    def add_message(self, grant_id: str, ref: MessageRef) -> None:
        self._messages.upsert_entity(
            {
                "PartitionKey": grant_id,
                "RowKey": f"{ref.kind}|{ref.channel}|{ref.ts}",
                "data": ref.model_dump_json(),
            }
        )

    def messages(self, grant_id: str) -> list[MessageRef]:
        rows = self._messages.query_entities("PartitionKey eq @pk", parameters={"pk": grant_id})
        return [MessageRef.model_validate_json(e["data"]) for e in rows]
