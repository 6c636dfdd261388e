"""The composition root: what one Function host process builds, each part on first use — the
front door's settings and the front door (the Bolt app behind the Azure Functions adapter, with
only the queue and the delivery ledger), the whole settings, and for the worker the bus and the
collaborators its handlers name (`provide`: `ports`, `replier`, `slack`, `secret`, `notices`).

Nothing but the entry points (`bot.functions`, Socket Mode, the command line) and the bus's wiring
reads from it; a handler is given what it names and never sees the runtime. The HTTP function
touches only `front_settings` and `front`, so an acknowledgement loads neither pydantic nor the
management, blob or identity SDKs; a worker builds only what the jobs it runs use. Tests and the
demo build a `Runtime` with their own settings, clock and ARM credential and install it.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING

from services.clock import Clock, SystemClock

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from slack_bolt import App
    from slack_sdk import WebClient

    from bot.adapter import SlackRequestHandler
    from bot.bus import Bus
    from bot.notices import Notices
    from bot.replies import Replier
    from services.bootstrap import AzurePorts
    from services.flows.sweep import SweepRun
    from services.front_settings import FrontSettings
    from services.ports import ApproverDirectory, DeliveryLedger, JobQueue
    from services.settings import Settings


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
        if self._settings is not None:
            return self._settings
        from services.settings import Settings

        return Settings()

    @cached_property
    def front_settings(self) -> FrontSettings:
        """The front door's settings: the given `Settings`' slice, else read from the
        environment without building `Settings` (see `services.front_settings`)."""
        if self._settings is not None:
            return self._settings.front
        from services.front_settings import FrontSettings

        return FrontSettings.from_env()

    @cached_property
    def jobs(self) -> JobQueue:
        from services.bootstrap import build_queue

        return build_queue(self.front_settings)

    @cached_property
    def ledger(self) -> DeliveryLedger:
        from services.bootstrap import build_ledger

        return build_ledger(self.front_settings, self.clock)

    @cached_property
    def front(self) -> SlackRequestHandler:
        from bot.adapter import SlackRequestHandler

        with self._mutex:
            return SlackRequestHandler(
                self.make_app(), signing_secret=self.front_settings.slack_signing_secret
            )

    def make_app(self) -> App:
        """A Bolt app on this process's queue and ledger (the HTTP function's, Socket Mode's)."""
        from bot.app import create_app
        from bot.front import FrontDeps

        deps = FrontDeps(
            front=self.front_settings,
            jobs=self.jobs,
            make_ledger=lambda: self.ledger,
            make_settings=lambda: self.settings,
        )
        return create_app(self.front_settings, deps)

    @cached_property
    def slack(self) -> WebClient:
        from bot.front import web_client

        front = self.front_settings
        return web_client(front, front.slack_bot_token)

    @cached_property
    def ports(self) -> AzurePorts:
        from services.bootstrap import build_ports

        with self._mutex:
            return build_ports(
                self.settings,
                clock=self.clock,
                credential=self._credential,
                approvers=self._approvers,
            )

    def _approvers(self) -> ApproverDirectory:
        from bot.directory import SlackApproverDirectory

        return SlackApproverDirectory(self.slack, self.clock)

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
    def notices(self) -> Notices:
        from bot.notices import Notices

        settings = self.settings
        return Notices(
            ports=self.ports,
            replier=self.replier,
            policy=settings.policy,
            approvals_channel=settings.slack_approvals_channel,
            rechecks=settings.notice_recheck_seconds,
            secret=self.secret,
        )

    @property
    def secret(self) -> str:
        """The signing secret, which also seals the values the bot hands Slack."""
        return self.front_settings.slack_signing_secret

    def provide(self, name: str) -> object:
        """The collaborator a handler names (see `bot.bus`)."""
        if name not in _PROVIDED:
            raise LookupError(f"no collaborator called {name!r} for a handler")
        return getattr(self, name)

    @cached_property
    def bus(self) -> Bus:
        from bot.bus import Bus

        return Bus(self.provide)

    def sweep(self, *, inline: bool = False, dry_run: bool = False) -> SweepRun:
        """The sweep timer's work (and the command line's, `inline`)."""
        from services.flows.sweep import sweep_and_reconcile

        return sweep_and_reconcile(self.ports, inline=inline, dry_run=dry_run)


#: What handlers may name.
_PROVIDED = frozenset({"ports", "replier", "slack", "secret", "notices", "settings", "clock"})
