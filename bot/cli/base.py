"""What every command shares: one usage-error line and exit code 2 (`UsageError`), a parser that
raises it instead of printing argparse's usage block, and the environment's settings read so that
settings which do not load are that one line too (`load_settings`, `settings_problem`)."""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING, NoReturn, TypeAlias

if TYPE_CHECKING:
    from services.settings import Settings


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


def settings_problem(exc: Exception) -> str:
    """Settings that did not load, on one line: pydantic's first complaint and where, or, for
    pydantic-settings' "error parsing value for field "registries" from source …", which
    variable is not JSON."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        return f"invalid setting {where}: {first['msg']}"
    found = re.search(r'field "([a-z_]+)"', str(exc))
    if found is None:
        return f"a setting cannot be read: {exc}"
    name = "ACRBOT_" + found.group(1).upper()
    return f"{name} is not valid JSON ({exc.__cause__ or 'a list or object is expected'})"


def load_settings(prog: str) -> Settings:
    """The environment's settings; `UsageError` (one line, exit 2) when they do not load."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError

    from services.settings import Settings

    try:
        return Settings()
    except (ValidationError, SettingsError) as exc:
        raise UsageError(f"{prog}: error: {settings_problem(exc)}") from exc
