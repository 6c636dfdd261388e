"""Identifiers and sortable keys: ULIDs for grants and events, fixed-width UTC time keys."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
_TIME_KEY_FORMAT = "%Y%m%dT%H%M%S.%fZ"


def new_ulid(now: datetime) -> str:
    """A ULID: 48-bit milliseconds then 80 random bits, Crockford base32; sorts by creation time."""
    value = (int(now.timestamp() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def sibling_ulid(ulid: str, number: int) -> str:
    """A ULID with the same time as `ulid` and random bits derived from it and `number`: the
    same every time, so a redelivered request finds the grants it made for its other addresses."""
    digest = int.from_bytes(hashlib.sha256(f"{ulid}/{number}".encode()).digest()[:10], "big")
    chars = []
    for _ in range(16):
        chars.append(_CROCKFORD[digest & 31])
        digest >>= 5
    return ulid[:10] + "".join(reversed(chars))


def is_ulid(text: str) -> bool:
    return bool(_ULID.match(text))


def ulid_time(ulid: str) -> datetime:
    """The creation time encoded in a ULID (millisecond precision); ValueError if not a ULID."""
    if not is_ulid(ulid):
        raise ValueError(f"{ulid!r} is not a ULID")
    ms = 0
    for char in ulid[:10]:
        ms = (ms << 5) | _CROCKFORD.index(char)
    return datetime.fromtimestamp(ms / 1000, UTC)


def time_key(when: datetime) -> str:
    """A fixed-width, lexically sortable UTC timestamp for keys (microsecond precision)."""
    if when.tzinfo is None:
        raise ValueError("time keys need a timezone-aware datetime")
    return when.astimezone(UTC).strftime(_TIME_KEY_FORMAT)
