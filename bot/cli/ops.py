"""Operator commands on the live system: `python -m bot reconcile REGISTRY` and `python -m bot
sweep`, the flows run by hand with the settings of the environment (the Function app's).

Exit codes: 0 when the work is done (or would be, with `--dry-run`), 1 when it must be retried or
failed (the reason on stderr), 2 for a usage or configuration error.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import ValidationError

from bot.cli.base import Commands, load_settings, settings_problem
from services.domain.errors import DomainError, RegistryNotManaged
from services.domain.grants import GrantState
from services.ports import Ports

if TYPE_CHECKING:
    from services.flows.reconcile import ReconcileReport

#: A command on the ports: what it prints goes to stdout, a failure's line to stderr.
Command = Callable[[Ports, argparse.Namespace], int]


def add_commands(commands: Commands) -> None:
    """Add `reconcile`, `sweep`, `grants` and `audit` to the command line's subparsers."""
    rec = commands.add_parser(
        "reconcile",
        help="converge one registry's rules with its grants now",
        description="Run the registry reconcile by hand: add approved grants' rules, remove "
        "ended grants' rules, in one update.",
    )
    rec.add_argument("registry", help="registry name, login server or custom domain")
    rec.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    rec.add_argument(
        "--check", action="store_true", help="read the registry even if nothing seems to be due"
    )
    rec.set_defaults(handler=_handler(reconcile_command), prog=rec.prog)

    swp = commands.add_parser(
        "sweep",
        help="expire, lapse and re-drive what is due, then reconcile what changed",
        description="Run the sweep by hand; each registry it names is reconciled right away.",
    )
    swp.add_argument("--dry-run", action="store_true", help="say what is due, change nothing")
    swp.set_defaults(handler=_handler(sweep_command), prog=swp.prog)

    lst = commands.add_parser(
        "grants",
        help="list grants",
        description="List grants, newest first, from the grant store.",
    )
    lst.add_argument("--registry", help="registry name, login server or custom domain")
    lst.add_argument("--state", choices=[s.value for s in GrantState], help="only this state")
    lst.add_argument("--json", action="store_true", help="one JSON object per line")
    lst.set_defaults(handler=_handler(grants_command), prog=lst.prog)

    aud = commands.add_parser(
        "audit",
        help="a grant's history, or a registry's changes for an auditor",
        description="Print a grant's audit events, or export a registry's changes.",
    )
    which = aud.add_mutually_exclusive_group(required=True)
    which.add_argument("--grant", metavar="ID", help="a grant's whole history")
    which.add_argument("--registry", help="a registry's changes")
    aud.add_argument("--since", type=_date, help="only events from this date (YYYY-MM-DD) on")
    aud.add_argument("--format", choices=["text", "csv", "json"], default="text")
    aud.set_defaults(handler=_handler(audit_command), prog=aud.prog)


def _handler(command: Command) -> Callable[..., int]:
    """The subcommand's handler: `command` on the environment's ports (a test passes its own),
    guarded (`_guard`)."""

    def handle(args: argparse.Namespace, ports: Ports | None = None) -> int:
        def run() -> int:
            from services.bootstrap import build_ports

            return command(ports or build_ports(load_settings(args.prog)), args)

        return _guard(args.prog, run)

    return handle


def _guard(prog: str, run: Callable[[], int]) -> int:
    """Run a command; a configuration it cannot use is one line and exit 2, storage or ARM that
    cannot be reached one line and exit 1 (try again), never a traceback."""
    from azure.core.exceptions import AzureError
    from pydantic_settings import SettingsError

    try:
        return run()
    except (ValidationError, SettingsError) as exc:
        print(f"{prog}: error: {settings_problem(exc)}", file=sys.stderr)
        return 2
    except DomainError as exc:
        print(f"{prog}: error: {exc.message}", file=sys.stderr)
        return 2
    except ValueError as exc:
        # The storage SDKs refuse a connection string they cannot read with a ValueError.
        if "connection string" not in str(exc).lower():
            raise
        print(
            f"{prog}: error: the storage connection string (AzureWebJobsStorage) cannot be "
            f"read: {exc}",
            file=sys.stderr,
        )
        return 2
    except AzureError as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        print(
            f"{prog}: error: storage could not be reached ({type(exc).__name__}: {first_line})",
            file=sys.stderr,
        )
        return 1


def _retry_reason(report: ReconcileReport) -> str | None:
    """Why a reconcile has to run again (busy, failing for now, failed), or None."""
    from services.flows.reconcile import ReconcileStatus

    if report.status in (ReconcileStatus.BUSY, ReconcileStatus.RETRY, ReconcileStatus.FAILED):
        return report.error or "the registry is busy; run it again"
    return None


def reconcile_command(ports: Ports, args: argparse.Namespace) -> int:
    from services.flows.reconcile import ReconcileStatus, reconcile_registry

    login = args.registry.strip().lower()
    if ports.registries.find(login) is None and ports.grants.fence(login)[0] is None:
        # Neither configured nor ever written by the bot (one it wrote to is still cleared).
        raise RegistryNotManaged(args.registry)
    report = reconcile_registry(
        ports, args.registry, dry_run=args.dry_run or None, check=args.check
    )
    print(f"{report.registry}: {report.status.value}")
    if report.status is ReconcileStatus.DRY_RUN:
        print(f"  ipRules now:   {', '.join(report.rules_before) or '(none)'}")
        print(f"  would become:  {', '.join(report.rules_after) or '(none)'}")
    for label, values in (
        ("added", report.added),
        ("removed", report.removed),
        ("gone", report.gone),
    ):
        if values and report.status is not ReconcileStatus.DRY_RUN:
            print(f"  {label}: {', '.join(values)}")
    for label, grants in (
        ("activated", report.activated),
        ("failed", report.failed),
        ("released", report.released),
        ("rule vanished", report.vanished),
    ):
        for grant in grants:
            print(f"  {label}: {grant.id} {grant.ip} ({grant.requester.user_id})")
    reason = _retry_reason(report)
    if reason is not None:
        print(f"{args.prog}: {reason}", file=sys.stderr)
        return 1
    return 0


def sweep_command(ports: Ports, args: argparse.Namespace) -> int:
    from services.flows.sweep import sweep_and_reconcile

    run = sweep_and_reconcile(ports, inline=True, dry_run=args.dry_run)
    report = run.report
    verb = "would " if args.dry_run else ""
    print(
        f"sweep: {verb}expire {len(report.expired)}, {verb}lapse {len(report.lapsed)}, "
        f"{len(report.stalled)} stalled; registries to reconcile: "
        f"{', '.join(report.registries) or 'none'}"
    )
    failing = dict(report.errors)
    for registry, result in run.reconciled.items():
        print(f"  {registry}: {result.status.value}")
        reason = _retry_reason(result)
        if reason is not None:
            failing[registry] = reason
    for registry, error in failing.items():
        print(f"{args.prog}: {registry}: {error}", file=sys.stderr)
    return 1 if failing else 0


def _date(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def grants_command(ports: Ports, args: argparse.Namespace) -> int:
    registry = ports.registries.get(args.registry).effective_login_server if args.registry else None
    state = GrantState(args.state) if args.state else None
    grants = sorted(
        ports.grants.scan(registry=registry, state=state), key=lambda g: g.id, reverse=True
    )
    for grant in grants:
        if args.json:
            print(grant.model_dump_json())
            continue
        until = f" until {grant.expires_at:%Y-%m-%d %H:%M}Z" if grant.expires_at else ""
        print(
            f"{grant.id}  {grant.state.value:<9} {grant.registry}  {grant.ip}  "
            f"{grant.requester.user_id}{until}"
        )
    if not args.json:
        print(f"{len(grants)} grant(s)")
    return 0


def audit_command(ports: Ports, args: argparse.Namespace) -> int:
    out = sys.stdout
    if args.grant:
        events = ports.audit.for_grant(args.grant)
        if args.since:
            events = [e for e in events if e.at >= args.since]
    else:
        login = ports.registries.get(args.registry).effective_login_server
        events = ports.audit.for_registry(login, since=args.since)
    if args.format == "json":
        for event in events:
            print(event.model_dump_json(), file=out)
    elif args.format == "csv":
        writer = csv.writer(out)
        writer.writerow(
            ["at", "kind", "actor", "grant_id", "registry", "from_state", "to_state",
             "added", "removed", "gone", "rules_before", "rules_after", "request_id"]
        )  # fmt: skip
        for event in events:
            detail = event.detail or {}
            writer.writerow(
                [
                    event.at.isoformat(),
                    event.kind,
                    event.actor,
                    event.grant_id or "",
                    event.registry or "",
                    event.from_state or "",
                    event.to_state or "",
                    " ".join(detail.get("added") or []),
                    " ".join(detail.get("removed") or []),
                    " ".join(detail.get("gone") or []),
                    " ".join(_rule_values(event.before)),
                    " ".join(_rule_values(event.after)),
                    detail.get("request_id") or "",
                ]
            )
    else:
        for event in events:
            what = (
                f"{event.from_state or '-'} -> {event.to_state}"
                if event.kind == "transition"
                else f"rules {', '.join(_rule_values(event.before)) or '(none)'} -> "
                f"{', '.join(_rule_values(event.after)) or '(none)'}"
            )
            print(
                f"{event.at:%Y-%m-%d %H:%M:%S}Z  {event.actor:<12} {event.kind:<15} {what}",
                file=out,
            )
        if not events:
            print("no events", file=out)
    return 0


def _rule_values(rules: object) -> list[str]:
    if not isinstance(rules, list):
        return []
    return [str(r.get("value", r)) if isinstance(r, dict) else str(r) for r in rules]
