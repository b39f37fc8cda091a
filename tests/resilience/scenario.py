"""A seeded city day: citizens registering, joining challenges, depositing by phone and by
code, robots resending, phones syncing steps, a few poison messages; and how to read what
it left behind (normalized so two runs of the same events can be compared)."""

from __future__ import annotations

import base64
import contextlib
import json
import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from chalicelib import config, streams
from chalicelib.domain.clock import seoul_day, utc_now
from tests.functional.conftest import REGION, deposit, rule_message
from tests.resilience.harness import Stack

DISTRICTS = ("naeoe-dong", "buwon-dong", "jangyu1-dong")
ROBOTS = ("robot-001", "robot-002")


@dataclass(frozen=True)
class Citizen:
    citizen_id: str
    district: str
    phone: str  # as the citizen typed it
    phone_digits: str
    account_number: str | None


def citizens(count: int) -> list[Citizen]:
    out = []
    for i in range(count):
        digits = f"0105{i:03d}{7000 + i:04d}"
        written = (f"+82 10-{digits[3:7]}-{digits[7:]}", digits, f"010 {digits[3:7]} {digits[7:]}")
        account = f"{110 + i:03d}-{4321 + i:04d}-{55667 + i:05d}" if i % 4 == 0 else None
        out.append(Citizen(f"c-{i:02d}", DISTRICTS[i % 3], written[i % 3], digits, account))
    return out


@dataclass(frozen=True)
class Step:
    kind: str  # deposit | code_deposit | resend | steps | poison
    args: tuple[Any, ...]


def events(seed: int, people: list[Citizen], count: int, poison_share: float) -> list[Step]:
    """`count` mixed events; a deposit's day is spread over the last 6 days (the daily item
    limit is never reached, so no outcome depends on arrival order)."""
    rng = random.Random(seed)
    out: list[Step] = []
    sent: list[int] = []
    for n in range(count):
        roll = rng.random()
        who = rng.choice(people)
        robot = rng.choice(ROBOTS)
        can, pet = rng.randint(0, 2), rng.randint(0, 2) or 1
        if roll < poison_share:
            out.append(Step("poison", (robot, n % len(POISON))))
        elif roll < 0.50:
            days_back = rng.randint(0, 5)
            out.append(Step("deposit", (robot, f"evt-p-{n:05d}", who.phone, can, pet, days_back)))
            sent.append(len(out) - 1)
        elif roll < 0.58:
            stranger = f"010-9{n % 1000:03d}-{n % 10000:04d}"  # valid, nobody's
            out.append(Step("deposit", (robot, f"evt-u-{n:05d}", stranger, can, pet, 0)))
            sent.append(len(out) - 1)
        elif roll < 0.68:
            out.append(Step("code_deposit", (robot, f"evt-c-{n:05d}", who.citizen_id, can, pet)))
            sent.append(len(out) - 1)
        elif roll < 0.80 and sent:
            out.append(Step("resend", (rng.choice(sent),)))
        else:
            out.append(Step("steps", (who.citizen_id, rng.randint(0, 3), rng.randint(0, 14_000))))
    return out


# Poison: bytes no robot should send. Each with the reason quarantine must give it.
DEEP = b"[" * 5000 + b"]" * 5000
POISON: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xfe\x00garbage\x81", "malformed_json"),
    (DEEP, "malformed_json"),
    (b'{"event_id": "evt-x", "citizen": {"phone": 1010}, "items": "many"}', "invalid_payload"),
    (
        json.dumps(
            {
                "event_id": "evt-poison-types",
                "citizen": {"phone": "010-5000-7000"},
                "items": [{"material": "can", "accepted": "3", "rejected": 0}],
                "occurred_at": 1764032400,
            }
        ).encode(),
        "invalid_payload",
    ),
    (b"null", "invalid_payload"),
)


class Runner:
    """Plays the events against a stack: API calls at once (retried as apps retry), device
    messages through the deposits queue in chunks, streams pumped every so often."""

    def __init__(self, stack: Stack, people: list[Citizen]) -> None:
        self.stack = stack
        self.people = {p.citizen_id: p for p in people}
        self.bodies: dict[int, str] = {}
        self.pending: list[str] = []
        self.poison_sent: Counter[str] = Counter()
        self.today = seoul_day(utc_now())
        self.challenges: dict[str, str] = {}

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.stack.call(method, path, **kwargs)
        assert response.status < 300, (method, path, response.status, response.body)
        return response.body

    def setup(self) -> None:
        for p in self.people.values():
            body = {"display_name": f"Walker {p.citizen_id}", "district": p.district}
            self.ok("PUT", "/v1/me", as_user=p.citizen_id, body=body)
            self.stack.link_phone(p.citizen_id, p.phone)
            if p.account_number:
                account = {"bank": "011", "account_number": p.account_number, "holder": "홍길동"}
                self.ok("PUT", "/v1/me/payout-account", as_user=p.citizen_id, body=account)
        today = self.today
        for title, body in {
            "walk": {
                "kind": "total_steps",
                "starts_on": (today - timedelta(days=3)).isoformat(),
                "ends_on": today.isoformat(),
                "target": 25_000,
                "daily_cap": 10_000,
                "prize": {"type": "all_finishers", "points": 300},
            },
            "recycle": {
                "kind": "recycle_items",
                "starts_on": (today - timedelta(days=6)).isoformat(),
                "ends_on": (today + timedelta(days=1)).isoformat(),
                "target": 60,
                "prize": {"type": "all_finishers", "points": 200},
            },
        }.items():
            created = self.ok(
                "POST",
                "/v1/admin/challenges",
                as_user="ops",
                admin=True,
                body={"title": title, **body},
            )
            self.challenges[created["challenge_id"]] = title
            for p in self.people.values():
                path = f"/v1/challenges/{created['challenge_id']}/entries"
                self.ok("POST", path, as_user=p.citizen_id)

    def play(
        self, steps: list[Step], chunk: int = 40, pump_every: int = 250, pump: bool = True
    ) -> None:
        for n, step in enumerate(steps):
            getattr(self, f"_{step.kind}")(n, *step.args)
            if len(self.pending) >= chunk:
                self.flush()
            if pump and n % pump_every == pump_every - 1:
                self.flush()
                for source in streams.ALL_STREAMS:
                    self.stack.pump(source)
        self.flush()
        if pump:
            self.stack.settle_streams()

    def flush(self) -> None:
        if self.pending:
            self.stack.send_deposits(self.pending)
            self.pending = []
        self.stack.drain_deposits()

    def _send(self, n: int, device: str, payload: dict[str, Any] | bytes) -> None:
        body = json.dumps(rule_message(device, payload))
        self.bodies[n] = body
        self.pending.append(body)

    def _deposit(
        self, n: int, robot: str, event_id: str, phone: str, can: int, pet: int, days_back: int
    ) -> None:
        when = datetime.now(UTC) - timedelta(days=days_back)
        self._send(n, robot, deposit(event_id, phone=phone, can=can, pet=pet, occurred_at=when))

    def _code_deposit(
        self, n: int, robot: str, event_id: str, who: str, can: int, pet: int
    ) -> None:
        code = self.ok("POST", "/v1/me/deposit-codes", as_user=who)["code"]
        self._send(n, robot, deposit(event_id, code, can=can, pet=pet))

    def _resend(self, n: int, original: int) -> None:
        self.pending.append(self.bodies[original])

    def _steps(self, n: int, who: str, days_back: int, steps: int) -> None:
        day = (self.today - timedelta(days=days_back)).isoformat()
        self.ok("PUT", "/v1/me/steps", as_user=who, body={"days": [{"date": day, "steps": steps}]})

    def _poison(self, n: int, robot: str, which: int) -> None:
        raw, reason = POISON[which]
        self.poison_sent[reason] += 1
        self.pending.append(json.dumps(rule_message(robot, raw)))


# ------------------------------------------------------------------------ reading the state


def table(logical: str) -> list[dict[str, Any]]:
    """A table's items as Python values, read from the emulator's memory: past the app's
    (faulty) client, and without serializing thousands of items into responses."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]
    reader = TypeDeserializer()
    stored = backend.get_table(config.table_name(logical))
    return [
        {k: reader.deserialize(v) for k, v in item.to_json()["Attributes"].items()}
        for item in stored.all_items()
    ]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, list | set | tuple):
        return [_plain(v) for v in value]
    return value


def _rows(logical: str, drop: set[str]) -> list[str]:
    rows = []
    for item in table(logical):
        row = {k: v for k, v in item.items() if k not in drop}
        if isinstance(row.get("detail"), dict):  # a deposit's time is when the run made it
            row["detail"] = {k: v for k, v in row["detail"].items() if k not in drop}
        if logical == "board-counts":  # a counter back at zero is a counter never used
            row = {k: v for k, v in row.items() if v != 0}
            if set(row) == {"node"}:
                continue
        rows.append(json.dumps(_plain(row)))
    return sorted(rows)


# What differs between two clean runs of the same events: times, versions, generated ids,
# the order-dependent ranks and running balances.
TIMES = {
    "created_at",
    "updated_at",
    "processed_at",
    "expires",
    "joined_at",
    "linked_at",
    "received_at",
    "issued_at",
    "expires_at",
    "at",
    "occurred_at",
}


def state(challenges: dict[str, str]) -> dict[str, Any]:
    """The outcome of a run, comparable with another run of the same events."""
    out: dict[str, Any] = {
        "processed-events": _rows("processed-events", TIMES | {"balance_after", "entry_id"}),
        "ledger": _rows("ledger", TIMES | {"entry_id", "balance_after"}),
        "citizens": _rows("citizens", TIMES | {"version", "payout_bucket"}),
        "citizen-days": _rows("citizen-days", TIMES),
        "city-totals": _rows("city-totals", TIMES),
        "step-days": _rows("step-days", TIMES),
        "board-entries": _rows("board-entries", TIMES | {"version"}),
        "board-counts": _rows("board-counts", TIMES),
        "challenge-entries": _rows(
            "challenge-entries",
            TIMES | {"version", "finished_at", "finish_rank", "finish_key"},
        ),
        "challenges": _rows(
            "challenges", TIMES | {"challenge_id", "last_finish_key", "seed", "commitment"}
        ),
    }
    text = json.dumps(out)
    # Ledger entry ids are made of the balance's version and the time: name each by what
    # it records instead.
    for entry in table("ledger"):
        text = text.replace(entry["entry_id"], f"<{entry['source_key']}>")
    for challenge_id, title in challenges.items():
        text = text.replace(challenge_id, f"<{title}>")
    renamed: dict[str, list[str]] = json.loads(text)
    return {name: sorted(rows) for name, rows in renamed.items()}


def quarantine_text(entry: dict[str, Any]) -> str:
    """A quarantine entry as admins read it (its TTL, an epoch number, is not shown)."""
    shown = {k: v for k, v in entry.items() if k != "expires"}
    return json.dumps(shown, default=str, ensure_ascii=False)


def decoded_payloads(bodies: list[str]) -> list[str]:
    """Dead-letter bodies with their device payloads decoded, so the scan reads what the
    device wrote."""
    out = []
    for body in bodies:
        out.append(body)
        with contextlib.suppress(ValueError, KeyError, TypeError):
            out.append(base64.b64decode(json.loads(body)["payload"]).decode("utf-8", "replace"))
    return out


def recomputed_boards(day: date) -> dict[str, Any]:
    """The day's board and district totals recomputed from the stored step days."""
    days = [d for d in table("step-days") if d["day"] == day.isoformat()]
    by_district: Counter[str] = Counter()
    for d in days:
        by_district[d["district"]] += int(d["steps"])
    return {
        "steps": sorted((int(d["steps"]) for d in days), reverse=True),
        "me": {d["citizen_id"]: int(d["steps"]) for d in days},
        "districts": dict(by_district),
    }
