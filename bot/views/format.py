"""Text for Slack in the builders: the one escaping boundary (`bot.views.mrkdwn`: `escape` for
every text, `code` for a value in a code span) plus the markup the bot means — mentions and dates
— made from ids and times, never from a paste; and clipping to Slack's limits.
"""

from __future__ import annotations

from datetime import datetime

from bot.views.mrkdwn import code as _code
from bot.views.mrkdwn import escape

__all__ = ["SECTION_LIMIT", "channel", "clip", "code", "date", "escape", "mention"]

#: Slack's limit on a section's text; cards stay under it.
SECTION_LIMIT = 3000


def code(value: str, limit: int = 200) -> str:
    """`value` as an inline code span (`mrkdwn.code`), shortened to `limit` characters."""
    flat = " ".join(str(value).split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return _code(flat)


def clip(text: str, limit: int) -> tuple[str, int]:
    """`text` cut to `limit` characters, and how many were cut."""
    if len(text) <= limit:
        return text, 0
    return text[: limit - 1] + "…", len(text) - limit + 1


def mention(user_id: str) -> str:
    """A mention the bot means (ids come from Slack's payloads, never from a paste)."""
    safe = "".join(c for c in user_id if c.isalnum())
    return f"<@{safe}>"


def channel(channel_id: str) -> str:
    safe = "".join(c for c in channel_id if c.isalnum())
    return f"<#{safe}>"


def date(when: datetime, fallback_format: str = "%Y-%m-%d %H:%M UTC") -> str:
    """A time each reader sees in their own time zone (`<!date^…>`), with a UTC fallback."""
    fallback = escape(when.strftime(fallback_format))
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"
