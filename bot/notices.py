"""Telling people a grant changed (`GrantNotice` jobs): the approval card posted once to the
registry's approvers and updated from the grant's current state on every change, and the
requester told in their thread. Updating a card is idempotent; every post goes through
`Replier.post_once`, so a redelivered notice, or one whose worker died halfway, posts nothing
twice. Notices are queued ahead of the change they announce: one that arrives before its change
shows looks again a little later, and one whose change never came is dropped."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block

from bot.replies import Replier
from bot.views.format import channel as channel_link
from bot.views.format import date, mention
from bot.views.grants import (
    approval_card,
    approval_text,
    registry_change_message,
    requester_message,
)
from services.domain.grants import (
    APPROVAL_CARD,
    REQUESTER_MESSAGE,
    REQUESTER_THREAD,
    Grant,
    MessageRef,
)
from services.domain.jobs import GrantEvent, GrantNotice, RegistryNotice, reached
from services.domain.policy import (
    Policy,
    RegistryConfig,
    RegistryDirectory,
    approver_group_of,
    approvers_of,
)
from services.ports import GrantStore, JobQueue

logger = logging.getLogger(__name__)


class NoticePorts(Protocol):
    """What telling people about a grant touches: the grant store (the grant, where its messages
    are), the registries (whose approvers), and the queue (a notice that came early)."""

    @property
    def grants(self) -> GrantStore: ...

    @property
    def registries(self) -> RegistryDirectory: ...

    @property
    def jobs(self) -> JobQueue: ...


class Notices:
    """Posts and updates a grant's messages; `approvals_channel` is where approval cards go for
    registries that name none of their own (none either: each approver's direct messages)."""

    def __init__(
        self,
        *,
        ports: NoticePorts,
        replier: Replier,
        policy: Policy,
        approvals_channel: str | None,
        rechecks: tuple[float, ...],
    ) -> None:
        self._ports = ports
        self._replier = replier
        self._policy = policy
        self._channel = approvals_channel
        self._rechecks = rechecks

    def approvers_text(self, config: RegistryConfig | None) -> str:
        if config is None:
            return ""
        policy = self._policy
        people = [mention(u) for u in sorted(approvers_of(config, policy))]
        group = approver_group_of(config, policy)
        if group:
            safe = "".join(c for c in group if c.isalnum())
            people.append(f"<!subteam^{safe}>")
        return ", ".join(people)

    def handle(self, job: GrantNotice) -> None:
        ports = self._ports
        grant = ports.grants.get(job.grant_id)[0]
        if not reached(grant, job):
            self._later(job)
            return
        config = ports.registries.find(grant.registry)
        refs = ports.grants.messages(grant.id)
        if job.event is GrantEvent.REQUESTED:
            refs = self._post_cards(grant, config, refs)
        else:
            self._update_cards(grant, config, refs)
        if job.event is GrantEvent.RULE_VANISHED:
            self._tell_approvers(grant, config, refs)
        if job.event is GrantEvent.LAPSE_REMINDER:
            self._remind_approvers(job, grant, config, refs)
        self._tell_requester(job, grant, config, refs)

    def _later(self, job: GrantNotice) -> None:
        """The change is not stored yet (or never will be): look again later, a few times."""
        delays = self._rechecks
        if job.attempt >= len(delays):
            logger.info("notice %s dropped: its change never happened", job.key)
            return
        delay = timedelta(seconds=delays[job.attempt])
        self._ports.jobs.send(job.model_copy(update={"attempt": job.attempt + 1}), delay=delay)

    def _card(self, grant: Grant, config: RegistryConfig | None) -> tuple[str, list[Block]]:
        blocks = approval_card(grant, approvers=self.approvers_text(config), policy=self._policy)
        return approval_text(grant), blocks

    def _approval_channels(self, config: RegistryConfig | None) -> list[str]:
        channel = (config.approvals_channel if config else None) or (self._channel)
        if channel:
            return [channel]
        # No channel configured: each listed approver gets the card in a direct message.
        if config is None:
            return []
        replier = self._replier
        return [replier.open_dm(u) for u in sorted(approvers_of(config, self._policy))]

    def _post_cards(
        self, grant: Grant, config: RegistryConfig | None, refs: list[MessageRef]
    ) -> list[MessageRef]:
        replier = self._replier
        text, blocks = self._card(grant, config)
        for channel in self._approval_channels(config):
            where, ts = replier.post_once(
                f"card:{grant.id}:{channel}", channel, text=text, blocks=blocks
            )
            ref = MessageRef(kind=APPROVAL_CARD, channel=where, ts=ts)
            if ref not in refs:
                self._ports.grants.add_message(grant.id, ref)
                refs = [*refs, ref]
        return refs

    def _update_cards(
        self, grant: Grant, config: RegistryConfig | None, refs: list[MessageRef]
    ) -> None:
        text, blocks = self._card(grant, config)
        for ref in refs:
            if ref.kind != APPROVAL_CARD:
                continue
            try:
                self._replier.update(ref.channel, ref.ts, text=text, blocks=blocks)
            except SlackApiError as exc:
                if exc.response.get("error") not in ("message_not_found", "channel_not_found"):
                    raise
                logger.warning(
                    "approval card of %s is gone: %s", grant.id, exc.response.get("error")
                )

    def _tell_requester(
        self,
        job: GrantNotice,
        grant: Grant,
        config: RegistryConfig | None,
        refs: list[MessageRef],
    ) -> None:
        cards = [r for r in refs if r.kind == APPROVAL_CARD]
        where = ""
        if job.event is GrantEvent.REQUESTED and cards:
            where = (
                f" in {channel_link(cards[0].channel)}" if cards[0].channel.startswith("C") else ""
            )
        message = requester_message(
            grant,
            job.event,
            actor=job.actor,
            approvers=self.approvers_text(config) + where,
        )
        if message is None:
            return
        text, blocks = message
        replier = self._replier
        thread = next((r for r in refs if r.kind == REQUESTER_THREAD), None)
        posted = None
        if thread is not None:
            try:
                posted = replier.post_once(
                    f"told:{job.key}",
                    thread.channel,
                    text=text,
                    blocks=blocks,
                    thread_ts=thread.ts,
                )
            except SlackApiError as exc:
                logger.info("requester thread unavailable: %s", exc.response.get("error"))
        if posted is None:
            posted = replier.post_once(
                f"told:{job.key}:dm",
                replier.open_dm(grant.requester.user_id),
                text=text,
                blocks=blocks,
            )
        channel, ts = posted
        self._ports.grants.add_message(
            grant.id, MessageRef(kind=REQUESTER_MESSAGE, channel=channel, ts=ts)
        )

    def _tell_approvers(
        self, grant: Grant, config: RegistryConfig | None, refs: list[MessageRef]
    ) -> None:
        self._in_card_threads(
            f"vanished:{grant.id}",
            grant,
            refs,
            f":warning: The rule for `{grant.ip}` on `{grant.registry}` was removed by hand while "
            f"{mention(grant.requester.user_id)}'s grant is active; the bot has not put it back.",
        )

    def _remind_approvers(
        self,
        job: GrantNotice,
        grant: Grant,
        config: RegistryConfig | None,
        refs: list[MessageRef],
    ) -> None:
        self._in_card_threads(
            f"reminded:{job.key}",
            grant,
            refs,
            f":alarm_clock: {self.approvers_text(config)} this request lapses "
            f"{date(grant.lapses_at)} unless someone decides.",
        )

    def registry_changed(self, job: RegistryNotice) -> None:
        """Rules changed without the bot's plan while it wrote: say which, once, where the
        registry's approval cards go, so a person can put back what was lost."""
        config = self._ports.registries.find(job.registry)
        text, blocks = registry_change_message(job, approvers=self.approvers_text(config))
        for channel in self._approval_channels(config):
            self._replier.post_once(f"{job.key}:{channel}", channel, text=text, blocks=blocks)

    def _in_card_threads(self, claim: str, grant: Grant, refs: list[MessageRef], text: str) -> None:
        """Say `text` once (per `claim`) in the thread of each of the grant's approval cards."""
        for ref in refs:
            if ref.kind == APPROVAL_CARD:
                try:
                    self._replier.post_once(
                        f"{claim}:{ref.channel}:{ref.ts}", ref.channel, text=text, thread_ts=ref.ts
                    )
                except SlackApiError as exc:
                    error = exc.response.get("error")
                    logger.warning("could not post on %s's card: %s", grant.id, error)
