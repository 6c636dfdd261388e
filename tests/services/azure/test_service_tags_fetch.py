"""The daily service-tag refresh: azure-mgmt-network against the loopback ARM emulator (Azure's
`serviceTags` response shape), the document stored in and read back from Azurite's blobs."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient

from sandbox.arm_emulator import ArmEmulator
from sandbox.arm_network import NetworkResources
from services.azure.service_tags import (
    SERVICE_TAGS_BLOB,
    ServiceTagsRefreshError,
    ServiceTagStore,
    load_service_tags,
    refresh_service_tags,
)
from services.settings import ServiceTagSettings, Settings
from tests.sandbox_helpers import StaticTokenCredential, arm_settings

pytestmark = pytest.mark.azurite

SUB = "00000000-0000-0000-0000-0000000000c1"


def tag(name: str, region: str, service: str, *prefixes: str, change: str = "1") -> dict[str, Any]:
    """One entry as `serviceTags` answers it (ServiceTagsList.json)."""
    return {
        "name": name,
        "id": name,
        "properties": {
            "changeNumber": change,
            "region": region,
            "systemService": service,
            "addressPrefixes": list(prefixes),
        },
    }


TAGS = [
    tag("ApiManagement", "", "AzureApiManagement", "13.64.39.16/32", "40.74.146.80/31"),
    tag("AzureCloud.westeurope", "westeurope", "", "20.103.0.0/16", "2603:1020:206::/48"),
    tag("AzureContainerApps.WestEurope", "westeurope", "AzureContainerApps", "20.103.186.0/24"),
    tag("AzureContainerApps", "", "AzureContainerApps", "20.103.186.0/24", "4.232.0.0/24"),
]


@pytest.fixture
def emulator() -> Iterator[ArmEmulator]:
    with ArmEmulator() as emu:
        yield emu


@pytest.fixture
def network(emulator: ArmEmulator) -> NetworkResources:
    net = NetworkResources().attach(emulator)
    net.set_service_tags(TAGS, change_number="345")
    return net


@pytest.fixture
def settings(emulator: ArmEmulator, azurite_connection_string: str, unique_name: str) -> Settings:
    return Settings(
        storage_connection_string=azurite_connection_string,
        data_container=unique_name,
        arm=arm_settings(emulator),
        service_tags=ServiceTagSettings(locations=("westeurope",)),
    )


@pytest.fixture
def store(azurite_connection_string: str, unique_name: str) -> ServiceTagStore:
    service = BlobServiceClient.from_connection_string(azurite_connection_string)
    return ServiceTagStore(service.get_container_client(unique_name))


def test_refresh_stores_tags_the_diagnosis_can_look_up(
    network: NetworkResources, settings: Settings, store: ServiceTagStore
) -> None:
    result = refresh_service_tags(
        settings, subscription_id=SUB, credential=StaticTokenCredential(), store=store
    )

    assert (result.tags, result.prefixes, result.change_number) == (4, 7, "345")
    assert result.blob == SERVICE_TAGS_BLOB
    index = store.load_index()
    assert index is not None
    assert index.lookup(ipaddress.ip_address("20.103.186.69")) == (
        "AzureContainerApps.WestEurope",
        "AzureContainerApps",
        "AzureCloud.westeurope",
    )
    assert index.lookup(ipaddress.ip_address("91.38.188.165")) == ()
    # The built index is stored with the document, so loading it skips the build.
    from services.diagnosis.service_tags import COMPACT_FORMAT, COMPACT_KEY

    stored = store.load()
    assert stored is not None
    assert stored[COMPACT_KEY]["format"] == COMPACT_FORMAT


def test_stored_document_has_the_public_file_shape(
    network: NetworkResources, settings: Settings, store: ServiceTagStore
) -> None:
    refresh_service_tags(
        settings, subscription_id=SUB, credential=StaticTokenCredential(), store=store
    )

    document = store.load()

    assert document is not None
    assert document["changeNumber"] == "345"
    assert document["cloud"] == "Public"
    assert document["locations"] == ["westeurope"]
    assert document["values"][1] == TAGS[1]


def test_each_location_is_asked_and_the_answers_merge_by_name(
    emulator: ArmEmulator, network: NetworkResources, settings: Settings, store: ServiceTagStore
) -> None:
    result = refresh_service_tags(
        settings,
        subscription_id=SUB,
        locations=["westeurope", "northeurope"],
        credential=StaticTokenCredential(),
        store=store,
    )

    asked = [r.path for r in emulator.requests]
    assert asked == [
        f"/subscriptions/{SUB}/providers/Microsoft.Network/locations/{loc}/serviceTags"
        for loc in ("westeurope", "northeurope")
    ]
    assert result.tags == 4
    assert result.locations == ("westeurope", "northeurope")


def test_nothing_is_stored_before_the_first_refresh(store: ServiceTagStore) -> None:
    assert store.load() is None
    assert store.load_index() is None


def test_a_refused_fetch_keeps_the_tags_already_stored(
    emulator: ArmEmulator, network: NetworkResources, settings: Settings, store: ServiceTagStore
) -> None:
    refresh_service_tags(
        settings, subscription_id=SUB, credential=StaticTokenCredential(), store=store
    )
    network.set_service_tags([tag("Storage", "", "AzureStorage", "52.0.0.0/8")], change_number="9")
    emulator.inject(
        "other",
        status=403,
        code="AuthorizationFailed",
        message="does not have authorization to perform action "
        "'Microsoft.Network/locations/serviceTags/read'",
    )

    with pytest.raises(ServiceTagsRefreshError) as caught:
        refresh_service_tags(
            settings, subscription_id=SUB, credential=StaticTokenCredential(), store=store
        )

    assert "cannot read the service tags of westeurope" in str(caught.value)
    assert "Microsoft.Network/locations/serviceTags/read" in str(caught.value)
    stored = store.load()
    assert stored is not None
    assert stored["changeNumber"] == "345"


def test_an_unusable_answer_is_never_stored(
    network: NetworkResources, settings: Settings, store: ServiceTagStore
) -> None:
    network.set_service_tags([tag("Broken", "", "", "not-a-prefix")])

    with pytest.raises(ServiceTagsRefreshError, match="unusable"):
        refresh_service_tags(
            settings, subscription_id=SUB, credential=StaticTokenCredential(), store=store
        )

    assert store.load() is None


def test_refresh_needs_a_subscription_and_locations(
    network: NetworkResources, settings: Settings, store: ServiceTagStore
) -> None:
    with pytest.raises(ServiceTagsRefreshError, match="SUBSCRIPTION_ID"):
        refresh_service_tags(settings, credential=StaticTokenCredential(), store=store)
    with pytest.raises(ServiceTagsRefreshError, match="no service tag locations"):
        refresh_service_tags(
            settings,
            subscription_id=SUB,
            locations=[],
            credential=StaticTokenCredential(),
            store=store,
        )


def test_subscription_and_locations_come_from_the_app_settings(
    network: NetworkResources,
    monkeypatch: pytest.MonkeyPatch,
    azurite_connection_string: str,
    unique_name: str,
    emulator: ArmEmulator,
) -> None:
    monkeypatch.setenv("ACRBOT_SERVICE_TAGS__LOCATIONS", '["westeurope", "swedencentral"]')
    monkeypatch.setenv("ACRBOT_SERVICE_TAGS__SUBSCRIPTION_ID", SUB)
    monkeypatch.setenv("ACRBOT_STORAGE_CONNECTION_STRING", azurite_connection_string)
    monkeypatch.setenv("ACRBOT_DATA_CONTAINER", unique_name)
    settings = Settings(arm=arm_settings(emulator))
    assert settings.service_tags.subscription_id == SUB

    result = refresh_service_tags(settings, credential=StaticTokenCredential())

    assert result.locations == ("westeurope", "swedencentral")
    assert (result.container, result.blob) == (unique_name, "service-tags.json")
    index = load_service_tags(settings)
    assert index is not None
    assert "ApiManagement" in index.lookup(ipaddress.ip_address("13.64.39.16"))


def test_load_service_tags_is_none_before_the_first_refresh(settings: Settings) -> None:
    assert load_service_tags(settings) is None
