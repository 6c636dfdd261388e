"""Operator commands on the live system: `python -m bot reconcile REGISTRY` and `python -m bot
sweep`, the flows run by hand with the settings of the environment (the Function app's).

Exit codes: 0 when the work is done (or would be, with `--dry-run`), 1 when it must be retried or
failed (the reason on stderr), 2 for a usage or configuration error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, TextIO

from pydantic import ValidationError

from services.domain.errors import DomainError
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


def _ports() -> Ports:
    from services.bootstrap import build_ports
    from services.settings import Settings

    return build_ports(Settings())


def _guard(prog: str, run: Callable[[], int], err: TextIO) -> int:
    try:
        return run()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        print(f"{prog}: error: invalid setting {where}: {first['msg']}", file=err)
        return 2
    except DomainError as exc:
        print(f"{prog}: error: {exc.message}", file=err)
        return 2


def _cmd_reconcile(args: argparse.Namespace, ports: Ports | None = None) -> int:
    return _guard(args.prog, lambda: reconcile_command(ports or _ports(), args), sys.stderr)


def reconcile_command(
    ports: Ports, args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    from services.flows.reconcile import ReconcileStatus, reconcile_registry

    out, err = out or sys.stdout, err or sys.stderr
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
    from services.flows.reconcile import ReconcileStatus, reconcile_registry
    from services.flows.sweep import sweep

    out, err = out or sys.stdout, err or sys.stderr
    report = sweep(ports, dry_run=args.dry_run)
    verb = "would " if args.dry_run else ""
    print(
        f"sweep: {verb}expire {len(report.expired)}, {verb}lapse {len(report.lapsed)}, "
        f"{len(report.stalled)} stalled; registries to reconcile: "
        f"{', '.join(report.registries) or 'none'}",
        file=out,
    )
    failing = dict(report.errors)
    for registry in report.registries:
        result = reconcile_registry(ports, registry, dry_run=args.dry_run or None)
        print(f"  {registry}: {result.status.value}", file=out)
        if result.status in (ReconcileStatus.BUSY, ReconcileStatus.RETRY, ReconcileStatus.FAILED):
            failing[registry] = result.error or "busy"
    for registry, error in failing.items():
        print(f"{args.prog}: {registry}: {error}", file=err)
    return 1 if failing else 0
