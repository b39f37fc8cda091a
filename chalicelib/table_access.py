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
    ),
    "handle_rule_errors": (m.QuarantinedMessage,),
    "handle_ledger_changes": (m.ProcessedEvent, m.CityTotal),
}

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
