"""The `JobQueue` contract: the in-memory queue and `StorageJobQueue` on Azurite deliver alike.

What a consumer sees is read the way the Functions queue trigger reads it (host.json:
`messageEncoding: base64`): the message text, base64-decoded, is the job's JSON. The delay each
message got is Storage's own answer (`TimeNextVisible` − `InsertionTime` of the Put Message
response, read through azure-core's `raw_response_hook`), so no test waits for a clock it cannot
move. Storage queues promise no order, so neither does this contract (the fake is FIFO anyway).
"""

from __future__ import annotations

import base64
import json
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.pipeline import PipelineResponse
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy
from pydantic import BaseModel

from services.azure.queue import StorageJobQueue
from services.bootstrap import build_queue
from services.clock import FrozenClock
from services.domain.jobs import (
    SERVICE_JOBS,
    ExpireJob,
    GrantEvent,
    GrantNotice,
    ReconcileJob,
    RegistryNotice,
)
from services.ports import JobQueue
from services.settings import Settings
from tests.fakes.stores import InMemoryQueue, MessageTooLarge


@dataclass
class QueueUnderTest:
    queue: JobQueue
    #: The texts of the messages visible now, as the trigger receives them (then deleted).
    take: Callable[[], list[str]]
    #: Messages on the queue, visible or not.
    waiting: Callable[[], int]
    #: The delay each message sent so far was given, in sending order.
    delays: Callable[[], list[timedelta]]


def _memory(clock: FrozenClock) -> QueueUnderTest:
    fake = InMemoryQueue(clock)

    def delays() -> list[timedelta]:
        return [q.visible_at - q.sent_at for q in fake.sent if q.sent_at is not None]

    return QueueUnderTest(
        queue=fake,
        take=lambda: [q.text for q in fake.take_queued()],
        waiting=lambda: len(fake.jobs),
        delays=delays,
    )


def _storage(connection_string: str, name: str) -> QueueUnderTest:
    answers: list[tuple[datetime, datetime]] = []

    def record(response: PipelineResponse) -> None:
        http = response.http_response
        if http.request.method == "POST" and http.status_code == 201:
            message = ET.fromstring(http.text()).find("QueueMessage")
            assert message is not None
            answers.append(
                (
                    parsedate_to_datetime(message.findtext("InsertionTime", "")),
                    parsedate_to_datetime(message.findtext("TimeNextVisible", "")),
                )
            )

    # As `services.azure.clients.queue_client` builds it (test_the_apps_queue_* below holds the
    # two alike), plus the hook that reads Storage's answers.
    client = QueueClient.from_connection_string(
        connection_string,
        name,
        message_encode_policy=TextBase64EncodePolicy(),
        message_decode_policy=TextBase64DecodePolicy(),
        raw_response_hook=record,
    )
    return QueueUnderTest(
        queue=StorageJobQueue(client),
        take=lambda: _receive(connection_string, name),
        waiting=lambda: _waiting(connection_string, name),
        delays=lambda: [visible - inserted for inserted, visible in answers],
    )


def _waiting(connection_string: str, name: str) -> int:
    """Messages on the queue; none when nothing ever created it (the first send creates it)."""
    try:
        properties = _raw(connection_string, name).get_queue_properties()
    except ResourceNotFoundError:
        return 0
    return int(properties.approximate_message_count)


def _raw(connection_string: str, name: str) -> QueueClient:
    """A client that decodes nothing: it sees the text the trigger gets."""
    return QueueClient.from_connection_string(connection_string, name)


def _receive(connection_string: str, name: str) -> list[str]:
    client = _raw(connection_string, name)
    texts: list[str] = []
    while batch := list(client.receive_messages(max_messages=32, visibility_timeout=300)):
        for message in batch:
            texts.append(str(message.content))
            client.delete_message(message)
    return texts


@pytest.fixture(params=["memory", "azure"])
def jobs(request: pytest.FixtureRequest, clock: FrozenClock, unique_name: str) -> QueueUnderTest:
    if request.param == "memory":
        return _memory(clock)
    return _storage(request.getfixturevalue("azurite_connection_string"), unique_name)


def _decoded(text: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(base64.b64decode(text, validate=True))
    return loaded


WHEN = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
#: One job of each kind the services send.
SERVICE_JOB_SAMPLES: dict[str, BaseModel] = {
    "reconcile": ReconcileJob(registry="contosoprod.azurecr.io", check=True, attempt=2),
    "grant_notice": GrantNotice(
        grant_id="01KJNS8W00A1B2C3D4E5F6G7H8", event=GrantEvent.APPROVED, actor="U0ARI"
    ),
    "registry_notice": RegistryNotice(
        registry="contosoprod.azurecr.io",
        vanished=("193.17.128.0/24",),
        rules_before=("193.17.128.0/24",),
        rules_written=("193.17.128.0/24", "91.38.188.165"),
        rules_after=("91.38.188.165",),
    ),
    "expire": ExpireJob(grant_id="01KJNS8W00A1B2C3D4E5F6G7H8", at=WHEN),
}


def test_a_job_is_delivered_once_as_the_trigger_reads_it(jobs: QueueUnderTest) -> None:
    job = ReconcileJob(registry="contosoprod.azurecr.io")
    jobs.queue.send(job)

    texts = jobs.take()

    assert [_decoded(t) for t in texts] == [job.model_dump(mode="json")]
    assert jobs.take() == []
    assert jobs.waiting() == 0


@pytest.mark.parametrize("kind", list(SERVICE_JOB_SAMPLES))
def test_every_kind_of_service_job_crosses_the_queue_unchanged(
    jobs: QueueUnderTest, kind: str
) -> None:
    job = SERVICE_JOB_SAMPLES[kind]
    jobs.queue.send(job)

    [text] = jobs.take()

    assert SERVICE_JOBS.validate_json(base64.b64decode(text)) == job


def test_a_delayed_job_waits_hidden_for_its_delay(jobs: QueueUnderTest) -> None:
    jobs.queue.send(ReconcileJob(registry="contosoprod.azurecr.io"), delay=timedelta(seconds=90))

    assert jobs.take() == []
    assert jobs.waiting() == 1
    assert jobs.delays() == [timedelta(seconds=90)]


@pytest.mark.parametrize(
    ("asked", "given"),
    [
        (timedelta(milliseconds=250), timedelta(seconds=1)),
        (timedelta(seconds=1.5), timedelta(seconds=2)),
        (timedelta(seconds=59, microseconds=1), timedelta(seconds=60)),
    ],
)
def test_a_delay_is_whole_seconds_rounded_up_never_shorter(
    jobs: QueueUnderTest, asked: timedelta, given: timedelta
) -> None:
    # Storage counts visibility in whole seconds; a deadline job must not come early.
    jobs.queue.send(ExpireJob(grant_id="01KJNS8W00A1B2C3D4E5F6G7H8", at=WHEN), delay=asked)

    assert jobs.take() == []
    assert jobs.delays() == [given]


@pytest.mark.parametrize("asked", [timedelta(0), timedelta(seconds=-30)])
def test_no_delay_or_one_in_the_past_is_visible_at_once(
    jobs: QueueUnderTest, asked: timedelta
) -> None:
    job = ReconcileJob(registry="contosoprod.azurecr.io")
    jobs.queue.send(job, delay=asked)

    assert [_decoded(t) for t in jobs.take()] == [job.model_dump(mode="json")]
    assert jobs.delays() == [timedelta(0)]


def test_a_delay_beyond_seven_days_is_cut_to_seven_days(jobs: QueueUnderTest) -> None:
    # The expiry flow queues the job again for the rest when it comes early.
    jobs.queue.send(
        ExpireJob(grant_id="01KJNS8W00A1B2C3D4E5F6G7H8", at=WHEN), delay=timedelta(days=10)
    )

    assert jobs.take() == []
    assert jobs.delays() == [timedelta(days=7)]


def test_a_delayed_job_does_not_hold_back_one_sent_after_it(jobs: QueueUnderTest) -> None:
    later = ReconcileJob(registry="contosoprod.azurecr.io")
    now = ReconcileJob(registry="contosobuild.azurecr.io")
    jobs.queue.send(later, delay=timedelta(minutes=1))
    jobs.queue.send(now)

    assert [_decoded(t) for t in jobs.take()] == [now.model_dump(mode="json")]
    assert jobs.waiting() == 1


def test_concurrent_senders_lose_no_job_and_duplicate_none(jobs: QueueUnderTest) -> None:
    sent = [ReconcileJob(registry=f"r{n:02d}.azurecr.io") for n in range(20)]
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def send(part: list[ReconcileJob]) -> None:
        barrier.wait()
        try:
            for job in part:
                jobs.queue.send(job)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(sent[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    received = [_decoded(t)["registry"] for t in jobs.take()]
    # Storage queues promise no order: compare as sorted lists (duplicates would show).
    assert sorted(received) == sorted(j.registry for j in sent)


def _notice_of(size: int) -> RegistryNotice:
    """A registry notice whose JSON is about `size` characters."""
    base = len(RegistryNotice(registry="contosoprod.azurecr.io").model_dump_json())
    # Each rule is 15 characters, 18 with its quotes and comma.
    rules = tuple(f"{100 + n // 100}.{100 + n % 100}.200.200" for n in range((size - base) // 18))
    notice = RegistryNotice(registry="contosoprod.azurecr.io", rules_before=rules)
    assert abs(len(notice.model_dump_json()) - size) < 20
    return notice


def test_a_job_that_fits_in_one_message_is_sent_whole(jobs: QueueUnderTest) -> None:
    # 47,000 characters of JSON are 62,668 of base64: under Storage's 64 KiB.
    notice = _notice_of(47_000)
    jobs.queue.send(notice)

    [text] = jobs.take()

    assert SERVICE_JOBS.validate_json(base64.b64decode(text)) == notice


def test_a_job_too_large_for_one_message_is_refused_and_nothing_is_queued(
    jobs: QueueUnderTest,
) -> None:
    # 49,500 characters of JSON are 66,000 of base64: Storage answers RequestBodyTooLarge.
    with pytest.raises((MessageTooLarge, HttpResponseError)):
        jobs.queue.send(_notice_of(49_500))

    assert jobs.waiting() == 0


def test_the_apps_queue_is_the_one_the_contract_holds(
    azurite_connection_string: str, unique_name: str
) -> None:
    """The bootstrap's queue (`build_queue`) encodes as the contract's real queue does: the same
    job gives the same text, as the trigger reads it."""
    settings = Settings(storage_connection_string=azurite_connection_string, queue_name=unique_name)
    contract = _storage(azurite_connection_string, f"{unique_name}-c")
    job = SERVICE_JOB_SAMPLES["registry_notice"]

    build_queue(settings.front).send(job)
    contract.queue.send(job)

    app_texts = _receive(azurite_connection_string, unique_name)
    assert app_texts == contract.take()
    assert [_decoded(t) for t in app_texts] == [job.model_dump(mode="json")]
