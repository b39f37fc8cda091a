"""`python -m infra.local up|token|fire|outbox|provision`: the local stack's command line
(DESIGN §7)."""

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

    prov = sub.add_parser(
        "provision", parents=[state], help="provision a device into the running stack"
    )
    add_device_arguments(prov)
    return parser


def _count(value: str) -> int:
    count = int(value)
    if count < 0:
        raise argparse.ArgumentTypeError("a number of workers is 0 or more")
    return count


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
        sqs_visibility_timeout=args.sqs_visibility_timeout,
        sqs_workers=args.sqs_workers,
        lambda_workers=args.lambda_workers,
        demo=args.demo,
        journal=not args.no_journal,
        checkpoint_mb=args.checkpoint_mb,
    )
    if args.fresh:
        from infra.local import persistence

        persistence.forget(options.state_dir)
        from infra.local import outbox

        outbox.forget(options.state_dir)
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
        print(f"  AWS   {document['aws_endpoint_url']}", flush=True)
        print(f"  MQTT  mqtts://127.0.0.1:{options.mqtt_port}", flush=True)
        kept = "data kept from the last run" if stack.restored else "fresh data"
        if stack.replayed:
            kept += f", {stack.replayed} journaled changes replayed"
        print(f"  state {stack.stack_file}  ({kept}; Ctrl-C stops and keeps it)", flush=True)
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


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {"up": _up, "token": _token, "fire": _fire, "outbox": _outbox}
    return {**handlers, "provision": _provision}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
