"""Win-back that follows each diner, replayed through the real scheduler, outbox and delivery
with the sandbox clock, and checked from what the emulator delivered (issue 16, DESIGN §4
"Lapse", seeds 000, 003 and 004)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from bot.config import Settings
from bot.sandbox_run import SandboxRun, sandbox
from loyalty.channels import Channel
from loyalty.payments import Payer, PaymentOutcome, PaymentSource, StoreRef, record_payment
from models.tables import Coupon, Member, OutboxMessage, TierChange
from sandbox.client import SandboxClient

DAY = 24 * 3600
SEED_004_GAPS = (90, 60, 30, 60, 90, 120, 180)


@pytest.fixture
async def run(sandbox_settings: Settings, tmp_path: Path) -> AsyncIterator[SandboxRun]:
    """The default preset without the campaigns' control group: these stories follow one diner,
    and which of her messages a 10 % holdout would keep back depends on every campaign's id."""
    file = tmp_path / "winback.toml"
    file.write_text('preset = "frequency"\n[campaigns]\nholdout_share = 0\n', encoding="utf-8")
    settings = sandbox_settings.model_copy(update={"policy_file": file})
    async with sandbox(settings, port=0) as running:
        yield running


async def _start_at_ten(run: SandboxRun) -> None:
    """Tomorrow 10:00 in the store's time (UTC): outside quiet hours, after the refresh."""
    clock = run.services.clock
    now = clock.now()
    clock.advance(  # type: ignore[attr-defined]
        (now + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0) - now
    )


async def _pay(
    run: SandboxRun, telegram_id: int, ref: str, amount: Decimal = Decimal(60)
) -> PaymentOutcome:
    services = run.services
    async with services.session_factory() as session, session.begin():
        return await record_payment(
            session,
            source=PaymentSource.POS,
            external_id=ref,
            store=StoreRef(id=services.store.id, timezone=services.store.timezone),
            amount=amount,
            currency="USD",
            payer=Payer(telegram_id=telegram_id, first_name="Mei", channel=Channel.TABLE_QR),
            policy=services.policy,
            now=services.clock.now(),
        )


async def _consent(run: SandboxRun, member_id: int) -> None:
    async with run.services.session_factory() as session, session.begin():
        await session.execute(
            update(Member).where(col(Member.id) == member_id).values(marketing_consent=True)
        )


async def _member(run: SandboxRun, member_id: int) -> Member:
    async with run.services.session_factory() as session:
        member = await session.get(Member, member_id)
        assert member is not None
        return member


async def _coupons(run: SandboxRun, member_id: int) -> list[Coupon]:
    async with run.services.session_factory() as session:
        rows = await session.execute(select(Coupon).where(col(Coupon.member_id) == member_id))
        return list(rows.scalars().all())


async def _days(client: SandboxClient, days: int, *, step: int = 1) -> None:
    """Move the clock `days` days, `step` days at a time (the daily jobs catch up on the days
    a step skips; steps of more than one day keep these long stories fast)."""
    for _ in range(days // step):
        await client.advance_clock(step * DAY)
    if days % step:
        await client.advance_clock(days % step * DAY)


async def _texts_sent(run: SandboxRun, member_id: int, kind_prefix: str = "") -> list[str]:
    async with run.services.session_factory() as session:
        rows = await session.execute(
            select(col(OutboxMessage.dedupe_key), col(OutboxMessage.text)).where(
                col(OutboxMessage.member_id) == member_id, col(OutboxMessage.status) == "sent"
            )
        )
        return [text for key, text in rows.all() if key.startswith(kind_prefix)]


# -- seed 004's own series -----------------------------------------------------------------------


def _hand_interval(gaps: list[int], before: float, *, cohort: float = 30.0) -> float:
    """loyalty/lifecycle.py's formula by hand: wᵢ = 2^(−(n−i)/2), own = Σwg/Σw (to 0.001),
    E = (n·own + 1·cohort) / (n + 1) (to 0.001), at least before − gₙ/4 (rounded up)."""
    n = len(gaps)
    weights = [2 ** (-(n - i) / 2) for i in range(1, n + 1)]
    own = round(sum(w * g for w, g in zip(weights, gaps, strict=True)) / sum(weights), 3)
    blended = round((n * own + cohort) / (n + 1), 3)
    floor = math.ceil((before - gaps[-1] / 4) * 1000) / 1000
    return max(blended, floor)


async def test_seed_004_series_follows_the_diner_and_stops_spending(
    run: SandboxRun, client: SandboxClient
) -> None:
    """Gaps of 90, 60, 30, 60, 90, 120 and 180 days; she reads every message and never redeems.
    The interval follows her (by hand, visit by visit), at most two coupons in 21 months, the
    turn 30 → 60 makes her cooling (with a care message before she is overdue), and from three
    gaps on the interval lies within her last three gaps."""
    mei = 7_004_001
    await client.add_user(mei, "Mei", started=True)
    await _start_at_ten(run)
    first = await _pay(run, mei, "mei-0")
    member_id = first.member_id
    await _consent(run, member_id)
    expected = 30.0  # a newcomer: the cohort's first return (too few members: the default)
    assert float((await _member(run, member_id)).expected_interval_days or 0) == expected
    gaps: list[int] = []
    cooling_before_visit_5: list[str] = []
    for visit, gap in enumerate(SEED_004_GAPS, start=2):
        await _days(client, gap, step=2)
        if visit == 5:  # the 60-day gap after the 30-day one is running out: the turn
            cooling_before_visit_5 = await _texts_sent(run, member_id, "cooling:")
        await _pay(run, mei, f"mei-{visit}")
        gaps.append(gap)
        member = await _member(run, member_id)
        expected = _hand_interval(gaps, expected)
        got = float(member.expected_interval_days or 0)
        assert abs(got - expected) <= 0.0011, (visit, got, expected)
        if len(gaps) >= 3:
            last_three = gaps[-3:]
            assert min(last_three) <= got <= max(last_three), (visit, got, last_three)
        if visit == 4:
            assert member.turn == "rising"  # 90, 60, 30: her gaps shorten
        if visit >= 5:
            assert member.turn == "cooling", visit  # 30 → 60 and on: they lengthen
    # the turn was seen while the 60-day gap ran (at 1.25 × 30 days), before she was overdue:
    # one early care message, no offer in it
    assert len(cooling_before_visit_5) == 1
    assert "/wallet" not in cooling_before_visit_5[0]
    # no spend on the unmoved: two offers unanswered, then care only — over the whole series
    issued = await _coupons(run, member_id)
    assert len(issued) <= run.services.policy.ladder.max_unanswered_offers
    assert all(c.status == "active" for c in issued)  # never redeemed
    member = await _member(run, member_id)
    assert member.unanswered_offers == len(issued) == 2
    # what the outbox sent is what reached her chat
    sent = await _texts_sent(run, member_id)
    inbox = [m.get("text") for m in await client.inbox(mei)]
    assert all(text in inbox for text in sent)


# -- the loyal who pause: care, not discounts (seed 000) -----------------------------------------


async def test_a_loyal_member_who_stops_coming_gets_care_never_a_discount(
    run: SandboxRun, client: SandboxClient
) -> None:
    """Eight dinners ten days apart make her loyal; then she stops. Her first visit leaves the
    90-day window while she is overdue, and after 400 days every visit has left it; still no
    coupon of any kind, and her care messages arrive."""
    li = 7_000_002
    await client.add_user(li, "Li", started=True)
    await _start_at_ten(run)
    member_id = (await _pay(run, li, "li-0")).member_id
    await _consent(run, member_id)
    for visit in range(1, 8):
        await _days(client, 10)
        await _pay(run, li, f"li-{visit}")
    member = await _member(run, member_id)
    assert member.tier == "loyal"
    lost_due = member.lost_due_at
    assert lost_due is not None
    await _days(client, 400, step=3)
    assert await _coupons(run, member_id) == []
    care = await _texts_sent(run, member_id, "winback_1:") + await _texts_sent(
        run, member_id, "cooling:"
    )
    assert len(care) == 2  # the early care at the turn, and the win-back's care step
    inbox = [m.get("text") for m in await client.inbox(li)]
    assert all(text in inbox for text in care)
    member = await _member(run, member_id)
    assert member.tier != "loyal"  # the window has long passed: she was moved down …
    async with run.services.session_factory() as session:
        downs = (
            (
                await session.execute(
                    select(TierChange).where(
                        col(TierChange.member_id) == member_id,
                        col(TierChange.direction) == "down",
                    )
                )
            )
            .scalars()
            .all()
        )
    # … but never inside her open win-back episode (lapsed until lost)
    assert downs
    assert all(change.at >= lost_due for change in downs)


# -- offers sized to the diner ---------------------------------------------------------------------


async def test_a_member_whose_bills_are_80_never_gets_a_coupon_asking_more(
    run: SandboxRun, client: SandboxClient
) -> None:
    """Bills of 60, 80 and 120 (median 80): the ladder's 20-off-100 and 40-off-150 come as
    20 off 80, each valid past her next expected visit plus a week, and say so."""
    jo = 7_000_003
    await client.add_user(jo, "Jo", started=True)
    await _start_at_ten(run)
    member_id = (await _pay(run, jo, "jo-0", Decimal(60))).member_id
    await _consent(run, member_id)
    for visit, amount in ((1, Decimal(80)), (2, Decimal(120))):
        await _days(client, 20)
        await _pay(run, jo, f"jo-{visit}", amount)
    await _days(client, 120, step=2)
    issued = sorted(await _coupons(run, member_id), key=lambda c: c.issued_at)
    assert len(issued) == 2  # both coupon steps of the ladder
    assert all(c.min_spend <= Decimal(80) for c in issued)
    assert [c.template for c in issued] == ["winback_2", "twenty_off_100"]
    assert issued[0].adapted.startswith("min_spend 100->80")
    assert issued[1].adapted.startswith("template winback_3->twenty_off_100; min_spend 100->80")
    member = await _member(run, member_id)
    interval = timedelta(days=float(member.expected_interval_days or 0))
    assert member.last_visit_at is not None
    for coupon in issued:
        # the next step of her rhythm after the coupon was issued, plus the week of slack
        steps = (coupon.issued_at - member.last_visit_at) // interval + 1
        reach = member.last_visit_at + steps * interval + timedelta(days=7)
        assert coupon.valid_until >= reach.replace(hour=0, minute=0, second=0, microsecond=0)


# -- one congratulation per tier ---------------------------------------------------------------


async def test_a_flapping_tier_is_congratulated_once(
    run: SandboxRun, client: SandboxClient
) -> None:
    """A payment raises her tier, the nightly refresh lowers it (after the grace days), the next
    payment raises it again: congratulated the first time only."""
    ana = 7_000_004
    await client.add_user(ana, "Ana", started=True)
    await _start_at_ten(run)
    member_id = (await _pay(run, ana, "ana-0")).member_id
    await _days(client, 80)
    raised = await _pay(run, ana, "ana-1")
    assert raised.tier_up == "occasional"  # the receipt congratulates her
    # day 121: the first visit left the 90-day window 31 days ago (grace 30): moved down
    await _days(client, 41)
    assert (await _member(run, member_id)).tier == "newcomer"
    before = len(await client.inbox(ana))
    await _days(client, 4)
    again = await _pay(run, ana, "ana-2")
    assert again.tier_up is None  # the same tier again within the year: no second congratulation
    await _days(client, 2)
    async with run.services.session_factory() as session:
        changes = (
            (
                await session.execute(
                    select(TierChange)
                    .where(col(TierChange.member_id) == member_id)
                    .order_by(col(TierChange.id))
                )
            )
            .scalars()
            .all()
        )
    assert [(c.to_tier, c.direction) for c in changes] == [
        ("occasional", "up"),
        ("newcomer", "down"),
        ("occasional", "up"),
    ]
    assert [c.congratulated_at is not None for c in changes] == [True, False, False]
    later = [m.get("text") or "" for m in (await client.inbox(ana))[before:]]
    assert not any("Congratulations" in text for text in later)
