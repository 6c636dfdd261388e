"""Parse timings (a realistic ~1 MB CI log, 1 MB adversarial pastes), then lookup timings.

Run: `.venv/bin/python bench/parse.py`. Prints the median (and min/max) of several runs per input,
using `time.perf_counter`. Figures, not assertions: the tests check results, this checks speed.
The parser must be linear, so no adversarial paste may be much slower than the realistic log.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import lookup  # bench/lookup.py, beside this script

from services.diagnosis.parsing import MAX_PASTE_BYTES, parse_pull_failure

REPEATS = 7
DENIAL = (
    'Error response from daemon: Head "https://contoso.azurecr.io/v2/shop/api/manifests/1.4": '
    "denied: client with IP '4.175.10.11' is not allowed access. Refer "
    "https://aka.ms/acr/firewall to grant access."
)
_LINES = (
    "#12 [build 4/9] RUN pip install --no-cache-dir -r requirements.txt",
    "#12 3.412 Collecting azure-core==1.30.1 (from -r requirements.txt (line 3))",
    "#12 3.520   Downloading azure_core-1.30.1-py3-none-any.whl.metadata (37 kB)",
    "Step 7/12 : COPY --from=build /app /app",
    " ---> Using cache",
    "npm WARN deprecated inflight@1.0.6: This module is not supported, and leaks memory.",
    "added 1423 packages, and audited 1424 packages in 41s",
    "Pulling fs layer 4abcf2066143",
    "Digest: sha256:2f1fd5bd2bfcc5e6b2ba1c45b5e3e5a2b1c3d4e5f60718293a4b5c6d7e8f9012",
    "Status: Downloaded newer image for mcr.microsoft.com/dotnet/aspnet:8.0",
    "containerd version: 1.7.13.1 (runc 1.1.12)",
    "PASS  src/services/orders.test.ts (12.402 s)",
    "WARNING: Retrying (Retry(total=4, connect=None, read=None)) after connection broken",
    "##[group]Run az acr login --name contoso",
    "##[endgroup]",
    "Login Succeeded",
    "The push refers to repository [contoso.azurecr.io/shop/web]",
    "5f70bf18a086: Layer already exists",
)


def realistic_ci_log(size: int = MAX_PASTE_BYTES) -> str:
    """A GitHub Actions-shaped raw log of about `size` bytes with one denial in the middle."""
    rng = random.Random(7)
    lines: list[str] = []
    total = 0
    second = 0
    while total < size:
        second += 1
        stamp = (
            f"2024-05-01T10:{(second // 60) % 60:02d}:{second % 60:02d}.{second % 10_000_000:07d}Z"
        )
        line = f"{stamp} {rng.choice(_LINES)}"
        if len(lines) == 6000:
            line = f"{stamp} {DENIAL}"
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines)[:size]


ADVERSARIAL: dict[str, Callable[[], str]] = {
    "`client with IP '` repeated": lambda: "client with IP '" * (MAX_PASTE_BYTES // 16),
    "`a` x 1e6": lambda: "a" * MAX_PASTE_BYTES,
    "`.azurecr.io` repeated": lambda: ".azurecr.io" * (MAX_PASTE_BYTES // 11),
    "`DENIED: ` repeated": lambda: "DENIED: " * (MAX_PASTE_BYTES // 8),
    "`a\\n` repeated": lambda: "a\n" * (MAX_PASTE_BYTES // 2),
    "80-col wrapped denials": lambda: ("x" * 79 + "\n" + DENIAL + "\n") * (MAX_PASTE_BYTES // 300),
    "`<https://` + 1e6 chars": lambda: "<https://" + "a" * (MAX_PASTE_BYTES - 9),
    "`\\\\\\\\u00` repeated": lambda: "\\\\\\\\u00" * (MAX_PASTE_BYTES // 8),
    "`/v2/a/` path": lambda: "https://a.azurecr.io/v2/" + "a/" * (MAX_PASTE_BYTES // 2 - 12),
    "`1.` repeated": lambda: "1." * (MAX_PASTE_BYTES // 2),
    "`x.azurecr.io/a:` repeated": lambda: "x.azurecr.io/a:" * (MAX_PASTE_BYTES // 15),
    "denial sentences (3000)": lambda: (DENIAL + "\n") * (MAX_PASTE_BYTES // (len(DENIAL) + 1)),
    "`403 Forbidden ` repeated": lambda: "403 Forbidden " * (MAX_PASTE_BYTES // 14),
    "403s beside redacted hosts": lambda: "403 Forbidden .azurecr.io " * (MAX_PASTE_BYTES // 26),
}


def measure(text: str) -> tuple[float, float, float]:
    runs = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        parse_pull_failure(text)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), min(runs), max(runs)


def main() -> None:
    rows: list[tuple[str, int, tuple[float, float, float]]] = []
    log = realistic_ci_log()
    result = parse_pull_failure(log)
    assert result.ips, "the realistic log must contain its denial"
    rows.append(("realistic CI log, one denial", len(log.encode()), measure(log)))
    small = DENIAL
    rows.append(("single docker denial (one line)", len(small.encode()), measure(small)))
    for name, build in ADVERSARIAL.items():
        text = build()
        rows.append((f"adversarial: {name}", len(text.encode()), measure(text)))

    baseline = rows[0][2][0]
    print(f"parse_pull_failure, median of {REPEATS} runs (Python {sys.version.split()[0]})")
    print(f"{'input':44} {'bytes':>9} {'median ms':>10} {'min ms':>8} {'max ms':>8} {'x log':>6}")
    for name, size, (median, low, high) in rows:
        print(
            f"{name:44} {size:9d} {median * 1e3:10.1f} {low * 1e3:8.1f} {high * 1e3:8.1f} "
            f"{median / baseline:6.2f}"
        )
    print()
    # The issue asks one script for every figure: rule and service-tag lookups live in lookup.py.
    lookup.main()


if __name__ == "__main__":
    main()
