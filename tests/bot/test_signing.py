"""Button values the bot signs come back trusted; anything altered does not."""

from __future__ import annotations

import pytest

from bot.signing import ValueTooLong, open_value, seal_value


@pytest.mark.parametrize("data", [{"o": "01J", "i": "20.1.2.3"}, {"o": "x" * 7}, {"é": "ü"}])
def test_a_sealed_value_opens_to_what_was_sealed(data) -> None:
    assert open_value("s3cret", seal_value("s3cret", data)) == data


def test_an_altered_value_or_another_key_opens_to_nothing() -> None:
    value = seal_value("s3cret", {"o": "01J", "i": "20.1.2.3"})
    body, _, mac = value.partition(".")
    tampered = seal_value("s3cret", {"o": "01J", "i": "10.0.0.1"}).split(".")[0] + "." + mac
    for bad in (tampered, body + ".AAAA", body, "", "garbage.garbage", value + "x"):
        assert open_value("s3cret", bad) is None
    assert open_value("other", value) is None


def test_a_value_too_long_for_a_button_is_refused_as_such() -> None:
    with pytest.raises(ValueTooLong):
        seal_value("s3cret", {"a": "x" * 2000})


def test_non_ascii_text_is_sealed_as_utf8_not_escapes() -> None:
    # 700 accented letters fit (two bytes each); as \\u escapes (six each) they would not.
    data = {"j": "é" * 700}
    assert open_value("s3cret", seal_value("s3cret", data)) == data


def test_shown_text_is_shortened_to_fit_a_button_and_the_references_never() -> None:
    from bot.sealed import RequestButton, ReviewButton

    long_lines = "\n".join(f"line {n}: " + "ü" * 60 for n in range(40))
    again = RequestButton(
        again="01KJNS8W00A1B2C3D4E5F6G7H8",
        registry="contosoprod.azurecr.io",
        ips="91.38.188.165",
        summary="s" * 900,
        justification="é" * 3000,
    )
    opened = RequestButton.unseal("s3cret", again.seal("s3cret"))
    assert opened is not None
    assert (opened.again, opened.registry, opened.ips) == (again.again, again.registry, again.ips)
    assert opened.justification.startswith("éé")
    assert opened.justification.endswith("…")
    assert len(opened.justification) < 3000

    review = ReviewButton(grant="01KJNS8W00A1B2C3D4E5F6G7H8", about=long_lines, asked_seconds=60)
    shown = ReviewButton.unseal("s3cret", review.seal("s3cret"))
    assert shown is not None
    assert (shown.grant, shown.asked_seconds) == (review.grant, 60)
    # Cut at a line's end: no half a line (or half a mention) is shown.
    assert shown.about.endswith("ü…")
    assert all(line.startswith("line ") for line in shown.about.splitlines())


def test_a_value_whose_references_alone_do_not_fit_is_still_refused() -> None:
    from bot.sealed import LookupButton

    with pytest.raises(ValueTooLong):
        LookupButton(offer="o", kind="k" * 2000).seal("s3cret")
