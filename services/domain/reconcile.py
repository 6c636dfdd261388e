"""Planning one registry reconcile: grants are the desired state, the registry's `ipRules` the
actual state, and the bot's own entries (kept beside the grants) say which rules are its to remove.

Pure: `plan_reconcile` takes what was read under the registry's lock and returns the one new
`ipRules` list and what it means for each grant and entry; `verify` checks the list read back after
the PATCH. The flow in `services.flows.reconcile` does the I/O around them.

The rules this module keeps (DESIGN.md "Reconciling a registry", invariants 1 and 7):
- the bot removes only an entry it wrote (an `OwnedEntry`), by its exact spelling, one occurrence,
  and only when no approved or active grant on the registry is for that address;
- a rule the bot did not write is never removed; a grant it covers is `rule_preexisted`;
- a second grant for an address whose entry the bot wrote shares that entry;
- addresses are compared as networks (`1.2.3.4` is `1.2.3.4/32`, and is not `1.2.3.45`).
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict

from services.domain.errors import (
    DomainError,
    NotPremium,
    PublicAccessDisabled,
    QuotaHeadroomExhausted,
)
from services.domain.grants import Grant, GrantState
from services.domain.registry import IpRule, RawRule, RegistryState


class EntryState(StrEnum):
    #: Recorded before the PATCH that adds it; present or not, it is the bot's.
    INTENDED = "intended"
    #: Seen on the registry after the bot's write.
    PRESENT = "present"
    #: Recorded before the PATCH that removes it.
    REMOVING = "removing"


class OwnedEntry(BaseModel):
    """An `ipRules` entry the bot wrote (or is writing) on a registry, per address."""

    model_config = ConfigDict(frozen=True)

    registry: str
    ip: ipaddress.IPv4Address
    #: The entry's `value` exactly as the bot wrote it or the registry showed it after the write.
    value: str
    state: EntryState
    updated_at: AwareDatetime
    #: The grant whose approval first wrote it (for the audit trail only: ownership is the entry's).
    first_grant: str | None = None


def _value(rule: RawRule) -> str:
    return str(rule.get("value", rule.get("ipAddressOrRange")) or "").strip()


def _count(rules: Sequence[RawRule], value: str) -> int:
    return sum(1 for r in rules if _value(r) == value)


def _covering(rules: Sequence[RawRule], ip: ipaddress.IPv4Address) -> str | None:
    for rule in rules:
        if IpRule.from_raw(rule).covers(ip):
            return _value(rule)
    return None


@dataclass(frozen=True)
class Activation:
    grant: Grant
    #: The bot's entry that admits the address, or None when a foreign rule does.
    entry: str | None
    covered_by: str | None = None


@dataclass(frozen=True)
class Failure:
    grant: Grant
    error: DomainError


@dataclass
class Plan:
    """What one reconcile will do. `new_rules` is the whole list to PATCH when `changed`."""

    registry: str
    rules_before: list[RawRule]
    new_rules: list[RawRule]
    #: Entries to add (value per address), recorded as intent before the PATCH.
    adds: dict[ipaddress.IPv4Address, str] = field(default_factory=dict)
    #: Owned entries to remove (one occurrence each), recorded as intent before the PATCH.
    removes: list[OwnedEntry] = field(default_factory=list)
    #: Owned entries already absent from the registry: forgotten, with how they went.
    gone: list[OwnedEntry] = field(default_factory=list)
    #: Owned entries the registry shows and grants still use; marked present if not yet.
    kept: list[OwnedEntry] = field(default_factory=list)
    activations: list[Activation] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    #: Active grants whose address no rule admits any more (someone removed it by hand).
    vanished: list[Grant] = field(default_factory=list)
    #: Ended grants whose rule is settled once this plan is carried out.
    releases: list[Grant] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.adds or self.removes)

    @property
    def grant_ids(self) -> tuple[str, ...]:
        ids = [a.grant.id for a in self.activations] + [f.grant.id for f in self.failures]
        ids += [g.id for g in self.releases]
        return tuple(dict.fromkeys(ids))


def plan_reconcile(
    *,
    state: RegistryState,
    rules: Sequence[RawRule],
    grants: Iterable[Grant],
    entries: Iterable[OwnedEntry],
    limit: int,
    headroom: int,
) -> Plan:
    """Converge `rules` towards what `grants` need, in one list.

    `state` is the registry as read (SKU, public access); `rules` its raw `ipRules`; `grants`
    the registry's approved, active and ended-unsettled grants; `entries` the bot's entries on
    it; `limit` the IP-rule quota read before the GET; `headroom` the slots kept free.
    """
    grants = sorted(grants, key=lambda g: (g.decided_at or g.requested_at, g.id))
    owned = {e.ip: e for e in entries}
    plan = Plan(registry=state.login_server, rules_before=list(rules), new_rules=list(rules))
    needed = {g.ip for g in grants if g.state in (GrantState.APPROVED, GrantState.ACTIVE)}

    # Removals first: the slots they free are available to this plan's additions.
    for entry in owned.values():
        present = _count(rules, entry.value) > 0
        if entry.ip in needed:
            continue
        if present:
            plan.removes.append(entry)
            _remove_one(plan.new_rules, entry.value)
        else:
            plan.gone.append(entry)

    refusal: DomainError | None = None
    if not state.is_premium:
        refusal = NotPremium(state.name, state.sku)
    elif state.public_access_disabled:
        refusal = PublicAccessDisabled(state.name)

    for grant in grants:
        if grant.state is GrantState.APPROVED:
            _plan_approved(
                plan,
                grant=grant,
                owned=owned,
                refusal=refusal,
                limit=limit,
                headroom=headroom,
                name=state.name,
            )
        elif grant.state is GrantState.ACTIVE:
            _plan_active(plan, grant, owned)
        else:
            plan.releases.append(grant)
    return plan


def _remove_one(rules: list[RawRule], value: str) -> None:
    # The last occurrence: the bot appends its entries, so a same-spelled duplicate somebody
    # added later sits after it only if it came later; either way exactly one goes.
    for i in range(len(rules) - 1, -1, -1):
        if _value(rules[i]) == value:
            del rules[i]
            return


def _plan_approved(
    plan: Plan,
    *,
    grant: Grant,
    owned: dict[ipaddress.IPv4Address, OwnedEntry],
    refusal: DomainError | None,
    limit: int,
    headroom: int,
    name: str,
) -> None:
    if refusal is not None:
        plan.failures.append(Failure(grant, refusal))
        return
    entry = owned.get(grant.ip)
    if entry is not None and _count(plan.new_rules, entry.value) > 0:
        plan.activations.append(Activation(grant, entry.value))
        if entry.state is not EntryState.PRESENT:
            plan.kept.append(entry)
        return
    if grant.ip in plan.adds:  # another approved grant for the address is adding it already
        plan.activations.append(Activation(grant, plan.adds[grant.ip]))
        return
    if entry is None:
        covering = _covering(plan.new_rules, grant.ip)
        if covering is not None:
            plan.activations.append(Activation(grant, None, covered_by=covering))
            return
    value = entry.value if entry is not None else str(grant.ip)
    if len(plan.new_rules) + 1 > limit - headroom:
        plan.failures.append(
            Failure(grant, QuotaHeadroomExhausted(name, len(plan.new_rules), limit, headroom))
        )
        return
    plan.new_rules.append({"action": "Allow", "value": value})
    plan.adds[grant.ip] = value
    plan.activations.append(Activation(grant, value))


def _plan_active(plan: Plan, grant: Grant, owned: dict[ipaddress.IPv4Address, OwnedEntry]) -> None:
    entry = owned.get(grant.ip)
    if entry is not None and _count(plan.new_rules, entry.value) > 0:
        if entry.state is not EntryState.PRESENT:
            plan.kept.append(entry)
        return
    if grant.ip in plan.adds:
        return
    if entry is not None:
        plan.gone.append(entry)
    if _covering(plan.new_rules, grant.ip) is None and grant.rule_vanished_at is None:
        plan.vanished.append(grant)


def verify(plan: Plan, after: Sequence[RawRule]) -> list[str]:
    """What is wrong with the rules read back after the PATCH; empty when all is as planned.

    Every added entry is there, every removed entry has one occurrence fewer, and every rule the
    plan kept (foreign ones included) is still there.
    """
    problems: list[str] = []
    before = Counter(_value(r) for r in plan.rules_before)
    now = Counter(_value(r) for r in after)
    for ip, value in plan.adds.items():
        if now[value] == 0:
            problems.append(f"no entry {value} for {ip}")
    for entry in plan.removes:
        if now[entry.value] >= before[entry.value]:
            problems.append(f"the entry {entry.value} is still there")
    kept = Counter(_value(r) for r in plan.new_rules)
    for value in plan.adds.values():
        kept[value] -= 1
    missing = [v for v, n in kept.items() if n > 0 and now[v] < n]
    if missing:
        problems.append("rules that were there before are gone: " + ", ".join(sorted(missing)))
    return problems


def spelling_after(
    value: str, ip: ipaddress.IPv4Address, before: Sequence[RawRule], after: Sequence[RawRule]
) -> str:
    """How the registry spells the entry the bot just wrote for `ip` (it may normalise it)."""
    if any(_value(r) == value for r in after):
        return value
    old = Counter(_value(r) for r in before)
    for rule in after:
        spelled = _value(rule)
        if old[spelled] > 0:
            old[spelled] -= 1
            continue
        if IpRule.from_raw(rule).is_exactly(ip):
            return spelled
    return value
