"""Answering people: where a reply goes for each surface, once.

`answer` posts a reply to where the request came from — in place of the "Diagnosing…" of a slash
command (its `response_url`), in the thread of a mention or a shortcut's message, in the direct
message. A shortcut on a channel the bot is not in is answered privately instead.

Once, also when the worker dies halfway: every post is a claim that records progress
(`DeliveryLedger.begin`), finished with the posted message's channel and `ts`. A post whose worker
died before recording it is looked for before posting again: each message carries its key in
Slack's message metadata, and the conversation's recent history (or the thread) is searched for
it. Updates (`chat.update`, a `response_url` that replaces) are idempotent and simply repeated.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.webhook import WebhookClient

from bot.jobs import Origin, Surface
from bot.slack_retries import retry_handlers
from services.domain.claims import ClaimState
from services.ports import DeliveryLedger

logger = logging.getLogger(__name__)

#: An unfinished claim older than this is taken over: its worker died. (A queue message comes
#: back only after its invisibility lapses, which is longer.)
STALE_CLAIM = timedelta(minutes=2)
#: The message metadata event type that carries a post's key.
POST_EVENT = "acrbot_post"


class StillRunning(Exception):
    """Another attempt of the same work is running right now: this delivery comes back later."""


#: Errors after which a thread reply is sent privately instead (the bot is not in the channel).
_NOT_THERE = frozenset({"not_in_channel", "channel_not_found", "is_archived", "restricted_action"})


class Replier:
    def __init__(
        self,
        client: WebClient,
        ledger: DeliveryLedger,
        *,
        api_url: str,
        retry_backoff: float = 0.5,
    ) -> None:
        self._client = client
        self._ledger = ledger
        self._retry_backoff = retry_backoff
        # response_urls come from Slack's signed payloads; still, only Slack's own hooks (or the
        # configured API host, the emulator in tests) are ever posted to.
        self._hosts = {"hooks.slack.com", urlsplit(api_url).hostname or "slack.com"}

    @property
    def client(self) -> WebClient:
        return self._client

    def _webhook(self, url: str) -> WebhookClient | None:
        parts = urlsplit(url)
        if parts.hostname not in self._hosts or parts.scheme not in ("https", "http"):
            logger.warning("ignored a response_url on %s", parts.hostname)
            return None
        if parts.scheme == "http" and parts.hostname == "hooks.slack.com":
            return None
        return WebhookClient(url, timeout=10, retry_handlers=retry_handlers(self._retry_backoff))

    def answer(self, key: str, origin: Origin, *, text: str, blocks: Sequence[Block] = ()) -> bool:
        """Reply once per `key`; False when it was answered before."""
        claim_key = f"answer:{key}"
        claim = self._ledger.begin(claim_key, stale_after=STALE_CLAIM)
        if claim.state is ClaimState.DONE:
            logger.info("answer %s was sent before; not again", key)
            return False
        if claim.state is ClaimState.BUSY:
            raise StillRunning(claim_key)
        try:
            self._deliver(origin, text, list(blocks), key=claim_key)
        except Exception:
            self._ledger.fail(claim_key)
            raise
        self._ledger.finish(claim_key)
        return True

    def _deliver(self, origin: Origin, text: str, blocks: list[Block], *, key: str) -> None:
        replace = origin.surface is Surface.SLASH
        if (
            origin.surface in (Surface.SLASH, Surface.MODAL)
            and origin.response_url
            and self._respond(origin.response_url, text, blocks, replace=replace)
        ):
            return
        if origin.surface in (Surface.MENTION, Surface.SHORTCUT, Surface.DM) and origin.channel_id:
            try:
                self.post_once(
                    key, origin.channel_id, text=text, blocks=blocks, thread_ts=origin.thread_ts
                )
                return
            except SlackApiError as exc:
                if exc.response.get("error") not in _NOT_THERE or not origin.response_url:
                    raise
                logger.info("cannot post in %s; answering privately", origin.channel_id)
            if origin.response_url and self._respond(
                origin.response_url, text, blocks, replace=False
            ):
                return
        self.post_once(key, self.open_dm(origin.user_id), text=text, blocks=blocks)

    def _respond(self, url: str, text: str, blocks: list[Block], *, replace: bool) -> bool:
        hook = self._webhook(url)
        if hook is None:
            return False
        response = hook.send(
            text=text, blocks=blocks or None, response_type="ephemeral", replace_original=replace
        )
        if response.status_code != 200:
            raise RuntimeError(f"response_url answered {response.status_code}: {response.body}")
        return True

    def direct(self, user_id: str, *, text: str, blocks: Sequence[Block] = ()) -> dict[str, Any]:
        """A direct message to `user_id`."""
        opened = self._client.conversations_open(users=user_id)
        channel = opened["channel"]["id"]
        posted = self._client.chat_postMessage(
            channel=channel, text=text, blocks=list(blocks) or None, unfurl_links=False
        )
        return dict(posted.data) if isinstance(posted.data, dict) else {}

    def react(self, origin: Origin, name: str, *, remove: bool = False) -> None:
        """A reaction on the person's own message (best effort: it is only a sign of life)."""
        if not origin.channel_id or not origin.message_ts:
            return
        try:
            if remove:
                self._client.reactions_remove(
                    channel=origin.channel_id, timestamp=origin.message_ts, name=name
                )
            else:
                self._client.reactions_add(
                    channel=origin.channel_id, timestamp=origin.message_ts, name=name
                )
        except SlackApiError as exc:
            logger.info("reaction %s not changed: %s", name, exc.response.get("error"))

    def tell(self, origin: Origin, text: str) -> None:
        """A private note to the person who clicked or asked (not deduplicated: it changes
        nothing)."""
        if origin.response_url and self._respond(origin.response_url, text, [], replace=False):
            return
        if origin.channel_id:
            try:
                self._client.chat_postEphemeral(
                    channel=origin.channel_id, user=origin.user_id, text=text
                )
                return
            except SlackApiError as exc:
                logger.info("ephemeral note failed: %s", exc.response.get("error"))
        self.direct(origin.user_id, text=text)

    def post(
        self,
        channel: str,
        *,
        text: str,
        blocks: Sequence[Block] = (),
        thread_ts: str | None = None,
        key: str | None = None,
    ) -> tuple[str, str]:
        """Post a message (its `key` in the message's metadata); returns (channel, ts) as Slack
        placed it. Not deduplicated: `post_once` is."""
        posted = self._client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=text,
            blocks=list(blocks) or None,
            unfurl_links=False,
            unfurl_media=False,
            metadata={"event_type": POST_EVENT, "event_payload": {"key": key}} if key else None,
        )
        return str(posted["channel"]), str(posted["ts"])

    def post_once(
        self,
        key: str,
        channel: str,
        *,
        text: str,
        blocks: Sequence[Block] = (),
        thread_ts: str | None = None,
    ) -> tuple[str, str]:
        """Post once per `key`, also when a worker died between posting and recording it;
        returns (channel, ts) of the message, posted now or before."""
        claim_key = f"post:{key}"
        claim = self._ledger.begin(claim_key, stale_after=STALE_CLAIM)
        if claim.state is ClaimState.DONE and claim.data.get("ts"):
            return claim.data.get("channel", channel), claim.data["ts"]
        if claim.state is ClaimState.BUSY:
            raise StillRunning(claim_key)
        try:
            found = (
                self._find_posted(key, channel, thread_ts)
                if claim.state is not ClaimState.NEW
                else None
            )
            where, ts = found or self.post(
                channel, text=text, blocks=blocks, thread_ts=thread_ts, key=key
            )
        except Exception:
            self._ledger.fail(claim_key)
            raise
        self._ledger.finish(claim_key, channel=where, ts=ts)
        return where, ts

    def _find_posted(self, key: str, channel: str, thread_ts: str | None) -> tuple[str, str] | None:
        """The bot's message carrying `key`, among the conversation's latest (or the thread's)."""
        try:
            if thread_ts:
                answer = self._client.conversations_replies(
                    channel=channel, ts=thread_ts, include_all_metadata=True, limit=200
                )
            else:
                answer = self._client.conversations_history(
                    channel=channel, include_all_metadata=True, limit=200
                )
        except SlackApiError as exc:
            # Cannot look: post again (a second copy is better than none).
            logger.warning("could not look for post %s: %s", key, exc.response.get("error"))
            return None
        for message in answer.get("messages") or []:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == POST_EVENT and payload.get("key") == key:
                logger.info("post %s was made before a crash; not posted again", key)
                return channel, str(message["ts"])
        return None

    def update(self, channel: str, ts: str, *, text: str, blocks: Sequence[Block]) -> None:
        self._client.chat_update(channel=channel, ts=ts, text=text, blocks=list(blocks))

    def open_dm(self, user_id: str) -> str:
        return str(self._client.conversations_open(users=user_id)["channel"]["id"])
