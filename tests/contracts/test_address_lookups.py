"""The `AddressLookups` contract: the `AddressBook` over a fixed service-tag index (what the flow
tests and the command line use) and over the stored service tags (`StoredServiceTags` on
Azurite's blobs, wired as `services.bootstrap` wires it) answer alike: the known egress IPs, the
service tags of an address, and `service_tags_problem` — None while the tags are fresh, a reason
when there are none or they are too old, so the diagnosis fails closed (invariant 13)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient

from services.azure.service_tags import ServiceTagStore, StoredServiceTags
from services.bootstrap import service_tags_loader
from services.clock import FrozenClock
from services.diagnosis.service_tags import COMPACT_KEY, ServiceTagIndex
from services.lookups import DEFAULT_MAX_AGE, AddressBook
from services.settings import ServiceTagSettings, Settings

KNOWN = {
    "4.175.12.34": "NAT gateway ng-aks-prod",
    "193.17.128.0/24": "Head office",
    "193.17.128.64/27": "Head office build lab",
}
CONTAINER_APPS_IP = ipaddress.ip_address("20.103.186.69")
ELSEWHERE_IP = ipaddress.ip_address("91.38.188.165")


def tags_document(fetched_at: datetime | None) -> dict[str, Any]:
    """A ServiceTags_Public-shaped document as the daily refresh fetches it."""
    document: dict[str, Any] = {
        "changeNumber": "327",
        "cloud": "Public",
        "values": [
            {
                "name": name,
                "id": name,
                "properties": {
                    "changeNumber": "1",
                    "region": region,
                    "systemService": service,
                    "addressPrefixes": prefixes,
                },
            }
            for name, region, service, prefixes in [
                ("AzureCloud", "", "", ["20.0.0.0/8"]),
                ("AzureCloud.westeurope", "westeurope", "", ["20.103.0.0/16"]),
                (
                    "AzureContainerApps.WestEurope",
                    "westeurope",
                    "AzureContainerApps",
                    ["20.103.176.0/20"],
                ),
            ]
        ],
    }
    if fetched_at is not None:
        document["fetchedAt"] = fetched_at.isoformat()
    return document


@dataclass
class LookupsUnderTest:
    #: An address book over these tags (None: none were ever fetched), trusted for `max_age`.
    book: Callable[..., AddressBook]
    #: An address book whose source of tags cannot be read at all.
    unreadable: Callable[[], AddressBook]


def _fixed(clock: FrozenClock) -> LookupsUnderTest:
    def book(
        document: Mapping[str, Any] | None, *, max_age: timedelta = DEFAULT_MAX_AGE
    ) -> AddressBook:
        index = None if document is None else ServiceTagIndex.from_json(document)
        return AddressBook(KNOWN, index, clock=clock, max_age=max_age)

    def broken() -> ServiceTagIndex | None:
        raise OSError("the tags file is gone")

    return LookupsUnderTest(
        book=book,
        unreadable=lambda: AddressBook(KNOWN, broken, clock=clock, max_age=DEFAULT_MAX_AGE),
    )


def _stored(clock: FrozenClock, connection_string: str, container: str) -> LookupsUnderTest:
    settings = Settings(storage_connection_string=connection_string, data_container=container)

    def book(
        document: Mapping[str, Any] | None, *, max_age: timedelta = DEFAULT_MAX_AGE
    ) -> AddressBook:
        if document is not None:
            # As `refresh_service_tags` stores it: the document with its built index beside it.
            built = ServiceTagIndex.from_json(document)
            ServiceTagStore.from_settings(settings).save(
                {**document, COMPACT_KEY: built.to_compact()}
            )
        return AddressBook(
            KNOWN, service_tags_loader(settings, clock), clock=clock, max_age=max_age
        )

    def unreadable() -> AddressBook:
        # A storage account that refuses every connection (a closed loopback port), no file.
        closed = (
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Zm9v;"
            "BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;"
        )
        source = StoredServiceTags(
            lambda: ServiceTagStore(
                BlobServiceClient.from_connection_string(
                    closed, retry_total=0
                ).get_container_client(container)
            ),
            clock=clock,
            check_every=timedelta(seconds=ServiceTagSettings().check_seconds),
        )
        return AddressBook(KNOWN, source, clock=clock, max_age=DEFAULT_MAX_AGE)

    return LookupsUnderTest(book=book, unreadable=unreadable)


@pytest.fixture(params=["fixed", "stored"])
def lookups(
    request: pytest.FixtureRequest, clock: FrozenClock, unique_name: str
) -> LookupsUnderTest:
    if request.param == "fixed":
        return _fixed(clock)
    return _stored(clock, request.getfixturevalue("azurite_connection_string"), unique_name)


def test_known_egress_addresses_are_named_most_specific_first(
    lookups: LookupsUnderTest, clock: FrozenClock
) -> None:
    known = lookups.book(tags_document(clock.now())).known_ips

    build_lab = known.lookup(ipaddress.IPv4Address("193.17.128.70"))
    office = known.lookup(ipaddress.IPv4Address("193.17.128.10"))
    gateway = known.lookup(ipaddress.IPv4Address("4.175.12.34"))

    assert (build_lab and build_lab.label, office and office.label) == (
        "Head office build lab",
        "Head office",
    )
    assert gateway is not None
    assert gateway.label == "NAT gateway ng-aks-prod"
    assert known.lookup(ipaddress.IPv4Address("193.17.129.1")) is None


def test_an_address_gets_its_service_tags_most_specific_first(
    lookups: LookupsUnderTest, clock: FrozenClock
) -> None:
    book = lookups.book(tags_document(clock.now() - timedelta(days=1)))

    tags = book.service_tags
    assert tags is not None
    assert tags.lookup(CONTAINER_APPS_IP) == (
        "AzureContainerApps.WestEurope",
        "AzureCloud.westeurope",
        "AzureCloud",
    )
    assert tags.lookup(ELSEWHERE_IP) == ()
    assert book.service_tags_problem is None


def test_without_tags_the_problem_says_so(lookups: LookupsUnderTest) -> None:
    book = lookups.book(None)

    assert book.service_tags is None
    assert book.service_tags_problem == "the bot has no copy of Azure's service tags yet"


def test_tags_older_than_the_limit_are_named_stale_and_still_answer(
    lookups: LookupsUnderTest, clock: FrozenClock
) -> None:
    book = lookups.book(tags_document(clock.now() - timedelta(days=9)))

    assert book.service_tags_problem == "its copy of Azure's service tags is 9 days old"
    # The diagnosis still names Azure's addresses; it only stops offering rules.
    tags = book.service_tags
    assert tags is not None
    assert tags.lookup(CONTAINER_APPS_IP)[0] == "AzureContainerApps.WestEurope"


def test_fresh_tags_go_stale_as_the_clock_moves(
    lookups: LookupsUnderTest, clock: FrozenClock
) -> None:
    book = lookups.book(tags_document(clock.now() - timedelta(days=7)))
    assert book.service_tags_problem is None

    clock.advance(timedelta(days=1))
    assert book.service_tags_problem is None  # exactly the limit: still trusted

    clock.advance(timedelta(days=1))
    assert book.service_tags_problem == "its copy of Azure's service tags is 9 days old"


def test_a_short_limit_counts_the_age_in_hours(
    lookups: LookupsUnderTest, clock: FrozenClock
) -> None:
    book = lookups.book(
        tags_document(clock.now() - timedelta(hours=30)), max_age=timedelta(hours=12)
    )

    assert book.service_tags_problem == "its copy of Azure's service tags is 30 hours old"


def test_tags_whose_age_nothing_says_are_trusted(lookups: LookupsUnderTest) -> None:
    # Someone chose them (a file without a date): the bot does not second-guess it.
    book = lookups.book(tags_document(None))

    assert book.service_tags is not None
    assert book.service_tags_problem is None


def test_a_source_that_cannot_be_read_means_no_tags_and_says_so(
    lookups: LookupsUnderTest,
) -> None:
    book = lookups.unreadable()

    assert book.service_tags is None
    assert book.service_tags_problem == "the bot has no copy of Azure's service tags yet"
    # The known addresses do not depend on the tags.
    assert book.known_ips.lookup(ipaddress.IPv4Address("4.175.12.34")) is not None
