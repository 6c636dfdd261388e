"""The grammar every pasted value passes before it leaves the parser (`services.domain.failure`).

(It lives beside the parser's tests because the parser is what relies on it.)
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from services.domain.failure import (
    FailureKind,
    PullFailure,
    safe_host,
    safe_reference,
    safe_repository,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("shop/api", "shop/api"),
        ("/shop/api/.", "shop/api"),
        ("a__b/c-d.e/f--g", "a__b/c-d.e/f--g"),
        ("Shop/api", None),
        ("web`\n<http://evil|ok>", None),
        ("web//api", None),
        ("", None),
        ("a" * 257, None),
    ],
)
def test_repository_names_follow_the_distribution_grammar(value: str, expected: str | None) -> None:
    assert safe_repository(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.4", "1.4"),
        ("V2-RC", "V2-RC"),
        ("latest.", "latest"),
        ("sha256:" + "a" * 64, "sha256:" + "a" * 64),
        ("-bad", None),
        ("tag`x", None),
        ("x" * 129, None),
    ],
)
def test_references_are_tags_or_digests(value: str, expected: str | None) -> None:
    assert safe_reference(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Contoso.AzureCR.io.", "contoso.azurecr.io"),
        ("cr.contoso.cloud", "cr.contoso.cloud"),
        ("localhost", None),
        ("-x.azurecr.io", None),
        ("a<b>.azurecr.io", None),
    ],
)
def test_hosts_are_dns_names(value: str, expected: str | None) -> None:
    assert safe_host(value) == expected


def test_the_model_refuses_what_the_grammar_refuses() -> None:
    with pytest.raises(ValidationError, match="repository"):
        PullFailure(kind=FailureKind.IP_DENIED, repository="web`<!here>")
    with pytest.raises(ValidationError, match="registry"):
        PullFailure(kind=FailureKind.IP_DENIED, registry="x<!channel>.azurecr.io")
    with pytest.raises(ValidationError, match="command"):
        PullFailure(kind=FailureKind.IP_DENIED, command="docker pull a\n<!here>")
    with pytest.raises(ValidationError, match="unknown"):
        PullFailure(kind=FailureKind.IP_DENIED, unknown="x")  # type: ignore[call-arg]


def test_an_ip_keeps_no_zone() -> None:
    failure = PullFailure(kind=FailureKind.IP_DENIED, ips=("fe80::1%<!here>",))  # type: ignore[arg-type]
    assert failure.ips == (ipaddress.IPv6Address("fe80::1"),)
    assert failure.ips[0].scope_id is None


def test_evidence_is_one_printable_line() -> None:
    failure = PullFailure(kind=FailureKind.UNRECOGNIZED, evidence="a\nb\x1b[31m\u2028c\ud800")
    assert failure.evidence == "a b [31m c"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_a_safe_value_never_holds_markup_or_breaks(value: str) -> None:
    for safe in (safe_repository(value), safe_reference(value), safe_host(value)):
        if safe is not None:
            assert not set(safe) & set("`<>&|*~ \n\r\t")


@pytest.mark.parametrize(
    ("repository", "reference", "image"),
    [
        ("shop/api", "1.4", "shop/api:1.4"),
        ("shop/api", "sha256:" + "a" * 64, "shop/api@sha256:" + "a" * 64),
        ("shop/api", None, "shop/api"),
        (None, "1.4", None),
    ],
)
def test_the_image_is_written_as_a_person_writes_it(repository, reference, image) -> None:
    failure = PullFailure(kind=FailureKind.IP_DENIED, repository=repository, reference=reference)
    assert failure.image == image
