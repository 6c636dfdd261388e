"""What the listeners are given (`FrontDeps`) and the two helpers they share: the delivery key of
a request and the Slack Web API client. Kept apart from `bot.app` so the listeners import this,
and `bot.app` imports the listeners, and neither imports the other."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from slack_bolt import BoltRequest
from slack_sdk import WebClient

from bot.slack_retries import retry_handlers

if TYPE_CHECKING:
    from services.ports import DeliveryLedger, JobQueue
    from services.settings import Settings


@dataclass(frozen=True)
class FrontDeps:
    """What the listeners may touch: the settings, the queue and the delivery ledger (made when
    first used: only events need it, so a slash command never loads the table SDK)."""

    settings: Settings
    jobs: JobQueue
    make_ledger: Callable[[], DeliveryLedger] = field(repr=False)
    _ledger: list[DeliveryLedger] = field(default_factory=list, repr=False, compare=False)

    @property
    def ledger(self) -> DeliveryLedger:
        if not self._ledger:
            self._ledger.append(self.make_ledger())
        return self._ledger[0]

    @property
    def secret(self) -> str:
        """The signing secret, which also seals the values the bot hands Slack."""
        return self.settings.slack_signing_secret.get_secret_value()


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
    signature (Socket Mode, where the envelope id stands in) is keyed by its body, which holds a
    fresh `trigger_id` for every command and click."""
    signature = next(iter(request.headers.get("x-slack-signature", [])), "")
    basis = signature or request.raw_body
    return "req:" + hashlib.sha256(basis.encode()).hexdigest()[:40]
