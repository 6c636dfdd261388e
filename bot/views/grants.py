"""A grant as people see it: the approval card (rendered from the grant's current state, so
updating it is idempotent) and the messages its requester gets in their thread."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
    StaticSelectElement,
)

from bot.ids import (
    APPROVAL_DURATION_ACTION,
    APPROVAL_DURATION_BLOCK,
    APPROVE,
    DENY,
    EXTEND_APPROVE,
    EXTEND_ASK,
    EXTEND_DENY,
    REVOKE,
    WITHDRAW,
)
from bot.views.format import clip, code, date, escape, mention
from bot.views.requests import duration_options
from services.diagnosis.verdicts import RETRY_AFTER_MINUTES
from services.domain.grants import SYSTEM_ACTOR, Grant, GrantState, format_duration
from services.domain.jobs import GrantEvent, RegistryNotice
from services.domain.policy import Policy


def who(user_id: str | None) -> str:
    if not user_id or user_id == SYSTEM_ACTOR:
        return "the bot"
    return mention(user_id)


def _status(grant: Grant) -> str:
    state = grant.state
    if state is GrantState.PENDING:
        needed = grant.required_approvals
        if grant.approvals:
            names = ", ".join(mention(a.user_id) for a in grant.approvals)
            return f":hourglass: Waiting for a second approval (approved by {names})."
        lapses = date(grant.lapses_at)
        wanted = "two approvals" if needed > 1 else "an approver"
        return f":hourglass: Waiting for {wanted} (lapses {lapses})."
    if state is GrantState.APPROVED:
        names = ", ".join(mention(a.user_id) for a in grant.approvals) or who(grant.approver)
        return f":gear: Approved by {names}: applying the rule…"
    if state is GrantState.ACTIVE and grant.expires_at is not None:
        text = f":white_check_mark: Active until {date(grant.expires_at)}."
        if grant.rule_preexisted:
            text += f" (An existing rule, {code(grant.covered_by or '')}, already admits it.)"
        if grant.rule_vanished_at is not None:
            text += " :warning: The rule was removed by hand; the address is not allowed now."
        return text
    ended = date(grant.ended_at) if grant.ended_at else ""
    if state is GrantState.DENIED:
        reason = f": {escape(grant.end_reason)}" if grant.end_reason else "."
        return f":no_entry_sign: Denied by {who(grant.approver)} at {ended}{reason}"
    if state is GrantState.WITHDRAWN:
        return f":leftwards_arrow_with_hook: Withdrawn by the requester at {ended}."
    if state is GrantState.LAPSED:
        return f":zzz: Nobody decided in time; lapsed at {ended}."
    if state is GrantState.FAILED:
        return f":x: Could not be applied: {escape(grant.failure_reason or 'unknown reason')}"
    if state is GrantState.EXPIRED:
        return f":checkered_flag: Expired at {ended}. {rule_fate(grant)}"
    if state is GrantState.REVOKED:
        reason = f": {escape(grant.end_reason)}." if grant.end_reason else "."
        return (
            f":octagonal_sign: Revoked by {who(grant.ended_by)} at {ended}{reason} "
            f"{rule_fate(grant)}"
        )
    return escape(state.value)


def rule_fate(grant: Grant) -> str:
    """What became of an ended grant's rule, as far as the bot knows now."""
    if grant.rule_removed_at is not None:
        return f"Rule removed {date(grant.rule_removed_at)}."
    if grant.rule_preexisted:
        return "The rule that admitted it was not the bot's; it stays."
    if grant.released:
        return "No rule of the bot's was left to remove."
    return "Removing the rule…"


def registry_change_message(job: RegistryNotice, *, approvers: str) -> tuple[str, list[Block]]:
    """Rules that changed without the bot's plan while it wrote, for the approvers."""
    registry = code(job.registry)
    lines = []
    if job.vanished:
        names = ", ".join(code(v) for v in job.vanished)
        cause = (
            "an earlier write of the bot's landed late with an older list and took them away"
            if job.late
            else "someone changed the rules while the bot was writing them"
        )
        lines.append(
            f":warning: Rules gone from {registry} without the bot's plan: {names}. Most likely "
            f"{cause}. If they are still needed, put them back (the bot never re-adds rules "
            "it did not write)."
        )
    if job.appeared:
        names = ", ".join(code(v) for v in job.appeared)
        lines.append(f":information_source: Rules added to {registry} meanwhile: {names}.")
    text = "\n".join(lines)
    if approvers:
        text += f"\n{approvers}"
    detail = (
        f"Read: {_rule_list(job.rules_before)}\nWritten: {_rule_list(job.rules_written)}\n"
        f"Read back: {_rule_list(job.rules_after)}"
    )
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=text)),
        ContextBlock(elements=[MarkdownTextObject(text=detail)]),
    ]
    return text, blocks


def _rule_list(values: tuple[str, ...]) -> str:
    return ", ".join(code(v) for v in values[:60]) or "(none)"


def approval_card(grant: Grant, *, approvers: str, policy: Policy) -> list[Block]:
    """The card in the approvers' channel. `approvers` is the mention text (people, a group)."""
    requested = format_duration(grant.requested_duration)
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"Access request: {grant.ip} on {grant.registry}", 150)[0]),
        SectionBlock(
            text=MarkdownTextObject(
                text=f"{mention(grant.requester.user_id)} asks to allow {code(str(grant.ip))} on "
                f"{code(grant.registry)} for {requested}. {approvers}"
            ),
            fields=[
                MarkdownTextObject(text=f"*Why*\n{clip(escape(grant.justification), 1900)[0]}"),
                MarkdownTextObject(
                    text="*Diagnosis*\n"
                    + clip(escape(grant.summary or grant.verdict or "—"), 1900)[0]
                ),
            ],
        ),
    ]
    if grant.warning:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=f":warning: {clip(escape(grant.warning), 2900)[0]}")
            )
        )
    blocks.append(SectionBlock(text=MarkdownTextObject(text=_status(grant))))
    if grant.state is GrantState.PENDING:
        options = duration_options(policy, grant.requested_duration)
        initial = next(
            (o for o in options if o.value == str(int(grant.requested_duration.total_seconds()))),
            options[-1] if options else None,
        )
        if options and initial is not None:
            blocks.append(
                SectionBlock(
                    block_id=APPROVAL_DURATION_BLOCK,
                    text=MarkdownTextObject(text="Allow for"),
                    accessory=StaticSelectElement(
                        action_id=APPROVAL_DURATION_ACTION,
                        options=options,
                        initial_option=initial,
                    ),
                )
            )
        blocks.append(
            ActionsBlock(
                block_id="approval_actions",
                elements=[
                    ButtonElement(
                        text="Approve", action_id=APPROVE, value=grant.id, style="primary"
                    ),
                    ButtonElement(text="Deny", action_id=DENY, value=grant.id, style="danger"),
                ],
            )
        )
    elif grant.state is GrantState.ACTIVE and grant.extension_requested is not None:
        asked = format_duration(grant.extension_requested)
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=f":hourglass_flowing_sand: {mention(grant.requester.user_id)} asks to "
                    f"extend it by {asked}. {approvers}"
                )
            )
        )
        blocks.append(
            ActionsBlock(
                block_id="extension_actions",
                elements=[
                    ButtonElement(
                        text=f"Extend by {asked}",
                        action_id=EXTEND_APPROVE,
                        value=grant.id,
                        style="primary",
                    ),
                    ButtonElement(text="Refuse extension", action_id=EXTEND_DENY, value=grant.id),
                    _revoke_button(grant),
                ],
            )
        )
    elif grant.state in (GrantState.APPROVED, GrantState.ACTIVE):
        blocks.append(ActionsBlock(block_id="active_actions", elements=[_revoke_button(grant)]))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Request `{grant.id}` · requested {date(grant.requested_at)}"
                )
            ]
        )
    )
    for block in blocks:
        block.validate_json()
    return blocks


def extend_button(grant: Grant) -> ButtonElement:
    return ButtonElement(text="Ask for more time", action_id=EXTEND_ASK, value=grant.id)


def _revoke_button(grant: Grant) -> ButtonElement:
    return ButtonElement(
        text="Revoke now",
        action_id=REVOKE,
        value=grant.id,
        style="danger",
        confirm=ConfirmObject(
            title="Revoke this grant?",
            text=f"The rule for {grant.ip} is removed from {grant.registry} right away.",
            confirm="Revoke",
            deny="Keep it",
        ),
    )


def approval_text(grant: Grant) -> str:
    return (
        f"Access request from {mention(grant.requester.user_id)}: {grant.ip} on "
        f"{grant.registry} ({grant.state.value})"
    )


def requester_message(
    grant: Grant, event: GrantEvent, *, actor: str | None = None, approvers: str = ""
) -> tuple[str, list[Block]] | None:
    """What the requester is told about `event`, or None when they need not be."""
    ip, registry = code(str(grant.ip)), code(grant.registry)
    buttons: list[ButtonElement] = []
    if event is GrantEvent.REQUESTED:
        to = approvers or "the approvers"
        text = f":outbox_tray: Sent your request for {ip} on {registry} to {to}."
        buttons.append(ButtonElement(text="Withdraw request", action_id=WITHDRAW, value=grant.id))
    elif event is GrantEvent.APPROVAL_ADDED:
        text = f":hourglass: {who(actor)} approved; {registry} needs a second approver."
    elif event is GrantEvent.APPROVED:
        text = f":gear: {who(actor)} approved {ip} on {registry}; applying the rule…"
    elif event is GrantEvent.APPLY_DELAYED:
        text = f":hourglass: Azure is slow to apply the rule on {registry}; the bot keeps trying."
    elif event is GrantEvent.ACTIVATED and grant.expires_at is not None:
        retry = f"retry in about {RETRY_AFTER_MINUTES} minutes"
        if grant.command:
            retry += f": {code(grant.command, 300)}"
        text = (
            f":white_check_mark: {ip} is allowed on {registry} until {date(grant.expires_at)}. "
            f"A new rule takes a few minutes to take effect; {retry}."
        )
        buttons += [extend_button(grant), _revoke_button(grant)]
    elif event is GrantEvent.EXPIRY_REMINDER and grant.expires_at is not None:
        text = (
            f":alarm_clock: Your access for {ip} on {registry} ends {date(grant.expires_at)}. "
            "Need longer? Ask for more time; an approver decides."
        )
        buttons += [extend_button(grant), _revoke_button(grant)]
    elif event is GrantEvent.EXTENSION_REQUESTED and grant.extension_requested is not None:
        text = (
            f":hourglass_flowing_sand: Asked the approvers to extend {ip} on {registry} by "
            f"{format_duration(grant.extension_requested)}."
        )
    elif event is GrantEvent.EXTENDED and grant.expires_at is not None:
        text = (
            f":white_check_mark: {who(actor)} extended {ip} on {registry}: allowed until "
            f"{date(grant.expires_at)}."
        )
    elif event is GrantEvent.EXTENSION_DENIED and grant.expires_at is not None:
        text = (
            f":no_entry_sign: {who(actor)} did not extend {ip} on {registry}; it still ends "
            f"{date(grant.expires_at)}."
        )
    elif event is GrantEvent.DENIED:
        reason = f" Their reason: {escape(grant.end_reason)}" if grant.end_reason else ""
        text = f":no_entry_sign: {who(grant.approver)} denied {ip} on {registry}.{reason}"
    elif event is GrantEvent.FAILED:
        text = (
            f":x: The rule for {ip} on {registry} could not be applied: "
            f"{escape(grant.failure_reason or 'unknown reason')} No rule was left behind."
        )
    elif event is GrantEvent.LAPSED:
        text = (
            f":zzz: Nobody decided your request for {ip} on {registry} in time; ask again if "
            "you still need it."
        )
    elif event is GrantEvent.WITHDRAWN:
        text = f":leftwards_arrow_with_hook: You withdrew your request for {ip} on {registry}."
    elif event is GrantEvent.EXPIRED:
        text = (
            f":checkered_flag: Your access for {ip} on {registry} expired; the rule is being "
            "removed."
        )
    elif event is GrantEvent.REVOKED:
        reason = f" ({escape(grant.end_reason)})" if grant.end_reason else ""
        text = (
            f":octagonal_sign: {who(grant.ended_by)} revoked {ip} on {registry}{reason}; the "
            "rule is being removed."
        )
    elif event is GrantEvent.RULE_REMOVED:
        text = f":broom: The rule for {ip} is removed from {registry}."
    elif event is GrantEvent.RULE_VANISHED:
        text = (
            f":warning: Someone removed the rule for {ip} from {registry} by hand; pulls from "
            "it will be refused."
        )
    else:
        return None
    blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=text))]
    if buttons:
        blocks.append(ActionsBlock(block_id="requester_actions", elements=list(buttons)))
    return text, blocks
