"""Prints the crash-everywhere figure at the end of the session (also from xdist workers)."""

from __future__ import annotations

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = [
        str(value)
        for report in terminalreporter.stats.get("passed", [])
        for name, value in getattr(report, "user_properties", [])
        if name == "crash_figure"
    ]
    if lines:
        kills = sum(int(line.split(", ")[1].split()[0]) for line in lines)
        steps: dict[str, int] = {}
        for line in lines:
            kind, _, rest = line.partition(": ")
            steps[kind] = int(rest.split()[0])
        terminalreporter.write_sep("-", "crash everywhere")
        for kind, count in sorted(steps.items()):
            points = sum(
                int(line.split(", ")[1].split()[0]) for line in lines if line.startswith(kind)
            )
            terminalreporter.write_line(f"{kind}: {count} requests, {points} kill points")
        terminalreporter.write_line(
            f"{kills} kill points in {len(steps)} job types, each run killed and converged "
            f"(a kill before a read or after a send is the same as one of these)"
        )
