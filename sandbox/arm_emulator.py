"""A loopback Azure Resource Manager that speaks Microsoft.ContainerRegistry registries, for tests
and the demo.

The real `azure-mgmt-containerregistry` client talks to it over HTTPS (a throw-away CA made with
`trustme` at start-up; azure-core refuses bearer tokens over plain HTTP). It serves, in the wire
format of API version 2025-11-01:

- `GET    .../registries/{name}`                   the registry JSON, or 404 `ResourceNotFound`
- `PATCH  .../registries/{name}`                   update; each field given in `networkRuleSet`
                                                   replaces its own (so `ipRules` given replaces
                                                   the list), fields not given are kept. Answers
                                                   200 with the whole registry at once, as
                                                   recorded live traffic shows (or, configurable,
                                                   201 + `Azure-AsyncOperation`, which ARM may do)
- `GET    .../registries/{name}/operationStatuses/{id}`   `InProgress` N times, then `Succeeded`
- `GET|POST .../registries/{name}/listUsages`      usages incl. `IPRules` (the SDK uses GET)

Answer bodies and headers follow public recordings of live traffic (the Azure CLI's and Azure
PowerShell's test recordings, vendored under `tests/recordings/arm/`, and held to them by
`tests/sandbox/test_arm_recordings.py`) and the REST spec's 2025-11-01 examples: the registry
with `systemData` and its policies, an IP rule's `action` answered as `Allow` whatever was sent,
`IPRules` limited to 200, ARM's cache, security and request-id headers. Error bodies are ARM's
`{"error": {"code", "message"}}`. The codes for a quota overflow (`QuotaExceeded`, with ACR's real
message) and for network rules on a non-Premium SKU (`NetworkRuleNotSupported`) are
approximations of what ARM answers; the messages are the documented ones. `sandbox/README.md`
says where each behaviour comes from.

Tests shape its behaviour through Python methods: `add_registry`, `set_rules`, `inject` (429 with
Retry-After, 5xx, delays, dropped connections), `on` (a foreign writer hook run when a request
arrives), `read_delay` (holds every registry GET after taking its snapshot, which makes two
unlocked read-modify-writes reliably lose an update) and `requests` (everything received).

Faults around a write, as a class (`inject` with `applied=True`, `hold`, `gate`): the request can be
applied and then answered with an error or a dropped connection (the caller cannot know it landed),
applied and answered late (slower than the caller's read time-out or its lock's lease), or applied
late: held unapplied until a gate opens, while the caller has long given up (`land_late`), so it
lands with its stale body after whatever the caller did next. `between` runs a foreign writer
between two given requests of the caller (a person editing the rules between the bot's GET and its
PATCH, or between the PATCH and the read back).

Other resource providers plug in with `add_route` (see `sandbox/arm_network.py`): a route answers
requests the registry routes do not claim (recorded with kind `other`, subject to faults injected
for `other` or for any kind), checks its own API version, and leaves the registry endpoints as
they are. Azure RBAC plugs in with `add_authorizer` (see `sandbox/arm_authorization.py`): every
request it refuses is answered 403 `AuthorizationFailed` before it reaches a handler.
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from sandbox.loopback import LoopbackServer, reply

API_VERSION = "2025-11-01"
PROVIDER = "Microsoft.ContainerRegistry"
#: The IP-rule limit a live Premium registry's `listUsages` reported in 2025 (the docs say 100).
IP_RULE_LIMIT = 200
#: Who created the emulated registries, as `systemData` names a person (recordings scrubbed).
CREATED_BY = "admin@contoso.example"

Kind = Literal["get_registry", "patch_registry", "list_usages", "operation_status", "other"]

#: An answer to one request: `(status, extra headers, JSON body)`.
Answer = tuple[int, dict[str, str], Any]
#: Another provider's answer to one request, or None when the route does not serve it. Called as
#: `route(method, path, query, body)`.
Route = Callable[[str, str, dict[str, str], Any], "Answer | None"]
#: Decides whether the caller may make one request, `(method, path, kind)`: None to let it through,
#: or the refusal `(status, ARM error code, message)` (see `sandbox/arm_authorization.py`).
Authorizer = Callable[[str, str, Kind], "tuple[int, str, str] | None"]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    kind: Kind


@dataclass
class Fault:
    """One queued misbehaviour for the next request of `kind` (any kind when None).

    Without `applied` the request fails before it is handled (`status`, `drop`) after `delay`.
    With `applied` it is handled first (its write lands), then answered with `status` or a
    dropped connection instead of its real answer, or (`hold`) answered that much later. A `gate`
    holds the request unhandled until it is set (a write that lands late)."""

    kind: Kind | None = None
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    drop: bool = False
    code: str = ""
    message: str = ""
    applied: bool = False
    hold: float = 0.0
    gate: threading.Event | None = None


@dataclass
class _Operation:
    registry_key: tuple[str, str, str]
    polls_left: int


@dataclass
class _Between:
    """A `between` hook: run before the next request of `second` once `first` was handled."""

    first: Kind
    second: Kind
    hook: Callable[[ArmEmulator], None]
    armed: bool = False


@dataclass
class _Registry:
    subscription: str
    resource_group: str
    name: str
    body: dict[str, Any]
    ip_rule_limit: int = IP_RULE_LIMIT
    extra_usages: list[dict[str, Any]] = field(default_factory=list)


def _key(subscription: str, resource_group: str, name: str) -> tuple[str, str, str]:
    # ARM resource names and groups are case-insensitive.
    return subscription.lower(), resource_group.lower(), name.lower()


def _rule(value: str | dict[str, Any]) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {"action": "Allow", "value": value}


def _arm_time() -> str:
    """Now in ARM's timestamp form in `systemData`: seven fractional digits and an offset."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00"


class ArmEmulator(LoopbackServer):
    """The emulator; `start()` returns `(base_url, ca_path)`, or use it as a context manager."""

    thread_name = "arm-emulator"

    def __init__(self, *, patch_status: int = 200, in_progress_polls: int = 1) -> None:
        super().__init__()
        #: 200 (completed in the PATCH answer, as recorded live traffic shows) or 201
        #: (asynchronous, `Azure-AsyncOperation`, polled; ARM may answer so).
        self.patch_status = patch_status
        #: How many operation-status polls answer `InProgress` before `Succeeded`.
        self.in_progress_polls = in_progress_polls
        #: Seconds every registry GET is held after its snapshot is taken.
        self.read_delay = 0.0
        self.requests: list[RecordedRequest] = []
        self._registries: dict[tuple[str, str, str], _Registry] = {}
        self._operations: dict[str, _Operation] = {}
        self._faults: list[Fault] = []
        self._hooks: list[tuple[Kind, Callable[[ArmEmulator], None], int]] = []
        self._betweens: list[_Between] = []
        #: Requests being handled right now, and a condition to wait for none (`wait_idle`).
        self._active = 0
        self._idle = threading.Condition(threading.Lock())
        self._routes: list[Route] = []
        self._authorizers: list[Authorizer] = []
        self._lock = threading.RLock()

    # -- seeding and inspection ------------------------------------------------------------------

    def add_registry(
        self,
        subscription: str,
        resource_group: str,
        name: str,
        *,
        sku: str = "Premium",
        rules: Iterable[str | dict[str, Any]] = (),
        public_network_access: str = "Enabled",
        default_action: str = "Deny",
        location: str = "westeurope",
        virtual_network_rules: list[dict[str, Any]] | None = None,
        network_rule_set_extra: dict[str, Any] | None = None,
        extra_properties: dict[str, Any] | None = None,
        ip_rule_limit: int = IP_RULE_LIMIT,
    ) -> dict[str, Any]:
        """Create (or replace) a registry; returns its JSON as GET would."""
        rid = (
            f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
            f"/providers/{PROVIDER}/registries/{name}"
        )
        nrs: dict[str, Any] = {
            "defaultAction": default_action,
            "ipRules": [_rule(r) for r in rules],
        }
        if virtual_network_rules is not None:
            nrs["virtualNetworkRules"] = virtual_network_rules
        nrs.update(network_rule_set_extra or {})
        created = "2025-01-01T00:00:00.0000000+00:00"
        props: dict[str, Any] = {
            "loginServer": f"{name.lower()}.azurecr.io",
            "creationDate": "2025-01-01T00:00:00.0000000Z",
            "provisioningState": "Succeeded",
            "adminUserEnabled": False,
            "networkRuleSet": nrs,
            "policies": {
                "quarantinePolicy": {"status": "disabled"},
                "trustPolicy": {"type": "Notary", "status": "disabled"},
                "retentionPolicy": {"days": 7, "lastUpdatedTime": created, "status": "disabled"},
                "exportPolicy": {"status": "enabled"},
                "azureADAuthenticationAsArmPolicy": {"status": "enabled"},
                "softDeletePolicy": {
                    "retentionDays": 7,
                    "lastUpdatedTime": created,
                    "status": "disabled",
                },
            },
            "encryption": {"status": "disabled"},
            "dataEndpointEnabled": False,
            "dataEndpointHostNames": [],
            "privateEndpointConnections": [],
            "publicNetworkAccess": public_network_access,
            "networkRuleBypassOptions": "AzureServices",
            "networkRuleBypassAllowedForTasks": False,
            "zoneRedundancy": "Disabled",
            "anonymousPullEnabled": False,
            "roleAssignmentMode": "LegacyRegistryPermissions",
        }
        props.update(extra_properties or {})
        body = {
            "sku": {"name": sku, "tier": sku},
            "type": f"{PROVIDER}/registries",
            "id": rid,
            "name": name,
            "location": location,
            "tags": {},
            "systemData": {
                "createdBy": CREATED_BY,
                "createdByType": "User",
                "createdAt": created,
                "lastModifiedBy": CREATED_BY,
                "lastModifiedByType": "User",
                "lastModifiedAt": created,
            },
            "properties": props,
        }
        with self._lock:
            self._registries[_key(subscription, resource_group, name)] = _Registry(
                subscription, resource_group, name, body, ip_rule_limit
            )
            return copy.deepcopy(body)

    def _find(self, name: str) -> _Registry:
        matches = [r for r in self._registries.values() if r.name.lower() == name.lower()]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} registries named {name!r} in the emulator")
        return matches[0]

    def registry_json(self, name: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._find(name).body)

    def rules(self, name: str) -> list[str]:
        """The `value` of each IP rule, in the order the registry holds them."""
        with self._lock:
            nrs = self._find(name).body["properties"].get("networkRuleSet") or {}
            return [r["value"] for r in nrs.get("ipRules") or []]

    def set_rules(self, name: str, rules: Iterable[str | dict[str, Any]]) -> None:
        """Replace the IP rules as a person or infrastructure-as-code would."""
        with self._lock:
            props = self._find(name).body["properties"]
            props.setdefault("networkRuleSet", {"defaultAction": "Deny"})
            props["networkRuleSet"]["ipRules"] = [_rule(r) for r in rules]

    def add_rule(self, name: str, rule: str | dict[str, Any]) -> None:
        with self._lock:
            self.set_rules(name, [*self.rules_raw(name), _rule(rule)])

    def rules_raw(self, name: str) -> list[dict[str, Any]]:
        with self._lock:
            nrs = self._find(name).body["properties"].get("networkRuleSet") or {}
            return copy.deepcopy(list(nrs.get("ipRules") or []))

    def set_ip_rule_limit(self, name: str, limit: int) -> None:
        with self._lock:
            self._find(name).ip_rule_limit = limit

    def count(self, kind: Kind | None = None, method: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for r in self.requests
                if (kind is None or r.kind == kind) and (method is None or r.method == method)
            )

    def clear_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def add_route(self, route: Route) -> None:
        """Serve another provider's paths: `route` is asked, in the order added, about every
        request that is not a registry request, before the emulator's own 404."""
        with self._lock:
            self._routes.append(route)

    def add_authorizer(self, authorizer: Authorizer) -> None:
        """Check every request with `authorizer` before it is handled (after injected faults):
        a refusal is answered as ARM's error body."""
        with self._lock:
            self._authorizers.append(authorizer)

    def _refusal(self, method: str, path: str, kind: Kind) -> tuple[int, str, str] | None:
        with self._lock:
            authorizers = list(self._authorizers)
        for authorizer in authorizers:
            refused = authorizer(method, path, kind)
            if refused is not None:
                return refused
        return None

    # -- fault injection -------------------------------------------------------------------------

    def inject(
        self,
        kind: Kind | None = None,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        delay: float = 0.0,
        drop: bool = False,
        times: int = 1,
        code: str = "",
        message: str = "",
        applied: bool = False,
        hold: float = 0.0,
        gate: threading.Event | None = None,
    ) -> None:
        """Queue `times` misbehaving answers for the next requests of `kind` (FIFO); see `Fault`."""
        with self._lock:
            for _ in range(times):
                self._faults.append(
                    Fault(
                        kind, status, retry_after, delay, drop, code, message, applied, hold, gate
                    )
                )

    def land_late(self, kind: Kind = "patch_registry") -> threading.Event:
        """The next request of `kind` is held unhandled, and unanswered, until the returned event
        is set; then it is applied as sent (its caller has timed out long before, as a client
        does when ARM applies a write after the client's read time-out)."""
        gate = threading.Event()
        self.inject(kind, gate=gate)
        return gate

    def slow(self, kind: Kind, seconds: float) -> None:
        """The next request of `kind` lands at once and is answered `seconds` later."""
        self.inject(kind, applied=True, hold=seconds)

    def between(self, first: Kind, second: Kind, hook: Callable[[ArmEmulator], None]) -> None:
        """Run `hook(emulator)` once, after the next request of `first` was handled and before
        the next request of `second` after it is: a foreign writer between two of a caller's
        requests (its GET and its PATCH, or its PATCH and the read back)."""
        with self._lock:
            self._betweens.append(_Between(first, second, hook))

    def clear_faults(self) -> None:
        """Forget every queued fault: ARM behaves again."""
        with self._lock:
            self._faults.clear()

    def throttle(self, kind: Kind | None = None, *, times: int = 1, retry_after: float = 0) -> None:
        self.inject(kind, status=429, retry_after=retry_after, times=times)

    def on(self, kind: Kind, hook: Callable[[ArmEmulator], None], *, times: int = 1) -> None:
        """Run `hook(emulator)` when the next `times` requests of `kind` arrive, before they are
        handled: a foreign writer acting between the caller's read and its write."""
        with self._lock:
            self._hooks.append((kind, hook, times))

    def _take_fault(self, kind: Kind) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.kind is None or fault.kind == kind:
                    return self._faults.pop(i)
        return None

    def _run_hooks(self, kind: Kind) -> None:
        with self._lock:
            due = [h for h in self._hooks if h[0] == kind]
            kept = [h for h in self._hooks if h[0] != kind]
            kept += [(k, h, n - 1) for k, h, n in due if n > 1]
            self._hooks = kept
            ready = [b for b in self._betweens if b.second == kind and b.armed]
            self._betweens = [b for b in self._betweens if b not in ready]
        for _, hook, _ in due:
            hook(self)
        for between in ready:
            between.hook(self)

    # -- request handling ------------------------------------------------------------------------

    @staticmethod
    def classify(method: str, path: str) -> tuple[Kind, dict[str, str]]:
        parts = [p for p in path.split("/") if p]
        lowered = [p.lower() for p in parts]
        shape = [
            "subscriptions", None, "resourcegroups", None, "providers",
            PROVIDER.lower(), "registries", None,
        ]  # fmt: skip
        if len(parts) < len(shape) or any(
            want is not None and lowered[i] != want for i, want in enumerate(shape)
        ):
            return "other", {}
        args = {"subscription": parts[1], "resource_group": parts[3], "name": parts[7]}
        rest = lowered[len(shape) :]
        if not rest:
            if method == "GET":
                return "get_registry", args
            if method == "PATCH":
                return "patch_registry", args
        elif rest == ["listusages"] and method in {"GET", "POST"}:
            return "list_usages", args
        elif len(rest) == 2 and rest[0] == "operationstatuses" and method == "GET":
            return "operation_status", {**args, "operation": parts[-1]}
        return "other", args

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        *,
        kind: Kind,
        args: dict[str, str],
    ) -> tuple[int, dict[str, str], Any, float]:
        """Answer one request: (status, extra headers, JSON body, seconds to hold the answer)."""
        if kind == "other":
            with self._lock:
                routes = list(self._routes)
            for route in routes:
                answer = route(method, path, query, body)
                if answer is not None:
                    status, headers, payload = answer
                    return status, headers, payload, 0.0
        if query.get("api-version") is None:
            return _error(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        if query["api-version"] != API_VERSION:
            return _error(
                400,
                "NoRegisteredProviderFound",
                f"No registered resource provider found for location and API version "
                f"'{query['api-version']}'. The supported api-versions are '{API_VERSION}'.",
            )
        if kind == "other":
            return _error(404, "NotFound", f"The emulator does not serve {method} {path}.")
        with self._lock:
            key = _key(args["subscription"], args["resource_group"], args["name"])
            reg = self._registries.get(key)
            if reg is None:
                missing = f"{PROVIDER}/registries/{args['name']}"
                return (*resource_not_found(missing, args["resource_group"]), 0.0)
            if kind == "get_registry":
                return 200, {}, copy.deepcopy(reg.body), self.read_delay
            if kind == "list_usages":
                return 200, {}, self._usages(reg), 0.0
            if kind == "operation_status":
                return self._operation_status(reg, args["operation"])
            return self._patch(reg, body)

    def _usages(self, reg: _Registry) -> dict[str, Any]:
        nrs = reg.body["properties"].get("networkRuleSet") or {}
        return {
            "value": [
                {"name": "Size", "limit": 536870912000, "currentValue": 0, "unit": "Bytes"},
                {"name": "Webhooks", "limit": 500, "currentValue": 0, "unit": "Count"},
                {"name": "Geo-replications", "limit": -1, "currentValue": 0, "unit": "Count"},
                {
                    "name": "IPRules",
                    "limit": reg.ip_rule_limit,
                    "currentValue": len(nrs.get("ipRules") or []),
                    "unit": "Count",
                },
                {
                    "name": "VNetRules",
                    "limit": 100,
                    "currentValue": len(nrs.get("virtualNetworkRules") or []),
                    "unit": "Count",
                },
                {
                    "name": "PrivateEndpointConnections",
                    "limit": 200,
                    "currentValue": 0,
                    "unit": "Count",
                },
                {"name": "ScopeMaps", "limit": 50000, "currentValue": 0, "unit": "Count"},
                {"name": "Tokens", "limit": 50000, "currentValue": 0, "unit": "Count"},
                *reg.extra_usages,
            ]
        }

    def _operation_status(
        self, reg: _Registry, op_id: str
    ) -> tuple[int, dict[str, str], Any, float]:
        op = self._operations.get(op_id)
        if op is None:
            return _error(404, "OperationNotFound", f"Operation '{op_id}' was not found.")
        if op.polls_left > 0:
            op.polls_left -= 1
            return 200, {}, {"status": "InProgress"}, 0.0
        reg.body["properties"]["provisioningState"] = "Succeeded"
        return 200, {}, {"status": "Succeeded"}, 0.0

    def _patch(self, reg: _Registry, body: Any) -> tuple[int, dict[str, str], Any, float]:
        if not isinstance(body, dict) or not isinstance(body.get("properties", {}), dict):
            return _error(400, "InvalidRequestContent", "The request content was invalid.")
        props: dict[str, Any] = body.get("properties") or {}
        nrs = props.get("networkRuleSet")
        if nrs is not None:
            if reg.body["sku"]["name"].lower() != "premium":
                return _error(
                    400,
                    "NetworkRuleNotSupported",
                    "Network rules are only supported for Premium SKU registries.",
                )
            rules = nrs.get("ipRules") or []
            for rule in rules:
                value = rule.get("value") if isinstance(rule, dict) else None
                try:
                    ipaddress.IPv4Network(str(value), strict=False)
                except ValueError:
                    return _error(
                        400, "InvalidIpRule", f"The IP rule value '{value}' is not valid."
                    )
            if len(rules) > reg.ip_rule_limit:
                return _error(
                    400,
                    "QuotaExceeded",
                    f"The requested feature IP rule exceeds allowed quota {reg.ip_rule_limit} "
                    f"for the SKU {reg.body['sku']['name']}.",
                )
        for name, value in props.items():
            if name == "networkRuleSet" and isinstance(value, dict):
                # Recorded: a networkRuleSet naming only `defaultAction` keeps the ipRules, one
                # without `defaultAction` keeps it; a rule's `action` is answered as Allow.
                merged = dict(reg.body["properties"].get("networkRuleSet") or {})
                merged.update(copy.deepcopy(value))
                if isinstance(merged.get("ipRules"), list):
                    merged["ipRules"] = [
                        {**r, "action": "Allow"} if isinstance(r, dict) else r
                        for r in merged["ipRules"]
                    ]
                reg.body["properties"][name] = merged
                continue
            # Any other property the PATCH names is replaced.
            reg.body["properties"][name] = copy.deepcopy(value)
        for name in ("tags", "sku", "identity"):
            if name in body:
                reg.body[name] = copy.deepcopy(body[name])
        if "systemData" in reg.body:
            reg.body["systemData"]["lastModifiedAt"] = _arm_time()
        if self.patch_status == 200:
            reg.body["properties"]["provisioningState"] = "Succeeded"
            return 200, {}, copy.deepcopy(reg.body), 0.0
        reg.body["properties"]["provisioningState"] = "Updating"
        op_id = f"registries-{uuid.uuid4()}"
        self._operations[op_id] = _Operation(
            _key(reg.subscription, reg.resource_group, reg.name), self.in_progress_polls
        )
        status_url = (
            f"{self.base_url}/subscriptions/{reg.subscription}/resourceGroups/"
            f"{reg.resource_group}/providers/{PROVIDER}/registries/{reg.name}/operationStatuses/"
            f"{op_id}?api-version={API_VERSION}"
        )
        return 201, {"Azure-AsyncOperation": status_url}, copy.deepcopy(reg.body), 0.0

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until no request is being handled (a late write has landed)."""
        with self._idle:
            if not self._idle.wait_for(lambda: self._active == 0, timeout=timeout):
                raise TimeoutError(f"{self._active} requests still being handled")

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        with self._idle:
            self._active += 1
        try:
            self._serve_one(h)
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def _serve_one(self, h: BaseHTTPRequestHandler) -> None:
        split = urlsplit(h.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        kind, args = self.classify(h.command, split.path)
        with self._lock:
            self.requests.append(
                RecordedRequest(h.command, split.path, query, body, dict(h.headers.items()), kind)
            )
        headers = _arm_headers(h.command, kind, h.headers.get("x-ms-correlation-request-id"))
        if not (h.headers.get("Authorization") or "").startswith("Bearer "):
            status, extra, answer, hold = _error(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            )
        else:
            fault = self._take_fault(kind) or Fault()
            if fault.gate is not None:
                # A write in flight: the caller times out; it lands when the test says so.
                fault.gate.wait(timeout=120)
            time.sleep(fault.delay)
            landed = None
            if fault.applied:
                landed = self._answer(h.command, split.path, query, body, kind=kind, args=args)
                time.sleep(fault.hold)
            if fault.drop:
                h.close_connection = True
                with contextlib.suppress(OSError):
                    h.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault.status is not None:
                status, extra, answer, hold = _error(
                    fault.status,
                    fault.code
                    or ("TooManyRequests" if fault.status == 429 else "InternalServerError"),
                    fault.message or f"Injected {fault.status}.",
                )
                if fault.retry_after is not None:
                    extra = {"Retry-After": f"{fault.retry_after:g}"}
            else:
                status, extra, answer, hold = landed or self._answer(
                    h.command, split.path, query, body, kind=kind, args=args
                )
        if hold:
            time.sleep(hold)
        # The caller may have given up waiting (a late write); what it sent has landed.
        with contextlib.suppress(OSError):
            reply(h, status, {**headers, **extra}, json.dumps(answer).encode())

    def _answer(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        *,
        kind: Kind,
        args: dict[str, str],
    ) -> tuple[int, dict[str, str], Any, float]:
        """The request's own answer: an authorizer's refusal, or handled (`on` and ready
        `between` hooks first; `between` hooks waiting for this kind armed after)."""
        refused = self._refusal(method, path, kind)
        if refused is not None:
            return _error(*refused)
        self._run_hooks(kind)
        answer = self.handle(method, path, query, body, kind=kind, args=args)
        with self._lock:
            for between in self._betweens:
                if between.first == kind:
                    between.armed = True
        return answer


def _arm_headers(method: str, kind: Kind, correlation: str | None) -> dict[str, str]:
    """The headers recorded on ARM's answers: no caching, HSTS, a request id (the correlation id
    is the caller's, or the request id when it sent none), the routing id, the remaining
    read or write budget, and the resource provider's API versions."""
    request_id = str(uuid.uuid4())
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    budget = "reads" if method == "GET" else "writes"
    headers = {
        "Cache-Control": "no-cache",
        "Pragma": "no-cache",
        "Content-Type": "application/json; charset=utf-8",
        "Expires": "-1",
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
        "X-Content-Type-Options": "nosniff",
        f"x-ms-ratelimit-remaining-subscription-{budget}": "249" if budget == "reads" else "199",
        "x-ms-request-id": request_id,
        "x-ms-correlation-request-id": correlation or request_id,
        "x-ms-routing-request-id": f"WESTEUROPE:{stamp}:{request_id}",
    }
    if budget == "reads":
        headers["x-ms-ratelimit-remaining-subscription-global-reads"] = "3749"
    if kind != "other":
        headers["api-supported-versions"] = API_VERSION
    return headers


def arm_error(status: int, code: str, message: str) -> Answer:
    """ARM's error answer: `{"error": {"code", "message"}}`."""
    return status, {}, {"error": {"code": code, "message": message}}


def resource_not_found(resource: str, resource_group: str) -> Answer:
    """ARM's 404 for `resource` (`{provider}/{type}/{name}`) in `resource_group`."""
    return arm_error(
        404,
        "ResourceNotFound",
        f"The Resource '{resource}' under resource group '{resource_group}' was not found. For "
        "more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], Any, float]:
    return (*arm_error(status, code, message), 0.0)
