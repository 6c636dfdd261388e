"""An offer: what a diagnosis card lets people request — a registry, and the address the paste
named (or none, when the paste hid it and the person must say which).

The card's button carries only the offer's id; the registry and the address come from here, on
the server, so nobody can request a different address through the button than the one diagnosed.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict

from services.domain.failure import PastedResource

#: A card older than this asks for a new diagnosis: the registry's rules may have changed.
OFFER_TTL = timedelta(hours=24)


class Offer(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    #: Login server of a managed registry.
    registry: str
    #: The diagnosed address; None when the person must enter it (the paste hid it).
    ip: ipaddress.IPv4Address | None = None
    verdict: str
    summary: str
    #: The shared-address warning for Azure-owned addresses, carried to the approver.
    warning: str | None = None
    #: The command that failed, repeated to the requester once the rule is active.
    command: str | None = None
    #: The client named in the paste (docker, container_apps…), for the help on finding an IP.
    client: str = "unknown"
    created_at: AwareDatetime
    #: More addresses requested together with `ip` (a resource's egress addresses, looked up).
    more_ips: tuple[ipaddress.IPv4Address, ...] = ()
    #: For a paste that hid the address: the kind of resource an egress lookup would read, and
    #: the ids of that kind's resources the card offered (the card's choice is an index here).
    lookup_kind: str | None = None
    candidates: tuple[str, ...] = ()
    #: The resource the paste named, when it hid the address (its egress is what to look up).
    resource: PastedResource | None = None
    #: `candidates` are what `resource` was found to be in Azure, not every resource of its kind.
    named: bool = False

    @property
    def ips(self) -> tuple[ipaddress.IPv4Address, ...]:
        return ((self.ip,) if self.ip is not None else ()) + self.more_ips
