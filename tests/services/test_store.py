"""Table Storage adapters against Azurite: the grant store, the audit log, the delivery ledger."""

from __future__ import annotations

import ipaddress
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableServiceClient

from services import grants as g
from services.audit import AuditLog
from services.clock import FrozenClock
from services.grants import DeadlineKind, Grant, GrantState, Requester, SlackRef
from services.idempotency import DeliveryLedger
from services.store import TableGrantStore, parse_time_key, time_key

pytestmark = pytest.mark.azurite

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
IP = ipaddress.IPv4Address("20.103.186.69")
ALICE = Requester(user_id="UALICE", team_id="T1")


@pytest.fixture
def tables(azurite_connection_string: str) -> TableServiceClient:
    return TableServiceClient.from_connection_string(azurite_connection_string)


@pytest.fixture
def store(tables: TableServiceClient, unique_name: str) -> TableGrantStore:
    return TableGrantStore(tables, prefix=unique_name)


def make_grant(when: datetime = T0, ip: ipaddress.IPv4Address = IP) -> Grant:
    return Grant(
        id=g.new_grant_id(when),
        registry="contoso.azurecr.io",
        ip=ip,
        requester=ALICE,
        justification="deploying the hotfix",
        requested_duration=timedelta(hours=4),
        requested_at=when,
        lapses_at=when + timedelta(hours=8),
        approval_messages=(SlackRef(channel="D1", ts="1.1"), SlackRef(channel="D2", ts="2.2")),
        verdict="ip_not_allowed",
    )


def test_time_keys_are_fixed_width_and_sortable() -> None:
    early = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    late = early + timedelta(microseconds=1)
    assert len(time_key(early)) == len(time_key(late)) == len("20260102T030405.000000Z")
    assert time_key(early) < time_key(late)
    assert parse_time_key(time_key(late)) == late
    with pytest.raises(ValueError, match="timezone"):
        time_key(datetime(2026, 1, 1))


def test_grant_round_trips_and_tables_are_created_once(
    store: TableGrantStore, tables: TableServiceClient, unique_name: str
) -> None:
    grant = make_grant()
    store.create(grant)
    again = TableGrantStore(tables, prefix=unique_name)  # tables already exist: no error
    loaded, etag = again.get(grant.id)
    assert loaded == grant
    assert loaded.requested_at.tzinfo is not None
    assert etag
    with pytest.raises(ResourceExistsError):
        store.create(grant)


def test_replace_needs_the_current_etag(store: TableGrantStore) -> None:
    grant = make_grant()
    store.create(grant)
    _, etag = store.get(grant.id)
    new_etag = store.replace(grant.model_copy(update={"state": GrantState.DENIED}), etag)
    assert new_etag != etag
    with pytest.raises(g.ConcurrentUpdate):
        store.replace(grant.model_copy(update={"state": GrantState.APPROVED}), etag)
    assert store.get(grant.id)[0].state is GrantState.DENIED


def test_slot_is_a_uniqueness_guard(store: TableGrantStore) -> None:
    assert store.claim_slot("contoso.azurecr.io", IP, "A")
    assert not store.claim_slot("contoso.azurecr.io", IP, "B")
    assert store.claim_slot("fabrikam.azurecr.io", IP, "B")
    holder = store.slot_holder("contoso.azurecr.io", IP)
    assert holder is not None
    assert holder[0] == "A"
    store.release_slot("contoso.azurecr.io", IP, "B")  # not B's: stays
    assert store.slot_holder("contoso.azurecr.io", IP) is not None
    store.release_slot("contoso.azurecr.io", IP, "A")
    assert store.slot_holder("contoso.azurecr.io", IP) is None


def test_concurrent_slot_claims_have_one_winner(store: TableGrantStore) -> None:
    barrier = threading.Barrier(8)

    def claim(n: int) -> bool:
        barrier.wait()
        return store.claim_slot("contoso.azurecr.io", IP, f"G{n}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sum(pool.map(claim, range(8))) == 1


def test_stale_slot_release_needs_an_unchanged_etag(store: TableGrantStore) -> None:
    store.claim_slot("contoso.azurecr.io", IP, "A")
    held = store.slot_holder("contoso.azurecr.io", IP)
    assert held is not None
    store.release_slot("contoso.azurecr.io", IP, "A")
    store.claim_slot("contoso.azurecr.io", IP, "B")
    store.release_stale_slot("contoso.azurecr.io", IP, held[1])  # A's etag: B keeps the slot
    assert store.slot_holder("contoso.azurecr.io", IP) is not None


def test_deadline_range_bounds(store: TableGrantStore) -> None:
    for minutes, gid in [(0, "A"), (10, "B"), (20, "C"), (30, "D")]:
        store.put_deadline(DeadlineKind.EXPIRY, T0 + timedelta(minutes=minutes), gid)
    store.put_deadline(DeadlineKind.LAPSE, T0, "L")
    due = store.deadlines(DeadlineKind.EXPIRY, after=None, until=T0 + timedelta(minutes=10))
    assert [gid for _, gid in due] == ["A", "B"]  # `until` is inclusive
    window = store.deadlines(
        DeadlineKind.EXPIRY, after=T0 + timedelta(minutes=10), until=T0 + timedelta(minutes=30)
    )
    assert [gid for _, gid in window] == ["C", "D"]  # `after` is exclusive
    assert window[0][0] == T0 + timedelta(minutes=20)
    store.drop_deadline(DeadlineKind.EXPIRY, T0, "A")
    store.drop_deadline(DeadlineKind.EXPIRY, T0, "A")  # idempotent
    assert [gid for _, gid in store.deadlines(DeadlineKind.EXPIRY, after=None, until=T0)] == []


def test_requester_and_removal_indexes(store: TableGrantStore) -> None:
    store.add_requester_grant(ALICE, "A")
    store.add_requester_grant(ALICE, "A")
    store.add_requester_grant(ALICE, "B")
    store.drop_requester_grant(ALICE, "A")
    assert store.requester_grants(ALICE) == ["B"]
    store.add_removal("contoso.azurecr.io", IP, "A")
    store.add_removal("contoso.azurecr.io", IP, "B")
    store.drop_removal("contoso.azurecr.io", IP, "A")
    assert store.removals("contoso.azurecr.io") == [(IP, "B")]
    assert store.removals("fabrikam.azurecr.io") == []


def test_bulk_load_batches_per_partition(store: TableGrantStore) -> None:
    grants = [
        make_grant(T0 + timedelta(hours=i), ipaddress.IPv4Address(f"20.9.0.{i + 1}"))
        for i in range(250)
    ]
    store.load(grants)
    assert all(store.get(x.id)[0] == x for x in grants[::50])
    assert len(store.requester_grants(ALICE)) == 250
    assert (
        len(store.deadlines(DeadlineKind.LAPSE, after=None, until=T0 + timedelta(days=30))) == 250
    )


# --- audit -------------------------------------------------------------------------------------


def test_audit_is_insert_only_and_ordered_under_a_frozen_clock(
    tables: TableServiceClient, unique_name: str
) -> None:
    log = AuditLog(tables, prefix=unique_name)
    events = [
        log.transition_event(
            grant_id="G1",
            registry="contoso.azurecr.io",
            actor="U",
            at=T0,
            from_state=None if i == 0 else str(i),
            to_state=str(i + 1),
            before=None,
            after={"n": i},
        )
        for i in range(5)
    ]
    for event in events:
        log.append(event)
    assert [e.to_state for e in log.for_grant("G1")] == ["1", "2", "3", "4", "5"]
    assert log.for_grant("G1")[2] == events[2]
    with pytest.raises(ResourceExistsError):
        log.append(events[0])
    too_big = events[0].model_copy(update={"event_id": "x", "after": "y" * 40_000})
    with pytest.raises(ValueError, match="property limit"):
        log.append(too_big)


# --- delivery ledger ---------------------------------------------------------------------------


@pytest.fixture
def ledger(tables: TableServiceClient, unique_name: str, clock: FrozenClock) -> DeliveryLedger:
    return DeliveryLedger(tables, prefix=unique_name, clock=clock)


@pytest.mark.parametrize(
    "delivery_id", ["Ev06ABCDEF", "3f1c2a9e-queue-msg", "odd/id#with?chars", "x" * 2000]
)
def test_a_delivery_is_claimed_once(ledger: DeliveryLedger, delivery_id: str) -> None:
    assert ledger.claim(delivery_id)
    assert not ledger.claim(delivery_id)


def test_concurrent_claims_have_one_winner(ledger: DeliveryLedger) -> None:
    barrier = threading.Barrier(10)

    def claim(_: int) -> bool:
        barrier.wait()
        return ledger.claim("Ev-race")

    with ThreadPoolExecutor(max_workers=10) as pool:
        assert sum(pool.map(claim, range(10))) == 1


def test_released_claim_can_be_made_again(ledger: DeliveryLedger) -> None:
    assert ledger.claim("msg-1")
    ledger.release("msg-1")
    assert ledger.claim("msg-1")


def test_purge_forgets_only_old_claims(ledger: DeliveryLedger, clock: FrozenClock) -> None:
    for n in range(5):
        assert ledger.claim(f"old-{n}")
    ledger.release("old-0")
    clock.advance(timedelta(days=2))
    assert ledger.claim("old-0")  # re-claimed now: belongs to the new bucket
    assert ledger.claim("new-1")
    assert ledger.purge(clock.now() - timedelta(days=1)) == 4
    assert ledger.claim("old-1")  # forgotten: would be processed again
    assert not ledger.claim("old-0")
    assert not ledger.claim("new-1")
    assert ledger.purge(clock.now() - timedelta(days=1)) == 0
