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
from loyalty import reports, roles
from loyalty.channels import Channel
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment, refund_payment
from loyalty.policy import load_preset
from loyalty.reports import Bar, StoreStats
from loyalty.stores import StoreInfo
from models.tables import Campaign, Role, Staff
from sandbox.client import Message, SandboxClient, button_data
from tests.app.test_delivery import at_noon, broadcast, members
from tests.app.test_pay import DANA, LI_NA
from ui import charts, report_texts
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


async def test_stats_for_the_owner_text_and_a_chart_with_the_same_figures(
    run: SandboxRun, client: SandboxClient
) -> None:
    await pay(run, DANA, "Dana", "40", days_ago=10)
    await pay(run, DANA, "Dana", "60", days_ago=2)
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
    text = await client.say(SANDBOX_OWNER_ID, "/stats")
    lines = text["text"].split("\n")
    assert lines[0].startswith("Noodle Bar — figures as of ")
    # two members; Li Na's second visit was refunded: only Dana came back
    for line in [
        "Members: 2",
        "New this week: 1",  # Li Na; Dana joined 10 days ago
        "Returning rate: 50.0% (1 came back for a second visit)",
        "Average ticket: $43.33 (over 3 payments)",  # (40 + 60 + 30) / 3; the refund is out
        "Visits per member: 1.5",
        "Coupon redemption rate: — (0 of 0 redeemed)",
        "• Newcomer: 1",
        "• Returning guest: 1",
        "• Regular: 0",
        "• Loyal: 0",
        "• One visit so far: 1",
        "• Coming back: 1",
        "• Gone quiet: 0",
    ]:
        assert line in lines, (line, lines)

    messages = await client.wait_for(
        SANDBOX_OWNER_ID, lambda ms: len(ms) >= before + 2, what="the chart"
    )
    chart = messages[before + 1]
    assert chart["photo"] is not None
    assert chart["caption"] == "Members: 2 · New this week: 1"
    png = await fetch(client, chart["photo"]["url"])
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        assert image.size == (800, 700)
    # the photo is exactly the chart of these figures, whose bars carry the text's numbers
    async with run.services.session_factory() as session:
        stats = await reports.store_stats(
            session,
            store_id=run.services.store.id,
            currency="USD",
            policy=run.services.policy,
            now=run.services.clock.now(),
        )
    i18n = build_i18n()
    with i18n.context(), i18n.use_locale("en"):
        labels = report_texts.stats_labels(
            stats, policy=run.services.policy, locale="en", i18n=i18n
        )
    assert charts.stats_png(stats, labels) == png
    tiers, stages = bars_of(stats, labels)
    assert tiers == [("Newcomer", 1, "1"), ("Returning guest", 1, "1"), ("Regular", 0, "0"),
                     ("Loyal", 0, "0")]  # fmt: skip
    for name, _height, label in tiers + stages:
        assert f"• {name}: {label}" in lines
    await nothing_more(client, SANDBOX_OWNER_ID, before + 2)


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


async def test_campaigns_list_results_and_a_more_button_only_managers_can_use(
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
        for i in range(10):  # older campaigns: the list is longer than a page
            session.add(
                Campaign(kind="holiday", period=f"h{i}", created_at=now - timedelta(days=30 + i))
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
        session.add(
            Campaign(
                kind="broadcast",
                period="off",
                status="cancelled",  # scheduled, then cancelled (a discarded draft is not listed)
                created_at=now - timedelta(days=1),
                scheduled_at=now + timedelta(days=1),
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
    text = first["text"]
    when = (now + timedelta(days=2, hours=6)).strftime("%b %-d, %Y")
    assert text.startswith(
        "Campaigns, newest first:\n\n1. Broadcast “Hotpot night” — scheduled for "
    )
    assert text.split("\n")[2].endswith(f"scheduled for {when} 6:00\u202fPM")
    assert text.split("\n\n")[1].count("\n") == 0  # nothing planned yet: no figures
    sent_block = text.split("\n\n")[2].split("\n")
    assert sent_block[0].startswith("2. Broadcast — ")
    assert sent_block[1] == "Audience 2 (holdout 0): sent 2, waiting 0, failed 0"
    assert sent_block[2] == (
        "Came back within 14 days: 0.0% of those messaged. "
        "No control group (empty holdout), so no lift."
    )
    cancelled = text.split("\n\n")[3].split("\n")[0]
    assert cancelled.startswith("3. Broadcast — ")
    assert cancelled.endswith(", cancelled")
    assert text.split("\n\n")[4].endswith("\nNobody was in the audience.")
    assert text.count("Holiday greetings") == 7  # 10 on the first page
    more = button_data(first, "More")

    before = len(await client.inbox(MIA))
    await client.press(MIA, first["message_id"], more)
    second = await client.reply_after(MIA, before)
    assert second["text"].startswith("Campaigns, newest first:\n\n11. Holiday greetings — ")
    assert second["text"].count("Holiday greetings") == 3
    assert not (second.get("reply_markup") or {}).get("inline_keyboard")

    # Mia is no longer a manager: the old button refuses and sends nothing
    async with services.session_factory() as session, session.begin():
        await session.execute(
            update(Staff).where(col(Staff.telegram_id) == MIA).values(revoked_at=now)
        )
    count = len(await client.inbox(MIA))
    answer = await tap(client, MIA, first, "More")
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
