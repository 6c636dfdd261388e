"""One rule for which addresses can be granted, shared by diagnosis, grants and the registry."""

from __future__ import annotations

import ipaddress

import pytest

from services.domain import errors
from services.domain.ips import non_public_reason, parse_grantable_ip, parse_ipv4


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("10.1.2.3", "private"),
        ("172.31.255.1", "private"),
        ("192.168.0.1", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.10", "reserved"),
        ("fd00::1", "private"),
        ("::1", "loopback"),
    ],
)
def test_non_public_addresses_name_their_reason(text: str, reason: str) -> None:
    found = non_public_reason(ipaddress.ip_address(text))
    assert found is not None
    assert reason in found


@pytest.mark.parametrize("text", ["20.103.186.69", "91.38.188.165", "2603:1020:201::1"])
def test_public_addresses_have_no_reason(text: str) -> None:
    assert non_public_reason(ipaddress.ip_address(text)) is None


def test_a_host_route_is_the_same_address() -> None:
    assert parse_ipv4("1.2.3.4/32") == parse_ipv4(" 1.2.3.4 ") == ipaddress.IPv4Address("1.2.3.4")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("1.2.3.0/24", errors.RangeTooBroad),
        ("2001:db8::1", errors.Ipv6NotSupported),
        ("x.x.x.x", errors.NotAnIp),
        ("10.0.0.1", errors.NotPublicIp),
    ],
)
def test_only_single_public_ipv4_is_grantable(text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_grantable_ip(text)


def test_every_refusal_is_an_invalid_request_with_a_message() -> None:
    # One refusal tree: a request flow, the reconcile and the diagnosis all raise these.
    with pytest.raises(errors.InvalidRequest) as refused:
        parse_grantable_ip("10.0.0.1")
    assert isinstance(refused.value, errors.UnsupportedIp)
    assert refused.value.message.startswith("`10.0.0.1` cannot be allowed: it is a private")
