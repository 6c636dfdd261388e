"""The grant service against Azurite: lifecycle, races, idempotency, bounded expiry queries."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

import pytest
from pydantic import BaseModel

from services import grants as g
from services.audit import AuditLog
from services.clock import FrozenClock
from services.domain.registry import IpRule
from services.grants import DeadlineKind, Grant, GrantService, GrantState, Requester
from services.idempotency import DeliveryLedger
from services.registry import ChangeOperation, IpOutcome, RegistryChange
from services.settings import RegistryConfig, Settings
from services.store import TableGrantStore, table_service

pytestmark = pytest.mark.azurite

CONTOSO = "contoso.azurecr.io"
FABRIKAM = "fabrikam.azurecr.io"
ALICE = Requester(user_id="UALICE", team_id="T1")
BOB = Requester(user_id="UBOB", team_id="T1")
APPROVERS = frozenset({"UAPP1", "UAPP2"})
IP = "20.103.186.69"
WHY = "deploying the hotfix from the CI runner"
T = TypeVar("T")


class Env:
    def __init__(self, settings: Settings, clock: FrozenClock) -> None:
        tables = table_service(settings)
        self.settings = settings
        self.clock = clock
        self.store = TableGrantStore(tables, prefix=settings.table_prefix)
        self.audit = AuditLog(tables, prefix=settings.table_prefix)
        self.ledger = DeliveryLedger(tables, prefix=settings.table_prefix, clock=clock)
        self.service = GrantService(
            store=self.store, audit=self.audit, settings=settings, clock=clock
        )

    def request(self, ip: str = IP, requester: Requester = ALICE, **kw: Any) -> g.RequestOutcome:
        kw.setdefault("registry", "contoso")
        return self.service.request(ip=ip, requester=requester, justification=WHY, **kw)

    def active(self, ip: str = IP, *, preexisted: bool = False, registry: str = "contoso") -> Grant:
        grant = self.request(ip, registry=registry).grant
        self.service.approve(grant.id, approver="UAPP1", approvers=APPROVERS)
        return self.service.activate(grant.id, rule_preexisted=preexisted)

    def transitions(self, grant_id: str) -> list[tuple[str | None, str | None]]:
        return [
            (e.from_state, e.to_state)
            for e in self.service.history(grant_id)
            if e.kind == "transition"
        ]


@pytest.fixture
def env(azurite_connection_string: str, unique_name: str, clock: FrozenClock) -> Env:
    settings = Settings(
        storage_connection_string=azurite_connection_string,
        table_prefix=unique_name,
        registries=(
            RegistryConfig(name="contoso", subscription_id="s", resource_group="r"),
            RegistryConfig(name="fabrikam", subscription_id="s", resource_group="r"),
        ),
    )
    return Env(settings, clock)


def in_parallel(calls: list[Callable[[], T]]) -> list[T | Exception]:
    """Run the calls on threads released together by a barrier; results or raised exceptions."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T | Exception:
        barrier.wait()
        try:
            return call()
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


# --- lifecycle --------------------------------------------------------------------------------


def test_request_creates_a_pending_grant_with_its_audit_event(env: Env) -> None:
    outcome = env.request(duration=timedelta(hours=8), verdict="ip_not_allowed")
    grant = outcome.grant
    assert outcome.created
    assert grant.state is GrantState.PENDING
    assert grant.registry == CONTOSO
    assert grant.ip == ipaddress.IPv4Address(IP)
    assert grant.requested_duration == timedelta(hours=8)
    assert grant.lapses_at == env.clock.now() + env.settings.policy.pending_ttl
    assert env.service.get(grant.id) == grant
    assert env.transitions(grant.id) == [(None, "pending")]
    assert env.service.open_requests(ALICE) == [grant]


def test_second_request_for_same_registry_and_ip_returns_the_open_grant(env: Env) -> None:
    first = env.request().grant
    again = env.request(f"{IP}/32", requester=BOB)
    assert not again.created
    assert again.grant.id == first.id
    other_registry = env.request(registry="fabrikam")
    assert other_registry.created
    env.service.withdraw(first.id, actor=ALICE.user_id)
    after_end = env.request(requester=BOB)
    assert after_end.created
    assert after_end.grant.id != first.id


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"registry": "unknown.azurecr.io"}, g.UnknownRegistry),
        ({"ip": "10.1.2.3"}, g.InvalidIp),
        ({"ip": "20.103.186.0/24"}, g.InvalidIp),
        ({"justification": "   hotfix  "}, g.InvalidJustification),
        ({"duration": timedelta(hours=3)}, g.InvalidDuration),
    ],
)
def test_bad_requests_are_refused_and_store_nothing(
    env: Env, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    call: dict[str, Any] = {
        "registry": "contoso",
        "ip": IP,
        "requester": ALICE,
        "justification": WHY,
    }
    call.update(kwargs)
    with pytest.raises(error):
        env.service.request(**call)
    assert env.service.open_requests(ALICE) == []
    assert (
        env.store.deadlines(
            DeadlineKind.LAPSE, after=None, until=env.clock.now() + timedelta(days=1)
        )
        == []
    )


def test_too_many_open_requests(env: Env) -> None:
    limit = env.settings.policy.max_open_requests_per_requester
    for i in range(limit):
        env.request(f"20.0.0.{i + 1}")
    with pytest.raises(g.TooManyOpenRequests):
        env.request("20.0.0.99")
    # An existing request is still returned rather than refused.
    assert not env.request("20.0.0.1").created


def test_full_lifecycle_is_audited_in_order(env: Env) -> None:
    grant = env.request().grant
    env.clock.advance(timedelta(minutes=5))
    approved = env.service.approve(grant.id, approver="UAPP1", approvers=APPROVERS)
    assert (approved.state, approved.approver) == (GrantState.APPROVED, "UAPP1")
    active = env.service.activate(grant.id, rule_preexisted=False)
    assert active.expires_at is not None
    assert active.expires_at == env.clock.now() + timedelta(hours=4)
    env.clock.advance(timedelta(hours=1))
    extended = env.service.extend(
        grant.id, approver="UAPP2", approvers=APPROVERS, duration=timedelta(hours=1)
    )
    assert extended.expires_at == active.expires_at + timedelta(hours=1)
    assert extended.extension_count == 1
    env.clock.advance(timedelta(hours=5))
    swept = env.service.sweep()
    assert [x.id for x in swept.expired] == [grant.id]
    assert env.service.get(grant.id).state is GrantState.EXPIRED
    assert env.transitions(grant.id) == [
        (None, "pending"),
        ("pending", "approved"),
        ("approved", "active"),
        ("active", "active"),
        ("active", "expired"),
    ]
    events = env.service.history(grant.id)
    assert [e.actor for e in events] == ["UALICE", "UAPP1", g.SYSTEM_ACTOR, "UAPP2", g.SYSTEM_ACTOR]
    assert events[3].before == {
        "expires_at": active.expires_at.isoformat().replace("+00:00", "Z"),
        "extension_count": 0,
    }
    assert [e.at for e in events] == sorted(e.at for e in events)


@pytest.mark.parametrize("ending", ["deny", "withdraw", "lapse", "fail", "revoke"])
def test_every_ending_is_stored_audited_and_frees_the_slot(env: Env, ending: str) -> None:
    grant = env.request().grant
    expected: list[tuple[str | None, str | None]] = [(None, "pending")]
    if ending == "deny":
        env.service.deny(grant.id, approver="UAPP1", approvers=APPROVERS, reason="use the NAT")
        expected.append(("pending", "denied"))
    elif ending == "withdraw":
        env.service.withdraw(grant.id, actor=ALICE.user_id)
        expected.append(("pending", "withdrawn"))
    elif ending == "lapse":
        env.clock.advance(env.settings.policy.pending_ttl)
        assert [x.id for x in env.service.sweep().lapsed] == [grant.id]
        expected.append(("pending", "lapsed"))
    elif ending == "fail":
        env.service.approve(grant.id, approver="UAPP1", approvers=APPROVERS)
        env.service.fail(grant.id, reason="quota full")
        expected += [("pending", "approved"), ("approved", "failed")]
    else:
        env.service.approve(grant.id, approver="UAPP1", approvers=APPROVERS)
        env.service.activate(grant.id, rule_preexisted=False)
        env.service.revoke(grant.id, actor=ALICE.user_id, approvers=APPROVERS, reason="done")
        expected += [("pending", "approved"), ("approved", "active"), ("active", "revoked")]
    ended = env.service.get(grant.id)
    assert ended.state.value == expected[-1][1]
    assert ended.ended_at == env.clock.now()
    assert env.transitions(grant.id) == expected
    assert env.service.open_requests(ALICE) == []
    assert env.request().created  # the registry+IP slot is free again


def test_refused_transitions_change_nothing(env: Env) -> None:
    grant = env.request().grant
    with pytest.raises(g.InvalidTransition):
        env.service.activate(grant.id, rule_preexisted=False)
    with pytest.raises(g.InvalidTransition):
        env.service.expire(grant.id)
    with pytest.raises(g.InvalidTransition):
        env.service.revoke(grant.id, actor=ALICE.user_id, approvers=APPROVERS)
    with pytest.raises(g.SelfApproval):
        env.service.approve(grant.id, approver=ALICE.user_id, approvers={ALICE.user_id})
    with pytest.raises(g.NotAnApprover):
        env.service.deny(grant.id, approver="USTRANGER", approvers=APPROVERS)
    env.service.approve(grant.id, approver="UAPP1", approvers=APPROVERS)
    with pytest.raises(g.AlreadyDecided):
        env.service.withdraw(grant.id, actor=ALICE.user_id)
    with pytest.raises(g.GrantNotFound):
        env.service.get("01ARZ3NDEKTSV4RRFFQ69G5FAV")
    with pytest.raises(g.GrantNotFound):
        env.service.approve("../etc", approver="UAPP1", approvers=APPROVERS)
    assert env.service.get(grant.id).state is GrantState.APPROVED
    assert env.transitions(grant.id) == [(None, "pending"), ("pending", "approved")]


def test_deciding_after_the_deadline_lapses_the_request(env: Env) -> None:
    grant = env.request().grant
    env.clock.advance(env.settings.policy.pending_ttl + timedelta(seconds=1))
    with pytest.raises(g.RequestLapsed):
        env.service.approve(grant.id, approver="UAPP1", approvers=APPROVERS)
    assert env.service.get(grant.id).state is GrantState.LAPSED


# --- concurrency and idempotency ---------------------------------------------------------------


def test_two_approvers_racing_on_20_grants_store_one_decision_each(env: Env) -> None:
    grants = [
        env.request(f"20.1.0.{i + 1}", requester=Requester(user_id=f"U{i}", team_id="T1")).grant
        for i in range(20)
    ]
    calls: list[Callable[[], Grant]] = []
    for grant in grants:
        calls.append(partial(env.service.approve, grant.id, approver="UAPP1", approvers=APPROVERS))
        calls.append(partial(env.service.deny, grant.id, approver="UAPP2", approvers=APPROVERS))
    results = in_parallel(calls)
    for index, grant in enumerate(grants):
        pair = results[2 * index : 2 * index + 2]
        winners = [r for r in pair if isinstance(r, Grant)]
        losers = [r for r in pair if isinstance(r, g.AlreadyDecided)]
        assert len(winners) == 1, pair
        assert len(losers) == 1, pair
        stored = env.service.get(grant.id)
        assert stored == winners[0]
        assert losers[0].decided_by == stored.approver
        assert losers[0].state is stored.state
        decisions = [t for t in env.transitions(grant.id) if t[0] == "pending"]
        assert decisions == [("pending", stored.state.value)]


def test_the_same_request_made_concurrently_creates_one_grant(env: Env) -> None:
    for n in range(5):
        ip = f"20.2.0.{n + 1}"
        who = Requester(user_id=f"UC{n}", team_id="T1")
        outcomes = in_parallel([partial(env.request, ip, who) for _ in range(6)])
        assert all(isinstance(o, g.RequestOutcome) for o in outcomes), outcomes
        ids = {o.grant.id for o in outcomes if isinstance(o, g.RequestOutcome)}
        assert len(ids) == 1
        assert sum(o.created for o in outcomes if isinstance(o, g.RequestOutcome)) == 1
        (gid,) = ids
        assert env.transitions(gid) == [(None, "pending")]
        # The losers' grants were discarded: one open request, one lapse deadline.
        assert [x.id for x in env.service.open_requests(who)] == [gid]
    later = env.clock.now() + timedelta(days=1)
    assert len(env.store.deadlines(DeadlineKind.LAPSE, after=None, until=later)) == 5


def test_a_delivery_processed_twice_has_one_effect(env: Env) -> None:
    grant = env.request().grant

    def handle(delivery_id: str) -> str:
        if not env.ledger.claim(delivery_id):
            return "skipped"
        env.service.approve(grant.id, approver="UAPP1", approvers=APPROVERS)
        return "done"

    assert (
        in_parallel([lambda: handle("Ev0ABCDEF"), lambda: handle("Ev0ABCDEF")]).count("done") == 1
    )
    assert handle("Ev0ABCDEF") == "skipped"
    assert env.transitions(grant.id) == [(None, "pending"), ("pending", "approved")]


# --- bounded due queries -----------------------------------------------------------------------


def _bulk_active(env: Env, count: int, due: int, soon: int) -> tuple[set[str], set[str]]:
    """`count` active grants: `due` already expired, `soon` expiring in the next 30 minutes."""
    now = env.clock.now()
    grants, due_ids, soon_ids = [], set(), set()
    for i in range(count):
        if i < due:
            expires = now - timedelta(minutes=i + 1)
        elif i < due + soon:
            expires = now + timedelta(minutes=i - due + 1)
        else:
            expires = now + timedelta(hours=1, minutes=i)
        grant = Grant(
            id=g.new_grant_id(now),
            registry=CONTOSO,
            ip=ipaddress.IPv4Address(f"20.3.{i // 250}.{i % 250 + 1}"),
            requester=Requester(user_id=f"U{i % 50}", team_id="T1"),
            justification=WHY,
            requested_duration=timedelta(hours=4),
            approved_duration=timedelta(hours=4),
            state=GrantState.ACTIVE,
            approver="UAPP1",
            requested_at=now - timedelta(hours=4),
            lapses_at=now + timedelta(hours=4),
            activated_at=expires - timedelta(hours=4),
            expires_at=expires,
        )
        grants.append(grant)
        if i < due:
            due_ids.add(grant.id)
        elif i < due + soon:
            soon_ids.add(grant.id)
    env.store.load(grants)
    return due_ids, soon_ids


def test_expiry_and_reminder_queries_read_only_due_index_rows(env: Env) -> None:
    due_ids, soon_ids = _bulk_active(env, 1000, due=10, soon=15)

    env.store.index_rows_read = 0
    due = env.service.due_for_expiry()
    assert {x.id for x in due} == due_ids
    assert env.store.index_rows_read == 10

    env.store.index_rows_read = 0
    soon = env.service.expiring_within(timedelta(minutes=30))
    assert {x.id for x in soon} == soon_ids
    assert env.store.index_rows_read == 15

    env.store.index_rows_read = 0
    assert {x.id for x in env.service.sweep().expired} == due_ids
    assert env.store.index_rows_read == 10  # expiry rows; the lapse index is empty
    env.store.index_rows_read = 0
    assert env.service.due_for_expiry() == []
    assert env.store.index_rows_read == 0


def test_lapse_query_reads_only_overdue_rows(env: Env) -> None:
    overdue = {
        env.request(f"20.4.0.{i + 1}", requester=Requester(user_id=f"U{i}", team_id="T")).grant.id
        for i in range(7)
    }
    env.clock.advance(timedelta(hours=1))
    for i in range(30):
        env.request(f"20.4.1.{i + 1}", requester=Requester(user_id=f"V{i}", team_id="T"))
    env.clock.advance(env.settings.policy.pending_ttl - timedelta(minutes=30))
    env.store.index_rows_read = 0
    assert {x.id for x in env.service.due_for_lapse()} == overdue
    assert env.store.index_rows_read == 7


# --- crash tolerance ---------------------------------------------------------------------------


def test_an_approval_whose_rule_was_never_applied_is_reported_as_stalled(env: Env) -> None:
    stalled = env.request("20.5.0.1").grant
    env.service.approve(stalled.id, approver="UAPP1", approvers=APPROVERS)
    activated = env.request("20.5.0.2").grant
    env.service.approve(activated.id, approver="UAPP1", approvers=APPROVERS)
    failed = env.request("20.5.0.3").grant
    env.service.approve(failed.id, approver="UAPP1", approvers=APPROVERS)
    env.service.activate(activated.id, rule_preexisted=False)
    env.service.fail(failed.id, reason="quota full")

    # Within the activation timeout nothing is stalled: the worker may still be applying it.
    env.clock.advance(env.settings.policy.activation_timeout - timedelta(seconds=1))
    assert env.service.due_for_activation() == []

    env.clock.advance(timedelta(seconds=2))
    env.store.index_rows_read = 0
    result = env.service.sweep()
    assert [x.id for x in result.stalled] == [stalled.id]
    # Only the stalled grant's row is read: activation and failure dropped theirs.
    assert env.store.index_rows_read == 1
    # The sweep reports it and changes nothing: the worker drives it again.
    assert env.service.get(stalled.id).state is GrantState.APPROVED
    env.service.activate(stalled.id, rule_preexisted=False)
    assert env.service.due_for_activation() == []


def test_stale_index_rows_are_tolerated_and_cleaned(env: Env) -> None:
    now = env.clock.now()
    # A row whose grant was never written: left alone while it may still be in flight...
    young = g.new_grant_id(now)
    env.store.put_deadline(DeadlineKind.LAPSE, now - timedelta(minutes=1), young)
    assert env.service.due_for_lapse() == []
    assert env.store.deadlines(DeadlineKind.LAPSE, after=None, until=now) != []
    # ...and dropped once it is clearly left over from a crash.
    ghost = g.new_grant_id(now - timedelta(hours=1))
    env.store.put_deadline(DeadlineKind.EXPIRY, now - timedelta(minutes=1), ghost)
    assert env.service.due_for_expiry() == []
    assert env.store.deadlines(DeadlineKind.EXPIRY, after=None, until=now) == []
    env.clock.advance(timedelta(minutes=10))
    assert env.service.due_for_lapse() == []
    assert env.store.deadlines(DeadlineKind.LAPSE, after=None, until=env.clock.now()) == []

    # A crash left the slot of an ended grant behind: the next request takes it over.
    ended = env.request().grant
    env.service.withdraw(ended.id, actor=ALICE.user_id)
    assert env.store.claim_slot(CONTOSO, ended.ip, ended.id)
    fresh = env.request()
    assert fresh.created
    assert fresh.grant.id != ended.id


def test_activation_in_flight_keeps_its_expiry_row(env: Env) -> None:
    grant = env.request().grant
    env.service.approve(grant.id, approver="UAPP1", approvers=APPROVERS)
    # activate() writes the expiry row first; a sweep that runs before the grant is written
    # must not drop that row.
    when = env.clock.now() - timedelta(seconds=1)
    env.store.put_deadline(DeadlineKind.EXPIRY, when, grant.id)
    assert env.service.due_for_expiry() == []
    assert env.store.deadlines(DeadlineKind.EXPIRY, after=None, until=env.clock.now()) == [
        (when, grant.id)
    ]


def test_a_grant_orphaned_before_its_slot_still_lapses(env: Env) -> None:
    now = env.clock.now()
    orphan = Grant(
        id=g.new_grant_id(now),
        registry=CONTOSO,
        ip=ipaddress.IPv4Address(IP),
        requester=ALICE,
        justification=WHY,
        requested_duration=timedelta(hours=1),
        requested_at=now,
        lapses_at=now + timedelta(hours=1),
    )
    env.store.put_deadline(DeadlineKind.LAPSE, orphan.lapses_at, orphan.id)
    env.store.add_requester_grant(ALICE, orphan.id)
    env.store.create(orphan)  # crash here: no slot
    env.clock.advance(timedelta(hours=1))
    assert [x.id for x in env.service.sweep().lapsed] == [orphan.id]


# --- removable rules ---------------------------------------------------------------------------


def test_removable_ips_when_two_grants_share_an_ip(env: Env) -> None:
    first = env.active()
    env.active(IP, registry="fabrikam")  # same IP on another registry: irrelevant to contoso
    env.clock.advance(timedelta(hours=5))
    env.service.sweep()
    assert [(r.ip, r.grant_ids) for r in env.service.removable_ips("contoso")] == [
        (first.ip, (first.id,))
    ]
    # Before the bot removed it, someone asks again for the same IP and it is approved.
    second = env.request().grant
    assert env.service.removable_ips(CONTOSO)[0].ip == first.ip  # pending needs no rule
    env.service.approve(second.id, approver="UAPP1", approvers=APPROVERS)
    assert env.service.removable_ips(CONTOSO) == []  # approved: its rule is being applied
    env.service.activate(second.id, rule_preexisted=True)
    assert env.service.removable_ips(CONTOSO) == []
    env.clock.advance(timedelta(hours=5))
    env.service.sweep()
    # The second grant found the rule in place; the first grant's rule may go now.
    removable = env.service.removable_ips(CONTOSO)
    assert [(r.ip, r.grant_ids) for r in removable] == [(first.ip, (first.id,))]
    env.service.mark_rules_removed(CONTOSO, removable)
    assert env.service.removable_ips(CONTOSO) == []


def test_preexisting_rules_are_never_removable_and_revoked_ones_are(env: Env) -> None:
    kept = env.active("20.5.0.1", preexisted=True)
    env.service.revoke(kept.id, actor="UAPP1", approvers=APPROVERS)
    gone = env.active("20.5.0.2")
    env.service.revoke(gone.id, actor=ALICE.user_id, approvers=APPROVERS)
    assert [r.ip for r in env.service.removable_ips(CONTOSO)] == [gone.ip]


# --- audit of registry changes and message refs -----------------------------------------------


class RuleChange(BaseModel):
    operation: str
    ips: list[str]
    before: list[str]
    after: list[str]


def test_registry_changes_are_audited_per_registry_and_grant(env: Env) -> None:
    grant = env.active()
    change = RuleChange(operation="add", ips=[IP], before=["1.1.1.1"], after=["1.1.1.1", IP])
    env.service.record_registry_change("contoso", change, actor="UAPP1", grant_ids=[grant.id])
    env.service.record_registry_change(
        CONTOSO, {"operation": "remove", "ips": ["9.9.9.9"]}, actor="acrbot"
    )
    history = env.audit.for_registry(CONTOSO)
    assert [e.detail["operation"] for e in history if e.detail] == ["add", "remove"]
    assert history[0].before == ["1.1.1.1"]
    assert history[0].after == ["1.1.1.1", IP]
    kinds = [e.kind for e in env.service.history(grant.id)]
    assert kinds == ["transition", "transition", "transition", "registry_change"]


def test_the_registry_layers_change_record_is_audited_with_its_rules(env: Env) -> None:
    grant = env.active()
    change = RegistryChange(
        registry=CONTOSO,
        resource_id="/subscriptions/s/resourceGroups/r/providers/x/registries/contoso",
        operation=ChangeOperation.ALLOW,
        ips=(ipaddress.IPv4Address(IP),),
        outcomes={IP: IpOutcome.ADDED},
        rules_before=(IpRule(value="1.1.1.1"),),
        rules_after=(IpRule(value="1.1.1.1"), IpRule(value=IP)),
        written=True,
        dry_run=False,
        request_id="req-1",
        at=env.clock.now(),
    )
    env.service.record_registry_change(CONTOSO, change, actor="UAPP1", grant_ids=[grant.id])
    (event,) = env.audit.for_registry(CONTOSO)
    assert event.before == [{"value": "1.1.1.1", "action": "Allow"}]
    assert event.after == [
        {"value": "1.1.1.1", "action": "Allow"},
        {"value": IP, "action": "Allow"},
    ]
    assert event.detail is not None
    assert event.detail["outcomes"] == {IP: "added"}
    assert event.detail["request_id"] == "req-1"
    assert event.detail["grant_ids"] == [grant.id]


def test_a_registry_that_had_no_rules_is_audited_with_an_empty_before(env: Env) -> None:
    change = RegistryChange(
        registry=CONTOSO,
        resource_id="/subscriptions/s/resourceGroups/r/providers/x/registries/contoso",
        operation=ChangeOperation.ALLOW,
        ips=(ipaddress.IPv4Address(IP),),
        outcomes={IP: IpOutcome.ADDED},
        rules_before=(),
        rules_after=(IpRule(value=IP),),
        written=True,
        dry_run=False,
        at=env.clock.now(),
    )
    env.service.record_registry_change(CONTOSO, change, actor="acrbot")
    (event,) = env.audit.for_registry(CONTOSO)
    assert event.before == []
    assert event.after == [{"value": IP, "action": "Allow"}]


def test_slack_message_refs_are_kept(env: Env) -> None:
    grant = env.request().grant
    refs = [g.SlackRef(channel="D1", ts="1.1"), g.SlackRef(channel="D2", ts="2.2")]
    env.service.attach_messages(grant.id, approval_messages=refs[:1])
    updated = env.service.attach_messages(
        grant.id, approval_messages=refs, requester_thread=g.SlackRef(channel="C1", ts="3.3")
    )
    assert updated.approval_messages == tuple(refs)
    assert env.service.get(grant.id) == updated
