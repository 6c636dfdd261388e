"""The Bolt app factory: `create_app(settings, deps)` builds a fresh app wired to its queue and
delivery ledger, so every test (and every Function host process) gets its own.

The app acknowledges within Slack's three seconds and does no work itself: each listener turns the
payload into one job for the queue-triggered worker. It makes no Slack call on the way except
`views.open` (a `trigger_id` lives three seconds): authorization comes from settings through its
own `authorize`, so Bolt never calls `auth.test`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltContext, BoltResponse
from slack_bolt.authorization import AuthorizeResult

from bot.front import FrontDeps, web_client
from bot.listeners import register_listeners
from bot.views.messages import FOREIGN_WORKSPACE
from services.front_settings import FrontSettings

logger = logging.getLogger(__name__)


def create_app(settings: FrontSettings, deps: FrontDeps) -> App:
    token = settings.slack_bot_token
    allowed = frozenset(settings.slack_team_ids)

    def authorize(enterprise_id: str | None, team_id: str | None, **_: Any) -> AuthorizeResult:
        # Never None: Bolt would answer a foreign workspace through its response_url, a Slack
        # call on the ack path. `one_workspace` refuses it instead, before any listener.
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id,
            bot_token=token,
            bot_user_id=settings.slack_bot_user_id,
            bot_id=settings.slack_bot_id,
        )

    app = App(
        signing_secret=settings.slack_signing_secret,
        client=web_client(settings),
        authorize=authorize,
        process_before_response=True,
        raise_error_for_unhandled_request=False,
    )

    def one_workspace(context: BoltContext, next: Callable[[], BoltResponse]) -> BoltResponse:
        if allowed and context.team_id not in allowed:
            logger.warning("refused a request from workspace %s", context.team_id)
            return BoltResponse(status=403, body=FOREIGN_WORKSPACE)
        return next()

    app.use(one_workspace)
    register_listeners(app, deps)
    return app
