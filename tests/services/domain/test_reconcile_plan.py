"""The reconcile plan, pure: examples, and a property over random registries, grants and entries
that the bot never removes a rule it does not own or one that an open grant still needs."""

from __future__ import annotations

import ipaddress
from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.domain.grants import Grant, GrantState, Requester
from services.domain.ids import new_ulid
from services.domain.reconcile import EntryState, OwnedEntry, plan_reconcile, spelling_after, verify
from services.domain.registry import RegistryState

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LOGIN = "contoso.azurecr.io"
STATE = RegistryState(name="contoso", login_server=LOGIN, sku="Premium", default_action="Deny")


def grant(ip: str, state: GrantState) -> Grant:
    return Grant(
        id=new_ulid(T0),
        registry=LOGIN,
        ip=ipaddress.IPv4Address(ip),
        requester=Requester(user_id="U1", team_id="T1"),
        justification="a good reason",
        requested_duration=timedelta(hours=1),
        requested_at=T0,
        lapses_at=T0 + timedelta(hours=8),
        decided_at=T0,
        state=state,
    )


def entry(ip: str, value: str | None = None, state: EntryState = EntryState.PRESENT) -> OwnedEntry:
    return OwnedEntry(
        registry=LOGIN, ip=ipaddress.IPv4Address(ip), value=value or ip, state=state, updated_at=T0
    )


def rules(*values: str) -> list[dict[str, str]]:
    return [{"action": "Allow", "value": v} for v in values]


def test_an_owned_entry_no_grant_needs_is_removed_by_its_exact_spelling() -> None:
    plan = plan_reconcile(
        state=STATE,
        rules=rules("20.1.2.3/32", "20.1.2.3", "9.9.9.9"),
        grants=[grant("20.1.2.3", GrantState.EXPIRED)],
        entries=[entry("20.1.2.3")],
        limit=100,
        headroom=5,
    )
    assert [r["value"] for r in plan.new_rules] == ["20.1.2.3/32", "9.9.9.9"]
    assert [e.value for e in plan.removes] == ["20.1.2.3"]


def test_verify_notices_a_kept_rule_that_went_missing() -> None:
    plan = plan_reconcile(
        state=STATE,
        rules=rules("9.9.9.9"),
        grants=[grant("20.1.2.3", GrantState.APPROVED)],
        entries=[],
        limit=100,
        headroom=5,
    )
    assert verify(plan, rules("9.9.9.9", "20.1.2.3")) == []
    assert verify(plan, rules("20.1.2.3")) == ["rules that were there before are gone: 9.9.9.9"]
    assert verify(plan, rules("9.9.9.9")) == ["no entry 20.1.2.3 for 20.1.2.3"]


def test_the_registrys_own_spelling_of_a_new_entry_is_recorded() -> None:
    ip = ipaddress.IPv4Address("20.1.2.3")
    assert spelling_after("20.1.2.3", ip, rules("9.9.9.9"), rules("9.9.9.9", "20.1.2.3/32")) == (
        "20.1.2.3/32"
    )
    assert spelling_after("20.1.2.3", ip, rules(), rules("20.1.2.3")) == "20.1.2.3"


ips = st.sampled_from([f"20.1.2.{i}" for i in range(1, 7)])
foreign_values = st.sampled_from(
    ["20.1.2.1", "20.1.2.2/32", "20.1.2.0/30", "9.9.9.9", "20.1.2.5", "bogus"]
)


@settings(max_examples=300, deadline=None)
@given(
    foreign=st.lists(foreign_values, max_size=4),
    owned=st.dictionaries(ips, st.sampled_from(list(EntryState)), max_size=4),
    owned_present=st.lists(st.booleans(), min_size=4, max_size=4),
    grant_specs=st.lists(st.tuples(ips, st.sampled_from(list(GrantState))), max_size=5),
    limit=st.integers(min_value=1, max_value=20),
)
def test_the_plan_never_removes_what_is_not_the_bots_or_is_still_needed(
    foreign, owned, owned_present, grant_specs, limit
) -> None:
    # At most one open grant per address (the slot), as the store guarantees.
    seen: set[str] = set()
    grants = []
    for ip, state in grant_specs:
        if state in (GrantState.PENDING, GrantState.APPROVED, GrantState.ACTIVE):
            if ip in seen:
                continue
            seen.add(ip)
        grants.append(grant(ip, state))
    entries = [entry(ip, state=s) for ip, s in owned.items()]
    present_owned = [e.value for e, p in zip(entries, owned_present, strict=False) if p]
    before = rules(*foreign, *present_owned)
    plan = plan_reconcile(
        state=STATE, rules=before, grants=grants, entries=entries, limit=limit, headroom=0
    )
    removed = Counter(r["value"] for r in before) - Counter(r["value"] for r in plan.new_rules)
    # An entry of the bot's that the registry shows is the bot's, even if written only as
    # intent (the PATCH may have gone through before a crash): that is the design's recovery.
    owned_values = Counter(e.value for e in entries)
    needed = {str(g.ip) for g in grants if g.state in (GrantState.APPROVED, GrantState.ACTIVE)}
    for value, count in removed.items():
        # Only the bot's own entries, one occurrence each, never one a grant still needs.
        assert count <= owned_values[value]
        assert value not in needed
    # Every approved grant is either activated or failed, never forgotten.
    decided = {a.grant.id for a in plan.activations} | {f.grant.id for f in plan.failures}
    assert {g.id for g in grants if g.state is GrantState.APPROVED} <= decided
    # And an activation always has a rule that admits its address after the plan.
    after = RegistryState(
        name="contoso", login_server=LOGIN, ip_rules=tuple(_rules(plan.new_rules))
    )
    for act in plan.activations:
        assert after.rule_covering(act.grant.ip) is not None


def _rules(raw: list[dict[str, str]]):
    from services.domain.registry import IpRule

    return [IpRule.from_raw(r) for r in raw]
