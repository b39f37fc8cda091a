"""The smart-city project registry (DESIGN §4d): every department's smart projects in one
place, so that none is funded twice or forgotten.

A project has a field (data: chalicelib/data/project_fields.json, the seed's eleven, taken
and answered by its ASCII code, with the Korean name beside it in answers), a department,
its funding (`national`: national or provincial grants; `city`: the city's own budget), a
budget by calendar year in whole KRW, a period, the districts it covers (none: city-wide),
a status and the services it runs (the live ones of this backend, or any other id).

`draft_to_project` judges a request whole and names every broken rule in one 422
(`invalid_project`, each detail `{field, problem, reason}`); the summary is computed from
the registry's one partition (chalicelib.adapters.dynamodb_projects reads it in one Query).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal, get_args

from chalicelib.domain import kpis, names
from chalicelib.domain.staff_actions import Actor, StaffAction, new_action
from chalicelib.errors import Unprocessable

DATA_FILE: Final = Path(__file__).resolve().parent.parent / "data" / "project_fields.json"

Funding = Literal["national", "city"]
Status = Literal["planned", "in_progress", "done"]
FUNDINGS: Final = get_args(Funding)
STATUSES: Final = get_args(Status)

PROJECT_ID: Final = re.compile(r"[a-z0-9][a-z0-9-]{1,62}[a-z0-9]")
"""A project's id, chosen by whoever registers it: 3-64 of lowercase ASCII letters, digits and
inner hyphens (`yeonji-smart-shelters`): readable in a URL, stable when the name changes."""
SERVICE_ID: Final = re.compile(r"[a-z][a-z0-9-]{0,39}")
YEAR_KEY: Final = re.compile(r"[0-9]{4}")
ISO_DAY: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
FIRST_DAY: Final = date(2000, 1, 1)
LAST_DAY: Final = date(2100, 12, 31)
MAX_YEAR_BUDGET: Final = 10**12
"""1 trillion KRW in one year: more than a project of a city's could be (Gimhae's whole
yearly budget is about 2.5 trillion), far under what a DynamoDB number holds."""
MAX_SERVICES: Final = 10
NAME: Final = names.NameRule("name", 100, 200)
"""Public text (the registry is read by anyone): the city's rule for names, without the
reserved words (the city's own words are the point here), and no `<` or `>`."""
DEPARTMENT: Final = names.NameRule("department", 50, 100)
NOTES: Final = names.TextRule("notes", 1000)
_MARKUP: Final = frozenset("<>")


@dataclass(frozen=True)
class ProjectField:
    code: str
    name_ko: str
    name_en: str


@lru_cache(maxsize=2)
def _data(path: Path = DATA_FILE) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def fields() -> dict[str, ProjectField]:
    """The registry's fields by code, in the data file's order."""
    return {
        f["code"]: ProjectField(f["code"], f["name_ko"], f["name_en"]) for f in _data()["fields"]
    }


FIELD_CODES: Final = tuple(fields())
LIVE_SERVICES: Final = kpis.SERVICES
"""The services this backend runs (their figures are its KPIs); any other id a project
names is a service kept elsewhere, which this backend never measures."""


def field_name(code: str) -> str:
    found = fields().get(code)
    return found.name_ko if found else code


@dataclass(frozen=True)
class ProjectDraft:
    """A project as a request writes it (types checked at the edge; rules not yet)."""

    name: str
    field: str
    department: str
    funding: str
    budget_krw: Mapping[str, int]
    starts_on: str
    ends_on: str
    districts: tuple[str, ...] = ()
    status: str = "planned"
    services: tuple[str, ...] = ()
    notes: str | None = None
    sample: bool = False


@dataclass(frozen=True)
class Project:
    project_id: str
    name: str
    field: str
    department: str
    funding: Funding
    budget_krw: Mapping[str, int]
    """Whole KRW by calendar year (`"2020"`), each year inside the period."""
    starts_on: date
    ends_on: date
    districts: tuple[str, ...]
    """District codes; none means city-wide."""
    status: Status
    services: tuple[str, ...]
    notes: str
    sample: bool
    created_at: datetime
    updated_at: datetime
    version: int | None = None
    """The stored item's version (optimistic locking of a replace)."""

    @property
    def total_krw(self) -> int:
        return sum(self.budget_krw.values())

    def active_in(self, year: int) -> bool:
        """The period touches the calendar year: what `?year=` lists."""
        return self.starts_on.year <= year <= self.ends_on.year


class ProjectExists(Exception):
    """A project of that id is registered already."""


class ProjectChanged(Exception):
    """The project changed between its read and a replace (its version moved)."""


def valid_id(project_id: object) -> str:
    if not isinstance(project_id, str) or not PROJECT_ID.fullmatch(project_id):
        raise Unprocessable(
            "project_id is 3-64 lowercase letters, digits and inner hyphens",
            code="invalid_project",
            details=[{"field": "project_id", "problem": "not an id", "reason": "invalid_id"}],
        )
    return project_id


def draft_to_project(
    draft: ProjectDraft,
    project_id: str,
    known_districts: Iterable[str],
    *,
    created_at: datetime,
    updated_at: datetime,
    version: int | None = None,
) -> Project:
    """The project as it will be stored, or one Unprocessable naming every broken rule."""
    problems: list[dict[str, Any]] = []

    def bad(name: str, reason: str, problem: str, **data: Any) -> None:
        problems.append({"field": name, "problem": problem, "reason": reason, **data})

    name = _public_text(draft.name, NAME, problems)
    department = _public_text(draft.department, DEPARTMENT, problems)
    notes = ""
    if draft.notes is not None and draft.notes.strip():
        try:
            notes = names.judge_text(draft.notes, NOTES)
        except names.NameRefused as e:
            problems.append(e.detail("notes"))
        else:
            _refuse_markup(notes, NOTES.label, problems)  # public too: shown beside the name
    if draft.field not in fields():
        bad("field", "unknown_field", f"must be one of {', '.join(FIELD_CODES)}")
    if draft.funding not in FUNDINGS:
        bad("funding", "unknown_funding", f"must be one of {', '.join(FUNDINGS)}")
    if draft.status not in STATUSES:
        bad("status", "unknown_status", f"must be one of {', '.join(STATUSES)}")
    starts_on = _day(draft.starts_on, "starts_on", bad)
    ends_on = _day(draft.ends_on, "ends_on", bad)
    if starts_on and ends_on and ends_on < starts_on:
        bad("ends_on", "ends_before_start", "must not be before starts_on")
        starts_on = ends_on = None
    budget = _budget(draft.budget_krw, starts_on, ends_on, bad)
    districts = _districts(draft.districts, set(known_districts), bad)
    services = _services(draft.services, bad)
    if problems:
        raise Unprocessable(
            "the project is not acceptable", code="invalid_project", details=problems
        )
    assert starts_on is not None and ends_on is not None
    return Project(
        project_id=project_id,
        name=name,
        field=draft.field,
        department=department,
        funding=draft.funding,  # type: ignore[arg-type]
        budget_krw=budget,
        starts_on=starts_on,
        ends_on=ends_on,
        districts=districts,
        status=draft.status,  # type: ignore[arg-type]
        services=services,
        notes=notes,
        sample=draft.sample,
        created_at=created_at,
        updated_at=updated_at,
        version=version,
    )


def _public_text(text: str, rule: names.NameRule, problems: list[dict[str, Any]]) -> str:
    try:
        judged = names.judge(text, rule)
    except names.NameRefused as e:
        problems.append(e.detail(rule.label))
        return ""
    _refuse_markup(judged, rule.label, problems)
    return judged


def _refuse_markup(text: str, label: str, problems: list[dict[str, Any]]) -> None:
    """Public text never holds `<` or `>`: a page that forgets to escape it shows text, not
    markup someone wrote."""
    for i, char in enumerate(text, 1):
        if char in _MARKUP:
            problems.append(
                {
                    "field": label,
                    "problem": f"a {label} cannot hold < or > (markup)",
                    "reason": "markup",
                    "position": i,
                    "character": f"U+{ord(char):04X}",
                }
            )
            return


def _day(raw: str, name: str, bad: Any) -> date | None:
    if not ISO_DAY.fullmatch(raw):
        bad(name, "invalid_date", "must be a day, YYYY-MM-DD")
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        bad(name, "invalid_date", "is not a calendar day")
        return None
    if not FIRST_DAY <= day <= LAST_DAY:
        bad(name, "invalid_date", f"must be between {FIRST_DAY} and {LAST_DAY}")
        return None
    return day


def _budget(
    raw: Mapping[str, int], starts_on: date | None, ends_on: date | None, bad: Any
) -> dict[str, int]:
    budget: dict[str, int] = {}
    for year, amount in sorted(raw.items()):
        where = f"budget_krw.{year}"[:40]
        if not YEAR_KEY.fullmatch(year):
            bad(where, "invalid_year", 'a budget\'s year is 4 digits, e.g. "2020"')
            continue
        if starts_on and ends_on and not starts_on.year <= int(year) <= ends_on.year:
            bad(
                where,
                "year_outside_period",
                f"{year} is outside the period {starts_on.year}-{ends_on.year}",
            )
            continue
        if amount < 0:
            bad(where, "negative_budget", "a budget is a whole number of KRW, 0 or more")
            continue
        if amount > MAX_YEAR_BUDGET:
            bad(where, "budget_too_large", f"a year's budget is at most {MAX_YEAR_BUDGET} KRW")
            continue
        budget[year] = amount
    return budget


def _districts(raw: tuple[str, ...], known: set[str], bad: Any) -> tuple[str, ...]:
    seen: list[str] = []
    for code in raw:
        if code in seen:
            bad("districts", "duplicate_district", "a district is named once", district=code[:40])
        elif code not in known:
            bad("districts", "unknown_district", "unknown district", district=code[:40])
        else:
            seen.append(code)
    return tuple(seen)


def _services(raw: tuple[str, ...], bad: Any) -> tuple[str, ...]:
    if len(raw) > MAX_SERVICES:
        bad("services", "too_many_services", f"a project runs at most {MAX_SERVICES} services")
        return ()
    seen: list[str] = []
    for service in raw:
        if not SERVICE_ID.fullmatch(service):
            bad(
                "services",
                "invalid_service",
                "a service id is 1-40 lowercase letters, digits and hyphens, a letter first",
            )
        elif service in seen:
            bad("services", "duplicate_service", "a service is named once", service=service)
        else:
            seen.append(service)
    return tuple(seen)


# -- Reading the registry ----------------------------------------------------------------


@dataclass(frozen=True)
class ProjectFilter:
    field: str | None = None
    status: str | None = None
    year: int | None = None

    def keeps(self, project: Project) -> bool:
        return (
            (self.field is None or project.field == self.field)
            and (self.status is None or project.status == self.status)
            and (self.year is None or project.active_in(self.year))
        )


@dataclass(frozen=True)
class Tally:
    key: str
    projects: int = 0
    budget_krw: int = 0


@dataclass(frozen=True)
class Summary:
    projects: int
    budget_krw: int
    by_field: list[Tally]
    by_year: list[Tally]
    by_funding: list[Tally]
    by_status: list[Tally]


def summarize(projects: Iterable[Project]) -> Summary:
    """Counts and budgets by field (every field, in the data's order), by year (the years
    any budget names, each counting the projects budgeted that year), by funding and by
    status (every value)."""
    every = list(projects)

    def tallies(keys: Iterable[str], key_of: Any) -> list[Tally]:
        counts = {k: [0, 0] for k in keys}
        for p in every:
            row = counts.setdefault(key_of(p), [0, 0])
            row[0] += 1
            row[1] += p.total_krw
        return [Tally(k, n, krw) for k, (n, krw) in counts.items()]

    years: dict[str, list[int]] = {}
    for p in every:
        for year, amount in p.budget_krw.items():
            if amount > 0:
                row = years.setdefault(year, [0, 0])
                row[0] += 1
                row[1] += amount
    return Summary(
        projects=len(every),
        budget_krw=sum(p.total_krw for p in every),
        by_field=tallies(FIELD_CODES, lambda p: p.field),
        by_year=[Tally(y, n, krw) for y, (n, krw) in sorted(years.items())],
        by_funding=tallies(FUNDINGS, lambda p: p.funding),
        by_status=tallies(STATUSES, lambda p: p.status),
    )


# -- The action log ----------------------------------------------------------------------


def target(project_id: str) -> str:
    return f"project:{project_id}"


def recorded(project: Project) -> dict[str, Any]:
    """What the action log keeps of a project (its content, not its bookkeeping)."""
    return {
        "name": project.name,
        "field": project.field,
        "department": project.department,
        "funding": project.funding,
        "budget_krw": dict(sorted(project.budget_krw.items())),
        "starts_on": project.starts_on.isoformat(),
        "ends_on": project.ends_on.isoformat(),
        "districts": list(project.districts),
        "status": project.status,
        "services": list(project.services),
        "notes": project.notes,
        "sample": project.sample,
    }


def create_action(project: Project, by: Actor, source: str | None = None) -> StaffAction:
    detail: dict[str, Any] = {"after": recorded(project)}
    if source:
        detail["source"] = source
    return new_action(by, "project.create", target(project.project_id), project.created_at, detail)


def replace_action(before: Project, after: Project, by: Actor) -> StaffAction:
    """The fields that changed, before and after (nothing else: the log stays readable)."""
    old, new = recorded(before), recorded(after)
    changed = [k for k in new if old[k] != new[k]]
    return new_action(
        by,
        "project.replace",
        target(after.project_id),
        after.updated_at,
        {"before": {k: old[k] for k in changed}, "after": {k: new[k] for k in changed}},
    )


@dataclass(frozen=True)
class LoadResult:
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
