"""The health route's storage checks: one request each, no retries, bounded in time. Built by
`services.bootstrap.build_storage_probes`; `bot/health.py` runs them and words the answer."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from services.azure.clients import queue_client, table_service
from services.azure.status import refreshed_at
from services.settings import Settings


class ServiceTagsUnusable(Exception):
    """No service tags, or too old to tell Azure's addresses apart: no rule is offered."""

    def __init__(self, error_code: str) -> None:
        super().__init__(error_code)
        self.error_code = error_code


Probe = Callable[[], int | dict[str, Any] | None]


def storage_probes(settings: Settings, timeout: float) -> dict[str, Probe]:
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

    def service_tags() -> dict[str, Any]:
        """Where the diagnosis's service tags come from and how old they are (the status row the
        daily refresh writes); unusable tags fail the check, since no rule is offered then."""
        fetched = refreshed_at(table_service(settings.storage), settings.table_prefix, **once)
        if fetched is None:
            if not settings.service_tags.file:
                raise ServiceTagsUnusable("NoneStored")
            return {"source": "file"}
        age = datetime.now(UTC) - fetched
        hours = round(age.total_seconds() / 3600, 1)
        if hours > settings.service_tags.max_age_hours:
            raise ServiceTagsUnusable(f"Stale{int(hours)}h")
        return {"source": "stored", "age_hours": hours}

    return {
        "tables": tables,
        "queue": backlog(settings.queue_name),
        "poison": backlog(f"{settings.queue_name}-poison"),
        "service_tags": service_tags,
    }
