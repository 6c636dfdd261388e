"""Work the services hand to the queue: reconcile a registry, tell people a grant changed.

Jobs are pydantic models sent as JSON (base64 text on the Storage queue). Every job carries a
`key`; handlers are idempotent, and the delivery ledger turns a repeated key into no effect where
the effect is not idempotent by itself (a message posted to a person). The Slack layer adds its
own job kinds next to these.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Annotated, Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from services.domain.grants import Grant, GrantState


class Job(Protocol):
    """What the job queue carries: a value that names its `kind` and writes itself as JSON.
    The jobs here are pydantic models; the Slack side's are plain dataclasses with the same
    method (`bot.jobs`), so that acknowledging a request never loads pydantic."""

    @property
    def kind(self) -> str: ...

    def model_dump_json(self) -> str: ...


class ReconcileJob(BaseModel):
    """Converge one registry's rules with its grants (see `services.flows.reconcile`)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["reconcile"] = "reconcile"
    #: Login server of the registry.
    registry: str
    #: Read the registry even when the store shows nothing to do (the sweep's check for rules
    #: removed by hand).
    check: bool = False
    #: How many times this registry was found busy or failing in a row (for the back-off).
    attempt: int = Field(default=0, ge=0)

    @property
    def key(self) -> str:
        return f"reconcile:{self.registry}:{self.attempt}"


class ExpireJob(BaseModel):
    """A grant's deadline: queued when it becomes active (or is extended), visible at the
    deadline, so the rule goes within about a minute of it; the sweep stays the safety net."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["expire"] = "expire"
    grant_id: str
    #: The deadline this job was queued for (an extension queues a new one; this one then finds
    #: the grant running longer and does nothing).
    at: AwareDatetime

    @property
    def key(self) -> str:
        return f"expire:{self.grant_id}:{self.at.isoformat()}"


class GrantEvent(StrEnum):
    REQUESTED = "requested"
    APPROVAL_ADDED = "approval_added"
    APPROVED = "approved"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"
    LAPSED = "lapsed"
    ACTIVATED = "activated"
    FAILED = "failed"
    APPLY_DELAYED = "apply_delayed"
    EXTENSION_REQUESTED = "extension_requested"
    EXTENSION_DENIED = "extension_denied"
    EXTENDED = "extended"
    EXPIRED = "expired"
    REVOKED = "revoked"
    RULE_REMOVED = "rule_removed"
    RULE_VANISHED = "rule_vanished"
    EXPIRY_REMINDER = "expiry_reminder"
    LAPSE_REMINDER = "lapse_reminder"


class GrantNotice(BaseModel):
    """Something happened to a grant that people should see (cards updated, requester told).

    Sent ahead: a flow queues the notice before it stores the change it announces, so a process
    dying between the two loses no notice. The handler tells people only once the grant shows
    the change (`reached`); until then it looks again a little later (`attempt`), and a notice
    whose change never happened (the flow died before it, and nothing redid it) is dropped.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["grant_notice"] = "grant_notice"
    grant_id: str
    event: GrantEvent
    #: Who caused it, when a person did.
    actor: str | None = None
    #: Makes the key unique when the same event can happen twice (extensions, reminders).
    seq: str = ""
    #: How many times the handler found the grant not yet changed.
    attempt: int = Field(default=0, ge=0)

    @property
    def key(self) -> str:
        return f"notice:{self.grant_id}:{self.event.value}:{self.seq}"


def _count(seq: str) -> int:
    return int(seq) if seq.isdigit() else 0


def reached(grant: Grant, notice: GrantNotice) -> bool:
    """Whether `grant` shows the change `notice` announces (now, or as a step it went past)."""
    event, state = notice.event, grant.state
    checks: dict[GrantEvent, bool] = {
        GrantEvent.REQUESTED: True,
        GrantEvent.APPLY_DELAYED: True,
        GrantEvent.APPROVAL_ADDED: len(grant.approvals) >= _count(notice.seq),
        GrantEvent.APPROVED: grant.decided_at is not None
        and state not in (GrantState.PENDING, GrantState.DENIED),
        GrantEvent.DENIED: state is GrantState.DENIED,
        GrantEvent.WITHDRAWN: state is GrantState.WITHDRAWN,
        GrantEvent.LAPSED: state is GrantState.LAPSED,
        GrantEvent.ACTIVATED: grant.activated_at is not None,
        GrantEvent.FAILED: state is GrantState.FAILED,
        # Extension notices are numbered by `Grant.extension_answers` (see `flows.decisions`).
        GrantEvent.EXTENSION_REQUESTED: grant.extension_requested is not None
        or grant.extension_answers > _count(notice.seq),
        GrantEvent.EXTENSION_DENIED: grant.extension_answers >= _count(notice.seq),
        GrantEvent.EXTENDED: grant.extension_answers >= _count(notice.seq),
        GrantEvent.EXPIRED: state is GrantState.EXPIRED,
        GrantEvent.REVOKED: state is GrantState.REVOKED,
        GrantEvent.RULE_REMOVED: grant.rule_removed_at is not None,
        GrantEvent.RULE_VANISHED: grant.rule_vanished_at is not None,
        GrantEvent.EXPIRY_REMINDER: grant.remind_at is None or not grant.is_open,
        GrantEvent.LAPSE_REMINDER: grant.lapse_remind_at is None or not grant.is_open,
    }
    return checks[event]


class RegistryNotice(BaseModel):
    """Rules of a registry changed without the bot's plan while it wrote (someone edited them at
    the same moment, or an earlier write of the bot's landed late with an older list): the
    approvers are told which rules, so a person can put back what was lost."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["registry_notice"] = "registry_notice"
    registry: str
    vanished: tuple[str, ...] = ()
    appeared: tuple[str, ...] = ()
    #: The vanished rules were taken by the bot's own write landing late.
    late: bool = False
    rules_before: tuple[str, ...] = ()
    rules_written: tuple[str, ...] = ()
    rules_after: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        digest = hashlib.sha256(
            "|".join((*self.vanished, "#", *self.appeared, "#", *self.rules_after)).encode()
        ).hexdigest()[:16]
        return f"registry-notice:{self.registry}:{digest}"


#: The jobs the services send; the Slack layer's worker accepts these and its own kinds.
ServiceJob = Annotated[
    ReconcileJob | GrantNotice | RegistryNotice | ExpireJob, Field(discriminator="kind")
]
SERVICE_JOBS: TypeAdapter[ReconcileJob | GrantNotice | RegistryNotice | ExpireJob] = TypeAdapter(
    ServiceJob
)
