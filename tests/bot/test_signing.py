"""Button values the bot signs come back trusted; anything altered does not."""

from __future__ import annotations

import pytest

from bot.signing import open_value, seal_value


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
