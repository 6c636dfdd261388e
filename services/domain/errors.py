"""One refusal tree for everything the services decline or cannot do.

Four families, each a different answer for the person in Slack:
- `InvalidRequest` — what was asked is malformed or outside policy; asking differently may work.
- `NotAllowed` — this person may not do this to this grant.
- `Conflict` — the request is fine but the world is not as it assumed (already decided, quota
  full, public access disabled…); nothing was changed.
- `Unavailable` — a dependency (ARM, the lock, Slack's directory) failed; trying later may work.

Every message is written for a developer reading it in Slack: what was refused, and why. The Slack
layer turns any `DomainError` into its message in one place.
"""

from __future__ import annotations

from datetime import datetime, timedelta


class DomainError(Exception):
    """Base of every refusal the services raise; `message` is written for the person in Slack."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(DomainError):
    """The request is malformed or outside policy."""


class NotAllowed(DomainError):
    """The person may not do this."""


class Conflict(DomainError):
    """The request cannot be carried out in the current state; nothing was changed."""


class Unavailable(DomainError):
    """A dependency failed; the same request may succeed later."""

    #: A hint for a retry, when the failure says one.
    retry_after: timedelta | None = None


def _duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


# --- invalid requests -----------------------------------------------------------------------------


class UnsupportedIp(InvalidRequest):
    """The address cannot be granted: only single public IPv4 addresses can."""

    def __init__(self, ip: str, reason: str) -> None:
        super().__init__(f"`{ip}` cannot be allowed: {reason}")
        self.ip = ip
        self.reason = reason


class NotAnIp(UnsupportedIp):
    def __init__(self, ip: str) -> None:
        super().__init__(ip, "it is not an IPv4 address.")


class Ipv6NotSupported(UnsupportedIp):
    def __init__(self, ip: str) -> None:
        super().__init__(ip, "registry IP rules accept IPv4 only; pull over IPv4 instead.")


class NotPublicIp(UnsupportedIp):
    def __init__(self, ip: str, what: str) -> None:
        super().__init__(
            ip,
            f"it is a {what} address. IP rules act on the registry's public endpoint only; "
            "the registry sees your public egress IP (NAT gateway, proxy), not this one.",
        )


class RangeTooBroad(UnsupportedIp):
    def __init__(self, ip: str) -> None:
        super().__init__(ip, "only single addresses (/32) are granted, never ranges.")


class RegistryNotManaged(InvalidRequest):
    def __init__(self, registry: str) -> None:
        super().__init__(
            f"`{registry}` is not a registry this bot manages; ask an admin to add it."
        )
        self.registry = registry


class InvalidText(InvalidRequest):
    """A justification or reason that is too short, too long or empty."""


class InvalidDuration(InvalidRequest):
    def __init__(
        self, duration: timedelta, allowed: tuple[timedelta, ...], detail: str = ""
    ) -> None:
        choices = ", ".join(_duration(d) for d in allowed) or "none"
        super().__init__(
            detail or f"{_duration(duration)} is not an allowed duration (choose {choices})."
        )
        self.duration = duration
        self.allowed = allowed


class OfferExpired(InvalidRequest):
    def __init__(self) -> None:
        super().__init__(
            "This diagnosis is too old (or unknown) to request access from: the registry's rules "
            "may have changed. Paste the error again for a fresh diagnosis."
        )


class GrantNotFound(InvalidRequest):
    def __init__(self, grant_id: str) -> None:
        super().__init__(f"There is no request `{grant_id}`; it may have been cleaned up.")
        self.grant_id = grant_id


# --- not allowed ----------------------------------------------------------------------------------


class NotAnApprover(NotAllowed):
    def __init__(self, user_id: str, registry: str) -> None:
        super().__init__(f"Only the approvers of `{registry}` can decide this request.")
        self.user_id = user_id
        self.registry = registry


class SelfDecision(NotAllowed):
    def __init__(self, user_id: str) -> None:
        super().__init__("You cannot decide or extend your own request; another approver must.")
        self.user_id = user_id


class NotRequester(NotAllowed):
    def __init__(self, action: str) -> None:
        super().__init__(f"Only the person who asked can {action}.")


class NotRequesterOrApprover(NotAllowed):
    def __init__(self, registry: str) -> None:
        super().__init__(
            f"Only the person who asked or an approver of `{registry}` can revoke this grant."
        )


# --- conflicts ------------------------------------------------------------------------------------


class InvalidTransition(Conflict):
    """The grant is in a state where this step does not apply."""

    def __init__(self, grant_id: str, from_state: str, to_state: str, detail: str = "") -> None:
        super().__init__(detail or f"This request is {from_state}; it cannot become {to_state}.")
        self.grant_id = grant_id
        self.from_state = from_state
        self.to_state = to_state


class AlreadyDecided(InvalidTransition):
    """A decision arrived for a grant that is no longer pending (another approver was first), or
    an action for one that has ended. `decided_by` is the person who made it so (None when the
    bot did: a lapse, an expiry, a failure) and `decided_at` when."""

    def __init__(
        self, grant_id: str, state: str, to_state: str, by: str | None, at: datetime | None
    ) -> None:
        # Who and when are attributes, not text: the Slack layer renders them as a mention and
        # a date in the reader's time zone.
        super().__init__(
            grant_id, state, to_state, f"This request was already {state}; nothing changed."
        )
        self.decided_by = by
        self.decided_at = at
        self.state = state


class AlreadyApproved(Conflict):
    def __init__(self, user_id: str) -> None:
        super().__init__("You have approved this request already; it needs another approver.")
        self.user_id = user_id


class RequestLapsed(InvalidTransition):
    def __init__(self, grant_id: str, state: str, to_state: str) -> None:
        super().__init__(
            grant_id,
            state,
            to_state,
            "Nobody decided this request in time and it has lapsed; ask again if still needed.",
        )


class ExtensionRefused(InvalidTransition):
    pass


class TooManyOpenRequests(Conflict):
    def __init__(self, user_id: str, limit: int) -> None:
        super().__init__(
            f"You already have {limit} open requests, the most one person may have; "
            "withdraw one or wait for a decision."
        )
        self.user_id = user_id
        self.limit = limit


class QuotaHeadroomExhausted(Conflict):
    def __init__(self, registry: str, used: int, limit: int, headroom: int) -> None:
        super().__init__(
            f"`{registry}` uses {used} of its {limit} IP rules; the bot keeps {headroom} free for "
            "people and infrastructure-as-code, so it cannot add another. A NAT gateway with one "
            "permanent rule is the lasting fix."
        )
        self.registry = registry
        self.used = used
        self.limit = limit
        self.headroom = headroom


class RuleQuotaFull(Conflict):
    def __init__(self, registry: str, used: int, limit: int) -> None:
        super().__init__(
            f"`{registry}` already has {used} of its {limit} IP rules; no rule can be added "
            "until some are removed. A NAT gateway with one permanent rule is the lasting fix."
        )
        self.registry = registry
        self.used = used
        self.limit = limit


class PublicAccessDisabled(Conflict):
    def __init__(self, registry: str) -> None:
        super().__init__(
            f"`{registry}` has public network access disabled, which overrides every IP rule: "
            "an allow rule would change nothing. Reach it through its private endpoint."
        )
        self.registry = registry


class NotPremium(Conflict):
    def __init__(self, registry: str, sku: str | None) -> None:
        super().__init__(
            f"`{registry}` is on the {sku or 'unknown'} SKU; IP rules exist only on Premium "
            "registries, so its firewall cannot be what refused you."
        )
        self.registry = registry
        self.sku = sku


class RegistryNotFound(Conflict):
    def __init__(self, registry: str, resource_id: str) -> None:
        super().__init__(
            f"Azure says registry `{registry}` does not exist ({resource_id}); "
            "the bot's configuration may be out of date."
        )
        self.registry = registry
        self.resource_id = resource_id


class ConcurrentUpdate(Conflict):
    """The stored record changed since it was read (ETag mismatch); re-read and retry."""

    def __init__(self, key: str) -> None:
        super().__init__(f"`{key}` changed while being updated; try again.")
        self.key = key


# --- unavailable ----------------------------------------------------------------------------------


class ArmError(Unavailable):
    """Azure Resource Manager refused or failed a call the bot cannot fix by retrying alone."""

    def __init__(
        self, registry: str, message: str, *, status: int | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.registry = registry
        self.status = status
        self.code = code


class ArmUnavailable(ArmError):
    """ARM kept failing (throttling, 5xx, dropped connections) until the retries ran out."""


class WriteOutcomeUnknown(ArmUnavailable):
    """A PATCH was sent and no answer says whether it landed (a read time-out, a dropped
    connection, a gateway time-out, a lost lock): ARM may still apply it later. Never re-sent
    blind: the registry stays fenced until the write is seen or can no longer land."""

    def __init__(self, registry: str, detail: str) -> None:
        super().__init__(
            registry,
            f"Azure did not say whether the change to `{registry}`'s rules was made ({detail}); "
            "the bot waits until it can tell, then looks again.",
        )
        self.detail = detail


class WriteInFlight(Unavailable):
    """An earlier write to the registry may still land: nothing is written before `until`, or
    before a read shows it landed."""

    def __init__(self, registry: str, retry_after: timedelta) -> None:
        super().__init__(
            f"An earlier change to `{registry}`'s rules may still be landing; the bot looks again "
            "once it can tell."
        )
        self.registry = registry
        self.retry_after = retry_after


class LockLost(Unavailable):
    def __init__(self, registry: str, detail: str) -> None:
        super().__init__(
            f"The bot lost its write lock on `{registry}` ({detail}); the change was not made."
        )
        self.registry = registry


class VerificationFailed(Unavailable):
    def __init__(self, registry: str, detail: str) -> None:
        super().__init__(
            f"Azure accepted the change to `{registry}` but reading the rules back shows "
            f"{detail}. Someone may have edited the rules at the same moment; nothing is "
            "assumed done and the bot will look again."
        )
        self.registry = registry
        self.detail = detail


class DirectoryUnavailable(Unavailable):
    def __init__(self, group: str, detail: str) -> None:
        super().__init__(
            f"The approver group `{group}` could not be read from Slack ({detail}), so nobody "
            "can approve right now; try again in a few minutes."
        )
        self.group = group
        #: Why, as Slack said it (`no_such_subteam`, `missing_scope`…).
        self.detail = detail
