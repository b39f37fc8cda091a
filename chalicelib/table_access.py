"""Which tables each Lambda function of the app touches: the one source for its IAM grants.

The CDK app grants a function exactly these tables (and refuses to synthesize a function
missing here); a functional test records the tables each function really touches on moto
and checks they are declared, so a grant cannot silently fall behind the code.
Keys are Chalice's function names: `api_handler` for every route, else the handler's name.
"""

from __future__ import annotations

from pynamodb.models import Model

from chalicelib.adapters import dynamodb_models as m

TABLES_BY_FUNCTION: dict[str, tuple[type[Model], ...]] = {
    "api_handler": (
        m.Citizen,
        m.PhoneLink,
        m.DepositCode,
        m.RateWindow,
        m.LedgerEntry,
        m.QuarantinedMessage,
        m.CityTotal,
        m.StepDay,
        m.BoardEntry,
        m.BoardCount,
        # Challenges (a prize posted on joining or at the draw writes its guard).
        m.Challenge,
        m.ChallengeEntry,
        m.ProcessedEvent,
        m.DeviceState,  # shelters and robots
        m.AirHour,
    ),
    "handle_deposits": (
        m.ProcessedEvent,
        m.DepositCode,
        m.PhoneLink,
        m.Citizen,
        m.CitizenDay,
        m.LedgerEntry,
        m.Device,
        m.QuarantinedMessage,
        m.DeviceState,  # is the robot accepting (read); deposits taken while it was not
    ),
    "handle_rule_errors": (m.QuarantinedMessage,),
    "handle_ledger_changes": (m.ProcessedEvent, m.CityTotal),
    # Walking: step leaderboards.
    "handle_step_boards": (m.BoardEntry, m.BoardCount),
    # Challenges.
    "handle_step_challenges": (
        m.ChallengeEntry,
        m.Challenge,
        m.ProcessedEvent,
        m.LedgerEntry,
        m.Citizen,
        m.PhoneLink,
    ),
    "handle_ledger_challenges": (
        m.ChallengeEntry,
        m.Challenge,
        m.ProcessedEvent,
        m.LedgerEntry,
        m.Citizen,
        m.PhoneLink,
    ),
    # shelters and robots
    "handle_device_reports": (m.DeviceState, m.AirHour, m.Device, m.QuarantinedMessage),
    "device_health": (m.DeviceState,),
}

# Shelters and robots: the functions that set a shelter's shadow (the purifier's desired
# mode): granted iot:UpdateThingShadow, no other function is.
SHADOW_WRITERS: tuple[str, ...] = ("handle_device_reports", "device_health")
# Payouts and ledger audits (issue 10).
TABLES_BY_FUNCTION["api_handler"] += (
    m.PayoutAccount,
    m.PayoutRun,
    m.PayoutItem,
    m.PayoutRunAction,
    m.LedgerAudit,
    m.ProcessedEvent,
)
TABLES_BY_FUNCTION.update(
    {
        "handle_payout_chunks": (
            m.PayoutRun,
            m.JobChunk,
            m.Citizen,
            m.PayoutAccount,
            m.PayoutItem,
            m.ProcessedEvent,
            m.LedgerEntry,
            m.PhoneLink,
        ),
        "handle_audit_chunks": (m.LedgerAudit, m.JobChunk, m.Citizen, m.LedgerEntry, m.PayoutRun),
        "monthly_payout_run": (m.PayoutRun, m.PayoutRunAction),
        "daily_ledger_audit": (m.LedgerAudit,),
    }
)

SCANS_BY_FUNCTION: dict[str, tuple[type[Model], ...]] = {
    # The ledger audit must read every citizen (and every run): a background job, in pages,
    # the one function allowed to Scan, and only these tables.
    "handle_audit_chunks": (m.Citizen, m.PayoutRun),
}
# Stats and reports: the ledger's stream keeps each citizen's month for the recycling report;
# the step boards' transaction and a settlement's keep their own city stats rows; the audit
# reads the stats; the monthly report reads the months.
TABLES_BY_FUNCTION["handle_ledger_changes"] += (m.CitizenMonth,)
TABLES_BY_FUNCTION["handle_step_boards"] += (m.CityTotal,)
TABLES_BY_FUNCTION["handle_audit_chunks"] += (m.CityTotal,)
TABLES_BY_FUNCTION["monthly_recycling_report"] = (m.CitizenMonth,)
# Phone numbers proven by SMS code (issue 20): verifications, and the former holder's notice.
TABLES_BY_FUNCTION["api_handler"] += (m.PhoneVerification, m.Notification)
