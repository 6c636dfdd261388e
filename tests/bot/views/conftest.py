"""Snapshot tests of the Block Kit builders (`test_*_snapshots.py`): the JSON Slack receives, one
pretty-printed file per builder and variant under `__snapshots__/<test module>/`, so a changed
card reads as a diff in review. After an intended change:
`.venv/bin/python -m pytest tests/bot/views --snapshot-update`, then review the diff.
"""

from __future__ import annotations

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension


@pytest.fixture
def snapshot_json(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """A snapshot stored as its own pretty-printed JSON file (keys sorted, text unescaped)."""
    return snapshot.use_extension(JSONSnapshotExtension)
