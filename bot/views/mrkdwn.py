"""The one boundary between text and Slack's mrkdwn (DESIGN.md invariant 9).

Slack reads `<…>` as a mention, a channel, a special command (`<!here>`) or a link, and `&`
starts an escape; its documentation asks that exactly `&`, `<` and `>` be escaped in any text a
bot sends, and nothing else. Every text meant for Slack goes through `escape`; a value shown in a
code span goes through `code`, which also keeps it from closing the span.
"""

from __future__ import annotations

#: `&` first, so the `&` of `&lt;` is not escaped again.
_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))
#: What a code span cannot hold: its own delimiter and a line break (which ends it in Slack).
_NOT_IN_CODE = str.maketrans({"`": "'", "\n": " ", "\r": " ", "\u2028": " ", "\u2029": " "})


def escape(text: str) -> str:
    """`text` with `&`, `<` and `>` escaped as Slack documents; nothing else changes."""
    for char, entity in _ESCAPES:
        text = text.replace(char, entity)
    return text


def code(value: str) -> str:
    """`value` as an inline code span that cannot be closed from inside or carry markup."""
    inner = escape(value.translate(_NOT_IN_CODE)).strip()
    return f"`{inner}`" if inner else "` `"
