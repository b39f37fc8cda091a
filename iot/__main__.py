"""`python -m iot` (or `gimhae-device`): the tools of a device maker.

  provision  create a device: thing, key, certificate, its place in the city, config.json
  publish    send one JSON payload on one of a device's own topics and show what happened
  deposit    send one deposit from a robot and show the cloud's ack
  robot      run a robot agent; deposits typed on stdin or sent to a local port
  shelter    run a shelter agent; readings from a scenario or fixed values

A device is `--config FILE` (its config.json, any broker: AWS too) or `--device ID` (a
device of the running local stack; `--state-dir` is that stack's folder, by default the
repository's `.local`). Each command prints JSON lines on stdout and notes on stderr.
Exit codes: 0 done, 1 device or network error, 2 bad input, 3 the device's identity is in
use by another process, 4 refused by the broker. `python -m iot COMMAND --help` for more.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import signal
import socketserver
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from iot import cli
from iot.agents import RobotAgent, ShelterAgent
from iot.deposit_lines import (
    MAX_LINE,
    DepositLineError,
    TypedDeposit,
    is_event_id,
    parse_deposit_line,
)
from iot.device import (
    AckTimeout,
    DeviceBusyError,
    DeviceClient,
    DeviceError,
    NotAuthorizedError,
    RobotClient,
    new_event_id,
)
from iot.provisioning import SpecError, add_device_arguments, device_specs
from iot.simulators import SCENARIOS, ShelterScenario, SimClock


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Long lines of a description wrap; indented lines (examples) stay as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines: list[str] = []
        for line in text.splitlines():
            if not line.strip() or line.startswith(" "):
                lines.append(indent + line)
            else:
                lines += textwrap.wrap(line, width, initial_indent=indent, subsequent_indent=indent)
        return "\n".join(lines)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    return stop


def _printer() -> Callable[[dict[str, Any]], None]:
    lock = threading.Lock()

    def show(document: dict[str, Any]) -> None:
        with lock:
            cli.line(document)

    return show


def _number(low: float, high: float, *, low_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number within [low, high] (or (low, high])."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        fits = (low < value if low_open else low <= value) and value <= high
        if not (math.isfinite(value) and fits):
            bracket = "(" if low_open else "["
            raise argparse.ArgumentTypeError(f"{text!r} is not in {bracket}{low:g}, {high:g}]")
        return value

    return parse


def _whole(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number within [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not in {low}..{high}")
        return value

    return parse


_SECONDS = _number(0, 86400, low_open=True)  # a wait: more than nothing
_HEARTBEAT = _number(1, 86400)  # a status a second at most


def _interval(text: str) -> float:
    """0 (none, or all at once) or at least 0.01 s: IoT Core takes at most 100 publishes a
    second on one connection."""
    value = _number(0, 86400)(text)
    if 0 < value < 0.01:
        raise argparse.ArgumentTypeError(f"{text!r}: 0, or 0.01 s or more (IoT Core's rate)")
    return value


_PM = _number(0, 10_000)  # µg/m³: beyond any sensor's range is a typo (publish --raw sends it)
_COUNT = _whole(0, 9999)  # items, deposits


def _note(text: str) -> None:
    print(f"# {text}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- robot


def _robot(args: argparse.Namespace) -> int:
    config = cli.load_device(args, "robot")
    show = _printer()
    agent = RobotAgent(config, on_ack=show, heartbeat_s=args.heartbeat)
    agent.client.claim()
    stop = _stop_on_signals()
    pending, acked = agent.outbox.counts()
    _note(f"{config.device_id}: {pending} pending, {acked} acked")
    citizen = {"code": args.code} if args.code else {"phone": args.phone}
    items = [{"material": "can", "accepted": args.can, "rejected": 0}]
    to_queue = args.deposits
    if not args.every:  # all at once, before connecting: they wait in the outbox
        for _ in range(to_queue):
            agent.deposit(citizen, items)
        to_queue = 0
    typed_done = threading.Event()
    if args.stdin:
        source = sys.stdin.buffer
        _start_thread(lambda: _read_deposits(agent, source, typed_done), "robot-stdin")
    server = None
    if args.port is not None:
        server = _deposit_server(agent, args.port, args.ack_timeout)
    agent.start()
    next_at = time.monotonic()
    try:
        while not stop.wait(0.05):
            if to_queue and time.monotonic() >= next_at:
                event_id = agent.deposit(citizen, items)
                _note(f"queued {event_id}")
                to_queue -= 1
                next_at += args.every
            drained = to_queue == 0 and agent.outbox.pending_count() == 0
            if drained and (args.exit_when_drained or typed_done.is_set()):
                break
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        agent.stop()
    return 0


def _start_thread(target: Callable[[], None], name: str) -> None:
    threading.Thread(target=target, name=name, daemon=True).start()


def _queue(agent: RobotAgent, deposit: TypedDeposit) -> str:
    return agent.deposit(deposit.citizen, deposit.items, deposit.occurred_at, deposit.event_id)


def _read_deposits(agent: RobotAgent, source: _Lines, done: threading.Event) -> None:
    """Deposits typed one per line; at the end of the input the robot exits once every
    deposit is acknowledged. Bytes that are not UTF-8 or a line over 128 KB are that line's
    error, never the end of the reader (read a bounded line at a time)."""
    try:
        for number, text in enumerate(bounded_lines(source), start=1):
            try:
                deposit = parse_deposit_line(text) if text is not None else _too_long()
            except DepositLineError as e:
                cli.error(f"line {number}: {e}")
                continue
            if deposit is not None:
                _note(f"queued {_queue(agent, deposit)}")
    finally:
        done.set()


class _Lines(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...


def bounded_lines(source: _Lines, limit: int = MAX_LINE) -> Iterator[str | None]:
    """The lines of `source`, decoded (a byte that is not UTF-8 becomes U+FFFD, which no
    deposit holds); None for a line over `limit` bytes, skipped without being held."""
    while True:
        raw = source.readline(limit + 1)
        if not raw:
            return
        if len(raw) > limit and not raw.endswith(b"\n"):
            while True:  # skip to the end of the overlong line
                rest = source.readline(limit + 1)
                if not rest or rest.endswith(b"\n"):
                    break
            yield None
            continue
        yield raw.decode("utf-8", errors="replace")


_TOO_LONG = f"the line is over {MAX_LINE // 1024} KB: not a deposit"


def _too_long() -> TypedDeposit:
    raise DepositLineError(_TOO_LONG)


def _deposit_server(agent: RobotAgent, port: int, ack_timeout: float) -> socketserver.TCPServer:
    """A loopback port taking deposits one per line; each is answered with its ack (one
    JSON line) or an error line, e.g. `echo 'phone 010-1234-5678 can=3' | nc -q 5 127.0.0.1
    PORT`."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            # a client gone before its answer: its deposits stay queued, nothing to say
            with contextlib.suppress(ConnectionError, TimeoutError):
                self._serve()

        def _serve(self) -> None:
            for text in bounded_lines(self.rfile):
                answer = self._answer(text) if text is not None else {"error": _TOO_LONG}
                if answer is not None:
                    data = json.dumps(answer, ensure_ascii=False) + "\n"
                    self.wfile.write(data.encode())
                    self.wfile.flush()

        def _answer(self, text: str) -> dict[str, Any] | None:
            try:
                deposit = parse_deposit_line(text)
            except DepositLineError as e:
                return {"error": str(e)}
            if deposit is None:
                return None
            event_id = _queue(agent, deposit)
            ack = agent.wait_for_ack(event_id, ack_timeout)
            if ack is None:
                return {"event_id": event_id, "error": f"no ack yet ({ack_timeout:g} s); kept"}
            return ack

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True

    try:
        server = Server(("127.0.0.1", port), Handler)
    except OSError as e:
        raise cli.UsageError(f"cannot listen on 127.0.0.1:{port}: {e.strerror}") from None
    _start_thread(server.serve_forever, "robot-port")
    _note(f"taking deposits on 127.0.0.1:{server.server_address[1]}")
    return server


# ---------------------------------------------------------------- shelter


def _shelter(args: argparse.Namespace) -> int:
    config = cli.load_device(args, "shelter")
    show = _printer()
    try:
        scenario = ShelterScenario(
            args.scenario, SimClock(args.speed), pm10=args.pm10, pm25=args.pm25
        )
    except ValueError as e:
        raise cli.UsageError(str(e)) from None
    agent = ShelterAgent(
        config, on_purifier=lambda mode: show({"purifier": mode}), heartbeat_s=args.heartbeat
    )
    agent.client.claim()
    stop = _stop_on_signals()
    count = 1 if args.once else args.count
    agent.start()
    sent = 0
    next_at = time.monotonic()
    try:
        if not agent.wait_ready(args.connect_timeout):
            cli.error(f"{config.device_id}: not connected within {args.connect_timeout:g} s")
            return cli.EXIT_ERROR
        while not stop.is_set() and (count is None or sent < count):
            if args.every <= 0 and count is None:
                stop.wait(0.5)  # no telemetry: the shadow and the heartbeat only
                continue
            if time.monotonic() < next_at or not agent.connected:
                stop.wait(0.05)
                continue
            body = {"ts": cli.now_kst(), **scenario.next()}
            topic = cli.topic_for(config, "telemetry")
            agent.client.publish(topic, body, args.qos)
            show({"telemetry": body})
            sent += 1
            next_at += max(args.every, 0.0)
    finally:
        agent.stop()
    return 0


# ---------------------------------------------------------------- publish, deposit


def _publish(args: argparse.Namespace) -> int:
    config = cli.load_device(args)
    topic = cli.topic_for(config, args.topic)
    raw = cli.read_payload(args.payload, args.file)
    body, document = cli.prepare_payload(raw, topic, args.raw)
    client = DeviceClient(config.device_id, **config.connection())
    acks: Future[dict[str, Any]] = Future()
    expected = document.get("event_id") if isinstance(document, dict) else None
    # the cloud names an event in its answer only when the id has the form (DESIGN §3)
    expected = expected if isinstance(expected, str) and is_event_id(expected) else None
    ack_topic = f"{topic}/ack" if topic.endswith("/deposits") else None

    def on_ack(_topic: str, payload: bytes) -> None:
        try:
            ack = json.loads(payload)
        except ValueError:
            return
        if isinstance(ack, dict) and ack.get("event_id") == expected and not acks.done():
            acks.set_result(ack)

    client.connect(args.timeout)
    try:
        if ack_topic is not None:
            client.subscribe(ack_topic, on_ack)
        code = client.publish(topic, body, args.qos, args.timeout)
        shown = document if document is not None else body.decode("utf-8", errors="replace")
        cli.line({"topic": topic, "qos": args.qos, "puback": _puback(code), "payload": shown})
        if ack_topic is not None and not args.no_ack:
            try:
                cli.line({"ack": acks.result(args.timeout)})
            except TimeoutError:
                raise AckTimeout(f"no ack on {ack_topic} within {args.timeout:g} s") from None
    finally:
        client.disconnect()
    return 0


def _puback(code: int) -> dict[str, Any]:
    from awscrt import mqtt5

    try:
        reason = mqtt5.PubackReasonCode(code).name
    except ValueError:
        reason = "UNKNOWN"
    return {"code": code, "reason": reason}


def _deposit(args: argparse.Namespace) -> int:
    config = cli.load_device(args, "robot")
    citizen = {"code": args.code} if args.code else {"phone": args.phone}
    items = [
        {"material": m, "accepted": n, "rejected": 0}
        for m, n in (("can", args.can), ("pet", args.pet))
        if n
    ]
    event = {
        "event_id": args.event_id or new_event_id(),
        "citizen": citizen,
        "items": items,
        "occurred_at": cli.now_kst(),
    }
    robot = RobotClient(config.device_id, **config.connection())
    robot.connect()
    try:
        ack = robot.deposit(event, timeout=args.timeout)
    finally:
        robot.disconnect()
    cli.line(ack)
    return 0


# ---------------------------------------------------------------- provision


def _provision(args: argparse.Namespace) -> int:
    from iot.provisioning import provision_aws

    specs = device_specs(args)  # checked here, before anything is created
    if not args.aws:
        return _provision_locally(args)
    if not (args.endpoint and args.ca_file and args.folder):
        raise cli.UsageError("--aws needs --endpoint, --ca-file and --folder")
    folder = Path(args.folder)
    for spec in specs:
        where = folder / spec.thing if args.csv else folder
        done = provision_aws(spec, where, args.endpoint, Path(args.ca_file), args.city)
        print(done.summary(), flush=True)
    return 0


def _provision_locally(args: argparse.Namespace) -> int:
    """The local stack's own command provisions (its CA signs): the device tools do not
    import the emulator."""
    import subprocess

    command = [sys.executable, "-m", "infra.local", "provision"]
    command += ["--state-dir", str(cli.state_dir(args))]
    # `--option=VALUE`: a value that starts with `-` (a name `--folder`) stays a value
    for option in ("thing", "type", "name", "district", "lat", "lon"):
        value = getattr(args, option)
        if value is not None:
            command.append(f"--{option}={value}")
    for option in ("csv", "folder"):
        value = getattr(args, option)
        if value is not None:
            command.append(f"--{option}={Path(value).resolve()}")
    return subprocess.run(command, check=False).returncode


# ---------------------------------------------------------------- the parser


def _parser() -> argparse.ArgumentParser:
    called = Path(sys.argv[0]).name if sys.argv else ""
    parser = argparse.ArgumentParser(
        prog=called if called == "gimhae-device" else "python -m iot",
        description=__doc__,
        formatter_class=_Formatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    prov = sub.add_parser(
        "provision",
        help="create a device and its credentials (locally, or in AWS with --aws)",
        description="Create a device: the thing, a key that never leaves its folder, a "
        "certificate, its policy, its row in the city's registry (name, district, location: "
        "what the app shows) and its config.json. Without --aws, into the running local "
        "stack; with --aws, into the AWS account of the environment.",
        epilog="examples:\n"
        "  python -m iot provision --thing shelter-101 --type shelter --name '봉황동 쉼터' \\\n"
        "      --district hoehyeon-dong --lat 35.2318 --lon 128.8805\n"
        "  python -m iot provision --csv devices.csv   # thing,type,name,district,lat,lon",
        formatter_class=_Formatter,
    )
    add_device_arguments(prov)
    cli.add_state_dir(prov)
    prov.add_argument("--aws", action="store_true", help="provision in AWS, not locally")
    prov.add_argument("--endpoint", help="AWS: the account's IoT data endpoint")
    prov.add_argument("--ca-file", help="AWS: the Amazon root CA file")
    prov.add_argument("--city", default="gimhae", help="AWS: the city's topic prefix")

    pub = sub.add_parser(
        "publish",
        help="send one JSON payload on one of a device's own topics",
        description="Publish one payload at QoS 1 with the device's certificate and print "
        "the PUBACK as one JSON line; on `deposits`, also the cloud's ack. `ts` (status, "
        "telemetry), `event_id` and `occurred_at` (deposits) are added when missing, unless "
        "--raw. A topic that is not the device's is refused by the broker (exit code 4).",
        epilog="TOPIC: deposits | status | telemetry | shadow/update | shadow/get, a subtopic "
        "under the device's own id (e.g. events/door), or a full topic.\n"
        "examples:\n"
        '  python -m iot publish --device shelter-101 telemetry \'{"pm10": 160, "pm25": 80}\'\n'
        "  python -m iot publish --device robot-001 deposits --file deposit.json\n"
        "  echo '{\"online\": true}' | python -m iot publish --config dev/config.json status",
        formatter_class=_Formatter,
    )
    cli.add_device(pub)
    pub.add_argument("topic", metavar="TOPIC", help="which of the device's topics")
    pub.add_argument(
        "payload", metavar="PAYLOAD", nargs="?", help="the JSON payload (default or -: stdin)"
    )
    pub.add_argument("--file", type=Path, help="read the payload from a file (-: stdin)")
    pub.add_argument("--qos", type=int, choices=(0, 1), default=1, help="QoS (default 1)")
    pub.add_argument("--raw", action="store_true", help="send the bytes exactly as given")
    pub.add_argument("--no-ack", action="store_true", help="deposits: do not wait for the ack")
    pub.add_argument(
        "--timeout", type=_SECONDS, default=15.0, help="seconds to wait for each answer (15)"
    )

    dep = sub.add_parser(
        "deposit",
        help="send one deposit from a robot and print the cloud's ack",
        description="One deposit, resent until the cloud acknowledges it; prints the ack.",
        epilog="example:\n  python -m iot deposit --device robot-001 --code 482913 --can 3 --pet 2",
        formatter_class=_Formatter,
    )
    cli.add_device(dep)
    who = dep.add_mutually_exclusive_group(required=True)
    who.add_argument("--code", help="the citizen's 6-digit one-time code from the app")
    who.add_argument("--phone", help="the citizen's Korean mobile number")
    dep.add_argument("--can", type=_COUNT, default=0, help="cans accepted")
    dep.add_argument("--pet", type=_COUNT, default=0, help="PET bottles accepted")
    dep.add_argument("--event-id", default=None, help="the event's id (default: a new one)")
    dep.add_argument("--timeout", type=_SECONDS, default=15, help="seconds to wait for the ack")

    robot = sub.add_parser(
        "robot",
        help="run a robot agent (deposits from stdin or a local port)",
        description="The robot's agent: a durable outbox, resends until acked, heartbeats. "
        "Each ack is one JSON line on stdout. Deposits come from --stdin, --port, or "
        "--deposits N (queued at start).",
        epilog="a deposit line: `phone 010-1234-5678 can=3 pet=2`, `code 482913 can=1/2` "
        "(1 accepted, 2 rejected), optional `at=TIME id=EVENT_ID`, or a JSON deposit.\n"
        "examples:\n"
        "  echo 'phone 010-1234-5678 can=3' | python -m iot robot --device robot-101 --stdin\n"
        "  python -m iot robot --device robot-101 --port 9101   # then: nc 127.0.0.1 9101",
        formatter_class=_Formatter,
    )
    cli.add_device(robot)
    robot.add_argument(
        "--stdin", action="store_true", help="read deposits from stdin; exit when it ends"
    )
    robot.add_argument(
        "--port",
        type=_whole(0, 65535),
        help="take deposits on this loopback port (0: any free one)",
    )
    robot.add_argument(
        "--ack-timeout", type=_SECONDS, default=15.0, help="--port: seconds to wait for an ack"
    )
    robot.add_argument("--heartbeat", type=_HEARTBEAT, default=30.0, help="status every S seconds")
    robot.add_argument("--deposits", type=_COUNT, default=0, help="queue N deposits at start")
    who = robot.add_mutually_exclusive_group()
    who.add_argument("--phone", default="010-0000-0001", help="--deposits: the citizen's phone")
    who.add_argument("--code", help="--deposits: a one-time code instead")
    robot.add_argument("--can", type=_COUNT, default=1, help="--deposits: cans per deposit")
    robot.add_argument("--every", type=_interval, default=0.0, help="--deposits: one every S s")
    robot.add_argument(
        "--exit-when-drained", action="store_true", help="exit once nothing is pending"
    )

    shelter = sub.add_parser(
        "shelter",
        help="run a shelter agent (scenarios, fixed readings, one reading)",
        description="The shelter's agent: heartbeats, the purifier its shadow asks for, and "
        'telemetry every --every seconds. Prints each reading it sends ({"telemetry": ...}) '
        'and each purifier command it receives ({"purifier": ...}), one JSON line each.',
        epilog="scenarios: daily (a simulated day with random dust episodes), calm, "
        "dust-spike (good, moderate, bad, very bad for three readings, bad, moderate, then good).\n"
        "examples:\n"
        "  python -m iot shelter --device shelter-101 --scenario dust-spike --every 5\n"
        "  python -m iot shelter --device shelter-101 --pm10 160 --pm25 80 --once",
        formatter_class=_Formatter,
    )
    cli.add_device(shelter)
    shelter.add_argument("--scenario", choices=SCENARIOS, default="daily")
    shelter.add_argument("--pm10", type=_PM, help="a fixed PM10 (µg/m³) in every reading")
    shelter.add_argument("--pm25", type=_PM, help="a fixed PM2.5 (µg/m³) in every reading")
    count = shelter.add_mutually_exclusive_group()
    count.add_argument("--once", action="store_true", help="send one reading, then exit")
    count.add_argument("--count", type=_whole(1, 10**9), help="send N readings, then exit")
    shelter.add_argument(
        "--every", type=_interval, default=10.0, help="seconds between readings (10; 0: none)"
    )
    shelter.add_argument("--qos", type=int, choices=(0, 1), default=1, help="telemetry QoS")
    shelter.add_argument(
        "--speed",
        type=_number(0, 3600, low_open=True),
        default=1.0,
        help="daily: simulated time speed",
    )
    shelter.add_argument(
        "--heartbeat", type=_HEARTBEAT, default=30.0, help="status every S seconds"
    )
    shelter.add_argument(
        "--connect-timeout", type=_SECONDS, default=30.0, help="seconds to wait for the broker"
    )
    return parser


def _parse(argv: list[str]) -> argparse.Namespace:
    """`publish`'s options may come after its payload or before it (`publish --device D
    deposits --raw '{...'`): argparse takes that only from a parser without subcommands."""
    parser = _parser()
    if argv[:1] != ["publish"]:
        return parser.parse_args(argv)
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    publish: argparse.ArgumentParser = commands.choices["publish"]
    return publish.parse_intermixed_args(argv[1:], argparse.Namespace(command="publish"))


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "robot": _robot,
    "shelter": _shelter,
    "provision": _provision,
    "publish": _publish,
    "deposit": _deposit,
}


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    args = _parse(list(sys.argv[1:] if argv is None else argv))
    try:
        return HANDLERS[args.command](args)
    except (cli.UsageError, SpecError) as e:
        cli.error(str(e))
        return cli.EXIT_USAGE
    except DeviceBusyError as e:
        cli.error(str(e))
        return cli.EXIT_BUSY
    except NotAuthorizedError as e:
        cli.error(f"refused by the broker: {e} (a device publishes only under its own id)")
        return cli.EXIT_REFUSED
    except DeviceError as e:
        cli.error(str(e))
        return cli.EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
