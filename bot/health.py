"""`GET /api/health`: is the app's storage reachable, how long is the job queue, which version runs.

Anonymous, so it says nothing an outsider could use: no account, registry or Slack names, no
exception text (a failed check gives its exception's class name and the storage error code),
only `ok`/`degraded`, per-check timings, the two queues' approximate backlogs and the version.

```
200 {"status": "ok", "version": "0.1.0",
     "checks": {"tables": {"ok": true, "ms": 6},
                "queue": {"ok": true, "ms": 4, "backlog": 0},
                "poison": {"ok": true, "ms": 4, "backlog": 0}}}
503 {"status": "degraded", ..., "checks": {"tables": {"ok": false, "ms": 3001,
     "error": "Timeout"}, ...}}
```

The three checks run side by side within `Settings.health_timeout_seconds`, each one request
without retries; a check that has not answered by then counts as failed and is left behind. Only
the table and queue SDKs are loaded (the HTTP function has them anyway), never the blob, the
management or, with a connection string, the identity SDKs.
"""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import azure.functions as func

    from services.flows.doctor import DoctorReport
    from services.settings import Settings

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    ms: int
    backlog: int | None = None
    error: str | None = None
    #: What else the check found (the service tags' source and age).
    detail: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": self.ok, "ms": self.ms, **(self.detail or {})}
        if self.backlog is not None:
            body["backlog"] = self.backlog
        if self.error is not None:
            body["error"] = self.error
        return body


@dataclass(frozen=True)
class Health:
    version: str
    checks: dict[str, CheckResult]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks.values())

    @property
    def status_code(self) -> int:
        return 200 if self.ok else 503

    def as_json(self) -> dict[str, Any]:
        return {
            "status": "ok" if self.ok else "degraded",
            "version": self.version,
            "checks": {name: check.as_json() for name, check in self.checks.items()},
        }


@cache
def package_version(pyproject: Path = PYPROJECT) -> str:
    """`[project] version` of pyproject.toml, read once per process ("unknown" without one)."""
    try:
        with pyproject.open("rb") as fh:
            return str(tomllib.load(fh)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def app_version(settings: Settings | None) -> str:
    """The package version, with the build id (`ACRBOT_BUILD`) when one is set."""
    base = package_version()
    build = settings.build if settings is not None else None
    return f"{base}+{build}" if build else base


def describe(exc: BaseException) -> str:
    """A failure as the route may show it: the class name and the storage error code."""
    code = getattr(exc, "error_code", None)
    name = type(exc).__name__
    return f"{name} ({code})" if isinstance(code, str) and code.isidentifier() else name


def _timed(probe: Callable[[], int | dict[str, Any] | None]) -> CheckResult:
    started = time.monotonic()
    try:
        found = probe()
    except Exception as exc:
        return CheckResult(False, _ms(started), error=describe(exc))
    if isinstance(found, dict):
        return CheckResult(True, _ms(started), detail=found)
    return CheckResult(True, _ms(started), backlog=found)


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def check(settings: Settings) -> Health:
    """Run the storage checks side by side, each bounded by `health_timeout_seconds`."""
    from services.bootstrap import build_storage_probes

    budget = settings.health_timeout_seconds
    probes = build_storage_probes(settings, budget)
    started = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=len(probes), thread_name_prefix="acrbot-health")
    try:
        futures = {name: pool.submit(_timed, probe) for name, probe in probes.items()}
        wait_for(futures.values(), timeout=budget)
    finally:
        # A check stuck on a dead endpoint is left to its own socket time-out.
        pool.shutdown(wait=False, cancel_futures=True)
    results = {
        name: future.result()
        if future.done()
        else CheckResult(False, _ms(started), error="Timeout")
        for name, future in futures.items()
    }
    return Health(app_version(settings), results)


def handle(load_settings: Callable[[], Settings]) -> func.HttpResponse:
    """The route: 200 with `ok`, 503 with `degraded` (settings that do not load count too)."""
    try:
        settings = load_settings()
    except Exception as exc:
        health = Health(app_version(None), {"settings": CheckResult(False, 0, error=describe(exc))})
    else:
        health = check(settings)
    return _json_response(health.as_json(), health.status_code)


#: Where the deep checks live: an anonymous Python function cannot tell whether a function key
#: came with the request (the worker passes no claims), so they are a route of their own.
DEEP_ROUTE = "/api/health/deep"


def deep_elsewhere() -> func.HttpResponse:
    """`/api/health?deep=1` on the anonymous route: a pointer, never the deep report."""
    body = {"status": "error", "error": f"deep checks are at {DEEP_ROUTE} (function key)"}
    return _json_response(body, 400)


def handle_deep(report: Callable[[], DoctorReport]) -> func.HttpResponse:
    """`GET /api/health/deep` (function key): `python -m bot doctor`'s checks inside the app
    (`bot.doctor.app_report`); 200 when nothing failed, else 503. The body names registries and
    settings (never a secret), which is why it sits behind the key."""
    found = report()
    return _json_response(
        found.as_json() | {"version": app_version(None)}, 503 if found.failed else 200
    )


def _json_response(body: dict[str, Any], status: int) -> func.HttpResponse:
    import azure.functions as func

    return func.HttpResponse(
        json.dumps(body),
        status_code=status,
        mimetype="application/json",
        headers={"Cache-Control": "no-store"},
    )
