"""What a pasted error says about a refused pull: its kind, the refused addresses, the registry.

Produced by `services.diagnosis.parsing`; immutable so it can be logged and serialised as it is.

Every value here may have come from a paste, and pastes are written by anyone. So each text field
has a grammar (a repository name, a tag, a digest, a DNS name, a command) and the model refuses a
value outside it: a value that passes cannot carry Slack markup, a backtick or a line break. The
parser reduces what it reads with the `safe_*` functions below before it builds a `PullFailure`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, NonNegativeInt

from services.domain.ips import IPAddress
from services.domain.resources import ARM_CASED, ResourceKind


class FailureKind(StrEnum):
    IP_DENIED = "ip_denied"
    FIREWALL_SUSPECTED = "firewall_suspected"
    NOT_FIREWALL = "not_firewall"
    UNRECOGNIZED = "unrecognized"


class Client(StrEnum):
    """The tool or service that made the refused pull, as far as the paste tells."""

    DOCKER = "docker"
    CONTAINERD = "containerd"
    KUBELET = "kubelet"
    PODMAN = "podman"
    AZ_CLI = "az_cli"
    ACR_TASKS = "acr_tasks"
    ACR_IMPORT = "acr_import"
    CONTAINER_APPS = "container_apps"
    CONTAINER_INSTANCES = "container_instances"
    APP_SERVICE = "app_service"
    HELM = "helm"
    ORAS = "oras"
    BUILDKIT = "buildkit"
    SKOPEO = "skopeo"
    SDK = "sdk"
    CI = "ci"
    UNKNOWN = "unknown"


class NotFirewallCause(StrEnum):
    """Why a registry error that is not the firewall happened (kind `not_firewall`)."""

    #: 401, `authentication required`: no or expired credentials.
    AUTHENTICATION = "authentication"
    #: The identity is known but may not do this (RBAC, token scope, `requested access … denied`).
    PERMISSION = "permission"
    #: `manifest unknown`, `name unknown`, `not found`: the image or tag does not exist.
    NOT_FOUND = "not_found"
    #: A layer download refused by the storage behind the registry (blob or data endpoint).
    STORAGE = "storage"
    #: The registry name did not resolve (`no such host`, the DNS server refused or timed out).
    DNS = "dns"
    #: The TLS certificate check failed (`x509: certificate is valid for …, not …`).
    TLS = "tls"
    #: HTTP 429 / `toomanyrequests`: a rate limit (Docker Hub, MCR, the registry's SKU).
    RATE_LIMITED = "rate_limited"
    #: HTTP 5xx from the registry or a gateway in front of it.
    SERVER_ERROR = "server_error"
    #: An answer that did not come from the registry API (empty or HTML body, a bare 404).
    NOT_FROM_REGISTRY = "not_from_registry"
    #: The connection timed out, was reset or refused on the way to a public address.
    CONNECTIVITY = "connectivity"
    #: The connection to a private address (a private endpoint) timed out or was refused.
    PRIVATE_ENDPOINT = "private_endpoint"
    #: Not a registry error at all: the tool or its daemon is missing (`docker: not found`).
    LOCAL_TOOL = "local_tool"
    #: Not a registry at all: kubectl could not reach the cluster's API server.
    KUBERNETES_API = "kubernetes_api"


class FirewallHint(StrEnum):
    """What made a refusal without an IP look like the firewall (kind `firewall_suspected`)."""

    #: containerd / helm / buildkit: the token request got a 403.
    ANONYMOUS_TOKEN = "anonymous_token"
    #: Container Instances: `InaccessibleImage` or `… is not accessible. Please check the image …`.
    INACCESSIBLE_IMAGE = "inaccessible_image"
    #: Container Apps: `unable to pull image using Managed identity … for registry …`.
    MANAGED_IDENTITY_PULL = "managed_identity_pull"
    #: An ACR task or `az acr import`: `Access to <registry> denied`.
    REGISTRY_ACCESS_DENIED = "registry_access_denied"
    #: `az acr login`: CONNECTIVITY_REFRESH_TOKEN_ERROR with a 403.
    REFRESH_TOKEN = "refresh_token"
    #: `az acr login`: CONNECTIVITY_CHALLENGE_ERROR, the registry did not issue a challenge.
    CHALLENGE = "challenge"
    #: `az acr login`: `Looks like you don't have access to registry`
    #: (CONNECTIVITY_FORBIDDEN_ERROR).
    FORBIDDEN = "forbidden"
    #: App Service: the daemon's answer is only `{"message":"denied"}`.
    APP_SERVICE_DENIED = "app_service_denied"
    #: Only ACR's firewall link (`aka.ms/acr/firewall`) survived in the paste.
    FIREWALL_LINK = "firewall_link"
    #: ACR's sentence was cut after `client with`, before the address.
    SENTENCE_CUT = "sentence_cut"
    #: A bare HTTP 403 from a registry, no other explanation beside it.
    STATUS_403 = "status_403"
    #: Container Apps: `ImagePullFailure` and no answer from the registry beside it (an
    #: environment in a VNet whose route, NSG or the registry's firewall drops the pull).
    IMAGE_PULL_FAILURE = "image_pull_failure"


# --- the grammar of values taken from a paste ----------------------------------------------------

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
#: A repository name as the distribution spec defines it: lower-case path components.
REPOSITORY = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
#: A lower-case DNS name with at least two labels.
HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL}){{1,126}}")
#: A command rebuilt from checked parts: a tool, words, options and image references.
COMMAND = re.compile(
    r"[a-z][a-z0-9-]{0,15}"
    r"(?: (?:--?[a-z][a-z0-9-]{0,30}|[A-Za-z0-9][A-Za-z0-9._:/@=+-]{0,600})){1,8}"
)
CORRELATION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_EVIDENCE_MAX = 1000
#: An ARM resource name as people type it (letters, digits, `-`, `_`, `.`); 1–260 characters.
RESOURCE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,259}")
#: A resource group name (ARM also allows parentheses); 1–90 characters, no trailing `.`.
RESOURCE_GROUP = re.compile(r"[A-Za-z0-9_.()-]{0,89}[A-Za-z0-9_()-]")
SUBSCRIPTION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: An AKS node of a scale-set pool, `aks-<pool>-<digits>-vmss<instance>`, or its scale set
#: (`aks-<pool>-<digits>-vmss`, as a provider id names it).
AKS_NODE = re.compile(
    r"aks-(?P<pool>[a-z][a-z0-9]{0,11})-(?P<digits>[0-9]{4,10})-vmss(?:[0-9a-z]{6})?"
)
#: A Container App revision: the app's name, `--`, a suffix (an app's name never has `--`).
REVISION = re.compile(r"(?P<app>[a-z][a-z0-9-]{0,30}[a-z0-9]|[a-z])--[a-z0-9][a-z0-9-]{0,63}")


def safe_repository(value: str | None) -> str | None:
    """`value` as a repository name (stray separators at the ends dropped), or None."""
    if not value:
        return None
    value = value.strip("/._-")
    if not value or len(value) > 256 or not REPOSITORY.fullmatch(value):
        return None
    return value


def safe_reference(value: str | None) -> str | None:
    """`value` as a tag (trailing `.`/`-` dropped) or a digest, or None."""
    if not value:
        return None
    if DIGEST.fullmatch(value):
        return value
    value = value.rstrip(".-")
    return value if TAG.fullmatch(value) else None


def safe_host(value: str | None) -> str | None:
    """`value` as a lower-case DNS name, or None."""
    if not value:
        return None
    value = value.strip().lower().rstrip(".")
    if len(value) > 253 or not HOSTNAME.fullmatch(value):
        return None
    return value


def _check(pattern: re.Pattern[str], what: str, limit: int) -> AfterValidator:
    def check(value: str) -> str:
        if len(value) > limit or not pattern.fullmatch(value):
            raise ValueError(f"not a {what}: {value[:80]!r}")
        return value

    return AfterValidator(check)


def _reference(value: str) -> str:
    if DIGEST.fullmatch(value) or TAG.fullmatch(value):
        return value
    raise ValueError(f"not a tag or digest: {value[:80]!r}")


def _no_zone(ip: IPAddress) -> IPAddress:
    # `ipaddress` accepts `fe80::1%eth0`; a zone names an interface of the machine that printed
    # it, so it is never part of the address a registry saw, and the text after `%` is anyone's.
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id is not None:
        return ipaddress.IPv6Address(int(ip))
    return ip


def _one_line(value: str) -> str:
    # Evidence is shown to people; it keeps its words but loses control characters.
    cleaned = "".join(c if c.isprintable() else " " for c in value)
    return " ".join(cleaned.split())[:_EVIDENCE_MAX]


PasteIp = Annotated[IPAddress, AfterValidator(_no_zone)]
Repository = Annotated[str, _check(REPOSITORY, "repository name", 256)]
Reference = Annotated[str, AfterValidator(_reference)]


def _hostname(value: str) -> str:
    host = safe_host(value)
    if host is None:
        raise ValueError(f"not a DNS name: {value[:80]!r}")
    return host


Hostname = Annotated[str, AfterValidator(_hostname)]
ResourceName = Annotated[str, _check(RESOURCE_NAME, "resource name", 260)]
ResourceGroup = Annotated[str, _check(RESOURCE_GROUP, "resource group", 90)]
SubscriptionId = Annotated[str, _check(SUBSCRIPTION_ID, "subscription id", 36)]
AksNode = Annotated[str, _check(AKS_NODE, "AKS node name", 40)]
Revision = Annotated[str, _check(REVISION, "Container App revision", 100)]
Command = Annotated[str, _check(COMMAND, "command", 1000)]
OtherRegistry = Annotated[str, _check(re.compile(r"[A-Za-z0-9 ().-]{1,60}"), "registry name", 60)]
CorrelationId = Annotated[str, _check(CORRELATION_ID, "correlation id", 36)]
Evidence = Annotated[str, AfterValidator(_one_line)]


class PastedResource(BaseModel):
    """The resource a paste says the refused pull ran on: its egress is the address the registry
    saw. Read from what the platform writes about it (an ARM id, an `az` command, a Container
    Apps revision, an App Service site, an AKS node); the lookup finds it in Azure
    (`services.ports.EgressLookup.find`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ResourceKind
    #: The resource's own name: the Container App, the web app, the container group or the AKS
    #: cluster. None when the paste names only an AKS node or its node resource group.
    name: ResourceName | None = None
    resource_group: ResourceGroup | None = None
    subscription: SubscriptionId | None = None
    #: The Container App revision the paste names (`shop-api--7b1x2`).
    revision: Revision | None = None
    #: The AKS node the pod was scheduled on (`aks-nodepool1-12345678-vmss000000`), or its
    #: scale set.
    node: AksNode | None = None
    #: The AKS cluster's node resource group (`MC_rg-aks_aks-prod_westeurope`).
    node_resource_group: ResourceGroup | None = None

    @property
    def id(self) -> str | None:
        """The full ARM id, when the paste gave the subscription, group and name."""
        if self.subscription and self.resource_group and self.name:
            provider, _, kind = ARM_CASED[self.kind].partition("/")
            return (
                f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/{provider}/{kind}/{self.name}"
            )
        return None

    def searched(self, subscriptions: Sequence[str]) -> list[str]:
        """Where to look for it: `subscriptions`, and the one the paste gave."""
        return [*subscriptions, *([self.subscription] if self.subscription else [])]

    @property
    def node_pool(self) -> str | None:
        """The node pool of `node` (`nodepool1`)."""
        m = AKS_NODE.fullmatch(self.node) if self.node else None
        return m["pool"] if m else None

    @property
    def label(self) -> str:
        """For people: `Container App shop-api (rg-apps)`, `the AKS cluster of node aks-…`."""
        if self.name:
            group = f" ({self.resource_group})" if self.resource_group else ""
            return f"{self.kind.display} {self.name}{group}"
        if self.node:
            return f"the AKS cluster of node {self.node}"
        return f"the AKS cluster of node resource group {self.node_resource_group}"


class ReadPart(StrEnum):
    """Which part of a paste or file the parser read."""

    WHOLE = "whole"
    #: The last `read_bytes`: where a log prints its errors.
    END = "end"
    #: The first `read_bytes` (a file whose host would not serve its end alone).
    START = "start"


def size_text(size: int) -> str:
    """A byte count for people, in decimal units (`1.0 MB`, `45 KB`, `812 bytes`)."""
    if round(size / 1_000) >= 1_000:
        return f"{size / 1_000_000:.1f} MB"
    if size >= 1_000:
        return f"{size / 1_000:.0f} KB"
    return f"{size} byte" + ("" if size == 1 else "s")


class ReadExtent(BaseModel):
    """How much of what was pasted or attached the parser read, in bytes of the original."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    part: ReadPart = ReadPart.WHOLE
    read_bytes: NonNegativeInt
    total_bytes: NonNegativeInt

    @property
    def partial(self) -> bool:
        return self.part is not ReadPart.WHOLE

    def describe(self) -> str:
        """`read the last 1.0 MB of 3.1 MB`, or `read all 45 KB`."""
        if not self.partial:
            return f"read all {size_text(self.total_bytes)}"
        which = "last" if self.part is ReadPart.END else "first"
        return f"read the {which} {size_text(self.read_bytes)} of {size_text(self.total_bytes)}"


class PullFailure(BaseModel):
    """What a pasted error says about a refused pull."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: FailureKind
    #: Denied addresses in order of first appearance, deduplicated. Redactions never appear here.
    ips: tuple[PasteIp, ...] = ()
    #: The ACR denial sentence was present but its IP was redacted or unreadable.
    ip_redacted: bool = False
    #: Registry login server, lower case (`myreg.azurecr.io`), or None when absent or redacted.
    registry: Hostname | None = None
    #: The registry name was present but redacted (`<acrname>.azurecr.io`).
    registry_redacted: bool = False
    #: The registry host as the paste wrote it when that is not the login server: a data
    #: endpoint (`myreg.westeurope.data.azurecr.io`) or a private-link name
    #: (`myreg.privatelink.azurecr.io`).
    endpoint: Hostname | None = None
    #: A custom domain (gateway in front of the registry) the client pulled through.
    custom_domain: Hostname | None = None
    repository: Repository | None = None
    #: Tag (`latest`) or digest (`sha256:…`).
    reference: Reference | None = None
    client: Client = Client.UNKNOWN
    #: The paste is a CI runner's log (GitHub Actions, Azure Pipelines, GitLab).
    ci_log: bool = False
    #: The command that failed, when the paste shows it, rebuilt from checked parts
    #: (`docker pull contoso.azurecr.io/shop/api:1.4`).
    command: Command | None = None
    #: For `not_firewall`: what the error is instead.
    cause: NotFirewallCause | None = None
    #: For `firewall_suspected`: what made the refusal look like the firewall.
    hint: FirewallHint | None = None
    #: The error came from another registry (`GitHub Container Registry (ghcr.io)`), never an
    #: ACR login server or a configured custom domain: no ACR firewall is involved.
    other_registry: OtherRegistry | None = None
    #: The address a connection error says the client dialled (a private endpoint's, say).
    #: Never the refused client: that one is only ever read from ACR's denial sentence.
    remote_ip: PasteIp | None = None
    #: The resource the pull ran on, when the paste names it and hid the refused address: its
    #: egress can be looked up.
    resource: PastedResource | None = None
    correlation_id: CorrelationId | None = None
    #: The line (or joined lines) that carried the decisive evidence, for display. Free text
    #: from the paste on one line: render it with `bot.views.mrkdwn.code`.
    evidence: Evidence | None = None
    #: How much of the paste was read (a long one: its end); None when not recorded.
    read: ReadExtent | None = None

    @property
    def image(self) -> str | None:
        """The image as a person writes it: `repository:tag`, `repository@sha256:…`, or the
        repository alone when the paste named no reference."""
        if not self.repository:
            return None
        ref = self.reference or ""
        if not ref:
            return self.repository
        return f"{self.repository}{'@' if ref.startswith('sha256:') else ':'}{ref}"

    @property
    def ipv4(self) -> tuple[ipaddress.IPv4Address, ...]:
        return tuple(ip for ip in self.ips if isinstance(ip, ipaddress.IPv4Address))

    @property
    def ipv6(self) -> tuple[ipaddress.IPv6Address, ...]:
        return tuple(ip for ip in self.ips if isinstance(ip, ipaddress.IPv6Address))
