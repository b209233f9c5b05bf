"""`/stats` by period on a seeded history whose figures are counted by hand (seed 004: the
average ticket went from 29.6 to 41.3 and 15 % of the coupons were used): every figure and the
previous period's beside it, and the charts print exactly the text's numbers (read from the
chart's own data)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from loyalty import coupons, period_reports, periods
from loyalty.channels import Channel
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment
from loyalty.period_reports import PeriodStats
from loyalty.policy import Policy
from loyalty.stores import StoreInfo
from models.tables import CareSurvey, Coupon
from ui import period_charts, period_texts
from ui.locales import build_i18n

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday 23 November, 12:00 in Shanghai
SHANGHAI = "Asia/Shanghai"
STORE = StoreInfo(id=1, name="Noodle Bar", timezone=SHANGHAI, currency="CNY")


def at(day: date, hour: int = 12) -> datetime:
    """`hour` o'clock in Shanghai on `day`."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(hours=hour - 8)


async def pay(
    factory: async_sessionmaker[AsyncSession],
    store: StoreRef,
    policy: Policy,
    who: int,
    amount: str,
    when: datetime,
    channel: Channel,
) -> int:
    async with factory() as session, session.begin():
        outcome = await record_payment(
            session,
            source=PaymentSource.POS,
            external_id=f"{who}-{when.isoformat()}",
            store=store,
            amount=Decimal(amount),
            currency="CNY",
            payer=Payer(telegram_id=who, first_name=f"p{who}", channel=channel),
            policy=policy,
            now=when,
        )
    return outcome.member_id


@pytest.fixture
async def stats(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> PeriodStats:
    """October (up to the 23rd, noon) and November (up to now):

    October: A joins on the 5th (¥25.00, chat) and comes back on the 12th (¥30.00); B joins on
    the 8th (¥33.80, table QR). Three bills, ¥88.80: ¥29.60 a bill.
    November: C joins on the 2nd (¥40.00, table QR) and comes back on the 10th (¥38.20); D
    joins on the 15th (¥42.00, receipt QR); B comes back on the 20th (¥45.00), 43 days after
    his first visit. Four bills, ¥165.20: ¥41.30 a bill. C gets 20 birthday coupons; 3 are
    used (15 %). C is asked why he comes less and answers "price".
    """
    oct_, nov = date(2026, 10, 1), date(2026, 11, 1)
    a = await pay(factory, store, policy, 1, "25.00", at(oct_.replace(day=5)), Channel.CHAT)
    await pay(factory, store, policy, 1, "30.00", at(oct_.replace(day=12)), Channel.CHAT)
    await pay(factory, store, policy, 2, "33.80", at(oct_.replace(day=8)), Channel.TABLE_QR)
    c = await pay(factory, store, policy, 3, "40.00", at(nov.replace(day=2)), Channel.TABLE_QR)
    await pay(factory, store, policy, 3, "38.20", at(nov.replace(day=10)), Channel.TABLE_QR)
    await pay(factory, store, policy, 4, "42.00", at(nov.replace(day=15)), Channel.RECEIPT_CLAIM)
    await pay(factory, store, policy, 2, "45.00", at(nov.replace(day=20)), Channel.TABLE_QR)
    async with factory() as session, session.begin():
        for _ in range(20):
            await coupons.issue(
                session,
                member_id=c,
                template_key="ten_off",
                policy=policy,
                now=at(nov.replace(day=5)),
                campaign="birthday:2026-11-05",
            )
        redeemed = (
            (await session.execute(select(col(Coupon.id)).where(col(Coupon.member_id) == c)))
            .scalars()
            .all()[:3]
        )
        await session.execute(
            update(Coupon).where(col(Coupon.id).in_(redeemed)).values(status="redeemed")
        )
        session.add(
            CareSurvey(
                member_id=c,
                store_id=store.id,
                asked_at=at(nov.replace(day=11)),
                answered_at=at(nov.replace(day=11), 13),
                reason="price",
            )
        )
    assert a != c
    month = periods.current(periods.MONTH, now=NOW, timezone=SHANGHAI)
    async with factory() as session:
        return await period_reports.period_stats(
            session, store_id=store.id, currency="CNY", period=month, policy=policy, now=NOW
        )


def test_each_figure_and_the_previous_period_s(stats: PeriodStats, policy: Policy) -> None:
    assert (stats.period.start, stats.before.start, stats.before.end) == (
        at(date(2026, 11, 1), 0),
        at(date(2026, 10, 1), 0),
        at(date(2026, 10, 23)),
    )
    i18n = build_i18n()
    with i18n.context(), i18n.use_locale("en"):
        text = "\n".join(
            period_texts.stats_messages(stats, policy=policy, store=STORE, locale="en")
        )
    lines = text.split("\n")
    assert lines[0] == (
        "Noodle Bar — this month (Nov 1, 2026 – Nov 23, 2026), against Oct 1, 2026 – Oct 23, 2026"
    )
    for line in [
        "Members gained: 2 (was 2)",
        "• Table QR code: 1 (was 1)",
        "• Receipt QR code: 1 (was 0)",
        "• Paid in chat: 0 (was 1)",
        # C came back within 30 days; D joined 8 days ago and may still. In October A came back,
        # B only after 43 days
        "Returning rate: 100.0% (was 50.0%) — 1 of 1 came back within 30 days",
        "(1 more joined too recently to tell)",
        "Visits: 4 (was 3)",
        "Member revenue: CN¥165.20 (was CN¥88.80)",
        "Average ticket: CN¥41.30 (was CN¥29.60)",  # seed 004's 29.6 → 41.3
        "• first visits: CN¥41.00 (was CN¥29.40)",  # (40 + 42) / 2 against (25 + 33.80) / 2
        "• later visits: CN¥41.60 (was CN¥30.00)",  # (38.20 + 45) / 2 against 30
        "• Birthday greetings: 3 of 20 (15.0%) (was 0 of 0 (—))",
        "Why don't we see you more? 1 (was 0) asked, 1 (was 0) answered",
        "• The price: 1",
        "• Newcomer: 1 (was 1)",  # D now; B at the end of October
        "• Returning guest: 3 (was 1)",  # A, B, C now; A then
        "• Jun 2026: 0 · —",
        "• Oct 2026: 2 · CN¥29.60",
        "• Nov 2026: 2 · CN¥41.30",
        "• Oct 2026 (2): 100% · 50%",  # A and B in October; B alone in November
        "• Nov 2026 (2): 100%",
    ]:
        assert line in lines, (line, text)


def test_the_charts_print_the_text_s_numbers(stats: PeriodStats, policy: Policy) -> None:
    i18n = build_i18n()
    with i18n.context(), i18n.use_locale("en"):
        text = "\n".join(
            period_texts.stats_messages(stats, policy=policy, store=STORE, locale="en")
        )
        labels = period_charts.chart_labels(stats, title="t", locale="en", i18n=i18n)
    figure = period_charts.period_figure(stats, labels)
    gained_axes, ticket_axes, cohort_axes, *_ = figure.axes
    months = [t.get_text() for t in gained_axes.get_xticklabels()]
    assert months == ["Jun 2026", "Jul 2026", "Aug 2026", "Sep 2026", "Oct 2026", "Nov 2026"]
    gained = [round(p.get_height()) for p in gained_axes.patches]  # type: ignore[attr-defined]
    gained_printed = [t.get_text() for t in gained_axes.texts]
    tickets = [round(p.get_height(), 2) for p in ticket_axes.patches]  # type: ignore[attr-defined]
    tickets_printed = [t.get_text() for t in ticket_axes.texts]
    assert gained == [0, 0, 0, 0, 2, 2]
    assert tickets == [0, 0, 0, 0, 29.6, 41.3]
    for month, n, heights, money in zip(
        months, gained_printed, gained, tickets_printed, strict=True
    ):
        assert f"• {month}: {n} · {money}" in text  # the text's line for that month
        assert n == str(heights)
    # the cohort grid: each row's label and cells are the text's
    rows = [t.get_text() for t in cohort_axes.get_yticklabels()]
    cells: dict[float, list[tuple[float, str]]] = {}
    for t in cohort_axes.texts:
        x, y = t.get_position()
        cells.setdefault(y, []).append((x, t.get_text()))
    grid = [[c for _x, c in sorted(cells[y])] for y in sorted(cells)]
    assert rows == ["Oct 2026 (2)", "Nov 2026 (2)"]
    assert grid == [["100%", "50%"], ["100%"]]
    for row, row_cells in zip(rows, grid, strict=True):
        assert f"• {row}: {' · '.join(row_cells)}" in text
    assert period_charts.period_png(stats, labels).startswith(b"\x89PNG")


def test_previous_periods() -> None:
    """This week and this month run up to now: compared with the same stretch before."""
    tuesday = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)  # Tuesday 10:30 in Shanghai
    week = periods.current(periods.WEEK, now=tuesday, timezone=SHANGHAI)
    before = periods.previous(week)
    assert (week.start, before.start, before.end) == (
        at(date(2026, 11, 30), 0),
        at(date(2026, 11, 23), 0),
        tuesday - timedelta(days=7),
    )
    march_31 = datetime(2027, 3, 31, 4, tzinfo=UTC)
    month = periods.previous(periods.current(periods.MONTH, now=march_31, timezone=SHANGHAI))
    # the 31st against February: up to the same hour of its last day
    assert (month.start, month.end) == (at(date(2027, 2, 1), 0), at(date(2027, 2, 28)))
    custom = periods.parse_custom("2026-10-01 2026-10-31", now=NOW, timezone=SHANGHAI)
    assert (custom.first_day, custom.last_day) == (date(2026, 10, 1), date(2026, 10, 31))
    assert periods.previous(custom).first_day == date(2026, 8, 31)
    for bad, reason in (
        ("2026-10-31 2026-10-01", "order"),
        ("2027-01-01 2027-01-31", "future"),
        ("yesterday", "dates"),
        ("2020-01-01 2026-01-01", "long"),
    ):
        with pytest.raises(periods.PeriodProblem) as problem:
            periods.parse_custom(bad, now=NOW, timezone=SHANGHAI)
        assert problem.value.reason == reason
