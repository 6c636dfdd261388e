"""Microsoft's service tags without a downloaded file: fetched daily through ARM and kept as one
blob in the app's storage account.

`refresh_service_tags(settings)` (the daily timer, and `python -m bot refresh-service-tags`) asks
`azure-mgmt-network`'s `service_tags.list(location)` for each configured location, merges the
answers by tag name (the API returns the whole public set whatever the location; the location
picks the cloud and the version), checks the result builds a `ServiceTagIndex`, and stores it as
`acrbot-data/service-tags.json`. `ServiceTagStore.load_index()` reads it back for the diagnosis;
None until the first refresh.

The stored document has the shape of Microsoft's ServiceTags_Public file (`{"changeNumber",
"cloud", "values": [{"name", "id", "properties": {"addressPrefixes", "region",
"systemService", "changeNumber"}}]}`) plus `locations` and `fetchedAt`, so `--service-tags`
accepts a copy of it too.

Settings: the locations are `Settings.service_tags.locations` (`ACRBOT_SERVICE_TAGS__LOCATIONS`),
the container `Settings.data_container`, the account `Settings.storage` (connection string or
identity). The subscription to ask, the app's own, is `ACRBOT_SERVICE_TAGS__SUBSCRIPTION_ID`,
read here by `ServiceTagsFetchSettings` until `ServiceTagSettings` carries it.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.azure.clients import blob_service, default_credential
from services.azure.network import describe_azure_error, network_client
from services.diagnosis.service_tags import ServiceTagIndex, ServiceTagsError
from services.settings import ArmSettings, Settings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.storage.blob import ContainerClient

logger = logging.getLogger(__name__)

SERVICE_TAGS_CONTAINER = "acrbot-data"
SERVICE_TAGS_BLOB = "service-tags.json"


class ServiceTagsRefreshError(Exception):
    """The fetch or the store failed; the message says which and why, in one line."""


class ServiceTagsFetchSettings(BaseSettings):
    """`ACRBOT_SERVICE_TAGS__SUBSCRIPTION_ID`, read here until `ServiceTagSettings` has it."""

    model_config = SettingsConfigDict(env_prefix="ACRBOT_SERVICE_TAGS__", extra="ignore")

    #: The subscription whose `serviceTags` endpoint is asked (the app's own, where the
    #: template lets it read them).
    subscription_id: str = ""


@dataclass(frozen=True)
class ServiceTagsRefresh:
    """What one refresh stored."""

    tags: int
    prefixes: int
    change_number: str
    locations: tuple[str, ...]
    container: str
    blob: str


def fetch_service_tags(
    arm: ArmSettings,
    credential: TokenCredential,
    subscription_id: str,
    locations: Sequence[str],
    *,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """The service tags of `locations`, merged by name into one ServiceTags_Public-shaped document.

    Raises `ServiceTagsRefreshError` when ARM refuses or fails a location.
    """
    if not locations:
        raise ServiceTagsRefreshError("no service tag locations configured")
    client = network_client(arm, credential, subscription_id)
    merged: dict[str, dict[str, Any]] = {}
    change_numbers: list[str] = []
    cloud = ""
    for location in locations:
        try:
            result = client.service_tags.list(location)
        except AzureError as exc:
            raise ServiceTagsRefreshError(
                f"cannot read the service tags of {location} in subscription "
                f"{subscription_id}: {describe_azure_error(exc)}"
            ) from exc
        change_numbers.append(str(result.change_number or ""))
        cloud = cloud or str(result.cloud or "")
        for tag in result.values_property or []:
            if not tag.name or tag.name in merged:
                continue
            props = tag.properties
            merged[tag.name] = {
                "name": tag.name,
                "id": tag.id or tag.name,
                "properties": {
                    "changeNumber": (props.change_number if props else None) or "",
                    "region": (props.region if props else None) or "",
                    "systemService": (props.system_service if props else None) or "",
                    "addressPrefixes": list((props.address_prefixes if props else None) or []),
                },
            }
    return {
        # Locations may answer different versions while a publication rolls out; the highest
        # is the one the merged set reaches.
        "changeNumber": max(change_numbers, key=_as_number),
        "cloud": cloud,
        "locations": list(locations),
        "fetchedAt": now().isoformat(),
        "values": list(merged.values()),
    }


def _as_number(value: str) -> int:
    return int(value) if value.isdigit() else -1


class ServiceTagStore:
    """The service-tag document as one blob; the container is created on first save."""

    def __init__(self, container: ContainerClient, blob: str = SERVICE_TAGS_BLOB) -> None:
        self._container = container
        self._blob = blob

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceTagStore:
        """`<data_container>/service-tags.json` in the app's storage account (a connection
        string locally, the managed identity in Azure)."""
        return cls(blob_service(settings.storage).get_container_client(settings.data_container))

    @property
    def container_name(self) -> str:
        return str(self._container.container_name)

    @property
    def blob_name(self) -> str:
        return self._blob

    @property
    def location(self) -> str:
        return f"{self.container_name}/{self._blob}"

    def save(self, document: Mapping[str, Any]) -> None:
        from azure.storage.blob import ContentSettings

        data = json.dumps(document, separators=(",", ":")).encode()
        with contextlib.suppress(ResourceExistsError):
            self._container.create_container()
        self._container.upload_blob(
            self._blob,
            data,
            overwrite=True,
            content_settings=ContentSettings(content_type="application/json"),
        )

    def load(self) -> dict[str, Any] | None:
        """The stored document, or None when nothing was stored yet."""
        try:
            raw = self._container.download_blob(self._blob).readall()
        except ResourceNotFoundError:
            return None
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ServiceTagsError(f"{self.location} does not hold a service tags object")
        return data

    def load_index(self) -> ServiceTagIndex | None:
        """The stored tags as an index for the diagnosis, or None before the first refresh."""
        data = self.load()
        return None if data is None else ServiceTagIndex.from_json(data)


def load_service_tags(settings: Settings) -> ServiceTagIndex | None:
    """The stored tags as an index, None before the first refresh; what the diagnosis uses (the
    document is a few MB: load it once per process, or once a day, not per request)."""
    return ServiceTagStore.from_settings(settings).load_index()


def refresh_service_tags(
    settings: Settings,
    *,
    subscription_id: str | None = None,
    locations: Sequence[str] | None = None,
    credential: TokenCredential | None = None,
    store: ServiceTagStore | None = None,
) -> ServiceTagsRefresh:
    """Fetch the configured locations' service tags and store them; what the daily timer runs.

    `subscription_id` defaults to `ACRBOT_SERVICE_TAGS__SUBSCRIPTION_ID`, `locations` to
    `settings.service_tags.locations`, the store to `ServiceTagStore.from_settings(settings)`.
    A document that does not build a `ServiceTagIndex` is never stored, so a bad answer leaves
    yesterday's tags in place. Raises `ServiceTagsRefreshError`.
    """
    subscription = subscription_id or ServiceTagsFetchSettings().subscription_id
    if not subscription:
        raise ServiceTagsRefreshError(
            "no subscription to ask: set ACRBOT_SERVICE_TAGS__SUBSCRIPTION_ID"
        )
    wanted = tuple(locations if locations is not None else settings.service_tags.locations)
    document = fetch_service_tags(
        settings.arm, credential or default_credential(), subscription, wanted
    )
    try:
        ServiceTagIndex.from_json(document)
    except ServiceTagsError as exc:
        raise ServiceTagsRefreshError(f"the fetched service tags are unusable: {exc}") from exc
    target = store or ServiceTagStore.from_settings(settings)
    try:
        target.save(document)
    except AzureError as exc:
        raise ServiceTagsRefreshError(
            f"cannot store the service tags in {target.location}: {exc}"
        ) from exc
    values = document["values"]
    refresh = ServiceTagsRefresh(
        tags=len(values),
        prefixes=sum(len(v["properties"]["addressPrefixes"]) for v in values),
        change_number=document["changeNumber"],
        locations=wanted,
        container=target.container_name,
        blob=target.blob_name,
    )
    logger.info(
        "stored %d service tags (change %s) from %s in %s",
        refresh.tags,
        refresh.change_number,
        ", ".join(refresh.locations),
        target.location,
    )
    return refresh
