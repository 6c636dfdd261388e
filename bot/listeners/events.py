"""Events: a mention with a paste (answered in its thread), a direct message (answered there);
either may bring a file (a log, the snippet Slack made of a long paste), which the worker reads.

Events are the one thing Slack retries (`X-Slack-Retry-Num`): the delivery ledger recognises an
event id seen before, so a retry is acknowledged without a second job. Messages from bots,
this one included, and edits are ignored.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any, Literal

from slack_bolt import App

from bot.files import looks_like_text
from bot.front import FrontDeps
from bot.jobs import DiagnoseJob, HomeJob, ReplyJob, Surface
from bot.payloads import Place, origin_of

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
#: Message subtypes that are a person saying something new.
_PERSON_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})


def register(app: App, deps: FrontDeps) -> None:
    app.event("app_mention")(partial(on_mention, deps=deps))
    app.event("message")(partial(on_message, deps=deps))
    app.event("app_home_opened")(partial(on_home_opened, deps=deps))


def _claimed(deps: FrontDeps, body: dict[str, Any]) -> str | None:
    """The job key for a new event, or None for one already handled (a retry)."""
    key = f"event:{body.get('event_id')}"
    return key if deps.ledger.claim(key) else None


def _send(deps: FrontDeps, key: str, job: DiagnoseJob | ReplyJob) -> None:
    try:
        deps.jobs.send(job)
    except Exception:
        # Let Slack retry the event: forget the claim so the retry is not taken for a repeat.
        deps.ledger.release(key)
        raise


def _diagnose_message(
    event: dict[str, Any],
    body: dict[str, Any],
    deps: FrontDeps,
    *,
    surface: Surface,
    text: str,
    thread_ts: str | None,
    if_empty: Literal["help", "empty_mention"],
) -> None:
    """A person's message with a paste: one job for it, once per event id."""
    if event.get("bot_id") or event.get("subtype") not in _PERSON_SUBTYPES:
        return
    key = _claimed(deps, body)
    if key is None:
        return
    place = Place(channel=event.get("channel"), ts=event.get("ts"), thread=thread_ts)
    origin = origin_of({**body, "user_id": event.get("user")}, place, surface=surface)
    if thread_ts is None:
        # A direct message is answered in the conversation, not in a thread under it.
        origin = origin.model_copy(update={"thread_ts": None})
    file_id, file_name = _attached(event)
    job: DiagnoseJob | ReplyJob = (
        DiagnoseJob.of(key=key, origin=origin, text=text, file_id=file_id, file_name=file_name)
        if text or file_id
        else ReplyJob(key=key, origin=origin, message=if_empty)
    )
    _send(deps, key, job)


def _attached(event: dict[str, Any]) -> tuple[str | None, str | None]:
    """The file a message brings to read: its first text file, else its first file (the worker
    explains why it cannot read that one). The worker asks Slack for it: the event's copy may
    be a stub (`file_access: check_file_info`)."""
    files = [f for f in event.get("files") or () if isinstance(f, dict) and f.get("id")]
    if not files:
        return None, None
    chosen = next((f for f in files if looks_like_text(f)), files[0])
    return str(chosen["id"])[:64], str(chosen.get("name") or chosen.get("title") or "") or None


def on_mention(event: dict[str, Any], body: dict[str, Any], deps: FrontDeps) -> None:
    _diagnose_message(
        event,
        body,
        deps,
        surface=Surface.MENTION,
        text=_MENTION.sub(" ", str(event.get("text") or "")).strip(),
        thread_ts=event.get("thread_ts") or event.get("ts"),
        if_empty="empty_mention",
    )


def on_message(event: dict[str, Any], body: dict[str, Any], deps: FrontDeps) -> None:
    if event.get("channel_type") != "im":
        return  # channel messages reach the bot only as mentions
    _diagnose_message(
        event,
        body,
        deps,
        surface=Surface.DM,
        text=str(event.get("text") or "").strip(),
        thread_ts=event.get("thread_ts"),
        if_empty="help",
    )


def on_home_opened(event: dict[str, Any], body: dict[str, Any], deps: FrontDeps) -> None:
    """The App Home is published by the worker (it reads grants and registries)."""
    if event.get("tab") != "home":
        return
    key = _claimed(deps, body)
    if key is None:
        return
    job = HomeJob(key=key, team_id=str(body.get("team_id") or ""), user_id=str(event.get("user")))
    try:
        deps.jobs.send(job)
    except Exception:
        deps.ledger.release(key)
        raise
