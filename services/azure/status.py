"""Where the daily service-tag refresh records when it last stored the tags: one row of the table
`<prefix>status`, so the health route reads it with the table SDK it has anyway (it loads no blob
SDK)."""

from __future__ import annotations

STATUS_TABLE = "status"
STATUS_PARTITION = "service-tags"
STATUS_ROW = "stored"
