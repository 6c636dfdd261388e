"""The job queue on Azure Storage queues: jobs as JSON, base64-encoded for the Functions trigger."""

from __future__ import annotations

import contextlib
import math
import threading
from datetime import timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient

#: Storage queues hide a message for at most seven days.
MAX_DELAY = timedelta(days=7)


class StorageJobQueue:
    """`JobQueue` on one Storage queue (created on first send)."""

    def __init__(self, client: QueueClient) -> None:
        self._client = client
        self._ready = False
        self._mutex = threading.Lock()

    @property
    def client(self) -> QueueClient:
        return self._client

    def _ensure(self) -> None:
        if self._ready:
            return
        from azure.core.exceptions import ResourceExistsError

        with self._mutex:
            with contextlib.suppress(ResourceExistsError):
                self._client.create_queue()
            self._ready = True

    def send(self, job: BaseModel, *, delay: timedelta = timedelta(0)) -> None:
        self._ensure()
        # Storage counts whole seconds: round up, so a deadline's job never comes early (a
        # quarter of a second truncated to 0 would make it visible at once).
        seconds = math.ceil(min(max(delay, timedelta(0)), MAX_DELAY).total_seconds())
        self._client.send_message(job.model_dump_json(), visibility_timeout=seconds or None)
