"""Answering people: where a reply goes for each surface, once.

`answer` posts a reply to where the request came from — in place of the "Diagnosing…" of a slash
command (its `response_url`), in the thread of a mention or a shortcut's message, in the direct
message — and claims the job's key in the delivery ledger right before, so a redelivered job never
answers twice. A shortcut on a channel the bot is not in is answered privately instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.webhook import WebhookClient

from bot.jobs import Origin, Surface
from bot.slack_retries import retry_handlers
from services.ports import DeliveryLedger

logger = logging.getLogger(__name__)

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
        claim = f"answer:{key}"
        if not self._ledger.claim(claim):
            logger.info("answer %s was sent before; not again", key)
            return False
        try:
            self._deliver(origin, text, list(blocks))
        except Exception:
            self._ledger.release(claim)
            raise
        return True

    def _deliver(self, origin: Origin, text: str, blocks: list[Block]) -> None:
        replace = origin.surface is Surface.SLASH
        if (
            origin.surface in (Surface.SLASH, Surface.MODAL)
            and origin.response_url
            and self._respond(origin.response_url, text, blocks, replace=replace)
        ):
            return
        if origin.surface in (Surface.MENTION, Surface.SHORTCUT, Surface.DM) and origin.channel_id:
            try:
                self._client.chat_postMessage(
                    channel=origin.channel_id,
                    thread_ts=origin.thread_ts,
                    text=text,
                    blocks=blocks or None,
                    unfurl_links=False,
                    unfurl_media=False,
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
        self.direct(origin.user_id, text=text, blocks=blocks)

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
    ) -> tuple[str, str]:
        """Post a message; returns (channel, ts) as Slack placed it."""
        posted = self._client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=text,
            blocks=list(blocks) or None,
            unfurl_links=False,
            unfurl_media=False,
        )
        return str(posted["channel"]), str(posted["ts"])

    def update(self, channel: str, ts: str, *, text: str, blocks: Sequence[Block]) -> None:
        self._client.chat_update(channel=channel, ts=ts, text=text, blocks=list(blocks))

    def open_dm(self, user_id: str) -> str:
        return str(self._client.conversations_open(users=user_id)["channel"]["id"])
