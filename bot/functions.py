"""The entry points `function_app.py` binds, one line each: the HTTP route Slack calls, the job
queue, its poison queue, the sweep timer, the health routes and the daily service-tag refresh. The
process's `Runtime` is built on first use from the environment, and telemetry is configured with
it (`bot.telemetry`); tests and the demo `install` their own.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from bot import telemetry

if TYPE_CHECKING:
    import azure.functions as func

    from bot.runtime import Runtime

logger = logging.getLogger(__name__)

_process: dict[str, Runtime] = {}
_mutex = threading.Lock()


def runtime() -> Runtime:
    with _mutex:
        if "runtime" not in _process:
            from bot.runtime import Runtime

            built = Runtime()
            telemetry.configure(built.front_settings)
            _process["runtime"] = built
        return _process["runtime"]


def install(value: Runtime | None) -> None:
    """Use `value` for this process (None: build from the environment again on next use)."""
    with _mutex:
        _process.pop("runtime", None)
        if value is not None:
            _process["runtime"] = value


def slack_events(req: func.HttpRequest) -> func.HttpResponse:
    response = runtime().front.handle(req)
    telemetry.start()  # only now: the acknowledgement never waits for its imports
    return response


def work(msg: func.QueueMessage) -> None:
    body = msg.get_body().decode("utf-8")
    with telemetry.job(body, msg.id):
        runtime().bus.handle(body, reference=msg.id)


def poison(msg: func.QueueMessage) -> None:
    body = msg.get_body().decode("utf-8")
    with telemetry.job(body, msg.id, poisoned=True):
        runtime().bus.poisoned(body, reference=msg.id)


def sweep(timer: func.TimerRequest) -> None:
    with telemetry.invocation("sweep"):
        runtime().sweep()
        telemetry.count("acrbot.sweeps")


def health(req: func.HttpRequest) -> func.HttpResponse:
    from bot import health as route

    response = (
        route.deep_elsewhere()
        if req.params.get("deep")
        else route.handle(lambda: runtime().settings)
    )
    telemetry.start()
    return response


def health_deep(req: func.HttpRequest) -> func.HttpResponse:
    from bot import health as route
    from bot.doctor import app_report

    response = route.handle_deep(lambda: app_report(runtime))
    telemetry.start()
    return response


def refresh_service_tags(timer: func.TimerRequest) -> None:
    """The daily timer, also run by azd's postdeploy hook: fetch the service tags and store them
    for the diagnosis (without them it offers no temporary rule for a public address), unless
    fresh ones are stored. A failure is logged and raised (the invocation shows as failed);
    yesterday's tags stay in place."""
    from services.azure.service_tags import ServiceTagsRefreshError, refresh_unless_fresh

    rt = runtime()
    with telemetry.invocation("refresh_service_tags"):
        try:
            # The runtime's ARM credential (a test's static token); None: the managed identity.
            result = refresh_unless_fresh(rt.settings, clock=rt.clock, credential=rt.credential)
        except ServiceTagsRefreshError as exc:
            telemetry.count("acrbot.service_tags.refreshes", outcome="failed")
            logger.error("service tag refresh failed: %s", exc)
            raise
        if result is None:
            return
        telemetry.count("acrbot.service_tags.refreshes", outcome="stored")
        logger.info("service tags refreshed: %d tags, change %s", result.tags, result.change_number)
