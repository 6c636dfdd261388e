"""`reply`: a message that needs no diagnosis (the help, an empty mention)."""

from __future__ import annotations

from bot.jobs import ReplyJob
from bot.replies import Replier
from bot.views.messages import EMPTY_MENTION, HELP


def handle(job: ReplyJob, *, replier: Replier) -> None:
    text = HELP if job.message == "help" else EMPTY_MENTION
    replier.answer(job.key, job.origin, text=text)
