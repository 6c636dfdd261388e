"""The queue trigger for a process that has no Functions host (`python -m bot socket`), on the
Storage queue SDK: it takes
messages from a Storage queue, hands each one's text to a handler, and settles it the way
host.json tells the host to (`QueueOptions.from_host_json`):

- at most `batchSize` messages are fetched at once, and the next batch when no more than
  `newBatchThreshold` are still running;
- an empty queue is polled less and less often, up to `maxPollingInterval`;
- a message is hidden for `functionTimeout` while it runs, deleted when its handler returns, and
  visible again `visibilityTimeout` after its handler raised; a message that failed
  `maxDequeueCount` times moves to `<queue>-poison`, as does one that comes back with more
  attempts than that (its process died while running it).

`stop()` fetches nothing more and waits for the messages in hand.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError, ResourceExistsError

from services.azure.clients import queue_client
from services.domain.errors import Unavailable

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient, QueueMessage

    from services.front_settings import StorageTarget

logger = logging.getLogger(__name__)

HOST_JSON = Path(__file__).resolve().parents[2] / "host.json"

#: The first pause after an empty receive; it doubles up to `max_polling_interval`.
FIRST_IDLE_PAUSE = 0.05
#: Storage queues hand out at most 32 messages per receive.
MAX_BATCH = 32

#: Handles one message: its text and its id (the reference an operator can look up).
Handler = Callable[[str, str], None]

_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d+):(\d+):(\d+(?:\.\d+)?)$")


def timespan_seconds(value: str) -> float:
    """A .NET TimeSpan as host.json writes it (`[d.]hh:mm:ss[.fff]`) in seconds."""
    match = _TIMESPAN.match(value.strip())
    if match is None:
        raise ValueError(f"not a timespan: {value!r}")
    days, hours, minutes, seconds = match.groups()
    return ((int(days or 0) * 24 + int(hours)) * 60 + int(minutes)) * 60 + float(seconds)


@dataclass(frozen=True)
class QueueOptions:
    """The queue trigger's settings; the defaults are the Functions host's own."""

    batch_size: int = 16
    new_batch_threshold: int = 8
    max_polling_interval: float = 60.0
    #: Seconds before a failed message is tried again.
    visibility_timeout: float = 0.0
    max_dequeue_count: int = 5
    #: Seconds a running message stays hidden from other readers.
    function_timeout: float = 300.0

    @classmethod
    def from_host_json(cls, path: Path = HOST_JSON) -> QueueOptions:
        """The options host.json gives the Function app (defaults for what it leaves out)."""
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        queues: dict[str, Any] = doc.get("extensions", {}).get("queues", {})
        defaults = cls()
        batch = min(int(queues.get("batchSize", defaults.batch_size)), MAX_BATCH)

        def span(key: str, default: float) -> float:
            raw = queues.get(key) if key in queues else doc.get(key)
            return timespan_seconds(str(raw)) if raw is not None else default

        return cls(
            batch_size=batch,
            new_batch_threshold=int(queues.get("newBatchThreshold", batch // 2)),
            max_polling_interval=span("maxPollingInterval", defaults.max_polling_interval),
            visibility_timeout=span("visibilityTimeout", defaults.visibility_timeout),
            max_dequeue_count=int(queues.get("maxDequeueCount", defaults.max_dequeue_count)),
            function_timeout=span("functionTimeout", defaults.function_timeout),
        )


class QueueUnavailable(Unavailable):
    def __init__(self, queue: str, reason: str) -> None:
        super().__init__(f"cannot reach the job queue {queue}: {reason}")
        self.queue = queue


@dataclass
class DrainStats:
    handled: int = 0
    failed: int = 0
    poisoned: int = 0


class QueueDrain:
    """Runs one queue's messages through `handler` on a background thread until `stop()`."""

    def __init__(
        self,
        client: QueueClient,
        poison: QueueClient,
        handler: Handler,
        *,
        options: QueueOptions,
    ) -> None:
        self._client = client
        self._poison = poison
        self._handler = handler
        self._options = options
        self._stop = threading.Event()
        self._settled = threading.Condition()
        self._running = 0
        self._poison_ready = False
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self.stats = DrainStats()

    @classmethod
    def for_storage(
        cls, target: StorageTarget, queue: str, handler: Handler, *, options: QueueOptions
    ) -> QueueDrain:
        return cls(
            queue_client(target, queue),
            queue_client(target, f"{queue}-poison"),
            handler,
            options=options,
        )

    @property
    def name(self) -> str:
        return str(self._client.queue_name)

    @property
    def running(self) -> int:
        """Messages being handled right now."""
        with self._settled:
            return self._running

    def start(self) -> None:
        """Open the queue (created if missing) and start fetching; `QueueUnavailable` when the
        storage account cannot be reached."""
        try:
            with contextlib.suppress(ResourceExistsError):
                self._client.create_queue()
        except AzureError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise QueueUnavailable(self.name, reason) from exc
        capacity = self._options.batch_size + self._options.new_batch_threshold
        self._pool = ThreadPoolExecutor(max_workers=capacity, thread_name_prefix=self.name)
        self._thread = threading.Thread(target=self._poll, name=f"{self.name}-poll", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Fetch nothing more; return once every message in hand is settled."""
        self._stop.set()
        with self._settled:
            self._settled.notify_all()
        if self._thread is not None:
            self._thread.join()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _poll(self) -> None:
        assert self._pool is not None
        pause = 0.0
        while not self._stop.is_set():
            with self._settled:
                while self._running > self._options.new_batch_threshold and not self._stop.is_set():
                    self._settled.wait()
            if self._stop.is_set():
                return
            messages = self._receive()
            if not messages:
                pause = min(max(pause * 2, FIRST_IDLE_PAUSE), self._options.max_polling_interval)
                self._stop.wait(pause)
                continue
            pause = 0.0
            for message in messages:
                with self._settled:
                    self._running += 1
                self._pool.submit(self._settle, message)

    def _receive(self) -> list[QueueMessage]:
        try:
            return list(
                self._client.receive_messages(
                    messages_per_page=self._options.batch_size,
                    max_messages=self._options.batch_size,
                    visibility_timeout=max(1, int(self._options.function_timeout)),
                )
            )
        except Exception:
            # Storage unreachable for a moment: the loop backs off and tries again.
            logger.exception("could not receive from queue %s", self.name)
            return []

    def _settle(self, message: QueueMessage) -> None:
        try:
            attempts = message.dequeue_count or 1
            if attempts > self._options.max_dequeue_count:
                self._to_poison(message)
                return
            try:
                self._handler(str(message.content), message.id)
            except Exception:
                logger.exception(
                    "message %s on %s failed (attempt %d of %d)",
                    message.id,
                    self.name,
                    attempts,
                    self._options.max_dequeue_count,
                )
                self._count("failed")
                if attempts >= self._options.max_dequeue_count:
                    self._to_poison(message)
                else:
                    self._client.update_message(
                        message, visibility_timeout=int(self._options.visibility_timeout)
                    )
                return
            self._client.delete_message(message)
            self._count("handled")
        except Exception:
            # Settling failed (storage gone): the message comes back when its hiding time ends.
            logger.exception("could not settle message %s on %s", message.id, self.name)
        finally:
            with self._settled:
                self._running -= 1
                self._settled.notify_all()

    def _to_poison(self, message: QueueMessage) -> None:
        if not self._poison_ready:
            with contextlib.suppress(ResourceExistsError):
                self._poison.create_queue()
            self._poison_ready = True
        self._poison.send_message(message.content)
        self._client.delete_message(message)
        self._count("poisoned")
        logger.error("message %s moved to %s", message.id, self._poison.queue_name)

    def _count(self, field: str) -> None:
        with self._settled:
            setattr(self.stats, field, getattr(self.stats, field) + 1)
