"""DynamoDB stream consumers: the one source for which table each handler reads, the
variable that carries the stream's ARN, and how a failing batch is retried and parked.

app.py subscribes each handler with `stream_arn()`; the CDK app sets the variable to the
table's stream and builds the event source and on-failure queue from here; the local stack
and the test fixtures set the variable to the emulator's stream and run the same settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib import config


@dataclass(frozen=True)
class StreamSource:
    handler: str
    """The Chalice handler's name (its Lambda function's name)."""
    table: str
    """The streamed table's logical name (`ledger`): its name is `<prefix>-<table>`."""
    batch_size: int = 100
    starting_position: str = "TRIM_HORIZON"
    max_retry_attempts: int = 5
    bisect_on_error: bool = True

    @property
    def arn_variable(self) -> str:
        """`LEDGER_STREAM_ARN`: the environment variable that holds the stream's ARN."""
        return re.sub(r"[^A-Z0-9]", "_", self.table.upper()) + "_STREAM_ARN"

    def stream_arn(self) -> str:
        """The stream's ARN as configured, else one naming the table (enough for the
        decorator: a stream source resolves the table's current stream from it)."""
        configured = config.variable(self.arn_variable)
        if configured:
            return configured
        table = config.table_name(self.table)
        return f"arn:aws:dynamodb:{config.region()}:000000000000:table/{table}/stream/latest"

    @property
    def failure_queue_name(self) -> str:
        """Where a batch that exhausted its retries is parked (an on-failure destination)."""
        return self.failure_queue_name_for()

    def failure_queue_name_for(self, prefix: str | None = None) -> str:
        logical = f"{self.handler.replace('_', '-')}-stream-failures"
        return config.resource_name(logical, prefix)


LEDGER_CHANGES = StreamSource(handler="handle_ledger_changes", table="ledger")
# Each stream has at most two readers (DynamoDB's advice for a stream's shards).
STEP_BOARDS = StreamSource(handler="handle_step_boards", table="step-days")
STEP_CHALLENGES = StreamSource(handler="handle_step_challenges", table="step-days")
LEDGER_CHALLENGES = StreamSource(handler="handle_ledger_challenges", table="ledger")

# The inbox (chalicelib.events.notifications). The ledger's causes (prizes, corrections)
# are read by LEDGER_CHANGES: the ledger already has its two readers.
PAYOUT_NOTICES = StreamSource(handler="handle_payout_notices", table="payout-items")
SKIP_NOTICES = StreamSource(handler="handle_skip_notices", table="payout-skips")
FINISH_NOTICES = StreamSource(handler="handle_finish_notices", table="challenge-entries")
PUSHES = StreamSource(handler="handle_pushes", table="notifications")

ALL_STREAMS: tuple[StreamSource, ...] = (
    LEDGER_CHANGES,
    STEP_BOARDS,
    STEP_CHALLENGES,
    LEDGER_CHALLENGES,
    PAYOUT_NOTICES,
    SKIP_NOTICES,
    FINISH_NOTICES,
    PUSHES,
)


def by_handler(handler: str) -> StreamSource:
    for spec in ALL_STREAMS:
        if spec.handler == handler:
            return spec
    raise KeyError(f"no stream source for handler {handler!r} in chalicelib.streams")
