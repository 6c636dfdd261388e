"""The mrkdwn boundary: exactly `&`, `<` and `>` are escaped, and a code span cannot be closed."""

from __future__ import annotations

import html

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.views.mrkdwn import code, escape


def test_escape_turns_slack_control_sequences_into_text() -> None:
    assert escape("<!channel> <@U123> <#C1|general> <http://evil|ok>") == (
        "&lt;!channel&gt; &lt;@U123&gt; &lt;#C1|general&gt; &lt;http://evil|ok&gt;"
    )


def test_escape_escapes_an_already_escaped_text_again() -> None:
    # Text that arrived escaped is shown as it arrived, never turned back into markup.
    assert escape("&lt;!here&gt; &amp;") == "&amp;lt;!here&amp;gt; &amp;amp;"


def test_escape_leaves_everything_else_alone() -> None:
    text = "`code` *bold* _it_ ~x~ | 'quote' \"q\" é 日本 \n next"
    assert escape(text) == text


def test_code_cannot_be_closed_or_broken_from_inside() -> None:
    assert code("web`<!here>\nx") == "`web'&lt;!here&gt; x`"
    assert code("") == "` `"


def test_characters_that_reorder_or_hide_text_are_shown_by_name() -> None:
    # An approval card showed them verbatim: "urgent fix\u202e:tnemeganam" reads backwards.
    assert escape("urgent fix\u202egnidaer") == "urgent fix[U+202E]gnidaer"
    assert escape("pro\u200bduction\ufeff") == "pro[U+200B]duction[U+FEFF]"
    assert code("a\u2066b") == "`a[U+2066]b`"


_INVISIBLE = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_INVISIBLE += "\u200b\u200c\u200d\u2060\u180e\ufeff"


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_escape_round_trips_and_leaves_no_angle_bracket(text: str) -> None:
    escaped = escape(text)
    assert "<" not in escaped
    assert ">" not in escaped
    assert not set(escaped) & set(_INVISIBLE)
    shown = html.unescape(escaped)
    for char in _INVISIBLE:
        shown = shown.replace(f"[U+{ord(char):04X}]", char)
    assert shown == text


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_code_is_one_closed_span(text: str) -> None:
    span = code(text)
    assert span.startswith("`")
    assert span.endswith("`")
    assert span.count("`") == 2
    assert "\n" not in span
    assert "<" not in span
