"""Event sources for the local stack, built from a Chalice app: the real handlers driven
like AWS Lambda drives them.

- SQS handlers: :class:`~infra.local.sqs_source.SqsEventSource`;
- DynamoDB stream handlers: :class:`~infra.local.stream_source.DynamoDbStreamEventSource`,
  with the retry, bisect and on-failure settings of ``chalicelib.streams``, as deployed;
- schedules: one :class:`~infra.local.scheduler.Scheduler`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from chalicelib import streams
from infra.local.lambda_runtime import Handler
from infra.local.lambda_sandboxes import LambdaSandboxes
from infra.local.scheduler import ScheduledJob, Scheduler
from infra.local.sqs_source import SqsEventSource
from infra.local.stream_source import DynamoDbStreamEventSource

logger = logging.getLogger(__name__)


def _handler_for(app_module: Any, handler_string: str) -> Handler:
    attr = handler_string.rsplit(".", 1)[-1]
    handler = getattr(app_module, attr, None)
    if handler is None or not callable(handler):
        raise AttributeError(f"{handler_string!r}: no callable {attr!r} in {app_module!r}")
    return handler


def _send_to_queue(
    sqs_client: Any, queue_url_for: Callable[[str], tuple[str, str]], queue_name: str
) -> Callable[[dict[str, Any]], None]:
    """An SQS on-failure destination: the record goes in as the message body, as in AWS.

    The queue is looked up when a record is parked, not before: the source may start first.
    """

    def send(record: dict[str, Any]) -> None:
        url, _ = queue_url_for(queue_name)
        sqs_client.send_message(QueueUrl=url, MessageBody=json.dumps(record))

    return send


def event_sources_for_app(
    app: Any,
    app_module: Any,
    *,
    sqs_client: Any,
    streams_client: Any,
    queue_url_for: Callable[[str], tuple[str, str]],
    stream_arn_for: Callable[[str], str] | None,
    region: str,
    state_dir: Path,
    sqs_concurrency: int = 1,
    sandboxes: LambdaSandboxes | None = None,
    clock: Callable[[], datetime] | None = None,
) -> tuple[list[SqsEventSource | DynamoDbStreamEventSource], Scheduler]:
    """Event sources and a scheduler for every SQS, DynamoDB stream and schedule handler.

    Nothing is started. ``queue_url_for(queue_name) -> (url, arn)``; ``stream_arn_for``
    maps the stream ARN given to ``on_dynamodb_record`` to the local stream's ARN. A stream
    handler gets the retries, bisect and on-failure queue of its ``chalicelib.streams``
    spec, as the CDK deploys it (KeyError for a stream handler without one).
    ``sqs_concurrency``: concurrent pollers per SQS queue (Lambda runs several).
    ``sandboxes``: run the handlers in these worker processes (default: in this one).
    ``clock``: the schedules' now (default: real time; the stack gives its test clock's).
    Other event sources (S3, SNS, ...) are not emulated and are logged.
    """
    from chalice.app import DynamoDBEventConfig, ScheduledEventConfig, SQSEventConfig

    sources: list[SqsEventSource | DynamoDbStreamEventSource] = []
    jobs: list[ScheduledJob] = []
    for config in app.event_sources:
        function_name = f"{app.app_name}-dev-{config.name}"
        handler = _handler_for(app_module, config.handler_string)
        if sandboxes is not None:
            handler = sandboxes.handler(config.handler_string)
        if isinstance(config, SQSEventConfig):
            queue_name = config.queue or (config.queue_arn or "").rsplit(":", 1)[-1]
            url, arn = queue_url_for(queue_name)
            sources.append(
                SqsEventSource(
                    sqs_client,
                    url,
                    arn,
                    handler,
                    function_name=function_name,
                    batch_size=config.batch_size,
                    max_batching_window_s=config.maximum_batching_window_in_seconds or 0,
                    region=region,
                    concurrency=sqs_concurrency,
                )
            )
        elif isinstance(config, DynamoDBEventConfig):
            spec = streams.by_handler(config.name)
            arn = stream_arn_for(config.stream_arn) if stream_arn_for else config.stream_arn
            sources.append(
                DynamoDbStreamEventSource(
                    streams_client,
                    arn,
                    handler,
                    function_name=function_name,
                    batch_size=config.batch_size,
                    starting_position=config.starting_position or "LATEST",
                    max_retry_attempts=spec.max_retry_attempts,
                    bisect_on_error=spec.bisect_on_error,
                    on_failure=_send_to_queue(sqs_client, queue_url_for, spec.failure_queue_name),
                    region=region,
                )
            )
        elif isinstance(config, ScheduledEventConfig):
            expr = config.schedule_expression
            expression = expr if isinstance(expr, str) else expr.to_string()
            jobs.append(ScheduledJob(config.name, expression, handler, function_name))
        else:
            logger.warning(
                "%s: %s event sources are not emulated locally",
                function_name,
                type(config).__name__,
            )
    return sources, Scheduler(jobs, state_dir, region=region, clock=clock)
