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
        # citizens, their phone numbers and deposit codes
        m.Citizen,
        m.PhoneLink,
        m.PhoneVerification,
        m.Notification,
        m.PushToken,  # phones registered for push (DESIGN §4c)
        m.DepositCode,
        m.RateWindow,
        m.LedgerEntry,
        # a posting's guard (a challenge's prize on joining or at the draw, a settlement)
        m.ProcessedEvent,
        # walking and challenges
        m.StepDay,
        m.BoardEntry,
        m.BoardCount,
        m.Challenge,
        m.ChallengeEntry,
        # shelters and robots
        m.DeviceState,
        m.AirHour,
        # payouts and the ledger audit
        m.PayoutAccount,
        m.PayoutRun,
        m.PayoutItem,
        m.PayoutSkip,  # the citizens a run skipped (listed for support)
        m.LedgerAudit,
        # finance's recycling reports (the citizens' month rows)
        m.CitizenMonth,
        # operators: the quarantine and the city's stats
        m.QuarantinedMessage,
        m.CityTotal,
        # an operator's reprocess sends a quarantined deposit through its handler again
        # (the robot registry, the citizen's day count; the rest are the deposit's above)
        m.Device,
        m.CitizenDay,
        # every staff write's entry (appended only: APPEND_ONLY below)
        m.StaffAction,
        # citizen support: corrections proposed and approved (each a ledger posting)
        m.Correction,
        # operators' alerts (a clear by hand closes the device's episode: DeviceState)
        m.Alert,
        # the live services' KPIs (public), and the registry's "which services have figures"
        m.KpiValue,
        # the project registry (public reads, admin writes logged above)
        m.Project,
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
    "handle_device_reports": (
        m.DeviceState,
        m.AirHour,
        m.Device,
        m.QuarantinedMessage,
        m.Alert,  # raised, escalated and cleared in the episode's transaction
    ),
    "handle_payout_chunks": (
        m.PayoutRun,
        m.JobChunk,
        m.Citizen,
        m.PayoutAccount,
        m.PayoutItem,
        m.PayoutSkip,
        m.ProcessedEvent,
        m.LedgerEntry,
        m.PhoneLink,
    ),
    # the audit reconciles the ledger with the balances, the runs and the city's stats
    "handle_audit_chunks": (
        m.LedgerAudit,
        m.JobChunk,
        m.Citizen,
        m.LedgerEntry,
        m.PayoutRun,
        m.CityTotal,
    ),
    # the ledger's stream: the city's stats, and each citizen's month for the report
    # (and the districts of the citizens who recycled, read for their month rows)
    # (and the inbox: prizes and corrections posted, chalicelib.events.notifications)
    "handle_ledger_changes": (
        m.ProcessedEvent,
        m.CityTotal,
        m.CitizenMonth,
        m.Citizen,
        m.Notification,
    ),
    # the step days' stream: leaderboards, with their city stats rows in the same transaction
    "handle_step_boards": (m.BoardEntry, m.BoardCount, m.CityTotal),
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
    # the inbox: each cause's notification (with its unread counter; on condition the
    # citizen's account is not closed), then push
    "handle_payout_notices": (m.Notification, m.Citizen),
    "handle_skip_notices": (m.Notification, m.Citizen),
    "handle_finish_notices": (m.Notification, m.Challenge, m.Citizen),
    "handle_pushes": (m.PushToken,),
    # the presence and the outbox, offline alerts, and an expired purifier override ended
    # with its action's entry
    "device_health": (m.DeviceState, m.Alert, m.StaffAction),
    "monthly_payout_run": (m.PayoutRun, m.StaffAction),
    "daily_ledger_audit": (m.LedgerAudit,),
    "monthly_recycling_report": (m.CitizenMonth,),
    # the live services' KPIs: computed from the stats' rows, the step boards' count trees,
    # the fleet's states and the shelters' air hours, kept in their own table
    "kpi_refresh": (m.KpiValue, m.CityTotal, m.BoardCount, m.DeviceState, m.AirHour),
}

SCANS_BY_FUNCTION: dict[str, tuple[type[Model], ...]] = {
    # The ledger audit must read every citizen (and every run): a background job, in pages,
    # the one function allowed to Scan, and only these tables.
    "handle_audit_chunks": (m.Citizen, m.PayoutRun),
}

SHADOW_WRITERS: tuple[str, ...] = ("handle_device_reports", "device_health", "api_handler")
"""The functions that set a shelter's shadow (the purifier's desired mode; the API for an
operator's override): granted iot:UpdateThingShadow, no other function is."""

APPEND_ONLY: tuple[type[Model], ...] = (m.StaffAction,)
"""Tables no function may change or delete an item of (the staff action log, DESIGN §4b):
granted reads and PutItem only; a repeat of an entry's id is refused by its condition."""
