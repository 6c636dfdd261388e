"""Grants: one request for a time-limited IP allow rule, its lifecycle, the policy and the service.

Map of this module:
- `Grant` and `GrantState` — the model; `TRANSITIONS` is the whole state machine.
- Policy checks (pure): `parse_ip`, `validate_justification`, `validate_duration`,
  `check_quota_headroom`, `approvers_for`, `approver_group`.
- Transitions (pure, `Grant → Grant`): `approve`, `deny`, `withdraw`, `lapse`, `activate`, `fail`,
  `extend`, `expire`, `revoke`. Each refuses with a typed `GrantError`.
- `GrantStore` — the persistence port (`services.store.TableGrantStore` is the real one).
- `GrantService` — the service functions the bot calls: it orders writes so a crash never loses a
  grant (see its docstring) and records every transition in the audit log.

A requester cancelling their own pending request is the state `withdrawn`, not `denied`: nobody
refused it, and approvers' cards should say "withdrawn by the requester", not "denied".
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict

from services.audit import AuditEvent, AuditLog
from services.clock import Clock
from services.domain.errors import DomainError, UnsupportedIp
from services.domain.ips import parse_grantable_ip
from services.settings import PolicySettings, RegistryConfig, Settings

#: The actor recorded for transitions the bot makes on its own (lapse, activate, expire).
SYSTEM_ACTOR = "acrbot"
#: Tries at the registry+IP slot when its holder keeps ending under our feet.
_SLOT_ATTEMPTS = 5
#: How long a grant's index rows may exist before the grant itself (a request being written).
_IN_FLIGHT_GRACE = timedelta(minutes=5)


class GrantState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    DENIED = "denied"
    LAPSED = "lapsed"
    WITHDRAWN = "withdrawn"
    FAILED = "failed"


#: The state machine. `active → active` is an approved extension.
TRANSITIONS: Mapping[GrantState, frozenset[GrantState]] = {
    GrantState.PENDING: frozenset(
        {GrantState.APPROVED, GrantState.DENIED, GrantState.LAPSED, GrantState.WITHDRAWN}
    ),
    GrantState.APPROVED: frozenset({GrantState.ACTIVE, GrantState.FAILED}),
    GrantState.ACTIVE: frozenset({GrantState.ACTIVE, GrantState.EXPIRED, GrantState.REVOKED}),
}
#: States that hold the registry+IP slot: a second request returns the grant in one of these.
OPEN_STATES = frozenset({GrantState.PENDING, GrantState.APPROVED, GrantState.ACTIVE})
#: States in which a grant needs its rule on the registry (approved: the rule is being added).
NEEDS_RULE_STATES = frozenset({GrantState.APPROVED, GrantState.ACTIVE})
#: Ended grants whose rule, if the bot added it, may now be removed.
RULE_RELEASED_STATES = frozenset({GrantState.EXPIRED, GrantState.REVOKED})
TERMINAL_STATES = frozenset(GrantState) - OPEN_STATES


# --- errors -------------------------------------------------------------------------------------


class GrantError(DomainError):
    """Base of every refusal about grants; `message` is written for the person who asked."""


class InvalidRequest(GrantError):
    """The request itself is malformed or outside policy."""


class InvalidIp(InvalidRequest):
    def __init__(self, ip: str, reason: str) -> None:
        super().__init__(f"`{ip}` cannot be allowed: {reason}")
        self.ip = ip
        self.reason = reason


class UnknownRegistry(InvalidRequest):
    def __init__(self, registry: str) -> None:
        super().__init__(
            f"`{registry}` is not a registry this bot manages; ask an admin to add it."
        )
        self.registry = registry


class InvalidJustification(InvalidRequest):
    pass


class InvalidDuration(InvalidRequest):
    def __init__(self, duration: timedelta, allowed: Iterable[timedelta]) -> None:
        choices = ", ".join(format_duration(d) for d in allowed)
        super().__init__(f"{format_duration(duration)} is not an allowed duration ({choices}).")
        self.duration = duration


class TooManyOpenRequests(GrantError):
    def __init__(self, requester: str, limit: int) -> None:
        super().__init__(
            f"You already have {limit} open requests, the most one person may have; "
            "withdraw one or wait for a decision."
        )
        self.requester = requester
        self.limit = limit


class QuotaHeadroomExhausted(GrantError):
    def __init__(self, registry: str, used: int, limit: int, headroom: int) -> None:
        super().__init__(
            f"`{registry}` uses {used} of its {limit} IP rules; the bot keeps {headroom} free for "
            "people and infrastructure-as-code, so it cannot add another. A NAT gateway with one "
            "permanent rule is the lasting fix."
        )
        self.registry = registry
        self.used = used
        self.limit = limit
        self.headroom = headroom


class NotAllowed(GrantError):
    """The person may not do this to this grant."""


class NotAnApprover(NotAllowed):
    def __init__(self, user_id: str, registry: str) -> None:
        super().__init__(f"Only the approvers of `{registry}` can decide this request.")
        self.user_id = user_id


class SelfApproval(NotAllowed):
    def __init__(self, user_id: str) -> None:
        super().__init__("You cannot decide or extend your own request; another approver must.")
        self.user_id = user_id


class InvalidTransition(GrantError):
    def __init__(
        self, grant_id: str, from_state: GrantState, to_state: GrantState, detail: str = ""
    ) -> None:
        super().__init__(
            detail or f"Grant {grant_id} is {from_state}; it cannot become {to_state}."
        )
        self.grant_id = grant_id
        self.from_state = from_state
        self.to_state = to_state


class AlreadyDecided(InvalidTransition):
    """A decision arrived for a grant that is no longer pending (another approver was first)."""

    def __init__(self, grant: Grant, to_state: GrantState) -> None:
        by = grant.approver or grant.ended_by
        how = f"{grant.state}" + (f" by {by}" if by else "")
        super().__init__(
            grant.id, grant.state, to_state, f"This request was already {how}; nothing changed."
        )
        self.decided_by = by
        self.state = grant.state


class RequestLapsed(InvalidTransition):
    def __init__(self, grant: Grant, to_state: GrantState) -> None:
        super().__init__(
            grant.id,
            grant.state,
            to_state,
            "Nobody decided this request in time and it has lapsed; ask again if still needed.",
        )


class InvalidExtension(InvalidTransition):
    pass


class GrantNotFound(GrantError):
    def __init__(self, grant_id: str) -> None:
        super().__init__(f"There is no grant `{grant_id}`.")
        self.grant_id = grant_id


class ConcurrentUpdate(GrantError):
    """The stored grant changed since it was read (ETag mismatch); re-read and retry."""

    def __init__(self, grant_id: str) -> None:
        super().__init__(f"Grant {grant_id} changed while being updated; try again.")
        self.grant_id = grant_id


# --- model --------------------------------------------------------------------------------------

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_GRANT_ID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")


def new_grant_id(now: datetime) -> str:
    """A ULID: 48-bit milliseconds then 80 random bits, Crockford base32; sorts by creation time."""
    value = (int(now.timestamp() * 1000) << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def is_grant_id(text: str) -> bool:
    return bool(_GRANT_ID.match(text))


def grant_id_time(grant_id: str) -> datetime:
    """The creation time encoded in a grant id (millisecond precision)."""
    if not is_grant_id(grant_id):
        raise GrantNotFound(grant_id)
    ms = 0
    for char in grant_id[:10]:
        ms = (ms << 5) | _CROCKFORD.index(char)
    return datetime.fromtimestamp(ms / 1000, UTC)


class SlackRef(BaseModel):
    """A Slack message: where an approval card or the requester's thread lives."""

    model_config = ConfigDict(frozen=True)

    channel: str
    ts: str


class Requester(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: str
    team_id: str


class Grant(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    #: Registry login server, lower case.
    registry: str
    ip: ipaddress.IPv4Address
    requester: Requester
    justification: str
    requested_duration: timedelta
    approved_duration: timedelta | None = None
    state: GrantState = GrantState.PENDING
    #: The Slack user who approved or denied.
    approver: str | None = None
    #: Who ended it otherwise (withdrew, revoked); SYSTEM_ACTOR for lapse/expiry.
    ended_by: str | None = None
    requested_at: AwareDatetime
    #: A pending grant lapses at this time (requested_at + policy.pending_ttl).
    lapses_at: AwareDatetime
    decided_at: AwareDatetime | None = None
    #: An approved grant not activated (or failed) by then is stalled: a crash came between the
    #: approval and the registry write, and the worker must drive it again (`due_for_activation`).
    activation_due_at: AwareDatetime | None = None
    activated_at: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    #: The rule was already on the registry when the grant was applied: never remove it.
    rule_preexisted: bool = False
    approval_messages: tuple[SlackRef, ...] = ()
    requester_thread: SlackRef | None = None
    #: `services.diagnosis.Verdict` value that led to the request, if any.
    verdict: str | None = None
    failure_reason: str | None = None
    #: Why it was denied, lapsed, withdrawn or revoked.
    end_reason: str | None = None
    extension_count: int = 0

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


def format_duration(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


# --- policy -------------------------------------------------------------------------------------


def parse_ip(value: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    """The single public IPv4 address in `value` (`1.2.3.4` or `1.2.3.4/32`), or InvalidIp."""
    try:
        return parse_grantable_ip(value)
    except UnsupportedIp as refused:
        raise InvalidIp(refused.ip, refused.reason) from None


def validate_justification(text: str, policy: PolicySettings) -> str:
    """The stripped justification, or InvalidJustification when too short or too long."""
    cleaned = text.strip()
    if len(cleaned) < policy.justification_min_length:
        raise InvalidJustification(
            f"Please say why you need access in at least {policy.justification_min_length} "
            "characters."
        )
    if len(cleaned) > policy.justification_max_length:
        raise InvalidJustification(
            f"Please keep the justification under {policy.justification_max_length} characters."
        )
    return cleaned


def validate_duration(duration: timedelta | None, policy: PolicySettings) -> timedelta:
    """The requested duration (policy default when None) if the policy allows it."""
    chosen = policy.default_duration if duration is None else duration
    allowed = [d for d in policy.allowed_durations if d <= policy.max_duration]
    if chosen not in allowed:
        raise InvalidDuration(chosen, allowed)
    return chosen


def check_quota_headroom(registry: str, used: int, limit: int, policy: PolicySettings) -> None:
    """Refuse to add a rule when it would eat into the slots kept free under the rule quota."""
    if used + 1 > limit - policy.quota_headroom:
        raise QuotaHeadroomExhausted(registry, used, limit, policy.quota_headroom)


def approver_group(registry: RegistryConfig, policy: PolicySettings) -> str | None:
    """The Slack user group whose members may approve for `registry`; the Slack layer resolves it.

    None when the registry (or the policy default) names no group.
    """
    if registry.approvers or registry.approver_group:
        return registry.approver_group
    return policy.default_approver_group


def approvers_for(
    registry: RegistryConfig, policy: PolicySettings, group_members: Collection[str] = ()
) -> frozenset[str]:
    """Who may approve for `registry`: its own list and group, else the policy default.

    `group_members` are the resolved members of `approver_group(registry, policy)`.
    """
    if registry.approvers or registry.approver_group:
        return frozenset(registry.approvers) | frozenset(group_members)
    return frozenset(policy.default_approvers) | frozenset(group_members)


# --- transitions (pure) -------------------------------------------------------------------------


def _require(grant: Grant, to_state: GrantState) -> None:
    if to_state not in TRANSITIONS.get(grant.state, frozenset()):
        raise InvalidTransition(grant.id, grant.state, to_state)


def _require_decidable(
    grant: Grant, to_state: GrantState, user_id: str, approvers: Collection[str], now: datetime
) -> None:
    if user_id == grant.requester.user_id:
        raise SelfApproval(user_id)
    if user_id not in approvers:
        raise NotAnApprover(user_id, grant.registry)
    if grant.state is not GrantState.PENDING:
        raise AlreadyDecided(grant, to_state)
    if now >= grant.lapses_at:
        raise RequestLapsed(grant, to_state)


def approve(
    grant: Grant,
    *,
    approver: str,
    approvers: Collection[str],
    now: datetime,
    policy: PolicySettings,
    duration: timedelta | None = None,
) -> Grant:
    """pending → approved; the approver may grant a different allowed duration than asked."""
    _require_decidable(grant, GrantState.APPROVED, approver, approvers, now)
    approved = grant.requested_duration if duration is None else validate_duration(duration, policy)
    return grant.model_copy(
        update={
            "state": GrantState.APPROVED,
            "approver": approver,
            "decided_at": now,
            "approved_duration": approved,
            "activation_due_at": now + policy.activation_timeout,
        }
    )


def deny(
    grant: Grant, *, approver: str, approvers: Collection[str], now: datetime, reason: str | None
) -> Grant:
    """pending → denied."""
    _require_decidable(grant, GrantState.DENIED, approver, approvers, now)
    return grant.model_copy(
        update={
            "state": GrantState.DENIED,
            "approver": approver,
            "decided_at": now,
            "ended_at": now,
            "end_reason": reason,
        }
    )


def withdraw(grant: Grant, *, actor: str, now: datetime) -> Grant:
    """pending → withdrawn, by the requester only."""
    if actor != grant.requester.user_id:
        raise NotAllowed("Only the person who asked can withdraw a request.")
    if grant.state is not GrantState.PENDING:
        raise AlreadyDecided(grant, GrantState.WITHDRAWN)
    return grant.model_copy(
        update={
            "state": GrantState.WITHDRAWN,
            "ended_by": actor,
            "ended_at": now,
            "end_reason": "withdrawn by the requester",
        }
    )


def lapse(grant: Grant, *, now: datetime) -> Grant:
    """pending → lapsed, once its deadline has passed."""
    _require(grant, GrantState.LAPSED)
    if now < grant.lapses_at:
        raise InvalidTransition(
            grant.id,
            grant.state,
            GrantState.LAPSED,
            f"Grant {grant.id} is pending until {grant.lapses_at.isoformat()}.",
        )
    return grant.model_copy(
        update={
            "state": GrantState.LAPSED,
            "ended_by": SYSTEM_ACTOR,
            "ended_at": now,
            "end_reason": "nobody decided in time",
        }
    )


def activate(
    grant: Grant, *, rule_preexisted: bool, now: datetime, policy: PolicySettings
) -> Grant:
    """approved → active: the rule is on the registry; the clock for expiry starts now."""
    _require(grant, GrantState.ACTIVE)
    if grant.state is not GrantState.APPROVED:
        raise InvalidTransition(grant.id, grant.state, GrantState.ACTIVE)
    duration = min(grant.approved_duration or grant.requested_duration, policy.max_duration)
    return grant.model_copy(
        update={
            "state": GrantState.ACTIVE,
            "activated_at": now,
            "expires_at": now + duration,
            "rule_preexisted": rule_preexisted,
        }
    )


def fail(grant: Grant, *, reason: str, now: datetime) -> Grant:
    """approved → failed: the rule could not be applied."""
    _require(grant, GrantState.FAILED)
    return grant.model_copy(
        update={"state": GrantState.FAILED, "failure_reason": reason, "ended_at": now}
    )


def extend(
    grant: Grant,
    *,
    approver: str,
    approvers: Collection[str],
    duration: timedelta,
    now: datetime,
    policy: PolicySettings,
) -> Grant:
    """active → active with a later expiry: current expiry + duration, capped at now + max."""
    if approver == grant.requester.user_id:
        raise SelfApproval(approver)
    if approver not in approvers:
        raise NotAnApprover(approver, grant.registry)
    if grant.state is not GrantState.ACTIVE or grant.expires_at is None:
        raise InvalidTransition(grant.id, grant.state, GrantState.ACTIVE)
    if grant.extension_count >= policy.max_extensions:
        raise InvalidExtension(
            grant.id,
            grant.state,
            GrantState.ACTIVE,
            f"This grant was already extended {grant.extension_count} times, the most allowed; "
            "ask for a new one.",
        )
    validate_duration(duration, policy)
    new_expiry = min(grant.expires_at + duration, now + policy.max_duration)
    if new_expiry <= grant.expires_at:
        raise InvalidExtension(
            grant.id,
            grant.state,
            GrantState.ACTIVE,
            "This grant already runs as long as the policy allows from now.",
        )
    return grant.model_copy(
        update={"expires_at": new_expiry, "extension_count": grant.extension_count + 1}
    )


def expire(grant: Grant, *, now: datetime) -> Grant:
    """active → expired, once its expiry has passed."""
    _require(grant, GrantState.EXPIRED)
    if grant.expires_at is None or now < grant.expires_at:
        raise InvalidTransition(
            grant.id, grant.state, GrantState.EXPIRED, f"Grant {grant.id} has not expired yet."
        )
    return grant.model_copy(
        update={"state": GrantState.EXPIRED, "ended_by": SYSTEM_ACTOR, "ended_at": now}
    )


def revoke(
    grant: Grant, *, actor: str, approvers: Collection[str], now: datetime, reason: str | None
) -> Grant:
    """active → revoked early, by the requester or an approver of the registry."""
    if actor != grant.requester.user_id and actor not in approvers:
        raise NotAllowed("Only the requester or an approver of the registry can revoke a grant.")
    _require(grant, GrantState.REVOKED)
    return grant.model_copy(
        update={
            "state": GrantState.REVOKED,
            "ended_by": actor,
            "ended_at": now,
            "end_reason": reason,
        }
    )


# --- persistence port ---------------------------------------------------------------------------


class DeadlineKind(StrEnum):
    EXPIRY = "expiry"
    LAPSE = "lapse"
    #: An approved grant must be activated (or failed) by its `activation_due_at`.
    ACTIVATION = "activation"


#: Per deadline index: the state a grant is in while the deadline matters, and the deadline.
_DEADLINES: dict[DeadlineKind, tuple[GrantState, Callable[[Grant], datetime | None]]] = {
    DeadlineKind.EXPIRY: (GrantState.ACTIVE, lambda g: g.expires_at),
    DeadlineKind.LAPSE: (GrantState.PENDING, lambda g: g.lapses_at),
    DeadlineKind.ACTIVATION: (GrantState.APPROVED, lambda g: g.activation_due_at),
}


class GrantStore(Protocol):
    """Grants and their indexes. Every index write is idempotent (upsert or delete-if-there)."""

    def create(self, grant: Grant) -> None: ...
    def get(self, grant_id: str) -> tuple[Grant, str]:
        """The grant and its ETag; GrantNotFound when absent."""
        ...

    def replace(self, grant: Grant, etag: str) -> str:
        """Write `grant` only if unchanged since `etag` (ConcurrentUpdate otherwise)."""
        ...

    def delete(self, grant_id: str) -> None: ...
    def claim_slot(self, registry: str, ip: ipaddress.IPv4Address, grant_id: str) -> bool:
        """Take the registry+IP uniqueness slot; False when another grant holds it."""
        ...

    def slot_holder(self, registry: str, ip: ipaddress.IPv4Address) -> tuple[str, str] | None:
        """(grant id, ETag) of the slot's holder, if any."""
        ...

    def release_stale_slot(self, registry: str, ip: ipaddress.IPv4Address, etag: str) -> None:
        """Free the slot only if unchanged since `etag` was read."""
        ...

    def release_slot(self, registry: str, ip: ipaddress.IPv4Address, grant_id: str) -> None:
        """Free the slot if `grant_id` holds it."""
        ...

    def put_deadline(self, kind: DeadlineKind, when: datetime, grant_id: str) -> None: ...
    def drop_deadline(self, kind: DeadlineKind, when: datetime, grant_id: str) -> None: ...
    def deadlines(
        self, kind: DeadlineKind, *, after: datetime | None, until: datetime
    ) -> list[tuple[datetime, str]]:
        """(when, grant id) rows with after < when <= until, read by key range only."""
        ...

    def add_requester_grant(self, requester: Requester, grant_id: str) -> None: ...
    def drop_requester_grant(self, requester: Requester, grant_id: str) -> None: ...
    def requester_grants(self, requester: Requester) -> list[str]: ...
    def add_removal(self, registry: str, ip: ipaddress.IPv4Address, grant_id: str) -> None: ...
    def drop_removal(self, registry: str, ip: ipaddress.IPv4Address, grant_id: str) -> None: ...
    def removals(self, registry: str) -> list[tuple[ipaddress.IPv4Address, str]]: ...


# --- service ------------------------------------------------------------------------------------


class RequestOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    grant: Grant
    #: False when an open grant for the same registry and IP already existed and is returned.
    created: bool


class RemovableIp(BaseModel):
    model_config = ConfigDict(frozen=True)

    ip: ipaddress.IPv4Address
    #: The ended grants whose rule this is.
    grant_ids: tuple[str, ...]


class SweepResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    expired: tuple[Grant, ...] = ()
    lapsed: tuple[Grant, ...] = ()
    #: Approved but not activated in time; nothing was changed on them.
    stalled: tuple[Grant, ...] = ()


def _changed_fields(before: Grant, after: Grant) -> tuple[dict[str, Any], dict[str, Any]]:
    old = before.model_dump(mode="json")
    new = after.model_dump(mode="json")
    keys = [k for k in new if old.get(k) != new[k]]
    return {k: old.get(k) for k in keys}, {k: new[k] for k in keys}


class GrantService:
    """The grant lifecycle over a `GrantStore` and an `AuditLog`.

    Crash safety — the order of writes is chosen so a crash at any point leaves no grant lost:
    - request: the lapse deadline and requester index rows are written first, then the grant,
      then the registry+IP slot (`create_entity`, the uniqueness guard). A slot therefore always
      names a grant that exists; a crash before the slot leaves a pending grant nobody was shown,
      which lapses on schedule. A slot whose grant has ended is stale and is taken over.
    - index rows needed after a transition (expiry deadline on activate/extend, removal row on
      expire/revoke) are written before the grant; rows no longer needed are deleted after it.
      Readers re-read the grant for every index row and drop rows that no longer match it, but
      never a row whose grant is mid-transition (approved, or active for removal rows) or not
      written yet (a missing grant whose ULID is younger than `_IN_FLIGHT_GRACE`).
    - the audit event is written right after the grant; a crash in between loses that one event,
      while the grant's own timestamps still say what happened.
    """

    def __init__(
        self, *, store: GrantStore, audit: AuditLog, settings: Settings, clock: Clock
    ) -> None:
        self._store = store
        self._audit = audit
        self._settings = settings
        self._policy = settings.policy
        self._clock = clock

    # --- reading ---

    def get(self, grant_id: str) -> Grant:
        """The grant with this id; GrantNotFound for an unknown or malformed id."""
        return self._store.get(grant_id)[0]

    def _find(self, grant_id: str) -> Grant | None:
        try:
            return self.get(grant_id)
        except GrantNotFound:
            return None

    def open_requests(self, requester: Requester) -> list[Grant]:
        """The requester's grants that are pending, approved or active."""
        found = []
        for grant_id in self._store.requester_grants(requester):
            grant = self._find(grant_id)
            if grant is not None and grant.is_open:
                found.append(grant)
            elif grant is not None or not self._maybe_in_flight(grant_id):
                self._store.drop_requester_grant(requester, grant_id)
        return found

    def _maybe_in_flight(self, grant_id: str) -> bool:
        """A missing grant this young may be a request still being written (its index rows come
        first), so its rows must be left alone."""
        try:
            return self._clock.now() - grant_id_time(grant_id) < _IN_FLIGHT_GRACE
        except GrantNotFound:
            return False

    def history(self, grant_id: str) -> list[AuditEvent]:
        """The grant's audit events, oldest first."""
        return self._audit.for_grant(grant_id)

    # --- request ---

    def request(
        self,
        *,
        registry: str,
        ip: str | ipaddress.IPv4Address,
        requester: Requester,
        justification: str,
        duration: timedelta | None = None,
        verdict: str | None = None,
        requester_thread: SlackRef | None = None,
    ) -> RequestOutcome:
        """Ask for a time-limited allow rule; returns the existing open grant for the same
        registry and IP instead of creating a second one (also under concurrency).

        Raises UnknownRegistry, InvalidIp, InvalidJustification, InvalidDuration,
        TooManyOpenRequests.
        """
        config = self._settings.registry(registry)
        if config is None:
            raise UnknownRegistry(registry)
        login = config.effective_login_server
        address = parse_ip(ip)
        reason = validate_justification(justification, self._policy)
        chosen = validate_duration(duration, self._policy)

        existing = self._slot_grant(login, address)
        if existing is not None:
            return RequestOutcome(grant=existing, created=False)
        # Distinct registry+IP pairs: the same request racing on other threads is not "another".
        others = {(x.registry, x.ip) for x in self.open_requests(requester)} - {(login, address)}
        if len(others) >= self._policy.max_open_requests_per_requester:
            raise TooManyOpenRequests(
                requester.user_id, self._policy.max_open_requests_per_requester
            )

        now = self._clock.now()
        grant = Grant(
            id=new_grant_id(now),
            registry=login,
            ip=address,
            requester=requester,
            justification=reason,
            requested_duration=chosen,
            requested_at=now,
            lapses_at=now + self._policy.pending_ttl,
            verdict=verdict,
            requester_thread=requester_thread,
        )
        self._store.put_deadline(DeadlineKind.LAPSE, grant.lapses_at, grant.id)
        self._store.add_requester_grant(requester, grant.id)
        self._store.create(grant)
        for _ in range(_SLOT_ATTEMPTS):
            if self._store.claim_slot(login, address, grant.id):
                break
            holder = self._slot_grant(login, address)
            if holder is not None:
                self._discard(grant)
                return RequestOutcome(grant=holder, created=False)
            # The holder ended (or lapsed just now) and `_slot_grant` freed it: claim again.
        else:
            self._discard(grant)
            raise ConcurrentUpdate(grant.id)
        self._audit.append(
            self._audit.transition_event(
                grant_id=grant.id,
                registry=login,
                actor=requester.user_id,
                at=now,
                from_state=None,
                to_state=grant.state,
                before=None,
                after=grant.model_dump(mode="json"),
            )
        )
        return RequestOutcome(grant=grant, created=True)

    def _slot_grant(self, registry: str, ip: ipaddress.IPv4Address) -> Grant | None:
        """The open grant holding the registry+IP slot; frees a stale slot and returns None."""
        held = self._store.slot_holder(registry, ip)
        if held is None:
            return None
        holder_id, etag = held
        holder = self._find(holder_id)
        overdue = holder is not None and holder.state is GrantState.PENDING
        if holder is not None and overdue and self._clock.now() >= holder.lapses_at:
            holder = self._lapse_quietly(holder.id)
        if holder is not None and holder.is_open:
            return holder
        # Stale: the holder ended and a crash (or a race) left its slot behind.
        self._store.release_stale_slot(registry, ip, etag)
        return None

    def _discard(self, grant: Grant) -> None:
        """Undo a grant that lost the race for its slot (it was never shown to anyone)."""
        self._store.delete(grant.id)
        self._store.drop_requester_grant(grant.requester, grant.id)
        self._store.drop_deadline(DeadlineKind.LAPSE, grant.lapses_at, grant.id)

    # --- transitions ---

    def _mutate(
        self,
        grant_id: str,
        change: Callable[[Grant, datetime], Grant],
        *,
        actor: str,
        before_write: Callable[[Grant, Grant], None] | None = None,
        after_write: Callable[[Grant, Grant], None] | None = None,
    ) -> Grant:
        # The ETag makes read-check-write atomic: on a lost race re-read and re-check, so the
        # loser sees the winner's state (AlreadyDecided) instead of overwriting it.
        while True:
            current, etag = self._store.get(grant_id)
            now = self._clock.now()
            updated = change(current, now)
            if before_write is not None:
                before_write(current, updated)
            try:
                self._store.replace(updated, etag)
            except ConcurrentUpdate:
                continue
            if after_write is not None:
                after_write(current, updated)
            before, after = _changed_fields(current, updated)
            self._audit.append(
                self._audit.transition_event(
                    grant_id=grant_id,
                    registry=updated.registry,
                    actor=actor,
                    at=now,
                    from_state=current.state,
                    to_state=updated.state,
                    before=before,
                    after=after,
                )
            )
            return updated

    def _close_indexes(self, before: Grant, after: Grant) -> None:
        """Drop the rows an ended grant no longer needs (its slot, its deadlines, its count)."""
        if before.state is GrantState.PENDING:
            self._store.drop_deadline(DeadlineKind.LAPSE, before.lapses_at, before.id)
        if before.expires_at is not None:
            self._store.drop_deadline(DeadlineKind.EXPIRY, before.expires_at, before.id)
        self._drop_activation_deadline(before, after)
        self._store.release_slot(after.registry, after.ip, after.id)
        self._store.drop_requester_grant(after.requester, after.id)

    def _note_removal(self, before: Grant, after: Grant) -> None:
        if not after.rule_preexisted:
            self._store.add_removal(after.registry, after.ip, after.id)

    def approve(
        self,
        grant_id: str,
        *,
        approver: str,
        approvers: Collection[str],
        duration: timedelta | None = None,
    ) -> Grant:
        """pending → approved. Raises SelfApproval, NotAnApprover, AlreadyDecided (the other
        approver was first), RequestLapsed (the grant is lapsed on the way)."""
        try:
            return self._mutate(
                grant_id,
                lambda g, now: approve(
                    g,
                    approver=approver,
                    approvers=approvers,
                    now=now,
                    policy=self._policy,
                    duration=duration,
                ),
                actor=approver,
                before_write=self._put_activation_deadline,
                after_write=lambda b, a: self._store.drop_deadline(
                    DeadlineKind.LAPSE, b.lapses_at, b.id
                ),
            )
        except RequestLapsed:
            self._lapse_quietly(grant_id)
            raise

    def deny(
        self,
        grant_id: str,
        *,
        approver: str,
        approvers: Collection[str],
        reason: str | None = None,
    ) -> Grant:
        """pending → denied; same checks as `approve`."""
        try:
            return self._mutate(
                grant_id,
                lambda g, now: deny(
                    g, approver=approver, approvers=approvers, now=now, reason=reason
                ),
                actor=approver,
                after_write=self._close_indexes,
            )
        except RequestLapsed:
            self._lapse_quietly(grant_id)
            raise

    def withdraw(self, grant_id: str, *, actor: str) -> Grant:
        """pending → withdrawn: the requester cancels their own request."""
        return self._mutate(
            grant_id,
            lambda g, now: withdraw(g, actor=actor, now=now),
            actor=actor,
            after_write=self._close_indexes,
        )

    def lapse(self, grant_id: str) -> Grant:
        """pending → lapsed once its deadline passed (the sweep calls this)."""
        return self._mutate(
            grant_id,
            lambda g, now: lapse(g, now=now),
            actor=SYSTEM_ACTOR,
            after_write=self._close_indexes,
        )

    def _lapse_quietly(self, grant_id: str) -> Grant | None:
        try:
            return self.lapse(grant_id)
        except InvalidTransition:
            return self._find(grant_id)

    def activate(self, grant_id: str, *, rule_preexisted: bool) -> Grant:
        """approved → active, after the registry layer applied (and verified) the rule.

        `rule_preexisted` is True when the registry already allowed the IP: that rule is never
        removed by the bot.
        """
        return self._mutate(
            grant_id,
            lambda g, now: activate(
                g, rule_preexisted=rule_preexisted, now=now, policy=self._policy
            ),
            actor=SYSTEM_ACTOR,
            before_write=lambda b, a: self._store.put_deadline(
                DeadlineKind.EXPIRY, _expiry(a), a.id
            ),
            after_write=self._drop_activation_deadline,
        )

    def _put_activation_deadline(self, before: Grant, after: Grant) -> None:
        if after.activation_due_at is not None:
            self._store.put_deadline(DeadlineKind.ACTIVATION, after.activation_due_at, after.id)

    def _drop_activation_deadline(self, before: Grant, after: Grant) -> None:
        if before.state is GrantState.APPROVED and before.activation_due_at is not None:
            self._store.drop_deadline(DeadlineKind.ACTIVATION, before.activation_due_at, before.id)

    def fail(self, grant_id: str, *, reason: str) -> Grant:
        """approved → failed: the rule could not be applied, for `reason`."""
        return self._mutate(
            grant_id,
            lambda g, now: fail(g, reason=reason, now=now),
            actor=SYSTEM_ACTOR,
            after_write=self._close_indexes,
        )

    def extend(
        self, grant_id: str, *, approver: str, approvers: Collection[str], duration: timedelta
    ) -> Grant:
        """active → active with a later expiry (see `extend`); recorded as an extension."""

        def drop_old(before: Grant, after: Grant) -> None:
            self._store.drop_deadline(DeadlineKind.EXPIRY, _expiry(before), before.id)

        return self._mutate(
            grant_id,
            lambda g, now: extend(
                g,
                approver=approver,
                approvers=approvers,
                duration=duration,
                now=now,
                policy=self._policy,
            ),
            actor=approver,
            before_write=lambda b, a: self._store.put_deadline(
                DeadlineKind.EXPIRY, _expiry(a), a.id
            ),
            after_write=drop_old,
        )

    def revoke(
        self,
        grant_id: str,
        *,
        actor: str,
        approvers: Collection[str],
        reason: str | None = None,
    ) -> Grant:
        """active → revoked by the requester or an approver; the rule becomes removable."""
        return self._mutate(
            grant_id,
            lambda g, now: revoke(g, actor=actor, approvers=approvers, now=now, reason=reason),
            actor=actor,
            before_write=self._note_removal,
            after_write=self._close_indexes,
        )

    def expire(self, grant_id: str) -> Grant:
        """active → expired once its expiry passed; the rule becomes removable."""
        return self._mutate(
            grant_id,
            lambda g, now: expire(g, now=now),
            actor=SYSTEM_ACTOR,
            before_write=self._note_removal,
            after_write=self._close_indexes,
        )

    def attach_messages(
        self,
        grant_id: str,
        *,
        approval_messages: Iterable[SlackRef] = (),
        requester_thread: SlackRef | None = None,
    ) -> Grant:
        """Remember where the grant's Slack messages are (not a transition; no audit event)."""
        refs = tuple(approval_messages)
        while True:
            current, etag = self._store.get(grant_id)
            merged = current.approval_messages + tuple(
                r for r in refs if r not in current.approval_messages
            )
            updated = current.model_copy(
                update={
                    "approval_messages": merged,
                    "requester_thread": requester_thread or current.requester_thread,
                }
            )
            try:
                self._store.replace(updated, etag)
            except ConcurrentUpdate:
                continue
            return updated

    # --- due work ---

    def due_for_expiry(self) -> list[Grant]:
        """Active grants whose expiry has passed, read from the expiry index only."""
        now = self._clock.now()
        return self._due(DeadlineKind.EXPIRY, after=None, until=now, clean=True)

    def expiring_within(self, window: timedelta) -> list[Grant]:
        """Active grants expiring after now and within `window` (for reminders).

        Callers dedupe reminders with the delivery ledger, e.g. `remind:<id>:<expires_at>`.
        """
        now = self._clock.now()
        return self._due(DeadlineKind.EXPIRY, after=now, until=now + window, clean=False)

    def due_for_lapse(self) -> list[Grant]:
        """Pending grants past their lapse deadline, read from the lapse index only."""
        now = self._clock.now()
        return self._due(DeadlineKind.LAPSE, after=None, until=now, clean=True)

    def _due(
        self, kind: DeadlineKind, *, after: datetime | None, until: datetime, clean: bool
    ) -> list[Grant]:
        wanted, deadline_of = _DEADLINES[kind]
        found = []
        for when, grant_id in self._store.deadlines(kind, after=after, until=until):
            grant = self._find(grant_id)
            if grant is not None and grant.state is wanted and deadline_of(grant) == when:
                found.append(grant)
            elif clean and (
                (grant is None and not self._maybe_in_flight(grant_id))
                or (grant is not None and grant.state is not GrantState.APPROVED)
                or (grant is not None and kind is DeadlineKind.ACTIVATION)
            ):
                # Stale row (grant gone, ended, or extended). Approved grants are being
                # activated: their new expiry row may be written before the grant itself.
                self._store.drop_deadline(kind, when, grant_id)
        return found

    def due_for_activation(self) -> list[Grant]:
        """Approved grants past their activation deadline, read from the activation index only.

        Such a grant was approved but neither activated nor failed: the process applying its rule
        stopped halfway. The caller drives it again; the registry's `allow` is idempotent.
        """
        now = self._clock.now()
        return self._due(DeadlineKind.ACTIVATION, after=None, until=now, clean=True)

    def sweep(self) -> SweepResult:
        """Expire every due active grant, lapse every overdue pending one, and report the
        approved grants whose activation stalled (they are left for the caller to drive again)."""
        expired, lapsed = [], []
        for grant in self.due_for_expiry():
            try:
                expired.append(self.expire(grant.id))
            except InvalidTransition:
                continue  # extended or revoked since it was read
        for grant in self.due_for_lapse():
            try:
                lapsed.append(self.lapse(grant.id))
            except InvalidTransition:
                continue  # decided since it was read
        return SweepResult(
            expired=tuple(expired), lapsed=tuple(lapsed), stalled=tuple(self.due_for_activation())
        )

    # --- registry rules ---

    def removable_ips(self, registry: str) -> list[RemovableIp]:
        """IPs whose rule the bot may remove from `registry` now: added by a grant that has
        expired or been revoked, and needed by no approved or active grant on that registry.

        Call it under the registry's write lock, so no approval adds the same IP meanwhile.
        """
        login = self._login_server(registry)
        by_ip: dict[ipaddress.IPv4Address, list[str]] = {}
        for ip, grant_id in self._store.removals(login):
            grant = self._find(grant_id)
            if grant is None or (grant.state in TERMINAL_STATES and grant.rule_preexisted):
                self._store.drop_removal(login, ip, grant_id)
            elif grant.state in RULE_RELEASED_STATES:
                by_ip.setdefault(ip, []).append(grant_id)
            # An open grant's row was written by an expiry/revocation that lost a race (or is
            # still in flight); it stays until that grant really ends.
        removable = []
        for ip, grant_ids in sorted(by_ip.items()):
            holder = self._slot_grant(login, ip)
            if holder is not None and holder.state in NEEDS_RULE_STATES:
                continue
            removable.append(RemovableIp(ip=ip, grant_ids=tuple(grant_ids)))
        return removable

    def mark_rules_removed(self, registry: str, removed: Iterable[RemovableIp]) -> None:
        """Forget the removal rows of rules the registry layer has removed (and verified)."""
        login = self._login_server(registry)
        for item in removed:
            for grant_id in item.grant_ids:
                self._store.drop_removal(login, item.ip, grant_id)

    def record_registry_change(
        self,
        registry: str,
        change: BaseModel | Mapping[str, Any],
        *,
        actor: str,
        grant_ids: Iterable[str] = (),
    ) -> AuditEvent:
        """Append a registry change (operation, ips, before/after rules…) to the audit log, in
        the registry's history and in each named grant's history."""
        login = self._login_server(registry)
        return self._audit.record_registry_change(
            login, change, actor=actor, at=self._clock.now(), grant_ids=tuple(grant_ids)
        )

    def _login_server(self, registry: str) -> str:
        config = self._settings.registry(registry)
        return config.effective_login_server if config else registry.strip().lower()


def _expiry(grant: Grant) -> datetime:
    assert grant.expires_at is not None
    return grant.expires_at
