"""The command line, `python -m bot`: one module per group of commands, each adding its own
subcommands (`add_commands`).

- `diagnose` (`bot.cli.diagnose`) is a stable contract other tools call: exit 0 with one diagnosis
  (readable, or exactly one JSON object with `--json`), exit 2 with a single
  `bot diagnose: error: …` line on stderr and nothing on stdout for usage errors and unusable
  input files.
- `reconcile`, `sweep`, `grants`, `audit` (`bot.cli.ops`), `report` (`bot.cli.report`),
  `discover-egress`, `refresh-service-tags` (`bot.cli.azure`), `doctor` (`bot.doctor`), `socket`
  (`bot.socket_mode`).

The demo is not here: it runs on the local stand-ins (`python -m sandbox.demo`, `make demo`),
which are not deployed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from bot import doctor, socket_mode
from bot.cli import azure, diagnose, ops, report
from bot.cli.base import Parser, UsageError

__all__ = ["UsageError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="bot", description="Diagnose Azure Container Registry firewall denials.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    diagnose.add_commands(commands)
    ops.add_commands(commands)
    socket_mode.add_commands(commands)
    report.add_commands(commands)
    doctor.add_commands(commands)
    azure.add_commands(commands)
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
