"""Where a resource's traffic leaves Azure from, and whose a public address is: the values the
egress lookup (`services.ports.EgressLookup`) returns. Pure; no I/O.

An address is *fixed* when it belongs to one of the organisation's own public IP resources (a NAT
gateway's, an AKS load balancer's, a firewall's): it stays until someone deletes it, so it deserves
a permanent rule. Otherwise Azure assigned it (a Container Apps environment without a NAT gateway,
an App Service scale unit): it stays with the resource but may be shared with other workloads.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from services.domain.failure import RESOURCE_NAME, Client
from services.domain.resources import ResourceKind

__all__ = [
    "KIND_OF_CLIENT",
    "EgressAddress",
    "EgressLookupFailed",
    "EgressReading",
    "EgressSource",
    "PublicIpOwner",
    "ResourceKind",
    "ResourceRef",
    "is_resource_name",
]


#: Which resource a paste's client most likely ran on.
KIND_OF_CLIENT: dict[Client, ResourceKind] = {
    Client.CONTAINER_APPS: ResourceKind.CONTAINER_APP,
    Client.APP_SERVICE: ResourceKind.WEB_APP,
    Client.KUBELET: ResourceKind.AKS_CLUSTER,
    Client.CONTAINERD: ResourceKind.AKS_CLUSTER,
    Client.CONTAINER_INSTANCES: ResourceKind.CONTAINER_GROUP,
}

_ID = re.compile(
    r"/subscriptions/(?P<sub>[0-9A-Fa-f-]{36})/resourceGroups/(?P<rg>[A-Za-z0-9_.()-]{1,90})"
    r"/providers/(?P<type>[A-Za-z.]{1,60}/[A-Za-z]{1,60})/(?P<name>[A-Za-z0-9_.-]{1,260})",
    re.IGNORECASE,
)


class ResourceRef(BaseModel):
    """One resource, by its ARM id and the parts of it people read."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: ResourceKind
    name: str
    resource_group: str
    subscription: str

    @classmethod
    def from_id(cls, resource_id: str, kind: ResourceKind | None = None) -> ResourceRef | None:
        """The resource an ARM id names, when it is one of the four kinds (or `kind`)."""
        m = _ID.fullmatch(resource_id.strip().rstrip("/"))
        if m is None:
            return None
        arm_type = m["type"].lower()
        found = next((k for k in ResourceKind if k.arm_type == arm_type), None)
        if found is None or (kind is not None and found is not kind):
            return None
        return cls(
            id=m.group(0),
            kind=found,
            name=m["name"],
            resource_group=m["rg"],
            subscription=m["sub"].lower(),
        )


def is_resource_name(text: str) -> bool:
    return bool(RESOURCE_NAME.fullmatch(text))


class EgressSource(StrEnum):
    """What sends the traffic from this address."""

    NAT_GATEWAY = "nat_gateway"
    LOAD_BALANCER = "load_balancer"
    FIREWALL = "firewall"
    #: Assigned by Azure to the resource (Container Apps, App Service): stays, may be shared.
    AZURE_ASSIGNED = "azure_assigned"
    #: App Service's possible outbound addresses: used after a scale change, not yet now.
    AZURE_POSSIBLE = "azure_possible"


class EgressAddress(BaseModel):
    model_config = ConfigDict(frozen=True)

    ip: ipaddress.IPv4Address
    source: EgressSource
    #: Who sends from it, for people: `NAT gateway ng-prod (rg-network)`.
    label: str

    @property
    def fixed(self) -> bool:
        """One of the organisation's own public IP resources: a permanent rule fits it."""
        return self.source in (
            EgressSource.NAT_GATEWAY,
            EgressSource.LOAD_BALANCER,
            EgressSource.FIREWALL,
        )


class EgressReading(BaseModel):
    """A resource's outbound addresses as ARM describes them, and what else decides them."""

    model_config = ConfigDict(frozen=True)

    resource: ResourceRef
    #: The addresses the pull most likely came from, in the order ARM lists them.
    addresses: tuple[EgressAddress, ...] = ()
    #: Addresses the resource may use later (App Service after a scale change).
    possible: tuple[EgressAddress, ...] = ()
    #: What people must know about these addresses (route-all through a VNet, a firewall behind
    #: user-defined routes, no egress exposed), one sentence each.
    notes: tuple[str, ...] = ()
    #: The pull leaves through a VNet whose own egress (a firewall, a NAT gateway) is what the
    #: registry sees, so `addresses` may not be the refused ones.
    through_vnet: bool = False


class PublicIpOwner(BaseModel):
    """One of the organisation's public IP resources (or prefixes) and what uses it."""

    model_config = ConfigDict(frozen=True)

    ip: ipaddress.IPv4Address
    #: The public IP resource (or prefix) name and where it lives.
    name: str
    resource_group: str
    subscription: str
    #: `NAT gateway`, `Load balancer`, `Azure Firewall`, `Application Gateway`, or None when it
    #: is not attached to anything.
    owner_kind: str | None = None
    owner_name: str | None = None
    owner_resource_group: str | None = None
    #: The address came from a public IP prefix, not a single public IP resource.
    prefix: str | None = None

    @property
    def label(self) -> str:
        """`the public IP of NAT gateway ng-prod in rg-network`."""
        if self.owner_kind and self.owner_name:
            group = self.owner_resource_group or self.resource_group
            return f"the public IP of {self.owner_kind} {self.owner_name} in {group}"
        what = (
            f"public IP prefix {self.name} ({self.prefix})"
            if self.prefix
            else (f"public IP {self.name}")
        )
        return f"{what} in {self.resource_group}"


class EgressLookupFailed(Exception):
    """The lookup could not be made; `reason` says why for people, `no_access` when the bot has
    no Reader access to the resource (then the card gives the manual advice)."""

    def __init__(self, reason: str, *, no_access: bool = False, not_found: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.no_access = no_access
        self.not_found = not_found
