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


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_escape_round_trips_and_leaves_no_angle_bracket(text: str) -> None:
    escaped = escape(text)
    assert "<" not in escaped
    assert ">" not in escaped
    assert html.unescape(escaped) == text


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_code_is_one_closed_span(text: str) -> None:
    span = code(text)
    assert span.startswith("`")
    assert span.endswith("`")
    assert span.count("`") == 2
    assert "\n" not in span
    assert "<" not in span
