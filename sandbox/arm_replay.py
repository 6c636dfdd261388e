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
request (method, path, query, JSON body, headers, and its kind as the emulator names it).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox.arm_emulator import ArmEmulator, RecordedRequest
from sandbox.loopback import LoopbackServer, reply

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


def load_recording(path: Path) -> dict[str, dict[str, Any]]:
    """A recording's interactions by name."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {i["name"]: i for i in data["interactions"]}


def path_of(interaction: dict[str, Any]) -> str:
    """The path of a recorded request, without its query."""
    return urlsplit(interaction["request"]["uri"]).path


class ArmReplay(LoopbackServer):
    """The replay server; `start()` returns `(base_url, ca_path)`, or use it as a context
    manager."""

    thread_name = "arm-replay"

    def __init__(self, exchanges: Iterable[Exchange]) -> None:
        super().__init__()
        self._script = list(exchanges)
        self._next = 0
        self.received: list[RecordedRequest] = []
        self.mismatches: list[str] = []
        self._lock = threading.Lock()

    @property
    def remaining(self) -> int:
        """Expected exchanges not yet played."""
        with self._lock:
            return len(self._script) - self._next

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

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        split = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        with self._lock:
            self.received.append(
                RecordedRequest(
                    h.command,
                    split.path,
                    {k: v[-1] for k, v in parse_qs(split.query).items()},
                    json.loads(raw) if raw else None,
                    dict(h.headers.items()),
                    ArmEmulator.classify(h.command, split.path)[0],
                )
            )
        status, headers, body = self._answer(h.command, split.path)
        # ARM sends compact JSON; a recording with no body is answered with none.
        payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        reply(h, status, headers, payload)
