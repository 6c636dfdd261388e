"""Recurring IPs: addresses granted again and again on one registry.

An address that needs a temporary rule every week is not a temporary need: it is a candidate for
a permanent rule (when it is the organisation's own, stable egress) or for a NAT gateway (one
known egress address instead of many short-lived rules). `recurring_ips` finds them in the grant
history; it is pure, so the command line (`python -m bot report`) reads the grants through the
`GrantStore` and hands them in.

A grant counts when it was approved (`approved`, `active`, `expired`, `revoked`); a failed one
never took effect and a denied, lapsed or withdrawn one was never granted, but every request for
the address is counted too, as `requests`.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.diagnosis.known_ips import KnownIps
from services.domain.grants import Grant, GrantState

#: States only an approved grant reaches (a failed one never had its rule).
GRANTED_STATES = frozenset(
    {GrantState.APPROVED, GrantState.ACTIVE, GrantState.EXPIRED, GrantState.REVOKED}
)
#: States in which the address is allowed, or about to be, now.
IN_USE_STATES = frozenset({GrantState.APPROVED, GrantState.ACTIVE})


@dataclass(frozen=True)
class RequesterCount:
    user_id: str
    team_id: str
    grants: int


@dataclass(frozen=True)
class RecurringIp:
    """One address on one registry that was granted at least `min_grants` times."""

    registry: str
    ip: ipaddress.IPv4Address
    #: Approved grants for it.
    grants: int
    #: Every request for it, granted or not.
    requests: int
    first_granted: datetime
    last_granted: datetime
    #: When its latest rule stood: now for a grant in use, else when the latest one ended.
    last_used: datetime
    #: A grant for it is approved or active now.
    in_use: bool
    #: Who asked, most grants first.
    requesters: tuple[RequesterCount, ...]
    #: Its label in the known egress IPs (`ACRBOT_KNOWN_IPS`), if it is there already.
    known_label: str | None = None


def _granted_at(grant: Grant) -> datetime:
    return grant.decided_at or grant.requested_at


def _used_until(grant: Grant, now: datetime) -> datetime:
    if grant.state in IN_USE_STATES:
        return now
    return grant.ended_at or grant.expires_at or _granted_at(grant)


def recurring_ips(
    grants: Iterable[Grant],
    *,
    now: datetime,
    since: datetime | None = None,
    registry: str | None = None,
    min_grants: int = 2,
    known_ips: KnownIps | None = None,
) -> list[RecurringIp]:
    """Addresses granted at least `min_grants` times per registry (requests made at or after
    `since`, on `registry` if given), by registry, most grants first, then the latest used."""
    if min_grants < 1:
        raise ValueError("min_grants must be at least 1")
    requests: Counter[tuple[str, ipaddress.IPv4Address]] = Counter()
    granted: defaultdict[tuple[str, ipaddress.IPv4Address], list[Grant]] = defaultdict(list)
    for grant in grants:
        if since is not None and grant.requested_at < since:
            continue
        if registry is not None and grant.registry != registry:
            continue
        key = (grant.registry, grant.ip)
        requests[key] += 1
        if grant.state in GRANTED_STATES:
            granted[key].append(grant)

    found: list[RecurringIp] = []
    for (login, ip), items in granted.items():
        if len(items) < min_grants:
            continue
        people = Counter((g.requester.user_id, g.requester.team_id) for g in items)
        known = known_ips.lookup(ip) if known_ips is not None else None
        found.append(
            RecurringIp(
                registry=login,
                ip=ip,
                grants=len(items),
                requests=requests[(login, ip)],
                first_granted=min(_granted_at(g) for g in items),
                last_granted=max(_granted_at(g) for g in items),
                last_used=max(_used_until(g, now) for g in items),
                in_use=any(g.state in IN_USE_STATES for g in items),
                requesters=tuple(
                    RequesterCount(user, team, count)
                    for (user, team), count in sorted(
                        people.items(), key=lambda item: (-item[1], item[0])
                    )
                ),
                known_label=known.label if known is not None else None,
            )
        )
    found.sort(key=lambda r: (r.registry, -r.grants, -r.last_used.timestamp(), int(r.ip)))
    return found
