"""Every port in `services/ports.py` has a contract suite here: a module whose docstring names it
as its contract, with tests that run on the port's fake and on its real adapter alike."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import services.ports

HERE = Path(__file__).parent


#: Protocols in services/ports.py that are not ports of their own.
BUNDLES = {"Ports": "every collaborator a flow may be given; each is a port with its suite"}


def _ports() -> set[str]:
    return {
        name
        for name, cls in inspect.getmembers(services.ports, inspect.isclass)
        if cls.__module__ == services.ports.__name__
        and getattr(cls, "_is_protocol", False)
        and name not in BUNDLES
    }


def _suites() -> dict[str, str]:
    """Contract module → its docstring."""
    return {
        path.name: ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        for path in sorted(HERE.glob("test_*.py"))
        if path.name != Path(__file__).name
    }


def test_every_port_is_named_by_a_contract_suite() -> None:
    suites = _suites()
    missing = {
        port
        for port in _ports()
        if not any(f"`{port}`" in doc and "contract" in doc for doc in suites.values())
    }
    assert not missing, f"ports without a contract suite in tests/contracts: {sorted(missing)}"
