"""The patterns' own promises: every rule's gate word is in every match of its rule, so skipping
a rule whose gate is absent never loses a match."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.diagnosis import _patterns as p

RULES = [*p.STATUS_RULES, *p.FIREWALL_RULES, *p.NOT_FIREWALL_RULES]


@pytest.mark.parametrize("rule", RULES, ids=[f"{r.gate}:{r.pattern.pattern[:30]}" for r in RULES])
def test_gate_is_in_every_match(rule: p.Rule) -> None:
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.from_regex(rule.pattern, fullmatch=True))
    def check(text: str) -> None:
        match = rule.pattern.fullmatch(text)
        if match is not None:  # look-arounds can make a generated string miss
            assert rule.gate in match.group(0)

    check()


def test_gates_have_no_spaces() -> None:
    # The parser looks for gates in the glued view, which drops the break at a hard wrap.
    assert all(" " not in rule.gate and rule.gate == rule.gate.lower() for rule in RULES)
