"""`/stats` and `/campaigns` through the emulator and the real dispatcher: what the owner reads,
the chart they get (a PNG whose bars carry the text's figures), and staff-only access, down to a
stale More button."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import datetime, timedelta
from decimal import Decimal

from PIL import Image
from sqlalchemy import update
from sqlmodel import col

from bot.sandbox_run import SANDBOX_CASHIER_ID, SANDBOX_OWNER_ID, SandboxRun
from loyalty import period_reports, periods, roles
from loyalty.channels import Channel
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment, refund_payment
from loyalty.policy import load_preset
from loyalty.reports import Bar, StoreStats
from loyalty.stores import StoreInfo
from models.tables import Campaign, Role, Staff
from sandbox.client import Message, SandboxClient, button_data
from tests.app.test_delivery import at_noon, broadcast, members
from tests.app.test_pay import DANA, LI_NA
from ui import charts, period_charts, period_texts, report_texts
from ui.locales import build_i18n

STAFF_ONLY = "Sorry, this is only for the restaurant's staff."
MIA = 5_000_001  # a manager, for a while


async def pay(run: SandboxRun, who: int, name: str, amount: str, *, days_ago: float) -> int:
    """A payment at the counter `days_ago` days before the sandbox's now; the payment's id."""
    services = run.services
    async with services.session_factory() as session, session.begin():
        outcome = await record_payment(
            session,
            source=PaymentSource.POS,
            external_id=f"{who}-{days_ago}",
            store=StoreRef(id=services.store.id, timezone=services.store.timezone),
            amount=Decimal(amount),
            currency="USD",
            payer=Payer(telegram_id=who, first_name=name, channel=Channel.CHAT),
            policy=services.policy,
            now=services.clock.now() - timedelta(days=days_ago),
        )
    return outcome.payment_id


async def fetch(client: SandboxClient, url: str) -> bytes:
    if url.startswith("/"):  # the emulator's own files: relative to its address
        url = client.base_url + url
    async with client.session.get(url) as response:
        assert response.status == 200
        return await response.read()


async def nothing_more(client: SandboxClient, user_id: int, count: int) -> None:
    """Nothing else arrives in the chat (the bot has had time to send it)."""
    await asyncio.sleep(0.5)
    assert len(await client.inbox(user_id)) == count


async def test_stats_by_period_against_the_period_before_with_charts_of_the_same_figures(
    run: SandboxRun, client: SandboxClient
) -> None:
    await pay(run, DANA, "Dana", "40", days_ago=40)
    await pay(run, DANA, "Dana", "60", days_ago=10)
    await pay(run, LI_NA, "李娜", "30", days_ago=1)
    refunded = await pay(run, LI_NA, "李娜", "50", days_ago=0.5)
    async with run.services.session_factory() as session, session.begin():
        await refund_payment(
            session,
            payment_id=refunded,
            by_telegram_id=SANDBOX_OWNER_ID,
            policy=run.services.policy,
            now=run.services.clock.now(),
        )

    before = len(await client.inbox(SANDBOX_OWNER_ID))
    await client.send(SANDBOX_OWNER_ID, "/stats")
    messages = await client.wait_for(
        SANDBOX_OWNER_ID, lambda ms: any(m["photo"] for m in ms[before:]), what="the chart"
    )
    text, chart = messages[before], messages[-1]
    lines = text["text"].split("\n")
    assert lines[0].startswith("Noodle Bar — the last 4 weeks (")
    # the last 4 weeks: Li Na joined (her second visit was refunded), Dana came back; the 4
    # weeks before: Dana joined
    for line in [
        "Members gained: 1 (was 1)",
        "• Paid in chat: 1 (was 1)",
        "Visits: 2 (was 1)",
        "Member revenue: $90.00 (was $40.00)",  # the refund is out
        "Average ticket: $45.00 (was $40.00)",
        "• first visits: $30.00 (was $40.00)",
        "• later visits: $60.00 (was —)",
        "(1 more joined too recently to tell)",
    ]:
        assert line in lines, (line, lines)
    assert chart["caption"].startswith("Noodle Bar — the last 4 weeks (")
    labels = [b["text"] for row in chart["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["This week", "• Last 4 weeks", "This month", "Last 3 months", "Custom range…"]
    # the photo is exactly the chart of these figures
    services = run.services
    period = periods.current(periods.FOUR_WEEKS, now=services.clock.now(), timezone="UTC")
    async with services.session_factory() as session:
        stats = await period_reports.period_stats(
            session,
            store_id=services.store.id,
            currency="USD",
            period=period,
            policy=services.policy,
            now=period.end,
        )
    i18n = build_i18n()
    with i18n.context(), i18n.use_locale("en"):
        title = period_texts.chart_title(stats, store=_store_utc(), locale="en")
        chart_labels = period_charts.chart_labels(stats, title=title, locale="en", i18n=i18n)
    png = await fetch(client, chart["photo"]["url"])
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
    assert sum(m.gained for m in stats.months) == 2  # Dana's month and Li Na's
    assert period_charts.period_png(stats, chart_labels) == png

    # the picker: this month, then a custom range typed as two dates
    count = len(await client.inbox(SANDBOX_OWNER_ID))
    await client.press(SANDBOX_OWNER_ID, chart["message_id"], button_data(chart, "This month"))
    again = await client.wait_for(
        SANDBOX_OWNER_ID, lambda ms: any(m["photo"] for m in ms[count:]), what="the chart"
    )
    assert again[count]["text"].startswith("Noodle Bar — this month (")
    count = len(again)
    await client.press(SANDBOX_OWNER_ID, chart["message_id"], button_data(chart, "Custom range"))
    asked = await client.reply_after(SANDBOX_OWNER_ID, count - 1 + 1)
    assert asked["text"].startswith("Send the first and the last day of the range")
    first = (services.clock.now() - timedelta(days=45)).date()
    last = (services.clock.now() - timedelta(days=20)).date()
    wrong = await client.say(SANDBOX_OWNER_ID, f"{last} {first}")
    assert wrong["text"].startswith("The range ends before it starts.")
    count = len(await client.inbox(SANDBOX_OWNER_ID))
    await client.send(SANDBOX_OWNER_ID, f"{first} {last}")
    custom = await client.wait_for(
        SANDBOX_OWNER_ID, lambda ms: any(m["photo"] for m in ms[count:]), what="the chart"
    )
    custom_lines = custom[count]["text"].split("\n")
    assert "Members gained: 1 (was 0)" in custom_lines  # Dana, 40 days ago
    assert "Average ticket: $40.00 (was —)" in custom_lines
    await nothing_more(client, SANDBOX_OWNER_ID, len(custom))


def _store_utc() -> StoreInfo:
    return StoreInfo(id=1, name="Noodle Bar", timezone="UTC", currency="USD")


def bars_of(
    stats: StoreStats, labels: charts.StatsLabels
) -> tuple[list[tuple[str, int, str]], ...]:
    """(tick label, bar length, the figure printed on the bar) of each panel, as drawn."""
    figure = charts.stats_figure(stats, labels)
    panels = []
    for axes in figure.axes:
        ticks = {
            round(t): label.get_text()
            for t, label in zip(axes.get_yticks(), axes.get_yticklabels(), strict=True)
        }
        bars = sorted(axes.patches, key=lambda p: -p.get_y())  # type: ignore[attr-defined]
        printed = [t.get_text() for t in axes.texts]
        panels.append(
            [
                (ticks[round(p.get_y() + p.get_height() / 2)], round(p.get_width()), printed[i])  # type: ignore[attr-defined]
                for i, p in enumerate(bars)
            ]
        )
    return tuple(panels)


def test_the_chart_draws_the_figures_it_is_given() -> None:
    policy = load_preset("frequency")
    stats = StoreStats(
        as_of=datetime.now().astimezone(),
        currency="CNY",
        members=12_345,
        new_this_week=321,
        returning=5000,
        visits=40_000,
        payments=39_000,
        revenue=Decimal("2000000.00"),
        coupons_issued=900,
        coupons_redeemed=300,
        tiers=(
            Bar("newcomer", 7345),
            Bar("occasional", 3000),
            Bar("regular", 1500),
            Bar("loyal", 500),
        ),
        stages=tuple(
            Bar(key, n)
            for key, n in zip(
                ("newcomer", "returning", "active", "slowing", "lapsed", "lost"),
                (4000, 3000, 2345, 1000, 1000, 1000),
                strict=True,
            )
        ),
    )
    i18n = build_i18n()
    with i18n.context(), i18n.use_locale("zh_Hans"):
        text = report_texts.stats_text(
            stats, policy=policy, store=_store(), locale="zh_Hans"
        ).split("\n")
        labels = report_texts.stats_labels(stats, policy=policy, locale="zh_Hans", i18n=i18n)
    tiers, stages = bars_of(stats, labels)
    assert [(h, printed) for _n, h, printed in tiers] == [
        (7345, "7,345"),
        (3000, "3,000"),
        (1500, "1,500"),
        (500, "500"),
    ]
    assert [h for _n, h, _p in stages] == [4000, 3000, 2345, 1000, 1000, 1000]
    # the text prints the same figures, with the Chinese tier names from the policy
    # (the catalogue may use a full-width colon)
    assert any(re.fullmatch(r"• 常客\s*[:：]\s*500", line) for line in text)
    assert any(re.fullmatch(r"• 新客\s*[:：]\s*7,345", line) for line in text)
    # the chart never shows boxes: Chinese names where a CJK font is installed, else the keys
    chinese = [policy.tiers.display_name(k, "zh_Hans") for k in policy.tiers.keys]
    # matplotlib's own "Last Resort" font maps everything to boxes: it never counts as a cover
    assert not any(f.startswith("Last Resort") for f in charts.families_for(chinese) or ())
    names = [name for name, _h, _p in tiers]
    if charts.can_draw(chinese):
        assert names == chinese
    else:
        assert names == ["newcomer", "occasional", "regular", "loyal"]
        assert [name for name, _h, _p in stages] == [b.key for b in stats.stages]
    assert charts.can_draw(labels.texts(stats))
    assert charts.stats_png(stats, labels).startswith(b"\x89PNG\r\n\x1a\n")


def _store() -> StoreInfo:
    return StoreInfo(id=1, name="Noodle Bar", timezone="Asia/Shanghai", currency="CNY")


async def test_diners_and_cashiers_are_refused_and_get_nothing_else(
    run: SandboxRun, client: SandboxClient
) -> None:
    await pay(run, DANA, "Dana", "40", days_ago=1)
    for who in (DANA, SANDBOX_CASHIER_ID):
        for command in ("/stats", "/campaigns"):
            before = len(await client.inbox(who))
            refused = await client.say(who, command)
            assert refused["text"] == STAFF_ONLY
            assert refused["photo"] is None
            await nothing_more(client, who, before + 1)


async def test_campaigns_by_kind_for_a_period_and_only_managers_use_the_picker(
    run: SandboxRun, client: SandboxClient
) -> None:
    await run.worker.stop()  # the test delivers the outbox itself
    await at_noon(run)
    ids = await members(run, client, 2, [True])
    await broadcast(run, ids, period="p1", holdout=0.0)
    await run.worker.run_until_idle()
    services = run.services
    now = services.clock.now()
    async with services.session_factory() as session, session.begin():
        for i in range(10):  # ten days of holiday greetings that reached nobody
            session.add(
                Campaign(kind="holiday", period=f"h{i}", created_at=now - timedelta(days=1 + i))
            )
        session.add(
            Campaign(
                kind="broadcast",
                period="later",
                name="Hotpot night",
                status="scheduled",
                created_at=now,
                scheduled_at=now + timedelta(days=2, hours=6),
            )
        )
        await roles.grant(
            session,
            telegram_id=MIA,
            store_id=services.store.id,
            role=Role.MANAGER,
            display_name="Mia",
            granted_by=SANDBOX_OWNER_ID,
            now=now,
        )
    await client.add_user(MIA, "Mia", started=True)

    first = await client.say(MIA, "/campaigns")
    blocks = first["text"].split("\n\n")
    assert blocks[0].startswith("Campaigns by kind, the last 4 weeks (")
    # one row: the broadcast that reached people; nobody's days and the unsent one are not listed
    assert len(blocks) == 2
    lines = blocks[1].split("\n")
    assert lines[0].startswith("Broadcast — ")
    assert lines[1] == "Audience 2 (holdout 0): sent 2, delivered 2"
    assert lines[2] == (
        "Came back within 14 days: 0.0% of 2 messaged. No control group (empty holdout), so "
        "no comparison."
    )
    labels = [b["text"] for row in first["reply_markup"]["inline_keyboard"] for b in row]
    assert labels[1] == "• Last 4 weeks"
    before = len(await client.inbox(MIA))
    await client.press(MIA, first["message_id"], button_data(first, "This week"))
    week = await client.reply_after(MIA, before)
    assert week["text"].startswith("Campaigns by kind, this week (")

    # Mia is no longer a manager: the old button refuses and sends nothing
    async with services.session_factory() as session, session.begin():
        await session.execute(
            update(Staff).where(col(Staff.telegram_id) == MIA).values(revoked_at=now)
        )
    count = len(await client.inbox(MIA))
    answer = await tap(client, MIA, first, "This month")
    assert answer == STAFF_ONLY
    await nothing_more(client, MIA, count)
    refused = await client.say(MIA, "/campaigns")
    assert refused["text"] == STAFF_ONLY


async def tap(client: SandboxClient, user_id: int, message: Message, label: str) -> str | None:
    body = await client.request(
        "POST",
        f"/sandbox/users/{user_id}/press",
        {"message_id": message["message_id"], "data": button_data(message, label), "wait": 5},
    )
    answer = body["answer"]
    return answer["text"] if answer else None


async def test_the_owners_weekly_digest_comes_on_monday_morning_once(
    run: SandboxRun, client: SandboxClient
) -> None:
    await client.say(SANDBOX_OWNER_ID, "/start")
    await pay(run, DANA, "Dana", "40", days_ago=3)
    now = run.services.clock.now()
    days_to_monday = (7 - now.weekday()) % 7 or 7
    sunday_night = (now + timedelta(days=days_to_monday - 1)).replace(hour=23, minute=0)
    await client.advance_clock((sunday_night - now).total_seconds())
    before = len(await client.inbox(SANDBOX_OWNER_ID))
    ran = await client.advance_clock(9 * 3600 + 5 * 60)  # Monday 08:05: not yet
    assert ran["jobs"]["weekly_digest"] == {}
    ran = await client.advance_clock(3600)  # 09:05
    assert ran["jobs"]["weekly_digest"] == {str(run.services.store.id): {"sent": 1}}
    messages = await client.wait_for(
        SANDBOX_OWNER_ID, lambda ms: any(m["photo"] for m in ms[before:]), what="the digest"
    )
    digest = [m for m in messages[before:] if (m["text"] or "").startswith("Weekly digest")]
    (text,) = digest
    monday = sunday_night.date() + timedelta(days=1)
    week = f"{(monday - timedelta(days=7)):%b %-d, %Y} – {(monday - timedelta(days=1)):%b %-d, %Y}"
    assert text["text"].split("\n")[1].startswith(f"Noodle Bar — {week}, against ")
    count = len(await client.inbox(SANDBOX_OWNER_ID))
    ran = await client.advance_clock(3 * 3600)  # later that Monday: once a week
    assert ran["jobs"]["weekly_digest"] == {}
    await nothing_more(client, SANDBOX_OWNER_ID, count)
