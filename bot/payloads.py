"""Reading Slack's payloads, in one place for every listener: where a click or a submission came
from (`origin_of`, `place_of`), what was chosen in a block's input (`input_value`,
`selected_value`), and the typed values the bot hands Slack and gets back — a modal's private
metadata (`ModalContext`) here, a button's sealed value (`RequestButton`, `LookupButton`) in
`bot.sealed`.

The typed values keep short field names on the wire (`o`, `ch`…): a button value holds 2,000
characters and private metadata 3,000, and a card carries several. `Place` and `ModalContext` are
plain dataclasses (`bot.plain`): a slash command writes a modal's metadata without loading
pydantic; reading one back, in a submission, validates it with pydantic.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar

from bot.jobs import Origin, Surface
from bot.plain import Plain

if TYPE_CHECKING:
    from pydantic import TypeAdapter

__all__ = [
    "ModalContext",
    "Payload",
    "Place",
    "action_value",
    "has_input",
    "input_value",
    "origin_of",
    "place_of",
    "selected_seconds",
    "selected_value",
]

Payload = Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class Place(Plain):
    """Where a clicked message is: its channel, `ts` and thread, whether it was ephemeral (a
    slash command's answer), and the `response_url` that answers there."""

    #: Field → its name on the wire.
    WIRE: ClassVar[Mapping[str, str]] = {
        "channel": "ch",
        "thread": "th",
        "ephemeral": "eph",
        "response_url": "ru",
    }

    channel: str | None = None
    ts: str | None = None
    thread: str | None = None
    ephemeral: bool = False
    response_url: str | None = None


@dataclass(frozen=True, kw_only=True)
class ModalContext(Place):
    """A modal's private metadata: where it was opened from, and what it is about (an offer,
    a grant)."""

    WIRE: ClassVar[Mapping[str, str]] = {**Place.WIRE, "offer": "o"}
    LIMITS: ClassVar[Mapping[str, int]] = {"offer": 64, "grant": 64}

    offer: str | None = None
    grant: str | None = None

    @classmethod
    def at(
        cls, place: Place, *, offer: str | None = None, grant: str | None = None
    ) -> ModalContext:
        """The metadata of a modal opened from the message at `place`, about `offer` or `grant`."""
        return cls(**dataclasses.asdict(place), offer=offer, grant=grant)

    def dump(self) -> str:
        """The metadata as Slack keeps it: short names, nothing that is None."""
        return json.dumps(
            {
                self.WIRE.get(f.name, f.name): getattr(self, f.name)
                for f in fields(self)
                if getattr(self, f.name) is not None
            }
        )

    @classmethod
    def of(cls, view: Payload) -> ModalContext:
        """The context of a submitted view (empty when missing or not the bot's)."""
        try:
            data = json.loads(str(view.get("private_metadata") or "{}"))
            if not isinstance(data, dict):
                return cls()
            named = {_FIELD_OF_WIRE.get(k, k): v for k, v in data.items()}
            # A ValidationError is a ValueError.
            context: ModalContext = _modal_context_adapter().validate_python(named)
        except ValueError:
            return cls()
        return context


_FIELD_OF_WIRE = {wire: name for name, wire in ModalContext.WIRE.items()}


@cache
def _modal_context_adapter() -> TypeAdapter[ModalContext]:
    from pydantic import TypeAdapter

    return TypeAdapter(ModalContext)


def _ids(body: Payload, key: str) -> str:
    found = body.get(key)
    return str(found.get("id") or "") if isinstance(found, Mapping) else ""


def place_of(body: Payload) -> Place:
    """Where the message a block action was clicked on is."""
    container = body.get("container") or {}
    message = body.get("message") or {}
    return Place(
        channel=container.get("channel_id") or _ids(body, "channel") or None,
        ts=container.get("message_ts") or message.get("ts"),
        thread=message.get("thread_ts") or container.get("thread_ts"),
        ephemeral=bool(container.get("is_ephemeral")),
        response_url=body.get("response_url"),
    )


def origin_of(
    body: Payload, place: Place | None = None, *, surface: Surface | None = None
) -> Origin:
    """Who acted and where the answer goes, for an interaction (a click, or a submission with
    the place its modal was opened from)."""
    place = place if place is not None else place_of(body)
    if surface is None:
        surface = Surface.SLASH if place.ephemeral else Surface.SHORTCUT
        container, view = body.get("container") or {}, body.get("view") or {}
        if container.get("type") == "view" and view.get("type") == "home":
            surface = Surface.HOME
    return Origin(
        surface=surface,
        team_id=_ids(body, "team") or str(body.get("team_id") or ""),
        user_id=_ids(body, "user") or str(body.get("user_id") or ""),
        channel_id=place.channel,
        message_ts=place.ts,
        thread_ts=place.thread or place.ts,
        response_url=place.response_url,
    )


def action_value(body: Payload) -> str:
    """The value of the clicked element."""
    actions = body.get("actions") or [{}]
    return str(actions[0].get("value") or "")


def _state(body: Payload) -> Payload:
    """A submission's view state, or a message's (a click on a card with inputs)."""
    view = body.get("view") or {}
    state = (view.get("state") if view else None) or body.get("state") or {}
    values = state.get("values") if isinstance(state, Mapping) else None
    return values if isinstance(values, Mapping) else {}


def _element(body: Payload, block: str, action: str) -> Payload:
    found = (_state(body).get(block) or {}).get(action) or {}
    return found if isinstance(found, Mapping) else {}


def has_input(body: Payload, block: str) -> bool:
    return block in _state(body)


def input_value(body: Payload, block: str, action: str) -> str:
    """What was typed in a text input ("" when nothing)."""
    return str(_element(body, block, action).get("value") or "")


def selected_value(body: Payload, block: str, action: str) -> str | None:
    """The value of the option chosen in a select (None when none)."""
    option = _element(body, block, action).get("selected_option") or {}
    value = option.get("value") if isinstance(option, Mapping) else None
    return str(value) if value else None


def selected_seconds(body: Payload, block: str, action: str) -> int | None:
    """A chosen duration, in seconds: the one parse of a duration choice (None when none was
    chosen, or the value is not a number; the worker refuses a number no choice has)."""
    value = selected_value(body, block, action)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
