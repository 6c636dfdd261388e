"""The App Home: what a person asked for, what waits for them as an approver, and how full each
managed registry's rule list is. Published by the worker (it reads grants and registries)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.ids import REVIEW_APPROVE, REVIEW_DENY, WITHDRAW
from bot.views.format import code, date, escape, mention
from bot.views.grants import extend_button, history, revoke_button
from services.domain.grants import Grant, GrantState, extension_limit, format_duration
from services.domain.policy import Policy
from services.flows.home import RegistryLine

#: Grants listed per section; Slack allows 100 blocks in a Home tab.
PER_SECTION = 12


def _left(grant: Grant, now: datetime) -> str:
    if grant.state is GrantState.ACTIVE and grant.expires_at is not None:
        left = grant.expires_at - now
        minutes = max(0, int(left.total_seconds() // 60))
        return f"{minutes // 60} h {minutes % 60} min left, until {date(grant.expires_at)}"
    if grant.state is GrantState.PENDING:
        return f"waiting for approval, lapses {date(grant.lapses_at)}"
    if grant.state is GrantState.APPROVED:
        return "approved, being applied"
    return grant.state.value


def _line(grant: Grant, now: datetime, *, who: bool = False) -> str:
    asker = f"{mention(grant.requester.user_id)}: " if who else ""
    return f"{asker}{code(str(grant.ip))} on {code(grant.registry)} — {_left(grant, now)}" + (
        f"\n_{escape(grant.justification[:150])}_" if who else ""
    )


#: Seals a grant's review value (the request as the Home shows it) for Approve and Deny.
Review = Callable[[Grant], str]


def review_text(grant: Grant) -> str:
    """The request as the review modal shows it (the Home's line is short)."""
    why = escape(grant.justification[:900])
    lines = [
        f"{mention(grant.requester.user_id)} asks to allow {code(str(grant.ip))} on "
        f"{code(grant.registry)} for {format_duration(grant.requested_duration)}.",
        f"*Why:* {why}",
    ]
    if grant.summary:
        lines.append(f"*Diagnosis:* {escape(grant.summary[:400])}")
    if grant.warning:
        lines.append(f":warning: {escape(grant.warning[:400])}")
    lines.append(history(grant))
    return "\n".join(lines)


def _mine(grant: Grant, now: datetime, *, policy: Policy) -> list[Block]:
    buttons: list[ButtonElement] = []
    if grant.state is GrantState.PENDING:
        buttons.append(
            ButtonElement(
                text="Withdraw",
                action_id=WITHDRAW,
                value=grant.id,
                accessibility_label=f"Withdraw your request for {grant.ip}"[:75],
            )
        )
    if grant.state is GrantState.ACTIVE:
        if grant.extension_requested is None and extension_limit(grant, policy) is None:
            buttons.append(extend_button(grant))
        buttons.append(revoke_button(grant))
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=_line(grant, now)))]
    if buttons:
        blocks.append(ActionsBlock(elements=list(buttons)))
    return blocks


def _waiting(grant: Grant, now: datetime, *, review: Review) -> list[Block]:
    extra = f" · {format_duration(grant.requested_duration)}"
    value = review(grant)
    about = f"{grant.ip} on {grant.registry}"
    return [
        SectionBlock(text=MarkdownTextObject(text=_line(grant, now, who=True) + extra)),
        ActionsBlock(
            elements=[
                ButtonElement(
                    text="Approve…",
                    action_id=REVIEW_APPROVE,
                    value=value,
                    style="primary",
                    accessibility_label=f"Review and approve {about}"[:75],
                ),
                ButtonElement(
                    text="Deny…",
                    action_id=REVIEW_DENY,
                    value=value,
                    style="danger",
                    accessibility_label=f"Review and deny {about}"[:75],
                ),
            ]
        ),
    ]


def _active(grant: Grant, now: datetime) -> list[Block]:
    return [
        SectionBlock(
            text=MarkdownTextObject(text=_line(grant, now, who=True)),
            accessory=revoke_button(grant),
        )
    ]


def _section(
    title: str,
    grants: list[Grant],
    render: Callable[[Grant, datetime], list[Block]],
    now: datetime,
) -> list[Block]:
    blocks: list[Block] = [HeaderBlock(text=title)]
    for grant in grants[:PER_SECTION]:
        blocks += render(grant, now)
    if len(grants) > PER_SECTION:
        more = len(grants) - PER_SECTION
        blocks.append(
            ContextBlock(
                elements=[MarkdownTextObject(text=f"…and {more} more (`python -m bot grants`).")]
            )
        )
    return blocks


def home_view(
    *,
    mine: list[Grant],
    waiting: list[Grant],
    active: list[Grant],
    registries: list[RegistryLine],
    is_approver: bool,
    now: datetime,
    review: Review,
    policy: Policy,
) -> View:
    """Sorted as a person reads it: what waits for their decision, then their own requests,
    then what is active on their registries, then how full each registry is."""
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(
                text="Paste a failed image pull with `/acr-why`, the *Diagnose pull error* "
                "shortcut, a mention or a direct message: I explain it and, where a temporary "
                "rule is the fix, ask an approver for one."
            )
        )
    ]
    if is_approver:
        if waiting:
            blocks += _section(
                "Waiting for your decision", waiting, partial(_waiting, review=review), now
            )
        else:
            blocks.append(
                ContextBlock(elements=[MarkdownTextObject(text="No request waits for you.")])
            )
        blocks.append(DividerBlock())
    if mine:
        blocks += _section("Your requests", mine, partial(_mine, policy=policy), now)
    else:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text="You have nothing open right now.")])
        )
    if is_approver and active:
        blocks.append(DividerBlock())
        blocks += _section("Active on your registries", active, _active, now)
    if registries:
        blocks.append(DividerBlock())
        lines = []
        for reg in registries:
            if reg.error:
                reason = escape(reg.error[:80])
                lines.append(f"{code(reg.login_server)}: could not be read ({reason})")
            else:
                lines.append(f"{code(reg.login_server)}: {reg.used} of {reg.limit} IP rules used")
        blocks.append(HeaderBlock(text="Registries"))
        blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(lines)[:2900])))
    view = View(type="home", blocks=blocks[:100])
    view.validate_json()
    return view
