"""Snapshots of the short messages: help and acknowledgements, every refusal a person can meet
(each `DomainError` as `refusal` words it), and the failed-job message."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import timedelta

import pytest
from syrupy.assertion import SnapshotAssertion

from bot.files import AttachedText, Refusal
from bot.views.messages import (
    DIAGNOSING,
    EMPTY_MENTION,
    FOREIGN_WORKSPACE,
    HELP,
    failed_job,
    file_refusal,
    refusal,
)
from services.domain import errors
from services.domain import grants as g
from services.domain.errors import DomainError
from tests.bot.views.samples import (
    APPROVER,
    APPROVER_2,
    APPROVER_IDS,
    GRANT_ID,
    GRANTS,
    POLICY,
    REGISTRY,
    REQUESTER,
    at,
    message,
)

TEXTS = {
    "help": HELP,
    "diagnosing": DIAGNOSING,
    "empty_mention": EMPTY_MENTION,
    "foreign_workspace": FOREIGN_WORKSPACE,
}


@pytest.mark.parametrize("name", list(TEXTS))
def test_message_text(name: str, snapshot_json: SnapshotAssertion) -> None:
    assert message(TEXTS[name]) == snapshot_json


@pytest.mark.parametrize("what", ["diagnosing your paste", "recording your decision"])
def test_failed_job(what: str, snapshot_json: SnapshotAssertion) -> None:
    """As the worker answers a job that kept failing (its text beside the builder's blocks)."""
    ref = "0f8e1c2d-4b5a-4c3d-9e8f-7a6b5c4d3e2f"
    text = f"Sorry, I could not finish {what} (reference {ref})."
    assert message(text, failed_job(what, ref)) == snapshot_json


#: What Slack says of a file of each refused kind (the name carries markup, which is escaped).
REFUSED_FILES = {
    Refusal.NOT_TEXT: {"name": "pull <error>.png", "kind": "PNG"},
    Refusal.BINARY: {"name": "core.dump.log"},
    Refusal.EMPTY: {"name": "empty.txt"},
    Refusal.EXTERNAL: {"name": "build.log (Google Drive)"},
    Refusal.NOT_FOUND: {"name": "build.log"},
    Refusal.NO_ACCESS: {"name": "build.log"},
}


@pytest.mark.parametrize("why", list(Refusal))
def test_file_refusal(why: Refusal, snapshot_json: SnapshotAssertion) -> None:
    file = AttachedText(file_id="F0FILE", **REFUSED_FILES[why], refusal=why)  # type: ignore[arg-type]
    assert message(file_refusal(file)) == snapshot_json


def _raised(transition: Callable[[], object]) -> DomainError:
    """The refusal a transition raises, as the flows meet it."""
    try:
        transition()
    except DomainError as exc:
        return exc
    raise AssertionError("the transition was not refused")


ARM_RESOURCE = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-registries/providers/"
    "Microsoft.ContainerRegistry/registries/contosoprod"
)

#: One refusal of each kind, with the words a real one carries.
REFUSALS: dict[str, Callable[[], DomainError]] = {
    "UnsupportedIp": lambda: errors.UnsupportedIp("91.38.188.0/24", "it is a range."),
    "NotAnIp": lambda: errors.NotAnIp("91.38.188"),
    "Ipv6NotSupported": lambda: errors.Ipv6NotSupported("2a02:8071:5e1:a00::1"),
    "NotPublicIp": lambda: errors.NotPublicIp("10.240.0.17", "private"),
    "RangeTooBroad": lambda: errors.RangeTooBroad("91.38.188.0/24"),
    "RegistryNotManaged": lambda: errors.RegistryNotManaged("fabrikamshared.azurecr.io"),
    "InvalidText": lambda: _raised(lambda: g.validate_justification("asap", POLICY)),
    "InvalidDuration": lambda: _raised(lambda: g.validate_duration(timedelta(hours=48), POLICY)),
    "OfferExpired": errors.OfferExpired,
    "GrantNotFound": lambda: errors.GrantNotFound(GRANT_ID),
    "NotAnApprover": lambda: _raised(
        lambda: g.approve(
            GRANTS["pending"](), approver="U0EVE", approvers=APPROVER_IDS, now=at(5), policy=POLICY
        )
    ),
    "SelfDecision": lambda: _raised(
        lambda: g.approve(
            GRANTS["pending"](),
            approver=REQUESTER,
            approvers=(REQUESTER,),
            now=at(5),
            policy=POLICY,
        )
    ),
    "NotRequester": lambda: _raised(
        lambda: g.withdraw(GRANTS["pending"](), actor=APPROVER, now=at(5))
    ),
    "NotRequesterOrApprover": lambda: _raised(
        lambda: g.revoke(
            GRANTS["active"](), actor="U0EVE", approvers=APPROVER_IDS, now=at(60), reason=None
        )
    ),
    "InvalidTransition": lambda: _raised(lambda: g.expire(GRANTS["active"](), now=at(60))),
    "AlreadyDecided_by_a_person": lambda: _raised(
        lambda: g.approve(
            GRANTS["denied"](),
            approver=APPROVER_2,
            approvers=APPROVER_IDS,
            now=at(8),
            policy=POLICY,
        )
    ),
    "AlreadyDecided_after_a_lapse": lambda: _raised(
        lambda: g.approve(
            GRANTS["lapsed"](),
            approver=APPROVER,
            approvers=APPROVER_IDS,
            now=at(600),
            policy=POLICY,
        )
    ),
    "AlreadyDecided_after_expiry": lambda: _raised(
        lambda: g.revoke(
            GRANTS["expired_rule_removed"](),
            actor=APPROVER,
            approvers=APPROVER_IDS,
            now=at(300),
            reason=None,
        )
    ),
    "AlreadyApproved": lambda: _raised(
        lambda: g.approve(
            GRANTS["pending_second_approval"](),
            approver=APPROVER,
            approvers=APPROVER_IDS,
            now=at(6),
            policy=POLICY,
        )
    ),
    "RequestLapsed": lambda: _raised(
        lambda: g.approve(
            GRANTS["pending"](),
            approver=APPROVER,
            approvers=APPROVER_IDS,
            now=at(9 * 60),
            policy=POLICY,
        )
    ),
    "ExtensionRefused": lambda: _raised(
        lambda: g.request_extension(
            GRANTS["active"](),
            actor=REQUESTER,
            duration=timedelta(hours=1),
            now=at(500),
            policy=POLICY,
        )
    ),
    "TooManyOpenRequests": lambda: errors.TooManyOpenRequests(REQUESTER, 3),
    "QuotaHeadroomExhausted": lambda: errors.QuotaHeadroomExhausted(REGISTRY, 196, 200, 5),
    "RuleQuotaFull": lambda: errors.RuleQuotaFull(REGISTRY, 200, 200),
    "PublicAccessDisabled": lambda: errors.PublicAccessDisabled("contosoprivate.azurecr.io"),
    "NotPremium": lambda: errors.NotPremium("contosodev.azurecr.io", "Standard"),
    "RegistryNotFound": lambda: errors.RegistryNotFound(REGISTRY, ARM_RESOURCE),
    "ConcurrentUpdate": lambda: errors.ConcurrentUpdate(f"grant {GRANT_ID}"),
    "ArmError": lambda: errors.ArmError(
        REGISTRY,
        "Azure refused the update of `contosoprod.azurecr.io` (403 AuthorizationFailed): the "
        "bot's identity lacks Microsoft.ContainerRegistry/registries/write.",
        status=403,
        code="AuthorizationFailed",
    ),
    "ArmUnavailable": lambda: errors.ArmUnavailable(
        REGISTRY,
        "Azure kept failing for `contosoprod.azurecr.io` (429 TooManyRequests); the bot tries "
        "again shortly.",
        status=429,
    ),
    "WriteOutcomeUnknown": lambda: errors.WriteOutcomeUnknown(REGISTRY, "the read timed out"),
    "WriteInFlight": lambda: errors.WriteInFlight(REGISTRY, timedelta(minutes=2)),
    "LockLost": lambda: errors.LockLost(REGISTRY, "the lease could not be renewed"),
    "VerificationFailed": lambda: errors.VerificationFailed(REGISTRY, "`91.38.188.165` missing"),
    "DirectoryUnavailable": lambda: errors.DirectoryUnavailable("S0PLATFORM", "missing_scope"),
}

#: The refusal families themselves: never raised bare, so never worded on their own.
FAMILIES = {
    errors.DomainError,
    errors.InvalidRequest,
    errors.NotAllowed,
    errors.Conflict,
    errors.Unavailable,
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_refusal(name: str, snapshot_json: SnapshotAssertion) -> None:
    exc = REFUSALS[name]()
    assert type(exc).__name__ == name.split("_", maxsplit=1)[0]
    assert message(refusal(exc)) == snapshot_json


def test_every_refusal_has_a_snapshot() -> None:
    kinds = {
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, DomainError) and cls.__module__ == errors.__name__
    }
    covered = {type(make()) for make in REFUSALS.values()}
    assert kinds - FAMILIES == covered
