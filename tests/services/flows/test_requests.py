"""Requesting and withdrawing: everything checked before anything is stored, duplicates point to
the open grant, and the open-request cap holds under concurrency."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from services.domain import errors
from services.domain.grants import GrantState, MessageRef
from services.domain.jobs import GrantEvent, GrantNotice
from services.domain.policy import Policy
from services.flows.book import GRACE
from services.flows.requests import request_again, request_grant, withdraw_request
from tests.fakes.ports import APPROVER, REQUESTER, make_fakes
from tests.services.flows.helpers import LOGIN, request, requester


def nothing_stored(fakes) -> bool:
    return (
        list(fakes.grants.scan()) == []
        and fakes.grants.index_keys() == []
        and fakes.jobs.jobs == []
    )


def test_a_request_is_pending_indexed_audited_and_announced() -> None:
    fakes = make_fakes()
    origin = MessageRef(kind="requester_thread", channel="C1", ts="1.2")
    outcome = request_grant(
        fakes.ports,
        registry="CONTOSO",  # by name, any case
        ip="20.1.2.3/32",
        requester=requester(),
        justification="  deploying the hotfix  ",
        summary="20.1.2.3 is not allowed by contoso's firewall.",
        origin=origin,
    )
    grant = outcome.grant
    assert outcome.created
    assert grant.state is GrantState.PENDING
    assert grant.registry == LOGIN
    assert str(grant.ip) == "20.1.2.3"
    assert grant.justification == "deploying the hotfix"
    assert grant.requested_duration == timedelta(hours=4)  # the policy default
    assert grant.lapses_at == fakes.clock.now() + timedelta(hours=8)
    assert fakes.grants.messages(grant.id) == [origin]
    assert [e.to_state for e in fakes.audit.for_grant(grant.id)] == ["pending"]
    [job] = fakes.jobs.jobs
    assert job.job == GrantNotice(grant_id=grant.id, event=GrantEvent.REQUESTED)
    assert ("slot|contoso.azurecr.io", "20.1.2.3") in fakes.grants.index_keys("slot|")


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"registry": "elsewhere.azurecr.io"}, errors.RegistryNotManaged),
        ({"ip": "10.0.0.4"}, errors.NotPublicIp),
        ({"ip": "2603:1030::5"}, errors.Ipv6NotSupported),
        ({"ip": "20.1.2.0/24"}, errors.RangeTooBroad),
        ({"ip": "x.x.x.x"}, errors.NotAnIp),
        ({"justification": "too short"}, errors.InvalidText),
        # Zero-width spaces are not words: 10 characters, 2 visible.
        (
            {"justification": "a\u200b\u200b\u200b\u200b\u200b\u200b\u200b\u200bb"},
            errors.InvalidText,
        ),
        ({"justification": "x" * 501}, errors.InvalidText),
        ({"justification": "x" * 1_000_000}, errors.InvalidText),
        ({"duration": timedelta(hours=2)}, errors.InvalidDuration),
        ({"duration": timedelta(hours=48)}, errors.InvalidDuration),
    ],
)
def test_bad_requests_are_refused_with_nothing_stored(changes, error) -> None:
    fakes = make_fakes()
    values = {
        "registry": LOGIN,
        "ip": "20.1.2.3",
        "requester": requester(),
        "justification": "deploying the hotfix",
        "duration": timedelta(hours=1),
        **changes,
    }
    with pytest.raises(error) as refused:
        request_grant(fakes.ports, **values)
    assert refused.value.message
    assert nothing_stored(fakes)


def test_a_second_request_for_the_same_address_points_to_the_open_one() -> None:
    fakes = make_fakes()
    first = request(fakes)
    again = request_grant(
        fakes.ports,
        registry=LOGIN,
        ip="20.1.2.3",
        requester=requester("U0SOMEONE"),
        justification="me too, same address",
    )
    assert not again.created
    assert again.grant.id == first.id
    assert len(list(fakes.grants.scan())) == 1


def test_the_same_request_made_concurrently_creates_one_grant() -> None:
    fakes = make_fakes()
    barrier = threading.Barrier(8)
    results = []

    def go() -> None:
        barrier.wait()
        results.append(request(fakes))

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({g.id for g in results}) == 1
    assert len(list(fakes.grants.scan())) == 1


def test_six_concurrent_requests_against_a_cap_of_three_give_exactly_three() -> None:
    fakes = make_fakes(policy=Policy(max_open_requests_per_requester=3))
    barrier = threading.Barrier(6)
    created, refused = [], []

    def go(i: int) -> None:
        barrier.wait()
        try:
            created.append(request(fakes, f"20.1.2.{i + 1}"))
        except errors.TooManyOpenRequests as exc:
            refused.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(created) == 3
    assert len(refused) == 3
    assert len(list(fakes.grants.scan())) == 3


def test_an_ended_request_frees_its_cap_slot() -> None:
    fakes = make_fakes(policy=Policy(max_open_requests_per_requester=1))
    first = request(fakes, "20.1.2.3")
    with pytest.raises(errors.TooManyOpenRequests):
        request(fakes, "20.1.2.4")
    withdraw_request(fakes.ports, first.id, actor=REQUESTER)
    assert request(fakes, "20.1.2.4").state is GrantState.PENDING


def test_an_overdue_pending_request_lapses_on_the_way_and_frees_its_slot() -> None:
    fakes = make_fakes()
    first = request(fakes)
    fakes.clock.advance(timedelta(hours=9))
    second = request(fakes)
    assert second.id != first.id
    assert fakes.grants.get(first.id)[0].state is GrantState.LAPSED


def test_a_cap_slot_left_by_a_crashed_request_is_taken_over_after_the_grace() -> None:
    fakes = make_fakes(policy=Policy(max_open_requests_per_requester=1))
    # A request that claimed its cap slot and died before its grant was written.
    from services.domain.grants import cap_row

    assert fakes.grants.claim(cap_row(requester(), 0), "01J00000000000000000000000")
    with pytest.raises(errors.TooManyOpenRequests):
        request(fakes)
    fakes.clock.advance(GRACE + timedelta(seconds=1))
    assert request(fakes).state is GrantState.PENDING


def test_only_the_requester_withdraws_and_only_while_pending() -> None:
    fakes = make_fakes()
    grant = request(fakes)
    with pytest.raises(errors.NotRequester):
        withdraw_request(fakes.ports, grant.id, actor=APPROVER)
    withdrawn = withdraw_request(fakes.ports, grant.id, actor=REQUESTER)
    assert withdrawn.state is GrantState.WITHDRAWN
    with pytest.raises(errors.AlreadyDecided):
        withdraw_request(fakes.ports, grant.id, actor=REQUESTER)
    assert fakes.grants.index_keys("slot|") == []
    assert fakes.grants.index_keys("cap|") == []


def test_request_again_only_from_an_ended_request_worth_asking_again() -> None:
    fakes = make_fakes()
    grant = request(fakes)
    # Still open: it is the open request, not a new one.
    with pytest.raises(errors.InvalidTransition):
        request_again(fakes.ports, grant.id, requester=requester(), justification="once more, pls")
    withdraw_request(fakes.ports, grant.id, actor=REQUESTER)
    # Withdrawn on purpose: asking again is a new request from a card, not from this one.
    with pytest.raises(errors.InvalidTransition, match="withdrawn"):
        request_again(fakes.ports, grant.id, requester=requester(), justification="once more, pls")

    lapsed = request(fakes, "20.1.2.4")
    fakes.clock.advance(timedelta(hours=9))
    request(fakes, "20.1.2.9")  # lapses the overdue one on the way
    with pytest.raises(errors.NotRequester):
        request_again(
            fakes.ports, lapsed.id, requester=requester(APPROVER), justification="not mine at all"
        )
    again = request_again(
        fakes.ports, lapsed.id, requester=requester(), justification="still deploying the fix"
    ).grant
    assert again.id != lapsed.id
    assert (again.state, again.ip, again.registry) == (GrantState.PENDING, lapsed.ip, LOGIN)
    assert again.justification == "still deploying the fix"


class _Died(Exception):
    """The worker died here."""


def test_a_request_redelivered_with_its_id_finishes_what_a_dead_worker_began() -> None:
    # Defect 4's request side: the worker died between storing the grant and claiming its slot;
    # the redelivery (same job, same grant id) carries on instead of asking twice or skipping.
    from dataclasses import replace

    from services.domain.ids import new_ulid
    from tests.fakes.stores import InMemoryGrantStore

    class DiesAtTheSlot(InMemoryGrantStore):
        died = False

        def claim(self, row, grant_id):
            if row.partition.startswith("slot|") and not self.died:
                self.died = True
                raise _Died
            return super().claim(row, grant_id)

    fakes = make_fakes()
    store = DiesAtTheSlot(fakes.clock)
    fakes = replace(fakes, grants=store).with_ports(grants=store)
    grant_id = new_ulid(fakes.clock.now())

    def ask():
        return request_grant(
            fakes.ports,
            registry=LOGIN,
            ip="20.1.2.3",
            requester=requester(),
            justification="deploying the hotfix to production",
            grant_id=grant_id,
        )

    with pytest.raises(_Died):
        ask()
    assert fakes.grants.get(grant_id)[0].state is GrantState.PENDING
    assert fakes.jobs.jobs == []  # nobody was told yet
    for _ in range(2):  # the redelivery, and one more
        outcome = ask()
        assert outcome.grant.id == grant_id
    assert [g.id for g in fakes.grants.scan()] == [grant_id]
    assert ("slot|contoso.azurecr.io", "20.1.2.3") in fakes.grants.index_keys("slot|")
    assert [e.to_state for e in fakes.audit.for_grant(grant_id)] == ["pending"]
    keys = {j.job.key for j in fakes.jobs.jobs}
    assert keys == {GrantNotice(grant_id=grant_id, event=GrantEvent.REQUESTED).key}
