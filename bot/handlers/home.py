"""`home`: publish a person's App Home from the grants and registries as they are now."""

from __future__ import annotations

from slack_sdk import WebClient

from bot.jobs import HomeJob
from bot.views.home import home_view
from services.flows.home import HomePorts, home_of


def handle(job: HomeJob, *, ports: HomePorts, slack: WebClient) -> None:
    publish(ports, slack, team_id=job.team_id, user_id=job.user_id)


def publish(ports: HomePorts, slack: WebClient, *, team_id: str, user_id: str) -> None:
    home = home_of(ports, team_id=team_id, user_id=user_id)
    view = home_view(
        mine=home.mine,
        waiting=home.waiting,
        active=home.active,
        registries=home.registries,
        is_approver=home.is_approver,
        now=ports.clock.now(),
    )
    slack.views_publish(user_id=user_id, view=view)
