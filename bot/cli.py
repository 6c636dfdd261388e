"""The command line: `python -m bot diagnose …` and `python -m bot demo`.

`diagnose` is a stable contract other tools call: exit 0 with one diagnosis (readable, or exactly
one JSON object with `--json`), exit 2 with a single `bot diagnose: error: …` line on stderr and
nothing on stdout for usage errors and unusable input files.

`demo` runs the demo steps below in order; each step is one function taking the loaded
`DemoInputs`, so later steps (the Slack flow) slot in next to the existing one.
"""

from __future__ import annotations

import argparse
import codecs
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, TypeVar

from pydantic import TypeAdapter, ValidationError

# pydantic validates TypedDicts from typing_extensions only, before Python 3.12.
from typing_extensions import TypedDict

from bot import doctor, ops, report_cmd, socket_mode
from services.diagnosis.known_ips import KnownIps, KnownIpsError
from services.diagnosis.parsing import MAX_PASTE_BYTES, parse_pull_failure
from services.diagnosis.service_tags import ServiceTagIndex, ServiceTagsError
from services.diagnosis.verdicts import Diagnosis, diagnose
from services.domain.failure import ReadExtent, ReadPart
from services.domain.registry import RegistryState
from services.files import read_json

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"

_T = TypeVar("_T")


class UsageError(Exception):
    """A bad command line or input file; the message is the whole stderr line."""


class _Parser(argparse.ArgumentParser):
    # argparse prints the usage block and exits; the contract is one line and exit code 2.
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="bot",
        description="Diagnose Azure Container Registry firewall denials.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    diag = commands.add_parser(
        "diagnose",
        help="explain a pasted pull error",
        description="Explain a pasted registry pull error and say what to do about it.",
    )
    diag.add_argument(
        "--registry-json",
        action="append",
        default=[],
        metavar="FILE",
        help="`az acr show -o json` output or ARM REST body (or a JSON array of them); repeatable",
    )
    diag.add_argument("--known-ips", metavar="FILE", help="JSON object: IP or CIDR → label")
    diag.add_argument("--service-tags", metavar="FILE", help="Microsoft ServiceTags_Public JSON")
    diag.add_argument(
        "--custom-domain",
        action="append",
        default=[],
        metavar="DOMAIN=LOGIN_SERVER",
        help="a custom domain in front of a registry; repeatable",
    )
    diag.add_argument("--json", action="store_true", help="print one JSON object")
    diag.add_argument("text", nargs="?", default=None, help="the paste; '-' or omitted: stdin")
    diag.set_defaults(handler=_cmd_diagnose, prog=diag.prog)

    demo = commands.add_parser(
        "demo",
        help="diagnose every example under examples/",
        description="Run the demo on the example pastes, snapshots and address lists.",
    )
    demo.add_argument("--examples", type=Path, default=EXAMPLES_DIR, help=argparse.SUPPRESS)
    demo.set_defaults(handler=_cmd_demo, prog=demo.prog)
    ops.add_commands(commands)
    socket_mode.add_commands(commands)
    report_cmd.add_commands(commands)
    doctor.add_commands(commands)
    add_operations_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:
            # Reported by the subcommand, so the message names it (`bot diagnose: error: …`).
            raise UsageError(f"{args.prog}: error: unrecognized arguments: {' '.join(extra)}")
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`| head`): not an error of ours. Point stdout at nothing so the
        # interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


# -- diagnose ---------------------------------------------------------------------------------


def _cmd_diagnose(args: argparse.Namespace) -> int:
    def fail(message: str) -> NoReturn:
        # One line whatever the message: a pydantic error or an OSError text can hold breaks.
        raise UsageError("bot diagnose: error: " + " ".join(message.split()))

    def load(what: str, path: str, loader: Callable[[str], _T]) -> _T:
        try:
            return loader(path)
        except RecursionError:
            fail(f"{what} file {path!r} is nested too deeply to read")
        except ValidationError as exc:
            fail(f"{what} file {path!r}: {_validation_message(exc)}")
        except (ValueError, OSError) as exc:
            message = str(exc)
            fail(message if repr(path) in message else f"{what} file {path!r}: {message}")

    registries = [
        reg for path in args.registry_json for reg in load("registry", path, load_registries)
    ]
    known = load("known IPs", args.known_ips, KnownIps.load) if args.known_ips else None
    tags = (
        load("service tags", args.service_tags, ServiceTagIndex.load) if args.service_tags else None
    )
    try:
        domains = parse_custom_domains(args.custom_domain)
    except ValueError as exc:
        fail(str(exc))

    source: ReadExtent | None = None
    if args.text in (None, "-"):
        try:
            text, source = _read_stdin()
        except _NotUtf8 as exc:
            fail(f"standard input is not valid UTF-8 ({exc.reason} at byte {exc.offset})")
    else:
        text = args.text
    failure = parse_pull_failure(text, custom_domains=domains or None, source=source)
    result = diagnose(
        failure,
        registries=registries,
        known_ips=known,
        service_tags=tags,
        tags_problem=None if tags is not None else "no service tags were given (--service-tags)",
    )
    if args.json:
        data = diagnosis_to_json(result)
        # Plain ASCII escapes when the terminal's encoding cannot carry the paste's characters.
        ascii_only = not _encodable(json.dumps(data, ensure_ascii=False))
        print(json.dumps(data, ensure_ascii=ascii_only))
    else:
        readable = format_diagnosis(result)
        if not _encodable(readable):
            readable = readable.encode("ascii", "backslashreplace").decode("ascii")
        print(readable)
    return 0


class _NotUtf8(Exception):
    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(reason)
        self.reason, self.offset = reason, offset


#: How much standard input is read at a time.
_CHUNK = 1 << 16


def _read_stdin() -> tuple[str, ReadExtent | None]:
    """Standard input as strict UTF-8 whatever the locale, and what it is a part of when it was
    longer than the parser reads: only its last `MAX_PASTE_BYTES` are kept (a log prints its
    errors last); the rest is read through, checked and counted, never held. Under the C locale
    and in UTF-8 mode Python's own stream would turn bytes that are not UTF-8 into a paste
    (`surrogateescape`)."""
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # a text stream put in place by a caller
        return sys.stdin.read(), None
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    tail = bytearray()
    total = 0
    while True:
        chunk: bytes = buffer.read(_CHUNK)
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise _NotUtf8(str(exc.reason), total - pending + exc.start) from None
        if not chunk:
            break
        total += len(chunk)
        tail += chunk
        if len(tail) > MAX_PASTE_BYTES:
            del tail[: len(tail) - MAX_PASTE_BYTES]
    if total == len(tail):
        return tail.decode("utf-8"), None
    # The first character may be cut in half; its continuation bytes go.
    start = next((i for i in range(min(4, len(tail))) if not 0x80 <= tail[i] < 0xC0), 0)
    kept = bytes(tail[start:])
    return kept.decode("utf-8"), ReadExtent(
        part=ReadPart.END, read_bytes=len(kept), total_bytes=total
    )


def _encodable(text: str) -> bool:
    try:
        text.encode(sys.stdout.encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _validation_message(exc: ValidationError) -> str:
    """A pydantic error on one line: where and what, for the first few problems."""
    errors = exc.errors()
    parts = [f"{'.'.join(map(str, e['loc'])) or 'document'}: {e['msg']}" for e in errors[:3]]
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more


class _Rule(TypedDict, total=False):
    action: str
    value: str
    ipAddressOrRange: str


class _RuleSet(TypedDict, total=False):
    defaultAction: str | None
    ipRules: list[_Rule] | None


class _Sku(TypedDict, total=False):
    name: str | None
    tier: str | None


class _RegistryFields(TypedDict, total=False):
    name: str
    loginServer: str
    id: str | None
    location: str | None
    sku: _Sku | str | None
    publicNetworkAccess: str | None
    networkRuleSet: _RuleSet | None
    networkRuleBypassOptions: str | None
    networkRuleBypassAllowedForTasks: bool | None
    dataEndpointEnabled: bool | None
    dataEndpointHostNames: list[str] | None
    privateEndpointConnections: list[Any] | None


class _RegistryDocument(_RegistryFields, total=False):
    properties: _RegistryFields | None


#: The shape `RegistryState.from_json` reads, checked first so that a wrong type anywhere is a
#: message naming the field, not an exception from deep inside.
_REGISTRY_DOCUMENT = TypeAdapter(_RegistryDocument)


def load_registries(path: str | Path) -> list[RegistryState]:
    """Registry snapshots from one file: an object, or an array of objects.

    Raises ValueError naming the file when it is unreadable, not JSON, or not a registry.
    """
    data = read_json(path, "registry", ValueError)
    docs = data if isinstance(data, list) else [data]
    registries = []
    for index, doc in enumerate(docs):
        where = f"registry file {str(path)!r}" + (f" entry {index}" if len(docs) > 1 else "")
        if not isinstance(doc, dict):
            raise ValueError(f"{where} is not a registry: expected a JSON object")
        try:
            _REGISTRY_DOCUMENT.validate_python(doc)
        except ValidationError as exc:
            raise ValueError(f"{where} is not a registry: {_validation_message(exc)}") from None
        try:
            registries.append(RegistryState.from_json(doc))
        except ValidationError as exc:
            raise ValueError(f"{where} is not a registry: {_validation_message(exc)}") from None
        except ValueError as exc:
            raise ValueError(f"{where} is not a registry: {exc}") from exc
    return registries


def parse_custom_domains(values: Sequence[str]) -> dict[str, str]:
    """`DOMAIN=LOGIN_SERVER` pairs → {domain: login server}, lower case."""
    domains: dict[str, str] = {}
    for value in values:
        domain, sep, login_server = value.partition("=")
        domain, login_server = domain.strip().lower(), login_server.strip().lower()
        if not sep or not _is_host(domain) or not _is_host(login_server):
            raise ValueError(f"--custom-domain {value!r}: expected DOMAIN=LOGIN_SERVER")
        domains[domain] = login_server
    return domains


def _is_host(name: str) -> bool:
    return bool(name) and "." in name and all(c.isalnum() or c in ".-" for c in name)


def diagnosis_to_json(d: Diagnosis) -> dict[str, Any]:
    """The `--json` object: the parsed paste's fields at top level, the verdict, and the facts.

    `recommendation` is the steps joined with line breaks, kept for tools that read it; `read`
    says how much of the paste was read (`part`: `whole`, or `end` of a longer one).
    """
    f = d.failure
    return {
        "kind": f.kind.value,
        "ips": [str(ip) for ip in f.ips],
        "ip_redacted": f.ip_redacted,
        "registry": f.registry,
        "registry_redacted": f.registry_redacted,
        "endpoint": f.endpoint,
        "custom_domain": f.custom_domain,
        "repository": f.repository,
        "reference": f.reference,
        "client": f.client.value,
        "command": f.command,
        "cause": f.cause.value if f.cause else None,
        "hint": f.hint.value if f.hint else None,
        "correlation_id": f.correlation_id,
        "verdict": d.verdict.value,
        "summary": d.summary,
        "recommendation": "\n".join(d.steps),
        "steps": list(d.steps),
        "grant_eligible": d.grant_eligible,
        "grant_ip": str(d.grant_ip) if d.grant_ip is not None else None,
        "grant_warning": d.grant_warning,
        "facts": d.facts.model_dump(mode="json"),
        "read": f.read.model_dump(mode="json") if f.read is not None else None,
    }


def format_diagnosis(d: Diagnosis) -> str:
    """A readable multi-line diagnosis for a terminal."""
    f, facts = d.failure, d.facts
    lines = [f"Verdict: {d.verdict.value}", f"  {d.summary}"]

    seen: list[str] = [f"kind {f.kind.value}", f"client {f.client.value}"]
    if f.cause:
        seen.append(f"cause {f.cause.value}")
    if f.hint:
        seen.append(f"hint {f.hint.value}")
    if f.ips:
        seen.append("IP " + ", ".join(str(ip) for ip in f.ips))
    elif f.ip_redacted:
        seen.append("IP redacted")
    if f.registry:
        seen.append(f"registry {f.registry}")
    if f.endpoint:
        seen.append(f"endpoint {f.endpoint}")
    if f.custom_domain:
        seen.append(f"via {f.custom_domain}")
    if f.repository:
        image = f.repository + (
            f"@{f.reference}" if (f.reference or "").startswith("sha256:") else f":{f.reference}"
        )
        seen.append(f"image {image}" if f.reference else f"image {f.repository}")
    if f.command:
        seen.append(f"command `{f.command}`")
    lines.append("Paste:   " + "; ".join(seen))
    if f.read is not None and f.read.partial:
        read = f.read.describe().removeprefix("read ")
        lines.append(f"Read:    {read} (a long paste keeps its end, where errors are)")

    known: list[str] = []
    if facts.registry_name:
        assumed = " (assumed: the only registry given)" if facts.registry_assumed else ""
        known.append(
            f"registry {facts.registry_name}{assumed}: public access "
            f"{facts.public_network_access}, default action {facts.default_action}, "
            f"rules {facts.quota_used}/{facts.quota_limit}"
        )
    if facts.matched_rule:
        known.append(f"matching rule {facts.matched_rule}")
    if facts.gateway_label:
        known.append(f"known egress {facts.gateway_label} ({facts.gateway_network})")
    if facts.service_tags:
        known.append("service tags " + ", ".join(facts.service_tags))
    if facts.azure_egress:
        known.append(f"Azure egress {facts.azure_egress.value}")
    if facts.other_ips:
        known.append("other IPs " + ", ".join(str(ip) for ip in facts.other_ips))
    if known:
        lines.append("Facts:   " + "; ".join(known))

    if d.grant_eligible:
        lines.append(f"Grant:   a temporary allow rule for {d.grant_ip} can be requested")
        if d.grant_warning:
            lines.append(f"Warning: {d.grant_warning}")
    else:
        reason = (facts.grant_refusal or "not applicable").rstrip(".")
        lines.append(f"Grant:   not offered ({reason})")
    lines.append("What to do:")
    lines.extend(f"  - {step}" for step in d.steps)
    return "\n".join(lines)


# -- demo -------------------------------------------------------------------------------------


@dataclass
class DemoInputs:
    """Everything under `examples/` the demo steps use."""

    registries: list[RegistryState]
    known_ips: KnownIps
    service_tags: ServiceTagIndex
    custom_domains: dict[str, str]
    pastes: list[Path] = field(default_factory=list)


def load_demo_inputs(examples: Path = EXAMPLES_DIR) -> DemoInputs:
    """Load the example registry snapshots, address lists and pastes; ValueError when broken."""
    domains_file = examples / "custom-domains.json"
    domains: Mapping[str, str] = (
        json.loads(domains_file.read_text(encoding="utf-8")) if domains_file.exists() else {}
    )
    return DemoInputs(
        registries=[
            reg
            for path in sorted((examples / "registries").glob("*.json"))
            for reg in load_registries(path)
        ],
        known_ips=KnownIps.load(examples / "known-ips.json"),
        service_tags=ServiceTagIndex.load(examples / "service-tags.json"),
        custom_domains={k.lower(): v.lower() for k, v in domains.items()},
        pastes=sorted((examples / "pastes").glob("*.txt")),
    )


def demo_diagnose_paste(inputs: DemoInputs, paste: Path) -> Diagnosis:
    """Diagnose one example paste against every example snapshot."""
    failure = parse_pull_failure(
        paste.read_text(encoding="utf-8"), custom_domains=inputs.custom_domains or None
    )
    return diagnose(
        failure,
        registries=inputs.registries,
        known_ips=inputs.known_ips,
        service_tags=inputs.service_tags,
    )


def demo_step_diagnose(inputs: DemoInputs, out: TextIO) -> None:
    """Step: diagnose every example paste and print the result."""
    print(
        f"== Diagnosing {len(inputs.pastes)} example pastes against "
        f"{len(inputs.registries)} registries "
        f"({', '.join(r.name for r in inputs.registries)}) ==",
        file=out,
    )
    for paste in inputs.pastes:
        print(f"\n--- {paste.name} ---", file=out)
        print(format_diagnosis(demo_diagnose_paste(inputs, paste)), file=out)


#: The demo, step by step; the Slack flow will add its steps here.
def demo_step_conversation(inputs: DemoInputs, out: TextIO) -> None:
    """Step: the Slack conversation from paste to expiry, on local stand-ins (Azurite from
    node_modules, the ARM and Slack emulators). Imported here: `sandbox/` is not deployed."""
    from sandbox.demo import demo_step_conversation as step

    step(inputs, out)


DEMO_STEPS: list[Callable[[DemoInputs, TextIO], None]] = [
    demo_step_diagnose,
    demo_step_conversation,
]


def run_demo(
    out: TextIO,
    examples: Path = EXAMPLES_DIR,
    steps: Sequence[Callable[[DemoInputs, TextIO], None]] | None = None,
) -> int:
    """Run the demo steps (all by default) on the examples; returns the exit code."""
    try:
        inputs = load_demo_inputs(examples)
    except (ValueError, OSError, KnownIpsError, ServiceTagsError) as exc:
        raise UsageError(f"bot demo: error: {exc}") from exc
    for step in DEMO_STEPS if steps is None else steps:
        step(inputs, out)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    return run_demo(sys.stdout, args.examples)


# -- discover-egress, refresh-service-tags ------------------------------------------------------
# The Azure SDKs are imported by the commands that use them, so `diagnose` stays quick to start.

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from services.settings import Settings


def add_operations_commands(commands: argparse._SubParsersAction[_Parser]) -> None:
    """The commands a platform team runs against Azure (`DefaultAzureCredential`; the ARM
    endpoint and CA bundle from `ACRBOT_ARM__ENDPOINT` and `ACRBOT_ARM__CA_BUNDLE`)."""
    egress = commands.add_parser(
        "discover-egress",
        help="list the public egress IPs of a subscription",
        description="List the public IPs of NAT gateways, Application Gateways, Azure Firewalls "
        "and load balancers' outbound rules, labelled by resource; optionally merge them into "
        "a known-IPs file (--known-ips, ACRBOT_KNOWN_IPS).",
    )
    egress.add_argument(
        "--subscription",
        action="append",
        required=True,
        metavar="ID",
        help="subscription to search; repeatable",
    )
    egress.add_argument(
        "--write",
        metavar="FILE",
        type=Path,
        help="merge into this JSON file of IP/CIDR → label (entries already there are kept)",
    )
    egress.add_argument("--json", action="store_true", help="print one JSON object")
    egress.set_defaults(handler=_cmd_discover_egress, prog=egress.prog)

    tags = commands.add_parser(
        "refresh-service-tags",
        help="fetch Azure service tags and store them for the diagnosis",
        description="Fetch Microsoft's service tags through ARM and store them in the app's "
        "storage (what the daily timer does).",
    )
    tags.add_argument(
        "--location",
        action="append",
        default=[],
        metavar="REGION",
        help="region to ask; repeatable (default: ACRBOT_SERVICE_TAGS__LOCATIONS)",
    )
    tags.add_argument(
        "--subscription",
        metavar="ID",
        help="subscription to ask (default: ACRBOT_SERVICE_TAGS__SUBSCRIPTION_ID)",
    )
    tags.set_defaults(handler=_cmd_refresh_service_tags, prog=tags.prog)


def _arm_credential() -> TokenCredential | None:
    """The Azure credential of these commands; None lets each adapter make
    `DefaultAzureCredential` on first use (tests put a static token here)."""
    return None


def _operations_settings(prog: str) -> Settings:
    from pydantic import ValidationError

    from services.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        raise UsageError(f"{prog}: error: invalid ACRBOT_ settings: {exc}") from exc


def _cmd_discover_egress(args: argparse.Namespace) -> int:
    from services.azure.network import (
        ArmEgressDiscovery,
        EgressDiscoveryError,
        merge_known_ips,
    )

    prog = "bot discover-egress"
    settings = _operations_settings(prog)
    existing: dict[str, str] = {}
    if args.write is not None and args.write.exists():
        try:
            data = read_json(args.write, "known IPs", KnownIpsError)
            if not isinstance(data, dict):
                raise KnownIpsError(f"known IPs file {str(args.write)!r} must hold a JSON object")
            KnownIps(data)  # the same validation --known-ips applies
        except KnownIpsError as exc:
            raise UsageError(f"{prog}: error: {exc}") from exc
        existing = data
    discovery = ArmEgressDiscovery(arm=settings.arm, credential=_arm_credential())
    try:
        report = discovery.discover(args.subscription)
    except EgressDiscoveryError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    for warning in report.warnings:
        print(f"{prog}: warning: {warning}", file=sys.stderr)
    found = report.known_ips()
    if args.json:
        print(json.dumps(found, ensure_ascii=False))
    else:
        for network, label in found.items():
            print(f"{network:<18} {label}")
    if args.write is not None:
        merged = merge_known_ips(existing, found)
        _write_json(args.write, merged.entries)
        print(
            f"{len(found)} egress addresses found, {len(merged.added)} new; "
            f"{args.write} now holds {len(merged.entries)} entries",
            file=sys.stderr if args.json else sys.stdout,
        )
    return 0


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    # Written beside the target and renamed over it, so a failed run never leaves half a file.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def _cmd_refresh_service_tags(args: argparse.Namespace) -> int:
    from services.azure.service_tags import ServiceTagsRefreshError, refresh_service_tags

    prog = "bot refresh-service-tags"
    settings = _operations_settings(prog)
    try:
        result = refresh_service_tags(
            settings,
            subscription_id=args.subscription,
            locations=args.location or None,
            credential=_arm_credential(),
        )
    except ServiceTagsRefreshError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    print(
        f"Stored {result.tags} service tags ({result.prefixes} prefixes, change number "
        f"{result.change_number}) from {', '.join(result.locations)} in "
        f"{result.container}/{result.blob}."
    )
    return 0
