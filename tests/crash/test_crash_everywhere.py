"""Crash everywhere: each job type runs in a worker process that is killed (SIGKILL) at every step
that touches storage, ARM or Slack — before the request leaves, and after it went out with its
answer unread — then the job is delivered again and the sweep runs, as the Functions host and the
timer would. Every run must converge to what a run that was never killed leaves behind:

- the registry's rules are the foreign rules plus the bot's entries of approved and active grants;
- every grant is in the state the clean run left it in (none stuck);
- every message the bot posts is there exactly once (one approval card and one requester message
  per grant, each showing the grant as it ends; a ping per moment), and nothing else.

The figure (job types, kill points, runs) is printed at the end of the test session.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

import function_app
from bot import functions
from bot.jobs import DecideJob, Decision, Origin, RequestJob, Surface
from bot.runtime import Runtime
from bot.views.grants import approval_text, requester_message
from sandbox.arm_emulator import ArmEmulator
from sandbox.azurite import lapse_leases
from sandbox.crash import Run, distinct_points, every_point, run
from sandbox.functions_host import FunctionsHost
from sandbox.slack_emulator import SlackEmulator
from services.clock import FrozenClock, SystemClock
from services.domain.grants import APPROVAL_CARD, REQUESTER_MESSAGE, Grant, Requester
from services.domain.ids import new_ulid
from services.domain.jobs import GrantEvent, GrantNotice, ReconcileJob
from services.domain.offers import Offer
from services.domain.reconcile import EntryState
from services.flows.decisions import approve_grant
from services.flows.reconcile import reconcile_registry
from services.flows.requests import request_grant
from services.settings import Settings
from tests.sandbox_helpers import (
    MANIFEST_SCOPES,
    RESOURCE_GROUP,
    SUBSCRIPTION,
    StaticTokenCredential,
)

pytestmark = [pytest.mark.azurite, pytest.mark.crash]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SECRET = "crash-signing-secret"
TOKEN = "xoxb-crash"
FOREIGN = "4.175.12.34"
IP = "20.1.2.3"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
#: How far the clock moves before the job is delivered again: past a dead worker's claim (two
#: minutes) and its write fence (two), as a queue message's invisibility would.
REDELIVERY = timedelta(minutes=5)
#: Sweeps after the redelivery, each a few minutes apart (the grants run for an hour).
ROUNDS = 3


@pytest.fixture(scope="module")
def emulators() -> Iterator[tuple[ArmEmulator, SlackEmulator]]:
    with (
        ArmEmulator() as arm,
        SlackEmulator(bot_token=TOKEN, clock=SystemClock(), scopes=MANIFEST_SCOPES) as slack,
    ):
        yield arm, slack


@dataclass
class RunWorld:
    """One run's own corner of the shared stand-ins: tables, queue, registry, channels, users."""

    n: int
    arm: ArmEmulator
    slack: SlackEmulator
    env: dict[str, str]
    settings: Settings
    runtime: Runtime
    clock: FrozenClock
    host: FunctionsHost
    services: dict[int, str]
    names: dict[str, str] = field(default_factory=dict)

    @property
    def registry(self) -> str:
        return self.names["registry"]

    @property
    def login(self) -> str:
        return f"{self.registry}.azurecr.io"

    def requester(self) -> Requester:
        return Requester(user_id=self.names["dev"], team_id=self.slack.team_id)

    def drain(self) -> int:
        return self.host.run_until_empty()

    def spec(self, kind: str, job: str | None = None) -> dict[str, Any]:
        return {
            "kind": kind,
            "job": job,
            "env": self.env,
            "now": self.clock.now().isoformat(),
            "services": {str(k): v for k, v in self.services.items()},
            "own_names": {
                self.env["ACRBOT_TABLE_PREFIX"]: "<run>",
                self.registry: "<registry>",
            },
        }


_counter = iter(range(1, 1_000_000))


def _port(url: str) -> int:
    return int(urlsplit(url).port or 0)


@pytest.fixture
def make_run(
    emulators: tuple[ArmEmulator, SlackEmulator], azurite_connection_string: str, monkeypatch
) -> Iterator[Callable[[], RunWorld]]:
    arm, slack = emulators

    def make() -> RunWorld:
        n = next(_counter)
        tag = f"c{n:04d}{new_ulid(START)[-6:].lower()}"
        names = {
            "registry": f"crash{tag}",
            "dev": f"U0DEV{n:04d}",
            "approver": f"U0APP{n:04d}",
            "channel": f"C0BLD{n:04d}",
            "approvals": f"C0APR{n:04d}",
        }
        slack.add_user(names["dev"], f"dev{n}")
        slack.add_user(names["approver"], f"approver{n}")
        slack.add_channel(names["channel"], f"build{n}", members=[names["dev"]], bot_is_member=True)
        slack.add_channel(
            names["approvals"], f"approvals{n}", members=[names["approver"]], bot_is_member=True
        )
        arm.add_registry(SUBSCRIPTION, RESOURCE_GROUP, names["registry"], rules=[FOREIGN])
        env = {
            "AzureWebJobsStorage": azurite_connection_string,
            "ACRBOT_TABLE_PREFIX": tag,
            "ACRBOT_QUEUE_NAME": f"{tag}-jobs",
            "ACRBOT_SLACK_BOT_TOKEN": TOKEN,
            "ACRBOT_SLACK_SIGNING_SECRET": SECRET,
            "ACRBOT_SLACK_API_URL": slack.api_url,
            "ACRBOT_SLACK_TEAM_IDS": json.dumps([slack.team_id]),
            "ACRBOT_SLACK_BOT_USER_ID": slack.bot_user_id,
            "ACRBOT_SLACK_BOT_ID": slack.bot_id,
            "ACRBOT_SLACK_APPROVALS_CHANNEL": names["approvals"],
            "ACRBOT_REGISTRIES": json.dumps(
                [
                    {
                        "name": names["registry"],
                        "subscription_id": SUBSCRIPTION,
                        "resource_group": RESOURCE_GROUP,
                        "approvers": [names["approver"]],
                    }
                ]
            ),
            "ACRBOT_SERVICE_TAGS__FILE": str(EXAMPLES / "service-tags.json"),
            "ACRBOT_ARM__ENDPOINT": arm.base_url,
            "ACRBOT_ARM__CA_BUNDLE": arm.ca_path,
            "ACRBOT_ARM__POLLING_INTERVAL": "0",
            "ACRBOT_ARM__RETRY_TOTAL": "1",
            "ACRBOT_ARM__RETRY_BACKOFF_FACTOR": "0",
            "ACRBOT_ARM__BUSY_RETRY_SECONDS": "0",
            "ACRBOT_ARM__FAILURE_RETRY_SECONDS": "0",
            "ACRBOT_ARM__LOCK_CONTAINER": f"{tag}-locks",
            "ACRBOT_NOTICE_RECHECK_SECONDS": "[0, 0, 0, 0]",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = Settings()
        clock = FrozenClock(START)
        runtime = Runtime(settings, clock=clock, credential=StaticTokenCredential())
        functions.install(runtime)
        host = FunctionsHost(function_app, settings, queue=settings.queue_name)
        services = {_port(arm.base_url): "arm", _port(slack.api_url): "slack"}
        for part in azurite_connection_string.split(";"):
            key, _, value = part.partition("=")
            if key in ("BlobEndpoint", "QueueEndpoint", "TableEndpoint"):
                services[_port(value)] = key.removesuffix("Endpoint").lower()
        return RunWorld(n, arm, slack, env, settings, runtime, clock, host, services, names)

    yield make
    functions.install(None)


# -- the job types and the state each starts from -------------------------------------------------


def _request(world: RunWorld) -> dict[str, Any]:
    ports = world.runtime.ports
    offer = Offer(
        id=new_ulid(world.clock.now()),
        registry=world.login,
        ip=IP,
        verdict="ip_not_allowed",
        summary=f"{IP} is not allowed.",
        created_at=world.clock.now(),
    )
    ports.grants.put_offer(offer)
    origin = Origin(
        surface=Surface.MODAL,
        team_id=world.slack.team_id,
        user_id=world.names["dev"],
        channel_id=world.names["channel"],
        message_ts=world.slack.user_message(world.names["dev"], world.names["channel"], "paste").ts,
    )
    job = RequestJob(
        key=f"req-{world.n}",
        offer_id=offer.id,
        origin=origin,
        justification="deploying the hotfix to production",
        duration_seconds=3600,
    )
    return world.spec("job", job.model_dump_json())


def _pending(world: RunWorld) -> Grant:
    return request_grant(
        world.runtime.ports,
        registry=world.login,
        ip=IP,
        requester=world.requester(),
        justification="deploying the hotfix to production",
        duration=timedelta(hours=1),
    ).grant


def _notice(world: RunWorld) -> dict[str, Any]:
    grant = _pending(world)
    world.host.clear()
    job = GrantNotice(grant_id=grant.id, event=GrantEvent.REQUESTED)
    return world.spec("job", job.model_dump_json())


def _decide(world: RunWorld) -> dict[str, Any]:
    grant = _pending(world)
    world.drain()  # the approval card is posted
    [card] = [r for r in world.runtime.ports.grants.messages(grant.id) if r.kind == APPROVAL_CARD]
    job = DecideJob(
        key=f"decide-{world.n}",
        decision=Decision.APPROVE,
        grant_id=grant.id,
        origin=Origin(
            surface=Surface.SHORTCUT,
            team_id=world.slack.team_id,
            user_id=world.names["approver"],
            channel_id=card.channel,
            message_ts=card.ts,
        ),
    )
    return world.spec("job", job.model_dump_json())


def _reconcile(world: RunWorld) -> dict[str, Any]:
    grant = _pending(world)
    world.drain()
    approve_grant(world.runtime.ports, grant.id, approver=world.names["approver"])
    world.host.clear()  # the reconcile under test is the one below
    world.drain()
    return world.spec("job", ReconcileJob(registry=world.login).model_dump_json())


def _sweep(world: RunWorld) -> dict[str, Any]:
    grant = _pending(world)
    world.drain()
    approve_grant(world.runtime.ports, grant.id, approver=world.names["approver"])
    reconcile_registry(world.runtime.ports, world.login)
    world.drain()
    world.clock.advance(timedelta(hours=1, minutes=1))  # past its expiry
    world.host.clear()  # the deadline job is the sweep's to replace here
    return world.spec("sweep")


SCENARIOS: dict[str, Callable[[RunWorld], dict[str, Any]]] = {
    "request": _request,
    "decide": _decide,
    "reconcile": _reconcile,
    "sweep": _sweep,
    "notice": _notice,
}


# -- recovery and the state it converges to --------------------------------------------------------


def recover(world: RunWorld, spec: dict[str, Any], expected: dict[str, Any]) -> None:
    """What the platform does after a worker dies: the queue delivers the job again once its
    invisibility lapses (the timer runs again), then the sweep and the queue carry on."""
    world.clock.advance(REDELIVERY)
    # The dead worker's lock lapsed meanwhile (its lease runs on Azurite's wall clock).
    lapse_leases(world.env["AzureWebJobsStorage"], world.env["ACRBOT_ARM__LOCK_CONTAINER"])
    for _ in range(5):  # the host retries a job that fails, up to its dequeue count
        try:
            if spec["kind"] == "sweep":
                world.runtime.sweep()
            else:
                world.runtime.bus.handle(spec["job"])
            break
        except Exception:
            world.clock.advance(timedelta(seconds=30))
    settle(world, until=expected)


def settle(world: RunWorld, until: dict[str, Any] | None = None) -> None:
    """Queue and sweep, a few minutes apart, until nothing more happens or the world looks as
    `until` (at most `ROUNDS` times)."""
    world.drain()
    for _ in range(ROUNDS):
        if until is not None and outcome(world) == until:
            return
        world.runtime.sweep()
        if not world.drain() and until is None:
            return
        world.clock.advance(timedelta(minutes=3))


def outcome(world: RunWorld) -> dict[str, Any]:
    """What the run left behind, in terms that do not depend on ids or timing."""
    ports = world.runtime.ports
    grants = sorted(ports.grants.scan(), key=lambda g: (str(g.ip), g.requester.user_id))
    rules = world.arm.rules(world.registry)
    entries = ports.grants.entries(world.login)
    posts: Counter[str] = Counter()
    channels = [
        world.names["channel"],
        world.names["approvals"],
        world.slack.dm_channel(world.names["dev"]),
        world.slack.dm_channel(world.names["approver"]),
    ]
    for channel in channels:
        for message in world.slack.messages(channel):
            meta = message.metadata or {}
            key = str((meta.get("event_payload") or {}).get("key") or "")
            if message.user == world.slack.bot_user_id and key:
                posts[_shape(key, grants)] += 1
    return {
        "grants": [
            (str(g.ip), g.state.value, g.released, g.rule_removed_at is not None) for g in grants
        ],
        "rules": sorted(rules),
        "entries": sorted((str(e.ip), e.value, e.state.value) for e in entries),
        "posts": dict(sorted(posts.items())),
    }


def _shape(key: str, grants: list[Grant]) -> str:
    for i, grant in enumerate(grants):
        key = key.replace(grant.id, f"<grant{i}>")
    return key.split(":C0")[0].split(":D")[0]


def check_invariants(world: RunWorld) -> None:
    """Beyond matching the clean run: the registry holds the foreign rule plus exactly the bot's
    entries that approved and active grants need; no message was posted twice."""
    ports = world.runtime.ports
    needed = {
        str(g.ip)
        for g in ports.grants.scan()
        if g.state.value in ("approved", "active") and not g.rule_preexisted
    }
    entries = ports.grants.entries(world.login)
    assert {str(e.ip) for e in entries} == needed
    assert all(e.state is EntryState.PRESENT for e in entries)
    assert sorted(world.arm.rules(world.registry)) == sorted([FOREIGN, *(e.value for e in entries)])
    for grant in ports.grants.scan():
        refs = ports.grants.messages(grant.id)
        mine = [r for r in refs if r.kind == REQUESTER_MESSAGE]
        assert len(mine) == 1, f"{grant.id}: {len(mine)} requester messages"
        shown = world.slack.message(mine[0].channel, mine[0].ts)
        assert shown.text == requester_message(grant, policy=ports.policy)[0], (
            "the requester's message is stale"
        )
        for card in (r for r in refs if r.kind == APPROVAL_CARD):
            assert world.slack.message(card.channel, card.ts).text == approval_text(grant)


# -- the suite -------------------------------------------------------------------------------------

#: Shards each job type's kill points are split into, so parallel workers share them.
SHARDS = 2
#: Every point, not only the distinct ones (`ACRBOT_CRASH_ALL=1`): slower, for a deep check.
EVERY_POINT = os.environ.get("ACRBOT_CRASH_ALL") == "1"


@pytest.mark.parametrize("shard", range(SHARDS))
@pytest.mark.parametrize("kind", list(SCENARIOS))
def test_every_kill_point_converges(
    kind: str, shard: int, make_run, tmp_path: Path, record_property
) -> None:
    scenario = SCENARIOS[kind]

    clean = make_run()
    spec = scenario(clean)
    traced: Run = run(spec, kill=None, trace=tmp_path / "trace.jsonl")
    assert traced.exitcode == 0, f"the clean {kind} run failed"
    settle(clean)
    expected = outcome(clean)
    check_invariants(clean)
    assert all(n == 1 for n in expected["posts"].values()), expected["posts"]

    points = (every_point if EVERY_POINT else distinct_points)(traced.steps)
    mine = points[shard::SHARDS]
    failures: list[str] = []
    for number, (point, where) in enumerate(mine):
        world = make_run()
        spec = scenario(world)
        died = run(spec, kill=point, trace=tmp_path / f"kill-{number}.jsonl")
        assert died.killed, f"{kind}: not killed {where}: {[s.name for s in died.steps]}"
        recover(world, spec, expected)
        got = outcome(world)
        try:
            check_invariants(world)
            assert got == expected
        except AssertionError as exc:
            failures.append(f"{where}: {exc}\n  expected {expected}\n  got      {got}")
    record_property("crash_figure", {"job": kind, "steps": len(traced.steps), "points": len(mine)})
    assert not failures, f"{len(failures)} of {len(mine)} kill points did not converge:\n" + (
        "\n".join(failures[:5])
    )
