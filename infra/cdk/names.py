"""Resource names of a stage, read from the app's own sources with the stage's prefix.

Names are `<prefix>-<logical>` (chalicelib.config), derived when used, so the infra asks the
same functions the app uses and the naming rule is never written twice.

Run directly (`python -m infra.cdk.names`) it prints the names for the current environment.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from chalicelib import config, queues, streams
from chalicelib.adapters.dynamodb_models import ALL_MODELS, logical_name

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class StageNames:
    tables: dict[str, str]
    """Model key (module.qualname) -> table name."""
    queues: dict[str, tuple[str, str]]
    """Queue logical name -> (queue name, DLQ name)."""
    stream_failure_queues: dict[str, str]
    """Stream handler -> its on-failure queue's name."""
    alerts_topic: str


def model_key(model: type) -> str:
    return f"{model.__module__}.{model.__qualname__}"


def resolve(prefix: str) -> StageNames:
    return StageNames(
        tables={model_key(m): config.table_name(logical_name(m), prefix) for m in ALL_MODELS},
        queues={q.logical: (q.name_for(prefix), q.dlq_name_for(prefix)) for q in queues.ALL_QUEUES},
        stream_failure_queues={
            s.handler: s.failure_queue_name_for(prefix) for s in streams.ALL_STREAMS
        },
        alerts_topic=config.alerts_topic_name(prefix),
    )


if __name__ == "__main__":
    print(json.dumps(asdict(resolve(config.resource_prefix()))))
