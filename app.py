"""Gimhae Smart City backend: the Chalice app. Wiring only: routes and handlers live in
chalicelib/api, the domain in chalicelib/domain and chalicelib/services."""

from __future__ import annotations

import gc
from typing import Any

from chalice import Chalice, Rate

from chalicelib import config, queues, streams
from chalicelib.api import (
    admin,
    alerts,
    audit,
    authorizer,
    banks,
    challenges,
    docs,
    fleet,
    http,
    leaderboards,
    me,
    notifications,
    observability,
    operator_actions,
    payout_accounts,
    payout_runs,
    projects,
    purifier,
    staff_actions,
    support,
)
from chalicelib.api import kpis as kpi_routes
from chalicelib.api import reports as report_routes
from chalicelib.events import boards, city_totals, device_messages, ledger_audit, reports
from chalicelib.events import challenges as challenge_streams
from chalicelib.events import kpis as kpi_events
from chalicelib.events import notifications as notification_streams
from chalicelib.events import payout_runs as payout_run_events

app = Chalice(app_name="gimhae-smart-city")
observability.install(app)
http.install(app)
app.register_blueprint(authorizer.bp)
app.register_blueprint(me.bp)
app.register_blueprint(admin.bp)
app.register_blueprint(leaderboards.bp)
app.register_blueprint(challenges.bp)
app.register_blueprint(fleet.bp)
app.register_blueprint(payout_accounts.bp)
app.register_blueprint(payout_runs.bp)
app.register_blueprint(audit.bp)
app.register_blueprint(docs.bp)
app.register_blueprint(purifier.bp)
app.register_blueprint(support.bp)
app.register_blueprint(operator_actions.bp)
app.register_blueprint(report_routes.bp)
app.register_blueprint(alerts.bp)
app.register_blueprint(banks.bp)
app.register_blueprint(staff_actions.bp)
app.register_blueprint(kpi_routes.bp)
app.register_blueprint(notifications.bp)
app.register_blueprint(projects.bp)
http.refuse_other_methods(app)  # after every blueprint: 405 + Allow on the rest

# Device messages: IoT topic rules -> SQS -> batch handlers (partial batch failures).


@app.on_sqs_message(queue=queues.DEPOSITS.name, batch_size=queues.DEPOSITS.batch_size)
def handle_deposits(event: Any) -> dict[str, Any]:
    return device_messages.process_deposits(event)


@app.on_sqs_message(queue=queues.DEVICE_ERRORS.name, batch_size=queues.DEVICE_ERRORS.batch_size)
def handle_rule_errors(event: Any) -> dict[str, Any]:
    return device_messages.process_rule_errors(event)


@app.on_sqs_message(queue=queues.DEVICE_REPORTS.name, batch_size=queues.DEVICE_REPORTS.batch_size)
def handle_device_reports(event: Any) -> dict[str, Any]:
    return device_messages.process_reports(event)


# Jobs the app fans out to itself: payout runs and ledger audits, one page per message.


@app.on_sqs_message(queue=queues.PAYOUT_CHUNKS.name, batch_size=queues.PAYOUT_CHUNKS.batch_size)
def handle_payout_chunks(event: Any) -> dict[str, Any]:
    return payout_run_events.process_payout_chunks(event)


@app.on_sqs_message(queue=queues.AUDIT_CHUNKS.name, batch_size=queues.AUDIT_CHUNKS.batch_size)
def handle_audit_chunks(event: Any) -> dict[str, Any]:
    return ledger_audit.process_audit_chunks(event)


# DynamoDB streams: each handler's table, retries and failure queue in chalicelib/streams.py.


@app.on_dynamodb_record(
    stream_arn=streams.LEDGER_CHANGES.stream_arn(),
    batch_size=streams.LEDGER_CHANGES.batch_size,
    starting_position=streams.LEDGER_CHANGES.starting_position,
)
def handle_ledger_changes(event: Any) -> dict[str, Any]:
    return city_totals.count_ledger_changes(event)


@app.on_dynamodb_record(
    stream_arn=streams.STEP_BOARDS.stream_arn(),
    batch_size=streams.STEP_BOARDS.batch_size,
    starting_position=streams.STEP_BOARDS.starting_position,
)
def handle_step_boards(event: Any) -> dict[str, Any]:
    return boards.apply_step_days(event)


@app.on_dynamodb_record(
    stream_arn=streams.STEP_CHALLENGES.stream_arn(),
    batch_size=streams.STEP_CHALLENGES.batch_size,
    starting_position=streams.STEP_CHALLENGES.starting_position,
)
def handle_step_challenges(event: Any) -> dict[str, Any]:
    return challenge_streams.step_challenges(event)


@app.on_dynamodb_record(
    stream_arn=streams.LEDGER_CHALLENGES.stream_arn(),
    batch_size=streams.LEDGER_CHALLENGES.batch_size,
    starting_position=streams.LEDGER_CHALLENGES.starting_position,
)
def handle_ledger_challenges(event: Any) -> dict[str, Any]:
    return challenge_streams.ledger_challenges(event)


# The inbox (chalicelib/events/notifications.py): causes to notifications, notifications to push.


@app.on_dynamodb_record(
    stream_arn=streams.PAYOUT_NOTICES.stream_arn(),
    batch_size=streams.PAYOUT_NOTICES.batch_size,
    starting_position=streams.PAYOUT_NOTICES.starting_position,
)
def handle_payout_notices(event: Any) -> dict[str, Any]:
    return notification_streams.payout_notices(event)


@app.on_dynamodb_record(
    stream_arn=streams.SKIP_NOTICES.stream_arn(),
    batch_size=streams.SKIP_NOTICES.batch_size,
    starting_position=streams.SKIP_NOTICES.starting_position,
)
def handle_skip_notices(event: Any) -> dict[str, Any]:
    return notification_streams.skip_notices(event)


@app.on_dynamodb_record(
    stream_arn=streams.FINISH_NOTICES.stream_arn(),
    batch_size=streams.FINISH_NOTICES.batch_size,
    starting_position=streams.FINISH_NOTICES.starting_position,
)
def handle_finish_notices(event: Any) -> dict[str, Any]:
    return notification_streams.finish_notices(event)


@app.on_dynamodb_record(
    stream_arn=streams.PUSHES.stream_arn(),
    batch_size=streams.PUSHES.batch_size,
    starting_position=streams.PUSHES.starting_position,
)
def handle_pushes(event: Any) -> dict[str, Any]:
    return notification_streams.pushes(event)


# Schedules.


@app.schedule(Rate(1, unit=Rate.MINUTES))
def device_health(event: Any) -> dict[str, Any]:
    return device_messages.check_device_health()


@app.schedule(config.PAYOUT_SCHEDULE_UTC, name="monthly_payout_run")
def monthly_payout_run(event: Any) -> dict[str, Any]:
    return payout_run_events.scheduled_payout_run(event)


@app.schedule(config.AUDIT_SCHEDULE_UTC, name="daily_ledger_audit")
def daily_ledger_audit(event: Any) -> dict[str, Any]:
    return ledger_audit.scheduled_audit(event)


@app.schedule(config.RECYCLING_REPORT_SCHEDULE_UTC, name="monthly_recycling_report")
def monthly_recycling_report(event: Any) -> dict[str, Any]:
    return reports.scheduled_recycling_report(event)


@app.schedule(config.KPI_SCHEDULE_UTC, name="kpi_refresh")
def kpi_refresh(event: Any) -> dict[str, Any]:
    return kpi_events.scheduled_kpis(event)


# What import built lives as long as the container: the cyclic collector need not walk it
# again on each full collection (the largest pause of a cold start's first invocation).
gc.freeze()
