"""The `RegistryStateCache` contract: `RegistryStates` over the fake gateway and over
`ArmRegistryGateway` against the ARM emulator answers alike. A diagnosis sees the registry as it
was read at most `ttl` ago (quota figures included), `forget` makes the next read fresh, and each
registry is kept apart."""

from __future__ import annotations

from datetime import timedelta

from services.clock import FrozenClock
from services.flows.states import RegistryStates
from tests.sandbox_helpers import registry_config

TTL = timedelta(seconds=10)


def _add_rule(gateway, name: str, ip: str) -> None:
    """Change the registry behind the cache, as an admin in the portal would."""
    config = registry_config(name)
    snapshot = gateway.gateway.read(config)
    gateway.gateway.write(config, snapshot, [*snapshot.ip_rules, {"action": "Allow", "value": ip}])


def test_a_state_is_reused_within_its_time_and_read_again_after(gateway, clock: FrozenClock):
    gateway.seed("contoso", ["1.1.1.1"])
    states = RegistryStates(gateway.gateway, clock, TTL)
    config = registry_config("contoso")

    first = states.get(config)
    _add_rule(gateway, "contoso", "20.1.2.3")
    clock.advance(TTL - timedelta(seconds=1))
    reused = states.get(config)
    clock.advance(timedelta(seconds=1))
    fresh = states.get(config)

    assert [r.value for r in first.ip_rules] == ["1.1.1.1"]
    assert reused == first
    assert [r.value for r in fresh.ip_rules] == ["1.1.1.1", "20.1.2.3"]


def test_the_quota_figures_come_with_the_state(gateway, clock: FrozenClock) -> None:
    gateway.seed("contoso", ["1.1.1.1", "2.2.2.2"])
    state = RegistryStates(gateway.gateway, clock, TTL).get(registry_config("contoso"))
    assert (state.ip_rule_quota_used, state.ip_rule_quota_limit) == (2, 200)


def test_forget_makes_the_next_read_fresh(gateway, clock: FrozenClock) -> None:
    gateway.seed("contoso", [])
    states = RegistryStates(gateway.gateway, clock, TTL)
    config = registry_config("contoso")
    states.get(config)
    _add_rule(gateway, "contoso", "20.1.2.3")

    states.forget(config)

    assert [r.value for r in states.get(config).ip_rules] == ["20.1.2.3"]


def test_registries_are_kept_apart(gateway, clock: FrozenClock) -> None:
    gateway.seed("contoso", ["1.1.1.1"])
    gateway.seed("fabrikam", ["2.2.2.2"])
    states = RegistryStates(gateway.gateway, clock, TTL)

    contoso = states.get(registry_config("contoso"))
    fabrikam = states.get(registry_config("fabrikam"))

    assert contoso.login_server == "contoso.azurecr.io"
    assert fabrikam.login_server == "fabrikam.azurecr.io"
    assert [r.value for r in fabrikam.ip_rules] == ["2.2.2.2"]


def test_a_cache_that_never_keeps_reads_every_time(gateway, clock: FrozenClock) -> None:
    gateway.seed("contoso", [])
    states = RegistryStates(gateway.gateway, clock, timedelta(0))
    config = registry_config("contoso")
    states.get(config)
    _add_rule(gateway, "contoso", "20.1.2.3")
    assert [r.value for r in states.get(config).ip_rules] == ["20.1.2.3"]
