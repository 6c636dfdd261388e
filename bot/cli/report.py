"""`python -m bot report [--registry R] [--since DATE] [--min-grants N] [--json]`: the IPs granted
again and again per registry, with how often, when last used and by whom, as candidates for a
permanent rule or a NAT gateway; addresses already in `ACRBOT_KNOWN_IPS` are marked.

It reads the grants of the environment's storage (the Function app's settings). Exit 0 with the
report (also when nothing recurs), 2 with one `bot report: error: …` line for a usage or
configuration error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any, TextIO

from bot.cli.base import Commands, load_settings
from services.clock import Clock, SystemClock
from services.diagnosis.known_ips import KnownIps
from services.flows.report import RecurringIp, recurring_ips

if TYPE_CHECKING:
    from services.ports import GrantStore
    from services.settings import Settings

PROG = "bot report"


def add_commands(commands: Commands) -> None:
    """Add `report` to the command line's subparsers."""
    rep = commands.add_parser(
        "report",
        help="IPs granted again and again: candidates for a permanent rule or a NAT gateway",
        description="List the addresses granted repeatedly on each registry, with the number of "
        "grants, when each was last used and who asked; those already in ACRBOT_KNOWN_IPS are "
        "marked.",
    )
    rep.add_argument("--registry", metavar="R", help="one registry: name, login server or domain")
    rep.add_argument(
        "--since",
        metavar="DATE",
        type=parse_since,
        help="only requests made on or after DATE (YYYY-MM-DD, or an ISO 8601 time)",
    )
    rep.add_argument(
        "--min-grants",
        metavar="N",
        type=_positive,
        default=2,
        help="how many grants make an address recurring (default 2)",
    )
    rep.add_argument("--json", action="store_true", help="print one JSON object")
    rep.set_defaults(handler=_cmd_report, prog=rep.prog)


def parse_since(value: str) -> datetime:
    """`2026-03-01` (midnight UTC) or an ISO 8601 time (UTC when it names no zone)."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date or time: {value!r}") from None
    if len(value.strip()) == 10:
        parsed = datetime.combine(parsed.date(), time(0))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {value!r}")
    return number


def _cmd_report(args: argparse.Namespace) -> int:
    from services.bootstrap import build_ports

    settings = load_settings(PROG)

    return report_command(build_ports(settings).grants, settings, args)


def report_command(
    grants: GrantStore,
    settings: Settings,
    args: argparse.Namespace,
    *,
    clock: Clock | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    registry: str | None = None
    if args.registry:
        config = settings.directory.find(args.registry)
        if config is not None:
            registry = config.effective_login_server
        elif "." in args.registry:
            # A registry no longer managed keeps its history under its login server.
            registry = args.registry.strip().lower()
        else:
            print(f"{PROG}: error: unknown registry {args.registry!r}", file=err)
            return 2
    found = recurring_ips(
        grants.scan(registry=registry),
        now=(clock or SystemClock()).now(),
        since=args.since,
        registry=registry,
        min_grants=args.min_grants,
        known_ips=KnownIps(settings.known_ips),
    )
    if args.json:
        print(json.dumps(report_json(found, args.since, args.min_grants, registry)), file=out)
    else:
        print(format_report(found, args.since, args.min_grants), file=out)
    return 0


def report_json(
    found: Sequence[RecurringIp], since: datetime | None, min_grants: int, registry: str | None
) -> dict[str, Any]:
    return {
        "registry": registry,
        "since": since.isoformat() if since is not None else None,
        "min_grants": min_grants,
        "candidates": [
            {
                "registry": r.registry,
                "ip": str(r.ip),
                "grants": r.grants,
                "requests": r.requests,
                "first_granted": r.first_granted.isoformat(),
                "last_granted": r.last_granted.isoformat(),
                "last_used": r.last_used.isoformat(),
                "in_use": r.in_use,
                "known_ip": r.known_label,
                "requesters": [
                    {"user_id": p.user_id, "team_id": p.team_id, "grants": p.grants}
                    for p in r.requesters
                ],
            }
            for r in found
        ],
    }


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def format_report(found: Sequence[RecurringIp], since: datetime | None, min_grants: int) -> str:
    """A table per registry, for a terminal."""
    scope = f"granted {min_grants} or more times" + (
        f" since {_when(since)} UTC" if since is not None else ""
    )
    if not found:
        return f"No address was {scope}."
    lines = [f"Recurring IPs ({scope}): candidates for a permanent rule or a NAT gateway."]
    registry = None
    for r in found:
        if r.registry != registry:
            registry = r.registry
            lines += [
                "",
                registry,
                f"  {'IP':<16} {'GRANTS':>6} {'REQUESTS':>8}  {'LAST USED (UTC)':<16}  "
                f"{'REQUESTERS':<24}  NOTE",
            ]
        people = ", ".join(f"{p.user_id} ({p.grants})" for p in r.requesters)
        notes = (["in use"] if r.in_use else []) + (
            [f"known: {r.known_label}"] if r.known_label else []
        )
        lines.append(
            f"  {r.ip!s:<16} {r.grants:>6} {r.requests:>8}  {_when(r.last_used):<16}  "
            f"{people:<24}  {'; '.join(notes)}".rstrip()
        )
    registries = len({r.registry for r in found})
    known = sum(1 for r in found if r.known_label)
    lines += [
        "",
        f"{len(found)} address{'es' if len(found) != 1 else ''} on {registries} "
        f"registr{'ies' if registries != 1 else 'y'}; {known} already in ACRBOT_KNOWN_IPS "
        "(give those a permanent rule); for the others consider a NAT gateway.",
    ]
    return "\n".join(lines)
