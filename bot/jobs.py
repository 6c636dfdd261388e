"""The Slack layer's jobs: what the HTTP function hands the worker through the queue.

A job says where an answer goes (`Origin`: the surface, the person, the channel or thread, the
`response_url`) and carries what was asked. The paste travels compressed (`zlib`, base64): a Slack
message holds up to 40,000 characters, and a Storage queue message at most 64 KiB of base64 text.
`key` makes every effect happen once: the worker claims it in the delivery ledger right before
the effect, so a redelivered message, or an exact replay of a Slack request, does nothing twice.

Jobs are plain frozen dataclasses (`bot.plain`): the front door writes them without loading
pydantic, and the worker validates each from its annotations with pydantic (`bot.bus`).
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, Literal

from bot.plain import Plain
from services.domain.errors import InvalidDuration

if TYPE_CHECKING:
    from services.domain.failure import ReadExtent

#: Compressed paste bytes kept; a longer paste is cut (and the answer says so).
_MAX_PASTE_ZBYTES = 30_000


#: The longest duration a job may carry (a year); anything longer is refused, never converted.
MAX_DURATION = timedelta(days=366)


def duration_of(seconds: int | None) -> timedelta | None:
    """A job's chosen duration; None when none was chosen. A value no choice could have (zero,
    negative, beyond a year) is `InvalidDuration`, never an overflow in the worker."""
    if seconds is None:
        return None
    if not 0 < seconds <= MAX_DURATION.total_seconds():
        raise InvalidDuration(
            MAX_DURATION,
            (),
            f"{seconds} seconds is not an allowed duration; pick one of the choices.",
        )
    return timedelta(seconds=seconds)


class Surface(StrEnum):
    SLASH = "slash"
    MODAL = "modal"
    SHORTCUT = "shortcut"
    MENTION = "mention"
    DM = "dm"
    HOME = "home"


@dataclass(frozen=True, kw_only=True)
class Origin(Plain):
    """Where a request came from, and so where its answer goes."""

    surface: Surface
    team_id: str
    user_id: str
    channel_id: str | None = None
    #: The person's own message (a mention, a DM, the message a shortcut ran on), for reactions.
    message_ts: str | None = None
    #: The thread the answer belongs in.
    thread_ts: str | None = None
    #: Slack's reply URL (slash commands, shortcuts, modals opened from a slash command).
    response_url: str | None = None


def pack_text(text: str) -> tuple[str, int]:
    """The paste compressed for a job, and how many of its UTF-8 bytes were cut to make it
    fit."""
    data = text.encode("utf-8", "surrogatepass")
    packed = zlib.compress(data, 6)
    cut = 0
    if len(packed) > _MAX_PASTE_ZBYTES:
        # Keep the end of a long log: errors are printed last. Halve until it fits.
        keep = len(text)
        kept = data
        while len(packed) > _MAX_PASTE_ZBYTES and keep > 1:
            keep //= 2
            kept = text[-keep:].encode("utf-8", "surrogatepass")
            packed = zlib.compress(kept, 6)
        cut = len(data) - len(kept)
    return base64.b64encode(packed).decode("ascii"), cut


def unpack_text(packed: str) -> str:
    return zlib.decompress(base64.b64decode(packed)).decode("utf-8", "replace")


@dataclass(frozen=True, kw_only=True)
class DiagnoseJob(Plain):
    """Diagnose a paste and answer where it came from."""

    LIMITS: ClassVar[Mapping[str, int]] = {"file_id": 64, "file_name": 255}

    kind: Literal["diagnose"] = "diagnose"
    key: str
    origin: Origin
    #: The paste, `pack_text`-ed.
    paste: str
    #: UTF-8 bytes cut from the start of the paste to fit the queue.
    cut: int = 0
    #: A file attached to the message (a log, the snippet Slack made of a long paste): the
    #: worker reads it from Slack, so the job never carries it.
    file_id: str | None = None
    file_name: str | None = None

    @classmethod
    def of(
        cls,
        *,
        key: str,
        origin: Origin,
        text: str,
        file_id: str | None = None,
        file_name: str | None = None,
    ) -> DiagnoseJob:
        packed, cut = pack_text(text)
        return cls(
            key=key,
            origin=origin,
            paste=packed,
            cut=cut,
            file_id=file_id,
            file_name=file_name[:255] if file_name else None,
        )

    @property
    def text(self) -> str:
        return unpack_text(self.paste)

    @property
    def source(self) -> ReadExtent | None:
        """What the carried paste is a part of when it was cut to fit (its end)."""
        if not self.cut:
            return None
        from services.domain.failure import ReadExtent, ReadPart

        kept = len(self.text.encode("utf-8", "surrogatepass"))
        return ReadExtent(part=ReadPart.END, read_bytes=kept, total_bytes=kept + self.cut)


@dataclass(frozen=True, kw_only=True)
class ReplyJob(Plain):
    """Tell someone something that needs no diagnosis (a help text, a refusal)."""

    kind: Literal["reply"] = "reply"
    key: str
    origin: Origin
    #: Which message of `bot.views.messages` to send.
    message: Literal["help", "empty_mention"]


@dataclass(frozen=True, kw_only=True)
class RequestJob(Plain):
    """A request for temporary access, submitted from the modal a diagnosis card opened (its
    offer), or "Request again" on a request that ended (`again`: the old grant)."""

    LIMITS: ClassVar[Mapping[str, int]] = {
        "offer_id": 64,
        "again": 64,
        "justification": 4000,
        "ip": 64,
    }

    kind: Literal["request"] = "request"
    key: str
    offer_id: str = ""
    again: str | None = None
    origin: Origin
    justification: str
    duration_seconds: int | None = None
    #: Typed by the person when the paste hid the address; checked again on the server.
    ip: str | None = None


class Decision(StrEnum):
    APPROVE = "approve"
    DENY = "deny"
    WITHDRAW = "withdraw"
    REVOKE = "revoke"
    EXTEND_ASK = "extend_ask"
    EXTEND_APPROVE = "extend_approve"
    EXTEND_DENY = "extend_deny"


@dataclass(frozen=True, kw_only=True)
class DecideJob(Plain):
    """A click on a grant's card. Only the grant id comes from the button; who clicked comes
    from Slack's signed payload; everything else is worked out by the services."""

    LIMITS: ClassVar[Mapping[str, int]] = {"grant_id": 64, "reason": 4000}

    kind: Literal["decide"] = "decide"
    key: str
    decision: Decision
    grant_id: str
    origin: Origin
    duration_seconds: int | None = None
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class HomeJob(Plain):
    """Publish a person's App Home (what they asked for, what waits for them)."""

    kind: Literal["home"] = "home"
    key: str
    team_id: str
    user_id: str


@dataclass(frozen=True, kw_only=True)
class EgressJob(Plain):
    """Look up the outbound addresses of a resource, from a card whose paste hid the address."""

    LIMITS: ClassVar[Mapping[str, int]] = {"offer_id": 64, "resource_kind": 32, "name": 400}

    kind: Literal["egress"] = "egress"
    key: str
    offer_id: str
    origin: Origin
    #: `services.domain.egress.ResourceKind` value.
    resource_kind: str
    #: A name or resource id typed in the form, or None when picked on the card.
    name: str | None = None
    #: The index of the resource picked among the card's candidates.
    candidate: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.candidate is not None and not 0 <= self.candidate < 100:
            raise ValueError(f"candidate {self.candidate} is not one of a card's 100")
