"""The worker's bus: a queue message names its job's `kind`; `HANDLERS` says which function
handles it; the function is imported the first time its kind arrives, and given, by keyword,
exactly the collaborators its signature names (`provide` makes each on first use). A new job
type is one handler and one line here.

A job that raises is left to the queue: it comes back, and after host.json's `maxDequeueCount` it
lands in the poison queue, whose handler (`poisoned`) tells the person who asked that it failed,
with a reference an operator can look up. A message that is not a job at all is logged and
dropped: retrying it could never help.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import threading
import typing
from collections.abc import Callable
from functools import partial
from typing import Any

from pydantic import TypeAdapter, ValidationError

logger = logging.getLogger(__name__)

#: Job kind → `module:function` of its handler.
HANDLERS: dict[str, str] = {
    "diagnose": "bot.handlers.diagnose:handle",
    "reply": "bot.handlers.reply:handle",
    "request": "bot.handlers.requests:handle",
    "decide": "bot.handlers.decide:handle",
    "home": "bot.handlers.home:handle",
    "egress": "bot.handlers.egress:handle",
    "reconcile": "bot.handlers.reconcile:handle",
    "expire": "bot.handlers.expire:handle",
    "grant_notice": "bot.handlers.notices:grant_notice",
    "registry_notice": "bot.handlers.notices:registry_notice",
}

#: What the person who asked was doing, for the jobs a person waits for (the poison's answer).
_WHAT = {
    "diagnose": "diagnosing your paste",
    "reply": "answering you",
    "request": "sending your request",
    "decide": "recording your decision",
    "egress": "looking up the resource's addresses",
}


class _Handler(typing.NamedTuple):
    call: Callable[[Any], None]
    #: Validates the job the handler takes: a pydantic model of the services, or a plain
    #: dataclass of the Slack side (`bot.jobs`), checked from its annotations alike.
    job: TypeAdapter[Any]


class Bus:
    """Runs queue messages through their handlers. `provide(name)` gives the collaborator a
    handler names (`ports`, `replier`, `slack`, `secret`, `notices`…)."""

    def __init__(self, provide: Callable[[str], object]) -> None:
        self._provide = provide
        self._handlers: dict[str, _Handler] = {}
        self._mutex = threading.Lock()

    def _handler(self, kind: str) -> _Handler | None:
        with self._mutex:
            found = self._handlers.get(kind)
            if found is not None:
                return found
            target = HANDLERS.get(kind)
            if target is None:
                return None
            module_name, _, name = target.partition(":")
            function = getattr(importlib.import_module(module_name), name)
            hints = typing.get_type_hints(function)
            params = inspect.signature(function).parameters
            wanted = {
                p: self._provide(p)
                for p, param in params.items()
                if param.kind is param.KEYWORD_ONLY
            }
            found = _Handler(partial(function, **wanted), TypeAdapter(hints["job"]))
            self._handlers[kind] = found
            return found

    def _decode(self, text: str, reference: str | None) -> tuple[_Handler, object] | None:
        try:
            data = json.loads(text)
            kind = str(data.get("kind")) if isinstance(data, dict) else ""
        except ValueError:
            kind = ""
        handler = self._handler(kind)
        if handler is None:
            logger.error("dropped a queue message that is not a job (%s): kind %r", reference, kind)
            return None
        try:
            return handler, handler.job.validate_python(data)
        except ValidationError as exc:
            logger.error(
                "dropped a queue message that is not a job (%s): %s",
                reference,
                [e["type"] for e in exc.errors(include_input=False)][:5],
            )
            return None

    def handle(self, text: str, *, reference: str | None = None) -> None:
        """Run one queue message. Raises when the job should be tried again."""
        decoded = self._decode(text, reference)
        if decoded is not None:
            handler, job = decoded
            handler.call(job)

    def poisoned(self, text: str, *, reference: str | None = None) -> None:
        """A job that kept failing: tell whoever asked, once."""
        decoded = self._decode(text, reference)
        if decoded is None:
            logger.error("poison message %s is not a job; nothing to tell anyone", reference)
            return
        _, job = decoded
        kind = str(getattr(job, "kind", ""))
        ref = reference or str(getattr(job, "key", "unknown"))
        logger.error("job %s (%s) failed for good", ref, kind)
        origin = getattr(job, "origin", None)
        what = _WHAT.get(kind)
        if origin is None or what is None:
            return
        from bot.replies import Replier
        from bot.views.messages import failed_job

        replier = typing.cast(Replier, self._provide("replier"))
        replier.answer(
            f"poison:{getattr(job, 'key', ref)}",
            origin,
            text=f"Sorry, I could not finish {what} (reference {ref}).",
            blocks=failed_job(what, ref),
        )
