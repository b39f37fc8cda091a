"""One botocore session and one DynamoDB client per container: the app's own reads and every
PynamoDB model and transaction share it, so a cold start loads the service model once."""

from __future__ import annotations

from collections import Counter
from typing import Any

import botocore.session

from tests.functional.conftest import (
    Api,
    deposit,
    invoke_deposits,
    register,
    rule_message,
    sqs_record,
)


def test_a_container_builds_one_dynamodb_client(api: Api, monkeypatch: Any) -> None:
    created: Counter[str] = Counter()
    sessions: list[object] = []
    original = botocore.session.Session.create_client

    def counting(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        created[service_name] += 1
        if self not in sessions:
            sessions.append(self)
        return original(self, service_name, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", counting)
    from chalicelib import wiring

    wiring.clear()  # a fresh container
    # GIVEN a container's first work: a profile, a code, deposits, the ledger, the stats
    register(api, "one", phone="010-4040-5050")
    code = api.call("POST", "/v1/me/deposit-codes", as_user="one").body["code"]
    records = [
        sqs_record(rule_message("robot-001", deposit("evt-one-0001", code, can=1)), "m1"),
        sqs_record(rule_message("robot-002", deposit("evt-one-0002", phone="01040405050")), "m2"),
    ]
    invoke_deposits(records)
    api.call("GET", "/v1/me/ledger", as_user="one")
    api.call("GET", "/v1/admin/stats", as_user="ops", admin=True)
    # THEN one DynamoDB client was built, from one session
    assert created["dynamodb"] == 1
    assert len(sessions) == 1
