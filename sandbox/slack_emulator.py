"""A loopback Slack Web API for tests and the demo.

The real `slack_sdk.WebClient(token=..., base_url=emulator.api_url)` talks to it over plain HTTP
on 127.0.0.1, and Bolt's `respond()` posts to the `response_url`s it hands out. It answers in
Slack's own response shapes, held to the Slack SDKs' samples of real answers
(`tests/recordings/slack/`, `tests/sandbox/test_slack_samples.py`), with Slack's headers
(`X-Slack-Req-Id`, the token's `X-OAuth-Scopes` when scopes are configured, the method's
`X-Accepted-OAuth-Scopes`):

- `auth.test`
- `chat.postMessage`, `chat.update`, `chat.delete`, `chat.postEphemeral`, `chat.getPermalink`
- `views.open`, `views.push`, `views.update`, `views.publish`
- `reactions.add`, `reactions.remove`
- `conversations.open`, `usergroups.users.list`, `users.info`
- `conversations.history`, `conversations.replies` (the history scope of the conversation's
  kind; `limit` and cursor paging; `metadata` only with `include_all_metadata`)
- `files.info` (`files:read`; `file_not_found` for a file not shared where the bot is,
  `file_deleted`), and the files' own URLs (`url_private`, `url_private_download`) with the bot
  token in `Authorization: Bearer`, honouring one `Range` (206, `Content-Range`; 416 past the
  end; `file_ranges = False` serves every file whole). Without the bot token the download is a
  302 to a sign-in page on another host name (`localhost`), as Slack answers; a file the bot may
  not see is 403, an unknown or deleted one 404; `inject("files.download", …)` plays any other
  status (its keyword arguments become headers, `Location=…` for a redirect), a delay or a
  dropped connection. Downloads are recorded as `files.download` calls, visits of the sign-in
  page as `sign_in`
- `apps.connections.open`, with the app-level token: the URL of the Socket Mode server attached
  as `socket_mode_url` (`sandbox/socket_mode_server.py`)
- `POST /response/<id>`: the `response_url` of a slash command or an interaction, honouring
  `response_type`, `replace_original`, `delete_original` and `thread_ts`

Requests may be GET (query string), form-encoded (JSON-valued fields such as `blocks` and `view`
arrive as JSON strings) or JSON, as the SDK sends them. Authentication is Slack's: the bot token
from `Authorization: Bearer` (or a `token` parameter) must match, else `not_authed` /
`invalid_auth`. What Slack validates cheaply is validated here too: unknown channels and users
(once any are seeded), `not_in_channel`, `no_text`, `msg_too_long` (text over 40,000
characters), `invalid_blocks` (over 50 blocks in a message or 100 in a view, unknown block types,
section text over 3,000 characters, more than 10 fields, duplicate `block_id`s, with Slack's
`[ERROR] … [json-pointer:…]` messages), trigger ids (unknown, used twice, older than 3 s), view
`hash` conflicts, `already_reacted` / `no_reaction`, `missing_scope` when scopes are configured,
and the response_url limits (5 uses, 30 minutes).

State is kept, so later calls see earlier ones: messages per channel with their `ts` and
`thread_ts` (edited by `chat.update`, removed by `chat.delete` or `delete_original`), ephemeral
messages per person, views per person (modal stacks and the App Home), reactions. `transcript()`
renders, in order, what each person saw in Slack as readable text.

Tests shape its behaviour through Python methods: seeding (`add_user`, `add_channel`,
`add_usergroup`, `add_file`, `delete_file`, `user_message` with `files`), what Slack hands an
app (`trigger_id`, `response_url`), fault injection (`fail` for `ok: false`, `throttle` for
HTTP 429 with `Retry-After`, `server_error` for 5xx, `inject` for delays and dropped
connections) and inspection (`calls`, `messages`, `replies`, `ephemerals`, `views`, `home`,
`transcript`).

Approximations, chosen where Slack documents no exact figure: an unknown method answers HTTP 404
`unknown_method`; a response_url used a sixth time, or after 30 minutes, answers HTTP 404 with
the text `used_url` or `expired_url`; a reply to a `response_url` posts a new message unless
`replace_original` or `delete_original` is true. Not reproduced: rate-limit tiers (throttling
happens only when injected), message formatting beyond a plain rendering, file uploads through
the Web API, pagination other than the conversations' cursor, history bounds (`oldest`,
`latest`), Enterprise Grid, and every validation not listed above. Socket Mode's WebSocket side is
`sandbox/socket_mode_server.py`; with none attached, `apps.connections.open` answers
`socket_mode_not_enabled` (an approximation: Slack documents no error for an app with Socket
Mode off). A bot token on `apps.connections.open`, or the app-level token on any other method,
gets `not_allowed_token_type`.
"""

from __future__ import annotations

import contextlib
import copy
import html
import itertools
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from sandbox.loopback import LoopbackServer
from services.clock import Clock, SystemClock

DEFAULT_TOKEN = "xoxb-emulator-bot-token"
DEFAULT_APP_TOKEN = "xapp-1-A0APP-1-emulator-app-token"
#: Methods called with the app-level token instead of the bot token.
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT = 40_000
MAX_ATTACHMENTS = 100
MAX_SECTION_TEXT = 3_000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2_000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BLOCK_ID = 255
MAX_MODAL_TITLE = 24
MAX_VIEW_STACK = 3
TRIGGER_TTL = timedelta(seconds=3)
RESPONSE_URL_TTL = timedelta(minutes=30)
RESPONSE_URL_USES = 5

BLOCK_TYPES = frozenset(
    {
        "actions", "context", "divider", "file", "header", "image", "input", "markdown",
        "rich_text", "section", "video", "call", "table", "context_actions",
    }
)  # fmt: skip

#: The bot-token scope each method needs (None: no scope), checked when `scopes` is configured.
METHOD_SCOPES: dict[str, str | None] = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.delete": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.getPermalink": None,
    "views.open": None,
    "views.push": None,
    "views.update": None,
    "views.publish": None,
    "reactions.add": "reactions:write",
    "reactions.remove": "reactions:write",
    "conversations.open": "im:write",
    # channels:history, groups:history or im:history by the kind of conversation; checked there.
    "conversations.history": None,
    "conversations.replies": None,
    "usergroups.users.list": "usergroups:read",
    "users.info": "users:read",
    "files.info": "files:read",
}

#: What a file name's extension makes of an upload, as Slack shows it: `filetype`, `pretty_type`
#: and `mimetype`. Anything else is Slack's `binary`.
FILE_TYPES: dict[str, tuple[str, str, str]] = {
    "txt": ("text", "Plain Text", "text/plain"),
    "log": ("text", "Plain Text", "text/plain"),
    "csv": ("csv", "CSV", "text/csv"),
    "json": ("json", "JSON", "application/json"),
    "yaml": ("yaml", "YAML", "application/x-yaml"),
    "yml": ("yaml", "YAML", "application/x-yaml"),
    "png": ("png", "PNG", "image/png"),
    "jpg": ("jpg", "JPEG", "image/jpeg"),
    "pdf": ("pdf", "PDF", "application/pdf"),
    "zip": ("zip", "Zip", "application/zip"),
    "gz": ("gzip", "GZip", "application/gzip"),
}
_BINARY_TYPE = ("binary", "Binary", "application/octet-stream")
_FILE_PATH = re.compile(r"/files-pri/(?P<team>[A-Z0-9]+)-(?P<id>F[A-Z0-9]+)/(?:download/)?[^/]+")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_SIGN_IN_PAGE = (
    b'<!DOCTYPE html><html lang="en-US"><head><title>Sign in | Slack</title></head>'
    b"<body><h1>Sign in to your workspace</h1></body></html>"
)


# -- what the emulator records and keeps ------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request received: a Web API method, or `response_url` for a response_url post."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: datetime
    http_method: str
    #: The HTTP status answered; 0 when the connection was dropped on purpose.
    status: int
    response: Any


@dataclass
class Message:
    """A message in a channel, a DM or a thread, as the emulator holds it."""

    channel: str
    ts: str
    user: str
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    bot_id: str | None = None
    app_id: str | None = None
    team: str | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)
    edited_ts: str | None = None
    deleted: bool = False
    metadata: dict[str, Any] | None = None
    reply_broadcast: bool = False
    #: Files shared with the message, as its events show them.
    files: list[dict[str, Any]] = field(default_factory=list)

    def as_slack(self) -> dict[str, Any]:
        """The message object as Slack's Web API and payloads show it (no `channel` field)."""
        out: dict[str, Any] = {"type": "message", "user": self.user, "text": self.text}
        if self.files:
            out |= {"files": copy.deepcopy(self.files), "upload": True, "display_as_bot": False}
        if self.bot_id:
            out |= {"bot_id": self.bot_id, "app_id": self.app_id}
        out["ts"] = self.ts
        if self.team:
            out["team"] = self.team
        if self.blocks:
            out["blocks"] = copy.deepcopy(self.blocks)
        if self.attachments:
            out["attachments"] = copy.deepcopy(self.attachments)
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.edited_ts:
            out["edited"] = {"user": self.user, "ts": self.edited_ts}
        if self.reactions:
            out["reactions"] = [
                {"name": name, "users": list(users), "count": len(users)}
                for name, users in self.reactions.items()
            ]
        if self.metadata:
            out["metadata"] = copy.deepcopy(self.metadata)
        return out


@dataclass
class Ephemeral:
    """A message only `user` sees; Slack gives it a `ts` but keeps it nowhere else."""

    channel: str
    user: str
    ts: str
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    deleted: bool = False
    bot_id: str | None = None

    def as_slack(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "text": self.text, "ts": self.ts}
        if self.bot_id:
            out["bot_id"] = self.bot_id
        if self.blocks:
            out["blocks"] = copy.deepcopy(self.blocks)
        if self.attachments:
            out["attachments"] = copy.deepcopy(self.attachments)
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        return out


@dataclass
class StoredFile:
    """A file someone uploaded (or the snippet Slack made of a paste), and where it is shared."""

    id: str
    user: str
    name: str
    title: str
    content: bytes
    filetype: str
    pretty_type: str
    mimetype: str
    #: `hosted` (an upload), `snippet`, `external` (stored elsewhere, e.g. Google Drive).
    mode: str
    created: int
    channels: list[str] = field(default_factory=list)
    deleted: bool = False


@dataclass
class _Channel:
    id: str
    name: str
    is_private: bool = False
    im_user: str | None = None
    members: set[str] | None = None
    bot_is_member: bool = True

    @property
    def kind(self) -> str:
        """Slack's word for the kind of conversation: `im`, `groups` (private) or `channels`."""
        return "im" if self.im_user else "groups" if self.is_private else "channels"


@dataclass
class _ResponseUrl:
    channel: str
    user: str
    issued: datetime
    message_ts: str | None
    ephemeral: bool
    thread_ts: str | None
    uses: int = 0
    # What `replace_original` replaces when the URL came with no source message (a slash
    # command): the last message posted through this URL.
    last_posted: tuple[str, bool] | None = None


@dataclass
class _Trigger:
    user: str
    issued: datetime
    used: bool = False


@dataclass
class _Fault:
    method: str | None
    status: int | None
    error: str | None
    retry_after: float | None
    delay: float
    drop: bool
    extra: dict[str, Any]


@dataclass(frozen=True)
class _Seen:
    place: str
    header: str
    lines: tuple[str, ...]
    visible_to: str | None


class _Refused(Exception):
    """Raised inside a method to answer `{"ok": false, "error": ...}`."""

    def __init__(self, error: str, status: int = 200, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra


# -- the emulator ---------------------------------------------------------------------------


class SlackEmulator(LoopbackServer):
    """The emulator, on plain HTTP: `start()` (or use it as a context manager), then `api_url`
    is the Web API's base URL."""

    tls = False
    thread_name = "slack-emulator"

    def __init__(
        self,
        *,
        bot_token: str = DEFAULT_TOKEN,
        app_token: str = DEFAULT_APP_TOKEN,
        team_id: str = "T0EMULATOR",
        team_name: str = "Emulated Workspace",
        team_domain: str = "emulated",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        bot_name: str = "acr-bot",
        app_id: str = "A0APP",
        scopes: Iterable[str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.app_token = app_token
        #: Issues a Socket Mode WebSocket URL; a `SocketModeServer` attaches itself here.
        self.socket_mode_url: Callable[[], str] | None = None
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.app_id = app_id
        #: The bot token's scopes; None grants every method (no `missing_scope` check).
        self.scopes: frozenset[str] | None = frozenset(scopes) if scopes is not None else None
        self.clock: Clock = clock or SystemClock()
        self.api_url = ""
        self._lock = threading.RLock()
        self._calls: list[Call] = []
        self._faults: list[_Fault] = []
        self._users: dict[str, dict[str, Any]] = {}
        self._users_seeded = False
        self._channels: dict[str, _Channel] = {}
        self._channels_seeded = False
        self._groups: dict[str, tuple[str, list[str]]] = {}
        self._messages: dict[str, dict[str, Message]] = {}
        self._ephemerals: list[Ephemeral] = []
        self._views: dict[str, dict[str, Any]] = {}
        self._view_owner: dict[str, str] = {}
        self._stacks: dict[str, list[str]] = {}
        self._homes: dict[str, str] = {}
        self._triggers: dict[str, _Trigger] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._seen: list[_Seen] = []
        self._files: dict[str, StoredFile] = {}
        #: Whether file downloads honour `Range` (206); False serves every file whole (200).
        self.file_ranges = True
        self._last_ts = 0
        self._ids = itertools.count(1)
        self._methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "usergroups.users.list": self._usergroups_users_list,
            "users.info": self._users_info,
            "files.info": self._files_info,
            "apps.connections.open": self._apps_connections_open,
        }
        self._users[bot_user_id] = self._user_object(
            bot_user_id, bot_name, real_name=bot_name, is_bot=True
        )

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> tuple[str, str]:
        started = super().start()
        self.api_url = f"{self.base_url}/api/"
        return started

    # -- seeding ---------------------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        email: str | None = None,
        is_bot: bool = False,
        is_admin: bool = False,
        deleted: bool = False,
    ) -> dict[str, Any]:
        """Add a person; once any is added, unknown users get `user_not_found` everywhere."""
        with self._lock:
            user = self._user_object(
                user_id,
                name,
                real_name=real_name,
                email=email,
                is_bot=is_bot,
                is_admin=is_admin,
                deleted=deleted,
            )
            self._users[user_id] = user
            self._users_seeded = True
            return copy.deepcopy(user)

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        is_private: bool = False,
        members: Iterable[str] | None = None,
        bot_is_member: bool = True,
    ) -> None:
        """Add a channel; once any is added, unknown channels get `channel_not_found`.
        `members` (when given) makes ephemeral messages to anyone else `user_not_in_channel`."""
        with self._lock:
            self._channels[channel_id] = _Channel(
                channel_id,
                name,
                is_private=is_private,
                members=set(members) if members is not None else None,
                bot_is_member=bot_is_member,
            )
            self._channels_seeded = True

    def add_usergroup(self, group_id: str, handle: str, members: Iterable[str]) -> None:
        with self._lock:
            self._groups[group_id] = (handle, list(members))

    def user_message(
        self,
        user: str,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        attachments: list[dict[str, Any]] | None = None,
        bot_id: str | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> Message:
        """A message a person (or another bot, with `bot_id`) posted in Slack; returns it with its
        new `ts`, so an event or a shortcut can point at it and the bot can thread under it.
        `files` (objects from `add_file`, or Slack Connect's stubs of them) are shared in the
        channel with it."""
        with self._lock:
            channel = self._resolve_channel(channel, strict=False)
            thread_ts = self._thread_parent(channel, thread_ts)
            for shared in files or ():
                stored = self._files.get(str(shared.get("id")))
                if stored is not None and channel not in stored.channels:
                    stored.channels.append(channel)
            msg = Message(
                channel=channel,
                ts=self._new_ts(),
                user=user,
                text=text,
                blocks=copy.deepcopy(blocks or []),
                attachments=copy.deepcopy(attachments or []),
                thread_ts=thread_ts,
                bot_id=bot_id,
                team=self.team_id,
                files=copy.deepcopy(files or []),
            )
            self._messages.setdefault(channel, {})[msg.ts] = msg
            self._see(self._place(channel, thread_ts), self._who(user), self._msg_lines(msg))
            return copy.deepcopy(msg)

    def narrate(
        self,
        text: str,
        *,
        lines: Iterable[str] = (),
        channel: str | None = None,
        place: str | None = None,
        visible_to: str | None = None,
    ) -> None:
        """An entry in the transcript for something a person did that the Web API never sees:
        ran a slash command, clicked a button, submitted a modal. `lines` (Slack markup) are
        shown under it, rendered like message text. `place` names where it happened when it
        was not in `channel` (a modal, the App Home)."""
        with self._lock:
            place = place or (self._place(channel) if channel else "Slack")
            names = self._names()
            body = [out for line in lines for out in render_text(line, names).splitlines()]
            self._see(place, text, body, visible_to)

    def add_file(
        self,
        user: str,
        name: str,
        content: bytes | str,
        *,
        title: str | None = None,
        mode: str = "hosted",
        filetype: str | None = None,
        pretty_type: str | None = None,
        mimetype: str | None = None,
    ) -> dict[str, Any]:
        """A file `user` uploaded (not shared anywhere yet: pass it to `user_message`); returns
        its object as Slack's events show it. The type comes from the name's extension unless
        given (`FILE_TYPES`)."""
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        guessed = (
            FILE_TYPES.get(name.rpartition(".")[2].lower(), _BINARY_TYPE)
            if "." in name
            else _BINARY_TYPE
        )
        with self._lock:
            stored = StoredFile(
                id=f"F{next(self._ids):010d}",
                user=user,
                name=name,
                title=title if title is not None else name,
                content=data,
                filetype=filetype or guessed[0],
                pretty_type=pretty_type or guessed[1],
                mimetype=mimetype or guessed[2],
                mode=mode,
                created=int(self.clock.now().timestamp()),
            )
            self._files[stored.id] = stored
            return self._file_object(stored)

    def delete_file(self, file_id: str) -> None:
        """The file is deleted: `files.info` answers `file_deleted`, its URLs 404."""
        with self._lock:
            self._files[file_id].deleted = True

    # -- what Slack hands an app -----------------------------------------------------------------

    def trigger_id(self, user: str) -> str:
        """A fresh trigger id for `user`, good for one `views.open`/`views.push` within 3 s."""
        with self._lock:
            now = self.clock.now()
            trigger = f"{int(now.timestamp())}.{next(self._ids)}.{secrets.token_hex(16)}"
            self._triggers[trigger] = _Trigger(user, now)
            return trigger

    def response_url(
        self,
        *,
        channel: str,
        user: str,
        message_ts: str | None = None,
        ephemeral: bool = False,
        thread_ts: str | None = None,
    ) -> str:
        """A response_url for an interaction by `user` in `channel`; `message_ts` names the
        message the interaction came from (`ephemeral` when only `user` saw it)."""
        with self._lock:
            url_id = secrets.token_urlsafe(12)
            self._response_urls[url_id] = _ResponseUrl(
                self._resolve_channel(channel, strict=False),
                user,
                self.clock.now(),
                message_ts,
                ephemeral,
                thread_ts,
            )
            return f"{self.base_url}/response/{url_id}"

    def dm_channel(self, user: str) -> str:
        """The id of the bot's direct-message channel with `user` (created on first use)."""
        with self._lock:
            for ch in self._channels.values():
                if ch.im_user == user:
                    return ch.id
            channel_id = f"D{next(self._ids):08d}"
            self._channels[channel_id] = _Channel(
                channel_id, f"DM {user}", im_user=user, members={user, self.bot_user_id}
            )
            return channel_id

    # -- inspection ------------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """Every request received, oldest first; only those of `method` when given."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def messages(self, channel: str, *, include_deleted: bool = False) -> list[Message]:
        """Every message in `channel` (a user id means the bot's DM with them), replies
        included, in `ts` order."""
        with self._lock:
            channel = self._peek_channel(channel)
            msgs = sorted(self._messages.get(channel, {}).values(), key=lambda m: _ts_key(m.ts))
            return [copy.deepcopy(m) for m in msgs if include_deleted or not m.deleted]

    def message(self, channel: str, ts: str) -> Message:
        with self._lock:
            channel = self._peek_channel(channel)
            return copy.deepcopy(self._messages[channel][ts])

    def replies(self, channel: str, thread_ts: str) -> list[Message]:
        """The replies in the thread under `thread_ts`, without its parent."""
        return [m for m in self.messages(channel) if m.thread_ts == thread_ts and m.ts != thread_ts]

    def ephemerals(self, user: str | None = None, *, channel: str | None = None) -> list[Ephemeral]:
        """Ephemeral messages still showing, for `user` and in `channel` when given."""
        with self._lock:
            ch = self._peek_channel(channel) if channel else None
            return [
                copy.deepcopy(e)
                for e in self._ephemerals
                if not e.deleted
                and (user is None or e.user == user)
                and (ch is None or e.channel == ch)
            ]

    def views(self, user: str | None = None) -> list[dict[str, Any]]:
        """Every modal opened or pushed (current version), for `user` when given."""
        with self._lock:
            return [
                copy.deepcopy(v)
                for vid, v in self._views.items()
                if v["type"] != "home" and (user is None or self._view_owner[vid] == user)
            ]

    def view(self, view_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._views[view_id])

    def view_owner(self, view_id: str) -> str:
        with self._lock:
            return self._view_owner[view_id]

    def close_views(self, user: str) -> None:
        """The person closed their modal (or a submission closed it): the stack is gone."""
        with self._lock:
            self._stacks.pop(user, None)

    def home(self, user: str) -> dict[str, Any] | None:
        """The App Home view last published for `user`."""
        with self._lock:
            view_id = self._homes.get(user)
            return copy.deepcopy(self._views[view_id]) if view_id else None

    def channel_name(self, channel_id: str) -> str | None:
        """The name of a seeded channel (None for DMs and channels the emulator never named)."""
        with self._lock:
            ch = self._channels.get(channel_id)
            return ch.name if ch is not None and ch.im_user is None else None

    def user_name(self, user_id: str) -> str:
        with self._lock:
            user = self._users.get(user_id)
            return str(user["name"]) if user else user_id

    def transcript(self, user: str | None = None) -> str:
        """What people saw in Slack, in order; only what `user` could see when given."""
        with self._lock:
            out: list[str] = []
            for seen in self._seen:
                if user is not None and seen.visible_to not in (None, user):
                    continue
                only = f" (only {self._who(seen.visible_to)} sees this)" if seen.visible_to else ""
                out.append(f"{seen.place} · {seen.header}{only}")
                out.extend(f"    {line}" for line in seen.lines)
            return "\n".join(out) + ("\n" if out else "")

    def render(self, blocks: Iterable[Mapping[str, Any]]) -> list[str]:
        """Blocks as plain lines, with mentions shown by name."""
        with self._lock:
            return render_blocks(blocks, self._names())

    # -- fault injection -------------------------------------------------------------------------

    def inject(
        self,
        method: str | None = None,
        *,
        status: int | None = None,
        error: str | None = None,
        retry_after: float | None = None,
        delay: float = 0.0,
        drop: bool = False,
        times: int = 1,
        **extra: Any,
    ) -> None:
        """Queue `times` misbehaving answers for the next calls of `method` (any when None;
        `"response_url"` for response_url posts), first in first out."""
        with self._lock:
            for _ in range(times):
                self._faults.append(
                    _Fault(method, status, error, retry_after, delay, drop, dict(extra))
                )

    def fail(
        self, method: str, error: str = "ratelimited", *, times: int = 1, **extra: Any
    ) -> None:
        """The next `times` calls answer HTTP 200 `{"ok": false, "error": error, **extra}`."""
        self.inject(method, status=200, error=error, times=times, **extra)

    def throttle(self, method: str, *, retry_after: float = 0, times: int = 1) -> None:
        """The next `times` calls answer HTTP 429 with `Retry-After` and `ratelimited`."""
        self.inject(method, status=429, error="ratelimited", retry_after=retry_after, times=times)

    def server_error(self, method: str, *, status: int = 500, times: int = 1) -> None:
        self.inject(method, status=status, times=times)

    def _take_fault(self, method: str) -> _Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.method is None or fault.method == method:
                    return self._faults.pop(i)
        return None

    # -- helpers ---------------------------------------------------------------------------------

    def _new_ts(self) -> str:
        # Slack's ts is epoch seconds with six digits, unique per channel; a frozen clock would
        # repeat them, so each new one is at least a microsecond after the last.
        micros = max(int(self.clock.now().timestamp() * 1_000_000), self._last_ts + 1)
        self._last_ts = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _user_object(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        email: str | None = None,
        is_bot: bool = False,
        is_admin: bool = False,
        deleted: bool = False,
    ) -> dict[str, Any]:
        real = real_name or name
        profile: dict[str, Any] = {
            "real_name": real,
            "real_name_normalized": real,
            "display_name": name,
            "display_name_normalized": name,
            "team": self.team_id,
        }
        if email:
            profile["email"] = email
        if is_bot:
            profile["bot_id"] = self.bot_id if user_id == self.bot_user_id else None
        return {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": deleted,
            "real_name": real,
            "tz": "Europe/Amsterdam",
            "tz_label": "Central European Time",
            "tz_offset": 3600,
            "profile": profile,
            "is_admin": is_admin,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": 1_700_000_000,
        }

    def _names(self) -> dict[str, str]:
        names = {uid: str(u["name"]) for uid, u in self._users.items()}
        names |= {cid: ch.name for cid, ch in self._channels.items() if ch.im_user is None}
        names |= {gid: handle for gid, (handle, _) in self._groups.items()}
        return names

    def _who(self, user: str | None) -> str:
        if user == self.bot_user_id:
            return self.bot_name
        return f"@{self.user_name(user)}" if user else "a bot"

    def _place(self, channel: str, thread_ts: str | None = None) -> str:
        ch = self._channels.get(channel)
        if ch is not None and ch.im_user is not None:
            place = f"DM {self._who(ch.im_user)}"
        elif ch is not None:
            place = f"#{ch.name}"
        else:
            place = f"#{channel}"
        if thread_ts:
            parent = self._messages.get(channel, {}).get(thread_ts)
            if parent is not None:
                gist = _shorten(render_text(parent.text, self._names()), 40)
                place += f" › thread of {self._who(parent.user)}'s “{gist}”"
            else:
                place += f" › thread {thread_ts}"
        return place

    def _see(
        self, place: str, header: str, lines: Iterable[str], visible_to: str | None = None
    ) -> None:
        self._seen.append(_Seen(place, header, tuple(lines), visible_to))

    def _msg_lines(self, msg: Message | Ephemeral) -> list[str]:
        names = self._names()
        lines = render_text(msg.text, names).splitlines() if not msg.blocks else []
        lines += render_blocks(msg.blocks, names)
        lines += render_attachments(msg.attachments, names)
        return lines

    def _view_lines(self, view: Mapping[str, Any]) -> list[str]:
        names = self._names()
        lines = render_blocks(view.get("blocks") or [], names)
        buttons = [
            f"[{view[key]['text']}]"
            for key in ("close", "submit")
            if isinstance(view.get(key), dict) and view[key].get("text")
        ]
        if buttons:
            lines.append(" ".join(buttons))
        return lines

    def _user_known(self, user: str) -> bool:
        return user in self._users or not self._users_seeded

    def _resolve_channel(self, channel: str, *, strict: bool = True) -> str:
        """A channel id; a user id means the bot's DM with that user, as in chat.postMessage.
        Strict (a Web API call): unknown channels are `channel_not_found` once any is seeded;
        otherwise an unknown channel comes into being, so tests need not seed every one."""
        if strict and not channel:
            raise _Refused("channel_not_found")
        if channel[:1] in ("U", "W") and channel not in self._channels:
            if strict and not self._user_known(channel):
                raise _Refused("channel_not_found")
            return self.dm_channel(channel)
        if channel in self._channels:
            return channel
        if strict and self._channels_seeded:
            raise _Refused("channel_not_found")
        self._channels[channel] = _Channel(channel, channel)
        return channel

    def _peek_channel(self, channel: str) -> str:
        """Like `_resolve_channel`, for inspection: creates nothing."""
        if channel[:1] in ("U", "W") and channel not in self._channels:
            dm = next((c.id for c in self._channels.values() if c.im_user == channel), None)
            return dm or channel
        return channel

    def _writable_channel(self, params: Mapping[str, Any]) -> _Channel:
        raw = params.get("channel")
        if not raw:
            raise _Refused("channel_not_found")
        ch = self._channels[self._resolve_channel(str(raw))]
        if not ch.bot_is_member and (self.scopes is None or "chat:write.public" not in self.scopes):
            raise _Refused("not_in_channel")
        return ch

    def _thread_parent(self, channel: str, thread_ts: Any) -> str | None:
        """The parent `ts` a reply goes under; the parent becomes a thread (`thread_ts` = its
        own `ts`). Slack threads a reply to a reply under the same parent."""
        if not thread_ts:
            return None
        parent = self._messages.get(channel, {}).get(str(thread_ts))
        if parent is None:
            return str(thread_ts)
        if parent.thread_ts is None:
            parent.thread_ts = parent.ts
        return parent.thread_ts

    def _find_message(self, channel: str, ts: str) -> Message:
        msg = self._messages.get(channel, {}).get(ts)
        if msg is None or msg.deleted:
            raise _Refused("message_not_found")
        return msg

    def _content(
        self, params: Mapping[str, Any], *, require: bool = True
    ) -> tuple[str | None, list[dict[str, Any]] | None, list[dict[str, Any]] | None]:
        """Validated `text`, `blocks` and `attachments` (None when not given)."""
        text = params.get("text")
        blocks = params.get("blocks")
        attachments = params.get("attachments")
        if text is not None and not isinstance(text, str):
            text = str(text)
        if blocks is not None:
            if isinstance(blocks, str) and blocks.strip() == "":
                blocks = None
            elif not isinstance(blocks, list):
                raise _Refused("invalid_blocks_format")
        if attachments is not None:
            if isinstance(attachments, str) and attachments.strip() == "":
                attachments = None
            elif not isinstance(attachments, list):
                raise _Refused("invalid_attachments")
            elif len(attachments) > MAX_ATTACHMENTS:
                raise _Refused("too_many_attachments")
        if require and not text and not blocks and not attachments:
            raise _Refused("no_text")
        if text is not None and len(text) > MAX_TEXT:
            raise _Refused("msg_too_long")
        if blocks is not None:
            problems = validate_blocks(blocks, limit=MAX_MESSAGE_BLOCKS)
            if problems:
                raise _Refused("invalid_blocks", response_metadata={"messages": problems})
            blocks = self._with_ids(blocks)
        return text, blocks, attachments

    def _with_ids(self, blocks: list[Any]) -> list[dict[str, Any]]:
        # Slack gives every block a block_id and every interactive element an action_id when the
        # app leaves them out; payloads then carry those.
        out: list[dict[str, Any]] = copy.deepcopy(blocks)
        for block in out:
            block.setdefault("block_id", f"b{next(self._ids):x}")
            elements = list(block.get("elements") or []) if block["type"] == "actions" else []
            for element in [*elements, block.get("accessory"), block.get("element")]:
                if isinstance(element, dict) and element.get("type") not in (
                    None,
                    "image",
                    "mrkdwn",
                    "plain_text",
                ):
                    element.setdefault("action_id", f"a{next(self._ids):x}")
        return out

    # -- Web API methods -------------------------------------------------------------------------

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.socket_mode_url is None:
            raise _Refused("socket_mode_not_enabled")
        return {"url": self.socket_mode_url()}

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        ch = self._writable_channel(params)
        text, blocks, attachments = self._content(params)
        thread_ts = self._thread_parent(ch.id, params.get("thread_ts"))
        msg = Message(
            channel=ch.id,
            ts=self._new_ts(),
            user=self.bot_user_id,
            text=text or "",
            blocks=blocks or [],
            attachments=attachments or [],
            thread_ts=thread_ts,
            bot_id=self.bot_id,
            app_id=self.app_id,
            team=self.team_id,
            metadata=params.get("metadata") if isinstance(params.get("metadata"), dict) else None,
            reply_broadcast=_truthy(params.get("reply_broadcast")),
        )
        self._messages.setdefault(ch.id, {})[msg.ts] = msg
        self._see(self._place(ch.id, thread_ts), self.bot_name, self._msg_lines(msg))
        message = msg.as_slack()
        message["bot_profile"] = self._bot_profile()
        if thread_ts:
            parent = self._messages[ch.id].get(thread_ts)
            if parent is not None:
                message["parent_user_id"] = parent.user
        return {"channel": ch.id, "ts": msg.ts, "message": message}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        ch = self._writable_channel(params)
        msg = self._find_message(ch.id, str(params.get("ts") or ""))
        if msg.user != self.bot_user_id:
            raise _Refused("cant_update_message")
        text, blocks, attachments = self._content(params)
        # chat.update keeps what it is not given; an empty list removes blocks or attachments.
        if text is not None:
            msg.text = text
        if blocks is not None:
            msg.blocks = blocks
        if attachments is not None:
            msg.attachments = attachments
        msg.edited_ts = self._new_ts()
        self._see(
            self._place(ch.id, msg.thread_ts if msg.thread_ts != msg.ts else None),
            f"{self.bot_name} edited its message {msg.ts}",
            self._msg_lines(msg),
        )
        # The SDKs' samples of chat.update: the message without its ts, thread, reactions or
        # attachments (the ts is the answer's own).
        message = {
            k: v
            for k, v in msg.as_slack().items()
            if k not in {"ts", "thread_ts", "reactions", "attachments"}
        }
        message["bot_profile"] = self._bot_profile()
        return {"channel": ch.id, "ts": msg.ts, "text": msg.text, "message": message}

    def _chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        ch = self._writable_channel(params)
        msg = self._find_message(ch.id, str(params.get("ts") or ""))
        if msg.user != self.bot_user_id:
            raise _Refused("cant_delete_message")
        msg.deleted = True
        self._see(self._place(ch.id), f"{self.bot_name} deleted its message {msg.ts}", ())
        return {"channel": ch.id, "ts": msg.ts}

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        ch = self._writable_channel(params)
        user = str(params.get("user") or "")
        if not user or not self._user_known(user):
            raise _Refused("user_not_found")
        if ch.members is not None and user not in ch.members:
            raise _Refused("user_not_in_channel")
        text, blocks, attachments = self._content(params)
        eph = Ephemeral(
            channel=ch.id,
            user=user,
            ts=self._new_ts(),
            text=text or "",
            blocks=blocks or [],
            attachments=attachments or [],
            thread_ts=str(params["thread_ts"]) if params.get("thread_ts") else None,
            bot_id=self.bot_id,
        )
        self._ephemerals.append(eph)
        self._see(self._place(ch.id, eph.thread_ts), self.bot_name, self._msg_lines(eph), user)
        return {"message_ts": eph.ts}

    def _chat_get_permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._resolve_channel(str(params.get("channel") or ""))
        msg = self._find_message(channel, str(params.get("message_ts") or ""))
        link = f"https://{self.team_domain}.slack.com/archives/{channel}/p{msg.ts.replace('.', '')}"
        if msg.thread_ts and msg.thread_ts != msg.ts:
            link += f"?thread_ts={msg.thread_ts}&cid={channel}"
        return {"channel": channel, "permalink": link}

    def _bot_profile(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "app_id": self.app_id,
            "name": self.bot_name,
            "icons": {"image_36": "", "image_48": "", "image_72": ""},
            "deleted": False,
            "updated": 1_700_000_000,
            "team_id": self.team_id,
        }

    # views

    def _exchange_trigger(self, params: Mapping[str, Any]) -> str:
        trigger_id = params.get("trigger_id") or params.get("interactivity_pointer")
        trigger = self._triggers.get(str(trigger_id)) if trigger_id else None
        if trigger is None:
            raise _Refused(
                "invalid_arguments", response_metadata={"messages": ["invalid `trigger_id`"]}
            )
        if trigger.used:
            raise _Refused("exchanged_trigger_id")
        if self.clock.now() - trigger.issued > TRIGGER_TTL:
            raise _Refused("expired_trigger_id")
        trigger.used = True
        return trigger.user

    def _check_view(self, raw: Any, *, kind: str) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise _Refused(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] missing required field: view"]},
            )
        problems: list[str] = []
        view_type = raw.get("type")
        if view_type != kind:
            problems.append(f"[ERROR] must be '{kind}' [json-pointer:/view/type]")
        title = raw.get("title")
        if kind == "modal":
            if not isinstance(title, dict) or not title.get("text"):
                problems.append("[ERROR] missing required field: title [json-pointer:/view/title]")
            elif len(str(title["text"])) > MAX_MODAL_TITLE:
                problems.append(
                    f"[ERROR] must be less than {MAX_MODAL_TITLE + 1} characters "
                    "[json-pointer:/view/title/text]"
                )
        blocks = raw.get("blocks")
        if not isinstance(blocks, list):
            problems.append("[ERROR] missing required field: blocks [json-pointer:/view/blocks]")
        else:
            problems += validate_blocks(blocks, limit=MAX_VIEW_BLOCKS, pointer="/view/blocks")
        if problems:
            raise _Refused("invalid_arguments", response_metadata={"messages": problems})
        return raw

    def _store_view(
        self,
        raw: dict[str, Any],
        user: str,
        *,
        view_id: str | None = None,
        root_view_id: str | None = None,
        previous_view_id: str | None = None,
    ) -> dict[str, Any]:
        view_id = view_id or f"V{next(self._ids):010d}"
        external_id = str(raw.get("external_id") or "")
        if external_id:
            for vid, other in self._views.items():
                if vid != view_id and other.get("external_id") == external_id:
                    raise _Refused("duplicate_external_id")
        previous = self._views.get(view_id)
        view: dict[str, Any] = {
            "id": view_id,
            "team_id": self.team_id,
            "type": raw["type"],
            "blocks": self._with_ids(raw.get("blocks") or []),
            "private_metadata": str(raw.get("private_metadata") or ""),
            "callback_id": str(raw.get("callback_id") or ""),
            "state": {"values": {}},
            "hash": f"{int(self.clock.now().timestamp())}.{secrets.token_hex(4)}",
            "clear_on_close": bool(raw.get("clear_on_close", False)),
            "notify_on_close": bool(raw.get("notify_on_close", False)),
            "close": raw.get("close"),
            "submit": raw.get("submit"),
            "previous_view_id": previous_view_id
            if previous is None
            else previous.get("previous_view_id"),
            "root_view_id": root_view_id or (previous or {}).get("root_view_id") or view_id,
            "app_id": self.app_id,
            "external_id": external_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        if raw.get("title") is not None:
            view["title"] = raw["title"]
        self._views[view_id] = view
        self._view_owner[view_id] = user
        return view

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        raw = self._check_view(params.get("view"), kind="modal")
        user = self._exchange_trigger(params)
        view = self._store_view(raw, user)
        self._stacks[user] = [view["id"]]
        title = view["title"]["text"]
        self._see(f"modal for {self._who(user)}", f"opened “{title}”", self._view_lines(view), user)
        return {"view": copy.deepcopy(view)}

    def _views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        raw = self._check_view(params.get("view"), kind="modal")
        user = self._exchange_trigger(params)
        stack = self._stacks.get(user) or []
        if not stack:
            raise _Refused("not_found")
        if len(stack) >= MAX_VIEW_STACK:
            raise _Refused("push_limit_reached")
        view = self._store_view(raw, user, root_view_id=stack[0], previous_view_id=stack[-1])
        stack.append(view["id"])
        title = view["title"]["text"]
        self._see(f"modal for {self._who(user)}", f"pushed “{title}”", self._view_lines(view), user)
        return {"view": copy.deepcopy(view)}

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = params.get("view_id")
        external_id = params.get("external_id")
        if not view_id and external_id:
            view_id = next(
                (vid for vid, v in self._views.items() if v.get("external_id") == external_id),
                None,
            )
        current = self._views.get(str(view_id)) if view_id else None
        if current is None or current["type"] == "home":
            raise _Refused("not_found")
        user = self._view_owner[current["id"]]
        if current["id"] not in (self._stacks.get(user) or []):
            raise _Refused("not_found")
        if params.get("hash") and params["hash"] != current["hash"]:
            raise _Refused("hash_conflict")
        raw = self._check_view(params.get("view"), kind="modal")
        view = self._store_view(raw, user, view_id=current["id"])
        title = view["title"]["text"]
        self._see(
            f"modal for {self._who(user)}", f"updated “{title}”", self._view_lines(view), user
        )
        return {"view": copy.deepcopy(view)}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user_id") or "")
        if not user or not self._user_known(user):
            raise _Refused("user_not_found")
        raw = self._check_view(params.get("view"), kind="home")
        current_id = self._homes.get(user)
        if current_id and params.get("hash") and params["hash"] != self._views[current_id]["hash"]:
            raise _Refused("hash_conflict")
        view = self._store_view(raw, user, view_id=current_id)
        self._homes[user] = view["id"]
        self._see(
            f"App Home of {self._who(user)}",
            f"{self.bot_name} published",
            self._view_lines(view),
            user,
        )
        return {"view": copy.deepcopy(view)}

    # reactions

    def _reaction_target(self, params: Mapping[str, Any]) -> tuple[Message, str]:
        channel = self._resolve_channel(str(params.get("channel") or ""))
        msg = self._find_message(channel, str(params.get("timestamp") or ""))
        name = str(params.get("name") or "").strip(":")
        if not name or not re.fullmatch(r"[a-z0-9_+'\-]+(::skin-tone-[2-6])?", name):
            raise _Refused("invalid_name")
        return msg, name

    def _reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        msg, name = self._reaction_target(params)
        users = msg.reactions.setdefault(name, [])
        if self.bot_user_id in users:
            raise _Refused("already_reacted")
        users.append(self.bot_user_id)
        self._see(
            self._place(msg.channel, msg.thread_ts if msg.thread_ts != msg.ts else None),
            f"{self.bot_name} reacted :{name}: to {self._who(msg.user)}'s message {msg.ts}",
            (),
        )
        return {}

    def _reactions_remove(self, params: dict[str, Any]) -> dict[str, Any]:
        msg, name = self._reaction_target(params)
        users = msg.reactions.get(name) or []
        if self.bot_user_id not in users:
            raise _Refused("no_reaction")
        users.remove(self.bot_user_id)
        if not users:
            del msg.reactions[name]
        self._see(
            self._place(msg.channel, msg.thread_ts if msg.thread_ts != msg.ts else None),
            f"{self.bot_name} removed :{name}: from {self._who(msg.user)}'s message {msg.ts}",
            (),
        )
        return {}

    # people

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel"):
            existing = self._resolve_channel(str(params["channel"]))
            return {"no_op": True, "already_open": True, "channel": {"id": existing}}
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if not users:
            raise _Refused("users_list_not_supplied")
        for user in users:
            if not self._user_known(user):
                raise _Refused("user_not_found")
        if len(users) > 1:
            raise _Refused("not_supported")
        existed = any(ch.im_user == users[0] for ch in self._channels.values())
        channel: dict[str, Any] = {"id": self.dm_channel(users[0])}
        if _truthy(params.get("return_im")):
            channel |= {"created": 1_700_000_000, "is_im": True, "is_org_shared": False}
            channel |= {"user": users[0], "priority": 0}
        if existed:
            return {"no_op": True, "already_open": True, "channel": channel}
        return {"channel": channel}

    def _history_scope(self, ch: _Channel) -> None:
        if self.scopes is None:
            return
        # As Slack: each kind of conversation has its own history scope.
        needed = f"{ch.kind}:history"
        if needed not in self.scopes:
            raise _Refused("missing_scope", needed=needed, provided=",".join(sorted(self.scopes)))

    def _readable_channel(self, params: Mapping[str, Any]) -> _Channel:
        raw = params.get("channel")
        if not raw:
            raise _Refused("channel_not_found")
        ch = self._channels.get(self._resolve_channel(str(raw)))
        if ch is None:
            raise _Refused("channel_not_found")
        if not ch.bot_is_member and not ch.im_user:
            raise _Refused("not_in_channel")
        self._history_scope(ch)
        return ch

    def _page(
        self, params: Mapping[str, Any], messages: list[Message], *, newest_first: bool
    ) -> dict[str, Any]:
        """`limit`, cursor paging, and `metadata` only with `include_all_metadata`, as
        conversations.history answers."""
        chosen = sorted(
            (m for m in messages if not m.deleted),
            key=lambda m: float(m.ts),
            reverse=newest_first,
        )
        start = int(str(params.get("cursor") or "0").removeprefix("c") or 0)
        limit = max(1, min(int(params.get("limit") or 100), 999))
        page = chosen[start : start + limit]
        more = start + limit < len(chosen)
        out = []
        for msg in page:
            shown = msg.as_slack()
            if not _truthy(params.get("include_all_metadata")):
                shown.pop("metadata", None)
            out.append(shown)
        return {
            "messages": out,
            "has_more": more,
            "response_metadata": {"next_cursor": f"c{start + limit}" if more else ""},
        }

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        ch = self._readable_channel(params)
        top = [
            m
            for m in self._messages.get(ch.id, {}).values()
            if m.thread_ts is None or m.thread_ts == m.ts or m.reply_broadcast
        ]
        return {**self._page(params, top, newest_first=True), "pin_count": 0}

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        ch = self._readable_channel(params)
        parent = self._find_message(ch.id, str(params.get("ts") or ""))
        root = parent.thread_ts or parent.ts
        thread = [m for m in self._messages.get(ch.id, {}).values() if root in (m.ts, m.thread_ts)]
        return self._page(params, thread, newest_first=False)

    def _usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._groups.get(str(params.get("usergroup") or ""))
        if group is None:
            raise _Refused("no_such_subteam")
        return {"users": list(group[1])}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = self._users.get(str(params.get("user") or ""))
        if user is None:
            raise _Refused("user_not_found")
        return {"user": copy.deepcopy(user)}

    # response_url

    def _respond(self, url_id: str, body: Any) -> tuple[int, str]:
        target = self._response_urls.get(url_id)
        if target is None:
            return 404, "no_service"
        if self.clock.now() - target.issued > RESPONSE_URL_TTL:
            return 404, "expired_url"
        if target.uses >= RESPONSE_URL_USES:
            return 404, "used_url"
        if not isinstance(body, dict):
            return 400, "invalid_payload"
        target.uses += 1
        source = (target.message_ts, target.ephemeral) if target.message_ts else target.last_posted
        if _truthy(body.get("delete_original")):
            if source is not None:
                self._remove_source(target, *source)
            return 200, "ok"
        try:
            text, blocks, attachments = self._content(body)
        except _Refused as failure:
            return 400, failure.error
        if _truthy(body.get("replace_original")) and source is not None:
            self._replace_source(
                target, *source, text=text or "", blocks=blocks or [], attachments=attachments or []
            )
            return 200, "ok"
        thread_ts = self._thread_parent(target.channel, body.get("thread_ts") or target.thread_ts)
        if body.get("response_type") == "in_channel":
            msg = Message(
                channel=target.channel,
                ts=self._new_ts(),
                user=self.bot_user_id,
                text=text or "",
                blocks=blocks or [],
                attachments=attachments or [],
                thread_ts=thread_ts,
                bot_id=self.bot_id,
                app_id=self.app_id,
                team=self.team_id,
            )
            self._messages.setdefault(target.channel, {})[msg.ts] = msg
            self._see(self._place(target.channel, thread_ts), self.bot_name, self._msg_lines(msg))
            target.last_posted = (msg.ts, False)
        else:
            eph = Ephemeral(
                channel=target.channel,
                user=target.user,
                ts=self._new_ts(),
                text=text or "",
                blocks=blocks or [],
                attachments=attachments or [],
                thread_ts=thread_ts,
                bot_id=self.bot_id,
            )
            self._ephemerals.append(eph)
            self._see(
                self._place(target.channel, thread_ts),
                self.bot_name,
                self._msg_lines(eph),
                target.user,
            )
            target.last_posted = (eph.ts, True)
        return 200, "ok"

    def _source(self, target: _ResponseUrl, ts: str, ephemeral: bool) -> Message | Ephemeral | None:
        if ephemeral:
            return next(
                (e for e in self._ephemerals if e.ts == ts and e.channel == target.channel), None
            )
        return self._messages.get(target.channel, {}).get(ts)

    def _remove_source(self, target: _ResponseUrl, ts: str, ephemeral: bool) -> None:
        source = self._source(target, ts, ephemeral)
        if source is None or source.deleted:
            return
        source.deleted = True
        self._see(
            self._place(target.channel),
            f"{self.bot_name} deleted its message {ts}",
            (),
            target.user if ephemeral else None,
        )

    def _replace_source(
        self,
        target: _ResponseUrl,
        ts: str,
        ephemeral: bool,
        *,
        text: str,
        blocks: list[dict[str, Any]],
        attachments: list[dict[str, Any]],
    ) -> None:
        source = self._source(target, ts, ephemeral)
        if source is None or source.deleted:
            return
        source.text, source.blocks, source.attachments = text, blocks, attachments
        if isinstance(source, Message):
            source.edited_ts = self._new_ts()
        thread = source.thread_ts if source.thread_ts != source.ts else None
        self._see(
            self._place(target.channel, thread),
            f"{self.bot_name} replaced its message {ts}",
            self._msg_lines(source),
            target.user if ephemeral else None,
        )

    # -- files ---------------------------------------------------------------------------------

    def _file_object(self, f: StoredFile, *, info: bool = False) -> dict[str, Any]:
        path = f"/files-pri/{self.team_id}-{f.id}"
        quoted = quote(f.name)
        out: dict[str, Any] = {
            "id": f.id,
            "created": f.created,
            "timestamp": f.created,
            "name": f.name,
            "title": f.title,
            "mimetype": f.mimetype,
            "filetype": f.filetype,
            "pretty_type": f.pretty_type,
            "user": f.user,
            "user_team": self.team_id,
            "editable": f.mode == "snippet",
            "size": len(f.content),
            "mode": f.mode,
            "is_external": f.mode == "external",
            "external_type": "gdrive" if f.mode == "external" else "",
            "is_public": any(
                not self._channels[c].is_private
                for c in f.channels
                if c in self._channels and not self._channels[c].im_user
            ),
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{self.base_url}{path}/{quoted}",
            "url_private_download": f"{self.base_url}{path}/download/{quoted}",
            "media_display_type": "unknown",
            "permalink": f"https://{self.team_domain}.slack.com/files/{f.user}/{f.id}/{quoted}",
            "permalink_public": f"https://slack-files.com/{self.team_id}-{f.id}-{secrets.token_hex(5)}",
            "has_rich_preview": False,
            "file_access": "visible",
        }
        if f.mode == "external":
            out["external_url"] = f"https://drive.google.com/file/d/{f.id}"
        if f.mode == "snippet":
            lines = f.content.decode("utf-8", "replace").splitlines()
            out |= {
                "edit_link": f"https://{self.team_domain}.slack.com/files/{f.user}/{f.id}/{quoted}/edit",
                "preview": "\n".join(lines[:5]),
                "preview_highlight": "",
                "lines": len(lines),
                "lines_more": max(len(lines) - 5, 0),
                "preview_is_truncated": len(lines) > 5,
            }
        if info:
            kinds: dict[str, list[str]] = {"channels": [], "groups": [], "ims": []}
            for c in f.channels:
                kind = self._channels[c].kind if c in self._channels else "channels"
                kinds["ims" if kind == "im" else kind].append(c)
            out |= kinds
            out["comments_count"] = 0
        return out

    def _bot_sees(self, f: StoredFile) -> bool:
        """Whether the bot may read `f`: shared where the bot is (a channel it is in, its DM)."""
        if f.user == self.bot_user_id:
            return True
        return any(
            c in self._channels and (self._channels[c].bot_is_member or self._channels[c].im_user)
            for c in f.channels
        )

    def _files_info(self, params: dict[str, Any]) -> dict[str, Any]:
        f = self._files.get(str(params.get("file") or ""))
        if f is None or not self._bot_sees(f):
            raise _Refused("file_not_found")
        if f.deleted:
            raise _Refused("file_deleted")
        return {
            "file": self._file_object(f, info=True),
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        }

    def _serve_file(
        self, h: BaseHTTPRequestHandler, path: str, headers: dict[str, str], now: datetime
    ) -> None:
        """A file's `url_private` or `url_private_download`. Without the bot token Slack redirects
        to its sign-in page on the workspace's host (here `localhost`, another host than the
        file's `127.0.0.1`); a file the bot may not see is 403, an unknown or deleted one 404."""
        match = _FILE_PATH.fullmatch(path)
        range_header = headers.get("Range") or headers.get("range")
        status, body, extra = 404, b"<html><body>Not Found</body></html>", {}
        content_type = "text/html; charset=utf-8"
        with self._lock:
            f = self._files.get(match["id"]) if match and match["team"] == self.team_id else None
            fault = self._take_fault("files.download")
            token = _bearer(headers.get("Authorization") or headers.get("authorization"))
        record = {"file": match["id"] if match else None, "range": range_header}
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.drop:
            status = 0
        elif fault is not None and fault.status is not None:
            status, body, content_type = fault.status, (fault.error or "").encode(), "text/plain"
            # A download fault's extras are headers (a `Location` for a redirect).
            extra = {name: str(value) for name, value in fault.extra.items()}
            if fault.retry_after is not None:
                extra["Retry-After"] = f"{int(fault.retry_after)}"
        elif token != self.bot_token:
            port = self.base_url.rsplit(":", 1)[1]
            target = f"http://localhost:{port}/?redir={quote(path, safe='')}"
            status, extra = 302, {"Location": target}
            body = f'<a href="{html.escape(target)}">Found</a>.'.encode()
        elif f is not None and not f.deleted and self._bot_sees(f):
            status, body, content_type = 200, f.content, f.mimetype
            extra["Accept-Ranges"] = "bytes"
            ranged = _RANGE.fullmatch(range_header or "") if self.file_ranges else None
            if ranged is not None:
                status, body, extra = _ranged(f.content, ranged, extra)
        elif f is not None and not f.deleted:
            status, body = 403, b"<html><body>Forbidden</body></html>"
        with self._lock:
            self._calls.append(Call("files.download", record, headers, now, "GET", status, None))
        if status == 0:
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(h, status, content_type, body, extra)

    # -- request handling ------------------------------------------------------------------------

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        split = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        headers = dict(h.headers.items())
        now = self.clock.now()
        if split.path.startswith("/response/"):
            self._serve_response_url(h, split.path.removeprefix("/response/"), raw, headers, now)
            return
        if split.path.startswith("/files-pri/") and h.command == "GET":
            self._serve_file(h, split.path, headers, now)
            return
        if split.path == "/" and h.command == "GET":
            with self._lock:
                self._calls.append(
                    Call("sign_in", dict(parse_qs(split.query)), headers, now, "GET", 200, None)
                )
            self._send(h, 200, "text/html; charset=utf-8", _SIGN_IN_PAGE)
            return
        if not split.path.startswith("/api/"):
            self._send(h, 404, "text/plain", b"Not Found")
            return
        method = split.path.removeprefix("/api/")
        params: dict[str, Any] = {}
        status, extra_headers, answer = self._api(
            h, method, query=split.query, raw=raw, headers=headers, params=params
        )
        with self._lock:
            self._calls.append(Call(method, params, headers, now, h.command, status, answer))
        if status == 0:
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(
            h,
            status,
            "application/json; charset=utf-8",
            json.dumps(answer).encode(),
            extra_headers,
        )

    def _api(
        self,
        h: BaseHTTPRequestHandler,
        method: str,
        *,
        query: str,
        raw: bytes,
        headers: dict[str, str],
        params: dict[str, Any],
    ) -> tuple[int, dict[str, str], Any]:
        """Answer one Web API call: (status, extra headers, JSON body); status 0 when the
        connection was dropped. Fills `params` with what was parsed, for the record."""
        extra: dict[str, str] = {"X-Slack-Req-Id": secrets.token_hex(16)}
        if self.scopes is not None:
            extra["X-OAuth-Scopes"] = ",".join(sorted(self.scopes))
        # The scope the method checks for, as Slack tells it (and the SDKs report).
        if METHOD_SCOPES.get(method):
            extra["X-Accepted-OAuth-Scopes"] = str(METHOD_SCOPES[method])
        warnings: list[str] = []
        try:
            params.update(_parse_params(query, raw, headers.get("Content-Type"), warnings))
        except _Refused as failure:
            return 200, extra, {"ok": False, "error": failure.error}
        token = _bearer(headers.get("Authorization")) or params.get("token")
        if not token:
            return 200, extra, {"ok": False, "error": "not_authed"}
        expected = self.app_token if method in APP_TOKEN_METHODS else self.bot_token
        if token != expected:
            known = token in (self.bot_token, self.app_token)
            error = "not_allowed_token_type" if known else "invalid_auth"
            return 200, extra, {"ok": False, "error": error}
        fault = self._take_fault(method)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.drop:
                # Dropped by `_serve` once the call is recorded: a client retrying at once must
                # not find its retry recorded before the dropped call.
                h.close_connection = True
                return 0, extra, None
            if fault.status is not None or fault.error is not None:
                status = fault.status or 200
                if fault.retry_after is not None:
                    extra["Retry-After"] = f"{int(fault.retry_after)}"
                error = fault.error or ("ratelimited" if status == 429 else "fatal_error")
                return status, extra, {"ok": False, "error": error, **fault.extra}
        handler = self._methods.get(method)
        if handler is None:
            return 404, extra, {"ok": False, "error": "unknown_method", "req_method": method}
        needed = METHOD_SCOPES.get(method)
        if self.scopes is not None and needed is not None and needed not in self.scopes:
            return (
                200,
                extra,
                {
                    "ok": False,
                    "error": "missing_scope",
                    "needed": needed,
                    "provided": ",".join(sorted(self.scopes)),
                },
            )
        try:
            with self._lock:
                answer = {"ok": True, **handler(params)}
        except _Refused as failure:
            answer = {"ok": False, "error": failure.error, **failure.extra}
            return failure.status, extra, answer
        if warnings:
            answer["warning"] = ",".join(warnings)
            answer.setdefault("response_metadata", {})["warnings"] = warnings
        return 200, extra, answer

    def _serve_response_url(
        self,
        h: BaseHTTPRequestHandler,
        url_id: str,
        raw: bytes,
        headers: dict[str, str],
        now: datetime,
    ) -> None:
        body: Any
        try:
            text = raw.decode("utf-8")
            content_type = (headers.get("Content-Type") or "").lower()
            if content_type.startswith("application/x-www-form-urlencoded"):
                text = parse_qs(text).get("payload", [""])[-1]
            body = json.loads(text) if text else None
        except (UnicodeDecodeError, ValueError):
            body = None
        params = body if isinstance(body, dict) else {}
        fault = self._take_fault("response_url")
        status: int
        answer: str
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.drop:
            status, answer = 0, ""
        elif fault is not None and (fault.status is not None or fault.error is not None):
            status, answer = fault.status or 500, fault.error or "rollup_error"
        else:
            with self._lock:
                status, answer = self._respond(url_id, body)
        with self._lock:
            self._calls.append(
                Call(
                    "response_url",
                    {"url_id": url_id, **params},
                    headers,
                    now,
                    "POST",
                    status,
                    answer,
                )
            )
        if status == 0:
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        extra = {}
        if fault is not None and fault.retry_after is not None:
            extra["Retry-After"] = f"{int(fault.retry_after)}"
        self._send(h, status, "text/html", answer.encode(), extra)

    @staticmethod
    def _send(
        h: BaseHTTPRequestHandler,
        status: int,
        content_type: str,
        payload: bytes,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        for name, value in (extra or {}).items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        view = memoryview(payload)
        try:
            # In pieces: a client that stops reading at its limit (a file download) closes the
            # connection.
            for start in range(0, len(view), 65_536):
                h.wfile.write(view[start : start + 65_536])
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True


def _ranged(
    content: bytes, ranged: re.Match[str], extra: dict[str, str]
) -> tuple[int, bytes, dict[str, str]]:
    """One byte range of `content` as HTTP serves it (RFC 9110): 206 with `Content-Range`, or
    416 when no byte of it exists."""
    size = len(content)
    first, last = ranged.group(1), ranged.group(2)
    if not first and not last:
        return 200, content, extra
    if not first:  # the last N bytes
        start, end = max(size - int(last), 0), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end or (not first and int(last) == 0):
        return 416, b"", {**extra, "Content-Range": f"bytes */{size}"}
    return 206, content[start : end + 1], {**extra, "Content-Range": f"bytes {start}-{end}/{size}"}


# -- request parsing ------------------------------------------------------------------------

#: Parameters Slack takes as JSON, which form posts and query strings carry as JSON strings.
_JSON_FIELDS = ("blocks", "attachments", "view", "metadata")


def _parse_params(
    query: str, raw: bytes, content_type: str | None, warnings: list[str]
) -> dict[str, Any]:
    params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    if raw:
        if not content_type:
            raise _Refused("missing_post_type")
        media = content_type.split(";", 1)[0].strip().lower()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise _Refused("invalid_charset") from err
        if media == "application/json":
            if "charset" not in content_type.lower():
                warnings.append("missing_charset")
            try:
                body = json.loads(text)
            except ValueError as err:
                raise _Refused("invalid_json") from err
            if not isinstance(body, dict):
                raise _Refused("json_not_object")
            params.update(body)
        elif media == "application/x-www-form-urlencoded":
            params.update({k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()})
        else:
            raise _Refused("invalid_post_type")
    for name in _JSON_FIELDS:
        value = params.get(name)
        if isinstance(value, str) and value.strip():
            # Not JSON: left as a string, so the method answers `invalid_blocks_format` or similar.
            with contextlib.suppress(ValueError):
                params[name] = json.loads(value)
    return params


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def _truthy(value: Any) -> bool:
    return value is True or value == 1 or str(value).lower() in ("true", "1")


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, micros = ts.partition(".")
    return int(seconds), int(micros or 0)


def _shorten(text: str, limit: int) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


# -- Block Kit checks ------------------------------------------------------------------------


def _text_of(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text") or "")
    return ""


def validate_blocks(blocks: list[Any], *, limit: int, pointer: str = "/blocks") -> list[str]:
    """Slack's checks on a list of blocks (a subset), as its `[ERROR]` messages."""
    problems: list[str] = []
    if len(blocks) > limit:
        problems.append(f"[ERROR] no more than {limit} items allowed [json-pointer:{pointer}]")
    seen_ids: set[str] = set()
    for i, block in enumerate(blocks):
        at = f"{pointer}/{i}"
        if not isinstance(block, dict):
            problems.append(f"[ERROR] must be an object [json-pointer:{at}]")
            continue
        kind = block.get("type")
        if not kind:
            problems.append(f"[ERROR] missing required field: type [json-pointer:{at}]")
            continue
        if kind not in BLOCK_TYPES:
            problems.append(f"[ERROR] unsupported type: {kind} [json-pointer:{at}/type]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if len(str(block_id)) > MAX_BLOCK_ID:
                problems.append(
                    f"[ERROR] must be less than {MAX_BLOCK_ID + 1} characters "
                    f"[json-pointer:{at}/block_id]"
                )
            if block_id in seen_ids:
                problems.append(
                    f"[ERROR] duplicate block_id: {block_id} [json-pointer:{at}/block_id]"
                )
            seen_ids.add(str(block_id))
        if kind == "section":
            if not block.get("text") and not block.get("fields"):
                problems.append(f"[ERROR] must provide either text or fields [json-pointer:{at}]")
            if len(_text_of(block.get("text"))) > MAX_SECTION_TEXT:
                problems.append(
                    f"[ERROR] must be less than {MAX_SECTION_TEXT + 1} characters "
                    f"[json-pointer:{at}/text/text]"
                )
            fields = block.get("fields") or []
            if len(fields) > MAX_FIELDS:
                problems.append(
                    f"[ERROR] no more than {MAX_FIELDS} items allowed [json-pointer:{at}/fields]"
                )
            for j, fld in enumerate(fields):
                if len(_text_of(fld)) > MAX_FIELD_TEXT:
                    problems.append(
                        f"[ERROR] must be less than {MAX_FIELD_TEXT + 1} characters "
                        f"[json-pointer:{at}/fields/{j}/text]"
                    )
        elif kind == "header":
            text = _text_of(block.get("text"))
            if not text:
                problems.append(f"[ERROR] missing required field: text [json-pointer:{at}]")
            elif len(text) > MAX_HEADER_TEXT:
                problems.append(
                    f"[ERROR] must be less than {MAX_HEADER_TEXT + 1} characters "
                    f"[json-pointer:{at}/text/text]"
                )
        elif kind == "context":
            elements = block.get("elements") or []
            if not elements or len(elements) > MAX_CONTEXT_ELEMENTS:
                problems.append(
                    f"[ERROR] must have between 1 and {MAX_CONTEXT_ELEMENTS} items "
                    f"[json-pointer:{at}/elements]"
                )
        elif kind == "actions":
            elements = block.get("elements") or []
            if not elements or len(elements) > MAX_ACTIONS_ELEMENTS:
                problems.append(
                    f"[ERROR] must have between 1 and {MAX_ACTIONS_ELEMENTS} items "
                    f"[json-pointer:{at}/elements]"
                )
        elif kind == "input" and (
            not _text_of(block.get("label")) or not isinstance(block.get("element"), dict)
        ):
            problems.append(f"[ERROR] missing required field: label or element [json-pointer:{at}]")
    return problems


# -- plain rendering -------------------------------------------------------------------------

_MARKUP = re.compile(r"<([^<>]*)>")


def render_text(text: str, names: Mapping[str, str] | None = None) -> str:
    """Slack markup as a person reads it: `<@U1>` → `@name`, `<#C1|x>` → `#x`, `<!here>` →
    `@here`, `<url|label>` → `label (url)`, then `&lt;`, `&gt;`, `&amp;` unescaped, so text the
    bot escaped shows as the literal characters and only real markup turns into mentions."""
    names = names or {}

    def sub(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return "@" + (names.get(target[1:]) or label or target[1:])
        if target.startswith("#"):
            return "#" + (label or names.get(target[1:]) or target[1:])
        if target.startswith("!subteam^"):
            group = target.removeprefix("!subteam^")
            return label or "@" + names.get(group, group)
        if target.startswith("!date^"):
            return label or target
        if target.startswith("!"):
            return "@" + target[1:]
        return f"{label} ({target})" if label else target

    return html.unescape(_MARKUP.sub(sub, text)) if "<" in text else html.unescape(text)


def _element_label(element: Mapping[str, Any], names: Mapping[str, str]) -> str:
    kind = element.get("type")
    if kind in ("plain_text", "mrkdwn"):
        return render_text(_text_of(element), names)
    if kind == "image":
        return f"[image: {element.get('alt_text', '')}]"
    if kind == "button":
        return f"[{_text_of(element.get('text'))}]"
    if kind == "overflow":
        return "[…]"
    placeholder = _text_of(element.get("placeholder"))
    initial = element.get("initial_value") or _text_of(
        (element.get("initial_option") or {}).get("text")
    )
    # A placeholder is greyed out in Slack: shown as a hint, never as if it had been entered.
    shown = initial or (f"e.g. {placeholder}" if placeholder else "") or "_____"
    return f"[{shown} ▾]" if "select" in str(kind) else f"[{shown}]"


def _rich_text(elements: Iterable[Any], names: Mapping[str, str]) -> str:
    out: list[str] = []
    for el in elements:
        if not isinstance(el, dict):
            continue
        kind = el.get("type")
        if kind == "text":
            out.append(str(el.get("text", "")))
        elif kind == "link":
            out.append(str(el.get("text") or el.get("url", "")))
        elif kind == "user":
            out.append("@" + names.get(str(el.get("user_id")), str(el.get("user_id"))))
        elif kind == "channel":
            out.append("#" + names.get(str(el.get("channel_id")), str(el.get("channel_id"))))
        elif kind == "usergroup":
            out.append("@" + names.get(str(el.get("usergroup_id")), str(el.get("usergroup_id"))))
        elif kind == "broadcast":
            out.append("@" + str(el.get("range", "")))
        elif kind == "emoji":
            out.append(f":{el.get('name', '')}:")
        elif kind == "rich_text_section":
            out.append(_rich_text(el.get("elements") or [], names))
        elif kind == "rich_text_preformatted":
            out.append("```" + _rich_text(el.get("elements") or [], names) + "```")
        elif kind == "rich_text_quote":
            out.append("> " + _rich_text(el.get("elements") or [], names))
        elif kind == "rich_text_list":
            items = [_rich_text([item], names) for item in el.get("elements") or []]
            out.append("\n".join(f"• {item}" for item in items))
    return "".join(out) if all("\n" not in o for o in out) else "\n".join(out)


def render_blocks(
    blocks: Iterable[Mapping[str, Any]], names: Mapping[str, str] | None = None
) -> list[str]:
    """Blocks as the plain lines a person reads: section text and fields, headers, context,
    buttons as `[Label]`, inputs, images as their alt text."""
    names = names or {}
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "section":
            if block.get("text"):
                lines += render_text(_text_of(block["text"]), names).splitlines()
            for fld in block.get("fields") or []:
                lines += render_text(_text_of(fld), names).splitlines()
            accessory = block.get("accessory")
            if isinstance(accessory, dict):
                lines.append(_element_label(accessory, names))
        elif kind == "header":
            lines.append(f"# {render_text(_text_of(block.get('text')), names)}")
        elif kind == "divider":
            lines.append("---")
        elif kind == "context":
            parts = [_element_label(e, names) for e in block.get("elements") or []]
            lines += "  ".join(parts).splitlines()
        elif kind == "actions":
            lines.append(" ".join(_element_label(e, names) for e in block.get("elements") or []))
        elif kind == "input":
            element = block.get("element") or {}
            label = render_text(_text_of(block.get("label")), names)
            lines.append(f"{label}: {_element_label(element, names)}")
        elif kind == "image":
            lines.append(f"[image: {block.get('alt_text', '')}]")
        elif kind == "markdown":
            lines += render_text(str(block.get("text", "")), names).splitlines()
        elif kind == "rich_text":
            lines += _rich_text(block.get("elements") or [], names).splitlines()
        else:
            lines.append(f"[{kind}]")
    return lines


def render_attachments(
    attachments: Iterable[Mapping[str, Any]], names: Mapping[str, str] | None = None
) -> list[str]:
    names = names or {}
    lines: list[str] = []
    for att in attachments:
        for key in ("pretext", "title", "text"):
            if att.get(key):
                lines += render_text(str(att[key]), names).splitlines()
        for fld in att.get("fields") or []:
            lines.append(f"{fld.get('title', '')}: {render_text(str(fld.get('value', '')), names)}")
        lines += render_blocks(att.get("blocks") or [], names)
        if not lines and att.get("fallback"):
            lines.append(render_text(str(att["fallback"]), names))
    return [f"| {line}" for line in lines]
