"""The diagnosis card: the verdict in plain words, the facts, what to do, and (when a temporary
rule is the fix and a request can be made) the button to ask for it.

Built with `slack_sdk.models.blocks`, so Slack's limits are checked by the SDK (`validate_json`
runs on every block); everything from a paste is escaped here (`bot.views.format`).
"""

from __future__ import annotations

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

from bot.files import AttachedText
from bot.ids import REQUEST_ACTION
from bot.views.format import SECTION_LIMIT, clip, code, escape
from bot.views.messages import file_refusal
from services.diagnosis.verdicts import Diagnosis, Verdict
from services.domain.failure import ReadPart
from services.flows.diagnose import DiagnosisResult

#: The verdict as a title a developer understands at a glance.
TITLES: dict[Verdict, str] = {
    Verdict.IP_NOT_ALLOWED: ":no_entry: The registry's firewall refused this address",
    Verdict.KNOWN_GATEWAY_NOT_ALLOWED: ":office: A company gateway is not allowed yet",
    Verdict.AZURE_SERVICE_IP: ":cloud: An Azure-owned address was refused",
    Verdict.ALREADY_ALLOWED: ":white_check_mark: This address is already allowed",
    Verdict.FIREWALL_OPEN: ":unlock: The firewall is open: something else refused the pull",
    Verdict.PUBLIC_ACCESS_DISABLED: ":lock: Public access is disabled on this registry",
    Verdict.PRIVATE_IP: ":house: A private address cannot be allowed",
    Verdict.IPV6_NOT_SUPPORTED: ":six: Registry rules do not take IPv6 addresses",
    Verdict.IP_REDACTED: ":see_no_evil: The refused address was redacted",
    Verdict.NO_IP_IN_ERROR: ":mag: The error does not show the refused address",
    Verdict.NOT_A_FIREWALL_ERROR: ":wrench: Not a firewall problem",
    Verdict.REGISTRY_UNKNOWN: ":question: Not a registry this bot manages",
    Verdict.RULE_QUOTA_FULL: ":bricks: The registry has no room for another rule",
    Verdict.UNRECOGNIZED: ":thinking_face: I could not find a registry error in this",
}

#: What the bot reads, for a paste it could not read.
CAN_READ = (
    "I read pull errors from docker, containerd and kubelet events, podman, the az CLI, helm "
    "and oras, Container Apps and Container Instances deployments, and CI logs: paste the whole "
    "error, with the image name and the line that says `denied` or the HTTP status."
)

_EVIDENCE_CHARS = 280


def title(diagnosis: Diagnosis) -> str:
    return TITLES.get(diagnosis.verdict, diagnosis.verdict.value)


def steps_of(diagnosis: Diagnosis) -> list[str]:
    return [s for s in diagnosis.steps if s.strip()]


def _facts(result: DiagnosisResult) -> list[str]:
    d = result.diagnosis
    f, failure = d.facts, d.failure
    fields: list[str] = []
    if f.ip is not None:
        fields.append(f"*Address*\n{code(str(f.ip))}")
    elif failure.ips:
        fields.append(f"*Address*\n{code(', '.join(str(ip) for ip in failure.ips))}")
    registry = f.login_server or failure.registry
    if registry:
        fields.append(f"*Registry*\n{code(registry)}")
    if failure.custom_domain:
        fields.append(f"*Pulled through*\n{code(failure.custom_domain)}")
    if f.matched_rule:
        fields.append(f"*Matching rule*\n{code(f.matched_rule)}")
    if f.gateway_label:
        fields.append(
            f"*Known egress*\n{escape(f.gateway_label)} ({code(f.gateway_network or '')})"
        )
    for owner in result.owners[:2]:
        fields.append(f"*In Azure*\n{code(str(owner.ip))}: {escape(owner.label)}")
    if f.service_tags:
        fields.append(f"*Azure service tag*\n{code(f.service_tags[0])}")
    if f.quota_used is not None and f.quota_limit:
        fields.append(f"*IP rules used*\n{f.quota_used} of {f.quota_limit}")
    if failure.image:
        fields.append(f"*Image*\n{code(failure.image)}")
    if failure.client.value != "unknown":
        fields.append(f"*Client*\n{escape(failure.client.value.replace('_', ' '))}")
    return fields[:10]  # a section holds at most ten fields


def _steps_text(diagnosis: Diagnosis) -> str:
    lines = [f"{i}. {escape(step)}" for i, step in enumerate(steps_of(diagnosis), 1)]
    text, _ = clip("*What to do*\n" + "\n".join(lines), SECTION_LIMIT)
    return text


def read_note(result: DiagnosisResult, file: AttachedText | None = None) -> str | None:
    """What was read, when that is worth saying: a file (its name, and how much of it), or a
    paste too long to read whole. A file that was not read, beside a paste that was: why."""
    read = result.diagnosis.failure.read
    if file is not None and file.refusal is not None:
        return f":warning: {file_refusal(file)} I read the message instead."
    if file is not None:
        if read is None or not read.partial:
            size = f": I {read.describe()}" if read is not None else ""
            return f":page_facing_up: From {code(file.name, 80)}{size}."
        why = (
            "a log prints its errors last"
            if read.part is ReadPart.END
            else "Slack would not send its end; if the error comes later, paste its last lines"
        )
        return f":page_facing_up: From {code(file.name, 80)}: I {read.describe()} ({why})."
    if read is not None and read.partial:
        return f":scissors: The paste was long: I {read.describe()}."
    return None


#: What a card whose paste hid the address says beside its request button.
ENTER_ADDRESS = (
    "A temporary rule needs the address: enter the address the error did not show, and an "
    "approver decides."
)


def diagnosis_blocks(
    result: DiagnosisResult,
    *,
    file: AttachedText | None = None,
    request_value: str | None = None,
    needs_ip: bool = False,
) -> list[Block]:
    """The card for `result`. `file`: the attached file the paste came from (or that was
    refused); `request_value`: when given, the request button carries it (a sealed reference
    the server resolves; the address comes from the server, never from the button);
    `needs_ip`: the paste hid the address, so the button asks for it."""
    d = result.diagnosis
    summary, _ = clip(escape(d.summary), SECTION_LIMIT)
    blocks: list[Block] = [
        HeaderBlock(text=clip(title(d), 150)[0]),
        SectionBlock(text=MarkdownTextObject(text=summary)),
    ]
    facts = _facts(result)
    if facts:
        blocks.append(SectionBlock(fields=[MarkdownTextObject(text=t) for t in facts]))
    if steps_of(d):
        blocks.append(SectionBlock(text=MarkdownTextObject(text=_steps_text(d))))
    if d.grant_eligible and d.grant_warning:
        warning, _ = clip(escape(d.grant_warning), SECTION_LIMIT - 20)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=f":warning: {warning}")))
    if d.verdict is Verdict.UNRECOGNIZED:
        blocks.append(SectionBlock(text=MarkdownTextObject(text=CAN_READ)))
    context: list[str] = []
    if d.failure.evidence:
        evidence, more = clip(d.failure.evidence, _EVIDENCE_CHARS)
        note = f" (and {more} more characters)" if more else ""
        context.append(f"Read from: {code(evidence, _EVIDENCE_CHARS)}{note}")
    told = read_note(result, file)
    if told:
        context.append(told)
    for error in result.registry_errors:
        context.append(f":warning: The registry's live rules could not be read: {escape(error)}")
    if request_value is not None and needs_ip:
        # The button below asks for the address: the card says so, not that no rule is possible.
        context.append(ENTER_ADDRESS)
    elif not d.grant_eligible and d.facts.grant_refusal and d.verdict is not Verdict.UNRECOGNIZED:
        context.append(f"No temporary rule: {escape(d.facts.grant_refusal)}")
    if context:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=clip(t, 2000)[0]) for t in context[:10]])
        )
    if request_value is not None:
        label = "Enter the address and request access" if needs_ip else "Request temporary access"
        blocks.append(DividerBlock())
        blocks.append(
            ActionsBlock(
                block_id="diagnosis_actions",
                elements=[
                    ButtonElement(
                        text=label,
                        action_id=REQUEST_ACTION,
                        value=request_value,
                        style="primary",
                        accessibility_label=(
                            "Enter the refused address and request a temporary rule"
                            if needs_ip
                            else "Request a temporary rule for this address"
                        ),
                    )
                ],
            )
        )
    for block in blocks:
        block.validate_json()
    return blocks


def diagnosis_text(result: DiagnosisResult) -> str:
    """The notification text (what a phone shows) for the card."""
    return clip(f"{title(result.diagnosis)}: {escape(result.diagnosis.summary)}", 300)[0]
