"""The job queue on Azure Storage queues: jobs as JSON, base64-encoded for the Functions trigger."""

from __future__ import annotations

import contextlib
import math
from datetime import timedelta
from typing import TYPE_CHECKING

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient

    from services.domain.jobs import Job

#: Storage queues hide a message for at most seven days.
MAX_DELAY = timedelta(days=7)


class StorageJobQueue:
    """`JobQueue` on one Storage queue. The deployment declares the queue; a send that finds it
    missing (Azurite, a queue deleted by hand) creates it and sends again, so no send pays for a
    create call that would only be answered "exists"."""

    def __init__(self, client: QueueClient) -> None:
        self._client = client

    @property
    def client(self) -> QueueClient:
        return self._client

    def send(self, job: Job, *, delay: timedelta = timedelta(0)) -> None:
        # Storage counts whole seconds: round up, so a deadline's job never comes early (a
        # quarter of a second truncated to 0 would make it visible at once).
        seconds = math.ceil(min(max(delay, timedelta(0)), MAX_DELAY).total_seconds())
        text = job.model_dump_json()
        try:
            self._client.send_message(text, visibility_timeout=seconds or None)
        except ResourceNotFoundError as exc:
            # Storage's own code (the storage SDK sets it on the error it raises).
            if getattr(exc, "error_code", None) != "QueueNotFound":
                raise
            with contextlib.suppress(ResourceExistsError):
                self._client.create_queue()
            self._client.send_message(text, visibility_timeout=seconds or None)
