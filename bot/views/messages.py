"""Short messages: acknowledgements, help, refusals. Refusals (`DomainError`) become text here and
nowhere else."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from bot.views.format import escape, mention
from services.domain.errors import AlreadyDecided, DomainError, Unavailable

DIAGNOSING = ":hourglass_flowing_sand: Diagnosing your paste…"
HELP = (
    "Paste a failed image pull and I will tell you why the registry refused it and what to do:\n"
    "• `/acr-why <paste>` (or just `/acr-why` for a box to paste into),\n"
    "• the *Diagnose pull error* shortcut on any message with an error,\n"
    "• mention me with the paste, or send it to me in a direct message."
)
EMPTY_MENTION = (
    "Mention me together with the error you got (paste it after my name), or use the "
    "*Diagnose pull error* shortcut on the message that has it."
)
FOREIGN_WORKSPACE = "This bot only answers in the workspace it belongs to."


def refusal(exc: DomainError) -> str:
    """A refusal as the person reads it."""
    text = escape(exc.message)
    if isinstance(exc, AlreadyDecided) and exc.decided_by and exc.decided_by != "acrbot":
        text = f"{text} It was {escape(exc.state)} by {mention(exc.decided_by)}."
    if isinstance(exc, Unavailable):
        text = f":warning: {text}"
    return text


def failed_job(what: str, reference: str) -> list[Block]:
    return [
        SectionBlock(
            text=MarkdownTextObject(
                text=f":x: Sorry, I could not finish {escape(what)}; I tried several times."
            )
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Reference `{escape(reference)}`: an operator can look it up in the "
                    "bot's logs. Try again in a few minutes."
                )
            ]
        ),
    ]
