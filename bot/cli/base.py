"""What every command shares: one usage-error line and exit code 2 (`UsageError`), and a
parser that raises it instead of printing argparse's usage block."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, NoReturn, TypeAlias


class UsageError(Exception):
    """A bad command line or input file; the message is the whole stderr line."""


class Parser(argparse.ArgumentParser):
    # argparse prints the usage block and exits; the contract is one line and exit code 2.
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}")


#: The subparsers of the command line, as each command module receives them (generic to the
#: type checker only: argparse's class cannot be subscripted at run time).
if TYPE_CHECKING:
    Commands: TypeAlias = argparse._SubParsersAction[Parser]
else:
    Commands = argparse._SubParsersAction
