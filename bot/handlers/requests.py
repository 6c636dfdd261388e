"""`request`: a request for temporary access from a diagnosis card's form, or asked again from
one that ended. The approval card and
the requester's confirmation follow from the `requested` notice the flow queues. A redelivery
after the worker died resumes the same request: the grant's id is noted on the claim before the
grant is made."""

from __future__ import annotations

from typing import Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.jobs import Origin, RequestJob, Surface, duration_of
from bot.replies import STALE_CLAIM, Replier, StillRunning
from bot.views.format import mention
from bot.views.messages import refusal
from services.domain.claims import ClaimState
from services.domain.errors import DomainError
from services.domain.grants import APPROVAL_CARD, REQUESTER_THREAD, Grant, MessageRef, Requester
from services.domain.ids import new_ulid
from services.flows.requests import RequestPorts, request_again, request_from_offer
from services.ports import DeliveryLedger


class RequestJobPorts(RequestPorts, Protocol):
    @property
    def ledger(self) -> DeliveryLedger: ...


def handle(job: RequestJob, *, ports: RequestJobPorts, replier: Replier, slack: WebClient) -> None:
    key = f"request:{job.key}"
    claim = ports.ledger.begin(key, stale_after=STALE_CLAIM)
    if claim.state is ClaimState.DONE:
        return
    if claim.state is ClaimState.BUSY:
        raise StillRunning(key)
    origin = job.origin
    grant_id = claim.data.get("grant")
    if grant_id is None:
        grant_id = new_ulid(ports.clock.now())
        ports.ledger.note(key, grant=grant_id)
    try:
        try:
            requester = Requester(user_id=origin.user_id, team_id=origin.team_id)
            if job.again is not None:
                outcome = request_again(
                    ports,
                    job.again,
                    requester=requester,
                    justification=job.justification,
                    duration=duration_of(job.duration_seconds),
                    origin=_thread(origin),
                    grant_id=grant_id,
                )
            else:
                outcome = request_from_offer(
                    ports,
                    job.offer_id,
                    requester=requester,
                    justification=job.justification,
                    duration=duration_of(job.duration_seconds),
                    ip=job.ip,
                    origin=_thread(origin),
                    grant_id=grant_id,
                )
        except DomainError as exc:
            replier.tell(origin, refusal(exc))
        else:
            if not outcome.created:
                _already_open(ports, replier, slack, origin, outcome.grant)
    except Exception:
        ports.ledger.fail(key)
        raise
    ports.ledger.finish(key)


def _thread(origin: Origin) -> MessageRef | None:
    """Where the requester is told how it goes: the thread the request came from (not a slash
    command's, which has no message to thread under)."""
    if not origin.channel_id or origin.surface is Surface.SLASH:
        return None
    ts = origin.thread_ts or origin.message_ts
    return MessageRef(kind=REQUESTER_THREAD, channel=origin.channel_id, ts=ts) if ts else None


def _already_open(
    ports: RequestJobPorts, replier: Replier, slack: WebClient, origin: Origin, grant: Grant
) -> None:
    link = _card_link(ports, slack, grant.id)
    where = f" <{link}|Its approval card>." if link else ""
    replier.tell(
        origin,
        f"There is already an open request for `{grant.ip}` on `{grant.registry}` "
        f"({grant.state.value}, asked by {mention(grant.requester.user_id)}); "
        f"it covers you too.{where}",
    )


def _card_link(ports: RequestJobPorts, slack: WebClient, grant_id: str) -> str | None:
    """A link to the grant's approval card, when Slack gives one."""
    card = next((r for r in ports.grants.messages(grant_id) if r.kind == APPROVAL_CARD), None)
    if card is None:
        return None
    try:
        answer = slack.chat_getPermalink(channel=card.channel, message_ts=card.ts)
    except SlackApiError:
        return None
    link = answer.get("permalink")
    # Slack's own https link; anything else is not shown (it would be live markup).
    return (
        link if isinstance(link, str) and link.startswith("https://") and "|" not in link else None
    )
