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
