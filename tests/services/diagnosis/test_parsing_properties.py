"""Properties of the pasted-error parser: any address in any known message shape is read exactly,
and no text whatsoever makes it raise."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from services.diagnosis.parsing import parse_pull_failure
from services.domain.failure import FailureKind, PullFailure
from tests.services.diagnosis.parsing_corpus import CASES, hard_wrap

SETTINGS = settings(max_examples=200, deadline=None)


def _docker(ip: str) -> str:
    return (
        'Error response from daemon: Head "https://contoso.azurecr.io/v2/web/manifests/2.0": '
        f"denied: client with IP '{ip}' is not allowed access. Refer https://aka.ms/acr/firewall "
        "to grant access."
    )


def _json_escaped(ip: str) -> str:
    return (
        '{"message":"denied: client with IP \\u0027' + ip + "\\u0027 is not allowed access. "
        'Refer https://aka.ms/acr/firewall to grant access."}'
    )


def _upper(ip: str) -> str:
    return (
        "GET https:?scope=repository%3Aweb%3Apull&service=contoso.azurecr.io: DENIED: client "
        f"with IP '{ip}' is not allowed access. Refer https://aka.ms/acr/firewall to grant access."
    )


def _comma(ip: str) -> str:
    return (
        f"denied: client with IP '{ip}' is not allowed access, refer https://aka.ms/acr/firewall "
        "to grant access"
    )


def _wrapped_words(ip: str) -> str:
    return f"denied: client with\n    IP '{ip}' is not\n    allowed access. Refer\n  https://aka.ms"


def _hard_wrapped(width: int) -> Callable[[str], str]:
    return lambda ip: hard_wrap(_docker(ip), width)


def _unquoted(ip: str) -> str:
    return f"Error: denied: client with IP {ip} is not allowed access. Refer https://aka.ms/acr"


def _typographic(ip: str) -> str:
    return f"denied: client with IP ‘{ip}’ is not allowed access. Refer https://aka.ms/acr/firewall"


def _slack(ip: str) -> str:
    return (
        "```Error response from daemon: Head &quot;<https://contoso.azurecr.io/v2/web/manifests/"
        f"2.0>&quot;: denied: client with IP `{ip}` is not allowed access. Refer "
        "<https://aka.ms/acr/firewall|https://aka.ms/acr/firewall> to grant access.```"
    )


def _ci(ip: str) -> str:
    return "\n".join(
        f"2024-05-01T10:00:0{i}.1234567Z {line}"
        for i, line in enumerate(["##[group]Run docker pull", *_docker(ip).split(" denied: ")])
    ).replace("Z Error", "Z ##[error]Error")


def _ansi(ip: str) -> str:
    return _docker(f"\x1b[1m{ip}\x1b[0m").replace("Error", "\x1b[31mError\x1b[0m") + "\r\n"


SHAPES: dict[str, Callable[[str], str]] = {
    "docker": _docker,
    "json-escaped": _json_escaped,
    "upper-case": _upper,
    "comma": _comma,
    "wrapped-words": _wrapped_words,
    "hard-wrap-70": _hard_wrapped(70),
    "hard-wrap-80": _hard_wrapped(80),
    "hard-wrap-120": _hard_wrapped(120),
    "unquoted": _unquoted,
    "typographic": _typographic,
    "slack": _slack,
    "ci": _ci,
    "ansi": _ansi,
}
shapes = st.sampled_from(sorted(SHAPES))
ipv4 = st.ip_addresses(v=4).filter(lambda ip: not ip.is_unspecified)


@SETTINGS
@given(ip=ipv4, shape=shapes)
def test_any_ipv4_in_any_known_shape_is_read_exactly(ip: ipaddress.IPv4Address, shape: str) -> None:
    got = parse_pull_failure(SHAPES[shape](str(ip)))
    assert got.kind is FailureKind.IP_DENIED
    assert got.ips == (ip,)
    assert got.ip_redacted is False


@SETTINGS
@given(ip=st.ip_addresses(v=6), shape=st.sampled_from(["docker", "json-escaped", "upper-case"]))
def test_any_ipv6_is_read_exactly(ip: ipaddress.IPv6Address, shape: str) -> None:
    got = parse_pull_failure(SHAPES[shape](str(ip)))
    expected = ip.ipv4_mapped or ip
    assert got.ips == (() if expected.is_unspecified else (expected,))


@SETTINGS
@given(first=ipv4, second=ipv4, shape=shapes)
def test_two_denials_keep_their_order(
    first: ipaddress.IPv4Address, second: ipaddress.IPv4Address, shape: str
) -> None:
    text = SHAPES[shape](str(first)) + "\n\nand then\n\n" + SHAPES[shape](str(second))
    got = parse_pull_failure(text)
    assert got.ips == ((first,) if first == second else (first, second))


@SETTINGS
@given(text=st.text())
def test_any_text_parses_without_raising(text: str) -> None:
    assert isinstance(parse_pull_failure(text), PullFailure)


@SETTINGS
@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=2000))
def test_any_unicode_text_parses_without_raising(text: str) -> None:
    assert isinstance(parse_pull_failure(text), PullFailure)


FRAGMENTS = sorted(
    {piece for case in CASES for piece in case.text.replace("\n", " \n ").split(" ") if piece}
    | {"client with IP '", "' is not allowed access", ".azurecr.io", "DENIED: ", "\\u0027", "```",
       "<https://", "|", ">", "&lt;", "\x1b[31m", "\r\n", "##[error]", "%3A", "/v2/", "@sha256:"}
)  # fmt: skip


@SETTINGS
@given(
    pieces=st.lists(st.sampled_from(FRAGMENTS), max_size=60), sep=st.sampled_from(["", " ", "\n"])
)
def test_mixes_of_real_message_fragments_never_raise(pieces: list[str], sep: str) -> None:
    got = parse_pull_failure(sep.join(pieces))
    assert isinstance(got, PullFailure)
    # Addresses come only from a denial sentence.
    if got.kind is not FailureKind.IP_DENIED:
        assert got.ips == ()


@SETTINGS
@given(
    pieces=st.lists(st.sampled_from(FRAGMENTS), max_size=30),
    domain=st.from_regex(r"[a-z]{1,8}\.[a-z]{2,5}", fullmatch=True),
)
def test_custom_domains_never_break_parsing(pieces: list[str], domain: str) -> None:
    got = parse_pull_failure(" ".join([*pieces, domain]), custom_domains={domain: "x.azurecr.io"})
    assert isinstance(got, PullFailure)
