"""Shortcuts for flow tests: a requested, approved or active grant in a few words."""

from __future__ import annotations

from datetime import timedelta

from services.domain.grants import Grant, Requester
from services.flows.decisions import approve_grant
from services.flows.reconcile import ReconcileReport, reconcile_registry
from services.flows.requests import request_grant
from tests.fakes.ports import APPROVER, REQUESTER, TEAM, Fakes

LOGIN = "contoso.azurecr.io"


def requester(user: str = REQUESTER) -> Requester:
    return Requester(user_id=user, team_id=TEAM)


def request(
    fakes: Fakes,
    ip: str = "20.1.2.3",
    *,
    user: str = REQUESTER,
    registry: str = LOGIN,
    duration: timedelta | None = timedelta(hours=1),
) -> Grant:
    return request_grant(
        fakes.ports,
        registry=registry,
        ip=ip,
        requester=requester(user),
        justification="deploying the hotfix to production",
        duration=duration,
    ).grant


def approved(fakes: Fakes, ip: str = "20.1.2.3", **kwargs: object) -> Grant:
    grant = request(fakes, ip, **kwargs)  # type: ignore[arg-type]
    return approve_grant(fakes.ports, grant.id, approver=APPROVER)


def reconcile(fakes: Fakes, registry: str = LOGIN, **kwargs: object) -> ReconcileReport:
    return reconcile_registry(fakes.ports, registry, **kwargs)  # type: ignore[arg-type]


def active(fakes: Fakes, ip: str = "20.1.2.3", **kwargs: object) -> Grant:
    grant = approved(fakes, ip, **kwargs)
    reconcile(fakes, grant.registry)
    return fakes.ports.grants.get(grant.id)[0]


def state_of(fakes: Fakes, grant: Grant) -> str:
    return fakes.ports.grants.get(grant.id)[0].state.value
