"""What a cold process asks Storage before its first real request, counted on the wire (every
request a client sends passes its `raw_response_hook`): the deployment declares the job queue and
the tables, so a process that finds them in place makes no create call.

- A job is one Put Message; the first send to a queue nobody created creates it and the job
  arrives.
- The grant store, the audit log and the delivery ledger of one process list the account's tables
  once, and create only the tables the listing did not show.
"""

from __future__ import annotations

import base64
import json

import pytest
from azure.core.pipeline import PipelineResponse
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from services.azure import clients
from services.azure.audit import TableAuditLog
from services.azure.deliveries import TableDeliveryLedger
from services.azure.queue import StorageJobQueue
from services.azure.tables import TableGrantStore
from services.clock import FrozenClock
from services.domain.jobs import ReconcileJob

pytestmark = pytest.mark.azurite


class Wire:
    """The requests a client sent, as `METHOD path` (no query)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def __call__(self, response: PipelineResponse) -> None:
        request = response.http_request
        path = request.url.split("?", 1)[0].split("/", 3)[-1]
        self.sent.append(f"{request.method} {path}")


def _queue(conn: str, name: str, wire: Wire) -> StorageJobQueue:
    return StorageJobQueue(
        QueueClient.from_connection_string(
            conn,
            name,
            message_encode_policy=TextBase64EncodePolicy(),
            message_decode_policy=TextBase64DecodePolicy(),
            raw_response_hook=wire,
        )
    )


def _kinds(conn: str, name: str) -> list[str]:
    messages = QueueClient.from_connection_string(conn, name).peek_messages(max_messages=32)
    return [json.loads(base64.b64decode(str(m.content)))["kind"] for m in messages]


def test_a_job_sent_to_a_queue_in_place_is_one_request(
    azurite_connection_string: str, unique_name: str
) -> None:
    QueueClient.from_connection_string(azurite_connection_string, unique_name).create_queue()
    wire = Wire()

    _queue(azurite_connection_string, unique_name, wire).send(ReconcileJob(registry="a.io"))

    assert wire.sent == [f"POST devstoreaccount1/{unique_name}/messages"]
    assert _kinds(azurite_connection_string, unique_name) == ["reconcile"]


def test_the_first_job_sent_to_a_missing_queue_creates_it_and_arrives(
    azurite_connection_string: str, unique_name: str
) -> None:
    wire = Wire()
    queue = _queue(azurite_connection_string, unique_name, wire)

    queue.send(ReconcileJob(registry="a.io"))
    queue.send(ReconcileJob(registry="b.io"))

    messages = f"POST devstoreaccount1/{unique_name}/messages"
    # Refused (the queue is missing), the queue created, sent again; then one request a job.
    assert wire.sent == [messages, f"PUT devstoreaccount1/{unique_name}", messages, messages]
    assert _kinds(azurite_connection_string, unique_name) == ["reconcile", "reconcile"]


@pytest.fixture
def cold_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process has listed no table yet, as a new worker."""
    monkeypatch.setattr(clients, "_existing", {})


def _stores(conn: str, prefix: str, wire: Wire) -> None:
    service = TableServiceClient.from_connection_string(conn, raw_response_hook=wire)
    clock = FrozenClock()
    TableGrantStore(service, prefix=prefix, clock=clock)
    TableAuditLog(service, prefix=prefix)
    TableDeliveryLedger(service, prefix=prefix, clock=clock)


@pytest.mark.usefixtures("cold_process")
def test_a_cold_process_whose_tables_exist_lists_them_once_and_creates_none(
    azurite_connection_string: str, unique_name: str
) -> None:
    _stores(azurite_connection_string, unique_name, Wire())  # the deployment made them
    clients._existing.clear()  # a new process
    wire = Wire()

    _stores(azurite_connection_string, unique_name, wire)

    assert wire.sent == ["GET devstoreaccount1/Tables"]


@pytest.mark.usefixtures("cold_process")
def test_tables_the_listing_did_not_show_are_created_once(
    azurite_connection_string: str, unique_name: str
) -> None:
    wire = Wire()

    _stores(azurite_connection_string, unique_name, wire)
    _stores(azurite_connection_string, unique_name, wire)

    # One listing, then the seven tables created (five of the grant store's, the audit log's,
    # the ledger's); the second set of stores asks nothing.
    assert wire.sent == ["GET devstoreaccount1/Tables"] + ["POST devstoreaccount1/Tables"] * 7
    service = TableServiceClient.from_connection_string(azurite_connection_string)
    names = {t.name for t in service.list_tables()}
    suffixes = ("grants", "grantindex", "entries", "messages", "offers", "audit", "deliveries")
    assert {unique_name + s for s in suffixes} <= names
