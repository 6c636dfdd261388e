"""What people typed reaches a card as text, never as something that reads differently."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address

from bot.views.grants import approval_card
from services.domain.grants import Grant, Requester
from services.domain.policy import Policy

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_right_to_left_override_in_a_justification_is_shown_not_obeyed() -> None:
    grant = Grant(
        id="01KDWPVNG0T45KE5MGYCSDQC4C",
        registry="contoso.azurecr.io",
        ip=IPv4Address("20.1.2.3"),
        requester=Requester(user_id="U1", team_id="T1"),
        justification="hotfix for prod\u202e (evil reversed) \u200bzero",
        requested_duration=timedelta(hours=1),
        requested_at=NOW,
        lapses_at=NOW + timedelta(hours=8),
    )
    text = json.dumps([b.to_dict() for b in approval_card(grant, approvers="", policy=Policy())])
    assert "\\u202e" not in text.lower()
    assert "\\u200b" not in text.lower()
    assert "[U+202E]" in text
    assert "[U+200B]" in text
