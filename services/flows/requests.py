"""Requesting a grant, and withdrawing a request.

Everything a person typed is checked before anything is stored. Two guards hold under
concurrency because they are claim rows (created only if absent), never count-then-write:
- the registry+IP slot: a second request for the same address returns the open grant;
- the requester's open-request cap: slots `000…` up to the policy's limit, one per open grant.
Order of writes: cap claim, index rows, the grant, then the registry+IP slot, the audit event and
the `requested` notice. A request made again with the same `grant_id` (the job's redelivery after
its worker died) resumes where the first stopped; the sweep re-announces a pending grant whose
approval card never went out.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from services.domain.audit import transition_event
from services.domain.errors import (
    ConcurrentUpdate,
    InvalidTransition,
    NotAnIp,
    NotRequester,
    OfferExpired,
    TooManyOpenRequests,
)
from services.domain.grants import (
    AGAIN_STATES,
    Grant,
    GrantState,
    MessageRef,
    Requester,
    cap_row,
    index_rows,
    lapse,
    lapse_reminder,
    slot_row,
    validate_duration,
    validate_justification,
    withdraw,
)
from services.domain.ids import new_ulid, sibling_ulid, time_key
from services.domain.ips import parse_grantable_ip
from services.domain.jobs import GrantEvent, GrantNotice
from services.domain.offers import OFFER_TTL
from services.domain.policy import Policy, RegistryDirectory
from services.flows.book import BookPorts, claim, find, transition

#: Longest diagnosis text kept on a grant (it is shown on the approval card, not parsed).
_CONTEXT_CHARS = 600


class RequestPorts(BookPorts, Protocol):
    """What asking for a grant touches: the grant book, and the registries and policy it is
    checked against."""

    @property
    def registries(self) -> RegistryDirectory: ...

    @property
    def policy(self) -> Policy: ...


class RequestOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    grant: Grant
    #: False when an open grant for the same registry and IP already existed and is returned.
    created: bool
    #: The grants for an offer's other addresses (a resource's egress), created or existing.
    also: tuple[Grant, ...] = ()


def _clip(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()
    return (text[: _CONTEXT_CHARS - 1] + "…") if len(text) > _CONTEXT_CHARS else (text or None)


def request_grant(
    ports: RequestPorts,
    *,
    registry: str,
    ip: str | ipaddress.IPv4Address,
    requester: Requester,
    justification: str,
    duration: timedelta | None = None,
    verdict: str | None = None,
    summary: str | None = None,
    warning: str | None = None,
    command: str | None = None,
    origin: MessageRef | None = None,
    grant_id: str | None = None,
) -> RequestOutcome:
    """Ask for a time-limited allow rule for one public IPv4 address on a managed registry.

    Returns the existing open grant for the same registry and address instead of a second one
    (also under concurrency). Raises `RegistryNotManaged`, an `UnsupportedIp`, `InvalidText`,
    `InvalidDuration`, `TooManyOpenRequests`; nothing is stored then. `grant_id` names the grant
    to make: a second call with the same id (a redelivery) finishes the first one's work.
    """
    config = ports.registries.get(registry)
    address = parse_grantable_ip(ip)
    reason = validate_justification(justification, ports.policy)
    chosen = validate_duration(duration, ports.policy)
    login = config.effective_login_server

    mine = find(ports, grant_id) if grant_id is not None else None
    if mine is not None:
        return _announce_request(ports, mine, origin)
    existing = open_grant_for(ports, login, address)
    if existing is not None:
        return RequestOutcome(grant=existing, created=False)

    now = ports.clock.now()
    grant = Grant(
        id=grant_id or new_ulid(now),
        registry=login,
        ip=address,
        requester=requester,
        justification=reason,
        requested_duration=chosen,
        required_approvals=config.required_approvals,
        requested_at=now,
        lapses_at=now + ports.policy.pending_ttl,
        lapse_remind_at=lapse_reminder(now, now + ports.policy.pending_ttl, ports.policy),
        verdict=verdict,
        summary=_clip(summary),
        warning=_clip(warning),
        command=_clip(command),
    )
    try:
        grant = grant.model_copy(update={"cap_slot": _claim_cap(ports, grant)})
    except TooManyOpenRequests:
        # A double click racing itself is a duplicate, not one request too many.
        existing = open_grant_for(ports, login, address)
        if existing is not None:
            return RequestOutcome(grant=existing, created=False)
        raise
    ports.grants.put_rows(index_rows(grant), grant.id)
    try:
        ports.grants.create(grant)
    except ConcurrentUpdate:
        if grant_id is None:
            raise
        grant = ports.grants.get(grant.id)[0]  # made by the attempt that died: carry on
    return _announce_request(ports, grant, origin)


def _announce_request(
    ports: RequestPorts, grant: Grant, origin: MessageRef | None
) -> RequestOutcome:
    """The steps after the grant is stored, each safe to repeat: where to tell the requester,
    the registry+IP slot, the audit event and the `requested` notice."""
    if origin is not None:
        ports.grants.add_message(grant.id, origin)
    now = ports.clock.now()
    try:
        holder = claim(
            ports, slot_row(grant.registry, grant.ip), grant.id, is_live=_is_live(ports, now)
        )
    except ConcurrentUpdate:
        _discard(ports, grant)
        raise
    if holder is not None:
        _discard(ports, grant)
        return RequestOutcome(grant=holder, created=False)
    # One creation event however often this runs: its id is the grant's.
    ports.audit.append(
        transition_event(
            None,
            grant,
            actor=grant.requester.user_id,
            at=grant.requested_at,
            event_id=f"{time_key(grant.requested_at)}|000000000000|{grant.id}",
        )
    )
    ports.jobs.send(GrantNotice(grant_id=grant.id, event=GrantEvent.REQUESTED))
    return RequestOutcome(grant=grant, created=True)


def _is_live(ports: RequestPorts, now: datetime) -> Callable[[Grant], bool]:
    def live(grant: Grant) -> bool:
        if grant.state is GrantState.PENDING and now >= grant.lapses_at:
            current = lapse_quietly(ports, grant.id)
            return current is not None and current.is_open
        return grant.is_open

    return live


def _claim_cap(ports: RequestPorts, grant: Grant) -> int:
    """The first free open-request slot of the requester; `TooManyOpenRequests` if none."""
    limit = ports.policy.max_open_requests_per_requester
    now = ports.clock.now()
    for slot in range(limit):
        try:
            holder = claim(
                ports, cap_row(grant.requester, slot), grant.id, is_live=_is_live(ports, now)
            )
        except ConcurrentUpdate:
            continue  # held by a request still being written: it counts as open
        if holder is None:
            return slot
    raise TooManyOpenRequests(grant.requester.user_id, limit)


def _discard(ports: RequestPorts, grant: Grant) -> None:
    """Undo a request that lost the race for its slot (it was never shown to anyone)."""
    ports.grants.delete(grant.id)
    ports.grants.drop_rows(index_rows(grant), grant.id)


def open_grant_for(ports: RequestPorts, registry: str, ip: ipaddress.IPv4Address) -> Grant | None:
    """The open grant holding the registry+IP slot, if any (lapsing an overdue pending one)."""
    held = ports.grants.holder(slot_row(registry, ip))
    if held is None:
        return None
    grant = find(ports, held.grant_id)
    if grant is None:
        return None
    if grant.state is GrantState.PENDING and ports.clock.now() >= grant.lapses_at:
        lapse_quietly(ports, grant.id)
        return None
    return grant if grant.is_open else None


def lapse_quietly(ports: RequestPorts, grant_id: str) -> Grant | None:
    """Lapse an overdue pending grant found on the way; None when it lapsed (or is gone),
    else the grant as it is (decided meanwhile)."""
    try:
        transition(
            ports,
            grant_id,
            lambda g, now: lapse(g, now=now),
            actor="acrbot",
            announce=lambda g: [GrantNotice(grant_id=g.id, event=GrantEvent.LAPSED)],
        )
    except InvalidTransition:
        return find(ports, grant_id)
    return None


def withdraw_request(ports: RequestPorts, grant_id: str, *, actor: str) -> Grant:
    """pending → withdrawn by the requester (`NotRequester`, `AlreadyDecided` otherwise)."""
    _, after = transition(
        ports,
        grant_id,
        lambda g, now: withdraw(g, actor=actor, now=now),
        actor=actor,
        announce=lambda g: [GrantNotice(grant_id=g.id, event=GrantEvent.WITHDRAWN, actor=actor)],
    )
    return after


def request_from_offer(
    ports: RequestPorts,
    offer_id: str,
    *,
    requester: Requester,
    justification: str,
    duration: timedelta | None = None,
    ip: str | None = None,
    origin: MessageRef | None = None,
    grant_id: str | None = None,
) -> RequestOutcome:
    """A request made from a diagnosis card: the registry and the address come from the offer,
    never from the caller. `ip` is used only when the offer has none (the paste hid it); it is
    then checked like any other. Raises `OfferExpired` and what `request_grant` raises."""
    offer = ports.grants.get_offer(offer_id)
    if offer is None or ports.clock.now() - offer.created_at > OFFER_TTL:
        raise OfferExpired()
    address: str | ipaddress.IPv4Address
    if offer.ip is not None:
        address = offer.ip
    else:
        if not ip or not ip.strip():
            raise NotAnIp(ip or "")
        address = ip

    def one(ip: str | ipaddress.IPv4Address, number: int) -> RequestOutcome:
        return request_grant(
            ports,
            registry=offer.registry,
            ip=ip,
            requester=requester,
            justification=justification,
            duration=duration,
            verdict=offer.verdict,
            summary=offer.summary,
            warning=offer.warning,
            command=offer.command,
            origin=origin,
            grant_id=(
                grant_id if grant_id is None or number == 0 else sibling_ulid(grant_id, number)
            ),
        )

    first = one(address, 0)
    if not offer.more_ips:
        return first
    # One request, one grant per address: each is approved, applied and expires on its own, and
    # a redelivery finds each one by its id instead of asking twice.
    more = tuple(one(ip, n).grant for n, ip in enumerate(offer.more_ips, start=1))
    return first.model_copy(update={"also": more})


def request_again(
    ports: RequestPorts,
    old_grant_id: str,
    *,
    requester: Requester,
    justification: str,
    duration: timedelta | None = None,
    origin: MessageRef | None = None,
    grant_id: str | None = None,
) -> RequestOutcome:
    """ "Request again" on a request that ended (expired, lapsed, denied, failed): a new request
    for the same registry and address, by the same person, with what the diagnosis said then.
    Only its requester may ask again (`NotRequester`); one still open, or revoked or withdrawn
    on purpose, is refused (`InvalidTransition`). Checked like any request otherwise."""
    old = ports.grants.get(old_grant_id)[0]
    if requester.user_id != old.requester.user_id:
        raise NotRequester("ask for this again")
    if old.state not in AGAIN_STATES:
        raise InvalidTransition(
            old.id,
            old.state,
            GrantState.PENDING,
            f"This request is {old.state.value}; it cannot be asked for again from here.",
        )
    return request_grant(
        ports,
        registry=old.registry,
        ip=old.ip,
        requester=requester,
        justification=justification,
        duration=duration,
        origin=origin,
        grant_id=grant_id,
        **old.model_dump(include={"verdict", "summary", "warning", "command"}),
    )
