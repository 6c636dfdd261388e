"""Snapshots of the modals, as `views.open` sends them: the paste box, the request form (with the
address shown, or asked for with the help that fits the client), the deny reason and the
extension form."""

from __future__ import annotations

from datetime import timedelta

import pytest
from syrupy.assertion import SnapshotAssertion

from bot.payloads import ModalContext
from bot.views.modals import paste_modal
from bot.views.requests import (
    FIND_EGRESS,
    approve_modal,
    deny_modal,
    extend_modal,
    request_modal,
    revoke_modal,
)
from services.domain.policy import Policy
from tests.bot.views.samples import GRANT_ID, POLICY, REGISTRY, SEALED, view

#: Where the clicked message is, as the listeners keep it in a modal's metadata.
PLACE = ModalContext(channel="C0PLATFORM", ts="1772442000.000100")
METADATA = PLACE.dump()


def test_paste_modal(snapshot_json: SnapshotAssertion) -> None:
    metadata = (
        '{"channel_id": "C0PLATFORM", "response_url": "https://hooks.slack.com/commands/T0/1/x"}'
    )
    assert view(paste_modal(metadata)) == snapshot_json


def test_request_modal_with_the_address(snapshot_json: SnapshotAssertion) -> None:
    modal = request_modal(
        registry=REGISTRY,
        ip="91.38.188.165",
        summary="91.38.188.165 is not allowed by contosoprod's firewall.",
        client="docker",
        policy=POLICY,
        private_metadata=PLACE.model_copy(update={"offer": SEALED}).dump(),
    )
    assert view(modal) == snapshot_json


@pytest.mark.parametrize("client", [*FIND_EGRESS, "docker"])
def test_request_modal_asking_for_the_address(
    client: str, snapshot_json: SnapshotAssertion
) -> None:
    """The help on finding the address differs per client (`docker`: the generic advice)."""
    modal = request_modal(
        registry=REGISTRY,
        ip=None,
        summary="Most likely refused by the registry firewall, but the error does not say "
        "which IP.",
        client=client,
        policy=POLICY,
        private_metadata=PLACE.model_copy(update={"offer": SEALED}).dump(),
    )
    assert view(modal) == snapshot_json


def test_request_modal_with_a_narrow_policy(snapshot_json: SnapshotAssertion) -> None:
    """A policy with its own durations: the choices and the default follow it."""
    policy = Policy(
        allowed_durations=(timedelta(minutes=30), timedelta(hours=2)),
        max_duration=timedelta(hours=2),
        default_duration=timedelta(hours=2),
        justification_min_length=20,
        justification_max_length=300,
    )
    modal = request_modal(
        registry=REGISTRY,
        ip="91.38.188.165",
        summary="91.38.188.165 is not allowed by contosoprod's firewall.",
        client="docker",
        policy=policy,
        private_metadata=PLACE.model_copy(update={"offer": SEALED}).dump(),
    )
    assert view(modal) == snapshot_json


ABOUT = "<@U0DANA> asks to allow `91.38.188.165` on `contosoprod.azurecr.io` for 4 h."


@pytest.mark.parametrize("required", [False, True], ids=["reason_optional", "reason_required"])
def test_deny_modal(required: bool, snapshot_json: SnapshotAssertion) -> None:
    built = deny_modal(about=ABOUT, private_metadata=METADATA, required=required)
    assert view(built) == snapshot_json


@pytest.mark.parametrize("required", [False, True], ids=["reason_optional", "reason_required"])
def test_revoke_modal(required: bool, snapshot_json: SnapshotAssertion) -> None:
    built = revoke_modal(about=ABOUT, private_metadata=METADATA, required=required)
    assert view(built) == snapshot_json


def test_approve_modal(snapshot_json: SnapshotAssertion) -> None:
    """Approving from the App Home: the request, and durations up to the 4 h asked."""
    built = approve_modal(
        about=ABOUT, asked=timedelta(hours=4), policy=POLICY, private_metadata=METADATA
    )
    assert view(built) == snapshot_json


def test_request_modal_asked_again(snapshot_json: SnapshotAssertion) -> None:
    """ "Request again": the old justification to start from."""
    built = request_modal(
        registry=REGISTRY,
        ip="91.38.188.165",
        summary="91.38.188.165 is not allowed by contosoprod's firewall.",
        client="docker",
        policy=POLICY,
        private_metadata=PLACE.model_copy(update={"grant": GRANT_ID}).dump(),
        justification="Deploying the hotfix for INC-4711 from my laptop behind the gateway",
        again=True,
    )
    assert view(built) == snapshot_json


def test_extend_modal(snapshot_json: SnapshotAssertion) -> None:
    assert view(extend_modal(policy=POLICY, private_metadata=METADATA)) == snapshot_json
