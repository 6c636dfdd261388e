"""Text for Slack, made safe at one boundary (DESIGN.md invariant 9).

Everything a builder puts into `mrkdwn` goes through `escape` (Slack's own three: `&`, `<`, `>`),
so a paste can never ping `@channel`, mention someone or forge a link; a value shown in a code
span goes through `code`, which also makes sure it cannot close the span. Mentions and dates the
bot means are made by `mention` and `date`, after escaping.
"""

from __future__ import annotations

from datetime import datetime

#: Slack's limit on a section's text; cards stay under it.
SECTION_LIMIT = 3000


def escape(text: str) -> str:
    """Slack's escaping for `&`, `<` and `>`; nothing else."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code(value: str, limit: int = 200) -> str:
    """`value` as an inline code span that nothing in it can close or break."""
    flat = " ".join(str(value).split()).replace("`", "ˋ")
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return f"`{escape(flat)}`"


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
