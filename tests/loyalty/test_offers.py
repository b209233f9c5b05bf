"""Offers that fit the diner, the unmoved left alone, status remembered through a lapse, and the
tier rules that keep it (loyalty.offers, loyalty.tiers.settle) — by hand and on a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from loyalty import audiences, coupons, offers, reports, tiers
from loyalty.channels import Channel
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment
from loyalty.policy import CouponTemplate, Policy, load_policy
from models.tables import Member, TierChange

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
ZONE = "Asia/Shanghai"
D = Decimal


def _fit(
    policy: Policy, key: str, median: D | None, next_visit: datetime | None = None
) -> offers.Fitted:
    return offers.fit(
        policy,
        key=key,
        terms=policy.coupons.templates[key],
        median=median,
        next_visit=next_visit,
        now=NOON,
        timezone=ZONE,
    )


# -- fitting, by hand ----------------------------------------------------------------------------


def test_a_minimum_above_the_typical_bill_is_lowered_to_it(policy: Policy) -> None:
    fitted = _fit(policy, "twenty_off_100", D("80.60"))
    assert (fitted.key, fitted.terms.min_spend, fitted.terms.value) == (
        "twenty_off_100",
        D(80),
        D(20),
    )
    assert fitted.adapted == "min_spend 100->80"  # a whole unit, never above the median


def test_a_template_may_say_pick_the_smaller_one(policy: Policy) -> None:
    # forty_off_150 says: smaller = twenty_off_100, which is then lowered to the bill
    fitted = _fit(policy, "forty_off_150", D(120))
    assert (fitted.key, fitted.terms.value, fitted.terms.min_spend) == (
        "twenty_off_100",
        D(20),
        D(100),
    )
    assert fitted.adapted == "template forty_off_150->twenty_off_100"
    low = _fit(policy, "forty_off_150", D(60))
    assert (low.key, low.terms.min_spend) == ("twenty_off_100", D(60))
    assert low.adapted == "template forty_off_150->twenty_off_100; min_spend 100->60"


def test_an_offer_within_the_bill_and_the_rhythm_is_left_as_it_is(policy: Policy) -> None:
    fitted = _fit(policy, "forty_off_150", D(150), NOON + timedelta(days=3))
    assert fitted == offers.Fitted("forty_off_150", policy.coupons.templates["forty_off_150"])
    assert _fit(policy, "twenty_off_100", None).adapted == ""  # no bill known: as it is


def test_validity_reaches_the_next_expected_visit_plus_the_slack(policy: Policy) -> None:
    # next visit in 40 days (Shanghai day 2 Jan), + 7 days of slack: valid 47 days, not 14
    fitted = _fit(policy, "twenty_off_100", D(200), NOON + timedelta(days=40))
    assert fitted.terms.valid_days == 47
    assert fitted.adapted == "valid_days 14->47"
    until = coupons.valid_until(fitted.terms, now=NOON, timezone=ZONE)
    assert until >= NOON + timedelta(days=47)
    # never past a year
    assert _fit(policy, "ten_off", None, NOON + timedelta(days=900)).terms.valid_days == 365


def test_the_typical_bill_is_the_median() -> None:
    assert offers.median_bill([D(60), D(80), D(120)]) == D(80)
    assert offers.median_bill([D(60), D(80), D(120), D(200)]) == D(100)
    assert offers.median_bill([D(0), D(80)]) == D(80)  # a sitting paid by others counts not
    assert offers.median_bill([]) is None


# -- tiers: up at once, down after the grace, never inside an episode ---------------------------


def test_settle(policy: Policy) -> None:
    def settle(stored: str, strict: str, lenient: str, *, in_episode: bool = False) -> str:
        return tiers.settle(
            policy, stored=stored, strict=strict, lenient=lenient, in_episode=in_episode
        )

    assert settle("regular", "loyal", "loyal") == "loyal"  # up at once
    assert settle("regular", "loyal", "loyal", in_episode=True) == "loyal"
    assert settle("loyal", "newcomer", "loyal") == "loyal"  # the grace days still hold it
    assert settle("loyal", "newcomer", "regular") == "regular"  # down as far as the grace allows
    assert settle("loyal", "newcomer", "newcomer") == "newcomer"
    assert settle("loyal", "newcomer", "newcomer", in_episode=True) == "loyal"  # not in an episode
    assert settle("gone", "newcomer", "newcomer") == "newcomer"  # a tier the policy no longer has


# -- on the database ------------------------------------------------------------------------------


async def _pay(
    factory: async_sessionmaker[AsyncSession],
    store: StoreRef,
    policy: Policy,
    *,
    at: datetime,
    ref: str,
) -> int:
    async with factory() as session, session.begin():
        outcome = await record_payment(
            session,
            source=PaymentSource.POS,
            external_id=ref,
            store=store,
            amount=D(80),
            currency="CNY",
            payer=Payer(telegram_id=501, first_name="Kai", channel=Channel.CHAT),
            policy=policy,
            now=at,
        )
    return outcome.member_id


async def test_the_treatment_tier_is_the_highest_within_the_look_back(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    kai = await _pay(factory, store, policy, at=NOON, ref="k0")
    async with factory() as session, session.begin():
        for days, before, after in ((10, "newcomer", "loyal"), (100, "loyal", "regular")):
            session.add(
                TierChange(
                    member_id=kai,
                    from_tier=before,
                    to_tier=after,
                    direction="up" if after == "loyal" else "down",
                    reason="test",
                    at=NOON + timedelta(days=days),
                )
            )
    look_back = policy.tiers.treatment_lookback_days  # 180

    async def treated(days: int) -> str:
        async with factory() as session:
            found = await offers.treatment_tiers(
                session, policy=policy, members=[(kai, "regular")], now=NOON + timedelta(days=days)
            )
        return found[kai]

    assert await treated(120) == "loyal"  # loyal until day 100: within the look-back
    assert await treated(100 + look_back) == "loyal"
    assert await treated(101 + look_back) == "regular"  # the move down is older than that


async def test_redeeming_any_coupon_answers_the_offers(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    kai = await _pay(factory, store, policy, at=NOON, ref="k0")
    async with factory() as session, session.begin():
        await session.execute(
            update(Member).where(col(Member.id) == kai).values(unanswered_offers=3)
        )
        view = await coupons.gift(
            session,
            member_id=kai,
            template_key="ten_off",
            by_telegram_id=1,
            policy=policy,
            now=NOON,
        )
    later = NOON + timedelta(days=1)
    async with factory() as session, session.begin():
        got = await coupons.request_redemption(
            session, coupon_id=view.id, telegram_id=501, policy=policy, now=later
        )
        seen = await coupons.find_by_code(
            session, short_code=got.short_code, cashier_telegram_id=900, policy=policy, now=later
        )
        assert seen is not None
        await coupons.redeem_at_counter(
            session,
            redemption_id=seen.redemption_id,
            cashier_telegram_id=900,
            bill_amount=D(90),
            store=store,
            policy=policy,
            now=later,
        )
    async with factory() as session:
        member = await session.get(Member, kai)
        assert member is not None
        assert member.unanswered_offers == 0


@pytest.fixture
def visit_answers(tmp_path: Path) -> Policy:
    file = tmp_path / "visit.toml"
    file.write_text('preset = "frequency"\n[ladder]\noffer_answered_by = "visit"\n')
    return load_policy(file)


async def test_with_visit_answers_a_visit_while_an_offer_is_valid_answers_it(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, visit_answers: Policy
) -> None:
    policy = visit_answers
    kai = await _pay(factory, store, policy, at=NOON, ref="k0")
    async with factory() as session, session.begin():
        member = await session.get(Member, kai)
        assert member is not None
        member.unanswered_offers = 2
        await coupons.issue(
            session,
            member_id=kai,
            template_key="winback_2",
            terms=replace(policy.coupons.templates["twenty_off_100"], valid_days=14),
            policy=policy,
            now=NOON,
            campaign="winback_2:2026-11-23",
        )
    # a visit after the coupon ran out answers nothing …
    await _pay(factory, store, policy, at=NOON + timedelta(days=20), ref="k1")
    async with factory() as session:
        member = await session.get(Member, kai)
        assert member is not None
        assert member.unanswered_offers == 2
    # … a visit while one is valid does, even without redeeming it
    async with factory() as session, session.begin():
        await coupons.issue(
            session,
            member_id=kai,
            template_key="ten_off",
            terms=policy.coupons.templates["ten_off"],
            policy=policy,
            now=NOON + timedelta(days=21),
            campaign="second_visit:once",
        )
    await _pay(factory, store, policy, at=NOON + timedelta(days=25), ref="k2")
    async with factory() as session:
        member = await session.get(Member, kai)
        assert member is not None
        assert member.unanswered_offers == 0


def test_unmoved_at_the_limit(policy: Policy) -> None:
    limit = policy.ladder.max_unanswered_offers
    assert not offers.unmoved(policy, limit - 1)
    assert offers.unmoved(policy, limit)


def test_a_lowered_minimum_is_a_valid_template(policy: Policy) -> None:
    fitted = _fit(policy, "twenty_off_100", D(15))
    assert isinstance(fitted.terms, CouponTemplate)
    assert fitted.terms.min_spend == 15 < fitted.terms.value  # a coupon worth more than the
    # bill still never takes off more than the bill
    assert fitted.terms.discount(D(15), places=2) == D(15)


async def test_turns_are_a_broadcast_segment_and_the_unmoved_are_counted_in_stats(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    ids = []
    for n in range(4):
        async with factory() as session, session.begin():
            outcome = await record_payment(
                session,
                source=PaymentSource.POS,
                external_id=f"s{n}",
                store=store,
                amount=D(50),
                currency="CNY",
                payer=Payer(telegram_id=600 + n, first_name=f"m{n}", channel=Channel.CHAT),
                policy=policy,
                now=NOON,
            )
        ids.append(outcome.member_id)
    later = NOON + timedelta(days=2)
    async with factory() as session, session.begin():
        rows: dict[int, dict[str, object]] = {
            ids[0]: {"turn": "rising"},
            ids[1]: {"turn": "cooling", "unanswered_offers": 2},
            # not marked yet by the nightly refresh, but the cooling date has passed
            ids[2]: {"turn": "rising", "cooling_due_at": NOON + timedelta(days=1)},
            ids[3]: {"unanswered_offers": 1, "cooling_due_at": NOON + timedelta(days=3)},
        }
        for member_id, values in rows.items():
            await session.execute(
                update(Member).where(col(Member.id) == member_id).values(**values)
            )

    async def count(*turns: str) -> int:
        async with factory() as session:
            return await audiences.count(
                session,
                segment=audiences.Segment(turns=turns),
                policy=policy,
                now=later,
                default_locale="en",
            )

    assert await count("rising") == 1
    assert await count("cooling") == 2
    assert await count("rising", "cooling") == 3
    segment = audiences.Segment().toggled("turns", "cooling")
    assert audiences.Segment.from_json(segment.to_json()) == segment
    with pytest.raises(audiences.SegmentProblem):
        audiences.Segment(turns=("warming",)).check(policy)
    async with factory() as session:
        stats = await reports.store_stats(
            session, store_id=store.id, currency="CNY", policy=policy, now=later
        )
    assert stats.care_only == 1  # two unanswered offers in a row: care messages only
