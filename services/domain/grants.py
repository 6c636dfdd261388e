"""Grants: one request for a time-limited allow rule, its state machine, and the rows it needs.

Map of this module:
- `Grant`, `GrantState`, `TRANSITIONS` — the model and the whole state machine.
- Checks on what a person typed (`validate_justification`, `validate_reason`, `validate_duration`).
- Transitions, pure `Grant → Grant` functions: `approve` (one approval of possibly two), `deny`,
  `withdraw`, `lapse`, `activate`, `fail`, `extend`, `expire`, `revoke`, `retire`, `release`,
  `flag_vanished`. Each refuses with a `DomainError` and changes nothing then.
- `index_rows(grant)` — every index row a grant in its state needs, derived by one pure function:
  the store writes the new rows before the grant and drops the old ones after it.

A requester cancelling their own pending request is `withdrawn`, not `denied`: nobody refused it.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from pydantic import AwareDatetime, BaseModel, ConfigDict

from services.domain.errors import (
    AlreadyApproved,
    AlreadyDecided,
    ExtensionRefused,
    InvalidDuration,
    InvalidText,
    InvalidTransition,
    NotAnApprover,
    NotRequester,
    NotRequesterOrApprover,
    RequestLapsed,
    SelfDecision,
)
from services.domain.ids import time_key
from services.domain.policy import Policy

#: The actor recorded for transitions the bot makes on its own (lapse, activate, expire).
SYSTEM_ACTOR = "acrbot"


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


#: The state machine. `pending → pending` is a first approval of two; `active → active` an
#: extension. Approved grants may be revoked before their rule is applied.
TRANSITIONS: Mapping[GrantState, frozenset[GrantState]] = {
    GrantState.PENDING: frozenset(
        {
            GrantState.PENDING,
            GrantState.APPROVED,
            GrantState.DENIED,
            GrantState.LAPSED,
            GrantState.WITHDRAWN,
        }
    ),
    GrantState.APPROVED: frozenset({GrantState.ACTIVE, GrantState.FAILED, GrantState.REVOKED}),
    GrantState.ACTIVE: frozenset({GrantState.ACTIVE, GrantState.EXPIRED, GrantState.REVOKED}),
}
#: States that hold the registry+IP slot: a second request returns the grant in one of these.
OPEN_STATES = frozenset({GrantState.PENDING, GrantState.APPROVED, GrantState.ACTIVE})
#: States in which a grant needs an allow rule on the registry.
NEEDS_RULE_STATES = frozenset({GrantState.APPROVED, GrantState.ACTIVE})
#: Ended states reached after an approval: the bot may have written a rule the reconcile settles.
RULE_ENDED_STATES = frozenset({GrantState.EXPIRED, GrantState.REVOKED, GrantState.FAILED})
#: Ended states a requester may ask again from (a revoke or a withdrawal was meant).
AGAIN_STATES = frozenset(
    {GrantState.EXPIRED, GrantState.LAPSED, GrantState.DENIED, GrantState.FAILED}
)


class Requester(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: str
    team_id: str


#: `MessageRef.kind`s: the approvers' card, the thread the request came from, and a message the
#: requester was sent.
APPROVAL_CARD = "approval_card"
REQUESTER_THREAD = "requester_thread"
REQUESTER_MESSAGE = "requester_message"


class MessageRef(BaseModel):
    """Where a message about a grant lives in the chat (kept in its own table, not in the grant,
    so posting a card never races a decision)."""

    model_config = ConfigDict(frozen=True)

    #: `approval_card`, `requester_thread`, `requester_message`…
    kind: str
    channel: str
    ts: str
    #: The thread the message is in, when it is a reply.
    thread_ts: str | None = None
    #: A digest of what the message shows now, so the same content is never sent again.
    shown: str | None = None

    @property
    def place(self) -> tuple[str, str, str]:
        """The message itself, whatever it shows."""
        return (self.kind, self.channel, self.ts)


class Approval(BaseModel):
    model_config = ConfigDict(frozen=True)

    user_id: str
    at: AwareDatetime
    #: The duration this approver agreed to (at most what was asked).
    duration: timedelta


class ExtensionDecision(BaseModel):
    """An approver's answer to a request for more time: `added` is the time granted (less than
    asked when the policy's total caps it), None when refused."""

    model_config = ConfigDict(frozen=True)

    by: str
    at: AwareDatetime
    asked: timedelta
    added: timedelta | None = None


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
    approvals: tuple[Approval, ...] = ()
    required_approvals: int = 1
    #: The person who made the final decision (the last approval, or the denial).
    approver: str | None = None
    #: Who ended it otherwise (withdrew, revoked); SYSTEM_ACTOR for lapse, expiry and failure.
    ended_by: str | None = None
    requested_at: AwareDatetime
    #: A pending grant lapses at this time (requested_at + policy.pending_ttl).
    lapses_at: AwareDatetime
    decided_at: AwareDatetime | None = None
    #: An approved grant not active by then has stalled; after it the reconcile may fail it.
    activation_due_at: AwareDatetime | None = None
    activated_at: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None
    ended_at: AwareDatetime | None = None
    #: The bot's `ipRules` entry that admits the address, as the registry spells it; set when the
    #: grant becomes active (None: a foreign rule admits it). The intent recorded before the PATCH
    #: is the registry's `OwnedEntry`, not this field.
    rule_entry: str | None = None
    #: A rule the bot did not write already admitted the address: the grant never removes it.
    rule_preexisted: bool = False
    #: The foreign rule that admitted the address, as the registry spells it.
    covered_by: str | None = None
    #: The reconcile has settled this ended grant's rule (removed, or nothing to remove).
    released: bool = False
    #: When the reconcile removed the bot's entry this grant used (None: not removed by the bot:
    #: another grant still uses it, a foreign rule admitted the address, or it was gone already).
    rule_removed_at: AwareDatetime | None = None
    #: When the reconcile found an active grant's rule gone (flagged to approvers once).
    rule_vanished_at: AwareDatetime | None = None
    cap_slot: int | None = None
    #: The diagnosis that led to the request, for the approval card.
    verdict: str | None = None
    summary: str | None = None
    #: A warning the approver must see (an Azure-owned address is shared with other tenants).
    warning: str | None = None
    #: The command that failed, repeated to the requester when the rule is active.
    command: str | None = None
    failure_reason: str | None = None
    #: Why it was denied, lapsed, withdrawn or revoked.
    end_reason: str | None = None
    #: Extensions granted: what `Policy.max_extensions` counts. Stored, not derived from
    #: `extensions`: grants stored before that field existed carry only this count.
    extension_count: int = 0
    #: The approvers' answers to requests for more time, oldest first (since `extension_count`
    #: was the only record: it may count granted extensions this list does not show).
    extensions: tuple[ExtensionDecision, ...] = ()
    #: An extension the requester asked for, waiting for an approver.
    extension_requested: timedelta | None = None
    #: When the requester is reminded that the grant expires (None: reminded, or no reminder).
    remind_at: AwareDatetime | None = None
    #: When the approvers are reminded that the request lapses (None: reminded, or none due).
    lapse_remind_at: AwareDatetime | None = None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def approvers_so_far(self) -> tuple[str, ...]:
        return tuple(a.user_id for a in self.approvals)

    @property
    def extension_answers(self) -> int:
        """How many requests for more time were answered, granted or refused: it numbers each
        request and answer, so a request made again after a refusal is news of its own."""
        return self.extension_count + sum(1 for d in self.extensions if d.added is None)


def format_duration(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


# --- what a person typed --------------------------------------------------------------------------


def _visible(text: str) -> int:
    # Zero-width and other format characters, controls and spaces make no justification.
    return sum(1 for c in text if not c.isspace() and unicodedata.category(c)[0] not in "CZ")


def validate_justification(text: str, policy: Policy) -> str:
    """The justification with its surrounding space removed, or `InvalidText`."""
    if len(text) > policy.justification_max_length * 4:
        # Cheap refusal first: a megabyte paste is not a justification.
        raise InvalidText(
            f"Please keep the justification under {policy.justification_max_length} characters."
        )
    cleaned = text.strip()
    if _visible(cleaned) < policy.justification_min_length:
        raise InvalidText(
            f"Please say why you need access in at least {policy.justification_min_length} "
            "characters."
        )
    if len(cleaned) > policy.justification_max_length:
        raise InvalidText(
            f"Please keep the justification under {policy.justification_max_length} characters."
        )
    return cleaned


def validate_reason(text: str | None, policy: Policy, *, required: bool = False) -> str | None:
    """A deny or revoke reason: bounded; None when empty, which `required` refuses."""
    cleaned = (text or "").strip()
    if len(cleaned) > policy.reason_max_length:
        raise InvalidText(f"Please keep the reason under {policy.reason_max_length} characters.")
    if not _visible(cleaned):
        if required:
            raise InvalidText("Please say why: the policy asks for a reason.")
        return None
    return cleaned


def validate_duration(duration: timedelta | None, policy: Policy) -> timedelta:
    """The requested duration (policy default when None) if the policy allows it."""
    chosen = policy.default_duration if duration is None else duration
    if chosen not in policy.allowed_durations:
        raise InvalidDuration(chosen, policy.allowed_durations)
    return chosen


# --- transitions (pure) ---------------------------------------------------------------------------


def _require(grant: Grant, to_state: GrantState) -> None:
    if to_state not in TRANSITIONS.get(grant.state, frozenset()):
        raise InvalidTransition(grant.id, grant.state, to_state)


def _already_decided(grant: Grant, to_state: GrantState) -> AlreadyDecided:
    """Who made the grant what it is, and when: the approver for a decision (approved, active,
    denied), the person who ended it (withdrawn, revoked), nobody for what the bot did (lapsed,
    expired, failed)."""
    if grant.state in (GrantState.APPROVED, GrantState.ACTIVE, GrantState.DENIED):
        by, at = grant.approver, grant.decided_at
    else:
        by, at = grant.ended_by, grant.ended_at
    if by == SYSTEM_ACTOR:
        by = None
    return AlreadyDecided(grant.id, grant.state, to_state, by, at)


def _require_decidable(
    grant: Grant, to_state: GrantState, user_id: str, approvers: Collection[str], now: datetime
) -> None:
    if user_id == grant.requester.user_id:
        raise SelfDecision(user_id)
    if user_id not in approvers:
        raise NotAnApprover(user_id, grant.registry)
    if grant.state is not GrantState.PENDING:
        raise _already_decided(grant, to_state)
    if now >= grant.lapses_at:
        raise RequestLapsed(grant.id, grant.state, to_state)


def approve(
    grant: Grant,
    *,
    approver: str,
    approvers: Collection[str],
    now: datetime,
    policy: Policy,
    duration: timedelta | None = None,
) -> Grant:
    """One approval. The grant becomes `approved` at its `required_approvals`-th distinct
    approval; before that it stays pending with the approval recorded.

    An approver may shorten the duration to another allowed choice, never lengthen it; with two
    approvers the shorter of their choices applies.
    """
    _require_decidable(grant, GrantState.APPROVED, approver, approvers, now)
    if approver in grant.approvers_so_far:
        raise AlreadyApproved(approver)
    chosen = grant.requested_duration if duration is None else duration
    if chosen not in policy.allowed_durations or chosen > grant.requested_duration:
        allowed = tuple(d for d in policy.allowed_durations if d <= grant.requested_duration)
        raise InvalidDuration(
            chosen,
            allowed,
            f"An approver may shorten the duration, not lengthen it: choose up to "
            f"{format_duration(grant.requested_duration)}.",
        )
    approvals = (*grant.approvals, Approval(user_id=approver, at=now, duration=chosen))
    if len(approvals) < grant.required_approvals:
        return grant.model_copy(update={"approvals": approvals})
    return grant.model_copy(
        update={
            "state": GrantState.APPROVED,
            "approvals": approvals,
            "approver": approver,
            "decided_at": now,
            "approved_duration": min(a.duration for a in approvals),
            "activation_due_at": now + policy.activation_timeout,
        }
    )


def deny(
    grant: Grant, *, approver: str, approvers: Collection[str], now: datetime, reason: str | None
) -> Grant:
    """pending → denied (also after a first approval of two)."""
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
        raise NotRequester("withdraw this request")
    if grant.state is not GrantState.PENDING:
        raise _already_decided(grant, GrantState.WITHDRAWN)
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
            f"This request is pending until {grant.lapses_at:%Y-%m-%d %H:%M} UTC.",
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
    grant: Grant,
    *,
    now: datetime,
    policy: Policy,
    entry: str | None,
    covered_by: str | None = None,
) -> Grant:
    """approved → active: the rule is on the registry (verified); the expiry clock starts now.

    `entry` is the bot's entry as the registry spells it, or None when a rule the bot did not
    write, `covered_by`, admits the address (`rule_preexisted`: the grant never removes it).
    """
    _require(grant, GrantState.ACTIVE)
    if grant.state is not GrantState.APPROVED:
        raise InvalidTransition(grant.id, grant.state, GrantState.ACTIVE)
    duration = min(grant.approved_duration or grant.requested_duration, policy.max_duration)
    return grant.model_copy(
        update={
            "state": GrantState.ACTIVE,
            "activated_at": now,
            "expires_at": now + duration,
            "remind_at": _reminder(now, now + duration, policy),
            "rule_entry": entry,
            "rule_preexisted": entry is None,
            "covered_by": covered_by if entry is None else None,
        }
    )


def _reminder(now: datetime, expires_at: datetime, policy: Policy) -> datetime | None:
    """When to remind the requester before `expires_at`; None when that is already past (a
    grant shorter than the reminder lead gets none)."""
    at = expires_at - policy.expiry_reminder
    return at if policy.expiry_reminder > timedelta(0) and at > now else None


def lapse_reminder(requested_at: datetime, lapses_at: datetime, policy: Policy) -> datetime | None:
    """When to remind the approvers of a pending request before it lapses."""
    at = lapses_at - policy.lapse_reminder
    return at if policy.lapse_reminder > timedelta(0) and at > requested_at else None


def mark_reminded(grant: Grant) -> Grant:
    """The requester was reminded of the expiry (until an extension sets a new reminder)."""
    if grant.state is not GrantState.ACTIVE or grant.remind_at is None:
        raise InvalidTransition(grant.id, grant.state, grant.state, "Nothing to remind of.")
    return grant.model_copy(update={"remind_at": None})


def mark_lapse_reminded(grant: Grant) -> Grant:
    if grant.state is not GrantState.PENDING or grant.lapse_remind_at is None:
        raise InvalidTransition(grant.id, grant.state, grant.state, "Nothing to remind of.")
    return grant.model_copy(update={"lapse_remind_at": None})


def request_extension(
    grant: Grant, *, actor: str, duration: timedelta, now: datetime, policy: Policy
) -> Grant:
    """The requester asks an active grant to run longer; an approver decides (`extend`)."""
    if actor != grant.requester.user_id:
        raise NotRequester("ask for an extension of this grant")
    _check_extendable(grant, duration, now, policy)
    return grant.model_copy(update={"extension_requested": duration})


def deny_extension(
    grant: Grant, *, approver: str, approvers: Collection[str], now: datetime
) -> Grant:
    if approver == grant.requester.user_id:
        raise SelfDecision(approver)
    if approver not in approvers:
        raise NotAnApprover(approver, grant.registry)
    if grant.state is not GrantState.ACTIVE or grant.extension_requested is None:
        raise ExtensionRefused(
            grant.id, grant.state, grant.state, "No extension is waiting for a decision."
        )
    decision = ExtensionDecision(by=approver, at=now, asked=grant.extension_requested)
    return grant.model_copy(
        update={"extension_requested": None, "extensions": (*grant.extensions, decision)}
    )


def _check_extendable(grant: Grant, duration: timedelta, now: datetime, policy: Policy) -> None:
    if grant.state is not GrantState.ACTIVE or grant.expires_at is None:
        raise InvalidTransition(grant.id, grant.state, GrantState.ACTIVE)
    if now >= grant.expires_at:
        raise ExtensionRefused(
            grant.id,
            grant.state,
            GrantState.ACTIVE,
            "This grant has expired; its rule is being removed. Ask for a new one.",
        )
    limit = extension_limit(grant, policy)
    if limit is not None:
        raise ExtensionRefused(grant.id, grant.state, GrantState.ACTIVE, limit)
    validate_duration(duration, policy)


def extension_limit(grant: Grant, policy: Policy) -> str | None:
    """Why the policy gives an active grant no more time (it was extended the most times
    allowed, or runs the longest allowed in all), or None while it may be extended."""
    if grant.extension_count >= policy.max_extensions:
        return (
            f"This grant was already extended {grant.extension_count} times, the most allowed; "
            "ask for a new one."
        )
    started = grant.activated_at or grant.requested_at
    if grant.expires_at is not None and grant.expires_at >= started + policy.max_total_duration:
        return (
            f"This grant already runs the longest the policy allows "
            f"({format_duration(policy.max_total_duration)} in all)."
        )
    return None


def fail(grant: Grant, *, reason: str, now: datetime) -> Grant:
    """approved → failed: the rule could not be applied, for `reason`."""
    _require(grant, GrantState.FAILED)
    return grant.model_copy(
        update={
            "state": GrantState.FAILED,
            "failure_reason": reason,
            "ended_by": SYSTEM_ACTOR,
            "ended_at": now,
        }
    )


def extend(
    grant: Grant,
    *,
    approver: str,
    approvers: Collection[str],
    duration: timedelta | None,
    now: datetime,
    policy: Policy,
) -> Grant:
    """active → active with a later expiry, decided by an approver (never the requester):
    `duration` (default: the extension the requester asked for) is added to the expiry, capped
    at the policy's maximum total duration. Refused once the expiry has passed (even before the
    sweep expired it) and beyond the policy's number of extensions."""
    if approver == grant.requester.user_id:
        raise SelfDecision(approver)
    if approver not in approvers:
        raise NotAnApprover(approver, grant.registry)
    chosen = duration if duration is not None else grant.extension_requested
    if chosen is None:
        raise ExtensionRefused(
            grant.id, grant.state, grant.state, "No extension is waiting for a decision."
        )
    _check_extendable(grant, chosen, now, policy)
    assert grant.expires_at is not None  # checked above
    started = grant.activated_at or now
    new_expiry = min(grant.expires_at + chosen, started + policy.max_total_duration)
    decision = ExtensionDecision(
        by=approver,
        at=now,
        asked=grant.extension_requested or chosen,
        added=new_expiry - grant.expires_at,
    )
    return grant.model_copy(
        update={
            "expires_at": new_expiry,
            "extension_count": grant.extension_count + 1,
            "extensions": (*grant.extensions, decision),
            "extension_requested": None,
            "remind_at": _reminder(now, new_expiry, policy),
        }
    )


def expire(grant: Grant, *, now: datetime) -> Grant:
    """active → expired, once its expiry has passed."""
    _require(grant, GrantState.EXPIRED)
    if grant.expires_at is None or now < grant.expires_at:
        raise InvalidTransition(
            grant.id, grant.state, GrantState.EXPIRED, "This grant has not expired yet."
        )
    # It ended at its deadline, whenever the bot got to it; the rule's removal is recorded apart.
    return grant.model_copy(
        update={"state": GrantState.EXPIRED, "ended_by": SYSTEM_ACTOR, "ended_at": grant.expires_at}
    )


def revoke(
    grant: Grant, *, actor: str, approvers: Collection[str], now: datetime, reason: str | None
) -> Grant:
    """approved or active → revoked early, by the requester or an approver of the registry."""
    if actor != grant.requester.user_id and actor not in approvers:
        raise NotRequesterOrApprover(grant.registry)
    if grant.state not in NEEDS_RULE_STATES:
        raise _already_decided(grant, GrantState.REVOKED)
    return grant.model_copy(
        update={
            "state": GrantState.REVOKED,
            "ended_by": actor,
            "ended_at": now,
            "end_reason": reason,
        }
    )


def retire(grant: Grant, *, now: datetime, reason: str) -> Grant:
    """An open grant on a registry the bot no longer manages ends now, by the bot: a pending one
    lapses, an approved or active one is revoked, so its rule is removed by the next reconcile."""
    if grant.state is GrantState.PENDING:
        to_state = GrantState.LAPSED
    elif grant.state in NEEDS_RULE_STATES:
        to_state = GrantState.REVOKED
    else:
        raise InvalidTransition(grant.id, grant.state, grant.state, "It has ended already.")
    return grant.model_copy(
        update={
            "state": to_state,
            "ended_by": SYSTEM_ACTOR,
            "ended_at": now,
            "end_reason": reason,
        }
    )


def release(grant: Grant, *, rule_removed_at: datetime | None = None) -> Grant:
    """An ended grant whose rule the reconcile has settled; it leaves the registry's work list."""
    if grant.state not in RULE_ENDED_STATES:
        raise InvalidTransition(grant.id, grant.state, grant.state, "Only ended grants release.")
    return grant.model_copy(update={"released": True, "rule_removed_at": rule_removed_at})


def flag_vanished(grant: Grant, *, now: datetime) -> Grant:
    """An active grant whose rule someone removed by hand (reported to approvers once)."""
    if grant.state is not GrantState.ACTIVE:
        raise InvalidTransition(grant.id, grant.state, grant.state)
    return grant.model_copy(update={"rule_vanished_at": now})


# --- index rows -----------------------------------------------------------------------------------


class DeadlineKind(StrEnum):
    #: A pending grant lapses.
    LAPSE = "lapse"
    #: The approvers of a pending grant are reminded before it lapses.
    LAPSE_REMINDER = "lapse_reminder"
    #: The requester of an active grant is reminded before it expires.
    EXPIRY_REMINDER = "expiry_reminder"
    #: An approved grant must be active by then.
    ACTIVATION = "activation"
    #: An active grant expires.
    EXPIRY = "expiry"


class IndexRow(NamedTuple):
    """One row of the grant index: (partition, row key). A `claim` row is a uniqueness guard:
    created only if absent, and deleted only by the grant it names."""

    partition: str
    row: str
    claim: bool = False


def slot_row(registry: str, ip: ipaddress.IPv4Address) -> IndexRow:
    return IndexRow(f"slot|{registry}", str(ip), claim=True)


def cap_row(requester: Requester, slot: int) -> IndexRow:
    return IndexRow(f"cap|{requester.team_id}|{requester.user_id}", f"{slot:03d}", claim=True)


def requester_partition(requester: Requester) -> str:
    return f"requester|{requester.team_id}|{requester.user_id}"


def registry_partition(registry: str) -> str:
    return f"registry|{registry}"


def deadline_partition(kind: DeadlineKind) -> str:
    return f"deadline|{kind.value}"


def deadline_row(kind: DeadlineKind, when: datetime, grant_id: str) -> IndexRow:
    return IndexRow(deadline_partition(kind), f"{time_key(when)}|{grant_id}")


def needs_registry_work(grant: Grant) -> bool:
    """Open grants, and ended ones the reconcile has not settled yet."""
    return grant.is_open or (grant.state in RULE_ENDED_STATES and not grant.released)


def index_rows(grant: Grant) -> frozenset[IndexRow]:
    """Every index row `grant`, in its current state, needs. Nothing else decides them."""
    rows: set[IndexRow] = set()
    if grant.is_open:
        rows.add(slot_row(grant.registry, grant.ip))
        rows.add(IndexRow(requester_partition(grant.requester), grant.id))
        if grant.cap_slot is not None:
            rows.add(cap_row(grant.requester, grant.cap_slot))
    if needs_registry_work(grant):
        rows.add(IndexRow(registry_partition(grant.registry), grant.id))
    if grant.state is GrantState.PENDING:
        rows.add(deadline_row(DeadlineKind.LAPSE, grant.lapses_at, grant.id))
        if grant.lapse_remind_at is not None:
            rows.add(deadline_row(DeadlineKind.LAPSE_REMINDER, grant.lapse_remind_at, grant.id))
    if grant.state is GrantState.APPROVED and grant.activation_due_at is not None:
        rows.add(deadline_row(DeadlineKind.ACTIVATION, grant.activation_due_at, grant.id))
    if grant.state is GrantState.ACTIVE and grant.expires_at is not None:
        rows.add(deadline_row(DeadlineKind.EXPIRY, grant.expires_at, grant.id))
        if grant.remind_at is not None:
            rows.add(deadline_row(DeadlineKind.EXPIRY_REMINDER, grant.remind_at, grant.id))
    return frozenset(rows)
