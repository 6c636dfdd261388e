"""Modals: the paste box that `/acr-why` opens when it is given no text."""

from __future__ import annotations

from slack_sdk.models.blocks import InputBlock, PlainTextInputElement
from slack_sdk.models.views import View

PASTE_CALLBACK = "acr_why_paste"
PASTE_BLOCK = "paste"
PASTE_ACTION = "paste_text"


def paste_modal(private_metadata: str) -> View:
    view = View(
        type="modal",
        callback_id=PASTE_CALLBACK,
        title="Why did my pull fail?",
        submit="Diagnose",
        close="Cancel",
        private_metadata=private_metadata,
        blocks=[
            InputBlock(
                block_id=PASTE_BLOCK,
                label="Paste the error",
                hint="The whole error as printed: the image name and the line with `denied` "
                "or the HTTP status help most.",
                element=PlainTextInputElement(
                    action_id=PASTE_ACTION,
                    multiline=True,
                    max_length=3000,
                    placeholder="denied: client with IP '…' is not allowed access…",
                ),
            )
        ],
    )
    view.validate_json()
    return view
