"""A botocore-level fault injector: DynamoDB and the IoT data plane answer throttling and
internal errors on a seeded share of calls, as the real services sometimes do.

It hooks the clients' own event system, so every path the app takes to AWS meets it
(PynamoDB, the raw client, the ack publisher) and none of the app is patched:

- `before-call` answers the call itself with the error: the request never reaches the
  emulator, and botocore's retry handler never sees it, so the error reaches the app as it
  would after botocore gave up retrying (the harshest case the app must survive);
- `after-call` raises a 500 on a write that DID reach the emulator and committed: the
  response was lost on the way back, the one failure that tempts code to do a thing twice.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

# What each service answers when it throttles or fails (codes as the services spell them).
_ERRORS: dict[str, list[tuple[str, int]]] = {
    "dynamodb": [
        ("ThrottlingException", 400),
        ("ProvisionedThroughputExceededException", 400),
        ("InternalServerError", 500),
    ],
    "iot-data-plane": [
        ("ThrottlingException", 429),
        ("InternalFailureException", 500),
        ("ServiceUnavailableException", 503),
    ],
}
_LOST_ANSWER: dict[str, tuple[str, int]] = {
    "dynamodb": ("InternalServerError", 500),
    "iot-data-plane": ("InternalFailureException", 500),
}
_WRITES = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem", "Publish"}
)


class FaultInjector:
    """Fails `rate` of the calls of the clients it is attached to, seeded; a quarter of the
    failed writes fail after they committed. Off until `enabled`."""

    def __init__(self, seed: int, rate: float = 0.05, after_commit_share: float = 0.25) -> None:
        self._rng = random.Random(seed)
        self._rate = rate
        self._after_share = after_commit_share
        self.enabled = False
        self.calls: Counter[str] = Counter()
        self.injected: Counter[tuple[str, str, str]] = Counter()
        """(service, operation, `before`/`after-commit` code) -> faults injected."""

    @property
    def total(self) -> int:
        return sum(self.injected.values())

    def attach(self, client: Any) -> None:
        service = client.meta.service_model.service_id.hyphenize()
        if service not in _ERRORS:
            raise ValueError(f"no faults known for {service}")
        client.meta.events.register(f"before-call.{service}", self._before_call)
        client.meta.events.register(f"after-call.{service}", self._after_call)

    def _before_call(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        if not self.enabled:
            return None
        service = model.service_model.service_id.hyphenize()
        self.calls[f"{service}.{model.name}"] += 1
        if self._rng.random() >= self._rate:
            return None
        if model.name in _WRITES and self._rng.random() < self._after_share:
            context["lose_answer"] = True  # let it commit; fail on the way back
            return None
        code, status = self._rng.choice(_ERRORS[service])
        self.injected[(service, model.name, code)] += 1
        context["injected"] = True
        return AWSResponse("https://fault.invalid/", status, {}, None), _error(code, status)

    def _after_call(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        if not context.pop("lose_answer", False):
            return
        service = model.service_model.service_id.hyphenize()
        code, status = _LOST_ANSWER[service]
        self.injected[(service, model.name, f"{code} after commit")] += 1
        raise ClientError(_error(code, status), model.name)


def _error(code: str, status: int) -> dict[str, Any]:
    return {
        "Error": {"Code": code, "Message": "injected by the resilience suite"},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "fault", "HTTPHeaders": {}},
    }
