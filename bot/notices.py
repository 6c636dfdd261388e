"""Telling people a grant changed (`GrantNotice` jobs).

Each grant has two messages, both rendered from its current state and updated in place through
its life: the approval card (posted once to the registry's approvers) and the requester's message
(posted once, where they asked or in a direct message). An update whose content is what the
message already shows is not sent. After updating, the grant is read again: if it changed
meanwhile (a notice racing a later one), the messages are brought up to date, so the last word
is always the grant's latest state.

The moments that need someone get a reply under a message, which notifies: the requester's
(`requester_ping`: access live, denied, extended…) and the approval card's, mentioning the
approvers (an extension asked for, a request about to lapse, a rule removed by hand). The App
Home of everyone concerned is published again after a change.

Every post goes through `Replier.post_once`, so a redelivered notice, or one whose worker died
halfway, posts nothing twice. Notices are queued ahead of the change they announce: one that
arrives before its change shows looks again a little later, and one whose change never came is
dropped.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block

from bot.jobs import HomeJob
from bot.replies import Replier
from bot.sealed import RequestButton
from bot.views.format import channel as channel_link
from bot.views.format import mention
from bot.views.grants import (
    approval_card,
    approval_text,
    extension_asked,
    lapse_reminder,
    registry_change_message,
    requester_message,
    requester_ping,
    rule_vanished,
)
from services.domain.errors import DirectoryUnavailable
from services.domain.grants import (
    AGAIN_STATES,
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
from services.ports import ApproverDirectory, GrantStore, JobQueue

logger = logging.getLogger(__name__)

#: Times the messages are brought up to date in one notice when the grant keeps changing under
#: it; a later notice does the rest.
_CATCH_UP = 3
#: Events after which nobody's App Home changes.
_HOME_UNCHANGED = frozenset(
    {
        GrantEvent.APPLY_DELAYED,
        GrantEvent.EXPIRY_REMINDER,
        GrantEvent.LAPSE_REMINDER,
        GrantEvent.RULE_REMOVED,
        GrantEvent.RULE_VANISHED,
    }
)
#: Most App Homes published again after one change (a large approver group is not flooded).
_HOMES = 25
#: Slack errors that mean a message is gone (deleted, or the channel archived or left).
_GONE = frozenset({"message_not_found", "channel_not_found", "is_archived", "not_in_channel"})


class NoticePorts(Protocol):
    """What telling people about a grant touches: the grant store (the grant, where its messages
    are), the registries and the approver directory (whose approvers), and the queue (a notice
    that came early, App Homes to publish again)."""

    @property
    def grants(self) -> GrantStore: ...

    @property
    def registries(self) -> RegistryDirectory: ...

    @property
    def approvers(self) -> ApproverDirectory: ...

    @property
    def jobs(self) -> JobQueue: ...


def digest(text: str, blocks: Sequence[Block]) -> str:
    """What a message shows, as a short digest (the same content gives the same digest)."""
    body = json.dumps([text, [b.to_dict() for b in blocks]], sort_keys=True)
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:24]


class Notices:
    """Posts and updates a grant's messages; `approvals_channel` is where approval cards go for
    registries that name none of their own (none either: each approver's direct messages).
    `secret` seals the "Request again" button."""

    def __init__(
        self,
        *,
        ports: NoticePorts,
        replier: Replier,
        policy: Policy,
        approvals_channel: str | None,
        rechecks: tuple[float, ...],
        secret: str,
    ) -> None:
        self._ports = ports
        self._replier = replier
        self._policy = policy
        self._channel = approvals_channel
        self._rechecks = rechecks
        self._secret = secret

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
        grant, etag = ports.grants.get(job.grant_id)
        if not reached(grant, job):
            self._later(job)
            return
        config = ports.registries.find(grant.registry)
        approvers = self.approvers_text(config)
        refs = ports.grants.messages(grant.id)
        if job.event is GrantEvent.REQUESTED:
            refs = self._post_cards(grant, config, approvers, refs)
        refs = self._show_all(grant, etag, approvers, refs)
        if job.event is GrantEvent.EXTENSION_REQUESTED and grant.extension_requested:
            self._in_card_threads(
                f"extension:{job.key}", grant, refs, extension_asked(grant, approvers=approvers)
            )
        elif job.event is GrantEvent.LAPSE_REMINDER:
            self._in_card_threads(
                f"reminded:{job.key}", grant, refs, lapse_reminder(grant, approvers=approvers)
            )
        elif job.event is GrantEvent.RULE_VANISHED:
            self._in_card_threads(f"vanished:{grant.id}", grant, refs, rule_vanished(grant))
        self._ping(job, grant, refs)
        if job.event not in _HOME_UNCHANGED:
            self._publish_homes(job, grant, config)

    def _later(self, job: GrantNotice) -> None:
        """The change is not stored yet (or never will be): look again later, a few times."""
        delays = self._rechecks
        if job.attempt >= len(delays):
            logger.info("notice %s dropped: its change never happened", job.key)
            return
        delay = timedelta(seconds=delays[job.attempt])
        self._ports.jobs.send(job.model_copy(update={"attempt": job.attempt + 1}), delay=delay)

    # --- the two messages -------------------------------------------------------------------

    def _card(self, grant: Grant, approvers: str) -> tuple[str, list[Block]]:
        blocks = approval_card(grant, approvers=approvers, policy=self._policy)
        return approval_text(grant), blocks

    def _mine(
        self, grant: Grant, approvers: str, refs: list[MessageRef]
    ) -> tuple[str, list[Block]]:
        cards = [r for r in refs if r.kind == APPROVAL_CARD]
        where = ""
        if cards and cards[0].channel.startswith("C"):
            where = f" in {channel_link(cards[0].channel)}"
        again = None
        if grant.state in AGAIN_STATES:
            again = RequestButton(
                again=grant.id,
                registry=grant.registry,
                ips=str(grant.ip),
                summary=grant.summary or "",
                justification=grant.justification,
            ).seal(self._secret)
        sent_to = (approvers or "the approvers") + where
        return requester_message(grant, policy=self._policy, sent_to=sent_to, again=again)

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
        self, grant: Grant, config: RegistryConfig | None, approvers: str, refs: list[MessageRef]
    ) -> list[MessageRef]:
        replier = self._replier
        text, blocks = self._card(grant, approvers)
        for channel in self._approval_channels(config):
            where, ts = replier.post_once(
                f"card:{grant.id}:{channel}", channel, text=text, blocks=blocks
            )
            ref = MessageRef(kind=APPROVAL_CARD, channel=where, ts=ts)
            if ref.place not in {r.place for r in refs}:
                ref = ref.model_copy(update={"shown": digest(text, blocks)})
                self._ports.grants.add_message(grant.id, ref)
                refs = [*refs, ref]
        return refs

    def _post_mine(
        self, grant: Grant, text: str, blocks: list[Block], refs: list[MessageRef]
    ) -> MessageRef:
        """The requester's message, posted once: in the thread they asked in, else (a slash
        command, a thread that is gone) in a direct message."""
        replier = self._replier
        thread = next((r for r in refs if r.kind == REQUESTER_THREAD), None)
        posted, in_thread = None, None
        if thread is not None:
            try:
                posted = replier.post_once(
                    f"requester:{grant.id}",
                    thread.channel,
                    text=text,
                    blocks=blocks,
                    thread_ts=thread.ts,
                )
                in_thread = thread.ts
            except SlackApiError as exc:
                logger.info("requester thread unavailable: %s", exc.response.get("error"))
        if posted is None:
            posted = replier.post_once(
                f"requester:{grant.id}:dm",
                replier.open_dm(grant.requester.user_id),
                text=text,
                blocks=blocks,
            )
        channel, ts = posted
        ref = MessageRef(
            kind=REQUESTER_MESSAGE,
            channel=channel,
            ts=ts,
            thread_ts=in_thread,
            shown=digest(text, blocks),
        )
        self._ports.grants.add_message(grant.id, ref)
        return ref

    def _show_all(
        self, grant: Grant, etag: str, approvers: str, refs: list[MessageRef]
    ) -> list[MessageRef]:
        """Bring every message up to date with the grant, posting the requester's if it is not
        out yet. When something was sent, the grant is read again: if it changed meanwhile (a
        notice racing a later one may have shown the later state first), again, at most
        `_CATCH_UP` times. When nothing needed sending, the messages show this grant already."""
        for _ in range(_CATCH_UP):
            card = self._card(grant, approvers)
            mine = self._mine(grant, approvers, refs)
            before = refs
            if not any(r.kind == REQUESTER_MESSAGE for r in refs):
                refs = [*refs, self._post_mine(grant, *mine, refs)]
            refs = [
                self._show(grant.id, ref, *card)
                if ref.kind == APPROVAL_CARD
                else self._show(grant.id, ref, *mine)
                if ref.kind == REQUESTER_MESSAGE
                else ref
                for ref in refs
            ]
            if refs == before:
                break
            latest, latest_etag = self._ports.grants.get(grant.id)
            if latest_etag == etag:
                break
            grant, etag = latest, latest_etag
        return refs

    def _show(self, grant_id: str, ref: MessageRef, text: str, blocks: list[Block]) -> MessageRef:
        """Update one message to `text`/`blocks`, unless that is what it shows already."""
        shown = digest(text, blocks)
        if ref.shown == shown:
            return ref
        try:
            self._replier.update(ref.channel, ref.ts, text=text, blocks=blocks)
        except SlackApiError as exc:
            if exc.response.get("error") not in _GONE:
                raise
            logger.warning("message of %s is gone: %s", grant_id, exc.response.get("error"))
            return ref
        ref = ref.model_copy(update={"shown": shown})
        self._ports.grants.add_message(grant_id, ref)
        return ref

    # --- replies that notify ------------------------------------------------------------------

    def _ping(self, job: GrantNotice, grant: Grant, refs: list[MessageRef]) -> None:
        """A reply under the requester's message when `job.event` needs them."""
        text = requester_ping(grant, job.event, actor=job.actor)
        mine = next((r for r in refs if r.kind == REQUESTER_MESSAGE), None)
        if text is None or mine is None:
            return
        try:
            self._replier.post_once(
                f"told:{job.key}", mine.channel, text=text, thread_ts=mine.thread_ts or mine.ts
            )
        except SlackApiError as exc:
            logger.warning("could not reply to %s's requester: %s", grant.id, exc.response)

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

    def _publish_homes(self, job: GrantNotice, grant: Grant, config: RegistryConfig | None) -> None:
        """Publish again the App Home of everyone whose Home lists `grant`: its requester and
        its registry's approvers (a group that cannot be read now: its listed ones)."""
        people = {grant.requester.user_id}
        if config is not None:
            people |= approvers_of(config, self._policy)
            group = approver_group_of(config, self._policy)
            if group is not None:
                try:
                    people |= self._ports.approvers.members(group)
                except DirectoryUnavailable:
                    logger.info("approver group %s unread; its Homes stay as they are", group)
        team = grant.requester.team_id
        for user in sorted(people)[:_HOMES]:
            self._ports.jobs.send(HomeJob(key=f"home:{job.key}:{user}", team_id=team, user_id=user))

    def registry_changed(self, job: RegistryNotice) -> None:
        """Rules changed without the bot's plan while it wrote: say which, once, where the
        registry's approval cards go, so a person can put back what was lost."""
        config = self._ports.registries.find(job.registry)
        text, blocks = registry_change_message(job, approvers=self.approvers_text(config))
        for channel in self._approval_channels(config):
            self._replier.post_once(f"{job.key}:{channel}", channel, text=text, blocks=blocks)
