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
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError

from services.clock import Clock

if TYPE_CHECKING:
    from azure.data.tables import TableServiceClient

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
        self._table = service.create_table_if_not_exists(f"{prefix}deliveries")
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
