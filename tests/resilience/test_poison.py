"""1 % poison in the deposits queue (garbage bytes, JSON nested past the limit, wrong types,
a number where a document belongs, an envelope that is not one): every poison message is
quarantined with its reason and answered when its robot is known, no batch reports a
failure, and every good deposit in the same batches is credited."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from chalicelib import queues
from infra.local.dev_issuer import DevIssuer
from tests.functional.conftest import deposit, rule_message
from tests.resilience import leaks
from tests.resilience.conftest import REPORT
from tests.resilience.harness import CapturedLogs, fresh_stack
from tests.resilience.scenario import POISON, citizens, decoded_payloads, quarantine_text, table

GOOD = 594
# Poison the envelope itself, not only the device's payload: the rule's delivery mangled.
BROKEN_ENVELOPES: tuple[tuple[str, str], ...] = (
    ("\x00\x01 not json at all", "invalid_envelope"),
    (json.dumps({"payload": "%%%not base64%%%", "device_id": "robot-001"}), "invalid_envelope"),
    (json.dumps({"payload": 12, "device_id": ["robot-001"]}), "invalid_envelope"),
    ("[" * 3000 + "]" * 3000, "invalid_envelope"),
)


def test_poison_is_quarantined_and_the_rest_of_each_batch_is_credited(
    issuer: DevIssuer, logs: CapturedLogs
) -> None:
    people = citizens(9)
    rng = random.Random(9)
    with fresh_stack(issuer) as stack:
        for p in people:
            body = {"display_name": p.citizen_id, "district": p.district}
            assert stack.call("PUT", "/v1/me", as_user=p.citizen_id, body=body).status == 200
            stack.link_phone(p.citizen_id, p.phone)
        # GIVEN 594 good deposits and 6 poison messages (1 %), each poison in its own batch
        bodies: list[str] = []
        expected: Counter[str] = Counter()
        for n in range(GOOD):
            # spread over 6 days and 9 citizens: no one reaches the daily item limit
            who = people[n % 9]
            can, pet = rng.randint(0, 1), 1
            when = datetime.now(UTC) - timedelta(days=n % 6)
            payload = deposit(
                f"evt-good-{n:05d}", phone=who.phone_digits, can=can, pet=pet, occurred_at=when
            )
            bodies.append(json.dumps(rule_message("robot-001", payload)))
            expected[who.citizen_id] += 15 * can + 10 * pet
        poison = [(json.dumps(rule_message("robot-002", raw)), why) for raw, why in POISON]
        poison += list(BROKEN_ENVELOPES[: 6 - len(poison)])
        for i, (body, _) in enumerate(poison):
            bodies.insert(i * 100 + rng.randint(0, 9), body)
        # WHEN they go through the queue in batches of 10
        stack.send_deposits(bodies)
        stack.drain_deposits()
        # THEN no batch failed, and every good deposit was credited
        assert not stack.tally.function_errors and not stack.tally.partial_failures
        balances = {c["citizen_id"]: int(c["balance"]) for c in table("citizens")}
        assert balances == dict(expected)
        assert len(table("ledger")) == GOOD
        # AND each poison message is in quarantine with its reason, none in a dead-letter queue
        reasons = Counter(q["reason"] for q in table("quarantine"))
        assert reasons == Counter(why for _, why in poison)
        assert not stack.dead_letters(queues.DEPOSITS.dlq_name)
        quarantined = [quarantine_text(q) for q in table("quarantine")]
        dead = decoded_payloads(stack.dead_letters(queues.DEPOSITS.dlq_name))
    REPORT["poison: messages sent"] += len(poison)
    for why, n in Counter(why for _, why in poison).items():
        REPORT[f"poison: quarantined as {why}"] += n
    REPORT["poison: good deposits credited beside them"] += GOOD
    known = [p.phone_digits for p in people]
    assert not leaks.leaks("log lines", logs.lines, known)
    assert not leaks.leaks("quarantine entries", quarantined, known)
    assert not leaks.leaks("dead-letter bodies", dead, known)
