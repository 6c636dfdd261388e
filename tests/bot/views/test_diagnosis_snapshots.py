"""Snapshots of the diagnosis card: one per example paste (`examples/pastes/`, every verdict the
bot gives, judged against the example registries, known IPs and service tags as `make demo`
does), and the card's variants (a cut paste, an unreadable registry, an address found in Azure,
a paste full of markup, stale service tags)."""

from __future__ import annotations

import ipaddress
import json
from functools import cache
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from bot.files import AttachedText, Refusal
from bot.views.diagnosis import diagnosis_blocks, diagnosis_text
from services.diagnosis.known_ips import KnownIps
from services.diagnosis.parsing import parse_pull_failure
from services.diagnosis.service_tags import ServiceTagIndex
from services.diagnosis.verdicts import Verdict, diagnose
from services.domain.egress import PublicIpOwner
from services.domain.failure import ReadExtent, ReadPart
from services.domain.registry import RegistryState
from services.flows.diagnose import DiagnosisResult
from tests.bot.views.samples import SEALED, message

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
PASTES = sorted(p.name for p in (EXAMPLES / "pastes").glob("*.txt"))
#: Verdicts whose card asks for the address the paste hid (as `make_offer` decides).
ASKS_FOR_THE_ADDRESS = {Verdict.NO_IP_IN_ERROR, Verdict.IP_REDACTED}


@cache
def _inputs() -> tuple[tuple[RegistryState, ...], KnownIps, ServiceTagIndex, dict[str, str]]:
    registries = tuple(
        RegistryState.from_json(json.loads(path.read_text(encoding="utf-8")))
        for path in sorted((EXAMPLES / "registries").glob("*.json"))
    )
    domains = json.loads((EXAMPLES / "custom-domains.json").read_text(encoding="utf-8"))
    return (
        registries,
        KnownIps.load(EXAMPLES / "known-ips.json"),
        ServiceTagIndex.load(EXAMPLES / "service-tags.json"),
        domains,
    )


def _result(
    paste: str, *, tags_problem: str | None = None, source: ReadExtent | None = None
) -> DiagnosisResult:
    registries, known, tags, domains = _inputs()
    failure = parse_pull_failure(paste, custom_domains=domains, source=source)
    return DiagnosisResult(
        diagnosis=diagnose(
            failure,
            registries=registries,
            known_ips=known,
            service_tags=tags,
            tags_problem=tags_problem,
        )
    )


def _card(result: DiagnosisResult, *, file: AttachedText | None = None) -> dict[str, object]:
    """The card as the worker sends it: with the request button where a request may be made
    (for a managed registry: a grantable address, or an address to enter)."""
    d = result.diagnosis
    managed = d.facts.login_server is not None and d.verdict is not Verdict.REGISTRY_UNKNOWN
    needs_ip = managed and d.verdict in ASKS_FOR_THE_ADDRESS
    offered = managed and (d.grant_eligible or needs_ip)
    blocks = diagnosis_blocks(
        result, file=file, request_value=SEALED if offered else None, needs_ip=needs_ip
    )
    return message(diagnosis_text(result), blocks)


@pytest.mark.parametrize("paste", PASTES)
def test_diagnosis_card(paste: str, snapshot_json: SnapshotAssertion) -> None:
    text = (EXAMPLES / "pastes" / paste).read_text(encoding="utf-8")
    assert _card(_result(text)) == snapshot_json


def test_every_verdict_has_an_example_card() -> None:
    verdicts = {
        _result((EXAMPLES / "pastes" / p).read_text(encoding="utf-8")).diagnosis.verdict
        for p in PASTES
    }
    assert verdicts == set(Verdict)


GATEWAY_PASTE = (EXAMPLES / "pastes" / "01-docker-app-gateway.txt").read_text(encoding="utf-8")


#: The last megabyte of a 3.1 MB log, as the parser keeps it.
LOG_END = ReadExtent(part=ReadPart.END, read_bytes=1_048_576, total_bytes=3_250_585)


def test_diagnosis_card_of_a_cut_paste(snapshot_json: SnapshotAssertion) -> None:
    assert _card(_result(GATEWAY_PASTE, source=LOG_END)) == snapshot_json


def test_diagnosis_card_of_an_attached_log(snapshot_json: SnapshotAssertion) -> None:
    log = AttachedText(
        file_id="F0BUILDLOG", name="build.log", size=3_250_585, text=GATEWAY_PASTE, extent=LOG_END
    )
    assert _card(_result(GATEWAY_PASTE, source=LOG_END), file=log) == snapshot_json


def test_diagnosis_card_of_a_paste_beside_a_refused_file(snapshot_json: SnapshotAssertion) -> None:
    picture = AttachedText(
        file_id="F0SCREEN", name="screenshot.png", size=48_213, refusal=Refusal.NOT_TEXT, kind="PNG"
    )
    assert _card(_result(GATEWAY_PASTE), file=picture) == snapshot_json


def test_diagnosis_card_with_an_unreadable_registry(snapshot_json: SnapshotAssertion) -> None:
    result = _result(GATEWAY_PASTE).model_copy(
        update={
            "registry_errors": (
                "Azure did not answer for contosoprod.azurecr.io (503 ServiceUnavailable); "
                "try again in a minute.",
            )
        }
    )
    assert _card(result) == snapshot_json


def test_diagnosis_card_with_the_address_found_in_azure(snapshot_json: SnapshotAssertion) -> None:
    paste = GATEWAY_PASTE.replace("91.38.188.165", "145.40.12.9")
    owner = PublicIpOwner(
        ip=ipaddress.IPv4Address("145.40.12.9"),
        name="pip-ng-build",
        resource_group="rg-network",
        subscription="00000000-0000-0000-0000-0000000000a1",
        owner_kind="NAT gateway",
        owner_name="ng-build",
        owner_resource_group="rg-network",
    )
    result = _result(paste).model_copy(update={"owners": (owner,)})
    assert _card(result) == snapshot_json


def test_diagnosis_card_of_a_paste_full_of_markup(snapshot_json: SnapshotAssertion) -> None:
    # Slack markup and code-span breakers inside the line the card quotes: shown, never live.
    paste = (
        "Error response from daemon: <!channel> Head "
        '"https://contosoprod.azurecr.io/v2/app/manifests/x": denied: client with IP '
        "'91.38.188.165' is not allowed access <@U0BOSS> `rm -rf` *now* <#C0GENERAL> & "
        "<!subteam^S0ALL>. Refer https://aka.ms/acr/firewall to grant access."
    )
    assert _card(_result(paste)) == snapshot_json


def test_diagnosis_card_with_stale_service_tags(snapshot_json: SnapshotAssertion) -> None:
    # Stale tags cannot say an address is not Azure's: no rule is offered (fail closed).
    result = _result(GATEWAY_PASTE, tags_problem="its copy of Azure's service tags is 9 days old")
    assert not result.diagnosis.grant_eligible
    assert _card(result) == snapshot_json
