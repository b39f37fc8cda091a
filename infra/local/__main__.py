"""`python -m infra.local up|token|fire|outbox|provision|env|resources|clock|streams`: the
local stack's command line (DESIGN §7; env, resources, clock, streams: docs/local-stack.md)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from infra.local.errors import MosquittoNotFoundError, PortInUseError
from infra.local.stack import (
    DEFAULT_CHECKPOINT_MB,
    DEFAULT_LAMBDA_WORKERS,
    DEFAULT_SQS_WORKERS,
    ROOT,
    LocalStack,
    StackOptions,
)
from iot.provisioning import SpecError, add_device_arguments, device_specs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m infra.local")
    sub = parser.add_subparsers(dest="command", required=True)
    state = argparse.ArgumentParser(add_help=False)
    state.add_argument(
        "--state-dir", type=Path, default=ROOT / ".local", help="where state lives (.local)"
    )

    up = sub.add_parser("up", parents=[state], help="run the whole system until Ctrl-C")
    up.add_argument("--api-port", type=int, default=8000)
    up.add_argument("--aws-port", type=int, default=5000)
    up.add_argument("--mqtt-port", type=int, default=8883)
    up.add_argument("--fleet", type=Path, default=ROOT / "iot" / "fleet" / "yeonji-park.json")
    up.add_argument(
        "--projects",
        type=Path,
        default=ROOT / "infra" / "data" / "projects-sample.json",
        help="the project registry file loaded at start (new ids only); the sample by default",
    )
    up.add_argument(
        "--sqs-visibility-timeout",
        type=int,
        default=None,
        help="override every queue's visibility timeout (seconds), e.g. for fast retries",
    )
    up.add_argument(
        "--sqs-workers",
        type=int,
        default=DEFAULT_SQS_WORKERS,
        help=f"concurrent pollers per SQS queue, like Lambda's ({DEFAULT_SQS_WORKERS})",
    )
    up.add_argument(
        "--lambda-workers",
        type=_count,
        default=DEFAULT_LAMBDA_WORKERS,
        help="worker processes the event handlers run in, like Lambda's containers "
        f"({DEFAULT_LAMBDA_WORKERS}; 0: in the stack's own process)",
    )
    up.add_argument(
        "--demo", action="store_true", help="simulated robots, shelters and walkers, live view"
    )
    up.add_argument(
        "--demo-speed",
        type=_speed,
        default=60.0,
        help="simulated seconds per real second in the demo (60: a day in 24 minutes)",
    )
    up.add_argument(
        "--no-journal",
        action="store_true",
        help="do not journal changes: a killed stack comes back at its last clean stop",
    )
    up.add_argument(
        "--checkpoint-mb",
        type=float,
        default=DEFAULT_CHECKPOINT_MB,
        help=f"checkpoint once the journal holds this much ({DEFAULT_CHECKPOINT_MB:g} MB)",
    )
    up.add_argument(
        "--console-tiles",
        metavar="URL",
        type=_tile_template,
        help="a map-tile URL template for the console, e.g. https://tile.example/{z}/{x}/{y}.png "
        "(default: none; the console draws district outlines and fetches nothing outside)",
    )
    up.add_argument(
        "--fresh",
        action="store_true",
        help="start from empty tables and queues (forget what the last stop kept)",
    )

    token = sub.add_parser("token", parents=[state], help="print a dev JWT")
    token.add_argument("--sub", required=True, help="the citizen id")
    token.add_argument("--admin", action="store_true", help="the admin role (--roles admin)")
    token.add_argument(
        "--roles",
        default="",
        help="staff roles, comma-separated: admin, operator, finance, support",
    )

    fire = sub.add_parser("fire", parents=[state], help="run a schedule now")
    fire.add_argument("name", help="the scheduled handler's name")

    outbox = sub.add_parser(
        "outbox",
        parents=[state],
        help="print what was sent to people (SMS codes, operators' alerts), as JSON lines",
    )
    outbox.add_argument(
        "--channel", choices=["sms", "push", "email", "alert"], help="only this channel"
    )

    sub.add_parser(
        "env",
        parents=[state],
        help="print shell lines that point boto3 and the AWS CLI at the running stack: "
        'eval "$(python -m infra.local env)"',
    )
    sub.add_parser(
        "resources",
        parents=[state],
        help="print the running stack's exports bucket, alerts topic, tables and queues (JSON)",
    )
    clock = sub.add_parser(
        "clock",
        parents=[state],
        help="show the stack's now, move it forward (advance 3d|6h|10m|...) or reset it",
    )
    moves = clock.add_subparsers(dest="move")
    # `clock --state-dir X advance 3d` and `clock advance 3d --state-dir X` alike: a move's
    # own --state-dir has no default, so it does not undo the one given before it.
    state_here = argparse.ArgumentParser(add_help=False)
    state_here.add_argument("--state-dir", type=Path, default=argparse.SUPPRESS)
    moves.add_parser("show", parents=[state_here], help="the stack's now (the default)")
    advance = moves.add_parser(
        "advance",
        parents=[state_here],
        help="move the stack's now forward; schedules it skips fire once",
    )
    advance.add_argument("by", help="how far: 3d, 6h, 10m, 90s, 1w, or several: 1d12h")
    moves.add_parser("reset", parents=[state_here], help="back to real time")

    streams = sub.add_parser(
        "streams",
        parents=[state],
        help="the running stack's DynamoDB stream consumers (list), or rewind one to the "
        "start of its stream (rewind HANDLER): every record is delivered again",
    )
    consumers = streams.add_subparsers(dest="action")
    consumers.add_parser("list", parents=[state_here], help="each consumer's position (default)")
    rewind = consumers.add_parser(
        "rewind",
        parents=[state_here],
        help="deliver every record of the consumer's stream again, as a new event source "
        "mapping at TRIM_HORIZON would (its handler must be exactly once)",
    )
    rewind.add_argument("handler", help="the handler's name, e.g. handle_ledger_changes")
    rewind.add_argument(
        "--wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help="wait up to this long until everything is delivered again (default: do not wait)",
    )

    prov = sub.add_parser(
        "provision", parents=[state], help="provision a device into the running stack"
    )
    add_device_arguments(prov)

    projects = sub.add_parser("projects", parents=[state], help="the project registry")
    project_moves = projects.add_subparsers(dest="move", required=True)
    load = project_moves.add_parser(
        "load",
        parents=[state_here],
        help="register a registry file's new projects in the running stack (ids already "
        "registered are kept); the sample by default",
    )
    load.add_argument("file", nargs="?", type=Path, help="a registry file (JSON)")
    return parser


def _count(value: str) -> int:
    count = int(value)
    if count < 0:
        raise argparse.ArgumentTypeError("a number of workers is 0 or more")
    return count


def _tile_template(value: str) -> str:
    from infra.console_site import tile_origin

    try:
        tile_origin(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e
    return value


def _speed(value: str) -> float:
    speed = float(value)
    if not 0 < speed <= 3600:
        raise argparse.ArgumentTypeError("the demo speed is between 0 (exclusive) and 3600")
    return speed


def _up(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for noisy in ("botocore", "boto3", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    options = StackOptions(
        state_dir=args.state_dir.resolve(),
        api_port=args.api_port,
        aws_port=args.aws_port,
        mqtt_port=args.mqtt_port,
        fleet_file=args.fleet,
        projects_file=args.projects,
        sqs_visibility_timeout=args.sqs_visibility_timeout,
        sqs_workers=args.sqs_workers,
        lambda_workers=args.lambda_workers,
        demo=args.demo,
        journal=not args.no_journal,
        checkpoint_mb=args.checkpoint_mb,
        console_tiles=args.console_tiles,
    )
    if args.fresh:
        from infra.local import persistence

        persistence.forget(options.state_dir)
        from infra.local import outbox

        outbox.forget(options.state_dir)
        from infra.local import stack_clock

        stack_clock.reset(options.state_dir)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    stack = LocalStack(options)
    try:
        document = stack.start()
    except (PortInUseError, MosquittoNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    demo = None
    try:
        if options.demo:
            from infra.local.demo import Demo

            demo = Demo(document, options.state_dir, speed=args.demo_speed)
            demo.start()
        timings = ", ".join(f"{k} {v:.2f}s" for k, v in stack.timings.items())
        print(f"local stack ready ({timings})", flush=True)
        print(f"  API   {document['api_url']}", flush=True)
        print(
            f"  console {document['api_url']}/console/  (dev login: any person, any roles)",
            flush=True,
        )
        print(f"  AWS   {document['aws_endpoint_url']}", flush=True)
        print(f"  MQTT  mqtts://127.0.0.1:{options.mqtt_port}", flush=True)
        kept = "data kept from the last run" if stack.restored else "fresh data"
        if stack.replayed:
            kept += f", {stack.replayed} journaled changes replayed"
        print(f"  state {stack.stack_file}  ({kept}; Ctrl-C stops and keeps it)", flush=True)
        offset = stack.clock.offset()
        if offset:
            from infra.local.stack_clock import describe

            print(f"  clock real time + {describe(offset)} (clock reset: real time)", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        print("stopping...", flush=True)
        if demo is not None:
            demo.stop()
        stack.stop()
    print("stopped", flush=True)
    return 0


def _token(args: argparse.Namespace) -> int:
    from chalicelib.domain.roles import ROLES
    from infra.local.dev_issuer import ensure_issuer

    wanted = [r.strip() for r in args.roles.split(",") if r.strip()]
    unknown = sorted(set(wanted) - set(ROLES))
    if unknown:
        print(f"error: unknown roles {unknown}; roles are {', '.join(ROLES)}", file=sys.stderr)
        return 2
    print(ensure_issuer(args.state_dir).mint(args.sub, admin=args.admin, roles=wanted))
    return 0


def _fire(args: argparse.Namespace) -> int:
    from infra.local.scheduler import request_fire

    try:
        result = request_fire(args.state_dir.resolve(), args.name)
    except (TimeoutError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False, default=str))
    return 0 if result.get("ok") else 1


def _outbox(args: argparse.Namespace) -> int:
    from infra.local import outbox

    for message in outbox.read(args.state_dir.resolve(), args.channel):
        print(json.dumps(message, ensure_ascii=False))
    return 0


def _running_stack(state_dir: Path, needs: tuple[str, ...]) -> dict[str, Any] | None:
    """The running stack's stack.json, or None (said on stderr): missing, corrupt, or
    written by an older version without the keys `needs` names."""
    file = state_dir / "stack.json"
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        document = None
    except (OSError, ValueError):  # unreadable, not UTF-8, not JSON: say which
        print(
            f"error: {file} is unreadable or corrupt; restart the stack: ./dev up", file=sys.stderr
        )
        return None
    if document is None:
        print(
            f"error: no local stack is running for {state_dir} (no stack.json); start it: ./dev up",
            file=sys.stderr,
        )
        return None
    missing = [k for k in needs if not isinstance(document, dict) or not document.get(k)]
    if missing:
        print(
            f"error: {file} has no {', '.join(missing)} (written by an older version?); "
            "restart the stack with this checkout: ./dev up",
            file=sys.stderr,
        )
        return None
    return dict(document)


def _env(args: argparse.Namespace) -> int:
    from infra.local.reach import shell_lines

    document = _running_stack(args.state_dir.resolve(), ("aws_endpoint_url", "region"))
    if document is None:
        return 1
    print("\n".join(shell_lines(document)))
    return 0


def _resources(args: argparse.Namespace) -> int:
    document = _running_stack(args.state_dir.resolve(), ("resources",))
    if document is None:
        return 1
    print(json.dumps(document["resources"], indent=2, ensure_ascii=False))
    return 0


def _clock(args: argparse.Namespace) -> int:
    from infra.local import stack_clock
    from infra.local.scheduler import request_clock, scheduler_running

    state_dir = args.state_dir.resolve()
    move = args.move or "show"
    fired = None
    if move != "show" and not state_dir.is_dir():  # a typo would make a folder no stack reads
        print(
            f"error: {state_dir} is not a local stack's state folder (start the stack once: "
            "./dev up, or give --state-dir)",
            file=sys.stderr,
        )
        return 2
    try:
        if move == "advance":
            by = stack_clock.parse_duration(args.by)
        if move != "show" and scheduler_running(state_dir):
            # The running stack's scheduler moves it, and fires what the move skipped.
            by_s = int(by.total_seconds()) if move == "advance" else None
            answer = request_clock(state_dir, move, by_s)
            if not answer.get("ok"):
                raise stack_clock.ClockError(str(answer.get("error")))
            fired = answer["fired"]
        elif move == "advance":
            stack_clock.advance(state_dir, by)
        elif move == "reset":
            stack_clock.reset(state_dir)
        offset = stack_clock.read_offset(state_dir)
    except (stack_clock.ClockError, TimeoutError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a state dir that cannot be written
        print(f"error: cannot move the clock in {state_dir}: {e.strerror or e}", file=sys.stderr)
        return 1
    print(json.dumps(stack_clock.status(offset, fired), ensure_ascii=False))
    return 0


def _streams(args: argparse.Namespace) -> int:
    from infra.local import stream_control

    state_dir = args.state_dir.resolve()
    try:
        if args.action == "rewind":
            answer: Any = stream_control.request_rewind(state_dir, args.handler)
            if args.wait > 0:
                answer = stream_control.wait_replayed(state_dir, args.handler, args.wait)
        else:
            answer = stream_control.request_list(state_dir)
    except KeyError as e:
        print(f"error: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    except (TimeoutError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2, ensure_ascii=False))
    return 0


def _provision(args: argparse.Namespace) -> int:
    """iot/provisioning.py with the local CA as its issuer (infra/local/provision.py): one
    device, or every device of a CSV file (checked whole first), one JSON line each."""
    from infra.local.provision import provision_device
    from iot.cli import UsageError

    folder = Path(args.folder) if args.folder else None
    try:
        for spec in device_specs(args):
            where = folder / spec.thing if folder is not None and args.csv else folder
            print(provision_device(spec, args.state_dir, where).summary(), flush=True)
    except (SpecError, UsageError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except TimeoutError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


def _projects(args: argparse.Namespace) -> int:
    """Load a registry file into the running stack's registry (infra/project_registry.py),
    with the stack's emulator endpoint and the dev stage's names."""
    import os

    from chalicelib import wiring
    from infra import project_registry
    from infra.local.reach import environment

    document = _running_stack(args.state_dir.resolve(), ("aws_endpoint_url", "region"))
    if document is None:
        return 1
    os.environ.update(environment(document))
    if document.get("mqtt", {}).get("city"):
        os.environ["CITY"] = str(document["mqtt"]["city"])
    wiring.clear()
    try:
        result = project_registry.load(args.file or project_registry.SAMPLE)
    except project_registry.RegistryFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"created": len(result.created), "kept": len(result.kept)}))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if "clock" in words and "advance" in words:
        after = words[words.index("advance") + 1 :]
        if after and after[0].startswith("-") and after[0][1:2].isdigit():
            # argparse would take `-1d` for an option and say only that `by` is missing
            from infra.local.stack_clock import ClockError, parse_duration

            try:
                parse_duration(after[0])
            except ClockError as e:
                print(f"error: {e}", file=sys.stderr)
                return 2
    args = _parser().parse_args(words)
    handlers = {"up": _up, "token": _token, "fire": _fire, "outbox": _outbox}
    tools = {"env": _env, "resources": _resources, "clock": _clock, "streams": _streams}
    commands = {**handlers, **tools, "provision": _provision, "projects": _projects}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
