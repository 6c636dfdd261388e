"""`python -m bot diagnose`: explain a pasted pull error, offline, against the registry snapshots,
known egress IPs and service tags given as files."""

from __future__ import annotations

import argparse
import codecs
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from pydantic import ValidationError

from bot.cli.base import Commands, UsageError
from bot.cli.render import format_diagnosis
from services.diagnosis.known_ips import KnownIps
from services.diagnosis.parsing import MAX_PASTE_BYTES, parse_pull_failure
from services.diagnosis.service_tags import ServiceTagIndex
from services.diagnosis.verdicts import Diagnosis, diagnose
from services.domain.failure import ReadExtent, ReadPart
from services.domain.registry import RegistryState, validation_message
from services.files import read_json

_T = TypeVar("_T")


def add_commands(commands: Commands) -> None:
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
            fail(f"{what} file {path!r}: {validation_message(exc)}")
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
            registries.append(RegistryState.from_json(doc))
        except ValidationError as exc:
            raise ValueError(f"{where} is not a registry: {validation_message(exc)}") from None
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
    says how much of the paste was read (`part`: `whole`, or `end` of a longer one); `resource`
    is the Azure resource the paste names as the one that pulled (its egress is the address).
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
        "resource": f.resource.model_dump(mode="json") if f.resource is not None else None,
    }
