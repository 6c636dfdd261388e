"""Audit events: an append-only record of every grant transition and every registry change."""

from __future__ import annotations

import itertools
import secrets
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from services.domain.grants import Grant
from services.domain.ids import time_key

_sequence = itertools.count()


def new_event_id(at: datetime) -> str:
    """Sorts by time, then by the order events were made in this process (so a frozen clock keeps
    order); the random suffix keeps writers on several hosts apart."""
    return f"{time_key(at)}|{next(_sequence):012d}|{secrets.token_hex(4)}"


class AuditEvent(BaseModel):
    model_config = ConfigDict(frozen=True)

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
    #: The rest of a registry change (operation, entries, grant ids, ARM request ids…).
    detail: dict[str, Any] | None = None


def _changed_fields(before: Grant | None, after: Grant) -> tuple[dict[str, Any], dict[str, Any]]:
    new = after.model_dump(mode="json")
    if before is None:
        return {}, new
    old = before.model_dump(mode="json")
    keys = [k for k in new if old.get(k) != new[k]]
    return {k: old.get(k) for k in keys}, {k: new[k] for k in keys}


def transition_event(
    before: Grant | None,
    after: Grant,
    *,
    actor: str,
    at: datetime,
    event_id: str | None = None,
) -> AuditEvent:
    """The event for `before → after`: the fields that changed, before and after. `event_id`
    (default: a new one) makes a repeated append of the same event write nothing twice."""
    old, new = _changed_fields(before, after)
    return AuditEvent(
        event_id=event_id or new_event_id(at),
        kind="transition",
        at=at,
        actor=actor,
        grant_id=after.id,
        registry=after.registry,
        from_state=before.state.value if before is not None else None,
        to_state=after.state.value,
        before=old or None,
        after=new,
    )


def registry_change_event(
    registry: str,
    *,
    actor: str,
    at: datetime,
    rules_before: list[Any],
    rules_after: list[Any],
    detail: dict[str, Any],
) -> AuditEvent:
    """A change the bot made (or found made) to a registry's rules."""
    return AuditEvent(
        event_id=new_event_id(at),
        kind="registry_change",
        at=at,
        actor=actor,
        registry=registry,
        before=rules_before,
        after=rules_after,
        detail=detail,
    )
