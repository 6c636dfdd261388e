"""The `AuditLog` and `DeliveryLedger` contracts, on fakes and Table Storage alike."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from services.clock import FrozenClock
from services.domain.audit import AuditEvent, new_event_id, registry_change_event
from services.domain.claims import ClaimState


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


STALE = timedelta(minutes=2)


def test_a_begun_claim_is_done_once_finished(ledger) -> None:
    first = ledger.begin("request:abc", stale_after=STALE)
    assert first.state is ClaimState.NEW
    ledger.finish("request:abc")
    assert ledger.begin("request:abc", stale_after=STALE).state is ClaimState.DONE


def test_a_claim_whose_worker_died_is_resumed_with_its_progress(ledger, clock) -> None:
    ledger.begin("request:abc", stale_after=STALE)
    ledger.note("request:abc", grant="01ABC")
    # Another delivery while the first may still run: wait.
    busy = ledger.begin("request:abc", stale_after=STALE)
    assert busy.state is ClaimState.BUSY
    clock.advance(STALE + timedelta(seconds=1))  # the worker died: its claim went stale
    resumed = ledger.begin("request:abc", stale_after=STALE)
    assert resumed.state is ClaimState.RESUMED
    assert resumed.data == {"grant": "01ABC"}
    ledger.note("request:abc", posted="C1/1.0")
    ledger.finish("request:abc")
    done = ledger.begin("request:abc", stale_after=STALE)
    assert done.state is ClaimState.DONE
    assert done.data == {"grant": "01ABC", "posted": "C1/1.0"}


def test_a_failed_attempt_is_resumed_at_once(ledger) -> None:
    ledger.begin("decide:k", stale_after=STALE)
    ledger.fail("decide:k")
    assert ledger.begin("decide:k", stale_after=STALE).state is ClaimState.RESUMED


def test_of_two_redeliveries_of_a_stale_claim_one_resumes(ledger, clock) -> None:
    ledger.begin("decide:k", stale_after=STALE)
    clock.advance(STALE * 2)
    states = []
    barrier = threading.Barrier(4)

    def go() -> None:
        barrier.wait()
        states.append(ledger.begin("decide:k", stale_after=STALE).state)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s.value for s in states) == ["busy", "busy", "busy", "resumed"]
