"""The values the bot hands Slack in a button and gets back in the click, sealed with the signing
secret so the HTTP function can trust them unread (`bot.signing`): a diagnosis card's request
button (`RequestButton`) and its egress lookup (`LookupButton`). Short field names on the wire: a
button's value holds 2,000 characters.

Apart from `bot.payloads` because they are pydantic models: only cards (the worker) and the
interactive listeners use them, and a slash command, a shortcut or an event never loads them.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.signing import open_value, seal_value

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
    """A diagnosis card's "Request temporary access": the offer it refers to, and what the
    request form shows before anything is read (the offer itself is read by the worker)."""

    offer: str = Field(alias="o", max_length=64)
    registry: str = Field(default="", alias="r")
    #: The address(es) diagnosed, as shown ("a, b"); None when the person must enter one.
    ips: str | None = Field(default=None, alias="i")
    summary: str = Field(default="", alias="s")
    client: str = Field(default="unknown", alias="c")


class LookupButton(Sealed):
    """A card's egress lookup: the offer, and the kind of resource to look up."""

    offer: str = Field(alias="o", max_length=64)
    kind: str = Field(default="", alias="k")
