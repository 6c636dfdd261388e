"""The Slack side's jobs are plain dataclasses the front door writes without pydantic; the worker's
bus reads each back with pydantic, from the same annotations: every kind crosses unchanged, and a
value out of bounds is refused where the job is made and where it is read."""

from __future__ import annotations

import json
import logging

import pytest

from bot.bus import Bus
from bot.jobs import (
    DecideJob,
    Decision,
    DiagnoseJob,
    EgressJob,
    HomeJob,
    Origin,
    ReplyJob,
    RequestJob,
    Surface,
)
from bot.plain import Plain

ORIGIN = Origin(
    surface=Surface.SLASH,
    team_id="T0AAA",
    user_id="U0DEV",
    channel_id="C0BUILD",
    response_url="http://127.0.0.1:9/commands/1",
)
GRANT = "01KJNS8W00A1B2C3D4E5F6G7H8"
SAMPLES: dict[str, Plain] = {
    "diagnose": DiagnoseJob.of(
        key="k1", origin=ORIGIN, text="denied: client with IP '20.61.12.7' …", file_id="F0LOG"
    ),
    "reply": ReplyJob(key="k2", origin=ORIGIN, message="help"),
    "request": RequestJob(
        key="k3", offer_id="o1", origin=ORIGIN, justification="CI pull, über", ip="20.61.12.7"
    ),
    "decide": DecideJob(
        key="k4", decision=Decision.APPROVE, grant_id=GRANT, origin=ORIGIN, duration_seconds=3600
    ),
    "home": HomeJob(key="k5", team_id="T0AAA", user_id="U0DEV"),
    "egress": EgressJob(
        key="k6", offer_id="o1", origin=ORIGIN, resource_kind="container_app", candidate=3
    ),
}


def _bus() -> Bus:
    # Each handler is given a stand-in for what it names: only decoding is exercised here.
    return Bus(lambda name: object())


@pytest.mark.parametrize("kind", SAMPLES)
def test_every_slack_job_crosses_the_queue_unchanged(kind: str) -> None:
    job = SAMPLES[kind]
    text = job.model_dump_json()

    decoded = _bus()._decode(text, "ref")

    assert decoded is not None
    assert decoded[1] == job
    assert json.loads(text)["kind"] == kind


def test_a_job_is_written_as_pydantic_writes_a_model() -> None:
    text = SAMPLES["request"].model_dump_json()

    assert text.startswith('{"kind":"request","key":"k3","offer_id":"o1","again":null,"origin":')
    assert "über" in text  # UTF-8, not \\u escapes
    assert '"duration_seconds":null' in text


def test_a_value_out_of_bounds_is_refused_where_the_job_is_made() -> None:
    with pytest.raises(ValueError, match="grant_id"):
        DecideJob(key="k", decision=Decision.DENY, grant_id="g" * 65, origin=ORIGIN)
    with pytest.raises(ValueError, match="candidate"):
        EgressJob(key="k", offer_id="o", origin=ORIGIN, resource_kind="vm", candidate=100)


@pytest.mark.parametrize(
    ("field", "value"),
    [("grant_id", "g" * 65), ("reason", "r" * 4001), ("decision", "shrug"), ("origin", "nowhere")],
)
def test_a_job_out_of_bounds_on_the_queue_is_dropped_by_the_worker(
    field: str, value: object, caplog: pytest.LogCaptureFixture
) -> None:
    data = json.loads(SAMPLES["decide"].model_dump_json())
    data[field] = value

    with caplog.at_level(logging.ERROR, logger="bot.bus"):
        assert _bus()._decode(json.dumps(data), "ref") is None

    assert "not a job" in caplog.text


def test_an_origin_copied_with_a_change_keeps_the_rest() -> None:
    moved = ORIGIN.model_copy(update={"thread_ts": "1.2"})

    assert moved.thread_ts == "1.2"
    assert moved.model_dump() == {**ORIGIN.model_dump(), "thread_ts": "1.2"}
