"""The modals of a request: asking for temporary access (from a diagnosis card, or again from a
request that ended), approving from the App Home (the request shown first), the reason for a
denial or a revoke (optional unless the policy requires one), and asking for more time."""

from __future__ import annotations

from datetime import timedelta

from slack_sdk.models.blocks import (
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.views.format import clip, code, escape
from services.domain.grants import format_duration
from services.domain.policy import Policy

REQUEST_CALLBACK = "request_access_submit"
EXTEND_CALLBACK = "extend_submit"
DENY_CALLBACK = "deny_reason_submit"
REVOKE_CALLBACK = "revoke_reason_submit"
APPROVE_CALLBACK = "approve_review_submit"
IP_BLOCK, IP_ACTION = "ip", "ip_text"
DURATION_BLOCK, DURATION_ACTION = "duration", "duration_choice"
JUSTIFICATION_BLOCK, JUSTIFICATION_ACTION = "justification", "justification_text"
REASON_BLOCK, REASON_ACTION = "reason", "reason_text"

#: How to find the public address the registry sees, per client (for a paste that hid it).
FIND_EGRESS: dict[str, str] = {
    "kubelet": "For an AKS cluster, its egress: `az aks show -g <rg> -n <cluster> --query "
    "networkProfile.loadBalancerProfile.effectiveOutboundIPs`, then `az network public-ip show "
    "--ids <id> --query ipAddress` (or the NAT gateway's public IP).",
    "containerd": "For a Kubernetes node, the cluster's egress: on AKS `az aks show -g <rg> -n "
    "<cluster> --query networkProfile.loadBalancerProfile.effectiveOutboundIPs` (or the NAT "
    "gateway's public IP).",
    "container_apps": "For a Container App: `az containerapp show -n <app> -g <rg> --query "
    "properties.outboundIpAddresses`.",
    "app_service": "For App Service: `az webapp show -n <app> -g <rg> --query "
    "possibleOutboundIpAddresses`.",
    "container_instances": "For Container Instances the outbound address is Azure's and changes "
    "per group; with a VNet and a NAT gateway, it is the NAT gateway's public IP.",
    "ci": "A hosted CI runner gets a new address every run: print it in the job with "
    "`curl -s https://ifconfig.me` and ask right after, or use a self-hosted runner.",
}
DEFAULT_EGRESS = (
    "On the machine that pulled, run `curl -s https://ifconfig.me`: that is the public address "
    "the registry sees (not the machine's private one)."
)


def duration_options(policy: Policy, longest: timedelta | None = None) -> list[Option]:
    limit = min(policy.max_duration, longest or policy.max_duration)
    return [
        Option(value=str(int(d.total_seconds())), text=format_duration(d))
        for d in policy.allowed_durations
        if d <= limit
    ]


def request_modal(
    *,
    registry: str,
    ip: str | None,
    summary: str,
    client: str,
    policy: Policy,
    private_metadata: str,
    justification: str = "",
    again: bool = False,
) -> View:
    """Registry and address shown, not editable; the address asked for only when the paste hid
    it; a duration from the policy's choices; a required justification (`justification`: the
    old one, when asking `again`)."""
    blocks: list[object] = []
    if ip is not None:
        lead = "Ask again to allow" if again else "Allow"
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"{lead} {code(ip)} on {code(registry)} for a while, once an approver "
                    "agrees. The bot removes the rule when it expires."
                )
            )
        )
    else:
        help_text = FIND_EGRESS.get(client, DEFAULT_EGRESS)
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"Enter the address the error did not show: the public address "
                    f"{code(registry)} refused. {escape(help_text)}"
                )
            )
        )
        blocks.append(
            InputBlock(
                block_id=IP_BLOCK,
                label="Public IPv4 address that pulls",
                element=PlainTextInputElement(
                    action_id=IP_ACTION, placeholder="20.61.12.7", max_length=18
                ),
                hint="One public IPv4 address; private, IPv6 and ranges cannot be allowed.",
            )
        )
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(escape(summary), 2000)[0])]))
    options = duration_options(policy)
    initial = next(
        (o for o in options if o.value == str(int(policy.default_duration.total_seconds()))),
        options[0],
    )
    blocks.append(_duration_input("For how long", options, initial))
    blocks.append(
        InputBlock(
            block_id=JUSTIFICATION_BLOCK,
            label="Why do you need it?",
            element=PlainTextInputElement(
                action_id=JUSTIFICATION_ACTION,
                multiline=True,
                min_length=policy.justification_min_length,
                max_length=policy.justification_max_length,
                placeholder="Deploying the hotfix for INC-1234 from the build agent",
                initial_value=justification[: policy.justification_max_length] or None,
            ),
        )
    )
    return _modal(REQUEST_CALLBACK, "Request access", "Send to approvers", private_metadata, blocks)


def _modal(callback: str, title: str, submit: str, metadata: str, blocks: list[object]) -> View:
    view = View(
        type="modal",
        callback_id=callback,
        title=title,
        submit=submit,
        close="Cancel",
        private_metadata=metadata,
        blocks=blocks,  # type: ignore[arg-type]
    )
    view.validate_json()
    return view


def _duration_input(label: str, options: list[Option], initial: Option) -> InputBlock:
    return InputBlock(
        block_id=DURATION_BLOCK,
        label=label,
        element=StaticSelectElement(
            action_id=DURATION_ACTION, options=options, initial_option=initial
        ),
    )


def _reason_modal(
    *, callback: str, title: str, submit: str, about: str, label: str, required: bool, metadata: str
) -> View:
    blocks: list[object] = [
        SectionBlock(text=MarkdownTextObject(text=clip(about, 2900)[0])),
        InputBlock(
            block_id=REASON_BLOCK,
            label=label,
            optional=not required,
            element=PlainTextInputElement(action_id=REASON_ACTION, multiline=True, max_length=500),
        ),
    ]
    return _modal(callback, title, submit, metadata, blocks)


def deny_modal(*, about: str, private_metadata: str, required: bool = False) -> View:
    """`about`: the request, as its card or the App Home showed it (mrkdwn the bot wrote)."""
    return _reason_modal(
        callback=DENY_CALLBACK,
        title="Deny the request",
        submit="Deny",
        about=f"Deny this request?\n{about}",
        label="Reason (the requester is told)",
        required=required,
        metadata=private_metadata,
    )


def revoke_modal(*, about: str, private_metadata: str, required: bool = False) -> View:
    """The confirmation of an early revoke, with its reason."""
    return _reason_modal(
        callback=REVOKE_CALLBACK,
        title="Revoke access",
        submit="Revoke now",
        about=f"Remove this rule now?\n{about}",
        label="Reason (the requester and the approvers see it)",
        required=required,
        metadata=private_metadata,
    )


def approve_modal(*, about: str, asked: timedelta, policy: Policy, private_metadata: str) -> View:
    """Approving from the App Home: the request shown whole, and how long to allow it for (at
    most what was asked)."""
    options = duration_options(policy, asked)
    initial = next(
        (o for o in options if o.value == str(int(asked.total_seconds()))),
        options[-1] if options else None,
    )
    blocks: list[object] = [SectionBlock(text=MarkdownTextObject(text=clip(about, 2900)[0]))]
    if options and initial is not None:
        blocks.append(_duration_input("Allow for", options, initial))
    return _modal(APPROVE_CALLBACK, "Approve the request", "Approve", private_metadata, blocks)


def extend_modal(*, policy: Policy, private_metadata: str) -> View:
    """How much more time to ask for (an approver decides)."""
    options = duration_options(policy)
    limits = (
        f"At most {policy.max_extensions} extensions and "
        f"{format_duration(policy.max_total_duration)} in all."
    )
    blocks: list[object] = [
        _duration_input("Extend by", options, options[0]),
        ContextBlock(elements=[MarkdownTextObject(text=limits)]),
    ]
    return _modal(
        EXTEND_CALLBACK, "Ask for more time", "Ask the approvers", private_metadata, blocks
    )
