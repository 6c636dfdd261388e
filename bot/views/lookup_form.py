"""The egress lookup's form (the HTTP function opens it, so it loads no flow and little domain)."""

from __future__ import annotations

from slack_sdk.models.blocks import InputBlock, Option, PlainTextInputElement, StaticSelectElement
from slack_sdk.models.views import View

from bot.ids import LOOKUP_CALLBACK
from services.domain.resources import ResourceKind

KIND_BLOCK, KIND_ACTION = "egress_kind", "egress_kind_choice"
NAME_BLOCK, NAME_ACTION = "egress_name", "egress_name_text"
#: A select's `block_id` starts with this, followed by the sealed offer.
PICK_BLOCK_PREFIX = "egress_pick:"


def lookup_modal(*, kind: ResourceKind | None, private_metadata: str) -> View:
    options = [Option(value=k.value, text=k.display) for k in ResourceKind]
    initial = next((o for o in options if kind is not None and o.value == kind.value), options[0])
    view = View(
        type="modal",
        callback_id=LOOKUP_CALLBACK,
        title="Find the egress address",
        submit="Look it up",
        close="Cancel",
        private_metadata=private_metadata,
        blocks=[
            InputBlock(
                block_id=KIND_BLOCK,
                label="What pulled the image",
                element=StaticSelectElement(
                    action_id=KIND_ACTION, options=options, initial_option=initial
                ),
            ),
            InputBlock(
                block_id=NAME_BLOCK,
                label="Its name or resource ID",
                element=PlainTextInputElement(
                    action_id=NAME_ACTION, max_length=400, placeholder="shop-api"
                ),
                hint="The name as in the portal, or the full ID (/subscriptions/…).",
            ),
        ],
    )
    view.validate_json()
    return view
