"""The Azure Functions app (Python v2 model): bindings only, each one line into `bot.functions`.

- `slack_events`: the HTTP route Slack calls (anonymous: Slack's signature is the authentication).
- `work`: the queue trigger that runs jobs; `poison`: what lands in the poison queue after
  host.json's `maxDequeueCount` attempts.
- `sweep`: the timer (schedule from the `ACRBOT_SWEEP_SCHEDULE` app setting).
"""

import azure.functions as func

from bot import functions as entry

app = func.FunctionApp()

JOB_QUEUE = "acrbot-jobs"


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


@app.timer_trigger(arg_name="timer", schedule="%ACRBOT_SWEEP_SCHEDULE%", run_on_startup=False)
def sweep(timer: func.TimerRequest) -> None:
    entry.sweep(timer)
