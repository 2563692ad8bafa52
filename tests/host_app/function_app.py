"""A small FunctionApp that exercises every trigger the local host supports.

Each invocation is recorded in the Azurite table ``hostrecords`` so tests can see
what ran, how often, on which instance and with what input. RECORD_PREFIX keeps the
records of one test's hosts apart from another's.
"""

import json
import os
import uuid

import azure.functions as func
from azure.data.tables import TableServiceClient

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


def record(function: str, **data: object) -> None:
    service = TableServiceClient.from_connection_string(os.environ["AzureWebJobsStorage"])
    table = service.create_table_if_not_exists("hostrecords")
    data["instance"] = os.environ.get("WEBSITE_INSTANCE_ID")
    partition = os.environ.get("RECORD_PREFIX", "") + function
    table.create_entity(
        {"PartitionKey": partition, "RowKey": uuid.uuid4().hex, "data": json.dumps(data)}
    )


@app.route(
    route="echo/{name}/{count:int?}", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS
)
def echo(req: func.HttpRequest) -> func.HttpResponse:
    status = int(req.params.get("status", "200"))
    return func.HttpResponse(
        json.dumps(
            {
                "route": dict(req.route_params),
                "params": dict(req.params),
                "method": req.method,
                "body": req.get_body().decode(),
            }
        ),
        status_code=status,
        mimetype=req.params.get("mimetype", "application/json"),
        headers={"X-Echo": "yes"},
    )


@app.route(route="secure", methods=["GET"])
async def secure(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("secret stuff", status_code=200)


@app.route(route="boom", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("exploded")


@app.queue_trigger(arg_name="msg", queue_name="always-fails", connection="AzureWebJobsStorage")
def always_fails(msg: func.QueueMessage) -> None:
    record("always_fails", dequeue_count=msg.dequeue_count, body=msg.get_body().decode())
    raise RuntimeError("this function always fails")


@app.queue_trigger(arg_name="msg", queue_name="%INBOX_QUEUE%", connection="AzureWebJobsStorage")
async def inbox(msg: func.QueueMessage, context: func.Context) -> None:
    record(
        "inbox",
        body=msg.get_json(),
        dequeue_count=msg.dequeue_count,
        invocation=context.invocation_id,
    )


@app.timer_trigger(
    schedule="%TICK_SCHEDULE%", arg_name="timer", run_on_startup=False, use_monitor=True
)
def ticker(timer: func.TimerRequest) -> None:
    record(
        "ticker",
        past_due=timer.past_due,
        input=getattr(timer, "input", {}),
        occurrence=timer.schedule_status.get("Next"),  # the occurrence this run is for
    )


@app.route(route="whoami", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def whoami(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(os.environ.get("WEBSITE_INSTANCE_ID", ""), status_code=200)


@app.queue_trigger(arg_name="msg", queue_name="slow-queue", connection="AzureWebJobsStorage")
async def slow(msg: func.QueueMessage) -> None:
    import asyncio

    record("slow", dequeue_count=msg.dequeue_count)
    await asyncio.sleep(3)  # three times the test host's 1 s message lease
