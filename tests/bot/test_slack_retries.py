"""The Slack clients' retry waits: the SDK's back-off and jitter by default, none when the
back-off setting is 0 (as in tests), and a rate limit waits what `Retry-After` asks."""

from __future__ import annotations

from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.slack_retries import RateLimitRetry, retry_handlers


def intervals(backoff: float) -> list[float]:
    handlers = retry_handlers(backoff)
    server = next(h for h in handlers if isinstance(h, ServerErrorRetryHandler))
    connection = next(h for h in handlers if isinstance(h, ConnectionErrorRetryHandler))
    calc = server.interval_calculator
    assert connection.interval_calculator is calc
    return [calc.calculate_sleep_duration(attempt) for attempt in range(3) for _ in range(50)]


def test_the_default_back_off_is_the_sdks_own() -> None:
    waits = intervals(0.5)
    # 0.5 s doubling, plus up to a second of jitter: what slack_sdk's defaults give.
    assert all(0.5 <= w < 1.5 for w in waits[:50])
    assert all(1.0 <= w < 2.0 for w in waits[50:100])
    assert all(2.0 <= w < 3.0 for w in waits[100:])
    assert len(set(waits)) > 1  # jittered


def test_no_back_off_waits_for_nothing() -> None:
    assert set(intervals(0)) == {0.0}


def test_a_rate_limit_waits_what_retry_after_asks() -> None:
    assert isinstance(retry_handlers(0)[0], RateLimitRetry)
    slept: list[float] = []
    handler = RateLimitRetry(max_retry_count=3, backoff=0, sleep=slept.append)
    state = RetryState()
    request = HttpRequest(method="POST", url="http://127.0.0.1/api/chat.postMessage", headers={})
    for asked in ("3", "0", None):
        headers = {"Retry-After": [asked]} if asked is not None else {}
        response = HttpResponse(status_code=429, headers=headers)
        assert handler.can_retry(state=state, request=request, response=response)
        handler.prepare_for_next_attempt(state=state, request=request, response=response)
    assert slept == [3.0, 0.0, 1.0]
    assert state.current_attempt == 3
    assert not handler.can_retry(
        state=state, request=request, response=HttpResponse(status_code=429, headers={})
    )
