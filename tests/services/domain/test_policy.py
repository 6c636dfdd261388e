"""Policy and registry configuration: validated at load, one directory for every name."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from services.domain.errors import RegistryNotManaged
from services.domain.policy import Policy, RegistryConfig, RegistryDirectory


def reg(name: str, **kwargs) -> RegistryConfig:
    return RegistryConfig(name=name, subscription_id="s", resource_group="rg", **kwargs)


@pytest.mark.parametrize(
    "changes",
    [
        {"max_duration": timedelta(0)},
        {"pending_ttl": timedelta(hours=-1)},
        {"activation_timeout": timedelta(0)},
        {"default_duration": timedelta(hours=2)},  # not one of the choices
        {"allowed_durations": ()},
        {"allowed_durations": (timedelta(hours=48),)},  # beyond max_duration
        {"allowed_durations": (timedelta(0), timedelta(hours=4))},
        {"justification_min_length": 600},
        {"max_total_duration": timedelta(hours=1)},
        {"quota_headroom": -1},
        {"max_open_requests_per_requester": 0},
    ],
)
def test_a_policy_that_could_not_be_applied_is_refused_at_load(changes) -> None:
    with pytest.raises(ValidationError):
        Policy(**changes)


def test_the_default_policy_is_valid_and_its_choices_sorted() -> None:
    policy = Policy(allowed_durations=(timedelta(hours=8), timedelta(hours=1), timedelta(hours=4)))
    assert policy.allowed_durations == (timedelta(hours=1), timedelta(hours=4), timedelta(hours=8))


def test_one_directory_resolves_names_login_servers_and_custom_domains() -> None:
    directory = RegistryDirectory(
        [
            reg("contoso", custom_domains=("CR.Example.Cloud.",)),
            reg("fabrikam", login_server="fabrikam.azurecr.cn"),
        ]
    )
    for key in (
        "contoso",
        "CONTOSO",
        "contoso.azurecr.io",
        "cr.example.cloud",
        " cr.example.cloud. ",
    ):
        assert directory.get(key).name == "contoso"
    assert directory.get("fabrikam.azurecr.cn").name == "fabrikam"
    assert directory.find("fabrikam.azurecr.io") is None
    with pytest.raises(RegistryNotManaged, match="not a registry this bot manages"):
        directory.get("elsewhere.azurecr.io")
    assert directory.custom_domains == {"cr.example.cloud": "contoso.azurecr.io"}


def test_two_registries_claiming_one_name_are_refused() -> None:
    with pytest.raises(ValueError, match=r"both claim cr\.example\.cloud"):
        RegistryDirectory(
            [
                reg("contoso", custom_domains=("cr.example.cloud",)),
                reg("fabrikam", custom_domains=("cr.example.cloud",)),
            ]
        )


@pytest.mark.parametrize("name", ["ab", "has-dash", "x" * 51, "<acrname>"])
def test_registry_names_follow_azures_rules(name: str) -> None:
    with pytest.raises(ValidationError):
        reg(name)
