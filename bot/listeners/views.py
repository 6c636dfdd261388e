"""Modal submissions: the paste box of `/acr-why` (answered where the command was typed)."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltRequest

from bot.app import FrontDeps, request_key
from bot.jobs import DiagnoseJob, Origin, Surface
from bot.views.modals import PASTE_ACTION, PASTE_BLOCK, PASTE_CALLBACK


def register(app: App, deps: FrontDeps) -> None:
    app.view(PASTE_CALLBACK)(partial(paste_submitted, deps=deps))


def paste_submitted(ack: Ack, body: dict[str, Any], request: BoltRequest, deps: FrontDeps) -> None:
    view = body.get("view") or {}
    values = (view.get("state") or {}).get("values") or {}
    text = str(((values.get(PASTE_BLOCK) or {}).get(PASTE_ACTION) or {}).get("value") or "")
    if not text.strip():
        ack(response_action="errors", errors={PASTE_BLOCK: "Paste the error you got."})
        return
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        meta = {}
    origin = Origin(
        surface=Surface.MODAL,
        team_id=str((body.get("team") or {}).get("id") or ""),
        user_id=str((body.get("user") or {}).get("id") or ""),
        channel_id=meta.get("channel_id") if isinstance(meta, dict) else None,
        response_url=meta.get("response_url") if isinstance(meta, dict) else None,
    )
    deps.jobs.send(DiagnoseJob.of(key=request_key(request), origin=origin, text=text))
    ack()
