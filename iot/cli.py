"""What every device command line shares: one spelling of the options and one way to find a
device's identity.

- `--state-dir DIR`: the local stack's state folder (default: the repository's `.local`,
  wherever the command runs from; `python -m infra.local` has the same default). The old
  `--stack FILE` (a stack.json) of `python -m iot.device` still works, hidden, with a notice.
- a device is `--config FILE` (what `python -m iot provision` writes: any broker, AWS too)
  or `--device ID` (a device of the running local stack, from `<state-dir>/stack.json`).

Exit codes: 0 done, 1 a network or device error (no ack in time, the broker unreachable),
2 bad usage or input, 3 the identity is in use by another process, 4 refused by the broker
(a topic that is not the device's).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

from chalicelib import topics
from iot.agents import DeviceConfig

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BUSY = 3
EXIT_REFUSED = 4

MAX_PAYLOAD = 128 * 1024  # DESIGN §3
MAX_RAW = 1024 * 1024
"""What `publish` reads at most (`--raw` sends a little over 128 KB to see the cloud refuse
it; the SDK's own packet check refuses more; `--file /dev/zero` must end)."""
_KST = dt.timezone(dt.timedelta(hours=9))
_REPO = Path(__file__).resolve().parents[1]


def default_state_dir() -> Path:
    """The repository's `.local` (the local stack's default), or `./.local` when the package
    is not run from a checkout."""
    if (_REPO / "infra" / "local").is_dir():
        return _REPO / ".local"
    return Path.cwd() / ".local"


class UsageError(ValueError):
    """Bad input from the person typing: exit code 2 with the message."""


def add_state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="the local stack's state folder, where its stack.json is "
        f"(default: {default_state_dir()})",
    )
    # deprecated spelling (python -m iot.device deposit --stack .local/stack.json)
    parser.add_argument("--stack", dest="stack_file", type=Path, help=argparse.SUPPRESS)


def state_dir(args: argparse.Namespace) -> Path:
    stack_file = getattr(args, "stack_file", None)
    if stack_file is not None:
        print("note: --stack FILE is deprecated; use --state-dir DIR", file=sys.stderr)
        if args.state_dir is None:
            return Path(stack_file).resolve().parent
    return Path(args.state_dir or default_state_dir()).resolve()


def stack_file(args: argparse.Namespace) -> Path:
    given = getattr(args, "stack_file", None)
    return Path(given).resolve() if given is not None else state_dir(args) / "stack.json"


def add_device(parser: argparse.ArgumentParser) -> None:
    """`--config FILE | --device ID`, and `--state-dir` for the latter."""
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--config", type=Path, help="the device's config.json (written by `provision`)"
    )
    who.add_argument("--device", help="a device of the running local stack, by id")
    add_state_dir(parser)


def read_stack(path: Path) -> dict[str, Any]:
    """The running local stack's stack.json (DESIGN §7): a missing, unreadable, corrupt or
    older file is a UsageError saying so, never a traceback."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"{path} not found: start the local stack (./dev up) or give --state-dir"
        ) from None
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    except ValueError:  # not JSON, not UTF-8
        raise UsageError(f"{path} is corrupt (not JSON): restart the local stack") from None
    mqtt = document.get("mqtt") if isinstance(document, dict) else None
    if not isinstance(mqtt, dict) or not isinstance(mqtt.get("devices", {}), dict):
        raise UsageError(
            f"{path} is not a stack file of this version (no mqtt section): restart the "
            "local stack with this checkout (./dev up)"
        )
    return document


def device_type_of(device_id: str) -> str:
    for kind in ("robot", "shelter"):
        if device_id.startswith(kind):
            return kind
    raise UsageError(f"cannot tell the type of {device_id!r}: use --config")


def load_device(args: argparse.Namespace, kind: str | None = None) -> DeviceConfig:
    """The device's identity and broker from `--config` or from the local stack's stack.json;
    with `kind`, a device of that type (a shelter's identity running the robot agent would
    have every deposit refused by the broker and resent for ever)."""
    config = _load_device(args)
    if kind is not None and config.device_type != kind:
        raise UsageError(
            f"{config.device_id} is a {config.device_type}, not a {kind}: "
            f"python -m iot {config.device_type} ..."
        )
    return config


def _load_device(args: argparse.Namespace) -> DeviceConfig:
    if args.config is not None:
        try:
            return DeviceConfig.load(args.config)
        except FileNotFoundError:
            raise UsageError(f"{args.config} not found") from None
        except OSError as e:  # a folder, unreadable
            raise UsageError(f"cannot read {args.config}: {e.strerror}") from None
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise UsageError(f"{args.config} is not a device config: {e}") from None
    path = stack_file(args)
    stack = read_stack(path)
    devices = stack["mqtt"].get("devices", {})
    if args.device not in devices or not isinstance(devices[args.device], dict):
        raise UsageError(f"device {args.device!r} is not in {path} (known: {sorted(devices)})")
    from iot.device import stack_connection

    root = path.parent.parent

    def resolve(value: str) -> str:
        p = Path(value)
        if p.is_absolute():
            return str(p)
        return str(root / p) if (root / p).exists() else str(p.resolve())

    try:
        connection = stack_connection(stack, args.device, resolve)
    except (KeyError, TypeError, ValueError) as e:
        raise UsageError(f"{path}: {args.device} has no usable connection ({e})") from None
    entry = devices[args.device]
    kind = str(entry.get("type") or device_type_of(args.device))
    outbox = path.parent / "devices" / args.device / "outbox.sqlite"
    return DeviceConfig(device_id=args.device, device_type=kind, outbox=str(outbox), **connection)


# ---------------------------------------------------------------- publish


MAX_TOPIC_BYTES = 256  # IoT Core's limit on a topic's UTF-8 length


def topic_for(config: DeviceConfig, name: str) -> str:
    """`deposits`, `status`, `telemetry` and `shadow/...` are the device's own topics; a
    full topic (`<city>/...` or `$aws/...`) is used as given (the broker judges it); anything
    else is a subtopic under the device's own id. A topic is UTF-8 text without wildcards or
    control characters, at most 256 bytes (IoT Core's limit)."""
    name = name.strip()
    if not name or "+" in name or "#" in name or "\x00" in name:
        raise UsageError(f"not a topic to publish on: {name!r} (no wildcards)")
    if any(not c.isprintable() for c in name):
        raise UsageError(f"not a topic to publish on: {name!r} (no control characters, UTF-8 only)")
    topic = _topic(config, name)
    try:
        size = len(topic.encode("utf-8"))
    except UnicodeEncodeError:  # bytes of the command line that are not UTF-8
        raise UsageError(f"not a topic to publish on: {name!r} (not UTF-8)") from None
    if size > MAX_TOPIC_BYTES:
        raise UsageError(f"the topic is {size} bytes; IoT Core takes at most {MAX_TOPIC_BYTES}")
    return topic


def _topic(config: DeviceConfig, name: str) -> str:
    city, device = config.city, config.device_id
    if name == "deposits":
        return topics.deposits(city, device)
    if name == "status":
        kind = config.device_type
        return (
            topics.robot_status(city, device)
            if kind == "robot"
            else topics.shelter_status(city, device)
        )
    if name == "telemetry":
        return topics.shelter_telemetry(city, device)
    if name.startswith("shadow/"):
        return f"{topics.shadow(device)}/{name.removeprefix('shadow/')}"
    if name.startswith(("$aws/", f"{city}/")):
        return name
    return f"{city}/{config.device_type}s/{device}/{name.strip('/')}"


def read_payload(text: str | None, file: Path | None, stdin: Any = None) -> bytes:
    """The payload's bytes: the argument, a file (`-`: stdin), or stdin when neither. At
    most one byte more than MAX_RAW is read, enough to tell a payload over it."""
    if text is not None and file is not None:
        raise UsageError("give the payload as an argument or with --file, not both")
    if file is not None and str(file) != "-":
        try:
            with file.open("rb") as opened:
                return opened.read(MAX_RAW + 1)
        except OSError as e:
            raise UsageError(f"cannot read {file}: {e.strerror}") from None
    if text is not None and text != "-":
        return os.fsencode(text)  # the bytes as typed, even those that are not UTF-8
    source = stdin if stdin is not None else sys.stdin
    if getattr(source, "isatty", lambda: False)():
        print("(reading the payload from stdin; end with Ctrl-D)", file=sys.stderr)
    stream = source.buffer if hasattr(source, "buffer") else source
    data = stream.read(MAX_RAW + 1)
    return data if isinstance(data, bytes) else str(data).encode()


def now_kst() -> str:
    return dt.datetime.now(_KST).isoformat(timespec="seconds")


def prepare_payload(raw: bytes, topic: str, as_is: bool) -> tuple[bytes, Any]:
    """(bytes to send, the JSON document or None). Unless `as_is`, the payload must be a
    JSON object the cloud can read (DESIGN §3: UTF-8, at most 128 KB; the cloud's own
    parser, so no NaN, no key named twice, no lone surrogate, no deep nesting), and what a
    device always sets is added when missing: `ts` on status and telemetry, `event_id` and
    `occurred_at` on a deposit; what is sent is within 128 KB too."""
    from chalicelib.domain import json_limits

    if len(raw) > MAX_RAW:
        raise UsageError(f"the payload is over {MAX_RAW} bytes: no device client sends that")
    if as_is:
        try:
            return raw, json_limits.loads(raw, max_bytes=max(len(raw), 1))
        except json_limits.JsonRejected:
            return raw, None  # shown as text, sent as given
    if not raw.strip():
        raise UsageError("no payload: give it as an argument, with --file, or on stdin")
    if len(raw) > MAX_PAYLOAD:
        raise UsageError(f"the payload is {len(raw)} bytes; the limit is {MAX_PAYLOAD} (--raw)")
    try:
        document = json_limits.loads(raw, max_bytes=MAX_PAYLOAD)
    except json_limits.JsonRejected as e:
        raise UsageError(f"the payload is not JSON the cloud takes: {e} (--raw sends it)") from None
    if not isinstance(document, dict):
        raise UsageError(
            f"the payload is a JSON {type(document).__name__}, not an object (DESIGN §3; "
            "--raw sends it anyway)"
        )
    if topic.endswith(("/status", "/telemetry")) and "ts" not in document:
        document = {"ts": now_kst(), **document}
    if topic.endswith("/deposits"):
        from iot.device import new_event_id

        if "event_id" not in document:
            document = {"event_id": new_event_id(), **document}
        if "occurred_at" not in document:
            document = {**document, "occurred_at": now_kst()}
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    if len(body) > MAX_PAYLOAD:
        raise UsageError(
            f"with what is added the payload is {len(body)} bytes; the limit is {MAX_PAYLOAD}"
        )
    return body, document


def line(document: dict[str, Any]) -> None:
    """One JSON line on stdout (what the commands print)."""
    print(json.dumps(document, ensure_ascii=False), flush=True)


def error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
