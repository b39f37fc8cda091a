"""Examples kept as JSON files (tests/events/README.md): every MQTT payload of the device
contract under `mqtt/` (`<channel>.<case>.json`) and every Lambda event the app's handlers
receive, as AWS delivers it, under `handlers/` (`<handler>.json`). `load("handlers/jwt_auth")`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def load(name: str) -> dict[str, Any]:
    return dict(json.loads((HERE / f"{name}.json").read_text(encoding="utf-8")))


def names(folder: str) -> list[str]:
    """The examples of a folder (`mqtt`, `handlers`), by file name without `.json`."""
    return sorted(path.stem for path in (HERE / folder).glob("*.json"))
