"""A loopback Slack Socket Mode server for tests: the WebSocket side of Slack that
`python -m bot socket` connects to, speaking Socket Mode's wire format over `websockets`.

How an app reaches it, as it reaches Slack: it calls `apps.connections.open` with its app-level
token on the `SlackEmulator` this server is attached to, and gets
`ws://127.0.0.1:PORT/link/?ticket=…&app_id=…`. Each URL opens one connection: a ticket used before
or never issued is refused at the handshake (HTTP 401; Slack documents no status for it).

What it reproduces:
- `hello` on every new connection: `{"type": "hello", "num_connections", "debug_info": {"host",
  "build_number", "approximate_connection_time"}, "connection_info": {"app_id"}}`.
- Envelopes (`send`, `deliver`): `{"envelope_id", "type": "slash_commands" | "interactive" |
  "events_api", "payload", "accepts_response_payload"}`, Events API ones with `retry_attempt`
  and `retry_reason`. `accepts_response_payload` is true for slash commands and for the
  interactions Slack takes an answer from (`view_submission`, `block_suggestion`), false
  otherwise. A payload is what Slack would have posted over HTTP: a slash command's form
  fields as a JSON object, an interaction's `payload` object, an event callback.
- Acks: every text frame the app sends is kept (`received`); one naming an envelope id is that
  envelope's ack, `{"envelope_id", "payload"?}` (`ack`, `wait_ack`).
- `disconnect(reason)`: `{"type": "disconnect", "reason", "debug_info": {"host"}}` on the open
  connections (`warning`, `refresh_requested`, `too_many_websockets`, `link_disabled`); the app
  is expected to open a new connection, and the old one is closed when `close_after` is set.
- Slack's own keep-alive: WebSocket pings (every `ping_interval` seconds), and pongs to the
  app's pings (websockets does both).

Approximations: an envelope goes to the connection opened last (Slack picks any open one); an
envelope left unacknowledged is not redelivered by itself: a test sends the retry it wants
(`send(request)` with a request from `SlackClient.retried`, or `deliver(..., retry_attempt=1)`).
"""

from __future__ import annotations

import contextlib
import http
import itertools
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from sandbox.slack_client import SlackRequest
from sandbox.slack_emulator import SlackEmulator

HOST = "127.0.0.1"
DEBUG_HOST = "applink-emulator"
BUILD_NUMBER = 1
#: Seconds Slack keeps a connection before asking for a new one (its `hello` says ~5 hours).
CONNECTION_TIME = 18_060

#: Envelope types, and where `SlackClient` requests map to them.
SLASH_COMMANDS, INTERACTIVE, EVENTS_API = "slash_commands", "interactive", "events_api"
_KINDS = {
    "slash_command": SLASH_COMMANDS,
    "event_callback": EVENTS_API,
    "block_actions": INTERACTIVE,
    "view_submission": INTERACTIVE,
    "view_closed": INTERACTIVE,
    "message_action": INTERACTIVE,
    "shortcut": INTERACTIVE,
}
#: Interactions whose ack may carry an answer (`response_action`, options).
_ANSWERED = frozenset({"view_submission", "block_suggestion"})


@dataclass
class Link:
    """One WebSocket connection an app opened."""

    number: int
    ticket: str
    socket: ServerConnection
    closed: bool = False


class SocketModeServer:
    """The server; `start()` (or a `with` block) listens on 127.0.0.1 and attaches it to the
    emulator's `apps.connections.open`."""

    def __init__(
        self,
        emulator: SlackEmulator | None = None,
        *,
        app_id: str | None = None,
        ping_interval: float | None = 20.0,
    ) -> None:
        self.emulator = emulator
        #: Seconds between the server's pings (None: none). slack_sdk's built-in client closes
        #: only once its receive loop wakes, up to 3 s later; frequent pings wake it sooner.
        self.ping_interval = ping_interval
        self.app_id = app_id or (emulator.app_id if emulator else "A0APP")
        self.port = 0
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._changed = threading.Condition()
        self._tickets: set[str] = set()
        self._tickets_of: dict[int, str] = {}
        self._links: list[Link] = []
        self._numbers = itertools.count(1)
        self._envelopes: dict[str, dict[str, Any]] = {}
        self._acks: dict[str, dict[str, Any]] = {}
        #: Every text frame the app sent, decoded when it was JSON, in order.
        self.received: list[Any] = []
        #: Handshakes refused (unknown or reused ticket), by path.
        self.refused: list[str] = []

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> str:
        """Listen; returns the base URL (`ws://127.0.0.1:PORT`)."""
        self._server = serve(
            self._serve,
            HOST,
            0,
            process_request=self._handshake,
            compression=None,
            open_timeout=5,
            close_timeout=1,
            ping_interval=self.ping_interval,
        )
        self.port = int(self._server.socket.getsockname()[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="socket-mode-server", daemon=True
        )
        self._thread.start()
        if self.emulator is not None:
            self.emulator.socket_mode_url = self.connection_url
        return self.base_url

    def stop(self) -> None:
        if self.emulator is not None and self.emulator.socket_mode_url == self.connection_url:
            self.emulator.socket_mode_url = None
        if self._server is not None:
            self._server.shutdown()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SocketModeServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"ws://{HOST}:{self.port}"

    def connection_url(self) -> str:
        """A new single-use URL, as `apps.connections.open` hands out."""
        ticket = str(uuid.uuid4())
        with self._changed:
            self._tickets.add(ticket)
        return f"{self.base_url}/link/?ticket={ticket}&app_id={self.app_id}"

    # -- the WebSocket side ----------------------------------------------------------------------

    def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        split = urlsplit(request.path)
        ticket = parse_qs(split.query).get("ticket", [""])[-1]
        with self._changed:
            if split.path == "/link/" and ticket in self._tickets:
                self._tickets.discard(ticket)
                self._tickets_of[id(connection)] = ticket
                return None
            self.refused.append(request.path)
        return connection.respond(http.HTTPStatus.UNAUTHORIZED, "invalid ticket\n")

    def _serve(self, socket: ServerConnection) -> None:
        with self._changed:
            link = Link(next(self._numbers), self._tickets_of.pop(id(socket), ""), socket)
            self._links.append(link)
            open_now = sum(1 for lk in self._links if not lk.closed)
            self._changed.notify_all()
        hello = {
            "type": "hello",
            "num_connections": open_now,
            "debug_info": {
                "host": DEBUG_HOST,
                "build_number": BUILD_NUMBER,
                "approximate_connection_time": CONNECTION_TIME,
            },
            "connection_info": {"app_id": self.app_id},
        }
        try:
            socket.send(json.dumps(hello))
            for frame in socket:
                self._receive(frame)
        except ConnectionClosed:
            pass  # the app went away without a close frame: slack_sdk's built-in client does
        finally:
            with self._changed:
                link.closed = True
                self._changed.notify_all()

    def _receive(self, frame: str | bytes) -> None:
        text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
        try:
            message: Any = json.loads(text)
        except ValueError:
            message = text
        with self._changed:
            self.received.append(message)
            if isinstance(message, dict) and message.get("envelope_id") in self._envelopes:
                self._acks.setdefault(str(message["envelope_id"]), message)
            self._changed.notify_all()

    # -- what Slack sends ------------------------------------------------------------------------

    def deliver(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        envelope_id: str | None = None,
    ) -> str:
        """Send one envelope on the newest open connection; returns its `envelope_id`."""
        if kind not in (SLASH_COMMANDS, INTERACTIVE, EVENTS_API):
            raise ValueError(f"not a Socket Mode envelope type: {kind!r}")
        if accepts_response_payload is None:
            accepts_response_payload = kind == SLASH_COMMANDS or (
                kind == INTERACTIVE and payload.get("type") in _ANSWERED
            )
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id or str(uuid.uuid4()),
            "payload": dict(payload),
            "type": kind,
            "accepts_response_payload": accepts_response_payload,
        }
        if kind == EVENTS_API:
            envelope |= {"retry_attempt": retry_attempt, "retry_reason": retry_reason}
        link = self._newest()
        with self._changed:
            self._envelopes[envelope["envelope_id"]] = envelope
        link.socket.send(json.dumps(envelope))
        return str(envelope["envelope_id"])

    def send(self, request: SlackRequest) -> str:
        """What Slack would have posted over HTTP (a request built by `SlackClient`), sent as an
        envelope instead; a retried event (`SlackClient.retried`) keeps its retry number and
        reason. Headers and signatures play no part in Socket Mode."""
        kind = _KINDS.get(request.kind)
        if kind is None:
            raise ValueError(f"Slack sends no {request.kind!r} over Socket Mode")
        retry = {k.lower(): v for k, v in request.headers.items()}
        return self.deliver(
            kind,
            request.payload,
            retry_attempt=int(retry.get("x-slack-retry-num", 0)),
            retry_reason=retry.get("x-slack-retry-reason", ""),
        )

    def disconnect(self, reason: str = "refresh_requested", *, close_after: bool = False) -> None:
        """Tell every open connection to go away; with `close_after`, close them once the app has
        opened a newer one, as Slack does after a refresh."""
        message = json.dumps(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": DEBUG_HOST}}
        )
        with self._changed:
            links = [lk for lk in self._links if not lk.closed]
        for link in links:
            with contextlib.suppress(ConnectionClosed):
                link.socket.send(message)
        if close_after and links:
            newest = max(lk.number for lk in links)
            self.wait_for(lambda: any(lk.number > newest and not lk.closed for lk in self._links))
            for link in links:
                link.socket.close()

    # -- inspection ------------------------------------------------------------------------------

    @property
    def links(self) -> list[Link]:
        """Every connection opened, oldest first."""
        with self._changed:
            return list(self._links)

    def open_links(self) -> list[Link]:
        with self._changed:
            return [lk for lk in self._links if not lk.closed]

    def envelope(self, envelope_id: str) -> dict[str, Any]:
        with self._changed:
            return dict(self._envelopes[envelope_id])

    def ack(self, envelope_id: str) -> dict[str, Any] | None:
        """The app's ack of an envelope, or None while there is none."""
        with self._changed:
            return self._acks.get(envelope_id)

    def wait_ack(self, envelope_id: str, timeout: float = 30.0) -> dict[str, Any]:
        self.wait_for(lambda: envelope_id in self._acks, timeout=timeout)
        with self._changed:
            return self._acks[envelope_id]

    def wait_for_links(self, count: int, timeout: float = 30.0) -> list[Link]:
        """Wait until `count` connections were opened in all; returns them."""
        self.wait_for(lambda: len(self._links) >= count, timeout=timeout)
        return self.links

    def wait_for(self, condition: Callable[[], bool], timeout: float = 30.0) -> None:
        """Wait until `condition()` (checked under the server's lock) holds; TimeoutError when
        it does not within `timeout` seconds."""
        with self._changed:
            if not self._changed.wait_for(condition, timeout=timeout):
                raise TimeoutError(f"socket mode server: gave up waiting after {timeout} s")

    def _newest(self) -> Link:
        def ready() -> bool:
            return any(not lk.closed for lk in self._links)

        self.wait_for(ready, timeout=10.0)
        with self._changed:
            return max((lk for lk in self._links if not lk.closed), key=lambda lk: lk.number)
