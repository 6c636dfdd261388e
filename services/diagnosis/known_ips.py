"""The organisation's known egress addresses (NAT gateways, office ranges, VPN exits) by label.

Configured as a JSON object, IP or CIDR → label (`Settings.known_ips`, `--known-ips FILE`).
A lookup returns the most specific entry covering the address: one `bisect` in an index of the
entries' address ranges (`_intervals`), not a scan of every entry.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from services.diagnosis._intervals import NestedRanges
from services.domain.ips import IPAddress, IPNetwork
from services.files import read_json


class KnownIpsError(ValueError):
    """The known-IP configuration is not a JSON object of valid IP/CIDR → label."""


class KnownIp(BaseModel):
    model_config = ConfigDict(frozen=True)

    network: IPNetwork
    label: str


class KnownIps:
    """Known egress networks; lookups prefer the longest prefix."""

    def __init__(self, entries: Mapping[str, str] | None = None) -> None:
        items: list[KnownIp] = []
        for raw, label in (entries or {}).items():
            if not isinstance(raw, str) or not isinstance(label, str):
                raise KnownIpsError(f"known IP entry {raw!r}: key and label must be strings")
            try:
                network = ipaddress.ip_network(raw.strip(), strict=False)
            except ValueError as exc:
                raise KnownIpsError(f"known IP entry {raw!r} is not an IP address or CIDR") from exc
            items.append(KnownIp(network=network, label=label.strip() or str(network)))
        # Longest prefix first, so the first hit is the most specific.
        self._entries = tuple(sorted(items, key=lambda k: -k.network.prefixlen))
        self._index = {
            version: NestedRanges(
                (int(k.network.network_address), int(k.network.broadcast_address), k)
                for k in self._entries
                if k.network.version == version
            )
            for version in (4, 6)
        }

    @classmethod
    def load(cls, path: str | Path) -> KnownIps:
        """Read a JSON file mapping IP/CIDR → label; raises KnownIpsError when unusable."""
        data = read_json(path, "known IPs", KnownIpsError)
        if not isinstance(data, dict):
            raise KnownIpsError(f"known IPs file {str(path)!r} must hold a JSON object")
        return cls(data)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def entries(self) -> tuple[KnownIp, ...]:
        return self._entries

    def lookup(self, ip: IPAddress) -> KnownIp | None:
        """The most specific known network containing `ip`, or None."""
        return self._index[ip.version].innermost(int(ip))
