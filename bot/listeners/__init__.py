"""Listeners by Slack surface, each module with a `register(app, deps)`.

A slash command, a shortcut and an event are answered by the modules registered at once. The
interactive surfaces — buttons, modal submissions, the egress lookup (`INTERACTIVE`) — are
registered by a middleware on the first request that is neither a command nor an event: their
modules draw modals from the grant and policy models, pydantic's, whose import would cost a cold
acknowledgement more than everything else it loads. Bolt matches listeners after its
middlewares, so that first request finds them.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.request.payload_utils import is_event, is_slash_command

from bot.front import FrontDeps
from bot.listeners import commands, events, shortcuts

#: Modules registered on the first interaction (each has a `register(app, deps)`).
INTERACTIVE = ("bot.listeners.actions", "bot.listeners.views", "bot.listeners.egress")


def register_listeners(app: App, deps: FrontDeps) -> None:
    commands.register(app, deps)
    shortcuts.register(app, deps)
    events.register(app, deps)
    app.use(_interactive_on_first_use(app, deps))


def _interactive_on_first_use(
    app: App, deps: FrontDeps
) -> Callable[[dict[str, Any], Callable[[], BoltResponse]], BoltResponse]:
    mutex = threading.Lock()
    registered: list[str] = []

    def register_interactive(
        body: dict[str, Any], next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        if len(registered) < len(INTERACTIVE) and not (is_slash_command(body) or is_event(body)):
            with mutex:
                for name in INTERACTIVE:
                    if name not in registered:
                        importlib.import_module(name).register(app, deps)
                        registered.append(name)
        return next()

    return register_interactive
