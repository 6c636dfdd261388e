"""The delivery ledger: Slack event ids, interaction ids and queue message ids already processed,
so a repeated delivery has one effect.

Table `<prefix>deliveries`, two rows per delivery:
- the claim: PartitionKey `claim|<2 hex of sha256(id)>` (spreads load), RowKey = the id. Created
  with `create_entity`, so of two concurrent deliveries exactly one claims it.
- the bucket row: PartitionKey `at|<yyyymmddhh>` (the hour it was claimed), RowKey = the id. Azure
  Table has no TTL; `purge` reads only the old hour partitions (a PartitionKey range) and deletes
  their claims, so purging is bounded by what it deletes.
The bucket row is written before the claim, so a crash between them never leaves a claim that
`purge` cannot find.

A claim that records progress (`begin` … `finish`) keeps `state` (`in_progress`, `failed`,
`done`), when it was made (`at`) and what the work noted so far (`data`, JSON); a claim made by
`claim` is done at once. Taking over a stale or failed claim is conditional on its ETag, so of two
redeliveries only one resumes.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from services.azure.clients import tables
from services.clock import Clock
from services.domain.claims import Claim, ClaimState

if TYPE_CHECKING:
    from azure.data.tables import TableServiceClient

_IN_PROGRESS, _FAILED, _DONE = "in_progress", "failed", "done"
_SAFE_KEY = re.compile(r"^[A-Za-z0-9._:@=+-]{1,200}$")
_BUCKET_FORMAT = "%Y%m%d%H"


def _row_key(delivery_id: str) -> str:
    # RowKeys may not hold / \ # ? or control characters and are limited in length.
    if _SAFE_KEY.match(delivery_id):
        return "r:" + delivery_id
    return "h:" + hashlib.sha256(delivery_id.encode()).hexdigest()


def _claim_partition(key: str) -> str:
    return "claim|" + hashlib.sha256(key.encode()).hexdigest()[:2]


def _bucket(when: datetime) -> str:
    return "at|" + when.astimezone(UTC).strftime(_BUCKET_FORMAT)


class TableDeliveryLedger:
    """`DeliveryLedger` on Azure Table Storage: which deliveries were already processed."""

    def __init__(self, service: TableServiceClient, *, prefix: str, clock: Clock) -> None:
        [self._table] = tables(service, f"{prefix}deliveries")
        self._clock = clock

    def claim(self, delivery_id: str) -> bool:
        """True the first time `delivery_id` is seen (go ahead), False for a repeat (skip it)."""
        key = _row_key(delivery_id)
        bucket = _bucket(self._clock.now())
        self._table.upsert_entity({"PartitionKey": bucket, "RowKey": key})
        try:
            self._table.create_entity(
                {"PartitionKey": _claim_partition(key), "RowKey": key, "bucket": bucket}
            )
        except ResourceExistsError:
            return False
        return True

    def begin(self, delivery_id: str, *, stale_after: timedelta) -> Claim:
        key = _row_key(delivery_id)
        now = self._clock.now()
        bucket = _bucket(now)
        partition = _claim_partition(key)
        self._table.upsert_entity({"PartitionKey": bucket, "RowKey": key})
        fresh = {
            "PartitionKey": partition,
            "RowKey": key,
            "bucket": bucket,
            "state": _IN_PROGRESS,
            "at": now,
            "started": now,
            "data": "{}",
        }
        try:
            self._table.create_entity(fresh)
        except ResourceExistsError:
            pass
        else:
            return Claim(ClaimState.NEW, {}, now)
        try:
            row = self._table.get_entity(partition, key)
        except ResourceNotFoundError:
            return Claim(ClaimState.BUSY, {}, now)  # purged or released this instant
        state = str(row.get("state") or _DONE)
        data = json.loads(str(row.get("data") or "{}"))
        made, started = row.get("at"), row.get("started")
        at = made if isinstance(made, datetime) else now
        attempt = started if isinstance(started, datetime) else at
        if state == _DONE:
            return Claim(ClaimState.DONE, data, at)
        if state == _IN_PROGRESS and now - attempt <= stale_after:
            return Claim(ClaimState.BUSY, data, at)
        try:
            self._table.update_entity(
                {"PartitionKey": partition, "RowKey": key, "state": _IN_PROGRESS, "started": now},
                mode=UpdateMode.MERGE,
                etag=row.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return Claim(ClaimState.BUSY, data, at)
        return Claim(ClaimState.RESUMED, data, at)

    def _merge(self, delivery_id: str, values: dict[str, Any]) -> None:
        key = _row_key(delivery_id)
        self._table.update_entity(
            {"PartitionKey": _claim_partition(key), "RowKey": key, **values},
            mode=UpdateMode.MERGE,
        )

    def _data(self, delivery_id: str, data: dict[str, str]) -> dict[str, Any]:
        if not data:
            return {}
        key = _row_key(delivery_id)
        row = self._table.get_entity(_claim_partition(key), key)
        return {"data": json.dumps({**json.loads(str(row.get("data") or "{}")), **data})}

    def note(self, delivery_id: str, **data: str) -> None:
        self._merge(delivery_id, self._data(delivery_id, data))

    def finish(self, delivery_id: str, **data: str) -> None:
        self._merge(delivery_id, {"state": _DONE, **self._data(delivery_id, data)})

    def fail(self, delivery_id: str) -> None:
        self._merge(delivery_id, {"state": _FAILED})

    def release(self, delivery_id: str) -> None:
        """Forget a claim whose processing failed, so the redelivery is processed again."""
        key = _row_key(delivery_id)
        self._table.delete_entity(_claim_partition(key), key)

    def purge(self, older_than: datetime) -> int:
        """Forget claims made in hours wholly before `older_than`; returns how many."""
        rows = self._table.query_entities(
            "PartitionKey ge @lo and PartitionKey lt @hi",
            parameters={"lo": "at|", "hi": _bucket(older_than)},
            select=["PartitionKey", "RowKey"],
        )
        purged = 0
        for row in list(rows):
            bucket, key = str(row["PartitionKey"]), str(row["RowKey"])
            claim_pk = _claim_partition(key)
            try:
                claim = self._table.get_entity(claim_pk, key)
            except ResourceNotFoundError:
                claim = None
            # A claim released and made again later belongs to a newer bucket: keep it.
            if claim is not None and claim.get("bucket") == bucket:
                try:
                    self._table.delete_entity(
                        claim_pk,
                        key,
                        etag=claim.metadata["etag"],
                        match_condition=MatchConditions.IfNotModified,
                    )
                    purged += 1
                except (ResourceModifiedError, ResourceNotFoundError):
                    pass
            self._table.delete_entity(bucket, key)
        return purged
