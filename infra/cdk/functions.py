"""The Lambda functions the Chalice app declares, read from the app object itself.

Chalice names each function's CloudFormation resource from its handler name; this module
lists them with what they are (API, authorizer, queue or stream consumer, ...) so the infra
can give each one its own role and the event-source settings Chalice cannot express.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from chalice import app as chalice_app
from chalice.cli.factory import CLIFactory
from chalice.utils import to_cfn_resource_name

from infra.cdk.names import ROOT

API = "api"
AUTHORIZER = "authorizer"
SQS = "sqs"
DYNAMODB = "dynamodb"
OTHER = "other"  # schedules, pure Lambda functions, other event sources


@dataclass(frozen=True)
class Function:
    handler: str
    logical_id: str
    kind: str
    event_logical_id: str | None = None
    queue: str | None = None
    """SQS: the queue name the handler subscribes to."""
    stream_arn: str | None = None
    """DynamoDB: the stream ARN given to `on_dynamodb_record` (a CDK token string)."""


APP_MODULES = ("app", "chalicelib")
"""app.py and the package it imports: re-imported per stage, as chalice.Blueprint objects can
be registered with one app only and app.py reads names from the environment at import time."""


def _app_modules() -> dict[str, object]:
    return {
        name: module
        for name, module in sys.modules.items()
        if name in APP_MODULES or name.startswith(tuple(f"{m}." for m in APP_MODULES))
    }


@contextlib.contextmanager
def stage_import(env: Mapping[str, str]) -> Iterator[None]:
    """Import app.py afresh under a stage's variables, then put the process back as it was.

    Chalice's packager imports `app` with the stage's variables written into os.environ and
    leaves both behind; a second stage in the same process would otherwise get the first
    stage's app (and its queue names).
    """
    saved_env = dict(os.environ)
    saved_modules = _app_modules()
    for name in saved_modules:
        del sys.modules[name]
    os.environ.update(env)
    try:
        yield
    finally:
        for name in _app_modules():
            del sys.modules[name]
        sys.modules.update(saved_modules)  # type: ignore[arg-type]
        os.environ.clear()
        os.environ.update(saved_env)


def load_app(env: Mapping[str, str]) -> chalice_app.Chalice:
    with stage_import(env):
        return CLIFactory(str(ROOT)).load_chalice_app(dict(env))


def functions(app: chalice_app.Chalice) -> list[Function]:
    found: list[Function] = []
    if app.routes:
        found.append(Function("api_handler", "APIHandler", API))
    for auth in app.builtin_auth_handlers:
        found.append(Function(auth.name, to_cfn_resource_name(auth.name), AUTHORIZER))
    for source in app.event_sources:
        logical_id = to_cfn_resource_name(source.name)
        if isinstance(source, chalice_app.SQSEventConfig):
            found.append(
                Function(
                    source.name,
                    logical_id,
                    SQS,
                    event_logical_id=to_cfn_resource_name(f"{source.name}-sqs-event-source"),
                    queue=source.queue,
                )
            )
        elif isinstance(source, chalice_app.DynamoDBEventConfig):
            found.append(
                Function(
                    source.name,
                    logical_id,
                    DYNAMODB,
                    event_logical_id=to_cfn_resource_name(f"{source.name}-dynamodb-event-source"),
                    stream_arn=source.stream_arn,
                )
            )
        else:
            found.append(Function(source.name, logical_id, OTHER))
    for function in app.pure_lambda_functions:
        found.append(Function(function.name, to_cfn_resource_name(function.name), OTHER))
    return found
