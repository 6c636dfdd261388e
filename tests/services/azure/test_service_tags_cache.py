"""The diagnosis's service tags without a file: the stored document read back from Azurite's
blobs, kept per process, re-read only when its ETag changed and at most every few minutes, with
the configured file as the fallback before the first refresh."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient

from services.azure.service_tags import ServiceTagStore, StoredServiceTags
from services.bootstrap import service_tags_loader
from services.clock import FrozenClock
from services.lookups import AddressBook
from services.settings import ServiceTagSettings, Settings

pytestmark = pytest.mark.azurite

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
CONTAINER_APPS_IP = ipaddress.ip_address("20.103.186.69")
STORAGE_IP = ipaddress.ip_address("52.239.1.1")


def document(*tags: tuple[str, str], change: str = "1") -> dict[str, Any]:
    return {
        "changeNumber": change,
        "cloud": "Public",
        "values": [
            {
                "name": name,
                "id": name,
                "properties": {
                    "changeNumber": change,
                    "region": "",
                    "systemService": "",
                    "addressPrefixes": [prefix],
                },
            }
            for name, prefix in tags
        ],
    }


class CountingStore(ServiceTagStore):
    """The real blob store, counting the requests the cache makes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.heads = 0
        self.reads = 0

    def version(self) -> str | None:
        self.heads += 1
        return super().version()

    def load_versioned(self) -> tuple[dict[str, Any], str] | None:
        self.reads += 1
        return super().load_versioned()


@pytest.fixture
def store(azurite_connection_string: str, unique_name: str) -> CountingStore:
    service = BlobServiceClient.from_connection_string(azurite_connection_string)
    return CountingStore(service.get_container_client(unique_name))


def cache(
    store: ServiceTagStore, clock: FrozenClock, fallback: str | None = None
) -> StoredServiceTags:
    return StoredServiceTags(
        lambda: store, clock=clock, check_every=timedelta(minutes=5), fallback_file=fallback
    )


def test_the_stored_document_is_read_once_and_kept(
    store: CountingStore, clock: FrozenClock
) -> None:
    store.save(document(("AzureContainerApps", "20.103.186.0/24")))
    tags = cache(store, clock)

    first = tags.current()
    for _ in range(5):
        assert tags.current() is first

    assert first is not None
    assert first.lookup(CONTAINER_APPS_IP) == ("AzureContainerApps",)
    assert tags.source == "stored"
    assert (store.heads, store.reads) == (1, 1)


def test_a_changed_document_is_picked_up_at_the_next_check_only(
    store: CountingStore, clock: FrozenClock
) -> None:
    store.save(document(("AzureContainerApps", "20.103.186.0/24")))
    tags = cache(store, clock)
    before = tags.current()
    store.save(document(("Storage", "52.239.0.0/16"), change="2"))

    clock.advance(timedelta(minutes=4))
    assert tags.current() is before  # not checked yet: no request at all
    assert store.heads == 1

    clock.advance(timedelta(minutes=1))
    after = tags.current()

    assert after is not None
    assert after is not before
    assert after.lookup(STORAGE_IP) == ("Storage",)
    assert after.lookup(CONTAINER_APPS_IP) == ()
    assert (store.heads, store.reads) == (2, 2)


def test_an_unchanged_document_costs_one_head_request_per_check(
    store: CountingStore, clock: FrozenClock
) -> None:
    store.save(document(("AzureContainerApps", "20.103.186.0/24")))
    tags = cache(store, clock)
    first = tags.current()

    for _ in range(3):
        clock.advance(timedelta(minutes=6))
        assert tags.current() is first

    assert (store.heads, store.reads) == (4, 1)


def test_before_the_first_refresh_the_file_is_used_then_the_stored_document(
    store: CountingStore, clock: FrozenClock
) -> None:
    tags = cache(store, clock, fallback=str(EXAMPLES / "service-tags.json"))

    from_file = tags.current()
    assert from_file is not None
    assert tags.source == "file"
    assert "AzureContainerApps" in from_file.lookup(CONTAINER_APPS_IP)

    store.save(document(("Storage", "52.239.0.0/16"), change="2"))
    clock.advance(timedelta(minutes=5))
    stored = tags.current()

    assert tags.source == "stored"
    assert stored is not None
    assert stored.lookup(STORAGE_IP) == ("Storage",)


def test_without_document_or_file_there_are_no_tags(
    store: CountingStore, clock: FrozenClock
) -> None:
    tags = cache(store, clock)
    assert tags.current() is None
    assert tags.source == "none"


def test_an_unusable_new_document_keeps_the_tags_in_hand(
    store: CountingStore, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    store.save(document(("AzureContainerApps", "20.103.186.0/24")))
    tags = cache(store, clock)
    before = tags.current()
    # Someone copies a broken file over the blob by hand.
    store._container.upload_blob(store.blob_name, b"[1, 2", overwrite=True)

    clock.advance(timedelta(minutes=5))

    assert tags.current() is before
    assert "stored service tags not read (ServiceTagsError)" in caplog.text


def test_unreachable_storage_falls_back_to_the_file(clock: FrozenClock) -> None:
    settings = Settings(
        # A closed loopback port: refused at once, and never retried for long.
        storage_connection_string="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        "AccountKey=Zm9v;BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;",
        service_tags=ServiceTagSettings(file=str(EXAMPLES / "service-tags.json")),
    )
    tags = StoredServiceTags(
        lambda: ServiceTagStore(
            BlobServiceClient.from_connection_string(
                settings.storage.connection_string or "",
                retry_total=0,
            ).get_container_client("acrbot-data")
        ),
        clock=clock,
        check_every=timedelta(minutes=5),
        fallback_file=settings.service_tags.file,
    )

    index = tags.current()

    assert index is not None
    assert tags.source == "file"


def test_bootstrap_wires_the_stored_tags_into_the_address_book(
    azurite_connection_string: str, unique_name: str, clock: FrozenClock
) -> None:
    settings = Settings(
        storage_connection_string=azurite_connection_string, data_container=unique_name
    )
    ServiceTagStore.from_settings(settings).save(
        document(("AzureContainerApps", "20.103.186.0/24"))
    )

    book = AddressBook({}, service_tags_loader(settings, clock))

    tags = book.service_tags
    assert tags is not None
    assert tags.lookup(CONTAINER_APPS_IP) == ("AzureContainerApps",)
    assert book.service_tags is tags

    ServiceTagStore.from_settings(settings).save(document(("Storage", "52.239.0.0/16"), change="2"))
    clock.advance(timedelta(seconds=settings.service_tags.check_seconds))
    refreshed = book.service_tags
    assert refreshed is not None
    assert refreshed.lookup(STORAGE_IP) == ("Storage",)


def test_the_stored_time_is_the_last_save_and_none_before_any(store: CountingStore) -> None:
    from datetime import UTC, datetime

    assert store.stored_at() is None
    before = datetime.now(UTC).replace(microsecond=0)

    store.save(document(("AzureContainerApps", "20.103.186.0/24")))

    stored = store.stored_at()
    assert stored is not None
    assert stored.tzinfo is not None
    # Last-Modified has whole seconds.
    assert before <= stored <= datetime.now(UTC)
    assert store.reads == 0  # a HEAD request, never the document
