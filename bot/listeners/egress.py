"""The egress lookup a diagnosis card offers: the resource the paste named, or a listed one picked
(each enqueues the lookup), the button that opens the form for any other, and the form's
submission (enqueues it too)."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.app import FrontDeps, request_key
from bot.ids import LOOKUP_CALLBACK, LOOKUP_NAMED, LOOKUP_OPEN, LOOKUP_PICK
from bot.jobs import EgressJob
from bot.listeners.actions import metadata, origin_of, where
from bot.signing import open_value
from bot.views.egress import (
    KIND_ACTION,
    KIND_BLOCK,
    NAME_ACTION,
    NAME_BLOCK,
    PICK_BLOCK_PREFIX,
    lookup_modal,
)
from services.domain.egress import ResourceKind

logger = logging.getLogger(__name__)


def register(app: App, deps: FrontDeps) -> None:
    app.action(LOOKUP_OPEN)(partial(open_form, deps=deps))
    app.action(LOOKUP_PICK)(partial(picked, deps=deps))
    app.action(LOOKUP_NAMED)(partial(named, deps=deps))
    app.view(LOOKUP_CALLBACK)(partial(submitted, deps=deps))


def _sealed(deps: FrontDeps, value: str) -> dict[str, Any] | None:
    sealed = open_value(deps.settings.slack_signing_secret.get_secret_value(), value)
    if sealed is None or not isinstance(sealed.get("o"), str):
        logger.warning("refused an egress lookup whose value was not the bot's")
        return None
    return sealed


def _kind(value: object) -> ResourceKind | None:
    try:
        return ResourceKind(str(value))
    except ValueError:
        return None


def open_form(ack: Ack, body: dict[str, Any], client: WebClient, deps: FrontDeps) -> None:
    action = (body.get("actions") or [{}])[0]
    sealed = _sealed(deps, str(action.get("value") or ""))
    ack()
    if sealed is None:
        return
    view = lookup_modal(
        kind=_kind(sealed.get("k")), private_metadata={"o": sealed["o"], **where(body)}
    )
    try:
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError as exc:
        logger.warning("views.open failed: %s", exc.response.get("error"))


def picked(ack: Ack, body: dict[str, Any], request: BoltRequest, deps: FrontDeps) -> None:
    action = (body.get("actions") or [{}])[0]
    ack()
    block = str(action.get("block_id") or "")
    option = str((action.get("selected_option") or {}).get("value") or "")
    if option.isdigit():
        _look_up(deps, request, body, block.removeprefix(PICK_BLOCK_PREFIX), int(option))


def named(ack: Ack, body: dict[str, Any], request: BoltRequest, deps: FrontDeps) -> None:
    """The resource the paste named, found once in Azure: the offer's only candidate."""
    action = (body.get("actions") or [{}])[0]
    ack()
    _look_up(deps, request, body, str(action.get("value") or ""), 0)


def _look_up(
    deps: FrontDeps, request: BoltRequest, body: dict[str, Any], value: str, candidate: int
) -> None:
    sealed = _sealed(deps, value)
    kind = _kind(sealed.get("k")) if sealed else None
    if sealed is None or kind is None:
        return
    deps.jobs.send(
        EgressJob(
            key=request_key(request),
            offer_id=str(sealed["o"])[:64],
            origin=origin_of(body),
            resource_kind=kind.value,
            candidate=min(candidate, 99),
        )
    )


def submitted(ack: Ack, body: dict[str, Any], request: BoltRequest, deps: FrontDeps) -> None:
    view = body.get("view") or {}
    values = (view.get("state") or {}).get("values") or {}
    meta = metadata(view)
    chosen = ((values.get(KIND_BLOCK) or {}).get(KIND_ACTION) or {}).get("selected_option") or {}
    name = str(((values.get(NAME_BLOCK) or {}).get(NAME_ACTION) or {}).get("value") or "").strip()
    kind = _kind(chosen.get("value"))
    if not name:
        ack(response_action="errors", errors={NAME_BLOCK: "Name the resource, or paste its ID."})
        return
    if kind is None or not isinstance(meta.get("o"), str):
        ack(response_action="errors", errors={NAME_BLOCK: "This form is out of date."})
        return
    deps.jobs.send(
        EgressJob(
            key=request_key(request),
            offer_id=str(meta["o"])[:64],
            origin=origin_of(body, meta),
            resource_kind=kind.value,
            name=name[:400],
        )
    )
    ack()
