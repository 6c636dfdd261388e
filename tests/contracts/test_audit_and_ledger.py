"""The `AuditLog` and `DeliveryLedger` contracts, on fakes and Table Storage alike."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from services.clock import FrozenClock
from services.domain.audit import AuditEvent, new_event_id, registry_change_event


def event(at: datetime, **kwargs) -> AuditEvent:
    values = {
        "event_id": new_event_id(at),
        "kind": "transition",
        "at": at,
        "actor": "U1",
        "grant_id": "g1",
        "registry": "contoso.azurecr.io",
        "to_state": "pending",
    }
    values.update(kwargs)
    return AuditEvent(**values)


def test_events_read_back_in_order_under_a_frozen_clock(audit_log) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    events = [event(at, to_state=s) for s in ("pending", "approved", "active")]
    for e in events:
        audit_log.append(e)
    assert [e.to_state for e in audit_log.for_grant("g1")] == ["pending", "approved", "active"]


def test_a_registry_change_is_recorded_under_the_registry_and_each_grant(audit_log) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    change = registry_change_event(
        "contoso.azurecr.io",
        actor="acrbot",
        at=at,
        rules_before=[],
        rules_after=[{"action": "Allow", "value": "20.1.2.3"}],
        detail={"added": ["20.1.2.3"], "grant_ids": ["g1", "g2"]},
    )
    audit_log.append(change, partitions=["g1", "g2"])
    audit_log.append(change, partitions=["g1", "g2"])  # a retry writes nothing twice
    [stored] = audit_log.for_registry("contoso.azurecr.io")
    assert stored.before == []
    assert stored.after == [{"action": "Allow", "value": "20.1.2.3"}]
    assert [e.event_id for e in audit_log.for_grant("g2")] == [change.event_id]
    assert audit_log.for_registry("contoso.azurecr.io", since=at + timedelta(days=1)) == []


def test_a_delivery_is_claimed_once_even_concurrently(ledger) -> None:
    wins = []
    barrier = threading.Barrier(8)

    def go() -> None:
        barrier.wait()
        if ledger.claim("Ev01ABC"):
            wins.append(1)

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    ledger.release("Ev01ABC")
    assert ledger.claim("Ev01ABC")
    assert ledger.claim("odd/key#with?chars and spaces " * 20)


def test_purge_forgets_only_claims_from_hours_before(ledger, clock: FrozenClock) -> None:
    ledger.claim("old")
    clock.advance(timedelta(hours=2))
    ledger.claim("new")
    assert ledger.purge(clock.now()) == 1
    assert ledger.claim("old")
    assert not ledger.claim("new")
