"""`/acr-why <paste>`: acknowledged at once with "Diagnosing…", answered by the worker in place.
With no text it opens a modal to paste into; `help` answers with what the bot does."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from slack_bolt import Ack, App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.front import FrontDeps, request_key
from bot.jobs import DiagnoseJob, Surface
from bot.payloads import ModalContext, Place, origin_of
from bot.views.messages import DIAGNOSING, HELP
from bot.views.modals import paste_modal

logger = logging.getLogger(__name__)

COMMAND = "/acr-why"


def register(app: App, deps: FrontDeps) -> None:
    app.command(COMMAND)(partial(acr_why, deps=deps))


def acr_why(
    ack: Ack, body: dict[str, Any], client: WebClient, request: BoltRequest, deps: FrontDeps
) -> None:
    text = str(body.get("text") or "").strip()
    if text.lower() in ("help", "-h", "--help", "?"):
        ack(response_type="ephemeral", text=HELP)
        return
    if not text:
        metadata = ModalContext(
            channel=body.get("channel_id"), response_url=body.get("response_url")
        ).dump()
        try:
            client.views_open(trigger_id=body["trigger_id"], view=paste_modal(metadata))
        except SlackApiError as exc:
            logger.warning("views.open failed: %s", exc.response.get("error"))
            ack(
                response_type="ephemeral",
                text=f"Paste the error after the command: `{COMMAND} <paste>`",
            )
            return
        ack()
        return
    place = Place(channel=body.get("channel_id"), response_url=body.get("response_url"))
    origin = origin_of(body, place, surface=Surface.SLASH)
    deps.jobs.send(DiagnoseJob.of(key=request_key(request), origin=origin, text=text))
    ack(response_type="ephemeral", text=DIAGNOSING)
