"""Listeners by Slack surface, each package with a `register(app, deps)`."""

from __future__ import annotations

from slack_bolt import App

from bot.front import FrontDeps
from bot.listeners import actions, commands, egress, events, shortcuts, views


def register_listeners(app: App, deps: FrontDeps) -> None:
    commands.register(app, deps)
    shortcuts.register(app, deps)
    events.register(app, deps)
    views.register(app, deps)
    actions.register(app, deps)
    egress.register(app, deps)
