"""The ports: what the flows need from the outside world, as `typing.Protocol`s.

Each has one real adapter in `services/azure/` (or `bot/` for Slack's directory) and one in-memory
fake in `tests/fakes/`, both held to the same contract tests. `Ports` names every collaborator a
flow may be given; each flow takes a narrower protocol naming the ones it uses.
`services.bootstrap` is the one place that builds the real ones from settings.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple, Protocol

# The types the protocols name are for the checker alone: a module that imports a port (every
# flow, every adapter) then loads only the domain it uses itself, so a reconcile never loads the
# diagnosis's or the egress lookup's models through here.
if TYPE_CHECKING:
    import ipaddress
    from collections.abc import Iterable, Iterator, Sequence
    from contextlib import AbstractContextManager

    from services.clock import Clock
    from services.diagnosis.known_ips import KnownIps
    from services.diagnosis.service_tags import ServiceTagIndex
    from services.domain.access import PermissionSet
    from services.domain.audit import AuditEvent
    from services.domain.claims import Claim
    from services.domain.egress import EgressReading, PublicIpOwner, ResourceKind, ResourceRef
    from services.domain.failure import PastedResource
    from services.domain.grants import Grant, GrantState, IndexRow, MessageRef
    from services.domain.jobs import Job
    from services.domain.offers import Offer
    from services.domain.policy import Policy, RegistryConfig, RegistryDirectory
    from services.domain.reconcile import Fence, OwnedEntry, ReconcileTiming
    from services.domain.registry import RawRule, RegistrySnapshot, RegistryState, RuleUsage


class RegistryGateway(Protocol):
    """A registry's network rules on Azure Resource Manager. No lock, no cache: the reconcile
    flow holds the lock around `read` → `write`."""

    def usage(self, registry: RegistryConfig) -> RuleUsage:
        """IP rules used and allowed (`listUsages`); the documented limit when ARM cannot say."""
        ...

    def read(self, registry: RegistryConfig) -> RegistrySnapshot:
        """The registry as ARM returns it now."""
        ...

    def write(
        self, registry: RegistryConfig, snapshot: RegistrySnapshot, ip_rules: list[RawRule]
    ) -> RegistrySnapshot:
        """PATCH the network rule set read in `snapshot` with only `ipRules` replaced, wait for
        the long-running operation, and return the registry as read after it."""
        ...


class RegistryAccess(Protocol):
    """What the calling identity may do on a registry, as Azure RBAC computes it (the doctor's
    check that the bot's role reaches each registry, without writing to it)."""

    def permissions(self, registry: RegistryConfig) -> tuple[PermissionSet, ...]:
        """The caller's permission sets at the registry's scope (one per role assignment);
        `ArmError` when ARM refuses to say."""
        ...


class Lease(Protocol):
    def check(self) -> None:
        """Raise `LockLost` when the lock was lost while held (its renewal failed)."""
        ...

    def confirm(self) -> None:
        """Ask the lock's store, now, whether it is still held (`LockLost` when not): the
        fencing check after a write, which a lease that lapsed during it fails."""
        ...


class RegistryLock(Protocol):
    def try_hold(self, registry: str) -> AbstractContextManager[Lease] | None:
        """The registry's write lock, held for the `with` block; None at once when busy."""
        ...


class IndexEntry(NamedTuple):
    """A stored index row: which grant it names, when it was written, and its ETag."""

    partition: str
    row: str
    grant_id: str
    written_at: datetime
    etag: str


class GrantStore(Protocol):
    """Grants, their index rows, the bot's own rule entries and where their messages are."""

    def create(self, grant: Grant) -> None:
        """Store a new grant (`ConcurrentUpdate` if the id exists)."""
        ...

    def get(self, grant_id: str) -> tuple[Grant, str]:
        """The grant and its ETag; `GrantNotFound` when absent or the id is malformed."""
        ...

    def replace(self, grant: Grant, etag: str) -> str:
        """Write `grant` only if unchanged since `etag` (`ConcurrentUpdate` otherwise)."""
        ...

    def delete(self, grant_id: str) -> None: ...

    def scan(
        self, *, registry: str | None = None, state: GrantState | None = None
    ) -> Iterator[Grant]:
        """Every stored grant matching the filters (an operator's listing; not on hot paths)."""
        ...

    def put_rows(self, rows: Iterable[IndexRow], grant_id: str) -> None:
        """Write plain (non-claim) index rows naming `grant_id`; idempotent."""
        ...

    def drop_rows(self, rows: Iterable[IndexRow], grant_id: str) -> None:
        """Delete index rows; a claim row only while it names `grant_id`."""
        ...

    def claim(self, row: IndexRow, grant_id: str) -> bool:
        """Create a claim row naming `grant_id`; False when it exists already."""
        ...

    def holder(self, row: IndexRow) -> IndexEntry | None:
        """The stored row, if any."""
        ...

    def take_over(self, row: IndexRow, grant_id: str, etag: str) -> bool:
        """Re-point a claim row at `grant_id` if unchanged since `etag`."""
        ...

    def rows(
        self, partition: str, *, after: str | None = None, until: str | None = None
    ) -> list[IndexEntry]:
        """Rows of one partition with `after < row key <= until + '~'` (bounds optional)."""
        ...

    def entries(self, registry: str) -> list[OwnedEntry]:
        """The bot's entries on `registry` (written and dropped with its fence: `commit`)."""
        ...

    def fence(self, registry: str) -> tuple[Fence | None, str | None]:
        """The registry's fence and its ETag (None, None when the bot never wrote it)."""
        ...

    def commit(
        self,
        registry: str,
        *,
        fence: Fence,
        etag: str | None,
        put: Iterable[OwnedEntry] = (),
        drop: Iterable[ipaddress.IPv4Address] = (),
    ) -> str:
        """Write the fence, only if unchanged since `etag` (None: only if there is none), with
        entries put and dropped, in one atomic write where the store allows (`ConcurrentUpdate`
        when the fence changed); returns the fence's new ETag."""
        ...

    def fences(self) -> list[Fence]:
        """Every registry the bot has written to, as its fence (including registries that have
        left the configuration since)."""
        ...

    def put_offer(self, offer: Offer) -> None: ...

    def get_offer(self, offer_id: str) -> Offer | None: ...

    def add_message(self, grant_id: str, ref: MessageRef) -> None: ...

    def messages(self, grant_id: str) -> list[MessageRef]: ...


class AuditLog(Protocol):
    def append(self, event: AuditEvent, *, partitions: Iterable[str] = ()) -> None:
        """Record `event` under its grant or registry, and under each extra partition."""
        ...

    def for_grant(self, grant_id: str) -> list[AuditEvent]:
        """A grant's events, oldest first."""
        ...

    def for_registry(self, registry: str, *, since: datetime | None = None) -> list[AuditEvent]:
        """A registry's changes, oldest first."""
        ...


class DeliveryLedger(Protocol):
    def claim(self, delivery_id: str) -> bool:
        """True the first time `delivery_id` is seen (go ahead), False for a repeat. For effects
        that happen at once (a Slack event's acknowledgement); work that may die halfway uses
        `begin` … `finish`."""
        ...

    def release(self, delivery_id: str) -> None:
        """Forget a claim whose processing failed, so a redelivery is processed again."""
        ...

    def begin(self, delivery_id: str, *, stale_after: timedelta) -> Claim:
        """Start (or resume) the work of `delivery_id`: a claim that records progress. An
        unfinished claim older than `stale_after` (its worker died) is taken over."""
        ...

    def note(self, delivery_id: str, **data: str) -> None:
        """Record progress on a begun claim (merged into its data)."""
        ...

    def finish(self, delivery_id: str, **data: str) -> None:
        """The work is done (with what it made, merged into the data): a later delivery of the
        same id does nothing."""
        ...

    def fail(self, delivery_id: str) -> None:
        """This attempt failed cleanly: the next delivery resumes at once."""
        ...

    def purge(self, older_than: datetime) -> int: ...


class JobQueue(Protocol):
    def send(self, job: Job, *, delay: timedelta = timedelta(0)) -> None:
        """Enqueue `job` (its JSON, which names its `kind`), visible after `delay`."""
        ...


class ApproverDirectory(Protocol):
    def members(self, group: str) -> frozenset[str]:
        """The user ids in a user group; `DirectoryUnavailable` when it cannot be read (then
        nobody can approve, never everybody)."""
        ...


class RegistryStateCache(Protocol):
    """Registry states (GET + listUsages) for diagnoses, reused for a few seconds per registry;
    the reconcile always reads fresh under the lock."""

    def get(self, config: RegistryConfig) -> RegistryState: ...

    def forget(self, config: RegistryConfig) -> None: ...


class Ports(Protocol):
    """Every collaborator a flow may be given. Each flow names the ones it uses in a narrower
    protocol of its own (`BookPorts`, `ReconcilePorts`, …); `services.bootstrap` builds the
    Azure ones, each on first use, and `tests/fakes` the in-memory ones."""

    @property
    def registries(self) -> RegistryDirectory: ...

    @property
    def policy(self) -> Policy: ...

    @property
    def grants(self) -> GrantStore: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def ledger(self) -> DeliveryLedger: ...

    @property
    def registry(self) -> RegistryGateway: ...

    @property
    def lock(self) -> RegistryLock: ...

    @property
    def jobs(self) -> JobQueue: ...

    @property
    def approvers(self) -> ApproverDirectory: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def lookups(self) -> AddressLookups: ...

    @property
    def timing(self) -> ReconcileTiming:
        """When a busy or failing reconcile runs again; how long a write may still land."""
        ...

    @property
    def dry_run(self) -> bool:
        """Log what a reconcile would write and write nothing."""
        ...

    @property
    def states(self) -> RegistryStateCache | None:
        """Registry states reused by diagnoses for a few seconds (None: read every time)."""
        ...

    @property
    def egress(self) -> EgressLookup | None:
        """Outbound addresses of the resource a paste came from, and whose a pasted address is
        (None: the bot has no Reader access; cards give the manual advice)."""
        ...


class AddressLookups(Protocol):
    """The organisation's known egress IPs and Azure's service tags, for the diagnosis."""

    @property
    def known_ips(self) -> KnownIps: ...

    @property
    def service_tags(self) -> ServiceTagIndex | None: ...

    @property
    def service_tags_problem(self) -> str | None:
        """Why the service tags are not to be trusted now (none, too old); None when they are."""
        ...


class EgressLookup(Protocol):
    """Read-only questions to Azure about the organisation's resources (Resource Graph and the
    resource providers' GETs). Every method raises `EgressLookupFailed` when Azure refuses or
    fails; none changes anything."""

    def find(
        self, kind: ResourceKind, name: str | PastedResource, subscriptions: Sequence[str]
    ) -> list[ResourceRef]:
        """Resources of `kind` named `name` (case-insensitive) in `subscriptions`, or the one
        a full resource id names. For what a paste named (`PastedResource` of that kind): by its
        id when the paste gave one, else by name in the resource group it gave (or any, when
        none there has that name); an AKS cluster named only by a node, by its node resource
        group, or else by the node's pool (every cluster with a pool of that name)."""
        ...

    def candidates(
        self, kind: ResourceKind, subscriptions: Sequence[str], *, limit: int = 20
    ) -> list[ResourceRef]:
        """Up to `limit` resources of `kind` in `subscriptions`, by name."""
        ...

    def egress(self, resource: ResourceRef) -> EgressReading:
        """The resource's outbound addresses as ARM describes them."""
        ...

    def owner_of(
        self, ip: ipaddress.IPv4Address, subscriptions: Sequence[str]
    ) -> PublicIpOwner | None:
        """The organisation's public IP resource (or prefix) holding `ip`, if any."""
        ...
