"""Buttons: "Request temporary access" on a diagnosis card (opens the request modal), and a
grant's Approve, Deny (opens a modal for the reason), Withdraw, Revoke and the extension's. A
decision is never made here: it becomes a job carrying the grant id and who clicked; the worker
checks the rest."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.front import FrontDeps, request_key
from bot.ids import (
    APPROVAL_DURATION_ACTION,
    APPROVAL_DURATION_BLOCK,
    APPROVE,
    DENY,
    EXTEND_APPROVE,
    EXTEND_ASK,
    EXTEND_DENY,
    REQUEST_ACTION,
    REVOKE,
    WITHDRAW,
)
from bot.jobs import DecideJob, Decision
from bot.payloads import (
    ModalContext,
    RequestButton,
    action_value,
    origin_of,
    place_of,
    selected_seconds,
)
from bot.views.requests import deny_modal, extend_modal, request_modal

logger = logging.getLogger(__name__)


def register(app: App, deps: FrontDeps) -> None:
    app.action(REQUEST_ACTION)(partial(request_access, deps=deps))
    app.action(APPROVE)(partial(decide, deps=deps, decision=Decision.APPROVE))
    app.action(WITHDRAW)(partial(decide, deps=deps, decision=Decision.WITHDRAW))
    app.action(REVOKE)(partial(decide, deps=deps, decision=Decision.REVOKE))
    app.action(DENY)(partial(ask_deny_reason, deps=deps))
    app.action(EXTEND_ASK)(partial(ask_extension, deps=deps))
    app.action(EXTEND_APPROVE)(partial(decide, deps=deps, decision=Decision.EXTEND_APPROVE))
    app.action(EXTEND_DENY)(partial(decide, deps=deps, decision=Decision.EXTEND_DENY))
    app.action(APPROVAL_DURATION_ACTION)(acknowledge)


def acknowledge(ack: Ack) -> None:
    """Choosing a duration on the card is read when Approve is clicked; nothing to do now."""
    ack()


def open_modal(client: WebClient, body: dict[str, Any], view: Any) -> None:
    """Open `view` on the click's `trigger_id` (which lives three seconds: the one Slack call a
    listener makes)."""
    try:
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError as exc:
        logger.warning("views.open failed: %s", exc.response.get("error"))


def _context(body: dict[str, Any], **about: str) -> ModalContext:
    return ModalContext(**place_of(body).model_dump(), **about)


def request_access(ack: Ack, body: dict[str, Any], client: WebClient, deps: FrontDeps) -> None:
    button = RequestButton.unseal(deps.secret, action_value(body))
    ack()
    if button is None:
        logger.warning("refused a request button whose value was not the bot's")
        return
    view = request_modal(
        registry=button.registry,
        ip=button.ips,
        summary=button.summary,
        client=button.client,
        policy=deps.settings.policy,
        private_metadata=_context(body, offer=button.offer).dump(),
    )
    open_modal(client, body, view)


def decide(
    ack: Ack, body: dict[str, Any], request: BoltRequest, deps: FrontDeps, decision: Decision
) -> None:
    job = DecideJob(
        key=request_key(request),
        decision=decision,
        grant_id=action_value(body)[:64],
        origin=origin_of(body),
        duration_seconds=selected_seconds(body, APPROVAL_DURATION_BLOCK, APPROVAL_DURATION_ACTION)
        if decision is Decision.APPROVE
        else None,
    )
    deps.jobs.send(job)
    ack()


def ask_deny_reason(ack: Ack, body: dict[str, Any], client: WebClient, deps: FrontDeps) -> None:
    message = body.get("message") or {}
    grant = action_value(body)[:64]
    ack()
    view = deny_modal(
        grant_id=grant,
        about=str(message.get("text") or ""),
        private_metadata=_context(body, grant=grant).dump(),
    )
    open_modal(client, body, view)


def ask_extension(ack: Ack, body: dict[str, Any], client: WebClient, deps: FrontDeps) -> None:
    grant = action_value(body)[:64]
    ack()
    view = extend_modal(
        grant_id=grant,
        policy=deps.settings.policy,
        private_metadata=_context(body, grant=grant).dump(),
    )
    open_modal(client, body, view)
