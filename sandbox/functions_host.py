"""A stand-in for the Azure Functions host, for tests and the demo (Core Tools cannot be installed
here): it calls the functions `function_app.py` declares, as the host would.

- `http(req)` calls the HTTP function.
- `run_queue(until=…)` drains the job queue on Azurite through the queue function, with host.json's
  queue settings: a message whose function raises comes back, and after `maxDequeueCount`
  attempts moves to `<queue>-poison`, which is drained through the poison function.
- `timer()` calls the timer function.
- `HttpHost` serves the HTTP functions on loopback, with the host's function-key check.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import azure.functions as func
from azure.functions.decorators.function_app import FunctionBuilder
from azure.functions.timer import TimerRequest
from azure.storage.queue import QueueMessage

from sandbox.loopback import LoopbackServer, reply
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
    def __init__(
        self, app_module: ModuleType, settings: Settings, *, queue: str | None = None
    ) -> None:
        """`queue`: the job queue to drain (default: the one `function_app` binds, as the host
        reads it when it indexes the app)."""
        self._app = app_module
        queues = host_settings()
        self.max_dequeue_count = int(queues["maxDequeueCount"])
        queue = queue or str(getattr(app_module, "JOB_QUEUE", settings.queue_name))
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

    def run_until_empty(self) -> int:
        """Handle what is visible on both queues, again and again, until a pass finds nothing;
        returns how many messages were handled (no waiting: for tests on a frozen clock)."""
        handled = 0
        while True:
            got = self._jobs.run_once() + self._poison.run_once()
            if not got:
                return handled
            handled += got

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


class HttpHost(LoopbackServer):
    """The Functions host's HTTP front on loopback: `GET|POST /api/<route>` reaches the function
    that declares the route, with the host's own key check for routes of auth level `FUNCTION`
    (`x-functions-key` header or `code` query parameter; 401 with an empty body without a valid
    one) and 404 for any other path. Use as a context manager; `url` is its base URL."""

    tls = False
    thread_name = "functions-host"

    def __init__(self, app_module: ModuleType, *, function_key: str) -> None:
        super().__init__()
        self._key = function_key
        self._routes: dict[str, tuple[Callable[..., Any], bool]] = {}
        # The module's decorated functions (`app.get_functions()` may be called only once).
        builders = [b for b in vars(app_module).values() if isinstance(b, FunctionBuilder)]
        for function in (b.build() for b in builders):
            trigger = function.get_trigger()
            route = getattr(trigger, "route", None)
            if route is not None:
                keyed = getattr(trigger, "auth_level", None) == func.AuthLevel.FUNCTION
                self._routes[route.strip("/")] = (function.get_user_function(), keyed)

    @property
    def url(self) -> str:
        return self.base_url

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        split = urlsplit(h.path)
        params = {k: v[-1] for k, v in parse_qs(split.query).items()}
        route = split.path.removeprefix("/api/").strip("/")
        served = split.path.startswith("/api/") and h.command in ("GET", "POST")
        found = self._routes.get(route) if served else None
        if found is None:
            reply(h, 404, {}, b"")
            return
        function, keyed = found
        given = h.headers.get("x-functions-key") or params.get("code")
        if keyed and given != self._key:
            reply(h, 401, {}, b"")
            return
        length = int(h.headers.get("Content-Length") or 0)
        request = func.HttpRequest(
            method=h.command,
            url=f"{self.url}{h.path}",
            headers=dict(h.headers.items()),
            params=params,
            body=h.rfile.read(length) if length else b"",
        )
        response: func.HttpResponse = function(request)
        reply(h, response.status_code, dict(response.headers), response.get_body())
