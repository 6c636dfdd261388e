"""The flows on the real adapters: Table Storage, blob leases and the Storage queue on Azurite, ARM
through azure-mgmt-containerregistry against the loopback emulator; wired by `build_ports` from
settings in the environment, as the Function app wires them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from azure.storage.queue import QueueMessage

from sandbox.queue_runner import QueueRunner
from services.domain.grants import GrantState, Requester
from services.domain.jobs import SERVICE_JOBS, ReconcileJob
from services.flows.reconcile import ReconcileStatus, reconcile_registry, run_reconcile_job
from services.flows.requests import request_grant
from services.flows.sweep import sweep
from tests.services.conftest import LOGIN, REG, Env, approve_many

pytestmark = pytest.mark.azurite


def handler(env: Env):
    def handle(message: QueueMessage) -> None:
        job = SERVICE_JOBS.validate_json(message.content)
        if isinstance(job, ReconcileJob):
            run_reconcile_job(env.ports, job)

    return handle


def test_fifty_approvals_four_workers_default_settings(env: Env) -> None:
    ids = approve_many(env, 50)
    runner = QueueRunner.for_storage(env.settings.storage, env.settings.queue_name, handler(env))

    def all_active() -> bool:
        return all(env.ports.grants.get(i)[0].state is GrantState.ACTIVE for i in ids)

    stats = runner.drain(workers=4, until=all_active, timeout=90)
    assert stats.errors == []
    assert all_active()
    assert len(env.emulator.rules(REG)) == 51  # 50 + the foreign rule, none lost
    patches = env.emulator.count("patch_registry")
    assert patches < 10
    print(f"\n50 approvals, 4 workers: {patches} PATCHes, {env.emulator.count()} ARM calls")


def test_arm_calls_of_one_approval(env: Env) -> None:
    [grant_id] = approve_many(env, 1)
    env.emulator.clear_log()
    report = reconcile_registry(env.ports, LOGIN)
    assert report.status is ReconcileStatus.DONE
    kinds = [r.kind for r in env.emulator.requests]
    # The PATCH answers 200 at once, as live ARM does; the read back verifies it.
    assert kinds == ["list_usages", "get_registry", "patch_registry", "get_registry"]
    assert env.ports.grants.get(grant_id)[0].state is GrantState.ACTIVE


def test_crash_after_the_patch_then_the_same_reconcile_converges(env: Env) -> None:
    [grant_id] = approve_many(env, 1)

    # The PATCH lands and ARM answers it asynchronously; the poll that follows is dropped until
    # the client gives up, which is how a worker dying mid-operation looks from the store's
    # side: intent written, no outcome.
    env.emulator.patch_status = 201
    env.emulator.inject("operation_status", drop=True, times=10)
    report = reconcile_registry(env.ports, LOGIN)
    assert report.status is ReconcileStatus.RETRY
    assert "20.1.0.1" in env.emulator.rules(REG)
    assert env.ports.grants.get(grant_id)[0].state is GrantState.APPROVED
    report = reconcile_registry(env.ports, LOGIN)
    assert report.status is ReconcileStatus.DONE
    assert not report.patched
    grant = env.ports.grants.get(grant_id)[0]
    assert grant.state is GrantState.ACTIVE
    assert not grant.rule_preexisted
    assert env.emulator.rules(REG) == ["1.1.1.1", "20.1.0.1"]
    env.clock.advance(timedelta(hours=2))
    assert sweep(env.ports).registries == [LOGIN]
    reconcile_registry(env.ports, LOGIN)
    assert env.emulator.rules(REG) == ["1.1.1.1"]


def test_six_concurrent_requests_against_a_cap_of_three_on_table_storage(env: Env) -> None:
    import threading

    barrier = threading.Barrier(6)
    outcomes: list[object] = []

    def go(i: int) -> None:
        barrier.wait()
        try:
            outcomes.append(
                request_grant(
                    env.ports,
                    registry=LOGIN,
                    ip=f"20.1.2.{i + 1}",
                    requester=Requester(user_id="U0SAME", team_id="T1"),
                    justification="six at once, three allowed",
                )
            )
        except Exception as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    created = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(created) == 3, outcomes
    assert {type(e).__name__ for e in refused} == {"TooManyOpenRequests"}
    assert len(list(env.ports.grants.scan())) == 3


def test_the_whole_lifecycle_is_audited(env: Env) -> None:
    [grant_id] = approve_many(env, 1)
    reconcile_registry(env.ports, LOGIN)
    env.clock.advance(timedelta(hours=2))
    sweep(env.ports)
    reconcile_registry(env.ports, LOGIN)
    events = env.ports.audit.for_grant(grant_id)
    states = [e.to_state for e in events if e.kind == "transition"]
    assert states[0] == "pending"
    assert "active" in states
    assert "expired" in states
    changes = [e for e in events if e.kind == "registry_change"]
    assert [c.detail["added"] for c in changes if c.detail and c.detail["added"]] == [["20.1.0.1"]]
    assert [c.detail["removed"] for c in changes if c.detail and c.detail["removed"]] == [
        ["20.1.0.1"]
    ]
    registry_changes = env.ports.audit.for_registry(LOGIN)
    assert len(registry_changes) == 2
    assert registry_changes[0].before == [{"action": "Allow", "value": "1.1.1.1"}]
