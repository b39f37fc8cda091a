"""The composition root: services built once per Lambda container, lazily, from the
container's `Settings` (chalicelib.config) and adapters; and its Powertools logger and metrics.

Every adapter and service gets its configuration here, at construction: none reads the
environment itself. Imports happen inside the factories: every function of the app imports
app.py, and each should pay at cold start only for the services it uses.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics

from chalicelib import config

if TYPE_CHECKING:
    from chalicelib.adapters.dynamodb_kpis import DynamoDbKpis
    from chalicelib.adapters.dynamodb_ledger import DynamoDbLedger
    from chalicelib.adapters.dynamodb_quarantine import DynamoDbQuarantine
    from chalicelib.adapters.dynamodb_staff_actions import DynamoDbStaffActions
    from chalicelib.adapters.dynamodb_totals import DynamoDbCityTotals
    from chalicelib.domain.clock import Clock
    from chalicelib.domain.ledger import LedgerEntry
    from chalicelib.domain.operations import Replayed
    from chalicelib.domain.steps import StepDay
    from chalicelib.services.alerts import AlertService
    from chalicelib.services.boards import BoardService
    from chalicelib.services.challenges import ChallengeService
    from chalicelib.services.citizens import CitizenService
    from chalicelib.services.closing import ClosingService
    from chalicelib.services.corrections import CorrectionService
    from chalicelib.services.fleet import FleetService
    from chalicelib.services.kpis import KpiService
    from chalicelib.services.ledger_audit import LedgerAuditService
    from chalicelib.services.notifications import NotificationService
    from chalicelib.services.operations import OperationsService
    from chalicelib.services.operator_actions import OperatorActions
    from chalicelib.services.payout_accounts import PayoutAccountService
    from chalicelib.services.payout_runs import PayoutRunService
    from chalicelib.services.phones import PhoneService
    from chalicelib.services.projects import ProjectService
    from chalicelib.services.purifier import PurifierService
    from chalicelib.services.recycling import RecyclingService
    from chalicelib.services.reports import ReportService
    from chalicelib.services.steps import StepService
    from chalicelib.services.support import SupportService

# -- The container: logs, metrics and its clock -------------------------------------------

SERVICE = "gimhae-smart-city"
logger = Logger(service=SERVICE)
# CloudWatch metrics as embedded metric format in the logs; no API calls, no cold-start cost.
METRICS_NAMESPACE = "GimhaeSmartCity"
"""Every count below lands here with the one dimension `service` (infra/cdk/dashboard.py)."""
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)


_metrics_lock = threading.Lock()


def count(name: str, value: float = 1) -> None:
    """Add to a Count metric. Locked: the local stack runs handlers on several threads."""
    from aws_lambda_powertools.metrics import MetricUnit

    with _metrics_lock:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def rejected_metric(reason: str) -> str:
    """The count of deposits rejected for `reason` (one of domain.recycling.RejectReason):
    the operators' dashboard graphs one line per reason."""
    return f"DepositsRejected.{reason}"


def alert_metric(kind: str) -> str:
    """The count of alerts opened of `kind` (domain.alerts.AlertKind), for the dashboard."""
    return f"AlertsOpened.{kind}"


STEP_SYNCS = "StepSyncs"
"""A citizen's app synced their steps (PUT /v1/me/steps)."""


def publish_metrics() -> None:
    """Flush this invocation's metrics. Powertools keeps them when metrics are disabled
    (POWERTOOLS_METRICS_DISABLED), which would grow a warm container's memory: clear anyway."""
    with _metrics_lock:
        if metrics.metric_set:
            metrics.flush_metrics()
        metrics.clear_metrics()


def clock() -> Clock:
    """The container's clock: what routes read for "now" and "today", as services read the
    one they are given. A test sets time for routes by replacing this function."""
    from chalicelib.domain.clock import utc_now

    return utc_now


# -- The ledger and the quarantine, shared by the capabilities ----------------------------


@lru_cache(maxsize=1)
def ledger() -> DynamoDbLedger:
    from chalicelib.adapters.dynamodb_ledger import DynamoDbLedger

    return DynamoDbLedger(config.settings().payout_threshold)


def ledger_entry_from_image(image: dict[str, Any]) -> LedgerEntry:
    """A ledger entry from its stream record's image (DynamoDB's attribute-value format)."""
    from chalicelib.adapters.dynamodb_ledger import entry_from_image

    return entry_from_image(image)


@lru_cache(maxsize=1)
def quarantine() -> DynamoDbQuarantine:
    from chalicelib.adapters.dynamodb_quarantine import DynamoDbQuarantine
    from chalicelib.adapters.kms_secrets import KmsSecrets
    from chalicelib.domain.clock import utc_now

    key = config.settings().payout_kms_key_id
    return DynamoDbQuarantine(utc_now, KmsSecrets(key) if key else None)


# -- Citizens and their phone numbers -----------------------------------------------------


@lru_cache(maxsize=1)
def citizens() -> CitizenService:
    from chalicelib.adapters import aws_clients
    from chalicelib.adapters.dynamodb_citizens import DynamoDbCitizens
    from chalicelib.adapters.dynamodb_rate_limits import DynamoDbRateLimiter
    from chalicelib.domain.clock import utc_now
    from chalicelib.services.citizens import CitizenService

    return CitizenService(
        DynamoDbCitizens(),
        config.settings(),
        utc_now,
        aws_clients.phone_hash_key,
        DynamoDbRateLimiter(),
        ledger(),
        boards(),
    )


@lru_cache(maxsize=1)
def phones() -> PhoneService:
    from chalicelib.adapters import aws_clients
    from chalicelib.adapters.dynamodb_citizens import DynamoDbCitizens
    from chalicelib.adapters.dynamodb_phones import DynamoDbPhones
    from chalicelib.adapters.dynamodb_rate_limits import DynamoDbRateLimiter
    from chalicelib.adapters.sns_sms import SnsSms
    from chalicelib.domain.clock import utc_now
    from chalicelib.services.phones import PhoneService

    return PhoneService(
        DynamoDbPhones(),
        DynamoDbCitizens(),
        SnsSms(),
        DynamoDbRateLimiter(),
        config.settings().proof_rules(),
        utc_now,
        aws_clients.phone_hash_key,
    )


# -- Recycling ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def recycling() -> RecyclingService:
    from chalicelib.adapters import aws_clients
    from chalicelib.adapters.iot_acks import IotAckPublisher
    from chalicelib.domain.clock import utc_now
    from chalicelib.services.recycling import RecyclingService

    settings = config.settings()
    return RecyclingService(
        ledger=ledger(),
        acks=IotAckPublisher(settings.city),
        quarantine=quarantine(),
        settings=settings,
        clock=utc_now,
        phone_key=aws_clients.phone_hash_key,
    )


def replay_deposit(body: str) -> Replayed:
    """A quarantined deposits-queue message through the deposit handler again (an
    operator's reprocess): the same intake and service, so the envelope's `received_at`
    (IoT Core's receipt) still judges the deposit's age and its event id's guard still
    credits it once. A refusal comes back instead of a second quarantine entry, and the
    robot is not acked again (it was answered when it sent the deposit)."""
    from chalicelib.adapters import aws_clients
    from chalicelib.domain.clock import utc_now
    from chalicelib.events import intake
    from chalicelib.services.recycling import NoAcks, RecyclingService, Refusals

    refusals = Refusals()
    service = RecyclingService(
        ledger=ledger(),
        acks=NoAcks(),
        quarantine=refusals,
        settings=config.settings(),
        clock=utc_now,
        phone_key=aws_clients.phone_hash_key,
    )
    replayed = refusals.replayed(service.receive(intake.deposit(body, service.now())))
    count(f"DepositsReprocessed{replayed.result.capitalize()}")
    return replayed


# -- Walking: steps and leaderboards ------------------------------------------------------


@lru_cache(maxsize=1)
def steps() -> StepService:
    from chalicelib.adapters.dynamodb_steps import DynamoDbSteps
    from chalicelib.domain.clock import utc_now
    from chalicelib.services.steps import StepService

    return StepService(DynamoDbSteps(), config.settings(), utc_now)


@lru_cache(maxsize=1)
def boards() -> BoardService:
    import time

    from chalicelib.adapters.dynamodb_boards import DynamoDbBoards
    from chalicelib.domain.districts import districts
    from chalicelib.services.boards import BoardService

    return BoardService(
        DynamoDbBoards(),
        lambda: {code: d.name for code, d in districts().items()},
        time.sleep,
    )


def step_day_from_image(image: dict[str, Any]) -> StepDay:
    """A step day from its stream record's image (DynamoDB's attribute-value format)."""
    from chalicelib.adapters.dynamodb_steps import step_day_from_image as from_image

    return from_image(image)


# -- Challenges ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def challenges() -> ChallengeService:
    from chalicelib.adapters import aws_clients
    from chalicelib.adapters.dynamodb_challenges import DynamoDbChallenges
    from chalicelib.adapters.dynamodb_citizens import DynamoDbCitizens
    from chalicelib.domain.clock import utc_now
    from chalicelib.domain.districts import districts
    from chalicelib.services.challenges import ChallengeService

    return ChallengeService(
        DynamoDbChallenges(),
        DynamoDbCitizens(),
        ledger(),
        utc_now,
        set(districts()),
        late_sync_days=config.settings().step_sync_days_back,
        pseudonym_key=aws_clients.draw_pseudonym_key,
    )


# -- Shelters and robots ------------------------------------------------------------------


@lru_cache(maxsize=1)
def fleet() -> FleetService:
    from datetime import timedelta

    from chalicelib.adapters.dynamodb_fleet import DynamoDbFleet
    from chalicelib.adapters.emf_gauges import put_gauge
    from chalicelib.adapters.iot_shadows import IotShadows
    from chalicelib.adapters.sns_alerts import SnsAlerts
    from chalicelib.domain.clock import utc_now
    from chalicelib.services.fleet import FleetService

    settings = config.settings()

    def gauge(name: str, value: float) -> None:
        put_gauge(name, value, settings.stage)

    return FleetService(
        DynamoDbFleet(settings.city),
        SnsAlerts(settings.alerts_topic_arn),
        IotShadows(),
        quarantine(),
        utc_now,
        gauge,
        timedelta(seconds=settings.device_silent_seconds),
        timedelta(seconds=settings.air_clear_seconds),
    )


@lru_cache(maxsize=1)
def purifier() -> PurifierService:
    """Operators' purifier overrides: the fleet's store and shadows, on the fleet's clock (the
    air rule and the override judge "in force" at the same now)."""
    from chalicelib.adapters.dynamodb_fleet import DynamoDbFleet
    from chalicelib.adapters.iot_shadows import IotShadows
    from chalicelib.services.purifier import PurifierService

    return PurifierService(DynamoDbFleet(config.settings().city), IotShadows(), fleet().now)


@lru_cache(maxsize=1)
def alerts() -> AlertService:
    from chalicelib.adapters.dynamodb_alerts import AlertConflict, DynamoDbAlerts
    from chalicelib.domain.clock import utc_now
    from chalicelib.services.alerts import AlertService

    return AlertService(DynamoDbAlerts(config.settings().city), utc_now, AlertConflict)


# -- Payouts: accounts, runs and the ledger audit -----------------------------------------


@lru_cache(maxsize=1)
def payout_accounts() -> PayoutAccountService:
    from chalicelib.adapters.dynamodb_payout_accounts import DynamoDbPayoutAccounts
    from chalicelib.adapters.kms_secrets import KmsSecrets
    from chalicelib.domain.clock import utc_now
    from chalicelib.services.payout_accounts import PayoutAccountService

    return PayoutAccountService(
        DynamoDbPayoutAccounts(), KmsSecrets(config.settings().payout_kms_key_id), utc_now
    )


@lru_cache(maxsize=1)
def payout_runs() -> PayoutRunService:
    from chalicelib.adapters.dynamodb_chunk_jobs import DynamoDbChunkJobs
    from chalicelib.adapters.dynamodb_payout_runs import DynamoDbPayoutRuns
    from chalicelib.adapters.kms_secrets import KmsSecrets
    from chalicelib.adapters.s3_exports import S3Exports
    from chalicelib.adapters.sqs_chunks import SqsChunkQueue
    from chalicelib.domain.clock import utc_now
    from chalicelib.services.payout_runs import PayoutRunService

    settings = config.settings()
    return PayoutRunService(
        DynamoDbPayoutRuns(),
        DynamoDbChunkJobs(),
        ledger(),
        SqsChunkQueue(),
        KmsSecrets(settings.payout_kms_key_id),
        S3Exports(),
        settings,
        utc_now,
    )


@lru_cache(maxsize=1)
def ledger_audit() -> LedgerAuditService:
    from chalicelib.adapters.dynamodb_chunk_jobs import DynamoDbChunkJobs
    from chalicelib.adapters.dynamodb_ledger_audit import DynamoDbLedgerAudit
    from chalicelib.adapters.dynamodb_payout_runs import DynamoDbPayoutRuns
    from chalicelib.adapters.sqs_chunks import SqsChunkQueue
    from chalicelib.domain.clock import utc_now
    from chalicelib.services.ledger_audit import LedgerAuditService

    return LedgerAuditService(
        DynamoDbLedgerAudit(),
        DynamoDbChunkJobs(),
        DynamoDbPayoutRuns(),
        SqsChunkQueue(),
        utc_now,
        stats=city_stats(),
    )


# -- City stats and monthly reports -------------------------------------------------------


@lru_cache(maxsize=1)
def city_stats() -> DynamoDbCityTotals:
    """The city's stats counters, read by the audit that reconciles them."""
    from chalicelib.adapters.dynamodb_totals import DynamoDbCityTotals
    from chalicelib.domain.clock import utc_now

    return DynamoDbCityTotals(utc_now)


@lru_cache(maxsize=1)
def reports() -> ReportService:
    from chalicelib.adapters.dynamodb_totals import DynamoDbMonthCounters
    from chalicelib.adapters.s3_exports import S3Exports
    from chalicelib.services.reports import ReportService

    return ReportService(
        DynamoDbMonthCounters(), S3Exports(), config.settings().points_per_item.keys()
    )


# -- Operators: quarantine, dead letters, the city's totals -------------------------------


@lru_cache(maxsize=1)
def operations() -> OperationsService:
    from chalicelib.adapters.dynamodb_totals import DynamoDbCityTotals
    from chalicelib.adapters.sqs_dead_letters import SqsDeadLetters
    from chalicelib.domain.clock import utc_now
    from chalicelib.services.operations import OperationsService

    return OperationsService(quarantine(), SqsDeadLetters(), DynamoDbCityTotals(utc_now))


@lru_cache(maxsize=1)
def operator_actions() -> OperatorActions:
    from chalicelib.adapters.sqs_dead_letters import SqsDeadLetters
    from chalicelib.domain.clock import utc_now
    from chalicelib.services.operator_actions import OperatorActions

    return OperatorActions(
        quarantine(), {"deposits": replay_deposit}, SqsDeadLetters(), staff_actions(), utc_now
    )


@lru_cache(maxsize=1)
def staff_actions() -> DynamoDbStaffActions:
    from chalicelib.adapters.dynamodb_staff_actions import DynamoDbStaffActions

    return DynamoDbStaffActions()


# -- Citizen support: look-ups and corrections --------------------------------------------


@lru_cache(maxsize=1)
def support() -> SupportService:
    from chalicelib.adapters import aws_clients
    from chalicelib.adapters.dynamodb_citizen_cards import DynamoDbCitizenCards
    from chalicelib.services.support import SupportService

    return SupportService(DynamoDbCitizenCards(), ledger(), aws_clients.phone_hash_key)


@lru_cache(maxsize=1)
def corrections() -> CorrectionService:
    from chalicelib.adapters.dynamodb_citizens import DynamoDbCitizens
    from chalicelib.adapters.dynamodb_corrections import DynamoDbCorrections
    from chalicelib.domain.clock import utc_now
    from chalicelib.services.corrections import CorrectionService

    return CorrectionService(DynamoDbCorrections(), DynamoDbCitizens(), ledger(), utc_now)


# -- Closing accounts and a citizen's payouts (docs/account-closing.md) --------------------


@lru_cache(maxsize=1)
def closing() -> ClosingService:
    from chalicelib.adapters.dynamodb_boards import DynamoDbBoards
    from chalicelib.adapters.dynamodb_closing import DynamoDbClosing
    from chalicelib.domain.clock import utc_now
    from chalicelib.services.closing import ClosingService

    return ClosingService(DynamoDbClosing(), ledger(), DynamoDbBoards(), notifications(), utc_now)


# -- The project registry (DESIGN §4d) ----------------------------------------------------


@lru_cache(maxsize=1)
def projects() -> ProjectService:
    from chalicelib.adapters.dynamodb_projects import DynamoDbProjects
    from chalicelib.domain.clock import utc_now
    from chalicelib.domain.districts import districts
    from chalicelib.services.projects import ProjectService

    city = config.settings().city
    return ProjectService(DynamoDbProjects(city), service_figures(), districts(), utc_now)


def account_is_closed(citizen_id: str) -> bool:
    """The check every citizen route makes (chalicelib.api.http.principal): the tombstone
    mark's one GetItem, without building the closing service (its ledger, boards and inbox)
    on a container's first request."""
    from chalicelib.adapters.dynamodb_closing import DynamoDbClosing

    return DynamoDbClosing().is_closed(citizen_id)


# -- A fresh container --------------------------------------------------------------------


# -- The live services' KPIs (DESIGN §4d) --------------------------------------------------


@lru_cache(maxsize=1)
def kpis() -> KpiService:
    from datetime import timedelta

    from chalicelib.adapters.dynamodb_kpis import DynamoDbKpis, DynamoDbKpiSources
    from chalicelib.domain.clock import utc_now
    from chalicelib.domain.kpis import co2_factors
    from chalicelib.services.kpis import KpiService

    settings = config.settings()
    silent = timedelta(seconds=settings.device_silent_seconds)
    return KpiService(
        DynamoDbKpiSources(settings.city, silent, utc_now),
        DynamoDbKpis(utc_now),
        co2_factors(),
        utc_now,
    )


def service_figures() -> DynamoDbKpis:
    """Which live services have figures (the registry's port `ServiceFigures`)."""
    from chalicelib.adapters.dynamodb_kpis import DynamoDbKpis
    from chalicelib.domain.clock import utc_now

    return DynamoDbKpis(utc_now)


# -- The inbox and push (DESIGN §4c) --------------------------------------------------------


@lru_cache(maxsize=1)
def notifications() -> NotificationService:
    from chalicelib.adapters.dynamodb_notifications import DynamoDbInbox, DynamoDbPushTokens
    from chalicelib.adapters.sns_push import SnsPush
    from chalicelib.domain.clock import utc_now
    from chalicelib.services.notifications import NotificationService

    s = config.settings()
    applications = {"fcm": s.push_fcm_application_arn, "apns": s.push_apns_application_arn}
    return NotificationService(
        DynamoDbInbox(), DynamoDbPushTokens(), SnsPush(), applications, utc_now
    )


def erase_push_tokens(citizen_id: str) -> int:
    """Forget every phone of the citizen and delete its SNS endpoints (closing an account);
    answers how many tokens were removed."""
    return notifications().erase_push_tokens(citizen_id)


def clear() -> None:
    """Forget everything this container built (settings, clients, services), as a fresh
    container would: for tests, benchmarks and the local stack, which switch environments."""
    from chalicelib import tokens
    from chalicelib.adapters import aws_clients, sqs_chunks, sqs_dead_letters

    for cached in (
        config.settings,
        tokens.verifier,
        aws_clients._session,
        aws_clients.client,
        aws_clients.iot_data,
        aws_clients.phone_hash_key,
        sqs_dead_letters._url,
        ledger,
        quarantine,
        recycling,
        citizens,
        operations,
        challenges,
        steps,
        boards,
        fleet,
        purifier,
        alerts,
        payout_accounts,
        payout_runs,
        ledger_audit,
        sqs_chunks._url,
        city_stats,
        reports,
        phones,
        staff_actions,
        support,
        corrections,
        operator_actions,
        sqs_dead_letters._arn,
        kpis,
        closing,
        notifications,
        projects,
    ):
        cached.cache_clear()
    logger.setLevel(None)  # Powertools reads its level again (POWERTOOLS_LOG_LEVEL)
