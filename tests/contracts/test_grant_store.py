"""The `GrantStore` contract: the in-memory fake and Table Storage behave alike."""

from __future__ import annotations

import ipaddress
import threading
from datetime import UTC, datetime, timedelta

import pytest

from services.domain.errors import ConcurrentUpdate, GrantNotFound
from services.domain.grants import (
    DeadlineKind,
    Grant,
    GrantState,
    IndexRow,
    MessageRef,
    Requester,
    deadline_partition,
    deadline_row,
    slot_row,
)
from services.domain.ids import new_ulid, time_key
from services.domain.reconcile import EntryState, Fence, OwnedEntry

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def grant(ip: str = "20.1.2.3", **kwargs) -> Grant:
    values = {
        "id": new_ulid(NOW),
        "registry": "contoso.azurecr.io",
        "ip": ipaddress.IPv4Address(ip),
        "requester": Requester(user_id="U1", team_id="T1"),
        "justification": "deploying the hotfix",
        "requested_duration": timedelta(hours=1),
        "requested_at": NOW,
        "lapses_at": NOW + timedelta(hours=8),
    }
    values.update(kwargs)
    return Grant(**values)


def test_a_grant_round_trips_and_an_unknown_id_is_not_found(grant_store) -> None:
    g = grant()
    grant_store.create(g)
    stored, etag = grant_store.get(g.id)
    assert stored == g
    assert etag
    with pytest.raises(ConcurrentUpdate):
        grant_store.create(g)
    for missing in (new_ulid(NOW), "not-a-ulid", "01J/../x"):
        with pytest.raises(GrantNotFound):
            grant_store.get(missing)


def test_replace_needs_the_current_etag(grant_store) -> None:
    g = grant()
    grant_store.create(g)
    _, etag = grant_store.get(g.id)
    new_etag = grant_store.replace(g.model_copy(update={"state": GrantState.APPROVED}), etag)
    assert new_etag != etag
    with pytest.raises(ConcurrentUpdate):
        grant_store.replace(g.model_copy(update={"state": GrantState.DENIED}), etag)
    assert grant_store.get(g.id)[0].state is GrantState.APPROVED


def test_scan_filters_by_registry_and_state(grant_store) -> None:
    a, b = grant("20.1.2.3"), grant("20.1.2.4", state=GrantState.ACTIVE, registry="x.azurecr.io")
    grant_store.create(a)
    grant_store.create(b)
    assert {g.id for g in grant_store.scan()} == {a.id, b.id}
    assert [g.id for g in grant_store.scan(state=GrantState.ACTIVE)] == [b.id]
    assert [g.id for g in grant_store.scan(registry="contoso.azurecr.io")] == [a.id]


def test_a_claim_row_has_one_winner_under_concurrency(grant_store) -> None:
    row = slot_row("contoso.azurecr.io", ipaddress.IPv4Address("20.1.2.3"))
    winners = []
    barrier = threading.Barrier(10)

    def go(i: int) -> None:
        barrier.wait()
        if grant_store.claim(row, f"grant-{i}"):
            winners.append(i)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert grant_store.holder(row).grant_id == f"grant-{winners[0]}"


def test_a_claim_row_is_dropped_only_by_its_holder_and_taken_over_by_etag(grant_store) -> None:
    row = slot_row("contoso.azurecr.io", ipaddress.IPv4Address("20.1.2.3"))
    assert grant_store.claim(row, "old")
    grant_store.drop_rows([row], "someone-else")
    held = grant_store.holder(row)
    assert held is not None
    assert held.grant_id == "old"
    assert grant_store.take_over(row, "new", held.etag)
    assert not grant_store.take_over(row, "third", held.etag)  # stale ETag
    assert grant_store.holder(row).grant_id == "new"
    grant_store.drop_rows([row], "new")
    assert grant_store.holder(row) is None


def test_deadline_rows_read_by_key_range(grant_store) -> None:
    times = [NOW + timedelta(minutes=m) for m in (0, 5, 10)]
    for i, when in enumerate(times):
        grant_store.put_rows([deadline_row(DeadlineKind.EXPIRY, when, f"g{i}")], f"g{i}")
    part = deadline_partition(DeadlineKind.EXPIRY)
    due = grant_store.rows(part, until=time_key(NOW + timedelta(minutes=5)))
    assert [r.grant_id for r in due] == ["g0", "g1"]  # a row at exactly `until` is due
    later = grant_store.rows(part, after=time_key(NOW), until=time_key(NOW + timedelta(hours=1)))
    assert [r.grant_id for r in later] == ["g1", "g2"]  # a row at exactly `after` is not
    assert all(r.written_at.tzinfo is not None for r in due)


def test_plain_rows_are_idempotent_to_write_and_to_drop(grant_store) -> None:
    row = IndexRow("registry|contoso.azurecr.io", "g1")
    grant_store.put_rows([row, row], "g1")
    grant_store.put_rows([row], "g1")
    assert len(grant_store.rows(row.partition)) == 1
    grant_store.drop_rows([row], "g1")
    grant_store.drop_rows([row], "g1")
    assert grant_store.rows(row.partition) == []


def owned(ip: str, registry: str = "contoso.azurecr.io") -> OwnedEntry:
    return OwnedEntry(
        registry=registry,
        ip=ipaddress.IPv4Address(ip),
        value=ip,
        state=EntryState.INTENDED,
        updated_at=NOW,
    )


def fence(registry: str = "contoso.azurecr.io", **kwargs) -> Fence:
    return Fence(registry=registry, updated_at=NOW, **kwargs)


def test_owned_entries_per_registry(grant_store) -> None:
    entry = owned("20.1.2.3")
    registry = "contoso.azurecr.io"
    etag = grant_store.commit(registry, fence=fence(), etag=None, put=[entry])
    present = entry.model_copy(update={"state": EntryState.PRESENT})
    etag = grant_store.commit(registry, fence=fence(), etag=etag, put=[present])
    assert [e.state for e in grant_store.entries("contoso.azurecr.io")] == [EntryState.PRESENT]
    assert grant_store.entries("other.azurecr.io") == []
    etag = grant_store.commit(registry, fence=fence(), etag=etag, drop=[entry.ip])
    grant_store.commit(registry, fence=fence(), etag=etag, drop=[entry.ip])
    assert grant_store.entries("contoso.azurecr.io") == []


def test_the_fence_is_written_only_if_unchanged_and_its_entries_with_it(grant_store) -> None:
    registry = "contoso.azurecr.io"
    assert grant_store.fence(registry) == (None, None)
    until = NOW + timedelta(minutes=2)
    first = grant_store.commit(
        registry, fence=fence(until=until), etag=None, put=[owned("20.1.2.3")]
    )
    held, etag = grant_store.fence(registry)
    assert (held, etag) == (fence(until=until), first)
    # The fence is not an entry, and every registry written to is listed by its fence.
    assert [str(e.ip) for e in grant_store.entries(registry)] == ["20.1.2.3"]
    grant_store.commit("other.azurecr.io", fence=fence("other.azurecr.io"), etag=None)
    assert sorted(f.registry for f in grant_store.fences()) == [registry, "other.azurecr.io"]

    # Another writer was first (no fence expected, or an older one): nothing is written.
    with pytest.raises(ConcurrentUpdate):
        grant_store.commit(registry, fence=fence(), etag=None, put=[owned("20.1.2.4")])
    second = grant_store.commit(registry, fence=fence(), etag=first, drop=[owned("20.1.2.3").ip])
    with pytest.raises(ConcurrentUpdate):
        grant_store.commit(registry, fence=fence(until=until), etag=first, put=[owned("20.1.2.5")])
    assert grant_store.fence(registry) == (fence(), second)
    assert grant_store.entries(registry) == []


def test_a_commit_larger_than_one_transaction_writes_every_entry(grant_store) -> None:
    registry = "contoso.azurecr.io"
    many = [owned(f"20.1.{i // 250}.{i % 250 + 1}") for i in range(150)]
    etag = grant_store.commit(registry, fence=fence(), etag=None, put=many)
    assert len(grant_store.entries(registry)) == 150
    grant_store.commit(registry, fence=fence(), etag=etag, drop=[e.ip for e in many])
    assert grant_store.entries(registry) == []


def test_message_refs_are_kept_beside_the_grant(grant_store) -> None:
    card = MessageRef(kind="approval_card", channel="C1", ts="1.1")
    thread = MessageRef(kind="requester_thread", channel="C2", ts="2.2", thread_ts="2.0")
    grant_store.add_message("g1", card)
    grant_store.add_message("g1", card)
    grant_store.add_message("g1", thread)
    assert sorted(grant_store.messages("g1"), key=lambda m: m.kind) == [card, thread]
    assert grant_store.messages("g2") == []


def test_offers_round_trip_and_an_unknown_one_is_none(grant_store) -> None:
    from services.domain.offers import Offer

    offer = Offer(
        id=new_ulid(NOW),
        registry="contoso.azurecr.io",
        ip=ipaddress.IPv4Address("20.1.2.3"),
        verdict="ip_not_allowed",
        summary="20.1.2.3 is not allowed",
        created_at=NOW,
    )
    grant_store.put_offer(offer)
    assert grant_store.get_offer(offer.id) == offer
    assert grant_store.get_offer(new_ulid(NOW)) is None
    assert grant_store.get_offer("not-an-id") is None
