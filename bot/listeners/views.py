"""Modal submissions: the paste box of `/acr-why` (answered where the command was typed), the
request form, and the reasons for a denial and the length of an extension."""

from __future__ import annotations

from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltRequest

from bot.front import FrontDeps, request_key
from bot.jobs import DecideJob, Decision, DiagnoseJob, RequestJob, Surface
from bot.payloads import (
    ModalContext,
    has_input,
    input_value,
    origin_of,
    selected_seconds,
)
from bot.views.modals import PASTE_ACTION, PASTE_BLOCK, PASTE_CALLBACK
from bot.views.requests import (
    APPROVE_CALLBACK,
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
    REVOKE_CALLBACK,
)
from services.domain.errors import InvalidText, UnsupportedIp
from services.domain.grants import validate_justification, validate_reason
from services.domain.ips import parse_grantable_ip


def register(app: App, deps: FrontDeps) -> None:
    app.view(PASTE_CALLBACK)(partial(paste_submitted, deps=deps))
    app.view(REQUEST_CALLBACK)(partial(request_submitted, deps=deps))
    app.view(DENY_CALLBACK)(partial(reason_submitted, deps=deps, decision=Decision.DENY))
    app.view(REVOKE_CALLBACK)(partial(reason_submitted, deps=deps, decision=Decision.REVOKE))
    app.view(APPROVE_CALLBACK)(partial(approve_submitted, deps=deps))
    app.view(EXTEND_CALLBACK)(partial(extend_submitted, deps=deps))


def _context(body: dict[str, Any]) -> ModalContext:
    return ModalContext.of(body.get("view") or {})


def paste_submitted(ack: Ack, body: dict[str, Any], request: BoltRequest, deps: FrontDeps) -> None:
    text = input_value(body, PASTE_BLOCK, PASTE_ACTION)
    if not text.strip():
        ack(response_action="errors", errors={PASTE_BLOCK: "Paste the error you got."})
        return
    origin = origin_of(body, _context(body), surface=Surface.MODAL)
    deps.jobs.send(DiagnoseJob.of(key=request_key(request), origin=origin, text=text))
    ack()


def request_submitted(
    ack: Ack, body: dict[str, Any], request: BoltRequest, deps: FrontDeps
) -> None:
    """Checked here as far as it can be without storage (the address, the justification), so a
    mistake is shown in the modal; everything is checked again by the service."""
    context = _context(body)
    errors: dict[str, str] = {}
    ip: str | None = None
    if has_input(body, IP_BLOCK):
        ip = input_value(body, IP_BLOCK, IP_ACTION).strip()
        try:
            parse_grantable_ip(ip)
        except UnsupportedIp as exc:
            errors[IP_BLOCK] = exc.reason[:150]
    justification = input_value(body, JUSTIFICATION_BLOCK, JUSTIFICATION_ACTION)
    try:
        validate_justification(justification, deps.settings.policy)
    except InvalidText as exc:
        errors[JUSTIFICATION_BLOCK] = exc.message[:150]
    if errors:
        ack(response_action="errors", errors=errors)
        return
    if context.offer is None and context.grant is None:
        ack(response_action="errors", errors={JUSTIFICATION_BLOCK: "This form is out of date."})
        return
    job = RequestJob(
        key=request_key(request),
        offer_id=context.offer or "",
        again=context.grant if context.offer is None else None,
        origin=origin_of(body, context),
        justification=justification[:4000],
        duration_seconds=selected_seconds(body, DURATION_BLOCK, DURATION_ACTION),
        ip=ip,
    )
    deps.jobs.send(job)
    ack()


def reason_submitted(
    ack: Ack, body: dict[str, Any], request: BoltRequest, deps: FrontDeps, decision: Decision
) -> None:
    """A denial or an early revoke, with its reason (which the policy may require)."""
    reason = input_value(body, REASON_BLOCK, REASON_ACTION).strip() or None
    policy = deps.settings.policy
    required = (
        policy.deny_reason_required if decision is Decision.DENY else policy.revoke_reason_required
    )
    try:
        validate_reason(reason, policy, required=required)
    except InvalidText as exc:
        ack(response_action="errors", errors={REASON_BLOCK: exc.message[:150]})
        return
    _decide(deps, request, body, decision, reason=reason[:4000] if reason else None)
    ack()


def approve_submitted(
    ack: Ack, body: dict[str, Any], request: BoltRequest, deps: FrontDeps
) -> None:
    """Approve from the App Home, for the duration chosen in the modal."""
    seconds = selected_seconds(body, DURATION_BLOCK, DURATION_ACTION)
    _decide(deps, request, body, Decision.APPROVE, duration_seconds=seconds)
    ack()


def extend_submitted(ack: Ack, body: dict[str, Any], request: BoltRequest, deps: FrontDeps) -> None:
    seconds = selected_seconds(body, DURATION_BLOCK, DURATION_ACTION)
    _decide(deps, request, body, Decision.EXTEND_ASK, duration_seconds=seconds)
    ack()


def _decide(
    deps: FrontDeps,
    request: BoltRequest,
    body: dict[str, Any],
    decision: Decision,
    *,
    reason: str | None = None,
    duration_seconds: int | None = None,
) -> None:
    """The decision a modal about a grant submits, as one job (the grant from its metadata)."""
    context = _context(body)
    job = DecideJob(
        key=request_key(request),
        decision=decision,
        grant_id=context.grant or "",
        origin=origin_of(body, context),
        reason=reason,
        duration_seconds=duration_seconds,
    )
    deps.jobs.send(job)
