"""A grant as people see it, rendered from its current state so that showing it again is
idempotent: the approval card in the approvers' channel, and the one message its requester gets,
both updated in place through the grant's life, each keeping who decided, for how long and why,
and offering only the buttons that still make sense. The requester is also pinged (a short reply
under their message) at the moments that need them; the approvers are mentioned on the card's
first post and in replies under it (an extension asked for, a request about to lapse)."""

from __future__ import annotations

from datetime import timedelta

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
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
    REQUEST_AGAIN,
    REVOKE,
    WITHDRAW,
)
from bot.views.format import clip, code, date, escape, mention
from bot.views.requests import duration_options
from services.diagnosis.verdicts import RETRY_AFTER_MINUTES
from services.domain.grants import (
    AGAIN_STATES,
    SYSTEM_ACTOR,
    Grant,
    GrantState,
    extension_limit,
    format_duration,
)
from services.domain.jobs import GrantEvent, RegistryNotice
from services.domain.policy import Policy


def who(user_id: str | None) -> str:
    if not user_id or user_id == SYSTEM_ACTOR:
        return "the bot"
    return mention(user_id)


def _for(grant: Grant) -> str:
    """How long an approved grant runs, and what was asked when that differs."""
    asked = grant.requested_duration
    granted = grant.approved_duration or asked
    text = f"for {format_duration(granted)}"
    return text + (f" (asked {format_duration(asked)})" if granted != asked else "")


def _approvers_of(grant: Grant) -> str:
    return ", ".join(mention(a.user_id) for a in grant.approvals) or who(grant.approver)


def _reason(text: str | None, *, before: str = ": ") -> str:
    return f"{before}{clip(escape(text), 500)[0]}" if text else ""


def rule_fate(grant: Grant) -> str:
    """What became of an ended grant's rule, as far as the bot knows now."""
    if grant.rule_removed_at is not None:
        return f"Rule removed {date(grant.rule_removed_at)}."
    if grant.rule_preexisted:
        return "The rule that admitted it was not the bot's; it stays."
    if grant.released:
        return "No rule of the bot's was left to remove."
    return "Removing the rule…"


def _status(grant: Grant) -> str:
    """The grant's state in one sentence: who made it so, for how long, why."""
    state = grant.state
    if state is GrantState.PENDING:
        if grant.approvals:
            return (
                f":hourglass: Approved by {_approvers_of(grant)}; waiting for a second approval "
                f"(lapses {date(grant.lapses_at)})."
            )
        wanted = "two approvals" if grant.required_approvals > 1 else "an approver"
        return f":hourglass: Waiting for {wanted} (lapses {date(grant.lapses_at)})."
    if state is GrantState.APPROVED:
        return f":gear: Approved by {_approvers_of(grant)} {_for(grant)}; applying the rule…"
    if state is GrantState.ACTIVE and grant.expires_at is not None:
        text = (
            f":white_check_mark: Approved by {_approvers_of(grant)} {_for(grant)}; allowed "
            f"until {date(grant.expires_at)}."
        )
        if grant.rule_preexisted:
            text += f" (An existing rule, {code(grant.covered_by or '')}, already admits it.)"
        if grant.rule_vanished_at is not None:
            text += " :warning: The rule was removed by hand; the address is not allowed now."
        return text
    ended = date(grant.ended_at) if grant.ended_at else ""
    if state is GrantState.DENIED:
        return f":no_entry_sign: Denied by {who(grant.approver)} {ended}{_reason(grant.end_reason)}"
    if state is GrantState.WITHDRAWN:
        return f":leftwards_arrow_with_hook: Withdrawn by the requester {ended}."
    if state is GrantState.LAPSED:
        why = grant.end_reason
        if why and why != "nobody decided in time":
            return f":zzz: Lapsed {ended}{_reason(why)}."
        return f":zzz: Nobody decided in time; lapsed {ended}."
    if state is GrantState.FAILED:
        return (
            f":x: Could not be applied: {escape(grant.failure_reason or 'unknown reason')} "
            "No rule was left behind."
        )
    if state is GrantState.EXPIRED:
        return f":checkered_flag: Expired {ended}, at its deadline. {rule_fate(grant)}"
    if state is GrantState.REVOKED:
        reason = _reason(grant.end_reason)
        return (
            f":octagonal_sign: Revoked by {who(grant.ended_by)} {ended}{reason}. {rule_fate(grant)}"
        )
    return escape(state.value)


def history(grant: Grant) -> str:
    """The grant's life so far, a line per step, with times in the reader's zone."""
    lines = [
        f"Requested by {mention(grant.requester.user_id)} {date(grant.requested_at)} for "
        f"{format_duration(grant.requested_duration)}"
    ]
    for approval in grant.approvals:
        lines.append(
            f"Approved by {mention(approval.user_id)} {date(approval.at)} for "
            f"{format_duration(approval.duration)}"
        )
    if grant.activated_at is not None:
        lines.append(f"Rule applied {date(grant.activated_at)}")
    for decision in grant.extensions:
        if decision.added is None:
            lines.append(
                f"{format_duration(decision.asked)} more refused by {mention(decision.by)} "
                f"{date(decision.at)}"
            )
        else:
            lines.append(
                f"Extended by {format_duration(decision.added)} by {mention(decision.by)} "
                f"{date(decision.at)}"
            )
    if grant.extension_requested is not None and grant.state is GrantState.ACTIVE:
        lines.append(f"{format_duration(grant.extension_requested)} more asked for")
    if grant.rule_removed_at is not None:
        lines.append(f"Rule removed {date(grant.rule_removed_at)}")
    return "\n".join(lines)


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


def _label(text: str) -> str:
    """A button's accessibility label: what a screen reader says (plain text, at most 75)."""
    return text if len(text) <= 75 else text[:74] + "…"


def _button(
    text: str, action_id: str, value: str, label: str, style: str | None = None
) -> ButtonElement:
    return ButtonElement(
        text=text, action_id=action_id, value=value, style=style, accessibility_label=_label(label)
    )


def _about(grant: Grant) -> str:
    return f"{grant.ip} on {grant.registry}"


def approval_card(grant: Grant, *, approvers: str, policy: Policy) -> list[Block]:
    """The card in the approvers' channel. `approvers` is the mention text (people, a group),
    shown while the request waits for them."""
    requested = format_duration(grant.requested_duration)
    waiting = f" {approvers}" if approvers and grant.state is GrantState.PENDING else ""
    blocks: list[Block] = [
        HeaderBlock(text=clip(f"Access request: {grant.ip} on {grant.registry}", 150)[0]),
        SectionBlock(
            text=MarkdownTextObject(
                text=f"{mention(grant.requester.user_id)} asks to allow {code(str(grant.ip))} on "
                f"{code(grant.registry)} for {requested}.{waiting}"
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
    about = _about(grant)
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
                    _button("Approve", APPROVE, grant.id, f"Approve {about}", "primary"),
                    _button("Deny", DENY, grant.id, f"Deny {about}", "danger"),
                ],
            )
        )
    elif grant.state is GrantState.ACTIVE and grant.extension_requested is not None:
        asked = format_duration(grant.extension_requested)
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=f":hourglass_flowing_sand: {mention(grant.requester.user_id)} asks for "
                    f"{asked} more."
                )
            )
        )
        blocks.append(
            ActionsBlock(
                block_id="extension_actions",
                elements=[
                    _button(
                        f"Extend by {asked}",
                        EXTEND_APPROVE,
                        grant.id,
                        f"Extend {about} by {asked}",
                        "primary",
                    ),
                    _button(
                        "Refuse extension", EXTEND_DENY, grant.id, f"Refuse more time for {about}"
                    ),
                    revoke_button(grant),
                ],
            )
        )
    elif grant.state in (GrantState.APPROVED, GrantState.ACTIVE):
        blocks.append(ActionsBlock(block_id="active_actions", elements=[revoke_button(grant)]))
    blocks.append(
        ContextBlock(elements=[MarkdownTextObject(text=f"{history(grant)}\nRequest `{grant.id}`")])
    )
    for block in blocks:
        block.validate_json()
    return blocks


def extend_button(grant: Grant) -> ButtonElement:
    return _button(
        "Ask for more time", EXTEND_ASK, grant.id, f"Ask for more time on {_about(grant)}"
    )


def revoke_button(grant: Grant) -> ButtonElement:
    """Opens the revoke form (its reason is the confirmation)."""
    return _button("Revoke now", REVOKE, grant.id, f"Revoke {_about(grant)} now", "danger")


def again_button(value: str, grant: Grant) -> ButtonElement:
    return _button("Request again", REQUEST_AGAIN, value, f"Request {_about(grant)} again")


def _headline(grant: Grant) -> str:
    """What happened, for the notification a phone shows (no markup that renders as ids)."""
    state = grant.state
    what = f"{grant.ip} on {grant.registry}"
    granted = format_duration(grant.approved_duration or grant.requested_duration)
    if state is GrantState.PENDING:
        return f"{what}: {format_duration(grant.requested_duration)} asked, waiting for approval"
    if state is GrantState.APPROVED:
        return f"{what}: approved for {granted}, applying the rule"
    if state is GrantState.ACTIVE:
        if grant.extension_requested is not None:
            return f"{what}: allowed; {format_duration(grant.extension_requested)} more asked for"
        return f"{what}: allowed for {granted}"
    return f"{what}: {state.value}"


def approval_text(grant: Grant) -> str:
    return f"Access request from {mention(grant.requester.user_id)}: {_headline(grant)}"


def requester_message(
    grant: Grant, *, policy: Policy, sent_to: str = "", again: str | None = None
) -> tuple[str, list[Block]]:
    """The requester's one message about `grant`, as it stands now. `sent_to`: the approvers
    (and where the card is), shown while it waits; `again`: the sealed value of "Request
    again", offered once it has ended in a way worth asking again from. "Ask for more time" is
    offered only while the policy allows more."""
    ip, registry = code(str(grant.ip)), code(grant.registry)
    state = grant.state
    lines = [f"*Your request for {ip} on {registry}*", _status(grant)]
    if state is GrantState.PENDING:
        lines.append(f"Sent to {sent_to or 'the approvers'}.")
    if state is GrantState.ACTIVE and grant.expires_at is not None:
        retry = f"A new rule takes a few minutes; retry in about {RETRY_AFTER_MINUTES} minutes"
        lines.append(retry + (f": {code(grant.command, 300)}" if grant.command else "."))
        if grant.extension_requested is not None:
            lines.append(
                f":hourglass_flowing_sand: You asked for "
                f"{format_duration(grant.extension_requested)} more; an approver decides."
            )
    buttons: list[ButtonElement] = []
    if state is GrantState.PENDING:
        buttons.append(
            _button(
                "Withdraw request", WITHDRAW, grant.id, f"Withdraw your request for {_about(grant)}"
            )
        )
    elif state is GrantState.ACTIVE:
        if grant.extension_requested is None and extension_limit(grant, policy) is None:
            buttons.append(extend_button(grant))
        buttons.append(revoke_button(grant))
    elif state is GrantState.APPROVED:
        buttons.append(revoke_button(grant))
    elif state in AGAIN_STATES and again is not None:
        buttons.append(again_button(again, grant))
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=clip("\n".join(lines), 2900)[0])),
        ContextBlock(elements=[MarkdownTextObject(text=history(grant))]),
    ]
    if buttons:
        blocks.append(ActionsBlock(block_id="requester_actions", elements=buttons))
    for block in blocks:
        block.validate_json()
    return f"Your request: {_headline(grant)}", blocks


def requester_ping(grant: Grant, event: GrantEvent, *, actor: str | None = None) -> str | None:
    """A short reply under the requester's message at the moments that need them (their phone
    buzzes; the message above says the rest), or None when the update in place is enough."""
    ip, registry = code(str(grant.ip)), code(grant.registry)
    if event is GrantEvent.ACTIVATED and grant.expires_at is not None:
        return (
            f":white_check_mark: {ip} is allowed on {registry} until {date(grant.expires_at)} "
            f"(approved by {_approvers_of(grant)} {_for(grant)}). Pull again in a few minutes."
        )
    if event is GrantEvent.DENIED:
        return f":no_entry_sign: {who(grant.approver)} denied it{_reason(grant.end_reason)}."
    if event is GrantEvent.FAILED:
        return f":x: The rule could not be applied: {escape(grant.failure_reason or 'unknown')}"
    if event is GrantEvent.LAPSED:
        return ":zzz: Nobody decided in time, so it lapsed. Request again if you still need it."
    if event is GrantEvent.EXTENDED and grant.expires_at is not None:
        return (
            f":white_check_mark: {who(actor)} extended it: allowed until {date(grant.expires_at)}."
        )
    if event is GrantEvent.EXTENSION_DENIED and grant.expires_at is not None:
        return (
            f":no_entry_sign: {who(actor)} did not extend it; it still ends "
            f"{date(grant.expires_at)}."
        )
    if event is GrantEvent.EXPIRY_REMINDER and grant.expires_at is not None:
        return (
            f":alarm_clock: Your access ends {date(grant.expires_at)}. Need longer? Ask for more "
            "time on the message above; an approver decides."
        )
    if event is GrantEvent.REVOKED and grant.ended_by != grant.requester.user_id:
        return f":octagonal_sign: {who(grant.ended_by)} revoked it{_reason(grant.end_reason)}."
    if event is GrantEvent.RULE_VANISHED:
        return (
            f":warning: Someone removed the rule for {ip} from {registry} by hand; pulls from it "
            "will be refused. The approvers are told."
        )
    return None


def extension_asked(grant: Grant, *, approvers: str) -> str:
    """The reply under the approval card that asks its approvers about more time."""
    asked = format_duration(grant.extension_requested or timedelta(0))
    ends = date(grant.expires_at) if grant.expires_at else "soon"
    to = f"{approvers}: " if approvers else ""
    return (
        f":hourglass_flowing_sand: {to}{mention(grant.requester.user_id)} asks for {asked} more "
        f"on {code(str(grant.ip))} ({code(grant.registry)}); it ends {ends} unless extended. "
        "Decide on the card above."
    )


def lapse_reminder(grant: Grant, *, approvers: str) -> str:
    to = f"{approvers} " if approvers else ""
    return f":alarm_clock: {to}this request lapses {date(grant.lapses_at)} unless someone decides."


def rule_vanished(grant: Grant) -> str:
    return (
        f":warning: The rule for {code(str(grant.ip))} on {code(grant.registry)} was removed by "
        f"hand while {mention(grant.requester.user_id)}'s grant is active; the bot has not put "
        "it back."
    )
