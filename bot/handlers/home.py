"""`home`: publish a person's App Home from the grants and registries as they are now."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.jobs import HomeJob
from bot.sealed import ReviewButton
from bot.views.home import home_view, review_text
from services.domain.grants import Grant
from services.flows.home import HomePorts, home_of


def handle(job: HomeJob, *, ports: HomePorts, slack: WebClient, secret: str) -> None:
    publish(ports, slack, secret, team_id=job.team_id, user_id=job.user_id)


def publish(ports: HomePorts, slack: WebClient, secret: str, *, team_id: str, user_id: str) -> None:
    home = home_of(ports, team_id=team_id, user_id=user_id)

    def review(grant: Grant) -> str:
        return ReviewButton(
            grant=grant.id,
            about=review_text(grant),
            asked_seconds=int(grant.requested_duration.total_seconds()),
        ).seal(secret)

    view = home_view(
        mine=home.mine,
        waiting=home.waiting,
        active=home.active,
        registries=home.registries,
        is_approver=home.is_approver,
        now=ports.clock.now(),
        review=review,
        policy=ports.policy,
    )
    slack.views_publish(user_id=user_id, view=view)
