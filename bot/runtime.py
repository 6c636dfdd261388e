"""What one Function host process builds once, each part on first use: the settings, the front
door (Bolt app behind the Azure Functions adapter, with only the queue and the delivery ledger),
and for the worker the ports, a Slack client and the worker itself.

The HTTP function touches only `front`, so it never loads the management, blob or identity SDKs.
Tests and the demo build a `Runtime` with their own clock and ARM credential and install it.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING

from services.clock import Clock, SystemClock
from services.settings import Settings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from slack_sdk import WebClient

    from bot.adapter import SlackRequestHandler
    from bot.replies import Replier
    from bot.worker import Worker
    from services.ports import DeliveryLedger, JobQueue, Ports


class Runtime:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        clock: Clock | None = None,
        credential: TokenCredential | None = None,
    ) -> None:
        self._settings = settings
        self.clock = clock or SystemClock()
        self._credential = credential
        self._mutex = threading.RLock()

    @property
    def credential(self) -> TokenCredential | None:
        """The ARM credential given (tests, the demo); None: `DefaultAzureCredential`."""
        return self._credential

    @cached_property
    def settings(self) -> Settings:
        return self._settings if self._settings is not None else Settings()

    @cached_property
    def jobs(self) -> JobQueue:
        from services.bootstrap import build_queue

        return build_queue(self.settings)

    @cached_property
    def ledger(self) -> DeliveryLedger:
        from services.bootstrap import build_ledger

        return build_ledger(self.settings, self.clock)

    @cached_property
    def front(self) -> SlackRequestHandler:
        from bot.adapter import SlackRequestHandler
        from bot.app import FrontDeps, create_app

        with self._mutex:
            deps = FrontDeps(settings=self.settings, jobs=self.jobs, ledger=self.ledger)
            return SlackRequestHandler(
                create_app(self.settings, deps),
                signing_secret=self.settings.slack_signing_secret.get_secret_value(),
            )

    @cached_property
    def slack(self) -> WebClient:
        from bot.app import web_client

        return web_client(self.settings, self.settings.slack_bot_token.get_secret_value())

    @cached_property
    def ports(self) -> Ports:
        from bot.directory import SlackApproverDirectory
        from services.bootstrap import build_ports

        with self._mutex:
            return build_ports(
                self.settings,
                clock=self.clock,
                credential=self._credential,
                approvers=SlackApproverDirectory(self.slack, self.clock),
            )

    @cached_property
    def replier(self) -> Replier:
        from bot.replies import Replier

        return Replier(
            self.slack,
            self.ports.ledger,
            api_url=self.settings.slack_api_url,
            retry_backoff=self.settings.slack_retry_backoff,
        )

    @cached_property
    def worker(self) -> Worker:
        from bot.worker import Worker

        return Worker(self)
