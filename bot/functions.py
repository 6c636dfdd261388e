"""The entry points `function_app.py` binds, one line each: the HTTP route Slack calls, the job
queue, its poison queue and the sweep timer. The process's `Runtime` is built on first use from
the environment; tests and the demo `install` their own.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import azure.functions as func

    from bot.runtime import Runtime

_process: dict[str, Runtime] = {}
_mutex = threading.Lock()


def runtime() -> Runtime:
    with _mutex:
        if "runtime" not in _process:
            from bot.runtime import Runtime

            _process["runtime"] = Runtime()
        return _process["runtime"]


def install(value: Runtime | None) -> None:
    """Use `value` for this process (None: build from the environment again on next use)."""
    with _mutex:
        _process.pop("runtime", None)
        if value is not None:
            _process["runtime"] = value


def slack_events(req: func.HttpRequest) -> func.HttpResponse:
    return runtime().front.handle(req)


def work(msg: func.QueueMessage) -> None:
    runtime().worker.handle(msg.get_body().decode("utf-8"), reference=msg.id)


def poison(msg: func.QueueMessage) -> None:
    runtime().worker.poisoned(msg.get_body().decode("utf-8"), reference=msg.id)


def sweep(timer: func.TimerRequest) -> None:
    runtime().worker.sweep()
