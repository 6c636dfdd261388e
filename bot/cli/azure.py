"""The commands a platform team runs against Azure: `discover-egress` (the organisation's public
egress IPs) and `refresh-service-tags`. The Azure SDKs are imported by the commands that use
them, so `diagnose` stays quick to start."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli.base import Commands, UsageError, load_settings
from services.diagnosis.known_ips import KnownIps, KnownIpsError
from services.files import read_json

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential


def add_commands(commands: Commands) -> None:
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


def _cmd_discover_egress(args: argparse.Namespace) -> int:
    from services.azure.network import (
        ArmEgressDiscovery,
        EgressDiscoveryError,
        merge_known_ips,
    )

    prog = "bot discover-egress"
    settings = load_settings(prog)
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
    settings = load_settings(prog)
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
