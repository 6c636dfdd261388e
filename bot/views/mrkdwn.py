"""The one boundary between text and Slack's mrkdwn (docs/ARCHITECTURE.md, invariant 9).

Slack reads `<…>` as a mention, a channel, a special command (`<!here>`) or a link, and `&`
starts an escape; its documentation asks that exactly `&`, `<` and `>` be escaped in any text a
bot sends, and nothing else. Every text meant for Slack goes through `escape`; a value shown in a
code span goes through `code`, which also keeps it from closing the span.

Characters that change how text reads without showing (bidirectional overrides and isolates,
zero-width characters) are shown by name instead: a justification could otherwise read backwards
to the approver (`U+202E`) or hide a word (`U+200B`) — the Trojan Source trick, in a chat.
"""

from __future__ import annotations

#: `&` first, so the `&` of `&lt;` is not escaped again.
_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"))
#: What a code span cannot hold: its own delimiter and a line break (which ends it in Slack).
_NOT_IN_CODE = str.maketrans({"`": "'", "\n": " ", "\r": " ", "\u2028": " ", "\u2029": " "})


#: Invisible characters that reorder or hide text: bidirectional marks, embeddings, overrides and
#: isolates; zero-width spaces and joiners; the word joiner; the byte-order mark.
_INVISIBLE = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    "\u200b\u200c\u200d\u2060\u180e\ufeff"
)
_SHOW_INVISIBLE = str.maketrans({c: f"[U+{ord(c):04X}]" for c in _INVISIBLE})


def escape(text: str) -> str:
    """`text` with `&`, `<` and `>` escaped as Slack documents, and invisible characters that
    reorder or hide text shown by name (`[U+202E]`); nothing else changes."""
    for char, entity in _ESCAPES:
        text = text.replace(char, entity)
    if not _INVISIBLE.isdisjoint(text):
        text = text.translate(_SHOW_INVISIBLE)
    return text


def code(value: str) -> str:
    """`value` as an inline code span that cannot be closed from inside or carry markup."""
    inner = escape(value.translate(_NOT_IN_CODE)).strip()
    return f"`{inner}`" if inner else "` `"
