"""Recorded live ARM answers served again over loopback HTTPS, in order, for replay tests.

A recording (`tests/recordings/arm/*.json`, vendored from the Azure CLI's and Azure PowerShell's
public test recordings) holds `interactions`: a request (method, URI, body) and the response ARM
gave (status, headers, body). `ArmReplay` is given the exchanges a test expects, each an expected
method and path with the recorded response to give, and answers the requests it receives with
those responses, one after the other: the status, the recorded headers (with
`https://management.azure.com` rewritten to the replay's own address, so an `Azure-AsyncOperation`
URL is polled here) and the body. The query string (the API version) is not compared: the
recordings were made with older API versions than the SDK sends. A request that is not the next
expected one is answered 500 `ReplayMismatch` and listed in `mismatches`; `received` keeps every
request (method, path, query, JSON body, headers).
"""

from __future__ import annotations

import json
import ssl
import tempfile
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme

from sandbox.arm_emulator import HOST, _TlsServer

ARM = "https://management.azure.com"
#: Recorded headers the replay does not repeat: the transport's own, computed again here.
_TRANSPORT = frozenset({"content-length", "transfer-encoding", "connection", "date"})


@dataclass(frozen=True)
class Recorded:
    """One recorded response: status, headers as recorded, JSON body (None for no body)."""

    status: int
    headers: dict[str, str]
    body: Any

    @classmethod
    def of(cls, interaction: dict[str, Any]) -> Recorded:
        response = interaction["response"]
        return cls(int(response["status"]), dict(response["headers"]), response["body"])


@dataclass(frozen=True)
class Exchange:
    """A request the replay expects next (method, path) and the recorded answer it gives."""

    method: str
    path: str
    response: Recorded


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]


def load_recording(path: Path) -> dict[str, dict[str, Any]]:
    """A recording's interactions by name."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {i["name"]: i for i in data["interactions"]}


def path_of(interaction: dict[str, Any]) -> str:
    """The path of a recorded request, without its query."""
    return urlsplit(interaction["request"]["uri"]).path


class ArmReplay:
    """The replay server; `start()` returns `(base_url, ca_path)`, or use it as a context
    manager."""

    def __init__(self, exchanges: Iterable[Exchange]) -> None:
        self._script = list(exchanges)
        self._next = 0
        self.received: list[ReceivedRequest] = []
        self.mismatches: list[str] = []
        self._lock = threading.Lock()
        self._server: _TlsServer | None = None
        self._thread: threading.Thread | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.base_url = ""
        self.ca_path = ""

    @property
    def remaining(self) -> int:
        """Expected exchanges not yet played."""
        with self._lock:
            return len(self._script) - self._next

    def start(self) -> tuple[str, str]:
        ca = trustme.CA()
        self._tmp = tempfile.TemporaryDirectory(prefix="arm-replay-")
        ca_path = Path(self._tmp.name, "ca.pem")
        ca.cert_pem.write_to_path(str(ca_path))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(HOST, "localhost").configure_cert(context)
        handler = type("Handler", (_Handler,), {"replay": self})
        self._server = _TlsServer((HOST, 0), handler, context)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="arm-replay",
            daemon=True,
        )
        self._thread.start()
        self.base_url = f"https://{HOST}:{self._server.server_address[1]}"
        self.ca_path = str(ca_path)
        return self.base_url, self.ca_path

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> ArmReplay:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _answer(self, method: str, path: str) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            expected = self._script[self._next] if self._next < len(self._script) else None
            if (
                expected is None
                or expected.method != method
                or expected.path.lower() != path.lower()
            ):
                want = f"{expected.method} {expected.path}" if expected else "nothing more"
                self.mismatches.append(f"got {method} {path}, expected {want}")
                return 500, {}, {"error": {"code": "ReplayMismatch", "message": want}}
            self._next += 1
        recorded = expected.response
        headers = {
            name: value.replace(ARM, self.base_url)
            for name, value in recorded.headers.items()
            if name.lower() not in _TRANSPORT
        }
        return recorded.status, headers, recorded.body

    def _serve(self, h: _Handler) -> None:
        split = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        with self._lock:
            self.received.append(
                ReceivedRequest(
                    h.command,
                    split.path,
                    {k: v[-1] for k, v in parse_qs(split.query).items()},
                    json.loads(raw) if raw else None,
                    dict(h.headers.items()),
                )
            )
        status, headers, body = self._answer(h.command, split.path)
        # ARM sends compact JSON; a recording with no body is answered with none.
        payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        h.send_response(status)
        for name, value in headers.items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(payload)))
        h.end_headers()
        h.wfile.write(payload)


class _Handler(BaseHTTPRequestHandler):
    replay: ArmReplay
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self.replay._serve(self)

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass
