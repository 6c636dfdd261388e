"""Slack's side of the conversation with the app: the HTTP requests Slack sends, in its own wire
formats, signed with the app's signing secret.

`SlackClient` builds slash commands (form-encoded), interactivity payloads (form field
`payload=<JSON>`: `block_actions`, `view_submission`, `view_closed`, `message_action`,
`shortcut`), Events API deliveries (`event_callback` JSON: `app_mention`, `message` in channels,
threads and DMs, bot messages, `file_share` messages and mentions with files, `app_home_opened`)
and `url_verification`. Every request is
signed as Slack signs it: `X-Slack-Signature: v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")`
with `X-Slack-Request-Timestamp`, through `slack_sdk.signature.SignatureVerifier`. The timestamp
comes from an injectable clock or is given per request; `stale`, `forged` and `retried` derive
the requests a hostile network or Slack's own retries produce.

Given a `SlackEmulator`, the client keeps the two sides consistent: a `trigger_id` the emulator
will accept for `views.open`, a `response_url` that posts to the emulator, the people's names,
the bot's ids, and messages people "post" (a mention, a DM, the message a shortcut is used on)
are added to the emulator first, so the bot can reply in their thread or react to them. What a
person did that the Web API never sees (ran a command, clicked, submitted) is narrated into the
emulator's transcript.

`text` arguments are Slack's wire text, as Slack sends it: markup such as `<@U123>` or
`<!channel>` is live, a literal `<`, `>` or `&` is written `&lt;`, `&gt;`, `&amp;`
(`slack_escape` turns typed text into that).
"""

from __future__ import annotations

import copy
import html
import json
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

import azure.functions as func
from slack_sdk.signature import SignatureVerifier

from sandbox.slack_emulator import Ephemeral, Message, SlackEmulator
from services.clock import Clock, SystemClock

USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
DEFAULT_URL = "http://localhost:7071/api/slack/events"


def slack_escape(typed: str) -> str:
    """What Slack puts on the wire for text a person typed: `&`, `<`, `>` escaped."""
    return typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@dataclass(frozen=True)
class SlackRequest:
    """One HTTP request from Slack to the app: the raw body, exactly as signed, and headers."""

    body: str
    headers: dict[str, str]
    kind: str
    method: str = "POST"
    query: dict[str, str] = field(default_factory=dict)

    @property
    def payload(self) -> dict[str, Any]:
        """The decoded content: the form fields of a slash command, the JSON `payload` of an
        interaction, the JSON body of an event."""
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith(FORM):
            form = {k: v[-1] for k, v in parse_qs(self.body, keep_blank_values=True).items()}
            if set(form) == {"payload"}:
                return dict(json.loads(form["payload"]))
            return dict(form)
        return dict(json.loads(self.body))

    def with_headers(self, headers: Mapping[str, str]) -> SlackRequest:
        """The same request with headers added or replaced (the signature is unchanged)."""
        return replace(self, headers={**self.headers, **headers})

    def to_azure(self, url: str = DEFAULT_URL) -> func.HttpRequest:
        """The request as the Azure Functions host hands it to an HTTP-triggered function."""
        query = urlencode(self.query)
        return func.HttpRequest(
            method=self.method,
            url=f"{url}?{query}" if query else url,
            headers=dict(self.headers),
            params=dict(self.query),
            route_params={},
            body=self.body.encode("utf-8"),
        )


class SlackClient:
    """Builds signed requests as Slack sends them to one app in one workspace."""

    def __init__(
        self,
        signing_secret: str,
        *,
        emulator: SlackEmulator | None = None,
        team_id: str | None = None,
        team_domain: str | None = None,
        api_app_id: str | None = None,
        bot_user_id: str | None = None,
        bot_id: str | None = None,
        clock: Clock | None = None,
        verification_token: str = "deprecated-verification-token",
    ) -> None:
        self.signing_secret = signing_secret
        self.emulator = emulator
        self.team_id = team_id or (emulator.team_id if emulator else "T0EMULATOR")
        self.team_domain = team_domain or (emulator.team_domain if emulator else "emulated")
        self.api_app_id = api_app_id or (emulator.app_id if emulator else "A0APP")
        self.bot_user_id = bot_user_id or (emulator.bot_user_id if emulator else "U0BOT")
        self.bot_id = bot_id or (emulator.bot_id if emulator else "B0BOT")
        #: Signing time: Bolt checks it against its own wall clock, so the default is the system.
        self.clock: Clock = clock or SystemClock()
        # Slack still sends the deprecated verification token in payloads; apps must not use it.
        self.verification_token = verification_token
        self._verifier = SignatureVerifier(signing_secret)

    # -- signing ---------------------------------------------------------------------------------

    def now(self) -> int:
        return int(self.clock.now().timestamp())

    def sign(
        self,
        body: str,
        content_type: str,
        *,
        kind: str = "raw",
        timestamp: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> SlackRequest:
        """A request carrying `body` with Slack's headers, signed at `timestamp` (now)."""
        ts = str(self.now() if timestamp is None else timestamp)
        signature = self._verifier.generate_signature(timestamp=ts, body=body)
        assert signature is not None
        return SlackRequest(
            body=body,
            headers={
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": ts,
                "X-Slack-Signature": signature,
                "User-Agent": USER_AGENT,
                "Accept": "application/json,*/*",
                "Accept-Encoding": "gzip,deflate",
                **(headers or {}),
            },
            kind=kind,
        )

    def resign(self, request: SlackRequest, *, timestamp: int | None = None) -> SlackRequest:
        """The same body and headers signed again at `timestamp` (now)."""
        extra = {
            k: v
            for k, v in request.headers.items()
            if k not in ("X-Slack-Request-Timestamp", "X-Slack-Signature")
        }
        content_type = extra.pop("Content-Type")
        fresh = self.sign(
            request.body, content_type, kind=request.kind, timestamp=timestamp, headers=extra
        )
        return replace(fresh, method=request.method, query=dict(request.query))

    def stale(
        self, request: SlackRequest, *, age: timedelta = timedelta(minutes=6)
    ) -> SlackRequest:
        """Validly signed, but at a time older than Slack's five-minute replay window."""
        return self.resign(request, timestamp=self.now() - int(age.total_seconds()))

    def forged(self, request: SlackRequest) -> SlackRequest:
        """Same body and timestamp, signed with a secret that is not the app's."""
        ts = request.headers["X-Slack-Request-Timestamp"]
        wrong = SignatureVerifier(self.signing_secret + "-forged")
        signature = wrong.generate_signature(timestamp=ts, body=request.body)
        assert signature is not None
        return request.with_headers({"X-Slack-Signature": signature})

    def retried(
        self, request: SlackRequest, *, num: int = 1, reason: str = "http_timeout"
    ) -> SlackRequest:
        """Slack's redelivery of an event: the same body (same `event_id`), signed anew, with
        `X-Slack-Retry-Num` and `X-Slack-Retry-Reason`."""
        again = request.with_headers(
            {"X-Slack-Retry-Num": str(num), "X-Slack-Retry-Reason": reason}
        )
        return self.resign(again)

    # -- common pieces ---------------------------------------------------------------------------

    def _name(self, user: str) -> str:
        return self.emulator.user_name(user) if self.emulator else user.lower()

    def _user(self, user: str) -> dict[str, Any]:
        name = self._name(user)
        return {"id": user, "username": name, "name": name, "team_id": self.team_id}

    def _team(self) -> dict[str, Any]:
        return {"id": self.team_id, "domain": self.team_domain}

    def _channel(self, channel: str, name: str | None = None) -> dict[str, Any]:
        if name is None and self.emulator is not None:
            name = self.emulator.channel_name(channel)
        return {"id": channel, "name": name or channel.lower()}

    def _trigger_id(self, user: str) -> str:
        if self.emulator is not None:
            return self.emulator.trigger_id(user)
        return f"{self.now()}.{secrets.randbelow(10**10)}.{secrets.token_hex(16)}"

    def _response_url(
        self,
        kind: str,
        *,
        channel: str,
        user: str,
        message_ts: str | None = None,
        ephemeral: bool = False,
        thread_ts: str | None = None,
    ) -> str:
        if self.emulator is not None:
            return self.emulator.response_url(
                channel=channel,
                user=user,
                message_ts=message_ts,
                ephemeral=ephemeral,
                thread_ts=thread_ts,
            )
        return (
            f"https://hooks.slack.com/{kind}/{self.team_id}/{secrets.randbelow(10**13)}/"
            f"{secrets.token_urlsafe(18)}"
        )

    def _interaction(
        self, payload: Mapping[str, Any], *, kind: str, timestamp: int | None
    ) -> SlackRequest:
        body = urlencode({"payload": json.dumps(payload, ensure_ascii=False)})
        return self.sign(body, FORM, kind=kind, timestamp=timestamp)

    def _narrate(
        self,
        text: str,
        *,
        lines: list[str] | None = None,
        channel: str | None = None,
        place: str | None = None,
        only: str | None = None,
    ) -> None:
        if self.emulator is not None:
            self.emulator.narrate(
                text, lines=lines or [], channel=channel, place=place, visible_to=only
            )

    def _action_ts(self) -> str:
        return f"{self.clock.now().timestamp():.6f}"

    # -- slash commands --------------------------------------------------------------------------

    def slash_command(
        self,
        command: str,
        text: str = "",
        *,
        user: str,
        channel: str,
        channel_name: str | None = None,
        response_url: str | None = None,
        trigger_id: str | None = None,
        timestamp: int | None = None,
    ) -> SlackRequest:
        """`/command text` run by `user` in `channel`, form-encoded as Slack posts it."""
        self._narrate(
            f"@{self._name(user)} ran {command}",
            lines=[text] if text else [],
            channel=channel,
            only=user,
        )
        fields = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel,
            "channel_name": self._channel(channel, channel_name)["name"],
            "user_id": user,
            "user_name": self._name(user),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url
            or self._response_url("commands", channel=channel, user=user),
            "trigger_id": trigger_id or self._trigger_id(user),
        }
        return self.sign(urlencode(fields), FORM, kind="slash_command", timestamp=timestamp)

    # -- interactivity ---------------------------------------------------------------------------

    def block_action(
        self,
        action_id: str,
        *,
        user: str,
        message: Message | Ephemeral | Mapping[str, Any] | None = None,
        channel: str | None = None,
        view: Mapping[str, Any] | str | None = None,
        value: str | None = None,
        block_id: str | None = None,
        action: Mapping[str, Any] | None = None,
        selected: Mapping[str, Mapping[str, Any]] | None = None,
        timestamp: int | None = None,
    ) -> SlackRequest:
        """`user` clicks (or selects in) the element `action_id` on `message` (a message or an
        ephemeral message from the emulator, or a Slack message dict with `channel`) or in
        `view`. `block_id`, the element's type, text and value are read from the blocks;
        `value`, `block_id` and `action` override them. `selected` maps `block_id` → `action_id`
        → what the person chose in the message's other stateful elements (a select's option
        value), sent in `state.values` as Slack does."""
        if (message is None) == (view is None):
            raise ValueError("give exactly one of message or view")
        blocks: list[dict[str, Any]]
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user(user),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "trigger_id": self._trigger_id(user),
            "team": self._team(),
            "enterprise": None,
            "is_enterprise_install": False,
        }
        if view is not None:
            view_obj = self._view(view)
            blocks = view_obj.get("blocks") or []
            payload["container"] = {"type": "view", "view_id": view_obj["id"]}
            payload["view"] = view_obj
            payload["state"] = view_obj.get("state") or {"values": {}}
            where = f"in “{_title(view_obj)}”"
            narrate_channel = None
            place: str | None = f"modal for @{self._name(user)}"
        else:
            assert message is not None
            ephemeral = isinstance(message, Ephemeral)
            if isinstance(message, Message | Ephemeral):
                channel = message.channel
                slack_message = message.as_slack()
            else:
                slack_message = dict(message)
            if channel is None:
                raise ValueError("a message dict needs its channel")
            ts = str(slack_message["ts"])
            thread_ts = slack_message.get("thread_ts")
            blocks = slack_message.get("blocks") or []
            container: dict[str, Any] = {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel,
                "is_ephemeral": ephemeral,
            }
            if thread_ts:
                container["thread_ts"] = thread_ts
            payload["container"] = container
            payload["channel"] = self._channel(channel)
            if not ephemeral:
                payload["message"] = slack_message
            payload["state"] = {"values": _state_values(blocks, selected) if selected else {}}
            payload["response_url"] = self._response_url(
                "actions",
                channel=channel,
                user=user,
                message_ts=ts,
                ephemeral=ephemeral,
                thread_ts=thread_ts if thread_ts != ts else None,
            )
            author = slack_message.get("user")
            where = f"on @{self._name(author)}'s message" if author else "on a message"
            narrate_channel = channel
            place = None
        found_block, element = _find_element(blocks, action_id)
        act: dict[str, Any] = {
            "type": (element or {}).get("type", "button"),
            "action_id": action_id,
            "block_id": block_id or found_block or "",
            "action_ts": self._action_ts(),
        }
        if element is not None and isinstance(element.get("text"), dict):
            act["text"] = element["text"]
        if element is not None and element.get("style"):
            act["style"] = element["style"]
        if value is not None:
            act["value"] = value
        elif element is not None and "value" in element:
            act["value"] = element["value"]
        act.update(action or {})
        payload["actions"] = [act]
        label = _text(act.get("text")) or action_id
        self._narrate(
            f"@{self._name(user)} clicked “{label}” {where}",
            channel=narrate_channel,
            place=place,
            only=user if view is not None or isinstance(message, Ephemeral) else None,
        )
        return self._interaction(payload, kind="block_actions", timestamp=timestamp)

    def view_submission(
        self,
        view: Mapping[str, Any] | str,
        *,
        user: str,
        values: Mapping[str, Mapping[str, Any]] | None = None,
        timestamp: int | None = None,
    ) -> SlackRequest:
        """`user` submits `view` (a view object, or its id in the emulator). `values` maps
        `block_id` → `action_id` → what was entered: a string (or list for multi-selects), shaped
        per the input element's type, or a dict used as Slack's state value as it is. Inputs
        not given are sent as Slack sends untouched ones (their initial value, else null)."""
        view_obj = self._view(view)
        view_obj["state"] = {"values": _state_values(view_obj.get("blocks") or [], values or {})}
        payload = {
            "type": "view_submission",
            "team": self._team(),
            "user": self._user(user),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "trigger_id": self._trigger_id(user),
            "view": view_obj,
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        self._narrate(
            f"@{self._name(user)} submitted “{_title(view_obj)}”",
            lines=_submitted(view_obj),
            place=f"modal for @{self._name(user)}",
            only=user,
        )
        return self._interaction(payload, kind="view_submission", timestamp=timestamp)

    def view_closed(
        self, view: Mapping[str, Any] | str, *, user: str, timestamp: int | None = None
    ) -> SlackRequest:
        """`user` closes a modal opened with `notify_on_close`."""
        view_obj = self._view(view)
        payload = {
            "type": "view_closed",
            "team": self._team(),
            "user": self._user(user),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "view": view_obj,
            "is_cleared": False,
            "is_enterprise_install": False,
            "enterprise": None,
        }
        self._narrate(
            f"@{self._name(user)} closed “{_title(view_obj)}”",
            place=f"modal for @{self._name(user)}",
            only=user,
        )
        if self.emulator is not None:
            self.emulator.close_views(user)
        return self._interaction(payload, kind="view_closed", timestamp=timestamp)

    def message_shortcut(
        self,
        callback_id: str,
        *,
        user: str,
        message: Message | Mapping[str, Any],
        channel: str | None = None,
        author: str | None = None,
        timestamp: int | None = None,
    ) -> SlackRequest:
        """`user` runs the message shortcut `callback_id` on `message`. A dict without a `ts`
        is a message `author` (default `user`) posts in `channel` first (in the emulator when
        there is one), with its `text`, `blocks` and `attachments`."""
        if isinstance(message, Message):
            channel = message.channel
            slack_message = message.as_slack()
        else:
            if channel is None:
                raise ValueError("a message dict needs its channel")
            slack_message = dict(message)
            if "ts" not in slack_message:
                slack_message = self._post_as(
                    author or user,
                    channel,
                    str(slack_message.get("text", "")),
                    blocks=slack_message.get("blocks"),
                    attachments=slack_message.get("attachments"),
                )
        payload = {
            "type": "message_action",
            "token": self.verification_token,
            "action_ts": self._action_ts(),
            "team": self._team(),
            "user": self._user(user),
            "channel": self._channel(channel),
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self._trigger_id(user),
            "response_url": self._response_url("app", channel=channel, user=user),
            "message_ts": slack_message["ts"],
            "message": slack_message,
        }
        self._narrate(
            f"@{self._name(user)} used the shortcut {callback_id} on a message",
            channel=channel,
            only=user,
        )
        return self._interaction(payload, kind="message_action", timestamp=timestamp)

    def global_shortcut(
        self, callback_id: str, *, user: str, timestamp: int | None = None
    ) -> SlackRequest:
        payload = {
            "type": "shortcut",
            "token": self.verification_token,
            "action_ts": self._action_ts(),
            "team": self._team(),
            "user": self._user(user),
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self._trigger_id(user),
        }
        self._narrate(f"@{self._name(user)} used the shortcut {callback_id}", only=user)
        return self._interaction(payload, kind="shortcut", timestamp=timestamp)

    def _view(self, view: Mapping[str, Any] | str) -> dict[str, Any]:
        if isinstance(view, str):
            if self.emulator is None:
                raise ValueError("a view id needs an emulator; pass the view object")
            return self.emulator.view(view)
        return copy.deepcopy(dict(view))

    # -- Events API ------------------------------------------------------------------------------

    def event(
        self,
        event: Mapping[str, Any],
        *,
        event_id: str | None = None,
        event_time: int | None = None,
        timestamp: int | None = None,
    ) -> SlackRequest:
        """An `event_callback` envelope around `event`, as Slack delivers it."""
        envelope = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "context_enterprise_id": None,
            "api_app_id": self.api_app_id,
            "event": dict(event),
            "type": "event_callback",
            "event_id": event_id or "Ev" + secrets.token_hex(5).upper(),
            "event_time": event_time if event_time is not None else self.now(),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": "4-" + secrets.token_urlsafe(24),
        }
        return self.sign(
            json.dumps(envelope, ensure_ascii=False),
            JSON,
            kind="event_callback",
            timestamp=timestamp,
        )

    def app_mention(
        self,
        text: str,
        *,
        user: str,
        channel: str,
        thread_ts: str | None = None,
        files: list[dict[str, Any]] | None = None,
        timestamp: int | None = None,
    ) -> SlackRequest:
        """`user` mentions the bot in `channel` (the mention is put in front of `text` unless it
        is there already), with `files` attached when given (`upload`, `snippet`); Slack also
        delivers such a message as `message.channels`."""
        mention = f"<@{self.bot_user_id}>"
        if mention not in text:
            text = f"{mention} {text}"
        msg = self._post_as(user, channel, text, thread_ts=thread_ts, files=files)
        event = {**msg, "type": "app_mention", "channel": channel, "event_ts": msg["ts"]}
        return self.event(event, timestamp=timestamp)

    def direct_message(
        self,
        text: str,
        *,
        user: str,
        channel: str | None = None,
        files: list[dict[str, Any]] | None = None,
        timestamp: int | None = None,
    ) -> SlackRequest:
        """`user` writes to the bot in their DM with it (`message.im`); with `files`, a
        `file_share` message."""
        if channel is None:
            channel = self.emulator.dm_channel(user) if self.emulator else "D" + user[1:]
        return self.message(
            text, user=user, channel=channel, channel_type="im", files=files, timestamp=timestamp
        )

    # -- files -----------------------------------------------------------------------------------

    def upload(self, content: bytes | str, *, user: str, name: str, **kind: str) -> dict[str, Any]:
        """A file `user` uploads, to attach to a message (`files=[...]`): its object as Slack's
        events carry it. The type follows the name (`kind`: `filetype`, `mimetype`, …)."""
        if self.emulator is None:
            raise ValueError("a file needs an emulator to be served from")
        return self.emulator.add_file(user, name, content, **kind)

    def snippet(self, text: str, *, user: str, title: str = "Untitled") -> dict[str, Any]:
        """The snippet Slack makes of a long paste (`mode: snippet`, plain text)."""
        return self.upload(
            text,
            user=user,
            name=title,
            title=title,
            mode="snippet",
            filetype="text",
            pretty_type="Plain Text",
            mimetype="text/plain",
        )

    def message(
        self,
        text: str,
        *,
        channel: str,
        user: str | None = None,
        channel_type: str = "channel",
        thread_ts: str | None = None,
        bot_id: str | None = None,
        subtype: str | None = None,
        files: list[dict[str, Any]] | None = None,
        timestamp: int | None = None,
    ) -> SlackRequest:
        """A `message` event. With `bot_id` it comes from a bot (the bot's own `bot_id` for
        its own messages; `subtype="bot_message"` for a legacy integration's); with `files`, a
        `file_share`."""
        if user is None and bot_id is None:
            raise ValueError("a message comes from a user or a bot")
        if files and subtype is None:
            subtype = "file_share"
        msg = self._post_as(
            user or "", channel, text, thread_ts=thread_ts, bot_id=bot_id, files=files
        )
        if user is None:
            msg.pop("user", None)
            msg.pop("client_msg_id", None)
        if bot_id is not None:
            msg.pop("client_msg_id", None)
            msg["bot_id"] = bot_id
        if subtype is not None:
            msg["subtype"] = subtype
        event = {
            **msg,
            "channel": channel,
            "event_ts": msg["ts"],
            "channel_type": channel_type,
        }
        return self.event(event, timestamp=timestamp)

    def app_home_opened(
        self, *, user: str, tab: str = "home", timestamp: int | None = None
    ) -> SlackRequest:
        channel = self.emulator.dm_channel(user) if self.emulator else "D" + user[1:]
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user,
            "channel": channel,
            "tab": tab,
            "event_ts": self._action_ts(),
        }
        home = self.emulator.home(user) if self.emulator else None
        if home is not None:
            event["view"] = home
        self._narrate(f"@{self._name(user)} opened the app's {tab.capitalize()} tab", only=user)
        return self.event(event, timestamp=timestamp)

    def url_verification(
        self, challenge: str | None = None, *, timestamp: int | None = None
    ) -> SlackRequest:
        body = {
            "token": self.verification_token,
            "challenge": challenge or secrets.token_urlsafe(32),
            "type": "url_verification",
        }
        return self.sign(json.dumps(body), JSON, kind="url_verification", timestamp=timestamp)

    def _post_as(
        self,
        user: str,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        bot_id: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """The message as Slack's events carry it, added to the emulator when there is one."""
        if blocks is None:
            # A message of files alone has no text, and so no rich_text block.
            blocks = [] if bot_id or (files and not text) else rich_text_blocks(text)
        if self.emulator is not None:
            posted = self.emulator.user_message(
                user,
                channel,
                text,
                thread_ts=thread_ts,
                blocks=blocks,
                attachments=attachments,
                bot_id=bot_id,
                files=files,
            )
            msg = posted.as_slack()
        else:
            msg = {"type": "message", "user": user, "text": text, "ts": self._action_ts()}
            msg["team"] = self.team_id
            if blocks:
                msg["blocks"] = blocks
            if attachments:
                msg["attachments"] = attachments
            if files:
                msg |= {"files": copy.deepcopy(files), "upload": True, "display_as_bot": False}
            if thread_ts:
                msg["thread_ts"] = thread_ts
        if not bot_id:
            msg = {"client_msg_id": str(uuid.uuid4()), **msg}
        return msg


# -- payload pieces ---------------------------------------------------------------------------

_MARKUP = re.compile(r"<([^<>]*)>")


def file_stub(file: Mapping[str, Any]) -> dict[str, Any]:
    """How a Slack Connect event shows a file: its id and `file_access: check_file_info`, no
    name, type or URL; the app must ask `files.info`."""
    return {
        "id": file["id"],
        "mode": "file_access",
        "file_access": "check_file_info",
        "created": 0,
        "timestamp": 0,
        "user": "",
    }


def rich_text_blocks(text: str) -> list[dict[str, Any]]:
    """The `rich_text` block Slack attaches to a message a person typed, from its wire text."""
    elements: list[dict[str, Any]] = []
    pos = 0
    for match in _MARKUP.finditer(text):
        if match.start() > pos:
            elements.append({"type": "text", "text": html.unescape(text[pos : match.start()])})
        target, _, label = match.group(1).partition("|")
        if target.startswith("@"):
            elements.append({"type": "user", "user_id": target[1:]})
        elif target.startswith("#"):
            elements.append({"type": "channel", "channel_id": target[1:]})
        elif target.startswith("!subteam^"):
            elements.append({"type": "usergroup", "usergroup_id": target.removeprefix("!subteam^")})
        elif target.startswith("!"):
            elements.append({"type": "broadcast", "range": target[1:]})
        else:
            link: dict[str, Any] = {"type": "link", "url": target}
            if label:
                link["text"] = label
            elements.append(link)
        pos = match.end()
    if pos < len(text):
        elements.append({"type": "text", "text": html.unescape(text[pos:])})
    return [
        {
            "type": "rich_text",
            "block_id": secrets.token_urlsafe(4)[:5],
            "elements": [{"type": "rich_text_section", "elements": elements}],
        }
    ]


def _text(obj: Any) -> str:
    return str(obj.get("text") or "") if isinstance(obj, Mapping) else ""


def _title(view: Mapping[str, Any]) -> str:
    return _text(view.get("title")) or "App Home"


def _find_element(
    blocks: list[dict[str, Any]], action_id: str
) -> tuple[str | None, dict[str, Any] | None]:
    for block in blocks:
        candidates = [*(block.get("elements") or []), block.get("accessory"), block.get("element")]
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return block.get("block_id"), element
    return None, None


def _option(element: Mapping[str, Any], value: str) -> dict[str, Any]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    for option in options:
        if option.get("value") == value:
            return dict(option)
    return {"text": {"type": "plain_text", "text": value, "emoji": True}, "value": value}


def _state_value(element: Mapping[str, Any], given: Any) -> dict[str, Any]:
    """Slack's `view.state.values` entry for one input element."""
    kind = str(element.get("type", "plain_text_input"))
    if isinstance(given, Mapping):
        return {"type": kind, **given}
    if kind in ("static_select", "external_select", "radio_buttons"):
        initial = element.get("initial_option")
        chosen = _option(element, str(given)) if given is not None else initial
        return {"type": kind, "selected_option": chosen}
    if kind in ("multi_static_select", "multi_external_select", "checkboxes"):
        picked = given if given is not None else []
        if given is None:
            return {"type": kind, "selected_options": list(element.get("initial_options") or [])}
        return {"type": kind, "selected_options": [_option(element, str(v)) for v in picked]}
    single = {
        "users_select": ("selected_user", "initial_user"),
        "conversations_select": ("selected_conversation", "initial_conversation"),
        "channels_select": ("selected_channel", "initial_channel"),
        "datepicker": ("selected_date", "initial_date"),
        "timepicker": ("selected_time", "initial_time"),
    }
    if kind in single:
        key, initial_key = single[kind]
        return {"type": kind, key: given if given is not None else element.get(initial_key)}
    return {"type": kind, "value": given if given is not None else element.get("initial_value")}


def _state_values(
    blocks: list[dict[str, Any]], values: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    state: dict[str, dict[str, Any]] = {}
    for block in blocks:
        element = block.get("element")
        block_id = block.get("block_id")
        if block.get("type") != "input" or not isinstance(element, dict) or not block_id:
            continue
        action_id = element.get("action_id")
        if not action_id:
            continue
        given = (values.get(block_id) or {}).get(action_id)
        state[block_id] = {action_id: _state_value(element, given)}
    for block_id, by_action in values.items():
        for action_id, given in by_action.items():
            if action_id not in state.get(block_id, {}):
                _, element = _find_element(blocks, action_id)
                state.setdefault(block_id, {})[action_id] = _state_value(element or {}, given)
    return state


def _submitted(view: Mapping[str, Any]) -> list[str]:
    """What the person entered, input by input, as the transcript shows it (`label: value`):
    the state sent, never a placeholder."""
    values = (view.get("state") or {}).get("values") or {}
    lines: list[str] = []
    for block in view.get("blocks") or []:
        if block.get("type") != "input":
            continue
        label = _text_of_label(block.get("label"))
        for state in (values.get(block.get("block_id")) or {}).values():
            chosen = state.get("selected_option") or {}
            value = state.get("value")
            if chosen:
                value = (chosen.get("text") or {}).get("text") or chosen.get("value")
            lines.append(f"{label}: {value if value not in (None, '') else '(left empty)'}")
    return lines


def _text_of_label(label: Any) -> str:
    return str(label.get("text", "")) if isinstance(label, Mapping) else str(label or "")
