"""Modal submissions: the paste box of `/acr-why` (answered where the command was typed)."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltRequest

from bot.app import FrontDeps, request_key
from bot.jobs import DecideJob, Decision, DiagnoseJob, Origin, RequestJob, Surface
from bot.listeners.actions import metadata, origin_of
from bot.views.modals import PASTE_ACTION, PASTE_BLOCK, PASTE_CALLBACK
from bot.views.requests import (
    DENY_CALLBACK,
    DURATION_ACTION,
    DURATION_BLOCK,
    EXTEND_CALLBACK,
    IP_ACTION,
    IP_BLOCK,
    JUSTIFICATION_ACTION,
    JUSTIFICATION_BLOCK,
    REASON_ACTION,
    REASON_BLOCK,
    REQUEST_CALLBACK,
)
from services.domain.errors import InvalidText, UnsupportedIp
from services.domain.grants import validate_justification
from services.domain.ips import parse_grantable_ip


def register(app: App, deps: FrontDeps) -> None:
    app.view(PASTE_CALLBACK)(partial(paste_submitted, deps=deps))
    app.view(REQUEST_CALLBACK)(partial(request_submitted, deps=deps))
    app.view(DENY_CALLBACK)(partial(deny_submitted, deps=deps))
    app.view(EXTEND_CALLBACK)(partial(extend_submitted, deps=deps))


def paste_submitted(ack: Ack, body: dict[str, Any], request: BoltRequest, deps: FrontDeps) -> None:
    view = body.get("view") or {}
    values = (view.get("state") or {}).get("values") or {}
    text = str(((values.get(PASTE_BLOCK) or {}).get(PASTE_ACTION) or {}).get("value") or "")
    if not text.strip():
        ack(response_action="errors", errors={PASTE_BLOCK: "Paste the error you got."})
        return
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        meta = {}
    origin = Origin(
        surface=Surface.MODAL,
        team_id=str((body.get("team") or {}).get("id") or ""),
        user_id=str((body.get("user") or {}).get("id") or ""),
        channel_id=meta.get("channel_id") if isinstance(meta, dict) else None,
        response_url=meta.get("response_url") if isinstance(meta, dict) else None,
    )
    deps.jobs.send(DiagnoseJob.of(key=request_key(request), origin=origin, text=text))
    ack()


def _input(values: dict[str, Any], block: str, action: str) -> dict[str, Any]:
    found = (values.get(block) or {}).get(action) or {}
    return found if isinstance(found, dict) else {}


def request_submitted(
    ack: Ack, body: dict[str, Any], request: BoltRequest, deps: FrontDeps
) -> None:
    """Checked here as far as it can be without storage (the address, the justification), so a
    mistake is shown in the modal; everything is checked again by the service."""
    view = body.get("view") or {}
    values = (view.get("state") or {}).get("values") or {}
    meta = metadata(view)
    errors: dict[str, str] = {}
    ip: str | None = None
    if IP_BLOCK in values:
        ip = str(_input(values, IP_BLOCK, IP_ACTION).get("value") or "").strip()
        try:
            parse_grantable_ip(ip)
        except UnsupportedIp as exc:
            errors[IP_BLOCK] = exc.reason[:150]
    justification = str(
        _input(values, JUSTIFICATION_BLOCK, JUSTIFICATION_ACTION).get("value") or ""
    )
    try:
        validate_justification(justification, deps.settings.policy)
    except InvalidText as exc:
        errors[JUSTIFICATION_BLOCK] = exc.message[:150]
    option = _input(values, DURATION_BLOCK, DURATION_ACTION).get("selected_option") or {}
    if errors:
        ack(response_action="errors", errors=errors)
        return
    if not isinstance(meta.get("o"), str):
        ack(response_action="errors", errors={JUSTIFICATION_BLOCK: "This form is out of date."})
        return
    try:
        duration = int(str(option["value"])) if option.get("value") else None
    except (TypeError, ValueError):
        duration = None
    job = RequestJob(
        key=request_key(request),
        offer_id=str(meta["o"])[:64],
        origin=origin_of(body, meta),
        justification=justification[:4000],
        duration_seconds=duration,
        ip=ip,
    )
    deps.jobs.send(job)
    ack()


def deny_submitted(ack: Ack, body: dict[str, Any], request: BoltRequest, deps: FrontDeps) -> None:
    view = body.get("view") or {}
    values = (view.get("state") or {}).get("values") or {}
    meta = metadata(view)
    reason = str(_input(values, REASON_BLOCK, REASON_ACTION).get("value") or "").strip() or None
    job = DecideJob(
        key=request_key(request),
        decision=Decision.DENY,
        grant_id=str(meta.get("grant") or "")[:64],
        origin=origin_of(body, meta),
        reason=reason[:4000] if reason else None,
    )
    deps.jobs.send(job)
    ack()


def extend_submitted(ack: Ack, body: dict[str, Any], request: BoltRequest, deps: FrontDeps) -> None:
    view = body.get("view") or {}
    values = (view.get("state") or {}).get("values") or {}
    meta = metadata(view)
    option = _input(values, DURATION_BLOCK, DURATION_ACTION).get("selected_option") or {}
    try:
        duration = int(str(option["value"])) if option.get("value") else None
    except (TypeError, ValueError):
        duration = None
    job = DecideJob(
        key=request_key(request),
        decision=Decision.EXTEND_ASK,
        grant_id=str(meta.get("grant") or "")[:64],
        origin=origin_of(body, meta),
        duration_seconds=duration,
    )
    deps.jobs.send(job)
    ack()
