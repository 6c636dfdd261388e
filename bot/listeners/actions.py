"""Buttons: "Request temporary access" on a diagnosis card (opens the request modal), and a
grant's Approve, Deny (opens a modal for the reason), Withdraw and Revoke. A decision is never
made here: it becomes a job carrying the grant id and who clicked; the worker checks the rest."""

from __future__ import annotations

import json
import logging
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.app import FrontDeps, request_key
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
from bot.jobs import DecideJob, Decision, Origin, Surface
from bot.signing import open_value
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


def where(body: dict[str, Any]) -> dict[str, Any]:
    """Where the clicked message is, compactly (for a modal's private metadata)."""
    container = body.get("container") or {}
    message = body.get("message") or {}
    return {
        "ch": container.get("channel_id") or (body.get("channel") or {}).get("id"),
        "ts": container.get("message_ts") or message.get("ts"),
        "th": message.get("thread_ts") or container.get("thread_ts"),
        "eph": bool(container.get("is_ephemeral")),
        "ru": body.get("response_url"),
    }


def origin_of(body: dict[str, Any], place: dict[str, Any] | None = None) -> Origin:
    place = place if place is not None else where(body)
    surface = Surface.SLASH if place.get("eph") else Surface.SHORTCUT
    if (body.get("container") or {}).get("type") == "view" and (body.get("view") or {}).get(
        "type"
    ) == "home":
        surface = Surface.HOME
    return Origin(
        surface=surface,
        team_id=str((body.get("team") or {}).get("id") or ""),
        user_id=str((body.get("user") or {}).get("id") or ""),
        channel_id=place.get("ch"),
        message_ts=place.get("ts"),
        thread_ts=place.get("th") or place.get("ts"),
        response_url=place.get("ru"),
    )


def _value(body: dict[str, Any]) -> str:
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value") or "")


def request_access(ack: Ack, body: dict[str, Any], client: WebClient, deps: FrontDeps) -> None:
    sealed = open_value(deps.settings.slack_signing_secret.get_secret_value(), _value(body))
    if sealed is None or not isinstance(sealed.get("o"), str):
        logger.warning("refused a request button whose value was not the bot's")
        ack()
        return
    view = request_modal(
        registry=str(sealed.get("r") or ""),
        ip=sealed.get("i") if isinstance(sealed.get("i"), str) else None,
        summary=str(sealed.get("s") or ""),
        client=str(sealed.get("c") or "unknown"),
        policy=deps.settings.policy,
        private_metadata={"o": sealed["o"], **where(body)},
    )
    try:
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError as exc:
        logger.warning("views.open failed: %s", exc.response.get("error"))
    ack()


def _chosen_duration(body: dict[str, Any]) -> int | None:
    values = (body.get("state") or {}).get("values") or {}
    chosen = (values.get(APPROVAL_DURATION_BLOCK) or {}).get(APPROVAL_DURATION_ACTION) or {}
    option = chosen.get("selected_option") or {}
    try:
        return int(option["value"]) if option.get("value") else None
    except (TypeError, ValueError):
        return None


def decide(
    ack: Ack, body: dict[str, Any], request: BoltRequest, deps: FrontDeps, decision: Decision
) -> None:
    job = DecideJob(
        key=request_key(request),
        decision=decision,
        grant_id=_value(body)[:64],
        origin=origin_of(body),
        duration_seconds=_chosen_duration(body) if decision is Decision.APPROVE else None,
    )
    deps.jobs.send(job)
    ack()


def ask_deny_reason(ack: Ack, body: dict[str, Any], client: WebClient, deps: FrontDeps) -> None:
    message = body.get("message") or {}
    view = deny_modal(
        grant_id=_value(body)[:64],
        about=str(message.get("text") or ""),
        private_metadata=where(body),
    )
    try:
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError as exc:
        logger.warning("views.open failed: %s", exc.response.get("error"))
    ack()


def ask_extension(ack: Ack, body: dict[str, Any], client: WebClient, deps: FrontDeps) -> None:
    view = extend_modal(
        grant_id=_value(body)[:64], policy=deps.settings.policy, private_metadata=where(body)
    )
    try:
        client.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError as exc:
        logger.warning("views.open failed: %s", exc.response.get("error"))
    ack()


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
