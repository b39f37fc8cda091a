"""Staff roles and what each may do (DESIGN §4b): least privilege, one table.

A person holds one or more roles in the token's `cognito:groups`. `admin` holds every
power; each other role holds only the powers listed for it. A route names the one power
it needs; a caller without it gets a 403 `forbidden_role` naming the roles that would do.
Money actions also need a second person (maker != checker): `same_person`.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final

from chalicelib.errors import Forbidden

ADMIN: Final = "admin"
OPERATOR: Final = "operator"
FINANCE: Final = "finance"
SUPPORT: Final = "support"
ROLES: Final = (ADMIN, OPERATOR, FINANCE, SUPPORT)
"""Every staff role, as the Cognito groups are named (the CDK creates one group each)."""


class Power(StrEnum):
    """One thing staff may do; routes ask for exactly one."""

    DEVICES = "devices"  # fleet health, shelter and robot views for staff
    ALERTS = "alerts"  # read and act on alerts
    PURIFIER = "purifier"  # override a shelter's purifier
    QUARANTINE_READ = "quarantine_read"
    QUARANTINE_ACT = "quarantine_act"  # reprocess, discard
    DEAD_LETTERS = "dead_letters"  # read depths, redrive
    STATS = "stats"
    CHALLENGES = "challenges"  # create, draw
    PAYOUTS = "payouts"  # runs: start, list, approve, export, settle
    AUDIT = "audit"
    REPORTS = "reports"
    CITIZENS = "citizens"  # look-up, profile, ledger
    CORRECTIONS_READ = "corrections_read"
    CORRECTIONS_PROPOSE = "corrections_propose"
    CORRECTIONS_APPROVE = "corrections_approve"  # approve, reject
    ACTIONS = "actions"  # the action log
    PROJECTS = "projects"  # the project registry: register and replace projects


HOLDERS: Final[dict[Power, frozenset[str]]] = {
    Power.DEVICES: frozenset({OPERATOR}),
    Power.ALERTS: frozenset({OPERATOR}),
    Power.PURIFIER: frozenset({OPERATOR}),
    Power.QUARANTINE_READ: frozenset({OPERATOR, SUPPORT}),
    Power.QUARANTINE_ACT: frozenset({OPERATOR}),
    Power.DEAD_LETTERS: frozenset({OPERATOR}),
    Power.STATS: frozenset({OPERATOR, FINANCE}),
    Power.CHALLENGES: frozenset(),
    Power.PAYOUTS: frozenset({FINANCE}),
    Power.AUDIT: frozenset({FINANCE}),
    Power.REPORTS: frozenset({FINANCE}),
    Power.CITIZENS: frozenset({SUPPORT}),
    Power.CORRECTIONS_READ: frozenset({SUPPORT, FINANCE}),
    Power.CORRECTIONS_PROPOSE: frozenset({SUPPORT}),
    Power.CORRECTIONS_APPROVE: frozenset({FINANCE}),
    Power.ACTIONS: frozenset(),
    Power.PROJECTS: frozenset(),
}
"""The roles besides `admin` that hold each power."""


def roles_for(power: Power) -> tuple[str, ...]:
    """The roles that would do, `admin` first, the rest in ROLES' order."""
    holders = HOLDERS[power] | {ADMIN}
    return tuple(role for role in ROLES if role in holders)


def staff_roles(groups: frozenset[str]) -> tuple[str, ...]:
    """The staff roles among a token's groups (other groups mean nothing here)."""
    return tuple(role for role in ROLES if role in groups)


def may(groups: frozenset[str], power: Power) -> bool:
    return any(role in groups for role in roles_for(power))


def check_not_own(citizen_ids: Iterable[str], person: str, what: str) -> None:
    """Staff are citizens too (their token's subject is their citizen id): nobody moves
    their own points by a staff action (`what`: "settle a payout of")."""
    if person in set(citizen_ids):
        raise Forbidden(f"nobody may {what} their own points", code="own_account")


def check_second_person(maker: str, checker: str, what: str) -> None:
    """Maker != checker on money: whoever proposed or started `what` cannot approve it."""
    if maker == checker:
        raise Forbidden(
            f"{what} needs a second person: whoever proposed or started it cannot approve it",
            code="same_person",
        )
