"""A worker process killed (SIGKILL) at a named point: the crash-everywhere harness's stand-in for
a Functions host that dies mid-job.

The job runs in a child process, forked from a server that has the bot's modules loaded already
(`multiprocessing`'s forkserver), so a run costs milliseconds of start-up, not seconds. In the
child every HTTP request the SDKs make — to Azurite, the ARM emulator, the Slack emulator — goes
through `http.client`, and is counted and named there (`Step`: the service, the method, the
path). Told to, the child kills itself with SIGKILL:
- `before` step N: requests 1 … N-1 happened, N never left;
- `sent` step N: N went out in full and the child died before reading the answer (the server may
  have acted on it: a PATCH that landed, a row written, a message posted);
- `exit`: every request was made and the job returned, and the process died before the host
  could record it done (the queue delivers the message again).
Seen from outside, a kill after the answer to N is a kill before N+1, and so is a kill after N was
sent: the server acted on N either way. And a kill before a request that only reads is a kill
before the request after it. So the points that differ are: before the first request, after
each request that writes, and at exit (`distinct_points`); every other point is one of those.

A run without a kill records the steps (`trace`), which is how the harness learns the points.
"""

from __future__ import annotations

import http.client
import itertools
import json
import multiprocessing
import os
import re
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

Phase = Literal["before", "sent", "exit"]

#: Slack Web API methods that change nothing.
_SLACK_READS = (
    "conversations.history",
    "conversations.replies",
    "chat.getPermalink",
    "auth.test",
    "users.info",
    "usergroups.users.list",
)

#: Modules the fork server loads once, so each child starts with them in memory (the bot imports
#: its SDKs on first use; a child would pay a quarter of a second for them each time).
PRELOAD = [
    "bot.bus",
    "bot.handlers.decide",
    "bot.handlers.requests",
    "bot.handlers.reconcile",
    "bot.handlers.notices",
    "bot.runtime",
    "bot.notices",
    "bot.app",
    "bot.directory",
    "services.bootstrap",
    "services.azure.arm",
    "services.azure.audit",
    "services.azure.clients",
    "services.azure.deliveries",
    "services.azure.lock",
    "services.azure.queue",
    "services.azure.service_tags",
    "services.azure.tables",
    "services.flows.reconcile",
    "services.flows.sweep",
    "azure.data.tables",
    "azure.storage.blob",
    "azure.storage.queue",
    "azure.mgmt.containerregistry",
    "slack_sdk",
    "sandbox.credentials",
]


@dataclass(frozen=True)
class Step:
    """One request of a run: its number (from 1), which service, the method, the resource (the
    path without a run's own names and ids) and which occurrence of that request it is."""

    number: int
    service: str
    method: str
    path: str
    occurrence: int = 1

    @property
    def kind(self) -> str:
        return f"{self.service} {self.method} {self.path}"

    @property
    def name(self) -> str:
        return f"{self.number:02d} {self.kind} #{self.occurrence}"

    @property
    def writes(self) -> bool:
        """Whether the request can change something (a Slack Web API call that only reads is a
        POST too: it is named by its method)."""
        if self.service == "slack":
            return not self.path.rsplit("/", 1)[-1].startswith(_SLACK_READS)
        return self.method not in ("GET", "HEAD")


@dataclass(frozen=True)
class KillAt:
    """Die at the `occurrence`-th request of `kind` (steps are named, not numbered: a run's
    numbering may shift, its requests do not)."""

    kind: str
    occurrence: int
    phase: Phase

    @classmethod
    def at(cls, step: Step, phase: Phase) -> KillAt:
        return cls(step.kind, step.occurrence, phase)


#: Die when the job has returned (after its last request), before the host records it done.
AT_EXIT = KillAt("exit", 0, "exit")


def distinct_points(steps: tuple[Step, ...]) -> list[tuple[KillAt, str]]:
    """The kill points that leave the world in different states: before the first request, after
    each request that writes (as `before` the next, or `exit` after the last), with what each
    stands for."""
    if not steps:
        return [(AT_EXIT, "at exit")]
    points: list[tuple[KillAt, str]] = [(KillAt.at(steps[0], "before"), f"before {steps[0].name}")]
    for step, following in itertools.pairwise(steps):
        if step.writes:
            points.append((KillAt.at(following, "before"), f"after {step.name}"))
    points.append((AT_EXIT, f"after {steps[-1].name}, at exit"))
    return points


def every_point(steps: tuple[Step, ...]) -> list[tuple[KillAt, str]]:
    """Every point, also those equal to a distinct one: before and after sending each request."""
    points = [(KillAt.at(s, "before"), f"before {s.name}") for s in steps]
    points += [(KillAt.at(s, "sent"), f"sent {s.name}") for s in steps]
    return [*points, (AT_EXIT, "at exit")]


def _service(host: str, port: int | None, services: Mapping[int, str]) -> str:
    return services.get(port or 0, f"{host}:{port}")


def install(
    *,
    services: Mapping[int, str],
    kill: KillAt | None,
    trace: Path | None,
    own_names: Mapping[str, str] | None = None,
) -> Callable[[], list[Step]]:
    """Count, name and, if told to, die at the requests this process makes. `own_names` are a
    run's own names (its table prefix, its registry) to blank out of paths. Returns a function
    giving the steps so far."""
    steps: list[Step] = []
    seen: dict[str, int] = {}
    lock = threading.Lock()
    real_putrequest = http.client.HTTPConnection.putrequest
    real_getresponse = http.client.HTTPConnection.getresponse

    def putrequest(
        self: http.client.HTTPConnection, method: str, url: str, *a: Any, **k: Any
    ) -> None:
        if self.host == "fakehost":
            # azure-core writes each part of a table transaction through http.client into
            # memory: not a request on the wire (the transaction's own POST is).
            real_putrequest(self, method, url, *a, **k)
            return
        service = _service(self.host, self.port, services)
        path = _resource(url, own_names or {})
        with lock:
            kind = f"{service} {method} {path}"
            seen[kind] = seen.get(kind, 0) + 1
            step = Step(len(steps) + 1, service, method, path, seen[kind])
            steps.append(step)
            if trace is not None:
                with trace.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(step.__dict__) + "\n")
        if kill is not None and (kill.kind, kill.occurrence) == (step.kind, step.occurrence):
            if kill.phase == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            self._crash_kill = True  # type: ignore[attr-defined]
        real_putrequest(self, method, url, *a, **k)

    def getresponse(self: http.client.HTTPConnection) -> http.client.HTTPResponse:
        if getattr(self, "_crash_kill", False):
            os.kill(os.getpid(), signal.SIGKILL)
        return real_getresponse(self)

    http.client.HTTPConnection.putrequest = putrequest  # type: ignore[method-assign]
    http.client.HTTPConnection.getresponse = getresponse  # type: ignore[method-assign]
    return lambda: list(steps)


_KEYS = re.compile(r"\(.*\)")
_IDS = re.compile(
    r"[0-9A-HJKMNP-TV-Z]{26}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)


def _resource(url: str, own_names: Mapping[str, str]) -> str:
    """The path without what differs between runs: a run's names, ids and entity keys."""
    path = urlsplit(url).path or url
    for name, label in own_names.items():
        if name:
            path = path.replace(name, label)
    return _IDS.sub("<id>", _KEYS.sub("()", path))


@dataclass(frozen=True)
class Run:
    """How a child ended: its exit code (-9: killed as told) and the steps it traced."""

    exitcode: int | None
    steps: tuple[Step, ...]

    @property
    def killed(self) -> bool:
        return self.exitcode == -signal.SIGKILL


def _child(spec: dict[str, Any], kill: KillAt | None, trace: str) -> None:
    """The worker process: the bot's runtime from the spec's environment and clock, one job
    (or the sweep), hooks installed first."""
    os.environ.update(spec["env"])
    from bot import functions
    from bot.runtime import Runtime
    from sandbox.credentials import StaticTokenCredential
    from services.clock import FrozenClock
    from services.settings import Settings

    install(
        services={int(k): v for k, v in spec["services"].items()},
        kill=kill,
        trace=Path(trace),
        own_names=spec.get("own_names") or {},
    )
    runtime = Runtime(
        Settings(),
        clock=FrozenClock(datetime.fromisoformat(spec["now"])),
        credential=StaticTokenCredential(),
    )
    functions.install(runtime)
    if spec["kind"] == "sweep":
        runtime.sweep()
    else:
        runtime.bus.handle(spec["job"])
    if kill is not None and kill.phase == "exit":
        os.kill(os.getpid(), signal.SIGKILL)


_context: Any = None


def _fork_server() -> Any:
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
    return _context


def run(spec: Mapping[str, Any], *, kill: KillAt | None, trace: Path, timeout: float = 60) -> Run:
    """Run `spec` (`kind`: `job` with `job` its text, or `sweep`; `env`; `now`; `services`, a map
    of port to service name) in a child process, killed at `kill` if given."""
    trace.write_text("", encoding="utf-8")
    process = _fork_server().Process(target=_child, args=(dict(spec), kill, str(trace)))
    process.start()
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join()
        raise TimeoutError(f"the worker did not finish within {timeout} s")
    lines = [json.loads(line) for line in trace.read_text(encoding="utf-8").splitlines() if line]
    return Run(process.exitcode, tuple(Step(**line) for line in lines))
