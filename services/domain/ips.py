"""The one place that decides which addresses can be granted (docs/ARCHITECTURE.md,
invariant 5).

Only a single public IPv4 address (`1.2.3.4` or `1.2.3.4/32`) can get an allow rule; everything
else is refused with the reason a developer needs. Diagnosis, grants and the registry service all
ask here, so a paste, a request and a registry write can never disagree about an address.
"""

from __future__ import annotations

import ipaddress

from services.domain.errors import Ipv6NotSupported, NotAnIp, NotPublicIp, RangeTooBroad

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_RFC1918 = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
)
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")


def non_public_reason(ip: IPAddress) -> str | None:
    """Why `ip` never reaches a registry's public endpoint as itself, or None when it is public."""
    if ip.is_unspecified:
        return "unspecified (0.0.0.0)" if ip.version == 4 else "unspecified (::)"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address):
        if ip in _SHARED:
            return "shared carrier-grade NAT (100.64.0.0/10)"
        if any(ip in net for net in _RFC1918):
            return "private (RFC 1918)"
    elif ip.is_private:
        return "private"
    # `is_global` alone is not enough: Python counts multicast (224.0.0.0/4) as global.
    if not ip.is_global or ip.is_reserved:
        return "reserved or special-purpose"
    return None


def parse_ipv4(value: str | IPAddress) -> ipaddress.IPv4Address:
    """One IPv4 address from `1.2.3.4` or `1.2.3.4/32`; raises an `UnsupportedIp` otherwise."""
    text = str(value).strip()
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise NotAnIp(text) from None
    if not isinstance(net, ipaddress.IPv4Network):
        raise Ipv6NotSupported(text)
    if net.num_addresses != 1:
        raise RangeTooBroad(text)
    return net.network_address


def parse_grantable_ip(value: str | IPAddress) -> ipaddress.IPv4Address:
    """A single public IPv4 address that may be granted, or an `UnsupportedIp` saying why not."""
    ip = parse_ipv4(value)
    reason = non_public_reason(ip)
    if reason is not None:
        raise NotPublicIp(str(value).strip(), reason)
    return ip
