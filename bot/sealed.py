"""The values the bot hands Slack in a button and gets back in the click, sealed with the signing
secret so the HTTP function can trust them unread (`bot.signing`): a diagnosis card's request
button and a requester's "Request again" (`RequestButton`), the App Home's review buttons
(`ReviewButton`) and a card's egress lookup (`LookupButton`). Short field names on the wire: a
button's value holds 2,000 characters.

Apart from `bot.payloads` because they are pydantic models: only cards (the worker) and the
interactive listeners use them, and a slash command, a shortcut or an event never loads them.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.signing import ValueTooLong, open_value, seal_value

_Model = TypeVar("_Model", bound="Sealed")


class Sealed(BaseModel):
    """A value signed with the signing secret, so the HTTP function can trust it unread."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    #: Text fields that are only shown (never trusted as a reference): when the value would not
    #: fit in a button, the longest of them is shortened, at a line's end where it can be, until
    #: it fits. The references (ids) are never shortened.
    CLIPPABLE: ClassVar[tuple[str, ...]] = ()

    def seal(self, secret: str) -> str:
        value = self
        while True:
            try:
                return seal_value(secret, value.model_dump(by_alias=True, exclude_none=True))
            except ValueTooLong:
                name = max(self.CLIPPABLE, key=lambda f: len(getattr(value, f)), default=None)
                text: str = getattr(value, name) if name else ""
                if name is None or not text:
                    raise
                cut = text[: len(text) * 3 // 4]
                if "\n" in cut:
                    cut = cut.rsplit("\n", 1)[0]
                value = value.model_copy(update={name: cut.rstrip() + "…" if cut else ""})

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

    CLIPPABLE = ("justification", "summary")

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

    CLIPPABLE = ("about",)

    grant: str = Field(alias="g", max_length=64)
    about: str = Field(default="", alias="a")
    asked_seconds: int = Field(default=0, alias="d", ge=0)


class LookupButton(Sealed):
    """A card's egress lookup: the offer, and the kind of resource to look up."""

    offer: str = Field(alias="o", max_length=64)
    kind: str = Field(default="", alias="k")
