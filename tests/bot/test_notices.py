"""The notice handler against the Slack emulator on the in-memory ports: a message is never sent
what it already shows, and a notice whose grant changes while it updates Slack ends showing the
later state (another worker's transition, played at the moment it can happen: between this
worker's update and its record of it)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from slack_sdk import WebClient

from bot.notices import Notices
from bot.replies import Replier
from sandbox.slack_emulator import SlackEmulator
from services.domain.grants import APPROVAL_CARD, REQUESTER_MESSAGE, GrantState, MessageRef
from services.domain.jobs import GrantEvent, GrantNotice
from services.flows.decisions import approve_grant
from tests.fakes.ports import APPROVER, APPROVER_2, REQUESTER, Fakes, config, make_fakes
from tests.fakes.stores import InMemoryGrantStore
from tests.services.flows.helpers import request

TOKEN = "xoxb-notices"
APPROVALS = "C0APPROVALS"


class RacedStore(InMemoryGrantStore):
    """The grant store, with another worker's change made once, right when this worker records
    where a message is or what it shows (after its Slack call, before it reads the grant again)."""

    def __init__(self, clock) -> None:
        super().__init__(clock)
        self.meanwhile: Callable[[], object] | None = None
        self.reads = 0

    def get(self, grant_id: str):
        self.reads += 1
        return super().get(grant_id)

    def add_message(self, grant_id: str, ref: MessageRef) -> None:
        super().add_message(grant_id, ref)
        change, self.meanwhile = self.meanwhile, None
        if change is not None:
            change()


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator(bot_token=TOKEN) as emulator:
        for user in (REQUESTER, APPROVER, APPROVER_2):
            emulator.add_user(user, user.lower())
        emulator.add_channel(APPROVALS, "acr-approvals", members=[APPROVER], bot_is_member=True)
        yield emulator


def _world(slack: SlackEmulator, **registry: object) -> tuple[Fakes, RacedStore, Notices]:
    made = make_fakes(config(**registry))
    store = RacedStore(made.clock)
    fakes = replace(made, ports=replace(made.ports, grants=store), grants=store)
    client = WebClient(token=TOKEN, base_url=slack.api_url)
    replier = Replier(client, fakes.ports.ledger, api_url=slack.api_url, retry_backoff=0)
    notices = Notices(
        ports=fakes.ports,
        replier=replier,
        policy=fakes.ports.policy,
        approvals_channel=APPROVALS,
        rechecks=(0.0,),
        secret="s3cret",
    )
    return fakes, store, notices


def _card_text(slack: SlackEmulator, store: RacedStore, grant_id: str) -> str:
    [card] = [r for r in store.messages(grant_id) if r.kind == APPROVAL_CARD]
    return json.dumps(slack.message(card.channel, card.ts).blocks)


def test_a_notice_that_changes_nothing_sends_nothing_and_reads_the_grant_once(slack) -> None:
    fakes, store, notices = _world(slack)
    grant = request(fakes)
    notices.handle(GrantNotice(grant_id=grant.id, event=GrantEvent.REQUESTED))
    updates = len(slack.calls("chat.update"))
    posts = len(slack.calls("chat.postMessage"))
    store.reads = 0

    # The same state told again (a redelivery, a later notice whose change is shown already).
    notices.handle(GrantNotice(grant_id=grant.id, event=GrantEvent.APPROVAL_ADDED, seq="again"))

    assert len(slack.calls("chat.update")) == updates
    assert len(slack.calls("chat.postMessage")) == posts
    assert store.reads == 1


def test_a_grant_changed_while_its_messages_update_ends_showing_the_later_state(slack) -> None:
    fakes, store, notices = _world(slack, required_approvals=2)
    grant = request(fakes)
    notices.handle(GrantNotice(grant_id=grant.id, event=GrantEvent.REQUESTED))
    approve_grant(fakes.ports, grant.id, approver=APPROVER)

    # The first approval's notice updates the messages; while it records that, the second
    # approver approves in another worker (whose own notice has not run).
    store.meanwhile = lambda: approve_grant(fakes.ports, grant.id, approver=APPROVER_2)
    notices.handle(GrantNotice(grant_id=grant.id, event=GrantEvent.APPROVAL_ADDED))

    assert fakes.ports.grants.get(grant.id)[0].state is GrantState.APPROVED
    card = _card_text(slack, store, grant.id)
    assert f"Approved by <@{APPROVER}>, <@{APPROVER_2}>" in card
    assert "waiting for a second approval" not in card
    [mine] = [r for r in store.messages(grant.id) if r.kind == REQUESTER_MESSAGE]
    shown = json.dumps(slack.message(mine.channel, mine.ts).blocks)
    assert f"Approved by <@{APPROVER}>, <@{APPROVER_2}>" in shown
