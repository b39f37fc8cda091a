"""Gimhae Smart City backend: the Chalice app. Wiring only: routes and handlers live in
chalicelib/api, the domain in chalicelib/domain and chalicelib/services."""

from __future__ import annotations

import gc
from typing import Any

from chalice import Chalice

from chalicelib import config, queues, streams
from chalicelib.api import (
    admin,
    auth,
    device_events,
    http,
    me,
    observability,
    payouts,
    stream_events,
)

app = Chalice(app_name="gimhae-smart-city")
observability.install(app)
http.install(app)
app.register_blueprint(auth.bp)
app.register_blueprint(me.bp)
app.register_blueprint(admin.bp)


@app.on_sqs_message(queue=queues.DEPOSITS.name, batch_size=queues.DEPOSITS.batch_size)
def handle_deposits(event: Any) -> dict[str, Any]:
    return device_events.process(event, device_events.deposit_record_handler)


@app.on_sqs_message(queue=queues.DEVICE_ERRORS.name, batch_size=queues.DEVICE_ERRORS.batch_size)
def handle_rule_errors(event: Any) -> dict[str, Any]:
    return device_events.process(event, device_events.rule_error_record_handler)


@app.on_dynamodb_record(
    stream_arn=streams.LEDGER_CHANGES.stream_arn(),
    batch_size=streams.LEDGER_CHANGES.batch_size,
    starting_position=streams.LEDGER_CHANGES.starting_position,
)
def handle_ledger_changes(event: Any) -> dict[str, Any]:
    return stream_events.count_ledger_changes(event)


# Payouts and ledger audits (issue 10): routes, chunk queues, monthly run, daily audit.
app.register_blueprint(payouts.bp)


@app.on_sqs_message(queue=queues.PAYOUT_CHUNKS.name, batch_size=queues.PAYOUT_CHUNKS.batch_size)
def handle_payout_chunks(event: Any) -> dict[str, Any]:
    return payouts.process_payout_chunks(event)


@app.on_sqs_message(queue=queues.AUDIT_CHUNKS.name, batch_size=queues.AUDIT_CHUNKS.batch_size)
def handle_audit_chunks(event: Any) -> dict[str, Any]:
    return payouts.process_audit_chunks(event)


@app.schedule(config.PAYOUT_SCHEDULE_UTC, name="monthly_payout_run")
def monthly_payout_run(event: Any) -> dict[str, Any]:
    return payouts.scheduled_payout_run(event)


@app.schedule(config.AUDIT_SCHEDULE_UTC, name="daily_ledger_audit")
def daily_ledger_audit(event: Any) -> dict[str, Any]:
    return payouts.scheduled_audit(event)


# What import built lives as long as the container: the cyclic collector need not walk it
# again on each full collection (the largest pause of a cold start's first invocation).
gc.freeze()
