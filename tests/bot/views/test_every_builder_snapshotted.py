"""Every public function in `bot/views/` is either called by a snapshot test (`test_*_snapshots.py`)
or listed below as a part of the builders that are, so a new card cannot arrive without its
snapshot."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
from pathlib import Path

import bot.views

#: Functions that draw a piece of a card, not a message of their own: each shows in the snapshots
#: of the builders named.
PARTS = {
    "bot.views.diagnosis.title": "diagnosis_blocks, diagnosis_text",
    "bot.views.diagnosis.steps_of": "diagnosis_blocks",
    "bot.views.diagnosis.read_note": "diagnosis_blocks (cut paste, attached log, refused file)",
    "bot.views.grants.who": "approval_card, requester_message",
    "bot.views.grants.rule_fate": "approval_card (expired and revoked)",
    "bot.views.grants.extend_button": "requester_message, home_view",
    "bot.views.grants.revoke_button": "approval_card, requester_message, home_view",
    "bot.views.grants.again_button": "requester_message (ended states)",
    "bot.views.grants.history": "approval_card, requester_message, review_text",
    "bot.views.requests.duration_options": "request_modal, extend_modal, approval_card",
    "bot.views.format.channel": "the requested message (its approvals channel)",
    "bot.views.format.clip": "every card",
    "bot.views.format.code": "every card",
    "bot.views.format.date": "approval_card, requester_message, home_view",
    "bot.views.format.mention": "approval_card, requester_message, home_view, refusal",
    "bot.views.mrkdwn.code": "through format.code",
    "bot.views.mrkdwn.escape": "every card (and tests/bot/views/test_mrkdwn.py)",
}


def _public_functions() -> set[str]:
    found = set()
    for info in pkgutil.iter_modules(bot.views.__path__):
        module = importlib.import_module(f"bot.views.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__ and not name.startswith("_"):
                found.add(f"{module.__name__}.{name}")
    return found


def _called_by_snapshots() -> set[str]:
    """`module.function` for every name a snapshot test imports from `bot.views` and calls."""
    called = set()
    for path in Path(__file__).parent.glob("test_*_snapshots.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            alias.asname or alias.name: f"{node.module}.{alias.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bot.views")
            for alias in node.names
        }
        for node in ast.walk(tree):
            func = node.func if isinstance(node, ast.Call) else None
            if isinstance(func, ast.Name) and func.id in imported:
                called.add(imported[func.id])
    return called


def test_every_builder_has_a_snapshot() -> None:
    missing = _public_functions() - _called_by_snapshots() - set(PARTS)
    assert not missing, f"builders without a snapshot test: {sorted(missing)}"


def test_the_list_of_parts_names_only_functions_that_exist() -> None:
    assert set(PARTS) <= _public_functions()


def test_every_button_snapshotted_carries_an_accessibility_label() -> None:
    """What a screen reader says for each button, on every card, modal and Home drawn."""
    unlabelled: list[str] = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "button" and not node.get("accessibility_label"):
                unlabelled.append(f"{where}: {node.get('action_id')}")
            for value in node.values():
                walk(value, where)
        elif isinstance(node, list):
            for value in node:
                walk(value, where)

    snapshots = sorted((Path(__file__).parent / "__snapshots__").rglob("*.json"))
    assert snapshots
    for path in snapshots:
        walk(json.loads(path.read_text(encoding="utf-8")), path.name)
    assert unlabelled == []
