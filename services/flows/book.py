"""The grant book: how every flow reads and changes grants, so crash safety lives in one place.

Writing a transition (`transition`): the index rows the new state needs are written before the
grant, the grant is replaced only if unchanged since it was read (its ETag), the rows the old state
needed are dropped after it, and the audit event follows. A crash at any point leaves either
extra rows (harmless: readers check every row against its grant) or the grant in its old state
with its old rows (the step is simply done again).

Reading an index (`grants_in`): every row is checked against `index_rows(grant)`. A row the grant
does not list is stale: it is dropped once it is older than `GRACE` (a younger one may belong to a
transition or a request still being written, whose rows come first) and never acted on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from services.clock import Clock
from services.domain.audit import transition_event
from services.domain.errors import ConcurrentUpdate, GrantNotFound
from services.domain.grants import Grant, IndexRow, index_rows
from services.domain.jobs import GrantNotice
from services.domain.policy import Policy, RegistryConfig, approver_group_of, approvers_of
from services.ports import ApproverDirectory, AuditLog, GrantStore, IndexEntry, JobQueue


class BookPorts(Protocol):
    """What reading and changing grants touches: the store, the audit log, the queue (for the
    notices announced with a change) and the clock."""

    @property
    def grants(self) -> GrantStore: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def jobs(self) -> JobQueue: ...

    @property
    def clock(self) -> Clock: ...


class ApproverPorts(Protocol):
    """What working out a registry's approvers touches."""

    @property
    def policy(self) -> Policy: ...

    @property
    def approvers(self) -> ApproverDirectory: ...


#: How long an index row that its grant does not (yet) list is left alone.
GRACE = timedelta(minutes=5)


def find(ports: BookPorts, grant_id: str) -> Grant | None:
    try:
        return ports.grants.get(grant_id)[0]
    except GrantNotFound:
        return None


def transition(
    ports: BookPorts,
    grant_id: str,
    change: Callable[[Grant, datetime], Grant],
    *,
    actor: str,
    announce: Callable[[Grant], Sequence[GrantNotice]] | None = None,
) -> tuple[Grant, Grant]:
    """Apply `change` to the stored grant and store the result; returns (before, after).

    `change` raises a `DomainError` to refuse (nothing is written then). On a lost race the
    grant is read again and `change` re-applied, so the loser sees the winner's state. The
    notices `announce` gives for the changed grant are queued before it is stored (see
    `GrantNotice`): a process dying in between loses none.
    """
    while True:
        current, etag = ports.grants.get(grant_id)
        now = ports.clock.now()
        updated = change(current, now)
        if updated == current:
            return current, current
        for notice in announce(updated) if announce is not None else ():
            ports.jobs.send(notice)
        old, new = index_rows(current), index_rows(updated)
        ports.grants.put_rows(new - old, grant_id)
        try:
            ports.grants.replace(updated, etag)
        except ConcurrentUpdate:
            continue
        ports.grants.drop_rows(old - new, grant_id)
        ports.audit.append(transition_event(current, updated, actor=actor, at=now))
        return current, updated


def _key(partition: str, row: str) -> tuple[str, str]:
    return partition, row


def lists(grant: Grant, entry: IndexEntry) -> bool:
    """Whether `grant` in its current state needs the stored row `entry`."""
    return any(_key(r.partition, r.row) == (entry.partition, entry.row) for r in index_rows(grant))


def grants_in(
    ports: BookPorts, partition: str, *, after: str | None = None, until: str | None = None
) -> list[Grant]:
    """The grants an index partition names and that still need their row there (see above)."""
    now = ports.clock.now()
    found: list[Grant] = []
    seen: set[str] = set()
    for entry in ports.grants.rows(partition, after=after, until=until):
        grant = find(ports, entry.grant_id)
        if grant is not None and lists(grant, entry):
            if grant.id not in seen:
                seen.add(grant.id)
                found.append(grant)
        elif now - entry.written_at > GRACE:
            ports.grants.drop_rows([IndexRow(entry.partition, entry.row)], entry.grant_id)
    return found


def claim(
    ports: BookPorts, row: IndexRow, grant_id: str, *, is_live: Callable[[Grant], bool]
) -> Grant | None:
    """Take the claim row for `grant_id`: None when taken, else the live grant that holds it.

    A holder that `is_live` says is over, or a missing one older than `GRACE` (a request that
    crashed halfway), loses the row to us. Raises `ConcurrentUpdate` when the row keeps changing
    under our feet, or is held by a request still being written.
    """
    for _ in range(5):
        if ports.grants.claim(row, grant_id):
            return None
        held = ports.grants.holder(row)
        if held is None:
            continue  # freed meanwhile: claim again
        if held.grant_id == grant_id:
            return None
        holder = find(ports, held.grant_id)
        if holder is not None and is_live(holder):
            return holder
        if holder is None and ports.clock.now() - held.written_at <= GRACE:
            raise ConcurrentUpdate(f"{row.partition}/{row.row}")
        if ports.grants.take_over(row, grant_id, held.etag):
            return None
    raise ConcurrentUpdate(f"{row.partition}/{row.row}")


def approvers_for(
    ports: ApproverPorts, registry: RegistryConfig, user_id: str | None = None
) -> frozenset[str]:
    """Who may approve for `registry`, worked out here and never taken from a caller.

    The registry's own list (or the policy's default) first: when `user_id` is on it, the user
    group is not read. Otherwise the group is read through the approver directory; a group that
    cannot be read raises `DirectoryUnavailable`, so nobody in it can approve meanwhile.
    """
    listed = approvers_of(registry, ports.policy)
    if user_id is not None and user_id in listed:
        return listed
    group = approver_group_of(registry, ports.policy)
    if group is None:
        return listed
    return listed | ports.approvers.members(group)
