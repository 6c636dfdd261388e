"""The egress lookup in Slack: what a card whose paste hid the address offers (pick one of the
likely resources, or name one in a form), the form, and the card of the addresses found.

Everything from Azure or a person is escaped here (`bot.views.format`). A sealed value (the offer
and its kind, `bot.signing`) rides in the button, the select's `block_id` and the form's metadata;
the resources themselves stay on the server, the select only carries an index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    SectionBlock,
    StaticSelectElement,
)

from bot.ids import LOOKUP_NAMED, LOOKUP_OPEN, LOOKUP_PICK, REQUEST_ACTION
from bot.views.format import SECTION_LIMIT, clip, code, escape
from bot.views.lookup_form import (
    PICK_BLOCK_PREFIX,
)
from services.domain.egress import ResourceKind, ResourceRef
from services.domain.failure import PastedResource

if TYPE_CHECKING:
    # Only the worker builds lookup cards; the HTTP function's form must not load the flows.
    from services.flows.egress import EgressResult


def lookup_blocks(
    *,
    sealed: str,
    kind: ResourceKind | None,
    candidates: list[str],
    pasted: PastedResource | None = None,
    named: bool = False,
) -> list[Block]:
    """Appended to a diagnosis card. When the paste named the resource and Azure has exactly
    one by that description: a button that looks it up. Otherwise the resources to pick from
    (`candidates` are ids: those the paste's description fits when `named`, else the likely ones
    of the kind), and a button opening the form for any other."""
    refs = [r for r in (ResourceRef.from_id(c) for c in candidates) if r is not None]
    what = kind.display if kind else "resource"
    elements: list[StaticSelectElement | ButtonElement] = []
    if named and len(refs) == 1:
        ref = refs[0]
        text = (
            f":satellite_antenna: The paste names {escape(ref.kind.display)} {code(ref.name)} "
            f"in {code(ref.resource_group)}: I can read its outbound addresses from Azure."
        )
        elements.append(
            ButtonElement(
                text=clip(f"Look up {ref.name}'s egress", 75)[0],
                action_id=LOOKUP_NAMED,
                value=sealed,
                style="primary",
                accessibility_label=clip(f"Look up the outbound addresses of {ref.name}", 75)[0],
            )
        )
    else:
        text = f":satellite_antenna: I can look the address up: tell me which {what} pulled, and "
        text += "I read its outbound addresses from Azure."
        if pasted is not None:
            text = _pasted_text(pasted, len(refs) if named else 0, what)
        if refs:
            elements.append(
                StaticSelectElement(
                    action_id=LOOKUP_PICK,
                    placeholder=f"Pick the {what}"[:150],
                    options=[
                        Option(value=str(i), text=clip(f"{r.name} ({r.resource_group})", 75)[0])
                        for i, r in enumerate(refs[:100])
                    ],
                )
            )
    elements.append(
        ButtonElement(
            text="Name the resource" if refs else "Look up its address in Azure",
            action_id=LOOKUP_OPEN,
            value=sealed,
            accessibility_label="Name the resource that pulled, to look up its address in Azure",
        )
    )
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=clip(text, SECTION_LIMIT)[0])),
        ActionsBlock(block_id=f"{PICK_BLOCK_PREFIX}{sealed}"[:255], elements=elements),
    ]
    for block in blocks:
        block.validate_json()
    return blocks


def _pasted_text(pasted: PastedResource, found: int, what: str) -> str:
    label = escape(pasted.label)
    if found:
        return (
            f":satellite_antenna: The paste names {label}; {found} resources fit: pick the one "
            "that pulled, and I read its outbound addresses from Azure."
        )
    return (
        f":satellite_antenna: The paste names {label}, but I found none like it in the managed "
        f"registries' subscriptions (or may not read it). Tell me which {what} pulled, and I "
        "read its outbound addresses from Azure."
    )


def egress_blocks(result: EgressResult, *, request_value: str | None) -> list[Block]:
    """The card of a lookup: the resource, each address and what it means, the notes, and the
    request button when some address may get a temporary rule."""
    resource = result.resource
    if resource is not None:
        title = f":satellite_antenna: Egress of {result.kind.display} {resource.name}"
    else:
        title = f":satellite_antenna: {result.kind.display} lookup"
    blocks: list[Block] = [HeaderBlock(text=clip(title, 150)[0])]
    if resource is not None:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=f"{code(resource.name)} in {code(resource.resource_group)}, pulling from "
                    f"{code(result.registry)}."
                )
            )
        )
    lines = []
    for check in result.checks:
        a = check.address
        state = "can be requested" if check.eligible else escape(check.note or "no rule offered")
        lines.append(f"• {code(str(a.ip))}: {escape(a.label)} — {state}")
    if result.reading is not None and result.reading.possible:
        more = ", ".join(str(a.ip) for a in result.reading.possible[:30])
        lines.append(f"• Possible later (after a scale change): {code(more, 600)}")
    if lines:
        text, _ = clip("*Addresses*\n" + "\n".join(lines), SECTION_LIMIT)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text)))
    notes = list(result.reading.notes if result.reading else ())
    if result.permanent_suggested and not any("permanent" in n for n in notes):
        notes.append(
            "A fixed egress deserves a permanent rule: ask the platform team to add it to the "
            "registry's network rules (infrastructure-as-code)."
        )
    if result.problem:
        notes.insert(0, result.problem)
    if result.no_access:
        notes.append(
            "Find the address by hand: the card's steps say how, then ask with "
            "“Enter the address and request access”."
        )
    for match in result.matches:
        notes.append(f"{match.name} in {match.resource_group}: {match.id}")
    if notes:
        text, _ = clip("\n".join(f"• {escape(n)}" for n in notes), SECTION_LIMIT)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=text)))
    if result.offer is not None and result.offer.warning:
        warning, _ = clip(escape(result.offer.warning), SECTION_LIMIT - 20)
        blocks.append(ContextBlock(elements=[MarkdownTextObject(text=f":warning: {warning}")]))
    if request_value is not None and result.offer is not None:
        count = len(result.offer.ips)
        label = "Request temporary access" + (f" for {count} addresses" if count > 1 else "")
        blocks.append(DividerBlock())
        blocks.append(
            ActionsBlock(
                block_id="egress_actions",
                elements=[
                    ButtonElement(
                        text=label,
                        action_id=REQUEST_ACTION,
                        value=request_value,
                        style="primary",
                        accessibility_label=f"{label}: the addresses looked up in Azure"[:75],
                    )
                ],
            )
        )
    for block in blocks:
        block.validate_json()
    return blocks


def egress_text(result: EgressResult) -> str:
    if result.resource is not None and result.checks:
        ips = ", ".join(str(c.address.ip) for c in result.checks)
        return clip(f"{result.kind.display} {result.resource.name} sends from {ips}", 300)[0]
    return clip(escape(result.problem or "The lookup found no address."), 300)[0]
