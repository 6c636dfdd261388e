"""A thousand grants on five registries, three hundred expiring in one sweep: each registry's
rules change in exactly one update, and exactly the right rules are left (Azurite and the ARM
emulator, the adapters wired from settings)."""

from __future__ import annotations

import ipaddress
import json
import time
from datetime import timedelta

import pytest

from sandbox.arm_emulator import ArmEmulator
from services.bootstrap import build_ports
from services.clock import FrozenClock
from services.domain.grants import Grant, GrantState, Requester, index_rows
from services.domain.ids import new_ulid
from services.domain.reconcile import EntryState, OwnedEntry
from services.flows.reconcile import ReconcileStatus, reconcile_registry
from services.flows.sweep import sweep
from services.settings import Settings
from tests.sandbox_helpers import RESOURCE_GROUP, SUBSCRIPTION, StaticTokenCredential

pytestmark = pytest.mark.azurite

REGISTRIES = [f"contosoreg{i}" for i in range(5)]


def grant(clock: FrozenClock, registry: str, ip: str, state: GrantState, **extra) -> Grant:
    now = clock.now()
    values = {
        "id": new_ulid(now),
        "registry": f"{registry}.azurecr.io",
        "ip": ipaddress.IPv4Address(ip),
        "requester": Requester(user_id=f"U{ip.replace('.', '')}", team_id="T1"),
        "justification": "history for the scale test",
        "requested_duration": timedelta(hours=1),
        "requested_at": now - timedelta(hours=2),
        "lapses_at": now + timedelta(hours=6),
        "state": state,
    }
    values.update(extra)
    return Grant(**values)


def test_three_hundred_expiries_on_five_registries_are_five_updates(
    azurite_connection_string, unique_name, monkeypatch, clock: FrozenClock
) -> None:
    with ArmEmulator() as arm:
        grants: list[Grant] = []
        entries: list[OwnedEntry] = []
        expected: dict[str, list[str]] = {}
        now = clock.now()
        for r, name in enumerate(REGISTRIES):
            foreign = [f"9.9.{r}.1", f"9.9.{r}.0/24"]
            rules = list(foreign)
            keep = list(foreign)
            for i in range(80):  # 80 active: 60 expire now, 20 later
                ip = f"20.{r}.{i // 200}.{i % 200 + 1}"
                expiring = i < 60
                g = grant(
                    clock,
                    name,
                    ip,
                    GrantState.ACTIVE,
                    decided_at=now - timedelta(hours=1),
                    activated_at=now - timedelta(hours=1),
                    expires_at=now - timedelta(minutes=1) if expiring else now + timedelta(hours=3),
                    rule_entry=ip,
                )
                grants.append(g)
                rules.append(ip)
                entries.append(
                    OwnedEntry(
                        registry=g.registry,
                        ip=g.ip,
                        value=ip,
                        state=EntryState.PRESENT,
                        updated_at=now,
                    )
                )
                if not expiring:
                    keep.append(ip)
            for i in range(40):  # pending requests for other addresses
                grants.append(grant(clock, name, f"30.{r}.0.{i + 1}", GrantState.PENDING))
            for i in range(80):  # history: long ended and settled
                grants.append(
                    grant(
                        clock,
                        name,
                        f"40.{r}.0.{i + 1}",
                        GrantState.EXPIRED,
                        released=True,
                        ended_at=now - timedelta(days=1),
                    )
                )
            arm.add_registry(SUBSCRIPTION, RESOURCE_GROUP, name, rules=rules)
            expected[name] = keep
        assert len(grants) == 1000

        for key, value in {
            "AzureWebJobsStorage": azurite_connection_string,
            "ACRBOT_TABLE_PREFIX": unique_name,
            "ACRBOT_QUEUE_NAME": f"{unique_name}-jobs",
            "ACRBOT_REGISTRIES": json.dumps(
                [
                    {"name": n, "subscription_id": SUBSCRIPTION, "resource_group": RESOURCE_GROUP}
                    for n in REGISTRIES
                ]
            ),
            "ACRBOT_ARM__ENDPOINT": arm.base_url,
            "ACRBOT_ARM__CA_BUNDLE": arm.ca_path,
            "ACRBOT_ARM__POLLING_INTERVAL": "0",
            "ACRBOT_ARM__LOCK_CONTAINER": unique_name,
        }.items():
            monkeypatch.setenv(key, value)
        ports = build_ports(Settings(), clock=clock, credential=StaticTokenCredential())
        ports.grants.bulk_load(grants, entries)  # type: ignore[attr-defined]
        assert all(index_rows(g) for g in grants if g.is_open)

        started = time.perf_counter()
        report = sweep(ports)
        assert len(report.expired) == 300
        assert sorted(report.registries) == sorted(f"{n}.azurecr.io" for n in REGISTRIES)
        arm.clear_log()
        for registry in report.registries:
            result = reconcile_registry(ports, registry)
            assert result.status is ReconcileStatus.DONE
            assert len(result.removed) == 60
        elapsed = time.perf_counter() - started

        assert arm.count("patch_registry") == 5
        for name in REGISTRIES:
            assert arm.rules(name) == expected[name]
        print(
            f"\n300 expiries on 5 registries: {arm.count()} ARM calls "
            f"({arm.count('patch_registry')} PATCHes), {elapsed:.1f} s for the sweep and the "
            "reconciles"
        )
