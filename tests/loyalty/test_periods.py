"""Report periods and the chance test, as plain functions: what "this week" and "this month"
mean in the store's time zone and what they are compared with; Fisher's exact test on tables
whose p values are published (R's fisher.test, SciPy's fisher_exact)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from loyalty import chance, periods
from loyalty.periods import PeriodProblem

SHANGHAI = "Asia/Shanghai"


def local(day: date, hour: int = 0, minute: int = 0) -> datetime:
    """`hour`:`minute` in Shanghai on `day`, in UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
        hours=hour - 8, minutes=minute
    )


@pytest.mark.parametrize(
    ("table", "p"),
    [
        ((3, 1, 1, 3), 0.4857142857),  # Fisher's tea-tasting lady
        ((8, 2, 1, 5), 0.0349650350),  # SciPy's fisher_exact example
        ((1, 9, 11, 3), 0.0027594562),  # R's fisher.test, "Job satisfaction"-style table
        ((10, 10, 10, 10), 1.0),
        ((0, 5, 5, 0), 0.0079365079),
    ],
)
def test_fisher_exact_two_sided_p_values(table: tuple[int, int, int, int], p: float) -> None:
    assert chance.two_sided_p(*table) == pytest.approx(p, rel=1e-8)


def test_within_chance_is_p_at_least_five_percent() -> None:
    assert chance.within_chance(3, 1, 1, 3)
    assert not chance.within_chance(8, 2, 1, 5)
    # a holdout of one, whatever the rates: nothing can be told
    assert chance.within_chance(90, 10, 0, 1)
    assert chance.two_sided_p(0, 0, 3, 4) == 1.0  # nobody messaged
    assert chance.two_sided_p(5, 0, 3, 0) == 1.0  # everybody came back
    with pytest.raises(ValueError, match="negative"):
        chance.two_sided_p(-1, 2, 3, 4)


def test_this_week_runs_from_monday_midnight_in_the_store_s_zone() -> None:
    sunday_night = local(date(2026, 11, 29), 23, 30)  # Sunday, 15:30 UTC
    week = periods.current(periods.WEEK, now=sunday_night, timezone=SHANGHAI)
    assert (week.start, week.end) == (local(date(2026, 11, 23)), sunday_night)
    assert (week.first_day, week.last_day) == (date(2026, 11, 23), date(2026, 11, 29))
    before = periods.previous(week)
    assert (before.start, before.end) == (
        local(date(2026, 11, 16)),
        local(date(2026, 11, 22), 23, 30),
    )
    monday = local(date(2026, 11, 30), 0, 5)
    assert periods.current(periods.WEEK, now=monday, timezone=SHANGHAI).start == local(
        date(2026, 11, 30)
    )


def test_this_month_against_the_same_days_of_the_month_before() -> None:
    now = local(date(2026, 11, 23), 12)
    month = periods.current(periods.MONTH, now=now, timezone=SHANGHAI)
    assert month.start == local(date(2026, 11, 1))
    before = periods.previous(month)
    assert (before.start, before.end) == (local(date(2026, 10, 1)), local(date(2026, 10, 23), 12))
    # January against December: across the year
    january = periods.current(periods.MONTH, now=local(date(2027, 1, 10), 9), timezone=SHANGHAI)
    assert periods.previous(january).start == local(date(2026, 12, 1))
    # the 31st: March against February, up to February's last day, never into March
    march = periods.current(periods.MONTH, now=local(date(2027, 3, 31), 18), timezone=SHANGHAI)
    before = periods.previous(march)
    assert (before.start, before.end) == (local(date(2027, 2, 1)), local(date(2027, 2, 28), 18))


def test_rolling_periods_compare_with_the_same_length_before() -> None:
    now = local(date(2026, 11, 23), 12)
    four = periods.current(periods.FOUR_WEEKS, now=now, timezone=SHANGHAI)
    assert (four.start, four.end) == (now - timedelta(days=28), now)
    assert periods.previous(four).start == now - timedelta(days=56)
    three = periods.current(periods.THREE_MONTHS, now=now, timezone=SHANGHAI)
    assert three.start == local(date(2026, 8, 23), 12)
    assert periods.previous(three).start == local(date(2026, 5, 23), 12)
    with pytest.raises(ValueError, match="unknown period"):
        periods.current("year", now=now, timezone=SHANGHAI)


def test_a_custom_range_is_whole_local_days_up_to_now() -> None:
    now = local(date(2026, 11, 23), 12)
    october = periods.parse_custom("2026-10-01 2026-10-31", now=now, timezone=SHANGHAI)
    assert (october.start, october.end) == (local(date(2026, 10, 1)), local(date(2026, 11, 1)))
    assert (october.first_day, october.last_day) == (date(2026, 10, 1), date(2026, 10, 31))
    assert october.contains(local(date(2026, 10, 31), 23, 59))
    assert not october.contains(local(date(2026, 11, 1)))
    before = periods.previous(october)
    assert (before.first_day, before.last_day) == (date(2026, 8, 31), date(2026, 9, 30))
    running = periods.parse_custom("2026-11-20 to 2026-11-30", now=now, timezone=SHANGHAI)
    assert running.end == now  # not past now
    one_day = periods.parse_custom("2026-11-01 2026-11-01", now=now, timezone=SHANGHAI)
    assert one_day.end - one_day.start == timedelta(days=1)
    longest = periods.parse_custom("2024-11-22 2026-11-23", now=now, timezone=SHANGHAI)
    assert (longest.last_day - longest.first_day).days + 1 == periods.MAX_CUSTOM_DAYS
    for text, reason in (
        ("2026-10-31 2026-10-01", "order"),
        ("2026-11-24 2026-11-30", "future"),
        ("2026-10-01", "dates"),
        ("2026-10-01 2026-10-32", "dates"),
        ("2024-11-21 2026-11-23", "long"),
    ):
        with pytest.raises(PeriodProblem) as problem:
            periods.parse_custom(text, now=now, timezone=SHANGHAI)
        assert problem.value.reason == reason, text


def test_month_starts() -> None:
    assert periods.month_starts(date(2026, 11, 15), date(2027, 2, 3)) == [
        date(2026, 11, 1),
        date(2026, 12, 1),
        date(2027, 1, 1),
        date(2027, 2, 1),
    ]
    assert periods.month_starts(date(2026, 11, 15), date(2026, 11, 15)) == [date(2026, 11, 1)]
