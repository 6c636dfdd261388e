"""Buttons: "Request temporary access" on a diagnosis card and "Request again" on a request that
ended (both open the request modal), and a grant's Approve, Deny and Revoke (the last two open a
modal for the reason), Withdraw and the extension's; on the App Home, Approve and Deny open a
modal that shows the request first. A decision is never made here: it becomes a job carrying the
grant id and who clicked; the worker checks the rest."""

from __future__ import annotations

import logging
from datetime import timedelta
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
    REQUEST_AGAIN,
    REVIEW_APPROVE,
    REVIEW_DENY,
    REVOKE,
    WITHDRAW,
)
from bot.jobs import DecideJob, Decision
from bot.payloads import (
    ModalContext,
    action_value,
    origin_of,
    place_of,
    selected_seconds,
)
from bot.sealed import RequestButton, ReviewButton
from bot.views.requests import (
    approve_modal,
    deny_modal,
    extend_modal,
    request_modal,
    revoke_modal,
)

logger = logging.getLogger(__name__)


def register(app: App, deps: FrontDeps) -> None:
    app.action(REQUEST_ACTION)(partial(request_access, deps=deps))
    app.action(REQUEST_AGAIN)(partial(request_access, deps=deps))
    app.action(APPROVE)(partial(decide, deps=deps, decision=Decision.APPROVE))
    app.action(WITHDRAW)(partial(decide, deps=deps, decision=Decision.WITHDRAW))
    app.action(REVOKE)(partial(ask_revoke_reason, deps=deps))
    app.action(DENY)(partial(ask_deny_reason, deps=deps))
    app.action(REVIEW_APPROVE)(partial(review, deps=deps, approve=True))
    app.action(REVIEW_DENY)(partial(review, deps=deps, approve=False))
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


def _context(
    body: dict[str, Any], *, offer: str | None = None, grant: str | None = None
) -> ModalContext:
    return ModalContext.at(place_of(body), offer=offer, grant=grant)


def request_access(ack: Ack, body: dict[str, Any], client: WebClient, deps: FrontDeps) -> None:
    button = RequestButton.unseal(deps.secret, action_value(body))
    ack()
    if button is None or not (button.offer or button.again):
        logger.warning("refused a request button whose value was not the bot's")
        return
    view = request_modal(
        registry=button.registry,
        ip=button.ips,
        summary=button.summary,
        client=button.client,
        policy=deps.settings.policy,
        private_metadata=_context(body, offer=button.offer or None, grant=button.again).dump(),
        justification=button.justification,
        again=button.again is not None,
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


def _shown(body: dict[str, Any]) -> str:
    """The clicked message's own text (the bot wrote it), to show in the modal it opens."""
    message = body.get("message") or {}
    return str(message.get("text") or "")


def ask_deny_reason(ack: Ack, body: dict[str, Any], client: WebClient, deps: FrontDeps) -> None:
    grant = action_value(body)[:64]
    ack()
    view = deny_modal(
        about=_shown(body),
        private_metadata=_context(body, grant=grant).dump(),
        required=deps.settings.policy.deny_reason_required,
    )
    open_modal(client, body, view)


def ask_revoke_reason(ack: Ack, body: dict[str, Any], client: WebClient, deps: FrontDeps) -> None:
    grant = action_value(body)[:64]
    ack()
    view = revoke_modal(
        about=_shown(body) or "The rule is removed from the registry right away.",
        private_metadata=_context(body, grant=grant).dump(),
        required=deps.settings.policy.revoke_reason_required,
    )
    open_modal(client, body, view)


def review(
    ack: Ack, body: dict[str, Any], client: WebClient, deps: FrontDeps, approve: bool
) -> None:
    """Approve or Deny on the App Home: the request is shown before anything is decided."""
    button = ReviewButton.unseal(deps.secret, action_value(body))
    ack()
    if button is None:
        logger.warning("refused a review button whose value was not the bot's")
        return
    metadata = _context(body, grant=button.grant).dump()
    policy = deps.settings.policy
    view = (
        approve_modal(
            about=button.about,
            asked=timedelta(seconds=button.asked_seconds) or policy.default_duration,
            policy=policy,
            private_metadata=metadata,
        )
        if approve
        else deny_modal(
            about=button.about, private_metadata=metadata, required=policy.deny_reason_required
        )
    )
    open_modal(client, body, view)


def ask_extension(ack: Ack, body: dict[str, Any], client: WebClient, deps: FrontDeps) -> None:
    grant = action_value(body)[:64]
    ack()
    view = extend_modal(
        policy=deps.settings.policy,
        private_metadata=_context(body, grant=grant).dump(),
    )
    open_modal(client, body, view)
