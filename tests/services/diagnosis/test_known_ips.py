"""Known egress addresses: the most specific entry wins, found through the interval index."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from services.diagnosis.known_ips import KnownIps


def test_nested_entries_give_the_innermost_label() -> None:
    known = KnownIps(
        {"10.0.0.0/8": "vnet", "10.1.0.0/16": "aks", "10.1.2.0/24": "nodes", "10.1.2.7": "nat"}
    )
    found = {
        ip: (hit.label if (hit := known.lookup(ipaddress.IPv4Address(ip))) else None)
        for ip in ("10.1.2.7", "10.1.2.8", "10.1.3.1", "10.9.9.9", "11.0.0.1")
    }
    assert found == {
        "10.1.2.7": "nat",
        "10.1.2.8": "nodes",
        "10.1.3.1": "aks",
        "10.9.9.9": "vnet",
        "11.0.0.1": None,
    }


def test_the_same_network_written_twice_keeps_the_first_label() -> None:
    known = KnownIps({"4.175.12.34": "NAT gateway", "4.175.12.34/32": "duplicate"})
    hit = known.lookup(ipaddress.IPv4Address("4.175.12.34"))
    assert hit is not None
    assert hit.label == "NAT gateway"


def test_ipv6_entries_do_not_answer_for_ipv4() -> None:
    known = KnownIps({"::/0": "every IPv6 address"})
    assert known.lookup(ipaddress.IPv4Address("1.2.3.4")) is None
    hit = known.lookup(ipaddress.IPv6Address("2001:db8::1"))
    assert hit is not None


_networks = st.builds(
    lambda a, plen: str(ipaddress.IPv4Network((a, plen), strict=False)),
    st.integers(0, 2**32 - 1),
    st.integers(0, 32),
)


@settings(max_examples=200, deadline=None)
@given(
    entries=st.dictionaries(_networks, st.text(min_size=1, max_size=5), max_size=12),
    probes=st.lists(st.integers(0, 2**32 - 1), max_size=20),
)
def test_lookup_agrees_with_a_scan_of_every_entry(
    entries: dict[str, str], probes: list[int]
) -> None:
    known = KnownIps(entries)
    edges = [int(ipaddress.IPv4Network(n).network_address) for n in entries]
    edges += [int(ipaddress.IPv4Network(n).broadcast_address) for n in entries]
    for value in probes + edges:
        ip = ipaddress.IPv4Address(value)
        covering = [k for k in known.entries if ip in k.network]
        hit = known.lookup(ip)
        if not covering:
            assert hit is None
        else:
            assert hit is not None
            assert hit.network.prefixlen == max(k.network.prefixlen for k in covering)
