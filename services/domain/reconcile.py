"""Planning one registry reconcile: grants are the desired state, the registry's `ipRules` the
actual state, and the bot's own entries (kept beside the grants) say which rules are its to remove.

Pure: `plan_reconcile` takes what was read under the registry's lock and returns the one new
`ipRules` list and what it means for each grant and entry; `verify` checks the list read back after
the PATCH. The flow in `services.flows.reconcile` does the I/O around them.

The rules this module keeps (docs/ARCHITECTURE.md, "Reconciling a registry"; invariants 1 and 7):
- the bot removes only an entry it wrote (an `OwnedEntry`), by its exact spelling, one occurrence,
  and only when no approved or active grant on the registry is for that address;
- a rule the bot did not write is never removed; a grant it covers is `rule_preexisted`;
- a second grant for an address whose entry the bot wrote shares that entry;
- addresses are compared as networks (`1.2.3.4` is `1.2.3.4/32`, and is not `1.2.3.45`).
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache

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


@dataclass(frozen=True)
class ReconcileTiming:
    """How long a reconcile waits before it runs again, and how long a write may still land.
    Built from the settings (`ArmSettings.timing`); the flow holds no numbers of its own."""

    #: A registry whose lock is busy: run again after this.
    busy_retry: timedelta
    #: ARM failing for now: run again after this, doubling per attempt (up to `max_retry`).
    failure_retry: timedelta
    max_retry: timedelta
    #: How long after it was sent a write without an answer may still land.
    write_fence: timedelta


class Fence(BaseModel):
    """What the bot knows of its own writes to one registry, kept beside its entries.

    Written before every read-modify-write: `until` says a write may be in flight until then
    (a process killed during the PATCH, a lost lease, an answer that never came), and no other
    reconcile writes the registry before it has passed or the write is seen to have landed. A
    write that ended without an answer records what it carried (`adds`, `removes`, `sent`), so
    a later read can tell whether it landed and, if it lands late, which rules it took away.
    `resource_id` reaches the registry even after it leaves the configuration.
    """

    model_config = ConfigDict(frozen=True)

    registry: str
    resource_id: str | None = None
    until: AwareDatetime | None = None
    #: The write in flight, once known: entries it adds and removes, and every value it sent.
    adds: tuple[str, ...] = ()
    removes: tuple[str, ...] = ()
    sent: tuple[str, ...] | None = None
    #: The rule values the bot last read on the registry (after its last write, or while fenced).
    last_seen: tuple[str, ...] | None = None
    updated_at: AwareDatetime

    def in_flight(self, now: datetime) -> bool:
        return self.until is not None and now < self.until

    def landed(self, rules: Sequence[RawRule]) -> bool:
        """Whether the write in flight shows on `rules` (only when what it carried is known)."""
        if self.sent is None:
            return False
        values, sent = Counter(_value(r) for r in rules), Counter(self.sent)
        return all(values[v] > 0 for v in self.adds) and all(
            values[v] <= sent[v] for v in self.removes
        )


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


@lru_cache(maxsize=4096)
def _allow_range(value: str, action: str) -> tuple[int, int] | None:
    """The IPv4 addresses an Allow rule admits, as integers (None: not an IPv4 Allow rule).
    Cached: planning fifty grants against a hundred rules must not parse them 5,000 times (the
    plan runs between the GET and the PATCH)."""
    rule = IpRule(value=value, action=action or "Allow")
    net = rule._network_or_none()
    if net is None or net.version != 4 or rule.action.lower() != "allow":
        return None
    return int(net.network_address), int(net.broadcast_address)


def _covering(rules: Sequence[RawRule], ip: ipaddress.IPv4Address) -> str | None:
    point = int(ip)
    for rule in rules:
        value = _value(rule)
        span = _allow_range(value, str(rule.get("action") or "Allow"))
        if span is not None and span[0] <= point <= span[1]:
            return value
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
    if entry is None or entry.state is EntryState.INTENDED:
        # Nothing of the bot's is there (an intent only): a rule someone else wrote may admit it.
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


# --- before the read, and after the write ---------------------------------------------------------


def _covered_by_values(values: Iterable[str], ip: ipaddress.IPv4Address) -> bool:
    return any(IpRule(value=v).covers(ip) for v in values)


def intents_before_read(
    *,
    registry: str,
    grants: Iterable[Grant],
    entries: Iterable[OwnedEntry],
    last_seen: Sequence[str] | None,
    now: datetime,
) -> list[OwnedEntry]:
    """The entries to record before the registry is read, so that nothing but planning sits
    between the read and the write: an entry INTENDED for each approved grant's address that the
    bot holds no entry for and that no rule admitted when the bot last looked, and REMOVING on
    each of its entries that no approved or active grant needs any more."""
    grants = sorted(grants, key=lambda g: (g.decided_at or g.requested_at, g.id))
    owned = {e.ip: e for e in entries}
    needed = {g.ip for g in grants if g.state in (GrantState.APPROVED, GrantState.ACTIVE)}
    puts: dict[ipaddress.IPv4Address, OwnedEntry] = {}
    for grant in grants:
        if grant.state is not GrantState.APPROVED or grant.ip in owned or grant.ip in puts:
            continue
        if last_seen is not None and _covered_by_values(last_seen, grant.ip):
            continue  # a foreign rule admits it: most likely nothing to write
        puts[grant.ip] = OwnedEntry(
            registry=registry,
            ip=grant.ip,
            value=str(grant.ip),
            state=EntryState.INTENDED,
            updated_at=now,
            first_grant=grant.id,
        )
    for entry in owned.values():
        if entry.ip not in needed and entry.state is EntryState.PRESENT:
            puts[entry.ip] = entry.model_copy(
                update={"state": EntryState.REMOVING, "updated_at": now}
            )
    return list(puts.values())


def disowned(
    entries: Iterable[OwnedEntry],
    rules: Sequence[RawRule],
    *,
    fresh: Collection[ipaddress.IPv4Address],
    last_seen: Sequence[str] | None,
) -> list[OwnedEntry]:
    """INTENDED entries whose value the registry shows but that are not the bot's: recorded by
    this reconcile (`fresh`) and there already, or recorded earlier and there already when the bot
    last looked (its write never landed; someone else's rule has the same spelling)."""
    present = {_value(r) for r in rules}
    seen = set(last_seen or ())
    return [
        e
        for e in entries
        if e.state is EntryState.INTENDED
        and e.value in present
        and (e.ip in fresh or e.value in seen)
    ]


@dataclass(frozen=True)
class ConcurrentEdit:
    """Rules that changed on the registry without the bot's plan while it wrote."""

    #: Rules the bot read and kept, or saw last, that are gone.
    vanished: tuple[str, ...]
    #: Rules the registry shows that the bot neither read nor wrote.
    appeared: tuple[str, ...]

    def __bool__(self) -> bool:
        return bool(self.vanished or self.appeared)


def concurrent_edit(
    *, before: Sequence[RawRule], written: Sequence[RawRule], after: Sequence[RawRule]
) -> ConcurrentEdit:
    """Compare the rules read back after a write with what was written and what was read: a
    rule read and written but not read back vanished; one read back but not written appeared."""
    was, sent, now = (Counter(_value(r) for r in rules) for rules in (before, written, after))
    vanished = [v for v, n in sent.items() if was[v] > 0 and now[v] < min(n, was[v])]
    appeared = [v for v, n in now.items() if n > sent[v]]
    return ConcurrentEdit(tuple(sorted(vanished)), tuple(sorted(appeared)))


def taken_by_late_write(fence: Fence, rules: Sequence[RawRule]) -> tuple[str, ...]:
    """Rules the bot saw while its write was in flight that are gone now and that the write did
    not carry: the late write, landing with its older list, took them away."""
    if fence.sent is None or fence.last_seen is None:
        return ()
    now = {_value(r) for r in rules}
    sent = set(fence.sent)
    return tuple(sorted(v for v in set(fence.last_seen) if v not in now and v not in sent))
