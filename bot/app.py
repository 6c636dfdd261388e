"""The Bolt app factory: `create_app(settings, deps)` builds a fresh app wired to its queue and
delivery ledger, so every test (and every Function host process) gets its own.

The app acknowledges within Slack's three seconds and does no work itself: each listener turns the
payload into one job for the queue-triggered worker. It makes no Slack call on the way except
`views.open` (a `trigger_id` lives three seconds): authorization comes from settings through its
own `authorize`, so Bolt never calls `auth.test`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from bot.slack_retries import retry_handlers
from bot.views.messages import FOREIGN_WORKSPACE
from services.ports import DeliveryLedger, JobQueue
from services.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrontDeps:
    """What the listeners may touch: the queue and the delivery ledger, nothing else."""

    settings: Settings
    jobs: JobQueue
    ledger: DeliveryLedger


def web_client(settings: Settings, token: str | None = None) -> WebClient:
    """A Slack Web API client that retries rate limits, 5xx answers and dropped connections."""
    return WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=retry_handlers(settings.slack_retry_backoff),
    )


def request_key(request: BoltRequest) -> str:
    """A delivery id for a request Slack does not retry (commands, interactions): its signature,
    unique to its timestamp and body, so an exact replay gets the same key. A request with no
    signature (none reaches the HTTP function: Bolt refuses it first) is keyed by its body, which
    holds a fresh `trigger_id` for every command and click."""
    signature = next(iter(request.headers.get("x-slack-signature", [])), "")
    basis = signature or request.raw_body
    return "req:" + hashlib.sha256(basis.encode()).hexdigest()[:40]


def create_app(settings: Settings, deps: FrontDeps) -> App:
    token = settings.slack_bot_token.get_secret_value()
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
        signing_secret=settings.slack_signing_secret.get_secret_value(),
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
    from bot.listeners import register_listeners

    register_listeners(app, deps)
    return app
