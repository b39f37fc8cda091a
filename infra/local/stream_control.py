"""`python -m infra.local streams [list|rewind <handler>]`: the running stack's DynamoDB
stream consumers, seen and rewound from another process (docs/local-stack.md).

A rewind moves one consumer back to the start of its stream, as AWS does for a new event
source mapping at TRIM_HORIZON: every record the stream holds is delivered again, in order,
to the real handler (to rebuild a projection, or to see that the handler is exactly once).
The request travels the way `fire` and `clock` do, through the scheduler's request files
(`infra/local/scheduler.py`), and is answered in the stack's process, where the sources run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from infra.local.scheduler import request
from infra.local.stream_source import DynamoDbStreamEventSource

KIND = "streams"


def handler_name(source: DynamoDbStreamEventSource) -> str:
    """`gimhae-dev-handle_ledger_changes` -> `handle_ledger_changes` (the Chalice name)."""
    return source.function_name.rsplit("-dev-", 1)[-1]


def status(source: DynamoDbStreamEventSource) -> dict[str, Any]:
    stats = source.stats()
    return {
        "handler": handler_name(source),
        "function_name": source.function_name,
        "table": source.stream_arn.split(":table/", 1)[-1].split("/", 1)[0],
        "records_done": stats["records_done"],
        "records_discarded": stats["records_discarded"],
        "positions": stats["positions"],
        "rewinds": stats["rewinds"],
        "replay_pending": stats["replay_pending"],
        "last_error": stats["last_error"],
    }


def answerer(
    sources: Sequence[DynamoDbStreamEventSource],
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The stack's side: answers `list` and `rewind` requests about these sources."""

    def answer(asked: dict[str, Any]) -> dict[str, Any]:
        action = asked.get(KIND)
        if action == "list":
            return {"ok": True, "consumers": [status(s) for s in sources]}
        if action != "rewind":
            return {"ok": False, "error": f"unknown streams action {action!r}; list or rewind"}
        name = str(asked.get("name"))
        found = [s for s in sources if name in (handler_name(s), s.function_name)]
        if not found:
            known = ", ".join(sorted(handler_name(s) for s in sources)) or "none"
            return {"ok": False, "error": f"no stream consumer {name!r}; known: {known}"}
        reached = found[0].rewind()
        return {"ok": True, "rewound_from": reached, "consumer": status(found[0])}

    return answer


def request_list(state_dir: Path, timeout: float = 30) -> list[dict[str, Any]]:
    """Every stream consumer of the running stack, with its position and replay."""
    answer = request(state_dir, {KIND: "list"}, timeout, "the stream consumers' list")
    if not answer.get("ok"):
        raise RuntimeError(str(answer.get("error")))
    return list(answer["consumers"])


def request_rewind(state_dir: Path, name: str, timeout: float = 30) -> dict[str, Any]:
    """Rewind the consumer `name` (handler or function name) of the running stack; its
    status just after, with `rewound_from`: the positions it had reached, which
    `replay_pending` names until they are reached again. KeyError: no such consumer;
    TimeoutError: no stack answers."""
    answer = request(state_dir, {KIND: "rewind", "name": name}, timeout, f"rewinding {name!r}")
    if not answer.get("ok"):
        raise KeyError(str(answer.get("error")))
    return {**answer["consumer"], "rewound_from": answer["rewound_from"]}


def wait_replayed(state_dir: Path, name: str, timeout: float = 60) -> dict[str, Any]:
    """Poll until the consumer `name` has handled again every record it had handled when
    rewound (`replay_pending` empty); its status. TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = [c for c in request_list(state_dir) if name in (c["handler"], c["function_name"])]
        if not found:
            raise KeyError(f"no stream consumer {name!r}")
        if not found[0]["replay_pending"]:
            return found[0]
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} has not caught up within {timeout}s: {found[0]}")
        time.sleep(0.2)
