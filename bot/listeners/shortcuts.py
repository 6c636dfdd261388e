"""The message shortcut "Diagnose pull error": the paste is that message (its text, code blocks
and attachments); the answer goes in its thread."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltRequest

from bot.front import FrontDeps, request_key
from bot.jobs import DiagnoseJob, Surface
from bot.payloads import Place, origin_of

CALLBACK_ID = "diagnose_pull_error"


def register(app: App, deps: FrontDeps) -> None:
    app.shortcut(CALLBACK_ID)(partial(diagnose_message, deps=deps))


def message_text(message: Mapping[str, Any]) -> str:
    """Everything a message says: its text (code blocks included) and its attachments'."""
    parts = [str(message.get("text") or "")]
    for attachment in message.get("attachments") or []:
        if isinstance(attachment, Mapping):
            for field in ("pretext", "title", "text", "fallback"):
                value = attachment.get(field)
                if isinstance(value, str) and value and value not in parts:
                    parts.append(value)
    return "\n".join(p for p in parts if p)


def diagnose_message(ack: Ack, body: dict[str, Any], request: BoltRequest, deps: FrontDeps) -> None:
    message = body.get("message") or {}
    place = Place(
        channel=(body.get("channel") or {}).get("id"),
        ts=message.get("ts"),
        thread=message.get("thread_ts"),
        response_url=body.get("response_url"),
    )
    origin = origin_of(body, place, surface=Surface.SHORTCUT)
    deps.jobs.send(
        DiagnoseJob.of(key=request_key(request), origin=origin, text=message_text(message))
    )
    ack()
