"""How the bot's Slack clients retry: rate limits for as long as `Retry-After` asks, 5xx answers
and dropped connections with exponential back-off. The back-off is a setting
(`ACRBOT_SLACK_RETRY_BACKOFF`) so tests that play Slack's failures wait for nothing."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from slack_sdk.http_retry import HttpRequest, HttpResponse, RetryHandler, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import Jitter


class _ScaledJitter(Jitter):
    """The SDK's random jitter (up to a second on its default 0.5 s back-off), in proportion to
    the back-off: none when the back-off is 0."""

    def __init__(self, backoff: float) -> None:
        self._amplitude = 2 * backoff

    def recalculate(self, duration: float) -> float:
        return duration + self._amplitude * random.random()


class RateLimitRetry(RateLimitErrorRetryHandler):
    """Waits the `Retry-After` Slack asks for, plus the scaled jitter (the SDK's handler always
    adds up to a second, which no test should have to wait for)."""

    def __init__(
        self,
        *,
        max_retry_count: int,
        backoff: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._jitter = _ScaledJitter(backoff)
        self._sleep = sleep

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if response is None:
            if error is not None:
                raise error
            return
        asked = next(
            (v for k, v in response.headers.items() if k.lower() == "retry-after" and v), ["1"]
        )
        try:
            wait = max(0.0, float(asked[0]))
        except ValueError:
            wait = 1.0
        state.next_attempt_requested = True
        self._sleep(self._jitter.recalculate(wait))
        state.increment_current_attempt()


def retry_handlers(backoff: float) -> list[RetryHandler]:
    """Retries of rate limits (as long as `Retry-After` says), 5xx answers and dropped
    connections (exponential back-off from `backoff` seconds, with jitter)."""
    interval = BackoffRetryIntervalCalculator(backoff_factor=backoff, jitter=_ScaledJitter(backoff))
    return [
        RateLimitRetry(max_retry_count=3, backoff=backoff),
        ServerErrorRetryHandler(max_retry_count=2, interval_calculator=interval),
        ConnectionErrorRetryHandler(max_retry_count=2, interval_calculator=interval),
    ]
