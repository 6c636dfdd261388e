"""The HTTP function's speed: the warm ack of a signed slash command, and the cold import.

Run: `.venv/bin/python bench/front_door.py` (starts its own Azurite). Prints, in one run:
- the warm ack: a signed `/acr-why <paste>` through `function_app.slack_events` (Bolt's checks, the
  listener, the job put on Azurite's queue) against a bare Bolt app's dispatch of the same request
  plus one raw queue put (target: within 1.2×);
- the cold import of `function_app` against `import azure.functions, slack_bolt,
  azure.storage.queue` (target: within 1.2×; the worker's SDKs load lazily), and, for honesty, the
  import plus building the front door (what the first request pays on top).
Figures, not assertions.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from azure.storage.queue import QueueClient  # noqa: E402
from slack_bolt import App, BoltRequest  # noqa: E402
from slack_bolt.authorization import AuthorizeResult  # noqa: E402

import function_app  # noqa: E402
from bot import functions  # noqa: E402
from bot.runtime import Runtime  # noqa: E402
from sandbox.azurite import Azurite  # noqa: E402
from sandbox.slack_client import SlackClient  # noqa: E402
from services.settings import Settings  # noqa: E402

SECRET = "bench-signing-secret"
PASTE = (
    'Error response from daemon: Head "https://contosoprod.azurecr.io/v2/shop/api/manifests/1.4": '
    "denied: client with IP '20.61.12.7' is not allowed access. Refer "
    "https://aka.ms/acr/firewall to grant access."
)
ROUNDS = 60


def _median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.2f} ms (min {min(samples) * 1000:.2f})"


def warm_ack(azurite: Azurite) -> tuple[list[float], list[float]]:
    settings = Settings(
        storage_connection_string=azurite.connection_string,
        queue_name=function_app.JOB_QUEUE,
        table_prefix="bench",
        slack_bot_token="xoxb-bench",
        slack_signing_secret=SECRET,
        slack_api_url="http://127.0.0.1:9/api/",  # never called on the ack path
        slack_team_ids=("T0EMULATOR",),
        slack_bot_user_id="U0BOT",
    )
    functions.install(Runtime(settings))
    http = function_app.slack_events.build().get_user_function()
    client = SlackClient(SECRET)

    # The baseline: a bare Bolt app that acks, and one raw put on a queue of the same Azurite.
    # Bolt calls auth.test on the first request unless given its own `authorize`; so is ours.
    bare = App(
        signing_secret=SECRET,
        authorize=lambda **kw: AuthorizeResult(
            enterprise_id=None, team_id=kw.get("team_id"), bot_token="xoxb-bench"
        ),
        process_before_response=True,
    )
    raw = QueueClient.from_connection_string(azurite.connection_string, "bench-raw")
    raw.create_queue()

    @bare.command("/acr-why")
    def _ack(ack, body) -> None:  # type: ignore[no-untyped-def]
        ack(text="Diagnosing…")

    ours: list[float] = []
    base: list[float] = []
    for i in range(ROUNDS + 5):
        request = client.slash_command("/acr-why", PASTE, user="U0DEV", channel="C0BUILD")
        azure_request = request.to_azure()
        start = time.perf_counter()
        response = http(azure_request)
        ours_s = time.perf_counter() - start
        assert response.status_code == 200, response.get_body()

        bolt_request = BoltRequest(body=request.body, headers=dict(request.headers))
        start = time.perf_counter()
        answer = bare.dispatch(bolt_request)
        raw.send_message(PASTE)
        base_s = time.perf_counter() - start
        assert answer.status == 200, answer.body
        if i >= 5:  # the first rounds warm connections and caches
            ours.append(ours_s)
            base.append(base_s)
    functions.install(None)
    return ours, base


def cold_import(code: str, runs: int = 7, storage: str = "") -> list[float]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "AzureWebJobsStorage": storage}
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)
        samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    with Azurite() as azurite:
        ours, base = warm_ack(azurite)
        ours_import = cold_import("import function_app")
        base_import = cold_import("import azure.functions, slack_bolt, azure.storage.queue")
        first = cold_import(
            "import function_app; from bot.runtime import Runtime; from services.settings import "
            "Settings; Runtime(Settings(slack_signing_secret='x', slack_bot_token='x')).front",
            storage=azurite.connection_string,
        )
    ratio = statistics.median(ours) / statistics.median(base)
    print("Warm ack of a signed slash command:")
    print(f"  function_app.slack_events: {_median_ms(ours)}")
    print(f"  bare Bolt dispatch + raw queue put: {_median_ms(base)}")
    print(f"  ratio {ratio:.2f} (target <= 1.2)")

    ratio = statistics.median(ours_import) / statistics.median(base_import)
    print("Cold import (whole interpreter start, median of 7):")
    print(f"  import function_app: {_median_ms(ours_import)}")
    print(f"  import azure.functions, slack_bolt, azure.storage.queue: {_median_ms(base_import)}")
    print(f"  ratio {ratio:.2f} (target <= 1.2)")
    print(f"  import function_app and build the front door: {_median_ms(first)}")


if __name__ == "__main__":
    main()
