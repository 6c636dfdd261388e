"""Snapshots of the App Home as `views.publish` sends it: a newcomer's, a requester's with
requests in every open state, an approver's with requests waiting and rules active (and a
registry that could not be read), and one with more requests than a section lists."""

from __future__ import annotations

from datetime import timedelta
from ipaddress import IPv4Address

from syrupy.assertion import SnapshotAssertion

from bot.views.home import PER_SECTION, RegistryLine, home_view, review_text
from services.domain import grants as g
from services.domain.grants import Grant, Requester
from tests.bot.views.samples import (
    GRANTS,
    POLICY,
    TEAM,
    active,
    approved,
    at,
    pending,
    view,
)

REGISTRIES = [
    RegistryLine("contosoprod.azurecr.io", used=3, limit=200),
    RegistryLine("contosobuild.azurecr.io", used=196, limit=200),
    RegistryLine(
        "contosodev.azurecr.io",
        error="Azure refused to list the registry's usages (403 AuthorizationFailed) for the "
        "bot's identity on this subscription",
    ),
]


def _review(grant: Grant) -> str:
    """The review value as the handler seals it (its seal is not what the snapshot is about)."""
    return f"v1.REVIEW.{grant.id}"


def _other(n: int, **changes: object) -> Grant:
    """Someone else's request, the n-th of the morning."""
    values: dict[str, object] = {
        "id": f"01KJNS8W00OTHER{n:011d}",
        "ip": IPv4Address(f"62.96.77.{n + 10}"),
        "requester": Requester(user_id=f"U0DEV{n}", team_id=TEAM),
        "justification": f"Nightly build agent {n} cannot pull its base image",
        "requested_at": at(n),
        "lapses_at": at(n) + POLICY.pending_ttl,
    }
    values.update(changes)
    return pending(**values)


def test_home_of_a_newcomer(snapshot_json: SnapshotAssertion) -> None:
    built = home_view(
        mine=[],
        waiting=[],
        active=[],
        registries=[],
        is_approver=False,
        now=at(30),
        review=_review,
        policy=POLICY,
    )
    assert view(built) == snapshot_json


def test_home_of_a_requester(snapshot_json: SnapshotAssertion) -> None:
    mine = [
        pending(id="01KJNS8W00MINE0PENDING0000", ip=IPv4Address("91.38.188.7")),
        approved(pending(id="01KJNS8W00MINE0APPROVED000", ip=IPv4Address("91.38.188.8"))),
        active(),
        GRANTS["active_extension_requested"]().model_copy(
            update={"id": "01KJNS8W00MINE0EXTENDING00", "ip": IPv4Address("91.38.188.9")}
        ),
    ]
    built = home_view(
        mine=mine,
        waiting=[],
        active=[],
        registries=REGISTRIES,
        is_approver=False,
        now=at(30),
        review=_review,
        policy=POLICY,
    )
    assert view(built) == snapshot_json


def test_home_of_an_approver(snapshot_json: SnapshotAssertion) -> None:
    waiting = [_other(1), _other(2, requested_duration=timedelta(hours=24))]
    running = [
        active(),
        g.activate(
            g.approve(
                _other(3),
                approver="U0ARI",
                approvers=("U0ARI",),
                now=at(4),
                policy=POLICY,
            ),
            now=at(5),
            policy=POLICY,
            entry="62.96.77.13",
        ),
    ]
    built = home_view(
        mine=[],
        waiting=waiting,
        active=running,
        registries=REGISTRIES,
        is_approver=True,
        now=at(30),
        review=_review,
        policy=POLICY,
    )
    assert view(built) == snapshot_json


def test_home_of_an_approver_with_nothing_waiting(snapshot_json: SnapshotAssertion) -> None:
    built = home_view(
        mine=[active()],
        waiting=[],
        active=[],
        registries=REGISTRIES,
        is_approver=True,
        now=at(30),
        review=_review,
        policy=POLICY,
    )
    assert view(built) == snapshot_json


def test_home_with_more_requests_than_a_section_lists(snapshot_json: SnapshotAssertion) -> None:
    waiting = [_other(n) for n in range(PER_SECTION + 3)]
    built = home_view(
        mine=[],
        waiting=waiting,
        active=[],
        registries=[],
        is_approver=True,
        now=at(30),
        review=_review,
        policy=POLICY,
    )
    assert view(built) == snapshot_json


def test_the_review_shows_the_request_whole(snapshot_json: SnapshotAssertion) -> None:
    """What Approve… and Deny… on the Home show before deciding (the Home's line is short)."""
    waiting = g.approve(
        _other(2, required_approvals=2, warning="An Azure-owned address: others share it."),
        approver="U0ARI",
        approvers=("U0ARI", "U0BO"),
        now=at(20),
        policy=POLICY,
    )
    assert {"text": review_text(waiting)} == snapshot_json
