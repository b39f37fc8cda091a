"""EventBridge schedule expressions: ``rate(...)`` and ``cron(...)``, evaluated in UTC."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

_RATE_RE = re.compile(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)")
_CRON_RE = re.compile(r"cron\((.*)\)")
_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_WEEKDAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_MAX_YEAR = 2199
_UNIT = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}

DayPredicate = Callable[[date], bool]


def _aws_weekday(d: date) -> int:
    """1=SUN .. 7=SAT, as in EventBridge cron expressions."""
    return (d.weekday() + 1) % 7 + 1


def _last_day(d: date) -> int:
    return calendar.monthrange(d.year, d.month)[1]


def _value(text: str, lo: int, hi: int, names: dict[str, int], what: str) -> int:
    token = text.strip().upper()
    if token in names:
        v = names[token]
    elif token.isdigit():
        v = int(token)
    else:
        raise ValueError(f"invalid {what} value {text!r}")
    if not lo <= v <= hi:
        raise ValueError(f"{what} value {v} out of range {lo}-{hi}")
    return v


def _number_set(
    text: str, lo: int, hi: int, what: str, names: dict[str, int] | None = None
) -> frozenset[int]:
    """``*``, ``a``, ``a,b``, ``a-b``, ``*/n``, ``a/n``, ``a-b/n`` (names allowed)."""
    names = names or {}
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ValueError(f"empty item in {what} field {text!r}")
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"invalid step in {what} field {text!r}")
            step = int(step_text)
        if base == "*":
            start, end = lo, hi
        elif "-" in base:
            a, _, b = base.partition("-")
            start, end = _value(a, lo, hi, names, what), _value(b, lo, hi, names, what)
            if start > end:
                raise ValueError(f"invalid range {base!r} in {what} field")
        else:
            start = _value(base, lo, hi, names, what)
            end = hi if step_text else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _nearest_weekday(d: date, day: int) -> int:
    """The weekday (Mon-Fri) nearest to ``day`` of d's month, not leaving the month."""
    last = _last_day(d)
    day = min(day, last)
    wd = date(d.year, d.month, day).weekday()  # Mon=0
    if wd == 5:  # Saturday -> Friday, or Monday if the 1st
        return day - 1 if day > 1 else day + 2
    if wd == 6:  # Sunday -> Monday, or Friday if the last day
        return day + 1 if day < last else day - 2
    return day


def _day_of_month(text: str) -> DayPredicate:
    preds: list[DayPredicate] = []
    for part in text.split(","):
        up = part.upper()
        if up == "L":
            preds.append(lambda d: d.day == _last_day(d))
        elif up == "LW":
            preds.append(lambda d: d.day == _nearest_weekday(d, _last_day(d)))
        elif up.endswith("W") and up[:-1].isdigit():
            target = _value(up[:-1], 1, 31, {}, "day-of-month")
            preds.append(lambda d, t=target: d.day == _nearest_weekday(d, t))  # type: ignore[misc]
        else:
            days = _number_set(part, 1, 31, "day-of-month")
            preds.append(lambda d, s=days: d.day in s)  # type: ignore[misc]
    return lambda d: any(p(d) for p in preds)


def _day_of_week(text: str) -> DayPredicate:
    preds: list[DayPredicate] = []
    for part in text.split(","):
        up = part.upper()
        if up == "L":
            preds.append(lambda d: _aws_weekday(d) == 7)
        elif up.endswith("L"):
            wd = _value(up[:-1], 1, 7, _WEEKDAYS, "day-of-week")
            preds.append(
                lambda d, w=wd: (
                    _aws_weekday(d) == w  # type: ignore[misc]
                    and d.day + 7 > _last_day(d)
                )
            )
        elif "#" in up:
            a, _, b = up.partition("#")
            wd = _value(a, 1, 7, _WEEKDAYS, "day-of-week")
            nth = _value(b, 1, 5, {}, "day-of-week occurrence")
            preds.append(
                lambda d, w=wd, n=nth: (
                    _aws_weekday(d) == w  # type: ignore[misc]
                    and (d.day - 1) // 7 + 1 == n
                )
            )
        else:
            days = _number_set(part, 1, 7, "day-of-week", _WEEKDAYS)
            preds.append(lambda d, s=days: _aws_weekday(d) in s)  # type: ignore[misc]
    return lambda d: any(p(d) for p in preds)


@dataclass(frozen=True)
class _Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    day: DayPredicate
    months: frozenset[int]
    years: frozenset[int]


def _parse_cron(body: str) -> _Cron:
    fields = body.split()
    if len(fields) != 6:
        raise ValueError(f"cron() needs 6 fields (min hour dom month dow year), got {len(fields)}")
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ValueError("exactly one of day-of-month and day-of-week must be '?'")
    day = _day_of_week(dow) if dom == "?" else _day_of_month(dom)
    return _Cron(
        minutes=_number_set(minute, 0, 59, "minute"),
        hours=_number_set(hour, 0, 23, "hour"),
        day=day,
        months=_number_set(month, 1, 12, "month", _MONTHS),
        years=_number_set(year, 1970, _MAX_YEAR, "year"),
    )


def parse_rate(expression: str) -> timedelta | None:
    """The period of a ``rate(...)`` expression; ``None`` if it is not a rate expression."""
    m = _RATE_RE.fullmatch(expression.strip())
    if not m:
        if expression.strip().startswith("rate("):
            raise ValueError(f"invalid rate expression {expression!r}")
        return None
    value, unit = int(m.group(1)), m.group(2)
    if value < 1:
        raise ValueError(f"rate value must be positive in {expression!r}")
    if (value == 1) != (not unit.endswith("s")):
        raise ValueError(f"use a singular unit for 1 and a plural one otherwise: {expression!r}")
    return value * _UNIT[unit.rstrip("s")]


def validate_expression(expression: str) -> None:
    """Raise ValueError unless ``expression`` is a valid rate() or cron() expression."""
    if parse_rate(expression) is not None:
        return
    m = _CRON_RE.fullmatch(expression.strip())
    if not m:
        raise ValueError(f"not a rate() or cron() expression: {expression!r}")
    _parse_cron(m.group(1))


def next_fire(expression: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` that the schedule fires, in UTC.

    ``rate(N unit)`` fires every N units counted from ``after`` (EventBridge counts from the
    rule's creation, so pass the creation or last fire time). ``cron(...)`` is evaluated
    minute by minute in UTC. Naive datetimes are taken as UTC. Raises ValueError for an
    invalid expression or one that never fires again.
    """
    if after.tzinfo is None:
        after = after.replace(tzinfo=UTC)
    after = after.astimezone(UTC)
    period = parse_rate(expression)
    if period is not None:
        return after + period
    m = _CRON_RE.fullmatch(expression.strip())
    if not m:
        raise ValueError(f"not a rate() or cron() expression: {expression!r}")
    cron = _parse_cron(m.group(1))
    t = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    last_year = max(cron.years)
    while t.year <= last_year:
        if t.year not in cron.years:
            t = datetime(t.year + 1, 1, 1, tzinfo=UTC)
        elif t.month not in cron.months:
            t = (datetime(t.year, t.month, 1, tzinfo=UTC) + timedelta(days=32)).replace(day=1)
        elif not cron.day(t.date()):
            t = datetime(t.year, t.month, t.day, tzinfo=UTC) + timedelta(days=1)
        elif t.hour not in cron.hours:
            t = t.replace(minute=0) + timedelta(hours=1)
        elif t.minute not in cron.minutes:
            t += timedelta(minutes=1)
        else:
            return t
    raise ValueError(f"{expression!r} never fires after {after.isoformat()}")
