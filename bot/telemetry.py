"""Structured logs, and OpenTelemetry traces and metrics to Application Insights when it is set up.

Map of this module:
- `FIELDS` — what a log record may carry besides its message: grant id, registry, Slack user and
  team, job id/kind/key, correlation id, and a paste's length and short hash (never its text).
  `fields(**values)` is an `extra=` dict for one call; `log_context(**values)` sets fields for
  everything logged inside the block (a context variable: each invocation has its own);
  `paste_fields(text)` describes a paste without quoting it; `job_fields(body)` reads them off a
  queue message without decoding or logging its paste.
- Every record's message is masked before a handler sees it (a record factory): Slack tokens, the
  configured secrets, storage keys, SAS signatures, bearer tokens and response URLs become `***`,
  and a message is cut at `MAX_MESSAGE` characters, so a paste that slips into a message one day
  still cannot reach the logs whole.
- `JsonFormatter` — one JSON object a line with the fields (`ACRBOT_LOG_FORMAT=json`).
- `configure(settings)` — once per process, from `bot.functions` (the front door's settings, so
  an acknowledgement loads no more than that): the records and the format.
  `start()` then sets Azure Monitor OpenTelemetry up, only when
  `APPLICATIONINSIGHTS_CONNECTION_STRING` is set, on a background thread (about a second of
  imports): queue and timer invocations start it as they begin, the HTTP functions once their
  answer is ready, so neither importing `function_app` nor a Slack acknowledgement waits for it.
  Without the setting nothing of OpenTelemetry is ever imported.
- `invocation(name, **fields)` and `job(body, reference)` — a span (once telemetry is up), the log
  context and the job counters around one function invocation; `count(name, **attributes)` — a
  counter, a no-op until telemetry is up.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.metrics import Counter, Meter
    from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
    from opentelemetry.trace import Tracer

    from services.front_settings import FrontSettings

logger = logging.getLogger(__name__)

#: The structured fields a record may carry, and nothing else.
FIELDS = frozenset(
    {
        "grant_id",
        "registry",
        "slack_user",
        "slack_team",
        "job_id",
        "job_kind",
        "job_key",
        "correlation_id",
        "paste_chars",
        "paste_sha256",
    }
)
#: Longest message that reaches a handler; the rest is cut (a paste is far longer).
MAX_MESSAGE = 2000
#: Longest field value kept.
_MAX_FIELD = 200
#: The loggers whose records go to Application Insights through OpenTelemetry. The Functions host
#: keeps sending every record as plain text, as before.
EXPORTED_LOGGERS = ("bot", "services", "function_app")

_SECRET_PATTERNS = (
    # Slack bot, user, app-level and configuration tokens.
    re.compile(r"\bxox[a-z]-[A-Za-z0-9-]{6,}"),
    re.compile(r"\bxapp-\d-[A-Za-z0-9-]{6,}"),
    # Slack response URLs and incoming webhooks carry their own credential in the path.
    re.compile(r"(https://hooks\.slack\.com/)[^\s'\"<>]+"),
    # Storage account keys, SAS tokens and signatures; Entra ID bearer tokens and JWTs.
    re.compile(r"((?:AccountKey|SharedAccessSignature|SharedAccessKey)=)[^;\s'\"]+", re.I),
    re.compile(r"([?&]sig=)[^&\s'\"]+", re.I),
    re.compile(r"(\bBearer\s+)[A-Za-z0-9._~+/=-]{8,}", re.I),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
)

_context: ContextVar[Mapping[str, object] | None] = ContextVar("acrbot_log_fields", default=None)


# -- fields ---------------------------------------------------------------------------------------


def _clean(value: object) -> object:
    if isinstance(value, bool | int | float):
        return value
    text = redact(str(value))
    return text if len(text) <= _MAX_FIELD else text[:_MAX_FIELD] + "…"


def fields(**values: object) -> dict[str, object]:
    """An `extra=` dict of structured fields (None values left out). Unknown names raise, so a
    typo cannot smuggle a paste in under another name."""
    unknown = set(values) - FIELDS
    if unknown:
        raise ValueError(f"not log fields: {', '.join(sorted(unknown))}")
    return {name: _clean(value) for name, value in values.items() if value is not None}


def paste_fields(text: str) -> dict[str, object]:
    """A paste as a log may name it: its length and the first 12 hex digits of its SHA-256."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return {"paste_chars": len(text), "paste_sha256": digest[:12]}


def current_fields() -> dict[str, object]:
    """The fields `log_context` set for the code running now."""
    return dict(_context.get() or {})


@contextmanager
def log_context(**values: object) -> Iterator[None]:
    """Attach fields to every record logged inside the block (nested blocks add to them)."""
    token = _context.set({**(_context.get() or {}), **fields(**values)})
    try:
        yield
    finally:
        _context.reset(token)


def job_fields(body: str, reference: str | None = None) -> dict[str, object]:
    """The fields of a queue message: its id, kind, key, registry, grant and requester, and its
    paste as length and hash. Never raises: a message that is not a job gives what it can."""
    found: dict[str, object] = {"job_id": reference}
    try:
        data = json.loads(body)
    except ValueError:
        return fields(**found)
    if not isinstance(data, dict):
        return fields(**found)

    def text(value: object) -> str | None:
        return value if isinstance(value, str) and value else None

    found["job_kind"] = text(data.get("kind"))
    found["job_key"] = text(data.get("key"))
    found["registry"] = text(data.get("registry"))
    found["grant_id"] = text(data.get("grant_id"))
    origin = data.get("origin")
    if isinstance(origin, dict):
        found["slack_user"] = text(origin.get("user_id"))
        found["slack_team"] = text(origin.get("team_id"))
    paste = data.get("paste")
    if isinstance(paste, str):
        from bot.jobs import unpack_text

        with contextlib.suppress(ValueError, zlib.error):  # binascii.Error is a ValueError
            found.update(paste_fields(unpack_text(paste)))
    return fields(**found)


# -- masking --------------------------------------------------------------------------------------


class _Secrets:
    """The configured secret values, masked wherever they appear."""

    def __init__(self) -> None:
        self.values: tuple[str, ...] = ()

    def set(self, values: list[str]) -> None:
        # Longest first, so a secret containing another is masked whole.
        self.values = tuple(sorted({v for v in values if len(v) >= 8}, key=len, reverse=True))


_secrets = _Secrets()


def redact(text: str) -> str:
    """`text` with every known kind of secret masked as `***`."""
    for value in _secrets.values:
        if value in text:
            text = text.replace(value, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "***", text)
    return text


def _masked_message(message: str) -> str:
    message = redact(message)
    if len(message) > MAX_MESSAGE:
        cut = len(message) - MAX_MESSAGE
        message = f"{message[:MAX_MESSAGE]}… [{cut} more characters not logged]"
    return message


class _RecordFactory:
    """Wraps the record factory: the message is formatted, masked and cut once, at creation,
    so every handler (the Functions host's, OpenTelemetry's, a test's) gets the same safe text."""

    def __init__(self, previous: Callable[..., logging.LogRecord]) -> None:
        self.previous = previous

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:
            # A broken format string is the handler's to report (logging.raiseExceptions).
            return record
        record.msg, record.args = _masked_message(message), None
        return record


class ContextFilter(logging.Filter):
    """Adds the `log_context` fields to records passing a handler (a call's own `extra=`
    fields win). On a handler rather than in the record factory: `extra=` may not name a
    field the record already has."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in (_context.get() or {}).items():
            if name not in record.__dict__:
                setattr(record, name, value)
        return True


class _ExportFilter(ContextFilter):
    """What OpenTelemetry sends: this app's records (the host forwards the rest), with fields."""

    def filter(self, record: logging.LogRecord) -> bool:
        top = record.name.split(".", 1)[0]
        return top in EXPORTED_LOGGERS and super().filter(record)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the structured fields, and for an
    exception its type and (masked) traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _masked_message(record.getMessage()),
        }
        for name in sorted(FIELDS):
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = _clean(value)
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
            entry["traceback"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


# -- set-up ---------------------------------------------------------------------------------------


class _State:
    def __init__(self) -> None:
        self.mutex = threading.Lock()
        self.configured = False
        self.factory: _RecordFactory | None = None
        self.json_handlers: list[tuple[logging.Handler, logging.Formatter | None, bool]] = []
        self.thread: threading.Thread | None = None
        #: Application Insights' connection string, until `start` has used it.
        self.connection: str | None = None
        self.ready = threading.Event()
        self.tracer: Tracer | None = None
        self.meter: Meter | None = None
        self.counters: dict[str, Counter] = {}
        self.error: str | None = None


_state = _State()


def install_records(secrets: list[str] | None = None) -> None:
    """Mask every record from now on (idempotent); `secrets` are literal values to mask too."""
    if secrets is not None:
        _secrets.set(secrets)
    current = logging.getLogRecordFactory()
    if not isinstance(current, _RecordFactory):
        _state.factory = _RecordFactory(current)
        logging.setLogRecordFactory(_state.factory)


def use_json_logs() -> None:
    """Format the root logger's handlers as JSON (a stderr handler when there is none)."""
    root = logging.getLogger()
    if not root.handlers:
        stream = logging.StreamHandler()
        root.addHandler(stream)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
        _state.json_handlers.append((stream, None, True))
    for handler in list(root.handlers):
        if isinstance(handler.formatter, JsonFormatter):
            continue
        if not any(h is handler for h, _, _ in _state.json_handlers):
            _state.json_handlers.append((handler, handler.formatter, False))
        handler.setFormatter(JsonFormatter())
        handler.addFilter(ContextFilter())


def configure(settings: FrontSettings) -> None:
    """Once per process: mask records, the log format, and OpenTelemetry when configured."""
    with _state.mutex:
        if _state.configured:
            return
        _state.configured = True
        secrets = [settings.slack_bot_token, settings.slack_signing_secret]
        target = settings.storage.connection_string
        if target is not None:
            secrets += re.findall(r"AccountKey=([^;]+)", target)
        install_records(secrets)
        # Every storage and ARM request at INFO, headers and all: noise that drowns the app's own
        # records in Application Insights. Its warnings still come through.
        logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(
            logging.WARNING
        )
        for name in EXPORTED_LOGGERS:
            # The app's own records at INFO, whatever the root logger's level (WARNING by default).
            own = logging.getLogger(name)
            if own.getEffectiveLevel() > logging.INFO:
                own.setLevel(logging.INFO)
        if settings.log_format == "json":
            use_json_logs()
        connection = (settings.applicationinsights_connection_string or "").strip()
        if connection:
            _state.connection = connection
        else:
            _state.ready.set()


def start() -> None:
    """Set OpenTelemetry up on a background thread, once, if `configure` found it configured.

    Its imports cost about a second of CPU, which a thread still takes from the code running
    beside it (one interpreter lock): queue and timer invocations start it as they begin, the
    HTTP functions only once their answer is ready, so no Slack acknowledgement waits for it.
    """
    with _state.mutex:
        if _state.connection is None or _state.thread is not None:
            return
        _state.thread = threading.Thread(
            target=_start_azure_monitor,
            args=(_state.connection,),
            name="acrbot-telemetry",
            daemon=True,
        )
        _state.thread.start()


def wait(timeout: float | None = None) -> bool:
    """Wait until `configure` is done (OpenTelemetry up, or nothing to set up); tests and
    commands that exit soon use it. False on time-out."""
    return _state.ready.wait(timeout)


def enabled() -> bool:
    """OpenTelemetry is up in this process."""
    return _state.tracer is not None


def setup_error() -> str | None:
    """Why OpenTelemetry could not be set up (an exception class name), if it could not."""
    return _state.error


def flush(timeout_millis: int = 10_000) -> None:
    """Export what is buffered now (a command that exits, a test)."""
    if not enabled():
        return
    from opentelemetry import metrics, trace
    from opentelemetry._logs import get_logger_provider

    for provider in (trace.get_tracer_provider(), metrics.get_meter_provider()):
        force_flush = getattr(provider, "force_flush", None)
        if force_flush is not None:
            force_flush(timeout_millis)
    force_flush = getattr(get_logger_provider(), "force_flush", None)
    if force_flush is not None:
        force_flush(timeout_millis)


def _python_worker_exports() -> bool:
    # The Functions Python worker sets Azure Monitor up itself with this app setting.
    return os.environ.get("PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY", "").lower() == "true"


def _start_azure_monitor(connection_string: str) -> None:
    try:
        from opentelemetry import metrics, trace

        if not _python_worker_exports():
            from azure.monitor.opentelemetry import configure_azure_monitor

            # Credentials for Entra ID ingestion come from APPLICATIONINSIGHTS_AUTHENTICATION_STRING
            # (the template sets `Authorization=AAD`: the app's managed identity).
            configure_azure_monitor(
                connection_string=connection_string,
                logger_name="",
                enable_live_metrics=False,
                span_processors=[_span_scrubber()],
            )
        else:
            # The worker's own set-up has no scrubber: add it to that provider (a second
            # `configure_azure_monitor` would export everything twice).
            add_processor = getattr(trace.get_tracer_provider(), "add_span_processor", None)
            if add_processor is not None:
                add_processor(_span_scrubber())
        for handler in logging.getLogger().handlers:
            if type(handler).__name__ == "LoggingHandler":  # OpenTelemetry's bridge
                handler.addFilter(_ExportFilter())
        _state.meter = metrics.get_meter("acrbot")
        _state.tracer = trace.get_tracer("acrbot")
    except Exception as exc:
        _state.error = type(exc).__name__
        logger.warning("telemetry not set up (%s); logs still go to the host", _state.error)
    finally:
        _state.ready.set()


_URL_KEYS = ("url.full", "http.url", "http.target")
_METHOD_KEYS = ("http.request.method", "http.method")


def _span_scrubber() -> SpanProcessor:
    """A span processor: URLs lose their query strings (SAS signatures) and Slack response URLs
    their path (the credential), and registry PATCHes are counted as they finish."""
    from opentelemetry.sdk.trace import SpanProcessor

    class SpanScrubber(SpanProcessor):
        def on_start(self, span: Span, parent_context: Context | None = None) -> None:
            attributes = span.attributes or {}
            for key in _URL_KEYS:
                value = attributes.get(key)
                if isinstance(value, str):
                    span.set_attribute(key, _safe_url(value))

        def on_end(self, span: ReadableSpan) -> None:
            attributes = span.attributes or {}
            method = next((attributes[k] for k in _METHOD_KEYS if attributes.get(k)), None)
            url = str(next((attributes[k] for k in _URL_KEYS if attributes.get(k)), ""))
            if method == "PATCH" and "/providers/Microsoft.ContainerRegistry/registries/" in url:
                status = attributes.get(
                    "http.response.status_code", attributes.get("http.status_code")
                )
                count("acrbot.registry.patches", status=str(status or "none"))

    return SpanScrubber()


def _safe_url(url: str) -> str:
    url = url.split("?", 1)[0]
    if url.startswith("https://hooks.slack.com/"):
        return "https://hooks.slack.com/***"
    return url


# -- spans and metrics ----------------------------------------------------------------------------


def count(name: str, value: int = 1, **attributes: str) -> None:
    """Add to the counter `name` (`acrbot.jobs`…); nothing until telemetry is up."""
    meter = _state.meter
    if meter is None:
        return
    counter = _state.counters.get(name)
    if counter is None:
        counter = _state.counters.setdefault(name, meter.create_counter(name))
    counter.add(value, attributes)


@contextmanager
def invocation(name: str, **values: object) -> Iterator[None]:
    """One function invocation: its fields on every record, and a span `acrbot.<name>` once
    telemetry is up. A failure marks the span with the exception's class name only (its text
    could quote what someone pasted)."""
    start()
    with log_context(**values):
        tracer = _state.tracer
        if tracer is None:
            yield
            return
        from opentelemetry.trace import Status, StatusCode

        attributes = {f"acrbot.{k}": v for k, v in current_fields().items()}
        with tracer.start_as_current_span(
            f"acrbot.{name}",
            attributes=attributes,  # type: ignore[arg-type]
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield
            except BaseException as exc:
                span.set_status(Status(StatusCode.ERROR))
                span.set_attribute("error.type", type(exc).__name__)
                raise


@contextmanager
def job(body: str, reference: str | None = None, *, poisoned: bool = False) -> Iterator[None]:
    """A queue invocation: `invocation` with the message's fields, counted in `acrbot.jobs` by
    kind and outcome (`handled`, `failed`: it will be retried or poisoned; `poisoned`)."""
    found = job_fields(body, reference)
    kind = str(found.get("job_kind") or "unknown")
    started = time.monotonic()
    with invocation("poison" if poisoned else "work", **found):
        try:
            yield
        except Exception as exc:
            count("acrbot.jobs", kind=kind, outcome="failed")
            logger.warning(
                "job %s failed after %d ms (%s); the queue retries it",
                kind,
                _ms(started),
                type(exc).__name__,
            )
            raise
        outcome = "poisoned" if poisoned else "handled"
        count("acrbot.jobs", kind=kind, outcome=outcome)
        logger.info("job %s %s in %d ms", kind, outcome, _ms(started))


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def reset_for_tests() -> None:
    """Undo `configure` (records, JSON handlers) so the next test starts clean. OpenTelemetry,
    once up, stays: tests only set it up in subprocesses."""
    with _state.mutex:
        if _state.factory is not None and logging.getLogRecordFactory() is _state.factory:
            logging.setLogRecordFactory(_state.factory.previous)
        _state.factory = None
        root = logging.getLogger()
        for handler, formatter, added in _state.json_handlers:
            if added:
                root.removeHandler(handler)
            else:
                handler.setFormatter(formatter)
            for f in [f for f in handler.filters if isinstance(f, ContextFilter)]:
                handler.removeFilter(f)
        _state.json_handlers.clear()
        _secrets.set([])
        _state.configured = False
        _state.connection = None
        _state.ready.clear()
