"""The Azure Functions app (Python v2 model): bindings only, each one line into `bot.functions`.

- `slack_events`: the HTTP route Slack calls (anonymous: Slack's signature is the authentication).
- `work`: the queue trigger that runs jobs; `poison`: what lands in the poison queue after
  host.json's `maxDequeueCount` attempts.
- `sweep`: the timer (schedule from the `ACRBOT_SWEEP_SCHEDULE` app setting, every five minutes
  when unset).
- `health`: `GET /api/health` (anonymous; reveals nothing sensitive).
- `health_deep`: `GET /api/health/deep` (function key): `python -m bot doctor`'s checks, run inside
  the app as its identity.
- `refresh_service_tags`: the daily service-tag fetch (schedule from
  `ACRBOT_SERVICE_TAGS__SCHEDULE`, read when the host indexes the app; a default when unset); azd's
  postdeploy hook runs it once right after a deployment.
"""

import os

import azure.functions as func

from bot import functions as entry

app = func.FunctionApp()

#: The job queue: `ACRBOT_QUEUE_NAME`, as the app's settings name it, so both sides agree.
JOB_QUEUE = os.environ.get("ACRBOT_QUEUE_NAME") or "acrbot-jobs"
#: When the sweep runs unless `ACRBOT_SWEEP_SCHEDULE` says otherwise (NCRONTAB, with seconds).
SWEEP_SCHEDULE = os.environ.get("ACRBOT_SWEEP_SCHEDULE") or "0 */5 * * * *"


@app.route(route="slack/events", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def slack_events(req: func.HttpRequest) -> func.HttpResponse:
    return entry.slack_events(req)


@app.queue_trigger(arg_name="msg", queue_name=JOB_QUEUE, connection="AzureWebJobsStorage")
def work(msg: func.QueueMessage) -> None:
    entry.work(msg)


@app.queue_trigger(
    arg_name="msg", queue_name=f"{JOB_QUEUE}-poison", connection="AzureWebJobsStorage"
)
def poison(msg: func.QueueMessage) -> None:
    entry.poison(msg)


@app.timer_trigger(arg_name="timer", schedule=SWEEP_SCHEDULE, run_on_startup=False)
def sweep(timer: func.TimerRequest) -> None:
    entry.sweep(timer)


#: When the daily service-tag refresh runs unless `ACRBOT_SERVICE_TAGS__SCHEDULE` says otherwise.
SERVICE_TAGS_SCHEDULE = "0 30 3 * * *"


@app.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return entry.health(req)


@app.route(route="health/deep", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def health_deep(req: func.HttpRequest) -> func.HttpResponse:
    return entry.health_deep(req)


@app.timer_trigger(
    arg_name="timer",
    schedule=os.environ.get("ACRBOT_SERVICE_TAGS__SCHEDULE") or SERVICE_TAGS_SCHEDULE,
    # Not when the host starts: a host starts on every wake from idle and every scale-out, where
    # the refresh would load the settings, the table and identity SDKs beside a cold Slack
    # acknowledgement. A new deployment gets its tags from the postdeploy hook, which runs this
    # function through the admin API.
    run_on_startup=False,
)
def refresh_service_tags(timer: func.TimerRequest) -> None:
    entry.refresh_service_tags(timer)
