"""Approvers from a Slack user group: `usergroups.users.list` behind the `ApproverDirectory` port.

Members are cached briefly (a minute by default), so a burst of clicks costs one call. A group that
cannot be read raises `DirectoryUnavailable`: nobody in it can approve meanwhile, never everybody;
failures are not cached, so the next click tries again.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from http.client import HTTPException

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from services.clock import Clock
from services.domain.errors import DirectoryUnavailable


class SlackApproverDirectory:
    def __init__(self, client: WebClient, clock: Clock, ttl: timedelta = timedelta(minutes=1)):
        self._client = client
        self._clock = clock
        self._ttl = ttl
        self._cache: dict[str, tuple[datetime, frozenset[str]]] = {}
        self._mutex = threading.Lock()

    def members(self, group: str) -> frozenset[str]:
        now = self._clock.now()
        with self._mutex:
            cached = self._cache.get(group)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        try:
            answer = self._client.usergroups_users_list(usergroup=group)
        except SlackApiError as exc:
            raise DirectoryUnavailable(group, str(exc.response.get("error"))) from exc
        except (SlackClientError, OSError, HTTPException) as exc:
            # The SDK lets a connection dropped or timed out after its retries escape as the
            # socket's own error: the group is as unreadable as when Slack says no.
            raise DirectoryUnavailable(group, type(exc).__name__) from exc
        users = answer.get("users")
        if not isinstance(users, list):
            raise DirectoryUnavailable(group, "Slack sent no member list")
        members = frozenset(str(u) for u in users)
        with self._mutex:
            self._cache[group] = (now, members)
        return members
