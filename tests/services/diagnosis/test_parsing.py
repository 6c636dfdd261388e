"""The pasted-error parser against a corpus of real-shaped pastes, and its edge cases."""

from __future__ import annotations

import ipaddress

import pytest

from services.diagnosis.parsing import MAX_PASTE_BYTES, parse_pull_failure
from services.domain.failure import (
    Client,
    FailureKind,
    PullFailure,
    ReadExtent,
    ReadPart,
    size_text,
)
from tests.services.diagnosis.parsing_corpus import (
    CASES,
    DENIAL,
    REPORTED,
    ROUND2,
    UNCHECKED,
    Case,
)

ALL_CASES = CASES + REPORTED + ROUND2


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_corpus_case_is_read_as_expected(case: Case) -> None:
    got = parse_pull_failure(case.text, custom_domains=case.custom_domains or None)
    expected: dict[str, object] = {
        "kind": case.kind,
        "ips": tuple(ipaddress.ip_address(ip) for ip in case.ips),
        "registry": case.registry,
        "client": case.client,
        "repository": case.repository,
        "reference": case.reference,
        "correlation_id": case.correlation_id,
        "custom_domain": case.custom_domain,
        "ip_redacted": case.ip_redacted,
        "registry_redacted": case.registry_redacted,
        "cause": case.cause,
        "hint": case.hint,
        "endpoint": case.endpoint,
        "remote_ip": ipaddress.ip_address(case.remote_ip) if case.remote_ip else None,
    }
    if case.command != UNCHECKED:
        expected["command"] = case.command
    assert {k: getattr(got, k) for k in expected} == expected


def test_corpus_covers_every_client_and_kind() -> None:
    clients = {c.client for c in CASES}
    assert clients == set(Client), set(Client) - clients
    assert {c.kind for c in CASES} == set(FailureKind)
    assert len(CASES) >= 60


def test_evidence_shows_the_denial_line() -> None:
    got = parse_pull_failure(CASES[0].text)
    assert got.evidence is not None
    assert got.evidence.startswith("Error response from daemon")
    assert "91.38.188.165" in got.evidence


def test_unrecognized_paste_has_no_evidence() -> None:
    assert parse_pull_failure("hello").evidence is None


@pytest.mark.parametrize("text", ["", " ", "\n\n", "\x00", "\ud800", "```", "<>", "&amp;" * 3])
def test_degenerate_input_is_unrecognized(text: str) -> None:
    got = parse_pull_failure(text)
    assert got == PullFailure(kind=FailureKind.UNRECOGNIZED, read=got.read)
    assert got.read is not None
    assert not got.read.partial


def test_ips_are_deduplicated_in_order_of_appearance() -> None:
    text = "\n".join(
        f"denied: client with IP '{ip}' {DENIAL}"
        for ip in ("9.9.9.9", "1.1.1.1", "9.9.9.9", "2001:db8::1", "1.1.1.1")
    )
    got = parse_pull_failure(text)
    assert got.ips == (
        ipaddress.IPv4Address("9.9.9.9"),
        ipaddress.IPv4Address("1.1.1.1"),
        ipaddress.IPv6Address("2001:db8::1"),
    )
    assert got.ipv4 == got.ips[:2]
    assert got.ipv6 == (ipaddress.IPv6Address("2001:db8::1"),)


def test_one_redacted_sentence_among_readable_ones_is_flagged() -> None:
    text = f"client with IP '1.2.3.4' {DENIAL}\nclient with IP 'x.x.x.x' {DENIAL}"
    got = parse_pull_failure(text)
    assert got.ips == (ipaddress.IPv4Address("1.2.3.4"),)
    assert got.ip_redacted is True


def test_zero_address_is_a_redaction() -> None:
    got = parse_pull_failure(f"client with IP '0.0.0.0' {DENIAL}")
    assert got.ips == ()
    assert got.ip_redacted is True


def test_ip_with_port_is_read_without_it() -> None:
    got = parse_pull_failure(f"client with IP '91.38.188.165:51234' {DENIAL}")
    assert got.ips == (ipaddress.IPv4Address("91.38.188.165"),)


def test_ips_elsewhere_in_the_text_are_ignored() -> None:
    text = "node 10.0.0.4 at 2024-05-01 10:00:00.1 pulled containerd 1.7.13.1 from 1.2.3.4\n"
    got = parse_pull_failure(text + "Error response from daemon: unauthorized")
    assert got.ips == ()
    assert got.kind is FailureKind.NOT_FIREWALL


def test_registry_tied_to_the_denial_wins_over_the_first_seen() -> None:
    text = (
        "docker login first.azurecr.io\nLogin Succeeded\n"
        + "x " * 600
        + f'\nError response from daemon: Get "https://second.azurecr.io/v2/": denied: '
        f"client with IP '1.2.3.4' {DENIAL}"
    )
    assert parse_pull_failure(text).registry == "second.azurecr.io"


def test_first_registry_seen_when_none_is_tied() -> None:
    text = (
        "using first.azurecr.io and second.azurecr.io\n"
        + "x " * 600
        + f"\ndenied: client with IP '1.2.3.4' {DENIAL}"
    )
    assert parse_pull_failure(text).registry == "first.azurecr.io"


def test_custom_domain_keys_are_matched_case_insensitively() -> None:
    got = parse_pull_failure(
        "docker pull CR.Zuehlke.Cloud/nginx:1\nError response from daemon: denied: client with "
        f"IP '1.2.3.4' {DENIAL}",
        custom_domains={"CR.zuehlke.cloud": "TZuehlke.azurecr.io"},
    )
    assert (got.registry, got.custom_domain) == ("tzuehlke.azurecr.io", "cr.zuehlke.cloud")
    assert (got.repository, got.reference) == ("nginx", "1")


def test_custom_domain_does_not_match_a_longer_host() -> None:
    got = parse_pull_failure(
        "docker pull cr.zuehlke.cloud.evil.example/nginx\n"
        f"denied: client with IP '1.2.3.4' {DENIAL}",
        custom_domains={"cr.zuehlke.cloud": "tzuehlke.azurecr.io"},
    )
    assert got.registry is None


def test_data_endpoint_maps_to_its_login_server() -> None:
    got = parse_pull_failure("GET https://MyReg.westeurope.data.azurecr.io/x: denied: " + DENIAL)
    assert got.registry == "myreg.azurecr.io"


def test_a_paste_over_the_limit_keeps_its_end_and_says_so() -> None:
    # Pull errors come last in a log: the denial on its last line is read, the early one is not.
    early = f"denied: client with IP '1.2.3.4' {DENIAL}\n"
    late = f"denied: client with IP '5.6.7.8' {DENIAL}\n"
    text = early + "é" * (MAX_PASTE_BYTES // 2) + "\n" + late
    got = parse_pull_failure(text)
    assert got.ips == (ipaddress.IPv4Address("5.6.7.8"),)
    total = len(text.encode())
    assert got.read == ReadExtent(
        part=ReadPart.END, read_bytes=got.read.read_bytes, total_bytes=total
    )
    assert MAX_PASTE_BYTES - 4096 <= got.read.read_bytes <= MAX_PASTE_BYTES


def test_a_3mb_log_with_the_denial_on_its_last_line_is_read_from_its_end() -> None:
    line = (
        "2024-05-01T10:00:00.0000000Z ##[debug] pulling layer 5f70bf18a086: Layer already exists\n"
    )
    text = line * (3_000_000 // len(line)) + f"Error: denied: client with IP '5.6.7.8' {DENIAL}"
    got = parse_pull_failure(text)
    assert got.kind is FailureKind.IP_DENIED
    assert got.ips == (ipaddress.IPv4Address("5.6.7.8"),)
    assert got.read is not None
    assert got.read.part is ReadPart.END
    assert got.read.total_bytes == len(text)
    assert got.read.describe() == "read the last 1.0 MB of 3.0 MB"


def test_the_cut_drops_the_partial_line_at_its_edge() -> None:
    # The window opens inside an early denial sentence: kept, its rest (`3.4' is not allowed
    # access`) would read as a denial cut before its address.
    denial = f"denied: client with IP '1.2.3.4' {DENIAL}\n"
    cut_at = denial.index("3.4'")
    size = MAX_PASTE_BYTES - (len(denial) - cut_at)
    after = "ok\n" * (size // 3 - 1)
    after += "o" * (size - len(after) - 1) + "\n"
    got = parse_pull_failure("x" * 1000 + "\n" + denial + after)
    assert got.kind is FailureKind.UNRECOGNIZED
    assert not got.ip_redacted
    assert got.read is not None
    assert got.read.read_bytes == len(after)


def test_a_source_says_what_the_text_is_the_end_of() -> None:
    # A file's last megabyte, read by the bot: the figure is the file's, not the text's.
    text = "partial line\n" + f"denied: client with IP '5.6.7.8' {DENIAL}\n"
    source = ReadExtent(part=ReadPart.END, read_bytes=len(text), total_bytes=3_100_000)
    got = parse_pull_failure(text, source=source)
    assert got.ips == (ipaddress.IPv4Address("5.6.7.8"),)
    assert got.read is not None
    assert got.read.part is ReadPart.END
    assert got.read.total_bytes == 3_100_000
    assert got.read.read_bytes == len(text) - len("partial line\n")
    whole = ReadExtent(read_bytes=len(text), total_bytes=len(text))
    assert parse_pull_failure(text, source=whole).read == whole


def test_a_source_read_from_its_start_keeps_its_start() -> None:
    early = f"denied: client with IP '1.2.3.4' {DENIAL}\n"
    text = early + "a\n" * MAX_PASTE_BYTES
    source = ReadExtent(part=ReadPart.START, read_bytes=len(text), total_bytes=9_000_000)
    got = parse_pull_failure(text, source=source)
    assert got.ips == (ipaddress.IPv4Address("1.2.3.4"),)
    assert got.read is not None
    assert got.read.part is ReadPart.START
    assert got.read.describe() == "read the first 1.0 MB of 9.0 MB"


def test_sizes_read_as_people_write_them() -> None:
    assert size_text(812) == "812 bytes"
    assert size_text(45_300) == "45 KB"
    assert size_text(999_700) == "1.0 MB"
    assert size_text(3_145_728) == "3.1 MB"


ADVERSARIAL = {
    "denial-prefix-repeated": "client with IP '" * 62_500,
    "single-letter": "a" * 1_000_000,
    "acr-suffix-repeated": ".azurecr.io" * 90_000,
    "upper-denied-repeated": "DENIED: " * 125_000,
    "newlines": "a\n" * 500_000,
    "slack-link-open": "<https://" + "a" * 999_000,
    "json-escapes": "\\\\\\\\u00" * 125_000,
    "api-path-repeated": "https://a.azurecr.io/v2/" + "a/" * 499_000,
    "digits-and-dots": "1." * 500_000,
    "refusals-beside-redacted-hosts": "403 Forbidden .azurecr.io " * 38_000,
}


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_adversarial_paste_is_read_normally(name: str) -> None:
    got = parse_pull_failure(ADVERSARIAL[name])
    assert got.ips == ()
    assert got.registry == ("a.azurecr.io" if name == "api-path-repeated" else None)
    assert got.kind in (
        FailureKind.UNRECOGNIZED,
        FailureKind.NOT_FIREWALL,
        FailureKind.FIREWALL_SUSPECTED,
    )


def test_adversarial_filler_around_a_real_denial_still_finds_it() -> None:
    filler = "client with IP '" * 20_000
    got = parse_pull_failure(filler + f"\ndenied: client with IP '1.2.3.4' {DENIAL}\n" + filler)
    assert got.kind is FailureKind.IP_DENIED
    assert got.ips == (ipaddress.IPv4Address("1.2.3.4"),)


def test_query_strings_survive_entity_decoding() -> None:
    got = parse_pull_failure(
        "GET https://contoso.azurecr.io/oauth2/token?scope=repository%3Aweb%3Apull&region=weu"
        "&service=contoso.azurecr.io: 403 Forbidden &amp; more &lt;details&gt;"
    )
    assert got.evidence is not None
    assert "&region=weu" in got.evidence
    assert "& more <details>" in got.evidence
    assert got.kind is FailureKind.FIREWALL_SUSPECTED
    assert (got.registry, got.repository) == ("contoso.azurecr.io", "web")


def test_text_whose_lower_case_is_longer_keeps_positions() -> None:
    # `İ` lower-cases to two characters; positions must still line up for the tag's case.
    got = parse_pull_failure(
        "İİİ docker pull contoso.azurecr.io/web:V2-RC\nError response from daemon: denied: "
        f"client with IP '1.2.3.4' {DENIAL}"
    )
    assert (got.registry, got.repository, got.reference) == ("contoso.azurecr.io", "web", "V2-RC")
