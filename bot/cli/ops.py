"""Operator commands on the live system: `python -m bot reconcile REGISTRY` and `python -m bot
sweep`, the flows run by hand with the settings of the environment (the Function app's).

Exit codes: 0 when the work is done (or would be, with `--dry-run`), 1 when it must be retried or
failed (the reason on stderr), 2 for a usage or configuration error.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from pydantic import ValidationError

from services.domain.errors import DomainError, RegistryNotManaged
from services.domain.grants import GrantState
from services.ports import Ports


def add_commands(commands: Any) -> None:
    """Add `reconcile` and `sweep` to the command line's subparsers."""
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
    rec.set_defaults(handler=_cmd_reconcile, prog=rec.prog)

    swp = commands.add_parser(
        "sweep",
        help="expire, lapse and re-drive what is due, then reconcile what changed",
        description="Run the sweep by hand; each registry it names is reconciled right away.",
    )
    swp.add_argument("--dry-run", action="store_true", help="say what is due, change nothing")
    swp.set_defaults(handler=_cmd_sweep, prog=swp.prog)

    lst = commands.add_parser(
        "grants",
        help="list grants",
        description="List grants, newest first, from the grant store.",
    )
    lst.add_argument("--registry", help="registry name, login server or custom domain")
    lst.add_argument("--state", choices=[s.value for s in GrantState], help="only this state")
    lst.add_argument("--json", action="store_true", help="one JSON object per line")
    lst.set_defaults(handler=_cmd_grants, prog=lst.prog)

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
    aud.set_defaults(handler=_cmd_audit, prog=aud.prog)


def _ports() -> Ports:
    from services.bootstrap import build_ports
    from services.settings import Settings

    return build_ports(Settings())


def _guard(prog: str, run: Callable[[], int], err: TextIO) -> int:
    """Run a command; a configuration it cannot use is one line and exit 2, storage or ARM that
    cannot be reached one line and exit 1 (try again), never a traceback."""
    from azure.core.exceptions import AzureError
    from pydantic_settings import SettingsError

    try:
        return run()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        print(f"{prog}: error: invalid setting {where}: {first['msg']}", file=err)
        return 2
    except SettingsError as exc:
        print(f"{prog}: error: {_settings_problem(exc)}", file=err)
        return 2
    except DomainError as exc:
        print(f"{prog}: error: {exc.message}", file=err)
        return 2
    except ValueError as exc:
        # The storage SDKs refuse a connection string they cannot read with a ValueError.
        if "connection string" not in str(exc).lower():
            raise
        print(
            f"{prog}: error: the storage connection string (AzureWebJobsStorage) cannot be "
            f"read: {exc}",
            file=err,
        )
        return 2
    except AzureError as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        print(
            f"{prog}: error: storage could not be reached ({type(exc).__name__}: {first_line})",
            file=err,
        )
        return 1


def _settings_problem(exc: Exception) -> str:
    """pydantic-settings' "error parsing value for field "registries" from source …" in the
    terms of the environment: which variable is not JSON."""
    found = re.search(r'field "([a-z_]+)"', str(exc))
    if found is None:
        return f"a setting cannot be read: {exc}"
    name = "ACRBOT_" + found.group(1).upper()
    return f"{name} is not valid JSON ({exc.__cause__ or 'a list or object is expected'})"


def _cmd_reconcile(args: argparse.Namespace, ports: Ports | None = None) -> int:
    return _guard(args.prog, lambda: reconcile_command(ports or _ports(), args), sys.stderr)


def reconcile_command(
    ports: Ports, args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    from services.flows.reconcile import ReconcileStatus, reconcile_registry

    out, err = out or sys.stdout, err or sys.stderr
    login = args.registry.strip().lower()
    if ports.registries.find(login) is None and ports.grants.fence(login)[0] is None:
        # Neither configured nor ever written by the bot (one it wrote to is still cleared).
        raise RegistryNotManaged(args.registry)
    report = reconcile_registry(
        ports, args.registry, dry_run=args.dry_run or None, check=args.check
    )
    print(f"{report.registry}: {report.status.value}", file=out)
    if report.status is ReconcileStatus.DRY_RUN:
        print(f"  ipRules now:   {', '.join(report.rules_before) or '(none)'}", file=out)
        print(f"  would become:  {', '.join(report.rules_after) or '(none)'}", file=out)
    for label, values in (
        ("added", report.added),
        ("removed", report.removed),
        ("gone", report.gone),
    ):
        if values and report.status is not ReconcileStatus.DRY_RUN:
            print(f"  {label}: {', '.join(values)}", file=out)
    for label, grants in (
        ("activated", report.activated),
        ("failed", report.failed),
        ("released", report.released),
        ("rule vanished", report.vanished),
    ):
        for grant in grants:
            print(f"  {label}: {grant.id} {grant.ip} ({grant.requester.user_id})", file=out)
    if report.status in (ReconcileStatus.BUSY, ReconcileStatus.RETRY, ReconcileStatus.FAILED):
        print(f"{args.prog}: {report.error or 'the registry is busy; run it again'}", file=err)
        return 1
    return 0


def _cmd_sweep(args: argparse.Namespace, ports: Ports | None = None) -> int:
    return _guard(args.prog, lambda: sweep_command(ports or _ports(), args), sys.stderr)


def sweep_command(
    ports: Ports, args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    from services.flows.reconcile import ReconcileStatus
    from services.flows.sweep import sweep_and_reconcile

    out, err = out or sys.stdout, err or sys.stderr
    run = sweep_and_reconcile(ports, inline=True, dry_run=args.dry_run)
    report = run.report
    verb = "would " if args.dry_run else ""
    print(
        f"sweep: {verb}expire {len(report.expired)}, {verb}lapse {len(report.lapsed)}, "
        f"{len(report.stalled)} stalled; registries to reconcile: "
        f"{', '.join(report.registries) or 'none'}",
        file=out,
    )
    failing = dict(report.errors)
    for registry, result in run.reconciled.items():
        print(f"  {registry}: {result.status.value}", file=out)
        if result.status in (ReconcileStatus.BUSY, ReconcileStatus.RETRY, ReconcileStatus.FAILED):
            failing[registry] = result.error or "busy"
    for registry, error in failing.items():
        print(f"{args.prog}: {registry}: {error}", file=err)
    return 1 if failing else 0


def _date(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _cmd_grants(args: argparse.Namespace, ports: Ports | None = None) -> int:
    return _guard(args.prog, lambda: grants_command(ports or _ports(), args), sys.stderr)


def grants_command(ports: Ports, args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    registry = ports.registries.get(args.registry).effective_login_server if args.registry else None
    state = GrantState(args.state) if args.state else None
    grants = sorted(
        ports.grants.scan(registry=registry, state=state), key=lambda g: g.id, reverse=True
    )
    for grant in grants:
        if args.json:
            print(grant.model_dump_json(), file=out)
            continue
        until = f" until {grant.expires_at:%Y-%m-%d %H:%M}Z" if grant.expires_at else ""
        print(
            f"{grant.id}  {grant.state.value:<9} {grant.registry}  {grant.ip}  "
            f"{grant.requester.user_id}{until}",
            file=out,
        )
    if not args.json:
        print(f"{len(grants)} grant(s)", file=out)
    return 0


def _cmd_audit(args: argparse.Namespace, ports: Ports | None = None) -> int:
    return _guard(args.prog, lambda: audit_command(ports or _ports(), args), sys.stderr)


def audit_command(ports: Ports, args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
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
