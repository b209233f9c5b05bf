"""A year and a month in the sandbox: the scheduler's campaigns over simulated diners, checked
from what the emulator delivered."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, update
from sqlmodel import col

from bot.sandbox_run import SANDBOX_CASHIER_ID, SANDBOX_OWNER_ID, SandboxRun
from loyalty import coupons
from loyalty.campaign_kinds import kind_of
from loyalty.channels import Channel
from loyalty.outbox import celebrated_on
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment
from models.tables import Campaign, Coupon, Member, OutboxMessage, TelegramUser
from sandbox.client import SandboxClient, button_data
from scheduler.campaign_jobs import birthday_days

FIRST = 8_000_001
DAYS = 400
STEP_HOURS = 8  # the clock visits 00:00, 08:00 (quiet: planned, deferred) and 16:00 (sent)


def test_a_29_february_birthday_is_celebrated_on_28_february_in_common_years() -> None:
    assert birthday_days(date(2027, 2, 28)) == [(2, 28), (2, 29)]
    assert birthday_days(date(2028, 2, 28)) == [(2, 28)]
    assert birthday_days(date(2028, 2, 29)) == [(2, 29)]
    assert celebrated_on(date(2000, 2, 29), 2027) == date(2027, 2, 28)
    assert celebrated_on(date(2000, 2, 29), 2028) == date(2028, 2, 29)


async def _pay(run: SandboxRun, telegram_id: int, ref: str) -> int:
    services = run.services
    async with services.session_factory() as session, session.begin():
        outcome = await record_payment(
            session,
            source=PaymentSource.POS,
            external_id=ref,
            store=StoreRef(id=services.store.id, timezone=services.store.timezone),
            amount=Decimal(60),
            currency="USD",
            payer=Payer(
                telegram_id=telegram_id,
                first_name=f"Diner{telegram_id - FIRST}",
                channel=Channel.TABLE_QR,
            ),
            policy=services.policy,
            now=services.clock.now(),
        )
    return outcome.member_id


async def test_four_hundred_days_of_campaigns(run: SandboxRun, client: SandboxClient) -> None:
    services = run.services
    now = services.clock.now()
    start = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    services.clock.advance(start - now)  # type: ignore[attr-defined]
    start_day = start.date()

    consent: dict[int, bool | None] = {}
    birthdays: dict[int, date] = {}
    members: dict[int, int] = {}
    regulars = set()
    for i in range(16):
        telegram_id = FIRST + i
        await client.add_user(telegram_id, f"Diner{i}", started=True)
        members[telegram_id] = await _pay(run, telegram_id, f"first-{i}")
        consent[telegram_id] = None if i in (3, 7) else i != 11
        # birthdays spread over the year; one on 29 February, one three days from now
        if i == 0:
            birthdays[telegram_id] = date(1992, 2, 29)
        elif i == 1:
            soon = start_day + timedelta(days=3)
            birthdays[telegram_id] = date(1990, soon.month, soon.day)
        else:
            later = start_day + timedelta(days=23 * i)
            birthdays[telegram_id] = date(1985, later.month, min(later.day, 28))
        if i % 4 == 0:
            regulars.add(telegram_id)
        async with services.session_factory() as session, session.begin():
            await session.execute(
                update(Member)
                .where(col(Member.id) == members[telegram_id])
                .values(marketing_consent=consent[telegram_id], birthday=birthdays[telegram_id])
            )
    stopper = FIRST + 5
    stopped_at: datetime | None = None
    redeemed: str | None = None  # the campaign of the one coupon a diner uses

    for step in range(DAYS * 24 // STEP_HOURS):
        day = step * STEP_HOURS // 24
        if step % (24 // STEP_HOURS) == 2 and day % 9 == 0 and day < 200:
            for telegram_id in regulars:  # regulars come every nine days for half a year
                await _pay(run, telegram_id, f"visit-{telegram_id}-{day}")
        if day == 100 and stopped_at is None:
            await client.say(stopper, "/stop")
            stopped_at = services.clock.now()
        if redeemed is None and day >= 60 and step % (24 // STEP_HOURS) == 2:
            redeemed = await _redeem_a_campaign_coupon(run)
        await client.advance_clock(STEP_HOURS * 3600)

    async with services.session_factory() as session:
        rows = (
            (
                await session.execute(  # campaigns only: not the post-visit questions
                    select(OutboxMessage).where(col(OutboxMessage.campaign_id).is_not(None))
                )
            )
            .scalars()
            .all()
        )
        kinds = {c.id: c.kind for c in (await session.execute(select(Campaign))).scalars()}
    by_member: dict[int, list[OutboxMessage]] = defaultdict(list)
    for row in rows:
        by_member[row.telegram_id].append(row)
    texts = {row.text for row in rows}
    assert {kinds[r.campaign_id] for r in rows if r.campaign_id} >= {
        "birthday",
        "second_visit",
        "winback_1",
        "winback_2",
        "holiday",
    }
    quiet = services.policy.caps.quiet_hours
    cap = services.policy.caps.max_marketing_per_week
    for telegram_id, member_rows in by_member.items():
        assert consent[telegram_id] is True, "only members who said yes get campaigns"
        delivered = [m for m in await client.inbox(telegram_id) if (m.get("text") or "") in texts]
        sent = [r for r in member_rows if r.status == "sent"]
        # the emulator holds exactly what the outbox sent: holdouts and others got nothing
        assert len(delivered) == len(sent), telegram_id
        assert all(r.status in {"sent", "holdout"} for r in member_rows)
        times = sorted(datetime.fromtimestamp(m["date"], UTC) for m in delivered)
        for at in times:
            assert not quiet.contains(at.time()), f"sent at {at} in quiet hours"
        for i, at in enumerate(times):
            in_week = [t for t in times[i:] if t - at < timedelta(days=7)]
            assert len(in_week) <= cap, f"{telegram_id}: {len(in_week)} messages from {at}"
        if telegram_id == stopper:
            assert stopped_at is not None
            assert all(t < stopped_at for t in times)
    await _campaigns_by_kind(run, client, start_day=start_day, redeemed=redeemed)
    # every member who said yes was greeted on each birthday: exactly once (sent or holdout)
    end = services.clock.now().date()
    for telegram_id, born in birthdays.items():
        if consent[telegram_id] is not True or telegram_id == stopper:
            continue
        expected = [
            celebrated_on(born, year)
            for year in range(start_day.year, end.year + 1)
            if start_day <= celebrated_on(born, year) <= end
        ]
        greeted = sorted(
            r.dedupe_key.split(":")[1]
            for r in by_member[telegram_id]
            if r.campaign_id and kinds[r.campaign_id] == "birthday"
        )
        assert greeted == [d.isoformat() for d in expected], telegram_id


async def _redeem_a_campaign_coupon(run: SandboxRun) -> str | None:
    """A diner uses a campaign's coupon at the counter (a bill of 120): that campaign's key."""
    services = run.services
    async with services.session_factory() as session, session.begin():
        coupon = await session.scalar(
            select(Coupon)
            .where(col(Coupon.status) == "active", col(Coupon.campaign).like("%:%"))
            .order_by(col(Coupon.id))
            .limit(1)
        )
        if coupon is None or coupon.id is None:
            return None
        member = await session.get(Member, coupon.member_id)
        assert member is not None
        user = await session.get(TelegramUser, member.telegram_user_id)
        assert user is not None
        ticket = await coupons.request_redemption(
            session,
            coupon_id=coupon.id,
            telegram_id=user.telegram_id,
            policy=services.policy,
            now=services.clock.now(),
        )
        await coupons.redeem_at_counter(
            session,
            redemption_id=ticket.redemption_id,
            cashier_telegram_id=SANDBOX_CASHIER_ID,
            bill_amount=Decimal(120),
            store=StoreRef(id=services.store.id, timezone=services.store.timezone),
            policy=services.policy,
            now=services.clock.now(),
        )
        return coupon.campaign


async def _campaigns_by_kind(
    run: SandboxRun, client: SandboxClient, *, start_day: date, redeemed: str | None
) -> None:
    """/campaigns over the whole time: one row per kind (not one per day), the redeemed coupon
    on the first page; and each period of the picker lists a kind once at most."""
    assert redeemed is not None
    end_day = run.services.clock.now().date()
    titles = {
        "birthday": "Birthday greetings",
        "second_visit": "Second-visit nudge",
        "winback": "Win-back",
        "holiday": "Holiday greetings",
    }
    await client.say(SANDBOX_OWNER_ID, "/start")
    whole = await client.say(SANDBOX_OWNER_ID, f"/campaigns {start_day} {end_day}")
    blocks = whole["text"].split("\n\n")
    assert blocks[0].startswith("Campaigns by kind, ")
    heads = [b.split("\n")[0] for b in blocks[1:]]
    whole_kinds = set(heads)
    assert len(heads) == len(whole_kinds), heads  # one row per kind
    assert [h for h in heads if h in titles.values()] == list(titles.values())
    assert "Reminder: a coupon runs out" in heads  # the reminders are kinds of their own
    assert "Membership anniversary" in heads  # the first members' year came round
    row = next(b for b in blocks if b.startswith(titles[kind_of(redeemed.split(":")[0])]))
    assert "Coupons redeemed: 1 of " in row
    assert ", bills $120.00" in row
    for label in ("This week", "Last 4 weeks", "This month", "Last 3 months"):
        count = len(await client.inbox(SANDBOX_OWNER_ID))
        await client.press(SANDBOX_OWNER_ID, whole["message_id"], button_data(whole, label))
        shown = await client.reply_after(SANDBOX_OWNER_ID, count)
        heads = [b.split("\n")[0] for b in shown["text"].split("\n\n")[1:]]
        assert len(heads) == len(set(heads)), (label, heads)
        # a period shows the kinds of the whole time that reached someone in it, each once
        assert set(heads) <= whole_kinds | {"No campaign reached anyone in this period."}


async def test_daily_jobs_start_today_and_catch_up_after_downtime(run: SandboxRun) -> None:
    clock = run.services.clock
    now = clock.now()
    morning = (now + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    clock.advance(morning - now)  # type: ignore[attr-defined]
    first = await run.scheduler.run_due()
    assert list(first["birthdays"]) == [morning.date().isoformat()]  # no belated days
    again = await run.scheduler.run_due()  # the same day: nothing owed
    assert all(again[name] == {} for name in ("birthdays", "second_visits", "winback", "holidays"))
    clock.advance(timedelta(days=3))  # type: ignore[attr-defined]  # the app was down
    later = await run.scheduler.run_due()
    missed = [(morning.date() + timedelta(days=d)).isoformat() for d in (1, 2, 3)]
    assert list(later["birthdays"]) == missed
    assert list(later["winback"]) == missed
