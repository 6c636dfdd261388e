"""Values the bot hands Slack and gets back in a click: signed, so the HTTP function can trust
them without a storage read (it has three seconds and reads nothing but the delivery ledger).

A value is compact JSON, base64url, a dot, and an HMAC-SHA256 over it with a key derived from the
signing secret. A value someone altered fails `open_value` and is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

_CONTEXT = b"acrbot/button-value/v1"
#: Slack's limit on a button's value.
MAX_VALUE = 2000


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), _CONTEXT, hashlib.sha256).digest()


class ValueTooLong(ValueError):
    """The sealed value would not fit in a button (`MAX_VALUE`)."""


def seal_value(secret: str, data: dict[str, Any]) -> str:
    # UTF-8 rather than \u escapes: a non-ASCII text takes two or three bytes, not six.
    raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    body = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    mac = hmac.new(_key(secret), body.encode(), hashlib.sha256).digest()[:16]
    value = f"{body}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"
    if len(value) > MAX_VALUE:
        raise ValueTooLong("a button value is limited to 2000 characters")
    return value


def open_value(secret: str, value: str) -> dict[str, Any] | None:
    """The data sealed in `value`, or None when it was not made by `seal_value` with `secret`."""
    body, sep, mac = value.partition(".")
    if not sep or not body or len(value) > MAX_VALUE:
        return None
    expected = hmac.new(_key(secret), body.encode(), hashlib.sha256).digest()[:16]
    try:
        given = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
        if not hmac.compare_digest(expected, given):
            return None
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, TypeError):
        return None
    return data if isinstance(data, dict) else None
