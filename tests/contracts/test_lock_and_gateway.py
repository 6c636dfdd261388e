"""The `RegistryLock` (with its `Lease`) and `RegistryGateway` contracts: fakes, Azurite's blob
leases and the ARM emulator behave alike."""

from __future__ import annotations

import threading

import pytest

from services.domain.errors import LockLost, RegistryNotFound
from tests.sandbox_helpers import registry_config


def test_a_held_lock_is_busy_for_others_and_free_after(registry_lock) -> None:
    held = registry_lock.try_hold("contoso")
    assert held is not None
    with held as lease:
        lease.check()
        assert registry_lock.try_hold("contoso") is None
        other = registry_lock.try_hold("fabrikam")  # registries are independent
        assert other is not None
        with other:
            pass
    again = registry_lock.try_hold("contoso")
    assert again is not None
    with again:
        pass


def test_the_lock_is_released_when_the_body_raises(registry_lock) -> None:
    held = registry_lock.try_hold("contoso")
    with pytest.raises(RuntimeError), held:
        raise RuntimeError("boom")
    assert registry_lock.try_hold("contoso") is not None


def test_one_of_many_concurrent_takers_gets_the_lock(registry_lock) -> None:
    results = []
    barrier = threading.Barrier(6)

    def go() -> None:
        barrier.wait()
        results.append(registry_lock.try_hold("contoso"))

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1


def test_a_held_lease_confirms_it_is_still_held(registry_lock) -> None:
    held = registry_lock.try_hold("contoso")
    assert held is not None
    with held as lease:
        lease.confirm()
        lease.confirm()
        lease.check()


def test_a_broken_lease_fails_its_confirm_and_frees_the_lock_for_another(breakable_lock) -> None:
    lock = breakable_lock.lock
    held = lock.try_hold("contoso")
    assert held is not None
    with held as lease:
        breakable_lock.break_lease("contoso")

        with pytest.raises(LockLost):
            lease.confirm()
        with pytest.raises(LockLost):
            lease.check()

        other = lock.try_hold("contoso")
        assert other is not None
        with other as second:
            second.confirm()
    # The second holder gave it back; the broken one gave back nothing of anybody's.
    again = lock.try_hold("contoso")
    assert again is not None
    with again:
        pass


def test_a_broken_lease_leaves_the_new_holders_lock_alone(breakable_lock) -> None:
    lock = breakable_lock.lock
    first = lock.try_hold("contoso")
    assert first is not None
    with first:
        breakable_lock.break_lease("contoso")
        second = lock.try_hold("contoso")
    # The first holder's exit released nothing: the second still holds the lock.
    assert second is not None
    with second as lease:
        assert lock.try_hold("contoso") is None
        lease.confirm()
    again = lock.try_hold("contoso")
    assert again is not None
    with again:
        pass


def test_read_write_and_read_back(gateway) -> None:
    gateway.seed("contoso", ["1.1.1.1"])
    config = registry_config("contoso")
    snapshot = gateway.gateway.read(config)
    assert snapshot.state.login_server == "contoso.azurecr.io"
    assert [r["value"] for r in snapshot.ip_rules] == ["1.1.1.1"]
    after = gateway.gateway.write(
        config, snapshot, [*snapshot.ip_rules, {"action": "Allow", "value": "20.1.2.3"}]
    )
    assert [r["value"] for r in after.ip_rules] == ["1.1.1.1", "20.1.2.3"]
    assert gateway.rules("contoso") == ["1.1.1.1", "20.1.2.3"]
    usage = gateway.gateway.usage(config)
    assert usage.used == 2
    assert usage.limit == 200  # a live Premium registry's listUsages figure


def test_only_ip_rules_change_virtual_network_rules_survive(gateway) -> None:
    vnet = [{"action": "Allow", "id": "/subscriptions/s/resourceGroups/n/providers/x/subnets/a"}]
    kwargs = (
        {"vnet_rules": vnet}
        if type(gateway.gateway).__name__.startswith("Fake")
        else {"virtual_network_rules": vnet}
    )
    gateway.seed("contoso", [], **kwargs)
    config = registry_config("contoso")
    snapshot = gateway.gateway.read(config)
    after = gateway.gateway.write(config, snapshot, [{"action": "Allow", "value": "20.1.2.3"}])
    assert after.raw["properties"]["networkRuleSet"]["virtualNetworkRules"] == vnet


def test_a_registry_missing_in_azure_is_not_found(gateway) -> None:
    with pytest.raises(RegistryNotFound):
        gateway.gateway.read(registry_config("ghostregistry"))
