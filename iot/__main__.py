"""`python -m iot robot|shelter|provision`: what an operator runs on a device or for one.

- `robot --config F`: the robot agent (durable outbox, resends, heartbeats). Each ack is one
  JSON line on stdout (the robot's screen). `--deposits N --phone P` (or `--code C`) queues N
  deposits first (field tests, the end-to-end tests); `--exit-when-drained` stops once no
  deposit is pending.
- `shelter --config F`: the shelter agent (shadow, heartbeats) publishing simulated
  telemetry every `--every` seconds (0: none).
- `provision --thing ID --type robot|shelter [--district D]`: see iot/provisioning.py. With
  `--aws` it provisions in AWS; without, into the running local stack, which provisions
  with its own CA (`python -m infra.local provision`, run here as a separate process).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from iot.agents import DeviceConfig, RobotAgent, ShelterAgent
from iot.provisioning import add_device_arguments
from iot.simulators import DustModel, SimClock, shelter_readings


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


def _robot(args: argparse.Namespace) -> int:
    config = DeviceConfig.load(args.config)
    lock = threading.Lock()

    def show(ack: dict[str, Any]) -> None:
        with lock:
            print(json.dumps(ack, ensure_ascii=False), flush=True)

    agent = RobotAgent(config, on_ack=show, heartbeat_s=args.heartbeat)
    stop = _stop_on_signals()
    pending, acked = agent.outbox.counts()
    print(f"# {config.device_id}: {pending} pending, {acked} acked", file=sys.stderr, flush=True)
    citizen = {"code": args.code} if args.code else {"phone": args.phone}
    items = [{"material": "can", "accepted": args.can, "rejected": 0}]
    to_queue = args.deposits
    if not args.every:  # all at once, before connecting: they wait in the outbox
        for _ in range(to_queue):
            agent.deposit(citizen, items)
        to_queue = 0
    agent.start()
    next_at = time.monotonic()
    try:
        while not stop.wait(0.05):
            if to_queue and time.monotonic() >= next_at:
                event_id = agent.deposit(citizen, items)
                print(f"# queued {event_id}", file=sys.stderr, flush=True)
                to_queue -= 1
                next_at += args.every
            drained = to_queue == 0 and agent.outbox.pending_count() == 0
            if args.exit_when_drained and drained:
                break
    finally:
        agent.stop()
    return 0


def _shelter(args: argparse.Namespace) -> int:
    config = DeviceConfig.load(args.config)

    def run_purifier(mode: str) -> None:
        print(json.dumps({"purifier": mode}), flush=True)

    agent = ShelterAgent(config, on_purifier=run_purifier, heartbeat_s=args.heartbeat)
    stop = _stop_on_signals()
    agent.start()
    clock, rng, dust = SimClock(args.speed), random.Random(), DustModel()
    last = time.monotonic()
    try:
        while not stop.wait(args.every or 1.0):
            if not args.every or not agent.connected:
                continue
            now = time.monotonic()
            elapsed_h = clock.sim_seconds(now - last) / 3600
            last = now
            agent.telemetry(shelter_readings(dust, clock.hour(), elapsed_h, rng))
    finally:
        agent.stop()
    return 0


def _provision(args: argparse.Namespace) -> int:
    from iot.provisioning import device_spec, provision_aws

    if not args.aws:
        return _provision_locally(args)
    if not (args.endpoint and args.ca_file and args.folder):
        print("error: --aws needs --endpoint, --ca-file and --folder", file=sys.stderr)
        return 2
    spec = device_spec(args)
    done = provision_aws(spec, Path(args.folder), args.endpoint, Path(args.ca_file), args.city)
    print(done.summary())
    return 0


def _provision_locally(args: argparse.Namespace) -> int:
    """The local stack's own command provisions (its CA signs): the device tools do not
    import the emulator."""
    import subprocess

    command = [sys.executable, "-m", "infra.local", "provision", "--thing", args.thing]
    command += ["--type", args.type, "--district", args.district]
    command += ["--state-dir", str(Path(args.state_dir).resolve())]
    if args.name:
        command += ["--name", args.name]
    if args.folder:
        command += ["--folder", str(Path(args.folder).resolve())]
    return subprocess.run(command, check=False).returncode


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m iot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    robot = sub.add_parser("robot", help="run a robot agent")
    robot.add_argument("--config", required=True, type=Path)
    robot.add_argument("--heartbeat", type=float, default=30.0)
    robot.add_argument("--deposits", type=int, default=0, help="queue N deposits first")
    who = robot.add_mutually_exclusive_group()
    who.add_argument("--phone", default="010-0000-0001")
    who.add_argument("--code")
    robot.add_argument("--can", type=int, default=1, help="cans per queued deposit")
    robot.add_argument("--every", type=float, default=0.0, help="queue one every S seconds")
    robot.add_argument("--exit-when-drained", action="store_true")
    shelter = sub.add_parser("shelter", help="run a shelter agent")
    shelter.add_argument("--config", required=True, type=Path)
    shelter.add_argument("--heartbeat", type=float, default=30.0)
    shelter.add_argument("--every", type=float, default=10.0, help="telemetry period (s)")
    shelter.add_argument("--speed", type=float, default=1.0, help="simulated time speed")
    prov = sub.add_parser("provision", help="create a device and its credentials")
    add_device_arguments(prov)
    prov.add_argument("--state-dir", default=".local", help="the local stack's state folder")
    prov.add_argument("--aws", action="store_true", help="provision in AWS, not locally")
    prov.add_argument("--endpoint", help="AWS: the account's IoT data endpoint")
    prov.add_argument("--ca-file", help="AWS: the Amazon root CA file")
    prov.add_argument("--city", default="gimhae")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    args = _parser().parse_args(argv)
    handlers = {"robot": _robot, "shelter": _shelter, "provision": _provision}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
