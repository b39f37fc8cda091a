"""Powertools on every route and handler, the way its users wire it into Chalice: the
Logger with the Lambda context (and API Gateway's request id as correlation id on routes;
batch handlers set each record's id), and metrics flushed at the end of every invocation,
whatever path it took."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from chalice import Chalice, ConvertToMiddleware

from chalicelib import wiring


def flush_metrics(event: Any, get_response: Callable[[Any], Any]) -> Any:
    try:
        return get_response(event)
    finally:
        wiring.publish_metrics()


def install(app: Chalice) -> None:
    app.register_middleware(
        ConvertToMiddleware(
            wiring.logger.inject_lambda_context(
                correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
            )
        ),
        "http",
    )
    for event_type in ("sqs", "dynamodb", "scheduled"):
        app.register_middleware(
            ConvertToMiddleware(wiring.logger.inject_lambda_context(clear_state=True)),
            event_type,
        )
    app.register_middleware(flush_metrics, "all")
