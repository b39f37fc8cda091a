"""next_fire: AWS (EventBridge) rate() and cron() schedule expressions, evaluated in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from infra.local.schedule_expressions import next_fire, parse_rate, validate_expression


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "period"),
    [
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(5 minutes)", timedelta(minutes=5)),
        ("rate(1 hour)", timedelta(hours=1)),
        ("rate(12 hours)", timedelta(hours=12)),
        ("rate(1 day)", timedelta(days=1)),
        ("rate(7 days)", timedelta(days=7)),
    ],
)
def test_rate_fires_one_period_after(expression: str, period: timedelta) -> None:
    # GIVEN the last fire (or the rule's creation) at an odd time
    after = utc(2026, 11, 25, 10, 17, 42)
    # WHEN / THEN the next fire is one period later, keeping the phase
    assert parse_rate(expression) == period
    assert next_fire(expression, after) == after + period


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # every 5 minutes: strictly after, even when `after` is itself a fire time
        ("cron(0/5 * * * ? *)", utc(2026, 1, 1, 10, 3, 59), utc(2026, 1, 1, 10, 5)),
        ("cron(0/5 * * * ? *)", utc(2026, 1, 1, 10, 5), utc(2026, 1, 1, 10, 10)),
        ("cron(*/15 * * * ? *)", utc(2026, 1, 1, 23, 50), utc(2026, 1, 2, 0, 0)),
        # daily at 18:00 UTC
        ("cron(0 18 * * ? *)", utc(2026, 1, 1, 18, 0, 1), utc(2026, 1, 2, 18, 0)),
        # weekdays (1=SUN..7=SAT): Friday 2026-11-27 after 18:00 -> Monday 11-30
        ("cron(0 18 ? * MON-FRI *)", utc(2026, 11, 27, 18, 30), utc(2026, 11, 30, 18, 0)),
        ("cron(0 18 ? * 2-6 *)", utc(2026, 11, 27, 18, 30), utc(2026, 11, 30, 18, 0)),
        ("cron(0 18 ? * MON-FRI *)", utc(2026, 11, 25, 9, 0), utc(2026, 11, 25, 18, 0)),
        # lists, ranges and month names
        ("cron(15,45 8-9 1 JAN,JUL ? *)", utc(2026, 1, 1, 9, 46), utc(2026, 7, 1, 8, 15)),
        ("cron(0 12 ? * SUN,SAT *)", utc(2026, 11, 25), utc(2026, 11, 28, 12, 0)),
        # a/n in hours: 2, 8, 14, 20
        ("cron(0 2/6 * * ? *)", utc(2026, 3, 1, 14, 0), utc(2026, 3, 1, 20, 0)),
        # a year field
        ("cron(0 0 1 1 ? 2030)", utc(2026, 5, 5), utc(2030, 1, 1)),
        ("cron(0 0 1 1 ? 2027-2029)", utc(2027, 1, 1), utc(2028, 1, 1)),
        # L: last day of the month, leap years included
        ("cron(0 18 L * ? *)", utc(2026, 2, 10), utc(2026, 2, 28, 18, 0)),
        ("cron(0 18 L * ? *)", utc(2028, 2, 28, 18, 0), utc(2028, 2, 29, 18, 0)),
        ("cron(0 18 L * ? *)", utc(2026, 4, 30, 18, 0), utc(2026, 5, 31, 18, 0)),
        # nL: last Friday; n#k: 2nd Monday; nW / LW: nearest weekday
        ("cron(0 9 ? * 6L *)", utc(2026, 11, 1), utc(2026, 11, 27, 9, 0)),
        ("cron(0 9 ? * MON#2 *)", utc(2026, 11, 1), utc(2026, 11, 9, 9, 0)),
        ("cron(0 9 15W * ? *)", utc(2026, 11, 1), utc(2026, 11, 16, 9, 0)),  # 15th is a Sunday
        ("cron(0 9 LW * ? *)", utc(2026, 5, 1), utc(2026, 5, 29, 9, 0)),  # 31st is a Sunday
    ],
)
def test_cron(expression: str, after: datetime, expected: datetime) -> None:
    assert next_fire(expression, after) == expected


def test_payout_schedule_is_the_first_day_03_00_in_seoul() -> None:
    # GIVEN the payout schedule: last day of the month, 18:00 UTC
    expression = "cron(0 18 L * ? *)"
    seoul = ZoneInfo("Asia/Seoul")
    t = utc(2026, 1, 15)
    # WHEN it is evaluated for a year of months
    for _ in range(12):
        t = next_fire(expression, t)
        local = t.astimezone(seoul)
        # THEN each fire is 03:00 on the 1st of the month in Seoul
        assert (local.day, local.hour, local.minute) == (1, 3, 0)


def test_naive_after_is_utc_and_result_is_aware() -> None:
    got = next_fire("cron(0 18 * * ? *)", datetime(2026, 1, 1, 12, 0))
    assert got == utc(2026, 1, 1, 18, 0)
    assert got.tzinfo is not None


@pytest.mark.parametrize(
    "expression",
    [
        "rate(0 minutes)",
        "rate(1 minutes)",  # AWS wants the singular for 1
        "rate(5 minute)",
        "rate(5 seconds)",
        "rate(five minutes)",
        "every 5 minutes",
        "cron(0 18 * * *)",  # 5 fields
        "cron(0 18 * * * *)",  # neither day field is '?'
        "cron(0 18 ? * ? *)",  # both are
        "cron(60 18 * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 18 32 * ? *)",
        "cron(0 18 * 13 ? *)",
        "cron(0 18 ? * 8 *)",
        "cron(0 18 ? * FOO *)",
        "cron(0 18 * JAN-FOO ? *)",
        "cron(0 18 * * ? 1969)",
        "cron(0/0 18 * * ? *)",
        "cron(5-1 18 * * ? *)",
        "cron(0 18 , * ? *)",
    ],
)
def test_invalid_expressions_raise_value_error(expression: str) -> None:
    with pytest.raises(ValueError):
        validate_expression(expression)
    with pytest.raises(ValueError):
        next_fire(expression, utc(2026, 1, 1))


def test_an_expression_that_never_fires_again_raises() -> None:
    with pytest.raises(ValueError, match="never fires"):
        next_fire("cron(0 0 1 1 ? 2020)", utc(2026, 1, 1))
    with pytest.raises(ValueError, match="never fires"):
        next_fire("cron(0 0 30 FEB ? 2026-2030)", utc(2026, 1, 1))
