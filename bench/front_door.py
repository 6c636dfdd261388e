"""The Function app's speed, as ratios against bare yardsticks measured the same way.

Run: `.venv/bin/python bench/front_door.py` (starts its own Azurite). Prints, in one run:
- the warm ack: a signed `/acr-why <paste>` through `function_app.slack_events` (Bolt's checks, the
  listener, the job put on Azurite's queue) against a bare Bolt app's dispatch of the same request
  plus one raw queue put (target: within 1.2×);
- the cold first request: a fresh interpreter that imports `function_app` and acknowledges one
  signed slash command (building the front door on the way), against one that imports
  `azure.functions`, `slack_bolt` and the queue SDK, builds a bare Bolt app whose listener acks and
  puts one message on the queue, and dispatches the same request (target: within 1.2×);
- the cold reconcile job: a fresh interpreter that imports `function_app` and gets the worker
  ready for a `reconcile` job — its handler and the adapters it uses, up to its first request —
  against one that only imports the SDKs a reconcile needs (tables, blobs, queues, the
  management and identity SDKs; target: within 1.5×).
Medians of several runs, alternating the two sides (the ratio is of the medians; the spread of
the ratio of each run to the yardstick's run beside it is printed too). Figures, not assertions.

What makes the cold figures: an acknowledgement loads no pydantic at all (its settings are read
from the environment by `services.front_settings`, its jobs are plain dataclasses, the listeners
of buttons and modals are registered on the first interaction) and sends its job in one request;
a worker loads the handler of the job it runs and the adapters that handler uses, lists the
tables once instead of creating each, and creates nothing that is in place.
"""

from __future__ import annotations

import json
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


_FIRST_OURS = """
import sys, json
import azure.functions as func
import function_app
body, headers = json.loads(sys.argv[1])
response = function_app.slack_events.build().get_user_function()(
    func.HttpRequest(method="POST", url="http://localhost/api/slack/events",
                     headers=headers, body=body.encode())
)
assert response.status_code == 200, response.get_body()
"""

_FIRST_BARE = """
import sys, json, os
import azure.functions
from azure.storage.queue import QueueClient
from slack_bolt import App, BoltRequest
from slack_bolt.authorization import AuthorizeResult
body, headers = json.loads(sys.argv[1])
queue = QueueClient.from_connection_string(os.environ["AzureWebJobsStorage"], "bench-bare")
app = App(
    signing_secret=os.environ["ACRBOT_SLACK_SIGNING_SECRET"],
    authorize=lambda **kw: AuthorizeResult(enterprise_id=None, team_id=kw.get("team_id"),
                                           bot_token="xoxb-bench"),
    process_before_response=True,
)
@app.command("/acr-why")
def on_command(ack, body):
    queue.send_message(body["text"])
    ack(text="Diagnosing...")
answer = app.dispatch(BoltRequest(body=body, headers=headers))
assert answer.status == 200, answer.body
"""

_RECONCILE_OURS = """
import function_app
from bot import functions
rt = functions.runtime()
rt.bus._handler("reconcile")
ports = rt.ports
ports.grants, ports.audit, ports.jobs, ports.registry._client(
    "00000000-0000-0000-0000-000000000000"), ports.lock
"""

_RECONCILE_BARE = (
    "import azure.functions, azure.data.tables, azure.storage.blob, azure.storage.queue, "
    "azure.mgmt.containerregistry, azure.identity"
)


def _paired(
    ours: str, bare: str, *, runs: int, env: dict[str, str], args: list[str]
) -> tuple[list[float], list[float]]:
    """Both sides in fresh interpreters, alternating, so load on the machine hits both alike."""
    mine: list[float] = []
    theirs: list[float] = []
    for _ in range(runs):
        for code, into in ((ours, mine), (bare, theirs)):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code, *args], check=True, cwd=ROOT, env=env)
            into.append(time.perf_counter() - start)
    return mine, theirs


def _env(azurite: Azurite) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("ACRBOT_")}
    return {
        **keep,
        "PYTHONDONTWRITEBYTECODE": "1",
        "AzureWebJobsStorage": azurite.connection_string,
        "ACRBOT_SLACK_SIGNING_SECRET": SECRET,
        "ACRBOT_SLACK_BOT_TOKEN": "xoxb-bench",
        "ACRBOT_SLACK_API_URL": "http://127.0.0.1:9/api/",
        "ACRBOT_SLACK_TEAM_IDS": '["T0EMULATOR"]',
        "ACRBOT_SLACK_BOT_USER_ID": "U0BOT",
        "ACRBOT_REGISTRIES": "[]",
    }


def _report(
    title: str, ours: list[float], base: list[float], goal: float, names: tuple[str, str]
) -> None:
    ratio = statistics.median(ours) / statistics.median(base)
    verdict = "met" if ratio <= goal else "MISSED"
    # Each run of ours beside the yardstick's run next to it: how far one pair strays.
    pairs = [a / b for a, b in zip(ours, base, strict=True)]
    print(f"{title}:")
    print(f"  {names[0]}: {_median_ms(ours)}")
    print(f"  {names[1]}: {_median_ms(base)}")
    print(
        f"  ratio {ratio:.2f} (goal <= {goal}: {verdict}; "
        f"pairs {min(pairs):.2f} to {max(pairs):.2f})"
    )


def main() -> None:
    with Azurite() as azurite:
        ours, base = warm_ack(azurite)
        env = _env(azurite)
        request = SlackClient(SECRET).slash_command(
            "/acr-why", PASTE, user="U0DEV", channel="C0BUILD"
        )
        args = [json.dumps([request.body, dict(request.headers)])]
        QueueClient.from_connection_string(azurite.connection_string, "bench-bare").create_queue()
        first, first_bare = _paired(_FIRST_OURS, _FIRST_BARE, runs=7, env=env, args=args)
        job, job_bare = _paired(_RECONCILE_OURS, _RECONCILE_BARE, runs=7, env=env, args=[])
    _report(
        "Warm ack of a signed slash command",
        ours,
        base,
        1.2,
        ("function_app.slack_events", "bare Bolt dispatch + raw queue put"),
    )
    _report(
        "Cold first request (interpreter start, import, one signed ack; median of 7)",
        first,
        first_bare,
        1.2,
        ("function_app", "bare Bolt app whose listener acks and puts one message"),
    )
    _report(
        "Cold reconcile job (interpreter start, import, worker ready for it; median of 7)",
        job,
        job_bare,
        1.5,
        ("function_app's worker", "the SDKs a reconcile needs, imported"),
    )


if __name__ == "__main__":
    main()
