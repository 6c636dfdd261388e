"""Parse time grows linearly with the paste (docs/ARCHITECTURE.md, invariant 10), for every shape
the bench generates from the parser's own patterns and normalisation triggers.

Each shape is parsed at two sizes in the same run and the larger must not cost much more than the
size ratio: a quadratic pattern would cost the square of it. The bound is loose on purpose (this
is a growth check on a shared machine, not a speed target; `bench/parse.py` prints the figures).
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from types import ModuleType

import pytest

from services.diagnosis.parsing import parse_pull_failure

SMALL = 8_000
FACTOR = 8
#: Linear growth costs about FACTOR times as much; quadratic would cost FACTOR² = 64 times.
BOUND = 3 * FACTOR


def _bench() -> ModuleType:
    path = Path(__file__).resolve().parents[3] / "bench" / "parse.py"
    spec = importlib.util.spec_from_file_location("bench_parse", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _bench()
SMALL_SHAPES: dict[str, str] = BENCH.adversarial_shapes(SMALL)
LARGE_SHAPES: dict[str, str] = BENCH.adversarial_shapes(SMALL * FACTOR)


def _best(text: str, runs: int = 3) -> float:
    # The thread's own CPU time: other processes on the machine (the suite runs on every core)
    # cannot stretch it the way they stretch wall time.
    best = float("inf")
    for _ in range(runs):
        started = time.thread_time()
        parse_pull_failure(text)
        best = min(best, time.thread_time() - started)
    return best


def test_the_generator_covers_every_pattern_and_trigger() -> None:
    assert len(SMALL_SHAPES) == len(LARGE_SHAPES) > 300


@pytest.mark.parametrize("name", sorted(SMALL_SHAPES))
def test_parse_time_grows_linearly(name: str) -> None:
    small, large = _best(SMALL_SHAPES[name]), _best(LARGE_SHAPES[name])
    if large > BOUND * small:
        # One retry: a single slow run on a busy machine is not quadratic growth.
        small, large = _best(SMALL_SHAPES[name], 5), _best(LARGE_SHAPES[name], 5)
    assert large <= BOUND * small, f"{name}: {small * 1e3:.2f} ms -> {large * 1e3:.2f} ms"
