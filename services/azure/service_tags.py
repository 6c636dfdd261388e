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
the subscription to ask (the app's own) `Settings.service_tags.subscription_id`
(`ACRBOT_SERVICE_TAGS__SUBSCRIPTION_ID`), the container `Settings.data_container`, the account
`Settings.storage` (connection string or identity).

`StoredServiceTags` is what a worker's diagnosis reads: the stored index, built once and kept
per process; at most every `Settings.service_tags.check_seconds` it asks for the blob's ETag (a
HEAD request) and loads the document again only when it changed. Before the first refresh it
falls back to `ACRBOT_SERVICE_TAGS__FILE`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError

from services.azure.clients import blob_service, default_credential
from services.azure.network import describe_azure_error, network_client
from services.azure.status import record_refresh, refreshed_at
from services.clock import Clock
from services.diagnosis.service_tags import COMPACT_KEY, ServiceTagIndex, ServiceTagsError
from services.settings import ArmSettings, Settings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.storage.blob import ContainerClient

logger = logging.getLogger(__name__)

SERVICE_TAGS_CONTAINER = "acrbot-data"
SERVICE_TAGS_BLOB = "service-tags.json"


class ServiceTagsRefreshError(Exception):
    """The fetch or the store failed; the message says which and why, in one line."""


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
        loaded = self.load_versioned()
        return None if loaded is None else loaded[0]

    def load_versioned(self) -> tuple[dict[str, Any], str] | None:
        """The stored document and the ETag it was read at, or None when nothing was stored."""
        try:
            downloader = self._container.download_blob(self._blob)
            raw = downloader.readall()
        except ResourceNotFoundError:
            return None
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ServiceTagsError(f"{self.location} is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ServiceTagsError(f"{self.location} does not hold a service tags object")
        return data, str(downloader.properties.etag)

    def version(self) -> str | None:
        """The stored document's ETag (one HEAD request), or None when nothing was stored."""
        try:
            props = self._container.get_blob_client(self._blob).get_blob_properties()
        except ResourceNotFoundError:
            return None
        return str(props.etag)

    def stored_at(self, **options: Any) -> datetime | None:
        """When the document was last stored (its blob's Last-Modified, one HEAD request), or
        None when nothing was stored yet: the age of the tags a diagnosis uses. `options` go to
        the request (`retry_total`, `connection_timeout`, `read_timeout`)."""
        try:
            props = self._container.get_blob_client(self._blob).get_blob_properties(**options)
        except ResourceNotFoundError:
            return None
        modified: datetime = props.last_modified
        return modified if modified.tzinfo is not None else modified.replace(tzinfo=UTC)

    def load_index(self) -> ServiceTagIndex | None:
        """The stored tags as an index for the diagnosis, or None before the first refresh."""
        data = self.load()
        return None if data is None else ServiceTagIndex.from_json(data)


class StoredServiceTags:
    """The service tags a diagnosis uses, kept per process: the stored document's index, else the
    file `ACRBOT_SERVICE_TAGS__FILE`, else None.

    `current()` costs nothing between checks; a check (at most every `check_every`) is one HEAD
    request, and the few-MB document is read and indexed again only when its ETag changed. A
    failed check or an unusable new document keeps the index in hand: yesterday's tags are far
    better than none.
    """

    def __init__(
        self,
        store: Callable[[], ServiceTagStore],
        *,
        clock: Clock,
        check_every: timedelta,
        fallback_file: str | None = None,
    ) -> None:
        self._make_store = store
        self._store: ServiceTagStore | None = None
        self._clock = clock
        self._check_every = check_every
        self._fallback_file = fallback_file
        self._index: ServiceTagIndex | None = None
        self._etag: str | None = None
        self._source = "none"
        self._checked_at: datetime | None = None
        self._mutex = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock) -> StoredServiceTags:
        return cls(
            lambda: ServiceTagStore.from_settings(settings),
            clock=clock,
            check_every=timedelta(seconds=settings.service_tags.check_seconds),
            fallback_file=settings.service_tags.file,
        )

    @property
    def source(self) -> str:
        """Where the index in hand came from: `stored`, `file` or `none`."""
        return self._source

    def current(self) -> ServiceTagIndex | None:
        with self._mutex:
            now = self._clock.now()
            if self._checked_at is not None and now - self._checked_at < self._check_every:
                return self._index
            self._checked_at = now
            try:
                self._reload_stored()
            except (AzureError, ServiceTagsError) as exc:
                logger.warning(
                    "stored service tags not read (%s); keeping the %s tags",
                    type(exc).__name__,
                    self._source,
                )
            if self._source == "none" and self._fallback_file:
                try:
                    self._index, self._source = ServiceTagIndex.load(self._fallback_file), "file"
                except ServiceTagsError as exc:
                    logger.warning("service tags file not usable (%s)", type(exc).__name__)
            return self._index

    def _reload_stored(self) -> None:
        if self._store is None:
            self._store = self._make_store()
        etag = self._store.version()
        if etag is None or etag == self._etag:
            return
        loaded = self._store.load_versioned()
        if loaded is None:
            return
        document, read_etag = loaded
        self._index = ServiceTagIndex.from_json(document)
        self._etag, self._source = read_etag, "stored"
        logger.info(
            "service tags loaded from %s (change %s)",
            self._store.location,
            document.get("changeNumber", "?"),
        )


def load_service_tags(settings: Settings) -> ServiceTagIndex | None:
    """The stored tags as an index, None before the first refresh; what the diagnosis uses (the
    document is a few MB: load it once per process, or once a day, not per request)."""
    return ServiceTagStore.from_settings(settings).load_index()


def _record_status(settings: Settings, document: Mapping[str, Any]) -> None:
    """Note when the tags were fetched, beside the document (a failure only costs the health
    route its figure; the tags are stored)."""
    from services.azure.clients import table_service

    try:
        record_refresh(table_service(settings.storage), settings.table_prefix, document)
    except AzureError as exc:
        logger.warning("service tags stored, their status not recorded: %s", type(exc).__name__)


#: Tags stored this recently (by a deployment's own refresh, say) are not fetched again.
FRESH_ENOUGH = timedelta(hours=12)


def refresh_unless_fresh(
    settings: Settings,
    *,
    clock: Clock,
    credential: TokenCredential | None = None,
    fresh_enough: timedelta = FRESH_ENOUGH,
) -> ServiceTagsRefresh | None:
    """The daily timer's refresh: fetch and store the tags, unless some were stored within
    `fresh_enough` (then None: the postdeploy hook refreshed them). Raises
    `ServiceTagsRefreshError`."""
    from services.azure.clients import table_service

    stored = refreshed_at(table_service(settings.storage), settings.table_prefix)
    if stored is not None and clock.now() - stored < fresh_enough:
        logger.info("service tags stored %s are fresh; not fetched again", stored.isoformat())
        return None
    return refresh_service_tags(settings, credential=credential)


def refresh_service_tags(
    settings: Settings,
    *,
    subscription_id: str | None = None,
    locations: Sequence[str] | None = None,
    credential: TokenCredential | None = None,
    store: ServiceTagStore | None = None,
) -> ServiceTagsRefresh:
    """Fetch the configured locations' service tags and store them; what the daily timer runs.

    `subscription_id` defaults to `settings.service_tags.subscription_id`, `locations` to
    `settings.service_tags.locations`, the store to `ServiceTagStore.from_settings(settings)`.
    A document that does not build a `ServiceTagIndex` is never stored, so a bad answer leaves
    yesterday's tags in place. Raises `ServiceTagsRefreshError`.
    """
    subscription = subscription_id or settings.service_tags.subscription_id
    if not subscription:
        raise ServiceTagsRefreshError(
            "no subscription to ask: set ACRBOT_SERVICE_TAGS__SUBSCRIPTION_ID"
        )
    wanted = tuple(locations if locations is not None else settings.service_tags.locations)
    document = fetch_service_tags(
        settings.arm, credential or default_credential(), subscription, wanted
    )
    try:
        index = ServiceTagIndex.from_json(document)
    except ServiceTagsError as exc:
        raise ServiceTagsRefreshError(f"the fetched service tags are unusable: {exc}") from exc
    target = store or ServiceTagStore.from_settings(settings)
    try:
        # The built index travels with the document, so every process that loads it skips the
        # build (about 40 ms instead of about 140 for Azure's ~50,000 prefixes).
        target.save({**document, COMPACT_KEY: index.to_compact()})
    except AzureError as exc:
        raise ServiceTagsRefreshError(
            f"cannot store the service tags in {target.location}: {exc}"
        ) from exc
    _record_status(settings, document)
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
