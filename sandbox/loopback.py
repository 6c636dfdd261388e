"""The server every HTTP stand-in runs on: 127.0.0.1, a free port, a thread per request, over
HTTPS with a throw-away CA (`trustme`) or plain HTTP.

A stand-in subclasses `LoopbackServer` and answers each request in `_serve(handler)`; `start()`
returns `(base_url, ca_path)` (`ca_path` empty without TLS), `stop()` ends it, or use it as a
context manager.
"""

from __future__ import annotations

import ssl
import tempfile
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, Self

import trustme

HOST = "127.0.0.1"


class LoopbackServer:
    """A stand-in's server; subclasses set `tls` and `thread_name` and implement `_serve`."""

    tls: ClassVar[bool] = True
    thread_name: ClassVar[str] = "loopback"

    def __init__(self) -> None:
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.base_url = ""
        self.ca_path = ""

    def start(self) -> tuple[str, str]:
        context: ssl.SSLContext | None = None
        if self.tls:
            ca = trustme.CA()
            self._tmp = tempfile.TemporaryDirectory(prefix=f"{self.thread_name}-")
            ca_path = Path(self._tmp.name, "ca.pem")
            ca.cert_pem.write_to_path(str(ca_path))
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert(HOST, "localhost").configure_cert(context)
            self.ca_path = str(ca_path)
        handler = type("Handler", (_Handler,), {"owner": self})
        self._server = _Server((HOST, 0), handler, context)
        # A short poll interval: `shutdown()` waits for the loop's next poll (0.5 s by default).
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        scheme = "https" if self.tls else "http"
        self.base_url = f"{scheme}://{HOST}:{self._server.server_address[1]}"
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

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError


def reply(
    h: BaseHTTPRequestHandler, status: int, headers: Mapping[str, str], payload: bytes
) -> None:
    """Send one whole answer: status, headers, `Content-Length` and the payload."""
    h.send_response(status)
    for name, value in headers.items():
        h.send_header(name, value)
    h.send_header("Content-Length", str(len(payload)))
    h.end_headers()
    h.wfile.write(payload)


class _Handler(BaseHTTPRequestHandler):
    owner: LoopbackServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, each answer waits ~40 ms for
    # the client's delayed ACK.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self.owner._serve(self)

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    """With TLS, it is negotiated in each request's thread so one slow handshake cannot stall
    the rest."""

    daemon_threads = True
    # Tests open twenty connections at once; the default backlog of 5 would refuse some.
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        context: ssl.SSLContext | None,
    ) -> None:
        super().__init__(address, handler)
        self._context = context

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self._context is None:
            super().finish_request(request, client_address)
            return
        try:
            tls = self._context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        try:
            super().finish_request(tls, client_address)
        except (OSError, ssl.SSLError):
            pass
        finally:
            tls.close()
