"""The Azure Functions ⇄ Bolt adapter, shaped like Bolt's own AWS Lambda and Google Cloud
Functions adapters: `SlackRequestHandler.handle()` plus two pure converters.

Bolt ships no Azure Functions adapter. This one hands Bolt the raw body as text (Bolt verifies
the signature over exactly those bytes), the headers and the query string, and turns Bolt's
answer back into an `HttpResponse`. The app must run with `process_before_response=True`: the
Functions host may freeze or recycle the worker as soon as the response is sent, so no listener
may still be running in a thread by then, and lazy listeners are refused for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import azure.functions as func
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.error import BoltError
from slack_bolt.lazy_listener import LazyListenerRunner
from slack_sdk.signature import SignatureVerifier

#: Headers Bolt reads to run a request as an internal lazy-listener call; one arriving from the
#: network could make Bolt skip the ack listeners, so they never reach Bolt.
BOLT_INTERNAL_HEADER_PREFIX = "x-slack-bolt-"


class _NoLazyListeners(LazyListenerRunner):
    def start(self, function: Callable[..., None], request: BoltRequest) -> None:
        raise BoltError(
            "Lazy listeners are not supported on Azure Functions: the worker may be frozen once "
            "the response is sent. Enqueue a job for the queue-triggered function instead."
        )


class SlackRequestHandler:
    """Serves a Bolt `App` from an HTTP-triggered Azure Function. `signing_secret` (the app's)
    tells a malformed body Slack signed (400) from anything else (401)."""

    def __init__(self, app: App, *, signing_secret: str | None = None) -> None:
        if not app.process_before_response:
            raise ValueError(
                "Azure Functions needs the Bolt App built with process_before_response=True: "
                "work left running after the response may never finish"
            )
        self.app = app
        self.app.listener_runner.lazy_listener_runner = _NoLazyListeners()
        self._verifier = SignatureVerifier(signing_secret) if signing_secret else None

    def handle(self, req: func.HttpRequest) -> func.HttpResponse:
        # Slack only ever POSTs; GET would matter only for an OAuth install flow, which this
        # single-workspace app does not have.
        if req.method != "POST":
            return func.HttpResponse("Not Found", status_code=404, mimetype="text/plain")
        try:
            request = to_bolt_request(req)
        except ValueError:
            # Bolt parses the body before it checks the signature; a body it cannot parse is
            # answered here: 400 if Slack really signed it, 401 otherwise (never a crash).
            return self._malformed(req)
        return to_http_response(self.app.dispatch(request))

    def _malformed(self, req: func.HttpRequest) -> func.HttpResponse:
        body = req.get_body().decode("utf-8", errors="replace")
        headers = {k.lower(): v for k, v in req.headers.items()}
        if self._verifier is not None and self._verifier.is_valid_request(body, headers):
            return func.HttpResponse("Bad Request", status_code=400, mimetype="text/plain")
        return func.HttpResponse("Unauthorized", status_code=401, mimetype="text/plain")


def to_bolt_request(req: func.HttpRequest) -> BoltRequest:
    """Azure's request as Bolt's: the body as UTF-8 text, the headers without Bolt's internal
    ones, the query string (from the URL, which keeps repeated keys, else from `params`)."""
    # A body that is not UTF-8 never came from Slack; decoding it leniently lets the signature
    # check refuse it with a 401 instead of failing the function with a 500.
    body = req.get_body().decode("utf-8", errors="replace")
    headers = {
        name: value
        for name, value in req.headers.items()
        if not name.lower().startswith(BOLT_INTERNAL_HEADER_PREFIX)
    }
    query: str | dict[str, str] = urlsplit(req.url).query or dict(req.params)
    return BoltRequest(body=body, query=query, headers=headers)


def to_http_response(resp: BoltResponse) -> func.HttpResponse:
    """Bolt's response as Azure's: status, body and every header value (repeated headers such
    as `Set-Cookie` included); the content type also sets the response's mimetype and charset,
    which the Functions host would otherwise default to text/plain."""
    content_type = next(iter(resp.headers.get("content-type", [])), "text/plain;charset=utf-8")
    mimetype, _, params = content_type.partition(";")
    charset = "utf-8"
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip('"')
    out = func.HttpResponse(
        resp.body,
        status_code=resp.status,
        mimetype=mimetype.strip() or "text/plain",
        charset=charset,
    )
    for name, values in resp.headers.items():
        for value in values:
            out.headers.add_header(name, value)
    return out
