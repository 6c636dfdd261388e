"""Recurring IPs from the grant history, read through the in-memory grant store."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.clock import FrozenClock
from services.diagnosis.known_ips import KnownIps
from services.domain.grants import Grant, GrantState, Requester
from services.domain.ids import new_ulid
from services.flows.report import RecurringIp, RequesterCount, recurring_ips
from tests.fakes.stores import InMemoryGrantStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONTOSO, FABRIKAM = "contoso.azurecr.io", "fabrikam.azurecr.io"


def grant(
    ip: str,
    state: GrantState,
    days_ago: float,
    *,
    registry: str = CONTOSO,
    user: str = "U0DEV",
    hours: float = 4,
) -> Grant:
    requested = NOW - timedelta(days=days_ago)
    values: dict[str, Any] = {
        "id": new_ulid(requested),
        "registry": registry,
        "ip": ipaddress.IPv4Address(ip),
        "requester": Requester(user_id=user, team_id="T0"),
        "justification": "deploying the release to production",
        "requested_duration": timedelta(hours=hours),
        "state": state,
        "requested_at": requested,
        "lapses_at": requested + timedelta(hours=8),
    }
    if state not in (GrantState.PENDING, GrantState.LAPSED, GrantState.WITHDRAWN):
        values["decided_at"] = requested + timedelta(minutes=5)
    if state in (GrantState.ACTIVE, GrantState.EXPIRED, GrantState.REVOKED):
        values["activated_at"] = requested + timedelta(minutes=7)
        values["expires_at"] = requested + timedelta(minutes=7, hours=hours)
    if state in (GrantState.EXPIRED, GrantState.REVOKED, GrantState.DENIED, GrantState.FAILED):
        values["ended_at"] = values.get("expires_at", requested + timedelta(minutes=5))
    return Grant(**values)


@pytest.fixture
def store() -> InMemoryGrantStore:
    return InMemoryGrantStore(FrozenClock(NOW))


def fill(store: InMemoryGrantStore, *grants: Grant) -> InMemoryGrantStore:
    for g in grants:
        store.create(g)
    return store


def report(store: InMemoryGrantStore, **kwargs: Any) -> list[RecurringIp]:
    return recurring_ips(store.scan(), now=NOW, **kwargs)


def test_an_address_granted_again_and_again_is_a_candidate(store: InMemoryGrantStore) -> None:
    fill(
        store,
        grant("20.61.12.7", GrantState.EXPIRED, 30, user="U0DEV"),
        grant("20.61.12.7", GrantState.EXPIRED, 20, user="U0OPS"),
        grant("20.61.12.7", GrantState.REVOKED, 10, user="U0DEV"),
        grant("20.61.12.7", GrantState.DENIED, 5, user="U0DEV"),
        grant("91.38.188.165", GrantState.EXPIRED, 3),
    )

    [found] = report(store)

    last_ended = NOW - timedelta(days=10) + timedelta(minutes=7, hours=4)
    assert found == RecurringIp(
        registry=CONTOSO,
        ip=ipaddress.IPv4Address("20.61.12.7"),
        grants=3,
        requests=4,
        first_granted=NOW - timedelta(days=30) + timedelta(minutes=5),
        last_granted=NOW - timedelta(days=10) + timedelta(minutes=5),
        last_used=last_ended,
        in_use=False,
        requesters=(RequesterCount("U0DEV", "T0", 2), RequesterCount("U0OPS", "T0", 1)),
        known_label=None,
    )


def test_grants_that_never_stood_do_not_count(store: InMemoryGrantStore) -> None:
    fill(
        store,
        grant("20.61.12.7", GrantState.EXPIRED, 9),
        grant("20.61.12.7", GrantState.FAILED, 8),
        grant("20.61.12.7", GrantState.DENIED, 7),
        grant("20.61.12.7", GrantState.LAPSED, 6),
        grant("20.61.12.7", GrantState.WITHDRAWN, 5),
        grant("20.61.12.7", GrantState.PENDING, 0.1),
    )

    assert report(store) == []
    [found] = report(store, min_grants=1)
    assert (found.grants, found.requests) == (1, 6)


def test_an_address_in_use_now_was_last_used_now(store: InMemoryGrantStore) -> None:
    fill(
        store,
        grant("20.61.12.7", GrantState.EXPIRED, 9),
        grant("20.61.12.7", GrantState.ACTIVE, 0.05),
    )

    [found] = report(store)

    assert found.in_use is True
    assert found.last_used == NOW


def test_each_registry_is_counted_on_its_own(store: InMemoryGrantStore) -> None:
    fill(
        store,
        grant("20.61.12.7", GrantState.EXPIRED, 9, registry=CONTOSO),
        grant("20.61.12.7", GrantState.EXPIRED, 8, registry=FABRIKAM),
        grant("4.175.12.34", GrantState.EXPIRED, 7, registry=FABRIKAM),
        grant("4.175.12.34", GrantState.EXPIRED, 6, registry=FABRIKAM),
        grant("4.175.12.34", GrantState.EXPIRED, 5, registry=FABRIKAM),
        grant("20.61.12.7", GrantState.EXPIRED, 4, registry=FABRIKAM),
    )

    found = report(store)

    assert [(r.registry, str(r.ip), r.grants) for r in found] == [
        (FABRIKAM, "4.175.12.34", 3),
        (FABRIKAM, "20.61.12.7", 2),
    ]
    assert [str(r.ip) for r in report(store, registry=CONTOSO, min_grants=1)] == ["20.61.12.7"]


def test_since_keeps_only_recent_requests(store: InMemoryGrantStore) -> None:
    fill(
        store,
        grant("20.61.12.7", GrantState.EXPIRED, 60),
        grant("20.61.12.7", GrantState.EXPIRED, 50),
        grant("20.61.12.7", GrantState.EXPIRED, 10),
    )

    assert report(store, since=NOW - timedelta(days=30)) == []
    [found] = report(store, since=NOW - timedelta(days=55))
    assert found.grants == 2


def test_addresses_already_known_are_marked(store: InMemoryGrantStore) -> None:
    fill(
        store,
        grant("4.175.12.34", GrantState.EXPIRED, 9),
        grant("4.175.12.34", GrantState.EXPIRED, 8),
    )
    known = KnownIps({"4.175.12.32/30": "NAT gateway ng-aks-prod"})

    [found] = report(store, known_ips=known)

    assert found.known_label == "NAT gateway ng-aks-prod"


def test_more_grants_come_first_then_the_latest_used(store: InMemoryGrantStore) -> None:
    fill(
        store,
        *(grant("1.1.1.1", GrantState.EXPIRED, d) for d in (40, 30)),
        *(grant("2.2.2.2", GrantState.EXPIRED, d) for d in (20, 10)),
        *(grant("3.3.3.3", GrantState.EXPIRED, d) for d in (50, 45, 44)),
    )

    assert [str(r.ip) for r in report(store)] == ["3.3.3.3", "2.2.2.2", "1.1.1.1"]


def test_min_grants_must_be_positive(store: InMemoryGrantStore) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        report(store, min_grants=0)
