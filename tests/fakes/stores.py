"""In-memory grant store, audit log, delivery ledger and job queue."""

from __future__ import annotations

import base64
import ipaddress
import itertools
import math
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel

from services.clock import Clock
from services.domain.audit import AuditEvent
from services.domain.claims import Claim, ClaimState
from services.domain.errors import ConcurrentUpdate, GrantNotFound
from services.domain.grants import Grant, GrantState, IndexRow, MessageRef
from services.domain.ids import is_ulid, time_key
from services.domain.offers import Offer
from services.domain.reconcile import Fence, OwnedEntry
from services.ports import IndexEntry

_etags = itertools.count(1)


def _etag() -> str:
    return f'W/"{next(_etags)}"'


class InMemoryGrantStore:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._grants: dict[str, tuple[Grant, str]] = {}
        self._index: dict[tuple[str, str], IndexEntry] = {}
        self._entries: dict[tuple[str, str], OwnedEntry] = {}
        self._fences: dict[str, tuple[Fence, str]] = {}
        self._messages: dict[str, dict[str, MessageRef]] = {}
        self._offers: dict[str, Offer] = {}
        self._mutex = threading.RLock()
        #: How many times each index partition was read (`rows`), for tests of repeated reads.
        self.partition_reads: Counter[str] = Counter()

    # grants
    def create(self, grant: Grant) -> None:
        with self._mutex:
            if grant.id in self._grants:
                raise ConcurrentUpdate(grant.id)
            self._grants[grant.id] = (grant, _etag())

    def get(self, grant_id: str) -> tuple[Grant, str]:
        with self._mutex:
            if not is_ulid(grant_id) or grant_id not in self._grants:
                raise GrantNotFound(grant_id)
            return self._grants[grant_id]

    def replace(self, grant: Grant, etag: str) -> str:
        with self._mutex:
            current = self._grants.get(grant.id)
            if current is None or current[1] != etag:
                raise ConcurrentUpdate(grant.id)
            new = _etag()
            self._grants[grant.id] = (grant, new)
            return new

    def delete(self, grant_id: str) -> None:
        with self._mutex:
            self._grants.pop(grant_id, None)

    def scan(
        self, *, registry: str | None = None, state: GrantState | None = None
    ) -> Iterator[Grant]:
        with self._mutex:
            grants = [g for g, _ in self._grants.values()]
        for grant in grants:
            if (registry is None or grant.registry == registry) and (
                state is None or grant.state is state
            ):
                yield grant

    # index
    def _entry(self, row: IndexRow, grant_id: str) -> IndexEntry:
        return IndexEntry(row.partition, row.row, grant_id, self._clock.now(), _etag())

    def put_rows(self, rows: Iterable[IndexRow], grant_id: str) -> None:
        with self._mutex:
            for row in rows:
                if not row.claim:
                    self._index[(row.partition, row.row)] = self._entry(row, grant_id)

    def drop_rows(self, rows: Iterable[IndexRow], grant_id: str) -> None:
        with self._mutex:
            for row in rows:
                key = (row.partition, row.row)
                held = self._index.get(key)
                if held is not None and (not row.claim or held.grant_id == grant_id):
                    del self._index[key]

    def claim(self, row: IndexRow, grant_id: str) -> bool:
        with self._mutex:
            key = (row.partition, row.row)
            if key in self._index:
                return False
            self._index[key] = self._entry(row, grant_id)
            return True

    def holder(self, row: IndexRow) -> IndexEntry | None:
        with self._mutex:
            return self._index.get((row.partition, row.row))

    def take_over(self, row: IndexRow, grant_id: str, etag: str) -> bool:
        with self._mutex:
            key = (row.partition, row.row)
            held = self._index.get(key)
            if held is None or held.etag != etag:
                return False
            self._index[key] = self._entry(row, grant_id)
            return True

    def rows(
        self, partition: str, *, after: str | None = None, until: str | None = None
    ) -> list[IndexEntry]:
        with self._mutex:
            self.partition_reads[partition] += 1
            found = [
                e
                for (p, r), e in self._index.items()
                if p == partition
                and (until is None or r < until + "~")
                and (after is None or r > after + "~")
            ]
        return sorted(found, key=lambda e: e.row)

    # fences
    def fence(self, registry: str) -> tuple[Fence | None, str | None]:
        with self._mutex:
            held = self._fences.get(registry)
            return (held[0], held[1]) if held else (None, None)

    def commit(
        self,
        registry: str,
        *,
        fence: Fence,
        etag: str | None,
        put: Iterable[OwnedEntry] = (),
        drop: Iterable[ipaddress.IPv4Address] = (),
    ) -> str:
        with self._mutex:
            held = self._fences.get(registry)
            if (held[1] if held else None) != etag:
                raise ConcurrentUpdate(f"{registry}/fence")
            new = _etag()
            self._fences[registry] = (fence, new)
            puts = list(put)
            for ip in drop:
                self._entries.pop((registry, str(ip)), None)
            for entry in puts:
                self._entries[(entry.registry, str(entry.ip))] = entry
            return new

    def fences(self) -> list[Fence]:
        with self._mutex:
            return [f for f, _ in self._fences.values()]

    # entries
    def entries(self, registry: str) -> list[OwnedEntry]:
        with self._mutex:
            return [e for (r, _), e in self._entries.items() if r == registry]

    # offers
    def put_offer(self, offer: Offer) -> None:
        with self._mutex:
            self._offers[offer.id] = offer

    def get_offer(self, offer_id: str) -> Offer | None:
        with self._mutex:
            return self._offers.get(offer_id)

    # messages
    def add_message(self, grant_id: str, ref: MessageRef) -> None:
        with self._mutex:
            self._messages.setdefault(grant_id, {})[f"{ref.kind}|{ref.channel}|{ref.ts}"] = ref

    def messages(self, grant_id: str) -> list[MessageRef]:
        with self._mutex:
            return list(self._messages.get(grant_id, {}).values())

    # for tests
    def index_keys(self, partition_prefix: str = "") -> list[tuple[str, str]]:
        with self._mutex:
            return sorted(k for k in self._index if k[0].startswith(partition_prefix))


class InMemoryAuditLog:
    def __init__(self) -> None:
        self._events: dict[str, dict[str, AuditEvent]] = {}
        self._mutex = threading.Lock()

    def append(self, event: AuditEvent, *, partitions: Iterable[str] = ()) -> None:
        primary = event.grant_id if event.kind == "transition" and event.grant_id else None
        primary = primary or f"registry|{(event.registry or 'unknown').lower()}"
        with self._mutex:
            for partition in dict.fromkeys([primary, *partitions]):
                self._events.setdefault(partition, {})[event.event_id] = event

    def for_grant(self, grant_id: str) -> list[AuditEvent]:
        with self._mutex:
            return sorted(self._events.get(grant_id, {}).values(), key=lambda e: e.event_id)

    def for_registry(self, registry: str, *, since: datetime | None = None) -> list[AuditEvent]:
        with self._mutex:
            events = self._events.get(f"registry|{registry.strip().lower()}", {}).values()
            return sorted(
                (e for e in events if since is None or e.event_id >= time_key(since)),
                key=lambda e: e.event_id,
            )


class InMemoryLedger:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._claims: dict[str, datetime] = {}
        #: key -> (state, when first begun, data) of claims that record progress, and when each
        #: one's current attempt started.
        self._progress: dict[str, tuple[str, datetime, dict[str, str]]] = {}
        self._started: dict[str, datetime] = {}
        self._mutex = threading.Lock()

    def claim(self, delivery_id: str) -> bool:
        with self._mutex:
            if delivery_id in self._claims:
                return False
            self._claims[delivery_id] = self._clock.now()
            self._progress[delivery_id] = ("done", self._clock.now(), {})
            return True

    def release(self, delivery_id: str) -> None:
        with self._mutex:
            self._claims.pop(delivery_id, None)
            self._progress.pop(delivery_id, None)

    def begin(self, delivery_id: str, *, stale_after: timedelta) -> Claim:
        now = self._clock.now()
        with self._mutex:
            held = self._progress.get(delivery_id)
            if held is None:
                self._claims[delivery_id] = now
                self._progress[delivery_id] = ("in_progress", now, {})
                self._started[delivery_id] = now
                return Claim(ClaimState.NEW, {}, now)
            state, at, data = held
            if state == "done":
                return Claim(ClaimState.DONE, dict(data), at)
            if state == "in_progress" and now - self._started.get(delivery_id, at) <= stale_after:
                return Claim(ClaimState.BUSY, dict(data), at)
            self._progress[delivery_id] = ("in_progress", at, data)
            self._started[delivery_id] = now
            return Claim(ClaimState.RESUMED, dict(data), at)

    def note(self, delivery_id: str, **data: str) -> None:
        with self._mutex:
            state, at, old = self._progress[delivery_id]
            self._progress[delivery_id] = (state, at, {**old, **data})

    def finish(self, delivery_id: str, **data: str) -> None:
        self.note(delivery_id, **data)
        self._set(delivery_id, "done")

    def fail(self, delivery_id: str) -> None:
        self._set(delivery_id, "failed")

    def _set(self, delivery_id: str, state: str) -> None:
        with self._mutex:
            _, at, data = self._progress[delivery_id]
            self._progress[delivery_id] = (state, at, data)

    def purge(self, older_than: datetime) -> int:
        cutoff = older_than.replace(minute=0, second=0, microsecond=0)
        with self._mutex:
            old = [k for k, at in self._claims.items() if at < cutoff]
            for key in old:
                del self._claims[key]
                self._progress.pop(key, None)
            return len(old)


#: A Storage queue message holds at most 64 KiB of text (here: the base64 the trigger reads).
MAX_MESSAGE_CHARS = 64 * 1024
#: Storage queues hide a message for at most seven days.
MAX_DELAY = timedelta(days=7)


class MessageTooLarge(ValueError):
    """The job does not fit in one queue message (Storage answers `RequestBodyTooLarge`)."""


@dataclass
class QueuedJob:
    job: BaseModel
    visible_at: datetime
    #: The message as the Functions trigger reads it: the job's JSON, base64-encoded.
    text: str = ""
    #: When it was sent (Storage's `InsertionTime`).
    sent_at: datetime | None = None


class InMemoryQueue:
    """Jobs in order; `take()` hands out those visible now (by the injected clock).

    As strict as a Storage queue where a unit test could otherwise pass on a job the real one
    refuses or delays differently (`tests/contracts/test_job_queue.py`): a job must be JSON and
    fit in one message; a delay is whole seconds (rounded up), at most seven days. Stricter in
    one way the contract does not promise: jobs come out in the order they went in.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.jobs: list[QueuedJob] = []
        #: Every message ever sent, taken or not.
        self.sent: list[QueuedJob] = []
        self._mutex = threading.Lock()

    def send(self, job: BaseModel, *, delay: timedelta = timedelta(0)) -> None:
        text = base64.b64encode(job.model_dump_json().encode()).decode("ascii")
        if len(text) > MAX_MESSAGE_CHARS:
            raise MessageTooLarge(
                f"a {type(job).__name__} of {len(text)} characters does not fit in a queue "
                f"message ({MAX_MESSAGE_CHARS})"
            )
        seconds = math.ceil(min(max(delay, timedelta(0)), MAX_DELAY).total_seconds())
        with self._mutex:
            now = self._clock.now()
            queued = QueuedJob(job, now + timedelta(seconds=seconds), text, now)
            self.jobs.append(queued)
            self.sent.append(queued)

    def take(self) -> list[BaseModel]:
        return [q.job for q in self.take_queued()]

    def take_queued(self) -> list[QueuedJob]:
        """The messages visible now, taken off the queue."""
        now = self._clock.now()
        with self._mutex:
            due = [q for q in self.jobs if q.visible_at <= now]
            self.jobs = [q for q in self.jobs if q.visible_at > now]
        return due

    def kinds(self) -> list[str]:
        with self._mutex:
            return [str(getattr(q.job, "kind", "")) for q in self.jobs]
