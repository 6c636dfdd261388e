"""Reading Slack's payloads, in one place for every listener: where a click or a submission came
from (`origin_of`, `place_of`), what was chosen in a block's input (`input_value`,
`selected_value`), and the typed values the bot hands Slack and gets back — a button's sealed
value (`RequestButton`, `LookupButton`) and a modal's private metadata (`ModalContext`).

The typed values keep short field names on the wire (`o`, `ch`…): a button value holds 2,000
characters and private metadata 3,000, and a card carries several.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.jobs import Origin, Surface
from bot.signing import open_value, seal_value

Payload = Mapping[str, Any]
_Model = TypeVar("_Model", bound="Sealed")


class Sealed(BaseModel):
    """A value signed with the signing secret, so the HTTP function can trust it unread."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    def seal(self, secret: str) -> str:
        return seal_value(secret, self.model_dump(by_alias=True, exclude_none=True))

    @classmethod
    def unseal(cls: type[_Model], secret: str, value: str) -> _Model | None:
        """The value, or None when it was not sealed by the bot with `secret` (or is damaged)."""
        data = open_value(secret, value)
        if data is None:
            return None
        try:
            return cls.model_validate(data)
        except ValidationError:
            return None


class RequestButton(Sealed):
    """A diagnosis card's "Request temporary access" (the offer it refers to), or a requester's
    "Request again" (the grant that ended), and what the request form shows before anything is
    read (the offer or the old grant is read by the worker)."""

    offer: str = Field(default="", alias="o", max_length=64)
    again: str | None = Field(default=None, alias="g", max_length=64)
    #: The old request's justification, to start the form from.
    justification: str = Field(default="", alias="j")
    registry: str = Field(default="", alias="r")
    #: The address(es) diagnosed, as shown ("a, b"); None when the person must enter one.
    ips: str | None = Field(default=None, alias="i")
    summary: str = Field(default="", alias="s")
    client: str = Field(default="unknown", alias="c")


class ReviewButton(Sealed):
    """Approve or Deny on the App Home: the grant, the request as the Home drew it (for the
    modal that shows it before deciding) and the duration asked for."""

    grant: str = Field(alias="g", max_length=64)
    about: str = Field(default="", alias="a", max_length=1800)
    asked_seconds: int = Field(default=0, alias="d", ge=0)


class LookupButton(Sealed):
    """A card's egress lookup: the offer, and the kind of resource to look up."""

    offer: str = Field(alias="o", max_length=64)
    kind: str = Field(default="", alias="k")


class Place(BaseModel):
    """Where a clicked message is: its channel, `ts` and thread, whether it was ephemeral (a
    slash command's answer), and the `response_url` that answers there."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    channel: str | None = Field(default=None, alias="ch")
    ts: str | None = None
    thread: str | None = Field(default=None, alias="th")
    ephemeral: bool = Field(default=False, alias="eph")
    response_url: str | None = Field(default=None, alias="ru")


class ModalContext(Place):
    """A modal's private metadata: where it was opened from, and what it is about (an offer,
    a grant)."""

    offer: str | None = Field(default=None, alias="o", max_length=64)
    grant: str | None = Field(default=None, max_length=64)

    def dump(self) -> str:
        return json.dumps(self.model_dump(by_alias=True, exclude_none=True))

    @classmethod
    def of(cls, view: Payload) -> ModalContext:
        """The context of a submitted view (empty when missing or not the bot's)."""
        try:
            return cls.model_validate(json.loads(str(view.get("private_metadata") or "{}")))
        except (ValueError, ValidationError):
            return cls()


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
