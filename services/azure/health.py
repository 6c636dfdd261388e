"""The health route's storage checks: one request each, no retries, bounded in time. Built by
`services.bootstrap.build_storage_probes`; `bot/health.py` runs them and words the answer."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from services.azure.clients import queue_client, table_service
from services.settings import Settings


def storage_probes(settings: Settings, timeout: float) -> dict[str, Callable[[], int | None]]:
    """One request each: a point read in the delivery table (the one the HTTP function writes)
    and the properties of the job queue and of its poison queue. A table or queue that does not
    exist yet still proves the account answers: the app creates them on first use."""
    once: dict[str, Any] = {
        "retry_total": 0,
        "connection_timeout": timeout,
        "read_timeout": timeout,
    }

    def tables() -> None:
        table = table_service(settings.storage).get_table_client(
            f"{settings.table_prefix}deliveries"
        )
        # No such row (or no table yet) is an answer from the service: the check passes.
        with contextlib.suppress(ResourceNotFoundError):
            table.get_entity("health", "probe", **once)

    def backlog(queue: str) -> Callable[[], int]:
        def probe() -> int:
            try:
                props = queue_client(settings.storage, queue).get_queue_properties(**once)
            except ResourceNotFoundError:
                return 0
            return int(props.approximate_message_count or 0)

        return probe

    return {
        "tables": tables,
        "queue": backlog(settings.queue_name),
        "poison": backlog(f"{settings.queue_name}-poison"),
    }
