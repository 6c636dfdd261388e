"""Registry network rules through Azure Resource Manager (`azure-mgmt-containerregistry`, API
2025-11-01): the `RegistryGateway` port.

It reads a registry as raw JSON, reads the IP-rule quota, and writes a new `ipRules` list; it
holds no lock and decides nothing (the reconcile flow does both). How a write stays safe:
- Registries have no ETag and a PATCH replaces the whole `ipRules` list, so the caller holds the
  registry's lock from the GET to the PATCH and passes the snapshot it read. Only `ipRules` is
  replaced in that raw `networkRuleSet`: `virtualNetworkRules` (absent from the 15.0.0 model) and
  fields the SDK does not know are sent back as read.
- The update is a long-running operation (201 + `Azure-AsyncOperation`, or 200); the registry is
  read again after it, and that read is what the caller verifies.
- Throttling, 5xx answers and dropped connections of reads are retried by azure-core's retry
  policy (honouring `Retry-After`); what still fails afterwards is `ArmUnavailable`.
- A PATCH is never sent twice blind. ARM may apply a write after the caller stopped waiting for
  it, and a copy re-sent later would then land after it with a stale list, or the original after
  the copy. So a PATCH is retried only when ARM throttled it (429: not taken) or it never left
  (`ServiceRequestError`); a read time-out, a dropped connection or a 504 after it was sent, or a
  failure while its long-running operation is polled, is `WriteOutcomeUnknown`, and the reconcile
  keeps the registry fenced until it can tell. A 500 or 503 answer means ARM finished with the
  request: the write did or did not land, and a read tells which (`ArmUnavailable`).

The SDK and `azure.identity` are imported on first use, so a process that never reaches ARM (the
HTTP function) does not pay for them.
"""

from __future__ import annotations

import copy
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from services.azure.clients import ArmClients, arm_options
from services.domain.errors import (
    ArmError,
    ArmUnavailable,
    DomainError,
    NotPremium,
    RegistryNotFound,
    RuleQuotaFull,
    WriteOutcomeUnknown,
)
from services.domain.policy import RegistryConfig
from services.domain.registry import DEFAULT_IP_RULE_LIMIT, RawRule, RegistrySnapshot, RuleUsage
from services.settings import ArmSettings

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.core.pipeline import PipelineResponse
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient

    from services.domain.access import PermissionSet

logger = logging.getLogger(__name__)


def _write_safe_retry(**kwargs: Any) -> Any:
    """azure-core's retry policy, except that an answered PATCH is retried only on 429.

    azure-core replays a PATCH answered 500, 503 or 504. A 504 comes from the gateway while the
    registry may still apply the write; a copy sent then can land before the original, which
    then lands with a stale list. (A PATCH that failed on the wire is not retried either: PATCH
    is not in the policy's `retry_on_methods`.)"""
    from azure.core.pipeline.policies import RetryPolicy

    class WriteSafeRetryPolicy(RetryPolicy):  # type: ignore[type-arg]
        def is_retry(self, settings: dict[str, Any], response: PipelineResponse[Any, Any]) -> bool:
            if (
                response.http_request.method == "PATCH"
                and response.http_response.status_code != 429
            ):
                return False
            return bool(super().is_retry(settings, response))

    return WriteSafeRetryPolicy(**kwargs)


#: "Permissions - List For Resource" (Microsoft.Authorization).
PERMISSIONS_API = "2022-04-01"


def _raw_json(pipeline_response: PipelineResponse[Any, Any], _deserialized: Any, _h: Any) -> Any:
    return pipeline_response.http_response.json()


def _final_raw(
    pipeline_response: PipelineResponse[Any, Any], _deserialized: Any, _h: Any
) -> tuple[str, Any]:
    return pipeline_response.http_request.method, pipeline_response.http_response.json()


@dataclass
class _Call:
    """One port call's ARM context: its correlation id, and the PATCH's request id."""

    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    request_id: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"x-ms-correlation-request-id": self.correlation_id}

    def hook(self, response: PipelineResponse[Any, Any]) -> None:
        method = response.http_request.method
        if method == "PATCH" or (method == "GET" and self.request_id is None):
            self.request_id = response.http_response.headers.get("x-ms-request-id")


class ArmRegistryGateway:
    """`RegistryGateway` on Azure Resource Manager. Thread-safe; one per process is enough."""

    def __init__(
        self,
        *,
        arm: ArmSettings,
        credential: TokenCredential | Callable[[], TokenCredential],
    ) -> None:
        self._arm = arm
        self._clients: ArmClients[ContainerRegistryManagementClient] = ArmClients(credential)

    # -- the port ----------------------------------------------------------------------------------

    def usage(self, registry: RegistryConfig) -> RuleUsage:
        """IP rules used and allowed from `listUsages`; the documented 100 when ARM cannot say
        (the quota guards a change, it is not the change: a failure here must not block one)."""
        client = self._client(registry.subscription_id)
        call = _Call()
        try:
            raw = cast(
                dict[str, Any],
                client.registries.list_usages(
                    registry.resource_group, registry.name, cls=_raw_json, headers=call.headers
                ),
            )
        except Exception as exc:
            from azure.core.exceptions import AzureError

            if not isinstance(exc, AzureError):
                raise
            logger.warning("listUsages failed for %s, assuming the default: %s", registry.name, exc)
            return RuleUsage()
        for usage in raw.get("value") or []:
            if str(usage.get("name", "")).lower() == "iprules":
                used, limit = usage.get("currentValue"), usage.get("limit")
                return RuleUsage(
                    used=used if isinstance(used, int) else None,
                    limit=limit if isinstance(limit, int) and limit > 0 else DEFAULT_IP_RULE_LIMIT,
                )
        return RuleUsage()

    def read(self, registry: RegistryConfig) -> RegistrySnapshot:
        """The registry as ARM returns it now. Raises `RegistryNotFound`, `ArmError`,
        `ArmUnavailable`."""
        call = _Call()
        raw = self._get(registry, call)
        return RegistrySnapshot(
            raw=raw, request_id=call.request_id, correlation_id=call.correlation_id
        )

    def write(
        self, registry: RegistryConfig, snapshot: RegistrySnapshot, ip_rules: list[RawRule]
    ) -> RegistrySnapshot:
        """PATCH the network rule set of `snapshot` with `ip_rules` as its `ipRules`, wait for
        the operation, and return the registry as read after it. Raises `RuleQuotaFull` (ARM's
        own quota refusal), `NotPremium`, `RegistryNotFound`, `ArmError`, `ArmUnavailable`."""
        network_rule_set = copy.deepcopy(
            (snapshot.raw.get("properties") or {}).get("networkRuleSet")
        )
        if not isinstance(network_rule_set, dict):
            # No rule set yet means the registry is open; keep it open, only add the rules.
            network_rule_set = {"defaultAction": "Allow"}
        network_rule_set["ipRules"] = [dict(r) for r in ip_rules]
        body = {"properties": {"networkRuleSet": network_rule_set}}
        client = self._client(registry.subscription_id)
        call = _Call()
        with self._arm_errors(registry, "update the rules of"):
            from azure.core.exceptions import (
                HttpResponseError,
                ServiceRequestError,
                ServiceResponseError,
            )

            sent = False
            try:
                poller = client.registries.begin_update(
                    registry.resource_group,
                    registry.name,
                    body,
                    cls=_final_raw,
                    polling_interval=self._arm.polling_interval,
                    headers=call.headers,
                    raw_response_hook=call.hook,
                )
                sent = True
                method, final = cast(tuple[str, dict[str, Any]], poller.result())
            except ServiceRequestError:
                if sent:
                    raise WriteOutcomeUnknown(
                        registry.name, "its operation could not be followed"
                    ) from None
                raise  # it never left: nothing can land (ArmUnavailable below)
            except ServiceResponseError as exc:
                what = "the operation could not be followed" if sent else "no answer to it"
                raise WriteOutcomeUnknown(registry.name, f"{what}: {type(exc).__name__}") from exc
            except HttpResponseError as exc:
                self._refused_update(registry, exc, ip_rules, sent=sent)
                raise
        # Verify on a read made after the operation finished: the poller's final GET is one; a
        # synchronous 200 only echoes what was sent, so read again.
        if method != "GET":
            final = self._get(registry, call)
        return RegistrySnapshot(
            raw=final, request_id=call.request_id, correlation_id=call.correlation_id
        )

    # -- RegistryAccess ----------------------------------------------------------------------------

    def permissions(self, registry: RegistryConfig) -> tuple[PermissionSet, ...]:
        """The caller's permission sets at the registry (ARM's "Permissions - List For Resource",
        one entry per role assignment reaching it). Raises `RegistryNotFound`, `ArmError`,
        `ArmUnavailable`."""
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            ResourceNotFoundError,
            map_error,
        )
        from azure.core.rest import HttpRequest
        from azure.mgmt.core.exceptions import ARMErrorFormat

        # Only the doctor asks: a reconcile never loads the permission model.
        from services.domain.access import PermissionSet

        client = self._client(registry.subscription_id)
        url = f"{registry.resource_id}/providers/Microsoft.Authorization/permissions"
        sets: list[PermissionSet] = []
        with self._arm_errors(registry, "list the permissions on"):
            while url:
                request = HttpRequest(
                    "GET",
                    url,
                    params=None if "api-version=" in url else {"api-version": PERMISSIONS_API},
                    headers=_Call().headers,
                )
                response = client.send_request(request)
                if response.status_code != 200:
                    errors = {401: ClientAuthenticationError, 404: ResourceNotFoundError}
                    map_error(response.status_code, response, errors)
                    raise HttpResponseError(response=response, error_format=ARMErrorFormat)
                page = response.json()
                sets += [PermissionSet.model_validate(v) for v in page.get("value") or []]
                url = page.get("nextLink") or ""
        return tuple(sets)

    # -- helpers -----------------------------------------------------------------------------------

    @staticmethod
    def _refused_update(
        registry: RegistryConfig, exc: Any, ip_rules: list[RawRule], *, sent: bool
    ) -> None:
        """Raise the domain's error for an update ARM answered with an error, if it has one."""
        code = exc.error.code if exc.error is not None else None
        status = exc.status_code
        if code == "QuotaExceeded":
            # Someone filled the last slots since the read; ARM names the limit in its message
            # ("... exceeds allowed quota 100 for the SKU Premium.").
            found = re.search(r"quota (\d+)", exc.error.message or "") if exc.error else None
            limit = int(found.group(1)) if found else len(ip_rules) - 1
            raise RuleQuotaFull(registry.name, len(ip_rules) - 1, limit) from exc
        if code == "NetworkRuleNotSupported":
            raise NotPremium(registry.name, None) from exc
        if status == 504:
            raise WriteOutcomeUnknown(
                registry.name, "the gateway timed out while the update ran"
            ) from exc
        if sent and (status is None or status >= 500 or status == 429):
            # Accepted, and its operation could not be followed to the end: it may finish.
            raise WriteOutcomeUnknown(
                registry.name, f"its operation could not be followed ({status})"
            ) from exc

    def _client(self, subscription_id: str) -> ContainerRegistryManagementClient:
        return self._clients.get(subscription_id, partial(self._build, subscription_id))

    def _build(
        self, subscription_id: str, credential: TokenCredential
    ) -> ContainerRegistryManagementClient:
        from azure.mgmt.containerregistry import ContainerRegistryManagementClient

        options = arm_options(self._arm)
        # The retries go to the write-safe policy instead of azure-core's own.
        retries = {
            k: options.pop(k) for k in ("retry_total", "retry_backoff_factor", "retry_backoff_max")
        }
        return ContainerRegistryManagementClient(
            credential,
            subscription_id,
            polling_interval=self._arm.polling_interval,
            retry_policy=_write_safe_retry(**retries),
            **options,
        )

    def _get(self, registry: RegistryConfig, call: _Call) -> dict[str, Any]:
        client = self._client(registry.subscription_id)
        with self._arm_errors(registry, "read"):
            raw = client.registries.get(
                registry.resource_group,
                registry.name,
                cls=_raw_json,
                headers=call.headers,
                raw_response_hook=call.hook,
            )
        return cast(dict[str, Any], raw)

    @contextmanager
    def _arm_errors(self, registry: RegistryConfig, action: str) -> Iterator[None]:
        """Turn azure-core's exceptions into the domain's, with words a developer can act on."""
        from azure.core.exceptions import (
            AzureError,
            ClientAuthenticationError,
            HttpResponseError,
            ResourceNotFoundError,
        )

        name = registry.name
        try:
            yield
        except DomainError:
            raise
        except ResourceNotFoundError as exc:
            raise RegistryNotFound(name, registry.resource_id) from exc
        except ClientAuthenticationError as exc:
            raise ArmError(
                name,
                f"The bot could not sign in to Azure to {action} `{name}`: {exc.message}",
                status=exc.status_code,
            ) from exc
        except HttpResponseError as exc:
            code = exc.error.code if exc.error is not None else None
            text = exc.error.message if exc.error is not None else exc.message
            status = exc.status_code
            if status == 429 or (status is not None and status >= 500):
                raise ArmUnavailable(
                    name,
                    f"Azure Resource Manager kept answering {status} ({code or 'no code'}) to "
                    f"{action} `{name}`, also after {self._arm.retry_total} retries.",
                    status=status,
                    code=code,
                ) from exc
            if status == 403:
                raise ArmError(
                    name,
                    f"The bot's identity may not {action} `{name}` ({code}): it needs the bot's "
                    "registry role (read, write and listUsages on the registry).",
                    status=status,
                    code=code,
                ) from exc
            raise ArmError(
                name,
                f"Azure refused to {action} `{name}`: {code}: {text}",
                status=status,
                code=code,
            ) from exc
        except AzureError as exc:
            raise ArmUnavailable(
                name,
                f"Azure Resource Manager could not be reached to {action} `{name}` "
                f"({type(exc).__name__}: {exc.message}), also after {self._arm.retry_total} "
                "retries.",
            ) from exc
