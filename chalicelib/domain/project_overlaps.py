"""Overlap and omission checks of the project registry (DESIGN §4d): pairs of projects that
may duplicate each other, and projects whose services have no figures.

A pair is flagged only when ALL FOUR hold, each given as a reason:
- `same_field`: both in one field;
- `districts_overlap`: they share a district (a project with no districts is city-wide and
  shares every district); `districts` lists the shared ones;
- `periods_overlap`: their periods share a day; `from` and `to` bound the shared days;
- `similar_names`: their names' similarity is at least THRESHOLD.

Names are compared as Korean officials write them, which varies in spacing, brackets and
generic words: `스마트 가로등 원격관리 시스템 구축` and `스마트가로등 원격 관리시스템 구축 사업`
are one name. Both are normalised (NFKC, case folded, every character that is not a letter or
a digit dropped, then the city's name and generic trailing words such as 사업, 구축, 조성
dropped), and compared by the Sørensen-Dice coefficient of their character bigrams
(multisets): 1.0 for the same characters in the same order, 0 for nothing in common. Bigrams
suit Korean, where one syllable is one character and words run together without spaces.

Omissions: a project in progress or done whose services include one without figures. A live
service (this backend's) has figures once the KPI store holds some (ports.ServiceFigures); a
service this backend does not run never has any here. Planned projects are not expected to
have figures yet.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from itertools import combinations
from typing import Any, Final

from chalicelib.domain.districts import districts
from chalicelib.domain.projects import LIVE_SERVICES, Project, field_name

THRESHOLD: Final = 0.7
"""Names at least this similar count as similar. Measured on hand-made pairs
(tests/unit/test_project_overlaps.py): the same name respaced, rebracketed or with a generic
word scores 1.0, with a phase added (`(2차)`) 0.9; one template with another place
(`도시재생 뉴딜사업 (삼방동)` / `(무계동)`) 0.63, another system (`버스정보시스템` /
`교통정보시스템`) 0.67, and names that share only `스마트` 0.2-0.5."""
PREFIXES: Final = ("김해시", "김해형", "김해")
"""The city's own name, which many project names start with and which says nothing."""
GENERIC_WORDS: Final = ("사업", "구축", "조성", "추진", "운영", "설치", "도입", "시범", "용역")
"""Generic words (business, build, create, carry out, run, install, introduce, pilot,
contract), dropped wherever they stand: `구축사업` at the end, `뉴딜사업(삼방동)` before a
bracketed place alike; they say how a project is done, not what it is."""


def normalise(name: str) -> str:
    """The name as compared: NFKC, case folded, letters and digits only, the city's name at
    its start and every generic word dropped (never to nothing)."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    kept = "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")
    for prefix in PREFIXES:
        if kept.startswith(prefix) and len(kept) > len(prefix):
            kept = kept[len(prefix) :]
            break
    bare = kept
    for word in GENERIC_WORDS:
        bare = bare.replace(word, "")
    return bare or kept


def _grams(text: str) -> Counter[str]:
    if len(text) < 2:
        return Counter([text]) if text else Counter()
    return Counter(text[i : i + 2] for i in range(len(text) - 1))


@lru_cache(maxsize=4096)
def _grams_of(name: str) -> Counter[str]:
    return _grams(normalise(name))


def similarity(a: str, b: str) -> float:
    """Dice's coefficient of the normalised names' character bigrams, 0..1."""
    ga, gb = _grams_of(a), _grams_of(b)
    total = sum(ga.values()) + sum(gb.values())
    if total == 0:
        return 0.0
    return 2 * sum((ga & gb).values()) / total


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Pair:
    first: Project
    second: Project
    reasons: tuple[Reason, ...]
    similarity: float


@dataclass(frozen=True)
class Unmeasured:
    project: Project
    services: tuple[str, ...]
    reasons: tuple[Reason, ...]


def _shared_districts(a: Project, b: Project, every_district: Iterable[str]) -> list[str]:
    """The districts both cover (city-wide covers all), in the city's order."""
    order = list(every_district)
    left = set(a.districts) if a.districts else set(order)
    right = set(b.districts) if b.districts else set(order)
    return [code for code in order if code in left & right]


def _shared_days(a: Project, b: Project) -> tuple[date, date] | None:
    start, end = max(a.starts_on, b.starts_on), min(a.ends_on, b.ends_on)
    return (start, end) if start <= end else None


def judge_pair(a: Project, b: Project, every_district: Iterable[str]) -> Pair | None:
    """The pair, with its four reasons, when all four hold; else None."""
    if a.field != b.field:
        return None
    days = _shared_days(a, b)
    if days is None:
        return None
    shared = _shared_districts(a, b, every_district)
    if not shared:
        return None
    score = round(similarity(a.name, b.name), 3)
    if score < THRESHOLD:
        return None
    first, second = sorted((a, b), key=lambda p: p.project_id)
    if not a.districts and not b.districts:
        where = "both are city-wide"
    else:
        known = districts()
        named = [known[c].name if c in known else c for c in shared]
        where = "both cover " + ", ".join(named[:5]) + (" and more" if len(named) > 5 else "")
    reasons = (
        Reason("same_field", f"both are in the field {field_name(a.field)} ({a.field})"),
        Reason(
            "districts_overlap",
            where,
            {"districts": shared},
        ),
        Reason(
            "periods_overlap",
            f"both run from {days[0].isoformat()} to {days[1].isoformat()}",
            {"from": days[0].isoformat(), "to": days[1].isoformat()},
        ),
        Reason(
            "similar_names",
            f"their names are {score:.0%} alike once spacing, punctuation and generic words "
            f"are set aside (flagged from {THRESHOLD:.0%})",
            {"similarity": score},
        ),
    )
    return Pair(first, second, reasons, score)


def overlapping_pairs(projects: Iterable[Project], every_district: Iterable[str]) -> list[Pair]:
    """Every flagged pair, most similar first (then by ids). Compared within a field only."""
    order = list(every_district)
    by_field: dict[str, list[Project]] = {}
    for p in projects:
        by_field.setdefault(p.field, []).append(p)
    pairs = [
        pair
        for group in by_field.values()
        for a, b in combinations(sorted(group, key=lambda p: p.project_id), 2)
        if (pair := judge_pair(a, b, order)) is not None
    ]
    return sorted(pairs, key=lambda p: (-p.similarity, p.first.project_id, p.second.project_id))


def unmeasured(projects: Iterable[Project], measured: frozenset[str]) -> list[Unmeasured]:
    """Projects (in progress or done) with a service that has no figures, one reason per
    such service, in the order the project lists them."""
    found: list[Unmeasured] = []
    for p in sorted(projects, key=lambda p: p.project_id):
        if p.status == "planned":
            continue
        missing = tuple(s for s in p.services if s not in measured or s not in LIVE_SERVICES)
        if not missing:
            continue
        reasons = tuple(
            Reason(
                "no_figures",
                f"{s} is a live service of this backend but its KPIs hold no figures yet",
            )
            if s in LIVE_SERVICES
            else Reason(
                "service_not_live",
                f"{s} is not a service this backend runs, so it has no figures here",
            )
            for s in missing
        )
        found.append(Unmeasured(p, missing, reasons))
    return found
