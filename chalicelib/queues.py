"""Queues the app consumes: the one source for their names, DLQs and redrive settings.

app.py subscribes handlers to these names; the CDK app and the local stack create each queue
with its dead-letter queue from here. Topic rules in iot/rules name queues by `logical`.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib import config


@dataclass(frozen=True)
class QueueSpec:
    logical: str
    visibility_timeout_s: int
    max_receive_count: int
    batch_size: int = 10
    retention_s: int = 4 * 24 * 3600
    dlq_retention_s: int = 14 * 24 * 3600

    @property
    def name(self) -> str:
        return self.name_for()

    @property
    def dlq_name(self) -> str:
        return self.dlq_name_for()

    def name_for(self, prefix: str | None = None) -> str:
        return config.resource_name(self.logical, prefix)

    def dlq_name_for(self, prefix: str | None = None) -> str:
        return f"{self.name_for(prefix)}-dlq"


# Visibility timeout: six times the functions' 30 s timeout, as AWS advises for Lambda.
DEPOSITS = QueueSpec("deposits", visibility_timeout_s=180, max_receive_count=5)
DEVICE_ERRORS = QueueSpec("device-errors", visibility_timeout_s=180, max_receive_count=5)
# Shelters' and robots' reports (telemetry, status, last wills, shadows, lifecycle events):
# one queue for the fleet's rules, batches of up to 10 (each message is its own small work).
DEVICE_REPORTS = QueueSpec("device-reports", visibility_timeout_s=180, max_receive_count=5)

# Payout runs and ledger audits fan out one page of citizens per message: one chunk per
# invocation, as a page of ~100 postings is most of a 30 s function.
PAYOUT_CHUNKS = QueueSpec(
    "payout-chunks", visibility_timeout_s=180, max_receive_count=5, batch_size=1
)
AUDIT_CHUNKS = QueueSpec(
    "audit-chunks", visibility_timeout_s=180, max_receive_count=5, batch_size=1
)

JOB_QUEUES: tuple[QueueSpec, ...] = (PAYOUT_CHUNKS, AUDIT_CHUNKS)
"""Queues the app sends to itself (the rest are fed by IoT rules)."""

ALL_QUEUES: tuple[QueueSpec, ...] = (DEPOSITS, DEVICE_ERRORS, DEVICE_REPORTS, *JOB_QUEUES)


def by_logical(logical: str) -> QueueSpec:
    for spec in ALL_QUEUES:
        if spec.logical == logical:
            return spec
    raise KeyError(f"no queue named {logical!r} in chalicelib.queues")
