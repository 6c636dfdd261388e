"""The egress lookup a diagnosis card offers: the resource the paste named, or a listed one picked
(each enqueues the lookup), the button that opens the form for any other, and the form's
submission (enqueues it too)."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltRequest
from slack_sdk import WebClient

from bot.front import FrontDeps, request_key
from bot.ids import LOOKUP_CALLBACK, LOOKUP_NAMED, LOOKUP_OPEN, LOOKUP_PICK
from bot.jobs import EgressJob
from bot.listeners.actions import open_modal
from bot.payloads import (
    ModalContext,
    action_value,
    input_value,
    origin_of,
    place_of,
    selected_value,
)
from bot.sealed import LookupButton
from bot.views.lookup_form import (
    KIND_ACTION,
    KIND_BLOCK,
    NAME_ACTION,
    NAME_BLOCK,
    PICK_BLOCK_PREFIX,
    lookup_modal,
)
from services.domain.resources import ResourceKind

logger = logging.getLogger(__name__)


def register(app: App, deps: FrontDeps) -> None:
    app.action(LOOKUP_OPEN)(partial(open_form, deps=deps))
    app.action(LOOKUP_PICK)(partial(picked, deps=deps))
    app.action(LOOKUP_NAMED)(partial(named, deps=deps))
    app.view(LOOKUP_CALLBACK)(partial(submitted, deps=deps))


def _sealed(deps: FrontDeps, value: str) -> LookupButton | None:
    sealed = LookupButton.unseal(deps.secret, value)
    if sealed is None:
        logger.warning("refused an egress lookup whose value was not the bot's")
    return sealed


def _kind(value: object) -> ResourceKind | None:
    try:
        return ResourceKind(str(value))
    except ValueError:
        return None


def open_form(ack: Ack, body: dict[str, Any], client: WebClient, deps: FrontDeps) -> None:
    sealed = _sealed(deps, action_value(body))
    ack()
    if sealed is None:
        return
    context = ModalContext.at(place_of(body), offer=sealed.offer)
    open_modal(client, body, lookup_modal(kind=_kind(sealed.kind), private_metadata=context.dump()))


def picked(ack: Ack, body: dict[str, Any], request: BoltRequest, deps: FrontDeps) -> None:
    action = (body.get("actions") or [{}])[0]
    ack()
    block = str(action.get("block_id") or "")
    option = str((action.get("selected_option") or {}).get("value") or "")
    if option.isdigit():
        _look_up(deps, request, body, block.removeprefix(PICK_BLOCK_PREFIX), int(option))


def named(ack: Ack, body: dict[str, Any], request: BoltRequest, deps: FrontDeps) -> None:
    """The resource the paste named, found once in Azure: the offer's only candidate."""
    ack()
    _look_up(deps, request, body, action_value(body), 0)


def _look_up(
    deps: FrontDeps, request: BoltRequest, body: dict[str, Any], value: str, candidate: int
) -> None:
    sealed = _sealed(deps, value)
    kind = _kind(sealed.kind) if sealed else None
    if sealed is None or kind is None:
        return
    deps.jobs.send(
        EgressJob(
            key=request_key(request),
            offer_id=sealed.offer,
            origin=origin_of(body),
            resource_kind=kind.value,
            candidate=min(candidate, 99),
        )
    )


def submitted(ack: Ack, body: dict[str, Any], request: BoltRequest, deps: FrontDeps) -> None:
    context = ModalContext.of(body.get("view") or {})
    name = input_value(body, NAME_BLOCK, NAME_ACTION).strip()
    kind = _kind(selected_value(body, KIND_BLOCK, KIND_ACTION))
    if not name:
        ack(response_action="errors", errors={NAME_BLOCK: "Name the resource, or paste its ID."})
        return
    if kind is None or context.offer is None:
        ack(response_action="errors", errors={NAME_BLOCK: "This form is out of date."})
        return
    deps.jobs.send(
        EgressJob(
            key=request_key(request),
            offer_id=context.offer,
            origin=origin_of(body, context),
            resource_kind=kind.value,
            name=name[:400],
        )
    )
    ack()
