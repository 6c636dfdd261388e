"""Short messages: acknowledgements, help, refusals. Refusals (`DomainError`) become text here and
nowhere else."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from bot.files import AttachedText, Refusal
from bot.views.format import code, date, escape, mention
from services.domain.errors import AlreadyDecided, DomainError, Unavailable

DIAGNOSING = ":hourglass_flowing_sand: Diagnosing your paste…"
HELP = (
    "Paste a failed image pull and I will tell you why the registry refused it and what to do:\n"
    "• `/acr-why <paste>` (or just `/acr-why` for a box to paste into),\n"
    "• the *Diagnose pull error* shortcut on any message with an error,\n"
    "• mention me with the paste, or send it to me in a direct message; a long log can come "
    "as a `.log` or `.txt` file or a snippet."
)
EMPTY_MENTION = (
    "Mention me together with the error you got (paste it after my name), or use the "
    "*Diagnose pull error* shortcut on the message that has it."
)
FOREIGN_WORKSPACE = "This bot only answers in the workspace it belongs to."


def refusal(exc: DomainError) -> str:
    """A refusal as the person reads it."""
    text = escape(exc.message)
    if isinstance(exc, AlreadyDecided):
        when = f" {date(exc.decided_at)}" if exc.decided_at is not None else ""
        by = f" by {mention(exc.decided_by)}" if exc.decided_by else ""
        if by or when:
            text = f"{text} It was {escape(exc.state)}{by}{when}."
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


#: What the bot reads from an attachment, for the answer to a file it will not read.
ACCEPTED_FILES = "a `.log` or `.txt` file, or a snippet"


def file_refusal(file: AttachedText) -> str:
    """Why an attached file was not read, and what to send instead."""
    name = code(file.name, 80)
    match file.refusal:
        case Refusal.NOT_TEXT:
            kind = f" ({escape(file.kind)})" if file.kind else ""
            return f"I can't read {name}{kind}: I read text only, {ACCEPTED_FILES}."
        case Refusal.BINARY:
            return f"{name} is not text, so I can't read it: send {ACCEPTED_FILES}."
        case Refusal.EMPTY:
            return f"{name} is empty: attach the log with the error in it, or paste the error."
        case Refusal.EXTERNAL:
            return (
                f"{name} is stored outside Slack, where I can't read it: upload the log itself, "
                "or paste the error."
            )
        case Refusal.NOT_FOUND:
            return (
                f"I could not find {name}: it was deleted, or it is not shared with me. Attach "
                "it again here, or paste the error."
            )
        case _:
            return (
                f"Slack did not let me read {name}: this app needs the `files:read` permission "
                "(an admin can reinstall it). Paste the error instead."
            )
