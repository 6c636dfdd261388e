"""`python -m bot socket`: the bot over Slack's Socket Mode, with its queue worker and its sweep in
the same process, for a team trying it in a workspace without a public URL or the Functions host.

Only the transport changes. The Bolt app is `create_app`'s (same listeners, same acks, same
one-workspace guard), connected by Bolt's own `SocketModeHandler` on slack_sdk's built-in
WebSocket client (no extra package). Jobs still go through the Storage queue (Azurite locally)
and are run by the same bus (`bot.bus`), drained by `services.azure.queue_drain` (built in
`services.bootstrap`) with host.json's retries and poison queue; the poison queue is drained
too, so the person who asked is told. The sweep runs every `--sweep-every` seconds instead of on
the Function app's NCRONTAB schedule.

Ctrl-C or SIGTERM closes the socket, stops the sweep and the drains, and waits for the jobs in
hand. Exit codes: 0 after such a stop, 1 when Slack cannot be reached, 2 for a usage or
configuration error (a one-line message on stderr): settings that do not validate, no bot token
or signing secret, no app-level token or one that is not `xapp-…`, or one Slack refuses.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import ValidationError

from services.domain.errors import Unavailable

if TYPE_CHECKING:
    from slack_bolt import BoltRequest, BoltResponse
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    from slack_sdk.socket_mode.client import BaseSocketModeClient
    from slack_sdk.socket_mode.request import SocketModeRequest

    from bot.runtime import Runtime
    from services.azure.queue_drain import QueueDrain, QueueOptions
    from services.settings import Settings

logger = logging.getLogger(__name__)

APP_TOKEN_PREFIX = "xapp-"
#: The Function app's default sweep schedule, `0 */5 * * * *`, as an interval.
DEFAULT_SWEEP_SECONDS = 300.0
_OTHER_TOKENS = {
    "xoxb-": "a bot token (xoxb-…)",
    "xoxp-": "a user token (xoxp-…)",
    "xoxe": "a configuration token (xoxe…)",
}
#: Seconds between the client's pings; Bolt's default for its Socket Mode handler.
PING_INTERVAL = 10.0


class SocketModeError(Exception):
    """The connection to Slack could not be made; the message is for a person."""


def add_commands(commands: Any) -> None:
    """Add `socket` to the command line's subparsers."""
    cmd = commands.add_parser(
        "socket",
        help="run the bot over Slack's Socket Mode, with the queue worker in this process",
        description="Connect the bot to Slack over Socket Mode (no public URL, no Functions "
        "host): answer Slack, run the queued jobs and the sweep in this process until Ctrl-C. "
        "Settings come from the environment as for the Function app, plus the app-level token "
        "ACRBOT_SLACK_APP_TOKEN (xapp-…, scope connections:write).",
    )
    cmd.add_argument(
        "--sweep-every",
        type=_seconds,
        default=DEFAULT_SWEEP_SECONDS,
        metavar="SECONDS",
        help="run the sweep (expiries, lapses, reminders) every SECONDS; 0: never "
        f"(default {DEFAULT_SWEEP_SECONDS:g}, the Function app's five minutes)",
    )
    cmd.set_defaults(handler=_cmd_socket, prog=cmd.prog)


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not (math.isfinite(seconds) and seconds >= 0):
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}")
    return seconds


# -- the runner ---------------------------------------------------------------------------------


class SocketModeRunner:
    """The socket, the job and poison drains and the sweep timer of one process."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        app_token: str,
        sweep_every: float = DEFAULT_SWEEP_SECONDS,
        queue_options: QueueOptions | None = None,
        ping_interval: float = PING_INTERVAL,
    ) -> None:
        self._rt = runtime
        self._app_token = app_token
        self._sweep_every = sweep_every
        self._options = queue_options  # None: host.json's, as the Function app runs
        self._ping_interval = ping_interval
        self._handler: SocketModeHandler | None = None
        self._drains: list[QueueDrain] = []
        self._sweeper: threading.Thread | None = None
        self._stopping = threading.Event()
        self._stopped = False
        self._mutex = threading.Lock()
        self.sweeps = 0

    @property
    def jobs(self) -> QueueDrain:
        """The job queue's drain (started by `start`)."""
        return self._drains[0]

    @property
    def poison(self) -> QueueDrain:
        return self._drains[1]

    def start(self) -> None:
        """Start the drains, connect to Slack, then start the sweep.

        The drains come first so that storage that cannot be reached stops the start before any
        Slack request is acknowledged. Raises `SlackApiError` when Slack refuses the app-level
        token and `SocketModeError` when the queue or the socket cannot be opened; nothing is
        left running then.
        """
        try:
            self._start_drains()
            self._connect()
        except BaseException:
            self.stop()
            raise
        if self._sweep_every > 0:
            self._sweeper = threading.Thread(target=self._sweep_loop, name="sweep", daemon=True)
            self._sweeper.start()

    def _start_drains(self) -> None:
        from services.bootstrap import build_queue_drains

        settings, bus = self._rt.settings, self._rt.bus
        self._drains = build_queue_drains(
            settings,
            jobs=lambda text, ref: bus.handle(text, reference=ref),
            poison=lambda text, ref: bus.poisoned(text, reference=ref),
            options=self._options,
        )
        logger.info("opening the job queue %s", settings.queue_name)
        try:
            for drain in self._drains:
                drain.start()
        except Unavailable as exc:
            raise SocketModeError(exc.message) from exc

    def _connect(self) -> None:
        self._handler = _handler(self._rt, self._app_token, self._ping_interval)
        self._handler.client.connect()
        # The built-in client logs a failed handshake instead of raising it.
        if not self._handler.client.is_connected():
            raise SocketModeError("cannot open the Socket Mode connection to Slack (see the log)")

    def _sweep_loop(self) -> None:
        # Like the Function app's timer (run_on_startup=False): the first sweep after one period.
        while not self._stopping.wait(self._sweep_every):
            try:
                self._rt.sweep()
            except Exception:
                logger.exception("the sweep failed; it runs again in %g s", self._sweep_every)
            with self._mutex:
                self.sweeps += 1

    def stop(self) -> None:
        """Close the socket (no new jobs), stop the sweep, then the drains after the jobs in
        hand. Idempotent."""
        with self._mutex:
            if self._stopped:
                return
            self._stopped = True
        self._stopping.set()
        if self._handler is not None:
            client = self._handler.client
            # The client's message loop waits up to a second on its queue before it looks at
            # `closed` again; an empty message wakes it, so closing takes no second.
            client.closed = True
            client.message_queue.put(None)
            client.close()
        if self._sweeper is not None:
            self._sweeper.join()
        for drain in self._drains:
            drain.stop()

    def __enter__(self) -> SocketModeRunner:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler(runtime: Runtime, app_token: str, ping_interval: float) -> SocketModeHandler:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    app = runtime.make_app()

    class Handler(SocketModeHandler):
        def handle(self, client: BaseSocketModeClient, req: SocketModeRequest) -> None:
            _acknowledge(client, req, self.app.dispatch(bolt_request(req)))

    return Handler(app, app_token, ping_interval=ping_interval)


def bolt_request(req: SocketModeRequest) -> BoltRequest:
    """The envelope as Bolt's own Socket Mode adapter builds it, plus a delivery id.

    `bot.front.request_key` takes the delivery id of a command or an interaction from its
    `X-Slack-Signature`. Socket Mode has no signatures, so every command would share one key and
    only the first would ever be answered; the envelope id is unique to a delivery, as the
    signature is over HTTP. Bolt skips signature checks in Socket Mode, so nothing else reads it.
    """
    from slack_bolt import BoltRequest

    headers: dict[str, str | Sequence[str]] = {"x-slack-signature": f"socket:{req.envelope_id}"}
    if req.retry_attempt is not None:
        headers["x-slack-retry-num"] = str(req.retry_attempt)
    if req.retry_reason is not None:
        headers["x-slack-retry-reason"] = req.retry_reason
    return BoltRequest(mode="socket_mode", body=req.payload, headers=headers)


def _acknowledge(client: BaseSocketModeClient, req: SocketModeRequest, resp: BoltResponse) -> None:
    from slack_sdk.socket_mode.response import SocketModeResponse

    if resp.status != 200:
        # Over HTTP Slack would get this status (403 for a foreign workspace). Socket Mode has no
        # status: an envelope left unacknowledged is Slack's failed delivery.
        logger.info("not acknowledged (%s): %s", resp.status, resp.body)
        return
    payload: dict[str, Any] | None = None
    if resp.body:
        content_type = next(iter(resp.headers.get("content-type", [])), "")
        if content_type.startswith("application/json"):
            payload = json.loads(resp.body)
        else:
            payload = {"text": resp.body}
    client.send_socket_mode_response(
        SocketModeResponse(envelope_id=req.envelope_id, payload=payload)
    )


# -- the command ---------------------------------------------------------------------------------


def _cmd_socket(args: argparse.Namespace) -> int:
    return socket_command(args, sys.stderr)


def socket_command(args: argparse.Namespace, err: TextIO) -> int:
    """Run until Ctrl-C or SIGTERM; the exit code."""
    from slack_sdk.errors import SlackApiError

    from bot.runtime import Runtime
    from services.settings import Settings

    prog: str = args.prog

    def fail(message: str, code: int = 2) -> int:
        print(f"{prog}: error: {message}", file=err)
        return code

    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        return fail(f"invalid setting {where}: {first['msg']}")
    problem = configuration_problem(settings)
    if problem:
        return fail(problem)

    _configure_logging()
    runner = SocketModeRunner(
        Runtime(settings),
        app_token=settings.slack_app_token.get_secret_value().strip(),
        sweep_every=args.sweep_every,
    )
    stop = threading.Event()
    with _stop_on_signals(stop):
        try:
            runner.start()
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            return fail(f"Slack refused a connection for ACRBOT_SLACK_APP_TOKEN: {error}")
        except SocketModeError as exc:
            return fail(str(exc), code=1)
        except OSError as exc:  # the Web API call for the socket's URL
            return fail(f"cannot reach Slack: {exc}", code=1)
        try:
            every = f"every {args.sweep_every:g} s" if args.sweep_every else "off"
            print(
                f"{prog}: connected over Socket Mode; jobs from queue {settings.queue_name}; "
                f"sweep {every}. Ctrl-C stops.",
                file=err,
            )
            stop.wait()
            print(f"{prog}: stopping after the jobs in hand…", file=err)
        finally:
            runner.stop()
    print(f"{prog}: stopped", file=err)
    return 0


def configuration_problem(settings: Settings) -> str | None:
    """What keeps Socket Mode from starting with these settings, in one line; None: nothing."""
    app_token = settings.slack_app_token.get_secret_value().strip()
    if not app_token:
        return (
            "ACRBOT_SLACK_APP_TOKEN is not set: create an app-level token with the scope "
            "connections:write (the Slack app's Basic Information page)"
        )
    if not app_token.startswith(APP_TOKEN_PREFIX):
        other = next(
            (kind for prefix, kind in _OTHER_TOKENS.items() if app_token.startswith(prefix)), None
        )
        return "ACRBOT_SLACK_APP_TOKEN is not an app-level token (xapp-…)" + (
            f" but {other}" if other else ""
        )
    if not settings.slack_bot_token.get_secret_value().strip():
        return "ACRBOT_SLACK_BOT_TOKEN is not set: the bot answers with its bot token (xoxb-…)"
    if not settings.slack_signing_secret.get_secret_value().strip():
        # Socket Mode requests carry no signature, but the bot's buttons carry values sealed
        # with this secret (`bot.signing`); an empty key would make them forgeable.
        return (
            "ACRBOT_SLACK_SIGNING_SECRET is not set: the bot seals its buttons' values with it "
            "(the Slack app's Basic Information page)"
        )
    return None


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # The Azure SDKs log every HTTP request at INFO: one line per queue poll.
    logging.getLogger("azure").setLevel(logging.WARNING)


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Ctrl-C and SIGTERM set `stop` instead of raising in the middle of a job."""

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
