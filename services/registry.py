"""Registry network rules through Azure Resource Manager: read a registry's firewall, add an allow
rule for one public IPv4 address, remove rules in a batch.

`RegistryRules` is the port the rest of the bot uses; `ArmRegistryRules` is its one real
implementation on `azure-mgmt-containerregistry` (API 2025-11-01). How a change is made safe:

- Registries have no ETag, and a PATCH replaces the whole `ipRules` list. Every change holds the
  registry's lock (`services.locks`, a blob lease shared by every instance), re-reads the registry
  inside it, changes only `ipRules` in the raw JSON it read, PATCHes that raw `networkRuleSet`
  back (so `virtualNetworkRules` and fields the SDK model does not know survive), then reads the
  rules back and verifies them.
- IPs and rules are compared as networks. A removal deletes only rules that are exactly the
  single address (`1.2.3.4` or `1.2.3.4/32`), in whatever form the registry holds them; a broader
  range somebody else added (`1.2.3.0/24`) is never touched, even when it covers the address.
- Throttling, 5xx answers and dropped connections are retried by azure-core's retry policy
  (honouring `Retry-After`); what is still failing afterwards becomes `ArmUnavailable`.
- Every call returns a `RegistryChange` record for the audit trail, also when nothing changed.
"""

from __future__ import annotations

import copy
import ipaddress
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, cast

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.identity import DefaultAzureCredential
from azure.mgmt.containerregistry import ContainerRegistryManagementClient
from pydantic import BaseModel, ConfigDict

from services.clock import Clock, SystemClock
from services.domain.errors import (
    ArmError,
    ArmUnavailable,
    NotPremium,
    PublicAccessDisabled,
    RegistryError,
    RegistryNotConfigured,
    RegistryNotFound,
    RuleQuotaFull,
    VerificationFailed,
)
from services.domain.ips import IPAddress, parse_grantable_ip, parse_ipv4
from services.domain.registry import DEFAULT_IP_RULE_LIMIT, IpRule, RegistryState
from services.locks import BlobLeaseLock, Lease, RegistryLock
from services.settings import ArmSettings, RegistryConfig, Settings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.core.pipeline import PipelineResponse

logger = logging.getLogger(__name__)

# azure-core does not replay a PATCH after a dropped connection, since PATCH need not be
# idempotent. Ours is: it carries the whole ipRules list, computed under the lock, so sending it
# twice gives the same rule set as once.
_RETRY_METHODS = frozenset({"HEAD", "GET", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH"})


class IpOutcome(StrEnum):
    ADDED = "added"
    #: A rule already covered the address; it pre-existed, so the bot must never remove it.
    ALREADY_PRESENT = "already_present"
    REMOVED = "removed"
    #: No single-address rule for the address was there to remove.
    ABSENT = "absent"


class ChangeOperation(StrEnum):
    ALLOW = "allow"
    REMOVE = "remove"


class RegistryChange(BaseModel):
    """What one `allow` or `remove` did to a registry; the grant store audits it as it is."""

    model_config = ConfigDict(frozen=True)

    registry: str
    resource_id: str
    operation: ChangeOperation
    ips: tuple[ipaddress.IPv4Address, ...]
    #: Per address (`str(ip)`): what happened to it.
    outcomes: dict[str, IpOutcome]
    #: Per address: a rule other than the address's own that covers it (the rule that made it
    #: `already_present`, or a range that still admits it after its own rule was removed).
    covered_by: dict[str, str] = {}
    rules_before: tuple[IpRule, ...]
    rules_after: tuple[IpRule, ...]
    #: Whether a PATCH was sent (False for no-ops and dry runs).
    written: bool
    dry_run: bool
    #: ARM's `x-ms-request-id` of the PATCH, and the correlation id sent on every call.
    request_id: str | None = None
    correlation_id: str | None = None
    at: datetime

    def outcome(self, ip: str | IPAddress) -> IpOutcome:
        return self.outcomes[str(ipaddress.ip_address(str(ip).split("/")[0]))]


class RegistryRules(Protocol):
    """The port: a registry's firewall, and the only two changes the bot makes to it."""

    def state(self, registry: str) -> RegistryState:
        """The registry's firewall as ARM reports it (cached for a few seconds)."""
        ...

    def allow(self, registry: str, ip: str | IPAddress) -> RegistryChange:
        """Make sure a rule admits `ip` (a single public IPv4 address)."""
        ...

    def remove(self, registry: str, ips: Iterable[str | IPAddress]) -> RegistryChange:
        """Remove the single-address rules for `ips`, in one update."""
        ...


def _is_exact(rule: dict[str, Any], ip: ipaddress.IPv4Address) -> bool:
    return IpRule.from_raw(rule).is_exactly(ip)


def _covers(rule: dict[str, Any], ip: ipaddress.IPv4Address) -> bool:
    return IpRule.from_raw(rule).covers(ip)


def _as_rules(raw_rules: Sequence[dict[str, Any]]) -> tuple[IpRule, ...]:
    return tuple(IpRule.from_raw(r) for r in raw_rules)


def _ip_rules(raw: dict[str, Any]) -> list[dict[str, Any]]:
    nrs = (raw.get("properties") or {}).get("networkRuleSet") or {}
    return list(nrs.get("ipRules") or [])


def _raw_json(pipeline_response: PipelineResponse[Any, Any], _deserialized: Any, _h: Any) -> Any:
    return pipeline_response.http_response.json()


def _final_raw(
    pipeline_response: PipelineResponse[Any, Any], _deserialized: Any, _h: Any
) -> tuple[str, Any]:
    return pipeline_response.http_request.method, pipeline_response.http_response.json()


@dataclass
class _Call:
    """One service call's ARM context: its correlation id, and the PATCH's request id."""

    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    request_id: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"x-ms-correlation-request-id": self.correlation_id}

    def hook(self, response: PipelineResponse[Any, Any]) -> None:
        if response.http_request.method == "PATCH":
            self.request_id = response.http_response.headers.get("x-ms-request-id")


@dataclass
class _Cached:
    at: datetime
    state: RegistryState


class ArmRegistryRules:
    """`RegistryRules` on Azure Resource Manager. Thread-safe; one per process is enough."""

    def __init__(
        self,
        *,
        registries: Sequence[RegistryConfig],
        arm: ArmSettings,
        lock: RegistryLock,
        credential: TokenCredential | Callable[[], TokenCredential],
        clock: Clock | None = None,
    ) -> None:
        self._registries = tuple(registries)
        self._arm = arm
        self._lock = lock
        self._credential_source = credential
        self._credential: TokenCredential | None = None
        self._clock = clock or SystemClock()
        self._clients: dict[str, ContainerRegistryManagementClient] = {}
        self._cache: dict[str, _Cached] = {}
        self._mutex = threading.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        credential: TokenCredential | None = None,
        lock: RegistryLock | None = None,
    ) -> ArmRegistryRules:
        """Build from settings: `DefaultAzureCredential` (created on first use) unless given,
        and a blob-lease lock on the app's storage account unless given."""
        arm = settings.arm
        if lock is None:
            lock = BlobLeaseLock.from_connection_string(
                settings.storage_connection_string,
                arm.lock_container,
                lease_seconds=arm.lock_lease_seconds,
                wait_seconds=arm.lock_wait_seconds,
                poll_seconds=arm.lock_poll_seconds,
            )
        return cls(
            registries=settings.registries,
            arm=arm,
            lock=lock,
            credential=credential if credential is not None else _default_credential,
            clock=clock,
        )

    # -- the port --------------------------------------------------------------------------------

    def state(self, registry: str) -> RegistryState:
        """The registry's firewall and IP-rule quota; reused for `state_cache_seconds`.

        Raises `RegistryNotConfigured`, `RegistryNotFound`, `ArmError`/`ArmUnavailable`.
        """
        cfg = self.config(registry)
        now = self._clock.now()
        with self._mutex:
            cached = self._cache.get(cfg.resource_id.lower())
        ttl = timedelta(seconds=self._arm.state_cache_seconds)
        if cached is not None and now - cached.at < ttl:
            return cached.state
        call = _Call()
        raw = self._get(cfg, call)
        used, limit = self._usage(cfg, call)
        state = RegistryState.from_json(raw).model_copy(
            update={"ip_rule_quota_used": used, "ip_rule_quota_limit": limit}
        )
        with self._mutex:
            self._cache[cfg.resource_id.lower()] = _Cached(now, state)
        return state

    def allow(self, registry: str, ip: str | IPAddress) -> RegistryChange:
        """Make sure a rule admits the single public IPv4 address `ip`.

        `already_present` when a rule (the address itself or a range) admits it already: no
        write, and the caller must record that the rule pre-existed. Raises an `UnsupportedIp`,
        `RegistryNotConfigured`, `RegistryNotFound`, `NotPremium`, `PublicAccessDisabled`,
        `RuleQuotaFull`, `RegistryBusy`, `VerificationFailed`, `ArmError`/`ArmUnavailable`.
        """
        address = parse_grantable_ip(ip)
        cfg = self.config(registry)
        call = _Call()
        record = partial(
            self._record, cfg, operation=ChangeOperation.ALLOW, ips=(address,), call=call
        )
        key = str(address)
        with self._guard(cfg) as lease:
            raw = self._get(cfg, call)
            self._refuse_unwritable(cfg, raw)
            rules = _ip_rules(raw)
            covering = next((r for r in rules if _covers(r, address)), None)
            if covering is not None:
                covered = {} if _is_exact(covering, address) else {key: str(covering["value"])}
                return record(
                    outcomes={key: IpOutcome.ALREADY_PRESENT},
                    before=rules,
                    after=rules,
                    written=False,
                    covered_by=covered,
                )
            _, limit = self._usage(cfg, call)
            limit = limit or DEFAULT_IP_RULE_LIMIT
            if len(rules) >= limit:
                raise RuleQuotaFull(cfg.name, len(rules), limit)
            wanted = [*rules, {"action": "Allow", "value": key}]
            outcomes = {key: IpOutcome.ADDED}
            if self._arm.dry_run:
                return self._dry_run(cfg, record, outcomes, rules, wanted)
            if lease is not None:
                lease.check()
            after = _ip_rules(self._write(cfg, raw, wanted, call))
        self._invalidate(cfg)
        if not any(_covers(r, address) for r in after):
            raise VerificationFailed(cfg.name, f"no rule admits {key}")
        return record(outcomes=outcomes, before=rules, after=after, written=True)

    def remove(self, registry: str, ips: Iterable[str | IPAddress]) -> RegistryChange:
        """Remove the single-address rules of `ips` in one update, in whatever form the registry
        holds them (`1.2.3.4/32` for `1.2.3.4`). Ranges that happen to cover an address are left
        alone: someone else added them. `absent` for an address that had no such rule.

        Raises an `UnsupportedIp` (not a single IPv4 address), `RegistryNotConfigured`,
        `RegistryNotFound`, `RegistryBusy`, `VerificationFailed`, `ArmError`/`ArmUnavailable`.
        """
        addresses = tuple(dict.fromkeys(parse_ipv4(ip) for ip in ips))
        cfg = self.config(registry)
        call = _Call()
        record = partial(
            self._record, cfg, operation=ChangeOperation.REMOVE, ips=addresses, call=call
        )
        with self._guard(cfg) as lease:
            raw = self._get(cfg, call)
            rules = _ip_rules(raw)
            wanted = [r for r in rules if not any(_is_exact(r, ip) for ip in addresses)]
            outcomes: dict[str, IpOutcome] = {}
            covered: dict[str, str] = {}
            for ip in addresses:
                own = any(_is_exact(r, ip) for r in rules)
                outcomes[str(ip)] = IpOutcome.REMOVED if own else IpOutcome.ABSENT
                still = next((r for r in wanted if _covers(r, ip)), None)
                if still is not None:
                    covered[str(ip)] = str(still["value"])
            if len(wanted) == len(rules):
                return record(
                    outcomes=outcomes, before=rules, after=rules, written=False, covered_by=covered
                )
            if self._arm.dry_run:
                return self._dry_run(cfg, record, outcomes, rules, wanted)
            if lease is not None:
                lease.check()
            after = _ip_rules(self._write(cfg, raw, wanted, call))
        self._invalidate(cfg)
        left = [str(ip) for ip in addresses if any(_is_exact(r, ip) for r in after)]
        if left:
            raise VerificationFailed(cfg.name, f"rules for {', '.join(left)} still there")
        return record(
            outcomes=outcomes, before=rules, after=after, written=True, covered_by=covered
        )

    # -- helpers ---------------------------------------------------------------------------------

    def config(self, registry: str) -> RegistryConfig:
        """The configured registry named by name, login server or custom domain."""
        key = registry.strip().lower()
        for cfg in self._registries:
            names = {cfg.name.lower(), cfg.effective_login_server}
            names.update(d.lower() for d in cfg.custom_domains)
            if key in names:
                return cfg
        raise RegistryNotConfigured(registry.strip())

    def _guard(self, cfg: RegistryConfig) -> AbstractContextManager[Lease | None]:
        # A dry run writes nothing, so it need not queue behind real writers.
        if self._arm.dry_run:
            return nullcontext()
        return self._lock.hold(cfg.name)

    def _invalidate(self, cfg: RegistryConfig) -> None:
        with self._mutex:
            self._cache.pop(cfg.resource_id.lower(), None)

    def _client(self, subscription_id: str) -> ContainerRegistryManagementClient:
        with self._mutex:
            client = self._clients.get(subscription_id)
            if client is None:
                if self._credential is None:
                    source = self._credential_source
                    self._credential = source() if callable(source) else source
                arm = self._arm
                client = ContainerRegistryManagementClient(
                    self._credential,
                    subscription_id,
                    base_url=arm.endpoint,
                    connection_verify=arm.ca_bundle or True,
                    polling_interval=arm.polling_interval,
                    retry_total=arm.retry_total,
                    retry_backoff_factor=arm.retry_backoff_factor,
                    retry_backoff_max=arm.retry_backoff_max,
                    read_timeout=arm.read_timeout,
                )
                self._clients[subscription_id] = client
            return client

    @contextmanager
    def _arm_errors(self, cfg: RegistryConfig, action: str) -> Iterator[None]:
        """Turn azure-core's exceptions into the domain's, with words a developer can act on."""
        try:
            yield
        except RegistryError:
            raise
        except ResourceNotFoundError as exc:
            raise RegistryNotFound(cfg.name, cfg.resource_id) from exc
        except ClientAuthenticationError as exc:
            raise ArmError(
                cfg.name,
                f"The bot could not sign in to Azure to {action} `{cfg.name}`: {exc.message}",
                status=exc.status_code,
            ) from exc
        except HttpResponseError as exc:
            code = exc.error.code if exc.error is not None else None
            text = exc.error.message if exc.error is not None else exc.message
            status = exc.status_code
            if status == 429 or (status is not None and status >= 500):
                raise ArmUnavailable(
                    cfg.name,
                    f"Azure Resource Manager kept answering {status} ({code or 'no code'}) to "
                    f"{action} `{cfg.name}`, also after {self._arm.retry_total} retries; "
                    "try again in a few minutes.",
                    status=status,
                    code=code,
                ) from exc
            if status == 403:
                raise ArmError(
                    cfg.name,
                    f"The bot's identity may not {action} `{cfg.name}` ({code}): it needs the "
                    "Container Registry Contributor role (or a custom role with "
                    "Microsoft.ContainerRegistry/registries/write) on the registry.",
                    status=status,
                    code=code,
                ) from exc
            raise ArmError(
                cfg.name,
                f"Azure refused to {action} `{cfg.name}`: {code}: {text}",
                status=status,
                code=code,
            ) from exc
        except AzureError as exc:
            raise ArmUnavailable(
                cfg.name,
                f"Azure Resource Manager could not be reached to {action} `{cfg.name}` "
                f"({type(exc).__name__}: {exc.message}), also after {self._arm.retry_total} "
                "retries; try again in a few minutes.",
            ) from exc

    def _get(self, cfg: RegistryConfig, call: _Call) -> dict[str, Any]:
        client = self._client(cfg.subscription_id)
        with self._arm_errors(cfg, "read"):
            raw = client.registries.get(
                cfg.resource_group, cfg.name, cls=_raw_json, headers=call.headers
            )
        return cast(dict[str, Any], raw)

    def _usage(self, cfg: RegistryConfig, call: _Call) -> tuple[int | None, int | None]:
        """IP rules used and allowed from `listUsages`; (None, None) when it cannot say."""
        client = self._client(cfg.subscription_id)
        try:
            raw = cast(
                dict[str, Any],
                client.registries.list_usages(
                    cfg.resource_group, cfg.name, cls=_raw_json, headers=call.headers
                ),
            )
        except AzureError as exc:
            # The quota is a guard, not the change itself: fall back to the documented 100.
            logger.warning(
                "listUsages failed for %s, assuming the default limit: %s", cfg.name, exc
            )
            return None, None
        for usage in raw.get("value") or []:
            if str(usage.get("name", "")).lower() == "iprules":
                used, limit = usage.get("currentValue"), usage.get("limit")
                return (
                    used if isinstance(used, int) else None,
                    limit if isinstance(limit, int) and limit > 0 else None,
                )
        return None, None

    def _refuse_unwritable(self, cfg: RegistryConfig, raw: dict[str, Any]) -> None:
        state = RegistryState.from_json(raw)
        if not state.is_premium:
            raise NotPremium(cfg.name, state.sku)
        if state.public_access_disabled:
            raise PublicAccessDisabled(cfg.name)

    def _write(
        self,
        cfg: RegistryConfig,
        raw: dict[str, Any],
        ip_rules: list[dict[str, Any]],
        call: _Call,
    ) -> dict[str, Any]:
        """PATCH the network rule set as read with only `ipRules` replaced; the registry as
        read back after the operation completed."""
        network_rule_set = copy.deepcopy((raw.get("properties") or {}).get("networkRuleSet"))
        if not isinstance(network_rule_set, dict):
            # No rule set yet means the registry is open; keep it open, only add the rules.
            network_rule_set = {"defaultAction": "Allow"}
        network_rule_set["ipRules"] = ip_rules
        body = {"properties": {"networkRuleSet": network_rule_set}}
        client = self._client(cfg.subscription_id)
        with self._arm_errors(cfg, "update the rules of"):
            try:
                poller = client.registries.begin_update(
                    cfg.resource_group,
                    cfg.name,
                    body,
                    cls=_final_raw,
                    polling_interval=self._arm.polling_interval,
                    headers=call.headers,
                    raw_response_hook=call.hook,
                    retry_on_methods=_RETRY_METHODS,
                )
                method, final = cast(tuple[str, dict[str, Any]], poller.result())
            except HttpResponseError as exc:
                code = exc.error.code if exc.error is not None else None
                if code == "QuotaExceeded":
                    # Someone filled the last slots since the usages were read; ARM names the
                    # limit in its message ("... exceeds allowed quota 100 for the SKU Premium.").
                    found = (
                        re.search(r"quota (\d+)", exc.error.message or "") if exc.error else None
                    )
                    limit = int(found.group(1)) if found else len(ip_rules) - 1
                    raise RuleQuotaFull(cfg.name, len(ip_rules) - 1, limit) from exc
                if code == "NetworkRuleNotSupported":
                    raise NotPremium(cfg.name, None) from exc
                raise
        # Verify on a read made after the operation finished: the poller's final GET is one;
        # a synchronous 200 only echoes what was sent, so read again.
        if method != "GET":
            final = self._get(cfg, call)
        return final

    def _record(
        self,
        cfg: RegistryConfig,
        *,
        operation: ChangeOperation,
        ips: tuple[ipaddress.IPv4Address, ...],
        outcomes: dict[str, IpOutcome],
        before: Sequence[dict[str, Any]],
        after: Sequence[dict[str, Any]],
        call: _Call,
        written: bool,
        dry_run: bool = False,
        covered_by: dict[str, str] | None = None,
    ) -> RegistryChange:
        return RegistryChange(
            registry=cfg.name,
            resource_id=cfg.resource_id,
            operation=operation,
            ips=ips,
            outcomes=outcomes,
            covered_by=covered_by or {},
            rules_before=_as_rules(before),
            rules_after=_as_rules(after),
            written=written,
            dry_run=dry_run,
            request_id=call.request_id,
            correlation_id=call.correlation_id,
            at=self._clock.now(),
        )

    def _dry_run(
        self,
        cfg: RegistryConfig,
        record: Callable[..., RegistryChange],
        outcomes: dict[str, IpOutcome],
        before: list[dict[str, Any]],
        wanted: list[dict[str, Any]],
    ) -> RegistryChange:
        change = record(outcomes=outcomes, before=before, after=wanted, written=False, dry_run=True)
        logger.info(
            "dry run: would %s %s on %s; ipRules %s -> %s (nothing was changed)",
            change.operation.value,
            ", ".join(str(ip) for ip in change.ips),
            cfg.name,
            [r.get("value") for r in before],
            [r.get("value") for r in wanted],
        )
        return change


def _default_credential() -> TokenCredential:
    # Made on first use: building it probes the environment (managed identity, az login).
    return DefaultAzureCredential()
