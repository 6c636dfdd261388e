"""The architecture as tests, beside the import-linter contracts in pyproject.toml (`make test`
runs `lint-imports`): no import cycle at all, type-only imports included (they are how the
runtime → worker → notices → runtime cycle hid), and the Slack side never loads a storage,
management or identity SDK itself, not even lazily inside a function."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def _cycle(graph: grimp.ImportGraph) -> list[str]:
    """One import cycle of `graph` (its first module again at its end), or [] when it has none."""
    sorter = graphlib.TopologicalSorter(
        {m: graph.find_modules_directly_imported_by(m) & graph.modules for m in graph.modules}
    )
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return []


def test_no_import_cycle_anywhere_type_only_imports_included() -> None:
    graph = grimp.build_graph("bot", "services", "sandbox", exclude_type_checking_imports=False)
    assert _cycle(graph) == []


_NOT_IN_BOT = ("azure.data", "azure.storage", "azure.mgmt", "azure.identity")


def test_the_slack_side_imports_no_storage_management_or_identity_sdk() -> None:
    offenders = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.relative_to(ROOT)}: {name}"
                for name in names
                if name.startswith(_NOT_IN_BOT)
            ]
    assert offenders == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for module in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(module)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.z")
    graph.add_import(importer="a.z", imported="a.x")
    cycle = _cycle(graph)
    assert len(cycle) == 4
    assert cycle[0] == cycle[-1]
    assert sorted(cycle[:-1]) == ["a.x", "a.y", "a.z"]
    graph.remove_import(importer="a.z", imported="a.x")
    assert _cycle(graph) == []
