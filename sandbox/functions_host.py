"""A stand-in for the Azure Functions host, for tests and the demo (Core Tools cannot be installed
here): it calls the functions `function_app.py` declares, as the host would.

- `http(req)` calls the HTTP function.
- `run_queue(until=…)` drains the job queue on Azurite through the queue function, with host.json's
  queue settings: a message whose function raises comes back, and after `maxDequeueCount`
  attempts moves to `<queue>-poison`, which is drained through the poison function.
- `timer()` calls the timer function.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import azure.functions as func
from azure.functions.timer import TimerRequest
from azure.storage.queue import QueueMessage

from sandbox.queue_runner import QueueRunner, RunStats
from services.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
#: Seconds between two looks at empty queues.
IDLE_PAUSE = 0.05


def _function(app_module: ModuleType, name: str) -> Callable[..., Any]:
    return getattr(app_module, name).build().get_user_function()  # type: ignore[no-any-return]


def host_settings() -> dict[str, Any]:
    queues: dict[str, Any] = json.loads((ROOT / "host.json").read_text())["extensions"]["queues"]
    return queues


class FunctionsHost:
    def __init__(self, app_module: ModuleType, settings: Settings) -> None:
        self._app = app_module
        queues = host_settings()
        self.max_dequeue_count = int(queues["maxDequeueCount"])
        queue = str(getattr(app_module, "JOB_QUEUE", settings.queue_name))
        self._jobs = QueueRunner.for_storage(
            settings.storage, queue, self._run("work"), max_dequeue_count=self.max_dequeue_count
        )
        self._poison = QueueRunner.for_storage(
            settings.storage, f"{queue}-poison", self._run("poison"), max_dequeue_count=1000
        )

    def _run(self, name: str) -> Callable[[QueueMessage], None]:
        function = _function(self._app, name)

        def call(message: QueueMessage) -> None:
            function(func.QueueMessage(id=message.id, body=str(message.content).encode("utf-8")))

        return call

    def http(self, req: func.HttpRequest) -> func.HttpResponse:
        response: func.HttpResponse = _function(self._app, "slack_events")(req)
        return response

    def timer(self) -> None:
        _function(self._app, "sweep")(TimerRequest())

    def run_queue(
        self, *, until: Callable[[], bool] | None = None, timeout: float = 30.0, workers: int = 1
    ) -> RunStats:
        """Handle jobs (and poison) until `until()` holds, or until both queues are empty."""
        if until is None:
            # Back to back while there is work; one short pause before the second look that
            # finds both queues empty (a message sent in between is then still seen).
            deadline = time.monotonic() + timeout
            empty = 0
            while empty < 2 and time.monotonic() < deadline:
                if self._jobs.run_once() + self._poison.run_once():
                    empty = 0
                    continue
                empty += 1
                if empty < 2:
                    time.sleep(IDLE_PAUSE)
            return self._jobs.stats
        self._jobs.drain(
            workers=workers, until=lambda: self._poison.run_once() >= 0 and until(), timeout=timeout
        )
        return self._jobs.stats

    def clear(self) -> None:
        """Empty both queues (one queue name is shared by every test on one Azurite)."""
        self._jobs.clear()
        self._poison.clear()

    @property
    def stats(self) -> RunStats:
        return self._jobs.stats

    @property
    def poison_stats(self) -> RunStats:
        return self._poison.stats
