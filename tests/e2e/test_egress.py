"""The egress lookup end to end: a paste that hides the refused address (Container Apps, App
Service, AKS) → the card offers a lookup → the resource the paste named, in one click, or one
named in the form or picked on the card → its outbound addresses read from the ARM emulator
(Resource Graph, the resource providers) → one request → an approval per address → the rules on
the registry. And a pasted address that is one of the organisation's public IPs named on the
card."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.arm_egress import Estate, seed_estate
from sandbox.demo import CONTAINER_APP_PASTE as NAMED_CONTAINER_APP
from sandbox.demo import NAMED_PASTES
from services.domain.grants import GrantState
from tests.e2e.conftest import APPROVALS, APPROVER, DEV, World, make_world
from tests.e2e.test_approvals import click, text_of
from tests.sandbox_helpers import SUBSCRIPTION

pytestmark = pytest.mark.azurite

#: Pastes that hide the address and do not name the resource: the card lists the likely ones.
CONTAINER_APP_PASTE = NAMED_CONTAINER_APP.replace(f"'{Estate.container_app}'", "'xxxxxx'")
APP_SERVICE_PASTE = (
    "2025-03-02T08:14:51.123Z INFO  - Pulling image: contosoprod.azurecr.io/shop/web:2.0\n"
    "2025-03-02T08:14:51.456Z ERROR - DockerApiException: Docker API responded with status "
    'code=InternalServerError, response={"message":"denied"}'
)
AKS_PASTE = (
    'Warning  Failed  12s  kubelet  Failed to pull image "contosoprod.azurecr.io/shop/api:1.4": '
    "failed to resolve reference: failed to authorize: failed to fetch anonymous token: "
    "unexpected status from GET request to https://contosoprod.azurecr.io/oauth2/token?scope="
    "repository%3Ashop%2Fapi%3Apull&service=contosoprod.azurecr.io: 403 Forbidden"
)


@pytest.fixture
def world(azurite_connection_string, unique_name, monkeypatch) -> Iterator[World]:
    monkeypatch.setenv("ACRBOT_EGRESS_LOOKUP", "true")
    with make_world(azurite_connection_string, unique_name, monkeypatch) as made:
        seed_estate(made.arm, SUBSCRIPTION)
        yield made


def _everything(world: World) -> list[Any]:
    dm = world.slack.dm_channel(DEV)
    found = []
    for message in world.slack.messages(dm):
        found.append(message)
        found.extend(world.slack.replies(dm, message.ts))
    return found


def _card(world: World, marker: str) -> Any:
    return [m for m in _everything(world) if marker in text_of(m)][-1]


def _looked_up(world: World, paste: str, how: str, name: str) -> Any:
    world.post(world.client.direct_message(paste, user=DEV))
    world.run_jobs()
    card = _card(world, "egress_lookup_open")
    if how == "pick":
        pick = world.client.block_action(
            "egress_lookup_pick",
            user=DEV,
            message=card,
            action={
                "selected_option": {"value": "0", "text": {"type": "plain_text", "text": name}}
            },
        )
        assert world.post(pick).status_code == 200
    else:
        click(world, DEV, "egress_lookup_open", card)
        form = world.slack.calls("views.open")[-1].response["view"]
        submitted = world.post(
            world.client.view_submission(
                form["id"], user=DEV, values={"egress_name": {"egress_name_text": name}}
            )
        )
        assert b"errors" not in submitted.get_body()
    world.run_jobs()
    return _card(world, "Egress of")


def _request_and_approve(world: World, card: Any, ips: tuple[str, ...]) -> None:
    """Request the looked-up addresses from their card, approve each, and check the rules."""
    click(world, DEV, "request_access", card)
    form = world.slack.calls("views.open")[-1].response["view"]
    world.post(
        world.client.view_submission(
            form["id"],
            user=DEV,
            values={"justification": {"justification_text": "release 1.4 is blocked"}},
        )
    )
    world.run_jobs()
    grants = list(world.runtime.ports.grants.scan())
    assert sorted(str(g.ip) for g in grants) == sorted(ips)
    assert all(g.state is GrantState.PENDING for g in grants)

    cards = [m for m in world.slack.messages(APPROVALS) if "Access request" in text_of(m)]
    assert len(cards) == len(ips)
    for approval in cards:
        assert click(world, APPROVER, "grant_approve", approval).status_code == 200
    world.run_jobs()
    rules = world.arm.rules("contosoprod")
    for ip in ips:
        assert ip in rules
    assert {world.runtime.ports.grants.get(g.id)[0].state for g in grants} == {GrantState.ACTIVE}


@pytest.mark.parametrize(
    ("name", "ips", "paste"), NAMED_PASTES, ids=["container-app", "app-service", "aks-node"]
)
def test_a_paste_naming_its_resource_gets_the_resources_egress_in_one_click(
    world: World, name: str, ips: tuple[str, ...], paste: str
) -> None:
    world.post(world.client.direct_message(paste, user=DEV))
    world.run_jobs()
    card = _card(world, "egress_lookup_named")
    assert name in text_of(card)
    assert "egress_lookup_pick" not in text_of(card)  # nothing to pick: the paste said which

    assert click(world, DEV, "egress_lookup_named", card).status_code == 200
    world.run_jobs()
    looked_up = _card(world, "Egress of")
    for ip in ips:
        assert ip in text_of(looked_up)
    _request_and_approve(world, looked_up, ips)


def test_a_named_resource_azure_does_not_have_leaves_the_likely_ones_to_pick(
    world: World,
) -> None:
    paste = NAMED_CONTAINER_APP.replace(f"'{Estate.container_app}'", "'shop-gone'")
    world.post(world.client.direct_message(paste, user=DEV))
    world.run_jobs()
    card = _card(world, "egress_lookup_pick")
    assert "shop-gone" in text_of(card)
    assert "found none like it" in text_of(card)
    assert Estate.container_app in text_of(card)  # the Container Apps there, to pick from
    assert "egress_lookup_named" not in text_of(card)


@pytest.mark.parametrize(
    ("paste", "how", "name", "ips"),
    [
        (CONTAINER_APP_PASTE, "form", Estate.container_app, Estate.container_app_ips),
        (APP_SERVICE_PASTE, "form", Estate.web_app, Estate.web_app_ips),
        (AKS_PASTE, "pick", Estate.aks_cluster, (Estate.aks_ip,)),
    ],
    ids=["container-app", "app-service", "aks"],
)
def test_a_paste_without_an_ip_or_a_name_becomes_rules_for_the_picked_resources_egress(
    world: World, paste: str, how: str, name: str, ips: tuple[str, ...]
) -> None:
    card = _looked_up(world, paste, how, name)
    shown = text_of(card)
    assert name in shown
    for ip in ips:
        assert ip in shown
    if name == Estate.web_app:
        assert Estate.web_app_possible[0] in shown  # possible addresses are shown, not requested
    _request_and_approve(world, card, ips)


def test_the_card_offers_the_resources_of_the_clients_kind(world: World) -> None:
    world.post(world.client.direct_message(AKS_PASTE, user=DEV))
    world.run_jobs()
    card = _card(world, "egress_lookup_pick")
    assert Estate.aks_cluster in text_of(card)
    assert Estate.container_app not in text_of(card)


def test_a_pasted_address_of_an_org_public_ip_is_named(world: World) -> None:
    paste = (
        'Error response from daemon: Head "https://contosoprod.azurecr.io/v2/shop/api/manifests/'
        f"1.4\": denied: client with IP '{Estate.nat_ip}' is not allowed access. Refer "
        "https://aka.ms/acr/firewall to grant access."
    )
    world.post(world.client.direct_message(paste, user=DEV))
    world.run_jobs()
    card = _card(world, Estate.nat_ip)
    assert f"the public IP of NAT gateway {Estate.nat_gateway} in rg-network" in text_of(card)
    assert "permanent" in text_of(card)


def test_without_reader_access_the_card_keeps_the_manual_advice(world: World) -> None:
    world.arm.inject("other", status=403, code="AuthorizationFailed", message="no", times=50)
    world.post(world.client.direct_message(AKS_PASTE, user=DEV))
    world.run_jobs()
    card = _card(world, "does not show")
    assert "egress_lookup" not in text_of(card)
    assert "Enter the address" in text_of(card)
