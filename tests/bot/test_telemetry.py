"""Structured logs: fields from a log context or `extra=`, masked and cut messages, the JSON
formatter's lines, and a queue message's fields read without its paste."""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot import telemetry
from bot.jobs import DiagnoseJob, Origin, Surface
from services.domain.jobs import GrantEvent, GrantNotice, ReconcileJob
from services.settings import Settings

TOKEN = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
log = logging.getLogger("bot.tests.telemetry")


@pytest.fixture(autouse=True)
def _clean_telemetry() -> Iterator[None]:
    yield
    telemetry.reset_for_tests()


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What a JSON-formatted handler on this logger writes, as configured for production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(telemetry.JsonFormatter())
    handler.addFilter(telemetry.ContextFilter())
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        log.removeHandler(handler)


def entries(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"token {TOKEN} used", "token *** used"),
        ("xapp-1-A0123ABCDEF-1234567890-abcdef0123", "***"),
        (
            "posting to https://hooks.slack.com/commands/T0/123/AbCdEf now",
            "posting to https://hooks.slack.com/*** now",
        ),
        (
            "AccountName=st;AccountKey=c2VjcmV0c2VjcmV0;EndpointSuffix=core",
            "AccountName=st;AccountKey=***;EndpointSuffix=core",
        ),
        ("GET /c/b?sv=2024&sig=AbC%2Bdef&se=1", "GET /c/b?sv=2024&sig=***&se=1"),
        ("Authorization: Bearer abcdefghijklmnop.qrs", "Authorization: Bearer ***"),
        ("jwt eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTYifQ.c2lnbmF0dXJl end", "jwt *** end"),
        ("denied: client with IP '20.61.12.7'", "denied: client with IP '20.61.12.7'"),
    ],
)
def test_known_kinds_of_secret_are_masked(text: str, kept: str) -> None:
    assert telemetry.redact(text) == kept


def test_configured_secrets_are_masked_wherever_they_appear(monkeypatch) -> None:
    telemetry.configure(
        Settings(
            slack_bot_token="not-a-token-shape-but-secret",
            slack_signing_secret="8f742231b10e8888abcd99yyyzzz85a5",
            storage_connection_string="DefaultEndpointsProtocol=https;AccountName=a;"
            "AccountKey=S3cr3tKeyValue==;",
        ).front
    )

    assert telemetry.redact("sig 8f742231b10e8888abcd99yyyzzz85a5!") == "sig ***!"
    assert telemetry.redact("x not-a-token-shape-but-secret") == "x ***"
    assert telemetry.redact("key S3cr3tKeyValue== here") == "key *** here"


def test_records_are_masked_and_cut_before_any_handler_sees_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    telemetry.install_records()
    paste = "Error response from daemon: denied. " * 500

    with caplog.at_level(logging.INFO, logger=log.name):
        log.info("token %s", TOKEN)
        log.info("paste %s", paste)

    token_record, paste_record = caplog.records
    assert TOKEN not in token_record.getMessage()
    assert token_record.getMessage() == "token ***"
    assert len(paste_record.getMessage()) < telemetry.MAX_MESSAGE + 60
    assert paste_record.getMessage().endswith(
        f"[{len('paste ' + paste) - telemetry.MAX_MESSAGE} more characters not logged]"
    )


def test_unknown_field_names_are_refused() -> None:
    with pytest.raises(ValueError, match="not log fields: paste"):
        telemetry.fields(paste="the whole paste")


def test_a_paste_is_logged_as_its_length_and_a_short_hash() -> None:
    paste = "denied: client with IP '20.61.12.7' is not allowed access"
    described = telemetry.paste_fields(paste)
    assert described == {
        "paste_chars": len(paste),
        "paste_sha256": hashlib.sha256(paste.encode()).hexdigest()[:12],
    }


def test_the_json_formatter_writes_one_object_a_line_with_the_fields(
    json_lines: io.StringIO,
) -> None:
    with telemetry.log_context(job_id="m-1", registry="contosoprod.azurecr.io"):
        log.info("reconciled", extra=telemetry.fields(grant_id="01JABC", slack_user="U0DEV"))
        with telemetry.log_context(registry="other.azurecr.io"):
            log.warning("inner %s", TOKEN)
    log.info("outside")

    first, inner, outside = entries(json_lines)
    assert first["message"] == "reconciled"
    assert first["level"] == "INFO"
    assert first["logger"] == log.name
    assert str(first["time"]).endswith("+00:00")
    assert (first["job_id"], first["registry"], first["grant_id"], first["slack_user"]) == (
        "m-1",
        "contosoprod.azurecr.io",
        "01JABC",
        "U0DEV",
    )
    assert inner["registry"] == "other.azurecr.io"
    assert inner["message"] == "inner ***"
    assert set(outside) == {"time", "level", "logger", "message"}


def test_a_call_s_own_fields_win_over_the_context(json_lines: io.StringIO) -> None:
    with telemetry.log_context(registry="from-context.azurecr.io"):
        log.info("x", extra=telemetry.fields(registry="from-call.azurecr.io"))
    [entry] = entries(json_lines)
    assert entry["registry"] == "from-call.azurecr.io"


def test_the_json_formatter_names_the_exception_and_masks_its_traceback(
    json_lines: io.StringIO,
) -> None:
    try:
        raise RuntimeError(f"Slack said no for {TOKEN}")
    except RuntimeError:
        log.exception("posting failed")

    [entry] = entries(json_lines)
    assert entry["exception"] == "RuntimeError"
    assert "RuntimeError: Slack said no for ***" in str(entry["traceback"])
    assert TOKEN not in json_lines.getvalue()


def test_json_logs_setting_formats_the_root_handlers(monkeypatch) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    try:
        telemetry.configure(Settings(log_format="json").front)
        with telemetry.log_context(job_kind="reconcile"):
            log.warning("busy")
        telemetry.reset_for_tests()
        log.warning("plain again")
    finally:
        root.removeHandler(handler)

    first, second = stream.getvalue().splitlines()
    assert json.loads(first)["job_kind"] == "reconcile"
    assert second == "plain again"


def origin() -> Origin:
    return Origin(surface=Surface.SLASH, team_id="T0", user_id="U0DEV", channel_id="C0")


def test_job_fields_name_the_job_and_describe_its_paste_without_it() -> None:
    paste = f"docker pull failed; {TOKEN}; denied: client with IP '20.61.12.7'"
    body = DiagnoseJob.of(key="slash:1", origin=origin(), text=paste).model_dump_json()

    found = telemetry.job_fields(body, "msg-1")

    assert found == {
        "job_id": "msg-1",
        "job_kind": "diagnose",
        "job_key": "slash:1",
        "slack_user": "U0DEV",
        "slack_team": "T0",
        **telemetry.paste_fields(paste),
    }


def test_job_fields_of_service_jobs_and_of_garbage() -> None:
    reconcile = ReconcileJob(registry="contosoprod.azurecr.io").model_dump_json()
    notice = GrantNotice(grant_id="01JGRANT", event=GrantEvent.APPROVED).model_dump_json()

    assert telemetry.job_fields(reconcile)["registry"] == "contosoprod.azurecr.io"
    assert telemetry.job_fields(notice)["grant_id"] == "01JGRANT"
    assert telemetry.job_fields("not json", "m") == {"job_id": "m"}
    assert telemetry.job_fields('{"kind": "diagnose", "paste": "!!!"}') == {"job_kind": "diagnose"}
    assert telemetry.job_fields("[1, 2]") == {}
