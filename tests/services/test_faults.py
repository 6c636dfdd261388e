"""Faults the emulators play for real, against the real adapters (Azurite, the ARM SDK on the
loopback emulator): a PATCH that lands late, a lease lost during a slow PATCH, rules changed while
the bot writes, a registry taken out of the configuration. Each was a defect (issue "Real faults");
each test names what the bot must not do and makes the fault happen on the wire."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

import pytest
from azure.storage.blob import BlobLeaseClient

from services.azure.clients import blob_service
from services.azure.lock import BlobLeaseLock
from services.bootstrap import build_ports
from services.domain.grants import GrantState
from services.domain.jobs import GrantEvent, GrantNotice, RegistryNotice
from services.flows.reconcile import ReconcileReport, ReconcileStatus, reconcile_registry
from services.flows.sweep import sweep
from services.settings import Settings
from tests.sandbox_helpers import StaticTokenCredential
from tests.services.conftest import LOGIN, REG, Env, approve_many

pytestmark = pytest.mark.azurite


def queued(env: Env, kind: type) -> list:
    """Jobs of `kind` on the Storage queue (read without taking them)."""
    from services.azure.clients import queue_client
    from services.domain.jobs import SERVICE_JOBS

    client = queue_client(env.settings.storage, env.settings.queue_name)
    found = []
    for message in client.peek_messages(max_messages=32):
        job = SERVICE_JOBS.validate_json(message.content)
        if isinstance(job, kind):
            found.append(job)
    return found


def with_read_timeout(env: Env, monkeypatch, seconds: float) -> Env:
    monkeypatch.setenv("ACRBOT_ARM__READ_TIMEOUT", str(seconds))
    settings = Settings()
    ports = build_ports(settings, clock=env.clock, credential=StaticTokenCredential())
    return Env(ports, env.emulator, settings, env.clock)


def test_a_patch_that_lands_late_takes_no_rule_of_another_grant(env: Env, monkeypatch) -> None:
    # Defect 1: the adapter re-sent a PATCH whose answer timed out; the first copy landed after
    # the retry, the verify and the lock release, with its stale list.
    env = with_read_timeout(env, monkeypatch, 0.5)
    [first] = approve_many(env, 1)
    gate = env.emulator.land_late("patch_registry")
    report = reconcile_registry(env.ports, LOGIN)
    assert report.status is ReconcileStatus.RETRY  # no answer: unknown, never "done" or re-sent
    assert env.emulator.count("patch_registry") == 1

    # While it is in flight, an administrator adds a rule and a second grant is approved.
    env.emulator.add_rule(REG, "5.5.5.5")
    [second] = _approve_another(env, "20.9.9.9")
    fenced = reconcile_registry(env.ports, LOGIN)
    assert fenced.status is ReconcileStatus.RETRY
    assert env.emulator.count("patch_registry") == 1  # the registry stays unwritten meanwhile

    gate.set()  # the stale write lands now, without 5.5.5.5
    env.emulator.wait_idle()
    assert env.emulator.rules(REG) == ["1.1.1.1", "20.1.0.1"]

    done = reconcile_registry(env.ports, LOGIN)
    assert done.status is ReconcileStatus.DONE
    assert env.emulator.rules(REG) == ["1.1.1.1", "20.1.0.1", "20.9.9.9"]
    assert env.emulator.count("patch_registry") == 2
    for grant_id in (first, second):
        assert env.ports.grants.get(grant_id)[0].state is GrantState.ACTIVE
    # The administrator's rule that the late write took is named to the approvers.
    assert done.taken_late == ["5.5.5.5"]
    [notice] = queued(env, RegistryNotice)
    assert notice.vanished == ("5.5.5.5",)
    assert notice.late
    # And no grant is called "removed by hand".
    env.clock.advance(timedelta(minutes=5))
    assert reconcile_registry(env.ports, LOGIN, check=True).vanished == []


def _approve_another(env: Env, ip: str) -> list[str]:
    from services.domain.grants import Requester
    from services.flows.decisions import approve_grant
    from services.flows.requests import request_grant
    from tests.services.conftest import APPROVER

    grant = request_grant(
        env.ports,
        registry=LOGIN,
        ip=ip,
        requester=Requester(user_id="U0OTHER", team_id="T1"),
        justification="a second grant while the first write is in flight",
        duration=timedelta(hours=1),
    ).grant
    approve_grant(env.ports, grant.id, approver=APPROVER)
    return [grant.id]


def test_an_unanswered_write_that_never_lands_is_written_after_the_fence(
    env: Env, monkeypatch
) -> None:
    env = with_read_timeout(env, monkeypatch, 0.5)
    [grant_id] = approve_many(env, 1)
    gate = env.emulator.land_late("patch_registry")
    started = env.clock.now()
    report = reconcile_registry(env.ports, LOGIN)
    while report.status is ReconcileStatus.RETRY:
        # Each run reads, sees the write has not landed, and writes nothing.
        assert env.emulator.count("patch_registry") == 1
        assert report.retry_after is not None
        env.clock.advance(report.retry_after)
        report = reconcile_registry(env.ports, LOGIN)
    assert report.status is ReconcileStatus.DONE
    # Only once ARM could no longer apply it (the fence: two minutes) was the write made again.
    assert env.clock.now() - started >= timedelta(seconds=120)
    assert env.emulator.count("patch_registry") == 2
    assert env.ports.grants.get(grant_id)[0].state is GrantState.ACTIVE
    assert env.emulator.rules(REG) == ["1.1.1.1", "20.1.0.1"]
    gate.set()  # release the emulator's thread (its list is the same)
    env.emulator.wait_idle()


def test_a_lease_lost_during_a_slow_patch_lets_no_second_writer(env: Env) -> None:
    # Defect 2: the lease was checked before the PATCH only; a second reconcile took the lapsed
    # lease and wrote too; both reported done and one grant was active without its rule.
    [first] = approve_many(env, 1)
    [second] = _approve_another(env, "20.9.9.9")
    container = blob_service(env.settings.storage).get_container_client(
        env.settings.arm.lock_container
    )
    blob = container.get_blob_client(BlobLeaseLock.blob_name(REG))
    others: list[ReconcileReport] = []

    def lease_lapses_and_another_worker_runs(_emulator) -> None:
        # Renewals refused from now on: the lease is broken, as a storage outage longer than
        # the lease would leave it; then a second worker reconciles the same registry.
        BlobLeaseClient(blob).break_lease(lease_break_period=0)
        worker = threading.Thread(
            target=lambda: others.append(reconcile_registry(env.ports, LOGIN))
        )
        worker.start()
        worker.join()

    env.emulator.on("patch_registry", lease_lapses_and_another_worker_runs)
    report = reconcile_registry(env.ports, LOGIN)
    assert report.status is ReconcileStatus.RETRY  # lease lost: unknown, never "done"
    [other] = others
    assert other.status is ReconcileStatus.RETRY  # it took the lease but the fence held it
    assert env.emulator.count("patch_registry") == 1
    for grant_id in (first, second):
        assert env.ports.grants.get(grant_id)[0].state is GrantState.APPROVED

    done = reconcile_registry(env.ports, LOGIN)  # sees the write landed, settles it
    assert done.status is ReconcileStatus.DONE
    assert not done.patched
    assert sorted(env.emulator.rules(REG)) == ["1.1.1.1", "20.1.0.1", "20.9.9.9"]
    for grant_id in (first, second):
        assert env.ports.grants.get(grant_id)[0].state is GrantState.ACTIVE


def test_a_rule_removed_between_the_patch_and_the_read_back_is_reported(env: Env) -> None:
    env.emulator.add_rule(REG, "7.7.7.7")
    approve_many(env, 1)
    env.emulator.between(
        "patch_registry",
        "get_registry",
        lambda emu: emu.set_rules(REG, ["1.1.1.1", "20.1.0.1", "8.8.8.8"]),
    )
    report = reconcile_registry(env.ports, LOGIN)
    assert report.status is ReconcileStatus.RETRY  # verification: a kept rule is gone
    [notice] = queued(env, RegistryNotice)
    assert notice.vanished == ("7.7.7.7",)
    assert notice.appeared == ("8.8.8.8",)
    assert notice.rules_written == ("1.1.1.1", "7.7.7.7", "20.1.0.1")
    assert notice.rules_after == ("1.1.1.1", "20.1.0.1", "8.8.8.8")


def test_the_bot_writes_nothing_between_its_read_and_its_write(env: Env) -> None:
    # Defect 3: intent rows were written to Table Storage between the GET and the PATCH (25 ms for
    # one grant, 682 ms for fifty), widening the window in which an administrator's edit is
    # overwritten. Now the intent goes before the GET: between the GET's answer and the PATCH the
    # bot sends nothing at all (the figure is in bench/reconcile.py).
    approve_many(env, 20)
    sent: list[str] = []

    class Requests(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().startswith("Request URL:"):
                sent.append(record.getMessage())

    env.emulator.on("get_registry", lambda _emu: sent.append("GET answered next"))
    env.emulator.on("patch_registry", lambda _emu: sent.append("PATCH arrived"))
    handler = Requests()
    wire = logging.getLogger("azure.core.pipeline.policies.http_logging_policy")
    level = wire.level
    wire.addHandler(handler)
    wire.setLevel(logging.INFO)
    try:
        report = reconcile_registry(env.ports, LOGIN)
    finally:
        wire.removeHandler(handler)
        wire.setLevel(level)
    assert report.patched
    window = sent[sent.index("GET answered next") + 1 : sent.index("PATCH arrived")]
    # Only the PATCH's own request line: no Table Storage, no blob, no other ARM call.
    assert len(window) == 1, window
    assert "registries/contoso" in window[0]
    assert report.window_ms is not None


def test_a_registry_taken_out_of_the_configuration_is_cleared(env: Env, monkeypatch) -> None:
    # Defect 5: its reconcile was dropped with a log line; its rules stayed forever while the
    # card said "the rule is removed".
    [grant_id] = approve_many(env, 1)
    reconcile_registry(env.ports, LOGIN)
    assert env.emulator.rules(REG) == ["1.1.1.1", "20.1.0.1"]

    monkeypatch.setenv("ACRBOT_REGISTRIES", "[]")
    settings = Settings()
    ports = build_ports(settings, clock=env.clock, credential=StaticTokenCredential())
    report = sweep(ports)
    assert report.unmanaged == [LOGIN]
    assert LOGIN in report.registries
    done = reconcile_registry(ports, LOGIN)
    assert done.status is ReconcileStatus.DONE
    assert done.unmanaged
    assert env.emulator.rules(REG) == ["1.1.1.1"]  # the bot's entry only; the foreign rule stays
    grant = ports.grants.get(grant_id)[0]
    assert grant.state is GrantState.REVOKED
    assert grant.released
    assert grant.rule_removed_at is not None
    events = [j.event for j in queued(env, GrantNotice) if j.grant_id == grant_id]
    assert GrantEvent.REVOKED in events
    assert GrantEvent.RULE_REMOVED in events
    assert ports.grants.entries(LOGIN) == []
    assert sweep(ports).unmanaged == []
