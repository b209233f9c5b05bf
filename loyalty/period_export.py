"""`/export`'s period reports: the figures of `/stats` for a period beside the period before's,
the months (members gained, bills, average ticket), the cohort grid, and `/campaigns` by kind —
as CSV files in the same form as the other exports (loyalty.export: UTF-8 with a BOM, English
snake_case headers, money as plain decimals with the currency's places, times in UTC ISO 8601).

Shares and rates are written as percentages to one decimal ("42.5"); counts beside them, so a
spreadsheet can recompute them. A store's figures carry its id: an owner's export has every
store's, a manager's the stores they manage. Campaigns belong to the chain.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty import campaign_kinds, period_reports, stores
from loyalty.export import ExportFile, ExportScope, csv_bytes
from loyalty.money import plain_amount
from loyalty.period_reports import Figures, PeriodStats, Tickets
from loyalty.periods import Period
from loyalty.policy import Policy

KINDS = ("report", "months", "cohorts", "campaigns")


def _pct(value: Decimal | None) -> str:
    return "" if value is None else format(value, "f")


def _money(amount: Decimal, currency: str) -> str:
    return plain_amount(amount, currency)


def _ticket(tickets: Tickets, currency: str) -> str:
    average = tickets.average(currency)
    return "" if average is None else _money(average, currency)


def _time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds")


def figure_rows(figures: Figures, currency: str) -> list[tuple[str, str, str]]:
    """(figure, detail, value) of one period, in the order `/stats` shows them."""
    rows = [("members_gained", "", str(figures.members_gained))]
    rows += [("members_gained", b.key, str(b.count)) for b in figures.gained]
    rows += [
        ("first_visits", "", str(figures.first_visits)),
        ("returned", "", str(figures.returned)),
        ("returning_too_recent", "", str(figures.still_open)),
        ("returning_rate_pct", "", _pct(figures.returning_rate)),
        ("visits", "", str(figures.visits)),
        ("bills", "", str(figures.tickets.bills)),
        ("member_revenue", "", _money(figures.tickets.revenue, currency)),
        ("average_ticket", "", _ticket(figures.tickets, currency)),
        ("average_ticket", "first_visits", _ticket(figures.first_tickets, currency)),
        ("average_ticket", "later_visits", _ticket(figures.later_tickets, currency)),
    ]
    for coupon in figures.coupons:
        rows += [
            ("coupons_issued", coupon.kind, str(coupon.issued)),
            ("coupons_redeemed", coupon.kind, str(coupon.redeemed)),
        ]
    rows += [("care", b.key, str(b.count)) for b in figures.care]
    rows.append(("surveys_asked", "", str(figures.surveys_asked)))
    rows += [("survey_answers", b.key, str(b.count)) for b in figures.survey_reasons]
    rows += [("members_by_tier_at_end", b.key, str(b.count)) for b in figures.tiers]
    return rows


async def _report(stats: Sequence[tuple[int, PeriodStats]]) -> AsyncIterator[list[str]]:
    yield [
        "store_id",
        "figure",
        "detail",
        "period_start",
        "period_end",
        "value",
        "previous_start",
        "previous_end",
        "previous_value",
        "currency",
    ]
    for store_id, s in stats:
        now = figure_rows(s.now, s.currency)
        then = {(f, d): v for f, d, v in figure_rows(s.then, s.currency)}
        for figure, detail, value in now:
            yield [
                str(store_id),
                figure,
                detail,
                _time(s.period.start),
                _time(s.period.end),
                value,
                _time(s.before.start),
                _time(s.before.end),
                then.get((figure, detail), ""),
                s.currency,
            ]


async def _months(stats: Sequence[tuple[int, PeriodStats]]) -> AsyncIterator[list[str]]:
    yield ["store_id", "month", "members_gained", "bills", "revenue", "average_ticket", "currency"]
    for store_id, s in stats:
        for m in s.months:
            yield [
                str(store_id),
                m.start.strftime("%Y-%m"),
                str(m.gained),
                str(m.tickets.bills),
                _money(m.tickets.revenue, s.currency),
                _ticket(m.tickets, s.currency),
                s.currency,
            ]


async def _cohorts(stats: Sequence[tuple[int, PeriodStats]]) -> AsyncIterator[list[str]]:
    yield ["store_id", "joined_month", "members", "months_since", "came", "share_pct"]
    for store_id, s in stats:
        for cohort in s.cohorts:
            for k, came in enumerate(cohort.came):
                yield [
                    str(store_id),
                    cohort.start.strftime("%Y-%m"),
                    str(cohort.members),
                    str(k),
                    str(came),
                    _pct(cohort.share(k)),
                ]


async def _campaigns(
    rows: Sequence[campaign_kinds.KindRow], currency: str
) -> AsyncIterator[list[str]]:
    yield [
        "kind",
        "name",
        "first_at",
        "campaigns",
        "audience",
        "holdout",
        "sent",
        "delivered",
        "waiting",
        "coupons_issued",
        "coupons_redeemed",
        "redeemed_bills",
        "currency",
        "messaged",
        "messaged_returned",
        "holdout_measured",
        "holdout_returned",
        "p_value",
    ]
    for row in rows:
        p = row.p_value
        yield [
            row.kind,
            row.name if row.kind == campaign_kinds.BROADCAST else "",
            _time(row.first_at),
            str(row.campaigns),
            str(row.audience),
            str(row.holdout),
            str(row.sent),
            str(row.delivered),
            str(row.waiting),
            str(row.coupons_issued),
            str(row.coupons_redeemed),
            _money(row.revenue, currency),
            currency,
            str(row.lift.messaged),
            str(row.lift.messaged_returned),
            str(row.lift.holdout),
            str(row.lift.holdout_returned),
            "" if p is None else f"{p:.4f}",
        ]


async def build_files(
    session: AsyncSession,
    *,
    scope: ExportScope,
    period: Period,
    policy: Policy,
    now: datetime,
) -> list[ExportFile]:
    """The four period files for the stores in `scope` (None: all)."""
    chain = [
        s
        for s in await stores.all_stores(session)
        if scope.store_ids is None or s.id in scope.store_ids
    ]
    stats = [
        (
            store.id,
            await period_reports.period_stats(
                session,
                store_id=store.id,
                currency=store.currency,
                period=period,
                policy=policy,
                now=now,
            ),
        )
        for store in chain
    ]
    rows = await campaign_kinds.by_kind(session, period=period, now=now)
    currency = chain[0].currency if chain else "USD"
    stamp = now.astimezone(UTC).strftime("%Y%m%d-%H%M")
    sources = {
        "report": _report(stats),
        "months": _months(stats),
        "cohorts": _cohorts(stats),
        "campaigns": _campaigns(rows, currency),
    }
    files = []
    for kind in KINDS:
        data, count = await csv_bytes(sources[kind])
        files.append(ExportFile(kind, f"{kind}-{stamp}.csv", data, count))
    return files
