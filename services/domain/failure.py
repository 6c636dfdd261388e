"""What a pasted error says about a refused pull: its kind, the refused addresses, the registry.

Produced by `services.diagnosis.parsing`; immutable so it can be logged and serialised as it is.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from services.domain.ips import IPAddress


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


class PullFailure(BaseModel):
    """What a pasted error says about a refused pull."""

    model_config = ConfigDict(frozen=True)

    kind: FailureKind
    #: Denied addresses in order of first appearance, deduplicated. Redactions never appear here.
    ips: tuple[IPAddress, ...] = ()
    #: The ACR denial sentence was present but its IP was redacted or unreadable.
    ip_redacted: bool = False
    #: Registry login server, lower case (`myreg.azurecr.io`), or None when absent or redacted.
    registry: str | None = None
    #: The registry name was present but redacted (`<acrname>.azurecr.io`).
    registry_redacted: bool = False
    #: A custom domain (gateway in front of the registry) the client pulled through.
    custom_domain: str | None = None
    repository: str | None = None
    #: Tag (`latest`) or digest (`sha256:…`).
    reference: str | None = None
    client: Client = Client.UNKNOWN
    correlation_id: str | None = None
    #: The line (or joined lines) that carried the decisive evidence, for display.
    evidence: str | None = None

    @property
    def ipv4(self) -> tuple[ipaddress.IPv4Address, ...]:
        return tuple(ip for ip in self.ips if isinstance(ip, ipaddress.IPv4Address))

    @property
    def ipv6(self) -> tuple[ipaddress.IPv6Address, ...]:
        return tuple(ip for ip in self.ips if isinstance(ip, ipaddress.IPv6Address))
