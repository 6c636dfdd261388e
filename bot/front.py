"""What the listeners are given (`FrontDeps`) and the two helpers they share: the delivery key of
a request and the Slack Web API client. Kept apart from `bot.app` so the listeners import this,
and `bot.app` imports the listeners, and neither imports the other."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from slack_bolt import BoltRequest
from slack_sdk import WebClient

from bot.slack_retries import retry_handlers

if TYPE_CHECKING:
    from services.front_settings import FrontSettings
    from services.ports import DeliveryLedger, JobQueue
    from services.settings import Settings


@dataclass(frozen=True)
class FrontDeps:
    """What the listeners may touch: the front door's settings and the queue; made when first
    used, the delivery ledger (only events need it, so a slash command never loads the table
    SDK) and the whole settings (only the request and extension forms read the policy, so an
    acknowledgement never loads pydantic)."""

    front: FrontSettings
    jobs: JobQueue
    make_ledger: Callable[[], DeliveryLedger] = field(repr=False)
    make_settings: Callable[[], Settings] = field(repr=False)
    _made: dict[str, object] = field(default_factory=dict, repr=False, compare=False)

    def _once(self, name: str, make: Callable[[], object]) -> object:
        if name not in self._made:
            self._made.setdefault(name, make())
        return self._made[name]

    @property
    def ledger(self) -> DeliveryLedger:
        return cast("DeliveryLedger", self._once("ledger", self.make_ledger))

    @property
    def settings(self) -> Settings:
        return cast("Settings", self._once("settings", self.make_settings))

    @property
    def secret(self) -> str:
        """The signing secret, which also seals the values the bot hands Slack."""
        return self.front.slack_signing_secret


def web_client(settings: FrontSettings, token: str | None = None) -> WebClient:
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
