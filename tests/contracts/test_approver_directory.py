"""The `ApproverDirectory` contract: `StaticApproverDirectory` (configuration) and
`SlackApproverDirectory` (`usergroups.users.list` through the real `WebClient`, with the bot's
retry handlers, against the loopback Slack emulator) answer alike: a group's members, nobody for
an empty group, and `DirectoryUnavailable` for a group that cannot be read — never everybody.

Then what only the Slack one can meet: every way Slack can fail to answer ends in
`DirectoryUnavailable` and is not remembered, and members are kept for a minute on the injected
clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta

import pytest
from slack_sdk import WebClient

from bot.directory import SlackApproverDirectory
from bot.slack_retries import retry_handlers
from sandbox.slack_emulator import SlackEmulator
from services.clock import FrozenClock
from services.directory import StaticApproverDirectory
from services.domain.errors import DirectoryUnavailable
from services.ports import ApproverDirectory

PLATFORM = "S0PLATFORM"
SECURITY = "S0SECURITY"
NOBODY = "S0EMPTY"
GROUPS = {PLATFORM: ["U0ARI", "U0BO"], SECURITY: ["U0CY"], NOBODY: []}

#: A directory over these groups (group id → member ids).
MakeDirectory = Callable[[Mapping[str, Sequence[str]]], ApproverDirectory]


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    with SlackEmulator() as slack:
        yield slack


def _client(slack: SlackEmulator, *, timeout: float = 10) -> WebClient:
    # As the app builds it (`bot.app.web_client`): the bot's retries, with no back-off in tests.
    return WebClient(
        token=slack.bot_token,
        base_url=slack.api_url,
        timeout=timeout,
        retry_handlers=retry_handlers(0),
    )


@pytest.fixture(params=["static", "slack"])
def make_directory(request: pytest.FixtureRequest, clock: FrozenClock) -> MakeDirectory:
    if request.param == "static":
        return StaticApproverDirectory

    slack: SlackEmulator = request.getfixturevalue("emulator")

    def make(groups: Mapping[str, Sequence[str]]) -> ApproverDirectory:
        for group, members in groups.items():
            slack.add_usergroup(group, group.lower(), members)
        return SlackApproverDirectory(_client(slack), clock)

    return make


def test_a_groups_members_are_its_user_ids(make_directory: MakeDirectory) -> None:
    directory = make_directory(GROUPS)

    assert directory.members(PLATFORM) == frozenset({"U0ARI", "U0BO"})
    assert directory.members(SECURITY) == frozenset({"U0CY"})


def test_an_empty_group_means_nobody(make_directory: MakeDirectory) -> None:
    assert make_directory(GROUPS).members(NOBODY) == frozenset()


def test_a_group_that_cannot_be_read_is_unavailable_never_everybody(
    make_directory: MakeDirectory,
) -> None:
    directory = make_directory(GROUPS)

    with pytest.raises(DirectoryUnavailable) as refused:
        directory.members("S0UNKNOWN")

    assert "S0UNKNOWN" in refused.value.message
    assert "nobody can approve" in refused.value.message
    # The groups it can read are unaffected.
    assert directory.members(PLATFORM) == frozenset({"U0ARI", "U0BO"})


def test_asking_again_gives_the_same_members(make_directory: MakeDirectory) -> None:
    directory = make_directory(GROUPS)

    assert directory.members(PLATFORM) == directory.members(PLATFORM)


# --- the Slack directory beyond the contract ----------------------------------------------------


def _missing_scope(slack: SlackEmulator) -> WebClient:
    slack.scopes = frozenset({"chat:write", "users:read"})
    return _client(slack)


def _revoked_token(slack: SlackEmulator) -> WebClient:
    slack.fail("usergroups.users.list", "token_revoked")
    return _client(slack)


def _rate_limited(slack: SlackEmulator) -> WebClient:
    slack.throttle("usergroups.users.list", retry_after=0, times=4)  # the first try and 3 retries
    return _client(slack)


def _server_errors(slack: SlackEmulator) -> WebClient:
    slack.server_error("usergroups.users.list", status=503, times=3)  # the first try and 2 retries
    return _client(slack)


def _dropped_connections(slack: SlackEmulator) -> WebClient:
    slack.inject("usergroups.users.list", drop=True, times=3)
    return _client(slack)


def _too_slow(slack: SlackEmulator) -> WebClient:
    slack.inject("usergroups.users.list", delay=0.5)  # the SDK does not retry a read timeout
    return _client(slack, timeout=0.2)


def _refused(slack: SlackEmulator) -> WebClient:
    slack.fail("usergroups.users.list", "fatal_error")
    return _client(slack)


#: Every way Slack can fail to say who is in a group, as the client meets it.
FAILURES: dict[str, Callable[[SlackEmulator], WebClient]] = {
    "missing_scope": _missing_scope,
    "revoked_token": _revoked_token,
    "rate_limited_beyond_retries": _rate_limited,
    "server_errors_beyond_retries": _server_errors,
    "dropped_connections_beyond_retries": _dropped_connections,
    "too_slow_to_answer": _too_slow,
    "refused": _refused,
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_every_failure_to_read_a_group_is_unavailable_and_not_remembered(
    emulator: SlackEmulator, clock: FrozenClock, failure: str
) -> None:
    emulator.add_usergroup(PLATFORM, "platform", ["U0ARI"])
    broken = FAILURES[failure](emulator)
    directory = SlackApproverDirectory(broken, clock)

    with pytest.raises(DirectoryUnavailable) as refused:
        directory.members(PLATFORM)
    assert PLATFORM in refused.value.message

    # Slack answers again (the scope granted, the faults over): the next click reads the group
    # at once, with no minute to wait.
    emulator.scopes = None
    assert directory.members(PLATFORM) == frozenset({"U0ARI"})


def test_a_burst_of_reads_costs_one_call_for_a_minute(
    emulator: SlackEmulator, clock: FrozenClock
) -> None:
    emulator.add_usergroup(PLATFORM, "platform", ["U0ARI"])
    directory = SlackApproverDirectory(_client(emulator), clock)

    for _ in range(5):
        assert directory.members(PLATFORM) == frozenset({"U0ARI"})
    assert len(emulator.calls("usergroups.users.list")) == 1

    # Someone joins the group in Slack: seen once the minute is over, not before.
    emulator.add_usergroup(PLATFORM, "platform", ["U0ARI", "U0BO"])
    clock.advance(timedelta(seconds=59))
    assert directory.members(PLATFORM) == frozenset({"U0ARI"})
    clock.advance(timedelta(seconds=1))
    assert directory.members(PLATFORM) == frozenset({"U0ARI", "U0BO"})
    assert len(emulator.calls("usergroups.users.list")) == 2


def test_each_group_is_kept_on_its_own(emulator: SlackEmulator, clock: FrozenClock) -> None:
    emulator.add_usergroup(PLATFORM, "platform", ["U0ARI"])
    emulator.add_usergroup(SECURITY, "security", ["U0CY"])
    directory = SlackApproverDirectory(_client(emulator), clock)

    assert directory.members(PLATFORM) == frozenset({"U0ARI"})
    assert directory.members(SECURITY) == frozenset({"U0CY"})
    assert [c.params.get("usergroup") for c in emulator.calls("usergroups.users.list")] == [
        PLATFORM,
        SECURITY,
    ]
