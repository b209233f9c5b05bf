"""Report periods: what "this week", "last 4 weeks", "this month", "last 3 months" and a custom
range mean, in a store's time zone, and the period each is compared with.

A period is half-open, [start, end), in UTC. The periods that run up to now ("this week",
"this month") are compared with the same stretch of the period before — Monday to now against
last Monday to the same moment a week ago; the 1st to now against the 1st of last month to the
same day and hour (the last day of a shorter month) — so that a Tuesday is never compared with
a whole week. A rolling or custom period is compared with the same length just before it.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

WEEK, FOUR_WEEKS, MONTH, THREE_MONTHS, CUSTOM = "week", "4w", "month", "3m", "custom"
CHOICES: Final = (WEEK, FOUR_WEEKS, MONTH, THREE_MONTHS)
MAX_CUSTOM_DAYS: Final = 732


class PeriodProblem(ValueError):
    """A custom range that is not one: reason "dates" (not two dates), "order" (the end before
    the start), "future" (it starts after today), "long" (over MAX_CUSTOM_DAYS)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Period:
    key: str
    start: datetime
    end: datetime
    timezone: str

    @property
    def first_day(self) -> date:
        return self.start.astimezone(ZoneInfo(self.timezone)).date()

    @property
    def last_day(self) -> date:
        """The local day the period ends in (the day before, when it ends at midnight)."""
        local = self.end.astimezone(ZoneInfo(self.timezone))
        day = local.date()
        return day - timedelta(days=1) if local.time() == time(0) else day

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def _month_back(moment: datetime, months: int = 1) -> datetime:
    """The same day and time `months` months earlier (the month's last day if shorter)."""
    year, month = moment.year, moment.month - months
    while month < 1:
        year, month = year - 1, month + 12
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def current(key: str, *, now: datetime, timezone: str) -> Period:
    """One of CHOICES, up to `now`."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    if key == WEEK:
        start = _midnight(local.date() - timedelta(days=local.weekday()), zone)
    elif key == MONTH:
        start = _midnight(local.date().replace(day=1), zone)
    elif key == FOUR_WEEKS:
        start = local - timedelta(days=28)
    elif key == THREE_MONTHS:
        start = _month_back(local, 3)
    else:
        raise ValueError(f"unknown period {key!r}")
    return Period(key, start.astimezone(now.tzinfo), now, timezone)


def custom(first: date, last: date, *, now: datetime, timezone: str) -> Period:
    """The local days `first` to `last`, both included (up to `now` if it has not ended)."""
    if last < first:
        raise PeriodProblem("order")
    if (last - first).days + 1 > MAX_CUSTOM_DAYS:
        raise PeriodProblem("long")
    zone = ZoneInfo(timezone)
    start = _midnight(first, zone).astimezone(now.tzinfo)
    if start > now:
        raise PeriodProblem("future")
    end = min(_midnight(last + timedelta(days=1), zone).astimezone(now.tzinfo), now)
    return Period(CUSTOM, start, end, timezone)


def parse_custom(text: str, *, now: datetime, timezone: str) -> Period:
    """ "2026-01-01 2026-01-31" (or with "to", "–", "-" between)."""
    parts = text.replace("–", " ").replace(" to ", " ").split()
    if len(parts) != 2:
        raise PeriodProblem("dates")
    try:
        first, last = date.fromisoformat(parts[0]), date.fromisoformat(parts[1])
    except ValueError:
        raise PeriodProblem("dates") from None
    return custom(first, last, now=now, timezone=timezone)


def previous(period: Period) -> Period:
    """The period it is compared with (see the module's docstring)."""
    zone = ZoneInfo(period.timezone)
    start, end = period.start.astimezone(zone), period.end.astimezone(zone)
    if period.key == WEEK:
        before = (start - timedelta(days=7), end - timedelta(days=7))
    elif period.key == MONTH:
        before = (_month_back(start), _month_back(end))
        if before[1] > start:  # the 31st against a 30-day month: never past the month
            before = (before[0], start)
    elif period.key == THREE_MONTHS:
        before = (_month_back(start, 3), start)
    else:
        before = (start - (end - start), start)
    utc = period.start.tzinfo
    return Period(period.key, before[0].astimezone(utc), before[1].astimezone(utc), period.timezone)


def month_starts(first: date, last: date) -> list[date]:
    """The first day of every month from `first`'s to `last`'s, in order."""
    months = []
    day = first.replace(day=1)
    while day <= last:
        months.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    return months
