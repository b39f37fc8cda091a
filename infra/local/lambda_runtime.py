"""What a Lambda function sees and returns, for the local event sources.

:class:`LambdaContext` stands in for the context object Lambda passes to a Python handler;
:func:`read_batch_response` reads a batch handler's result the way Lambda does with
``ReportBatchItemFailures`` (SQS and DynamoDB streams alike).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account
Handler = Callable[[dict[str, Any], Any], Any]


class LambdaContext:
    """A stand-in for the context object AWS Lambda passes to a Python handler.

    Create one per invocation: each gets a fresh ``aws_request_id`` and its own deadline.
    """

    def __init__(
        self,
        function_name: str,
        *,
        region: str = "ap-northeast-2",
        account_id: str = DEFAULT_ACCOUNT_ID,
        memory_limit_in_mb: int = 128,
        timeout_s: float = 60.0,
        function_version: str = "$LATEST",
    ) -> None:
        self.function_name = function_name
        self.function_version = function_version
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        self.memory_limit_in_mb = memory_limit_in_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        today = datetime.now(UTC).strftime("%Y/%m/%d")
        self.log_stream_name = f"{today}/[{function_version}]{uuid.uuid4().hex}"
        self.identity: Any = None
        self.client_context: Any = None
        self.tenant_id: str | None = None
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def __repr__(self) -> str:
        return f"LambdaContext({self.function_name!r}, request_id={self.aws_request_id!r})"


@dataclass
class BatchOutcome:
    """How Lambda reads a handler's result for a batch event source."""

    ok: bool  # the whole batch succeeded
    failed_ids: list[str] = field(default_factory=list)  # partial failure: these ids
    whole_batch_failed: bool = False  # raised, or an invalid batchItemFailures response
    reason: str = ""


def read_batch_response(result: Any, valid_ids: set[str]) -> BatchOutcome:
    """Interpret a handler result like Lambda with ``ReportBatchItemFailures``.

    Success: no response, no ``batchItemFailures`` key, ``None`` or ``[]``.
    Whole batch failure: a malformed list, an entry without ``itemIdentifier``, with an
    empty or ``None`` one, or one that names no record of the batch.
    """
    if not isinstance(result, dict) or result.get("batchItemFailures") is None:
        return BatchOutcome(ok=True)
    failures = result["batchItemFailures"]
    if not isinstance(failures, list):
        return BatchOutcome(False, whole_batch_failed=True, reason="batchItemFailures not a list")
    failed: list[str] = []
    for entry in failures:
        item_id = entry.get("itemIdentifier") if isinstance(entry, dict) else None
        if not isinstance(item_id, str) or not item_id or item_id not in valid_ids:
            return BatchOutcome(
                False, whole_batch_failed=True, reason=f"invalid batchItemFailures entry {entry!r}"
            )
        if item_id not in failed:
            failed.append(item_id)
    if not failed:
        return BatchOutcome(ok=True)
    return BatchOutcome(False, failed_ids=failed)
