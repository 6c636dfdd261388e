"""A stand-in for the Functions host's queue trigger, for tests, benchmarks and the demo.

It receives messages from a Storage queue (Azurite), hands each one's text to a handler, deletes
it when the handler returns, leaves it to reappear when the handler raises, and moves it to the
`<queue>-poison` queue after `max_dequeue_count` attempts — what host.json configures for the
real host. Several workers may drain one queue at once.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient, QueueMessage

from services.azure.clients import queue_client
from services.settings import StorageTarget


@dataclass
class RunStats:
    handled: int = 0
    failed: int = 0
    poisoned: int = 0
    errors: list[BaseException] = field(default_factory=list)


class QueueRunner:
    def __init__(
        self,
        client: QueueClient,
        poison: QueueClient,
        handler: Callable[[QueueMessage], None],
        *,
        max_dequeue_count: int = 5,
        visibility_timeout: int = 10,
    ) -> None:
        self._client = client
        self._poison = poison
        self._handler = handler
        self._max = max_dequeue_count
        self._visibility = visibility_timeout
        self.stats = RunStats()
        self._mutex = threading.Lock()
        with contextlib.suppress(ResourceExistsError):
            client.create_queue()

    @classmethod
    def for_storage(
        cls,
        target: StorageTarget,
        queue: str,
        handler: Callable[[QueueMessage], None],
        **kwargs: Any,
    ) -> QueueRunner:
        """A runner for `queue` and its poison queue on the storage account `target` reaches."""
        return cls(
            queue_client(target, queue), queue_client(target, f"{queue}-poison"), handler, **kwargs
        )

    @property
    def poison(self) -> QueueClient:
        return self._poison

    def run_once(self, max_messages: int = 8) -> int:
        """Handle what is visible now; returns how many messages were received."""
        messages = list(
            self._client.receive_messages(
                messages_per_page=max_messages,
                max_messages=max_messages,
                visibility_timeout=self._visibility,
            )
        )
        for message in messages:
            self._handle(message)
        return len(messages)

    def _handle(self, message: QueueMessage) -> None:
        if message.dequeue_count and message.dequeue_count > self._max:
            with contextlib.suppress(ResourceExistsError):
                self._poison.create_queue()
            self._poison.send_message(message.content)
            self._client.delete_message(message)
            with self._mutex:
                self.stats.poisoned += 1
            return
        try:
            self._handler(message)
        except Exception as exc:  # the host logs it and lets the message reappear
            with self._mutex:
                self.stats.failed += 1
                self.stats.errors.append(exc)
            self._client.update_message(message, visibility_timeout=0)
            return
        self._client.delete_message(message)
        with self._mutex:
            self.stats.handled += 1

    def drain(
        self,
        *,
        workers: int = 1,
        until: Callable[[], bool],
        timeout: float = 60.0,
        idle_pause: float = 0.05,
    ) -> RunStats:
        """Run `workers` threads until `until()` holds (or `timeout` seconds pass)."""
        deadline = time.monotonic() + timeout
        stop = threading.Event()

        def work() -> None:
            while not stop.is_set() and time.monotonic() < deadline:
                if self.run_once() == 0:
                    stop.wait(idle_pause)

        threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
        for thread in threads:
            thread.start()
        try:
            while time.monotonic() < deadline and not until():
                time.sleep(idle_pause)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        return self.stats
