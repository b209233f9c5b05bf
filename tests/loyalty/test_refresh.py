"""The nightly refresh and the due query on a real database (SQLite file or PostgreSQL): the SQL
must agree with the Python rules member by member, and must not work member by member."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import col

from loyalty import lifecycle, refresh, tiers
from loyalty.channels import Channel
from loyalty.lifecycle import Stage
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment, refund_payment
from loyalty.policy import Policy, load_policy, load_preset
from models.db import create_engine, create_session_factory
from models.migrate import upgrade
from models.tables import Member, Payment, TelegramUser, TierChange, Visit

NOW = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)  # 03:00 in Shanghai
D = Decimal


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


def small_cohorts(tmp_path: Path, preset: str = "frequency", least: int = 3) -> Policy:
    file = tmp_path / f"{preset}-small.toml"
    file.write_text(f'preset = "{preset}"\n[lapse]\nmin_cohort_members = {least}\n')
    return load_policy(file)


async def add_member(
    session: AsyncSession,
    *,
    store: StoreRef,
    telegram_id: int,
    channel: Channel = Channel.TABLE_QR,
    tier: str = "newcomer",
    enrolled_at: datetime,
    referrer: int | None = None,
    **aggregates: Any,
) -> Member:
    user = TelegramUser(telegram_id=telegram_id, first_seen_at=enrolled_at, last_seen_at=NOW)
    session.add(user)
    await session.flush()
    member = Member(
        telegram_user_id=user.id,
        store_id=store.id,
        display_name=f"m{telegram_id}",
        acquisition_channel=channel.value,
        enrolled_at=enrolled_at,
        tier=tier,
        referrer_member_id=referrer,
        **aggregates,
    )
    session.add(member)
    await session.flush()
    return member


async def add_visits(
    session: AsyncSession, member: Member, *, store: StoreRef, visits: list[tuple[datetime, D]]
) -> None:
    """Visits with their payments, and the member's aggregates as payments would leave them."""
    assert member.id is not None
    for i, (at, amount) in enumerate(sorted(visits)):
        payment = Payment(
            source="pos",
            external_id=f"{member.id}-{i}",
            store_id=store.id,
            member_id=member.id,
            amount=amount,
            currency="CNY",
            status="credited",
            created_at=at,
            credited_at=at,
        )
        session.add(payment)
        await session.flush()
        session.add(Visit(member_id=member.id, store_id=store.id, payment_id=payment.id, at=at))
    times = sorted(at for at, _ in visits)
    gaps = lifecycle.gaps_of(times)
    member.visit_count = len(times)
    member.first_visit_at = times[0] if times else None
    member.last_visit_at = times[-1] if times else None
    member.gap_count = len(gaps)
    member.gap_mean_days = lifecycle.quantize_days(sum(gaps, D(0)) / len(gaps)) if gaps else D(0)
    member.gap_weighted_days = lifecycle.weighted_gap(load_preset("frequency"), gaps)
    member.first_gap_days = lifecycle.quantize_days(gaps[0]) if gaps else None
    await session.flush()


# -- cohort norms ------------------------------------------------------------------------------


async def test_norms_are_medians_with_fallbacks(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, tmp_path: Path
) -> None:
    policy = small_cohorts(tmp_path)
    means = {
        (Channel.TABLE_QR, "regular"): [D(10), D(12), D(30)],  # median 12
        (Channel.TABLE_QR, "loyal"): [D(6), D(7), D(8), D(9)],  # median (7 + 8) / 2
        (Channel.CHAT, "regular"): [D(20)],  # too few: all channels' regulars, median 15
    }
    n = 0
    async with factory() as session, session.begin():
        for (channel, tier), values in means.items():
            for value in values:
                n += 1
                await add_member(
                    session,
                    store=store,
                    telegram_id=n,
                    channel=channel,
                    tier=tier,
                    enrolled_at=NOW - timedelta(days=200),
                    gap_count=3,
                    gap_mean_days=value,
                    first_gap_days=value + 1,
                )
        await refresh.recompute_norms(session, policy=policy, now=NOW)
    async with factory() as session:
        rows = {(r.kind, r.channel, r.tier): r for r in await refresh.norm_rows(session)}
        table_regular = rows[(refresh.GAP, "table_qr", "regular")]
        assert (table_regular.gap_days, table_regular.members, table_regular.source) == (
            D(12),
            3,
            "cohort",
        )
        assert rows[(refresh.GAP, "table_qr", "loyal")].gap_days == D("7.5")
        chat_regular = rows[(refresh.GAP, "chat", "regular")]
        # regulars of every channel: 10, 12, 20, 30 → 16
        assert (chat_regular.gap_days, chat_regular.source) == (D(16), "tier")
        # no newcomers with gaps anywhere: everyone's median, 6 7 8 9 | 10 12 20 30
        chat_newcomer = rows[(refresh.GAP, "chat", "newcomer")]
        assert (chat_newcomer.gap_days, chat_newcomer.source) == (D("9.5"), "all")
        first = rows[(refresh.FIRST_RETURN, "table_qr", refresh.ANY_TIER)]
        assert (first.gap_days, first.source) == (D("10"), "cohort")  # 11,13,31,7,8,9,10
        norms = await refresh.norms_for(session, channel="table_qr", tier="regular", policy=policy)
        assert norms == lifecycle.Norms(gap_days=D(12), first_return_days=D(10))


async def test_without_any_refresh_the_default_rhythm_applies(
    factory: async_sessionmaker[AsyncSession], store: StoreRef
) -> None:
    policy = load_preset("frequency")
    async with factory() as session:
        norms = await refresh.norms_for(session, channel="chat", tier="newcomer", policy=policy)
    assert norms == lifecycle.Norms(gap_days=D(30), first_return_days=D(30))


# -- tiers and rhythm: SQL against Python --------------------------------------------------------


async def _random_members(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, *, seed: int, count: int
) -> list[int]:
    rng = random.Random(seed)
    ids: list[int] = []
    async with factory() as session, session.begin():
        for i in range(count):
            enrolled = NOW - timedelta(days=rng.randint(1, 400))
            referrer = rng.choice(ids) if ids and rng.random() < 0.3 else None
            member = await add_member(
                session,
                store=store,
                telegram_id=1000 + i,
                channel=rng.choice(list(Channel)),
                tier=rng.choice(["newcomer", "regular", "potential", "A"]),  # stale on purpose
                enrolled_at=enrolled,
                referrer=referrer,
            )
            assert member.id is not None
            ids.append(member.id)
            span = (NOW - enrolled).total_seconds()
            visits = [
                (
                    enrolled + timedelta(seconds=rng.uniform(0, span)),
                    D(rng.randint(20, 900)) + D(rng.randint(0, 99)) / 100,
                )
                for _ in range(rng.choice([1, 1, 2, 3, 5, 8, 12, 20]))
            ]
            await add_visits(session, member, store=store, visits=visits)
            # some sittings had a second bill (drinks, dessert): spend without a visit
            for n, (at, _) in enumerate(visits):
                if rng.random() < 0.3:
                    session.add(
                        Payment(
                            source="pos",
                            external_id=f"{member.id}-second-{n}",
                            store_id=store.id,
                            member_id=member.id,
                            amount=D(rng.randint(5, 300)),
                            currency="CNY",
                            status="credited",
                            created_at=at + timedelta(minutes=10),
                            credited_at=at + timedelta(minutes=10),
                        )
                    )
    return ids


@pytest.mark.parametrize("preset", ["frequency", "value"])
async def test_nightly_tiers_equal_the_python_rules(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, tmp_path: Path, preset: str
) -> None:
    policy = small_cohorts(tmp_path, preset)
    ids = await _random_members(factory, store, seed=7, count=60)
    async with factory() as session:
        members = (await session.execute(select(Member))).scalars().all()
        before = {m.id: m.tier for m in members}
        # the win-back episode each member was in when the refresh read the tiers
        in_episode = {
            m.id: m.lapsed_due_at is not None
            and m.lost_due_at is not None
            and m.lapsed_due_at <= NOW < m.lost_due_at
            for m in members
        }
    result = await refresh.nightly_refresh(factory, policy=policy, now=NOW, batch_size=7)
    assert result.batches == 9  # ids 1–60 in batches of 7
    async with factory() as session:
        changes = (await session.execute(select(TierChange))).scalars().all()
        by_member = {c.member_id: c for c in changes}
        for member_id in ids:
            member = await session.get(Member, member_id)
            assert member is not None
            strict = await tiers.status_of(session, member=member, policy=policy, now=NOW)
            lenient = await tiers.status_of(
                session,
                member=member,
                policy=policy,
                now=NOW,
                grace_days=policy.tiers.downgrade_grace_days,
            )
            expected = tiers.settle(
                policy,
                stored=before[member_id],
                strict=strict.tier,
                lenient=lenient.tier,
                in_episode=in_episode[member_id],
            )
            assert member.tier == expected, member_id
            if before[member_id] != member.tier:
                change = by_member[member_id]
                assert (change.from_tier, change.to_tier, change.reason) == (
                    before[member_id],
                    member.tier,
                    "refresh",
                )
                way = refresh.direction(policy, before=before[member_id], after=member.tier)
                assert change.direction == way
                # upgrades wait for their congratulation; silent downgrades are done with
                assert (change.notified_at is None) == (way == "up")
            else:
                assert member_id not in by_member
    assert result.upgrades + result.downgrades == len(changes) > 0
    # a second run changes no tier
    again = await refresh.nightly_refresh(factory, policy=policy, now=NOW, batch_size=7)
    assert (again.upgrades, again.downgrades) == (0, 0)


async def test_nightly_rhythm_equals_the_python_rules(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, tmp_path: Path
) -> None:
    policy = small_cohorts(tmp_path)
    ids = await _random_members(factory, store, seed=11, count=50)
    result = await refresh.nightly_refresh(factory, policy=policy, now=NOW, batch_size=16)
    assert result.members == 50
    async with factory() as session:
        for member_id in ids:
            member = await session.get(Member, member_id)
            assert member is not None
            norms = await refresh.norms_for(
                session, channel=member.acquisition_channel, tier=member.tier, policy=policy
            )
            stored = refresh.rhythm_of(member)
            expected = lifecycle.with_norms(policy, stored, norms=norms)
            assert expected.expected_interval_days is not None
            assert stored.expected_interval_days is not None
            assert abs(stored.expected_interval_days - expected.expected_interval_days) <= D(
                "0.001"
            )
            assert stored.due is not None
            assert expected.due is not None
            for got, want in zip(
                (stored.due.slowing, stored.due.lapsed, stored.due.lost),
                (expected.due.slowing, expected.due.lapsed, expected.due.lost),
                strict=True,
            ):
                # SQLite keeps whole seconds; E may differ in the last (0.001 day) place
                assert abs(got - want) <= timedelta(minutes=10), member_id


async def test_the_refresh_works_in_batches_not_per_member(
    engine: AsyncEngine, factory: async_sessionmaker[AsyncSession], store: StoreRef
) -> None:
    """The number of statements depends on the number of batches, not of members."""
    policy = load_preset("frequency")
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    await _random_members(factory, store, seed=3, count=20)
    await refresh.nightly_refresh(factory, policy=policy, now=NOW, batch_size=1000)
    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        await refresh.nightly_refresh(factory, policy=policy, now=NOW, batch_size=1000)
        small = len(statements)
        async with factory() as session, session.begin():
            for i in range(60):  # 60 more members (one visit each: no tier changes)
                member = await add_member(
                    session, store=store, telegram_id=5000 + i, enrolled_at=NOW - timedelta(days=9)
                )
                await add_visits(
                    session, member, store=store, visits=[(NOW - timedelta(days=9), D(50))]
                )
        statements.clear()
        await refresh.nightly_refresh(factory, policy=policy, now=NOW, batch_size=1000)
        large = len(statements)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert large == small


# -- who is due ----------------------------------------------------------------------------------


async def test_due_query_returns_exactly_who_became_due(
    factory: async_sessionmaker[AsyncSession], store: StoreRef
) -> None:
    policy = load_preset("frequency")
    async with factory() as session, session.begin():
        for i, days_ago in enumerate([1, 2, 3, 4, 40, 60]):
            last = NOW - timedelta(days=days_ago)
            due = lifecycle.due_dates(
                policy, last_visit=last - timedelta(days=29), interval_days=D(20)
            )
            await add_member(
                session,
                store=store,
                telegram_id=700 + i,
                enrolled_at=NOW - timedelta(days=100),
                visit_count=3,
                last_visit_at=last - timedelta(days=29),
                lapsed_due_at=due.lapsed,  # = last + 1 day
                slowing_due_at=due.slowing,
                lost_due_at=due.lost,
            )
    async with factory() as session:
        # lapsed dues fell at NOW − 0, −1, −2, −3 days (and −39, −59)
        lapsed = await refresh.due_members(
            session, stage=Stage.LAPSED, since=NOW - timedelta(days=2, hours=12), until=NOW
        )
        assert lapsed == [3, 2, 1]  # oldest due first
        assert await refresh.due_members(
            session, stage=Stage.LAPSED, since=NOW - timedelta(days=100), until=NOW, limit=2
        ) == [6, 5]
        stages = (
            await session.execute(
                select(col(Member.id), refresh.stage_case(policy, now=NOW)).order_by(col(Member.id))
            )
        ).all()
        # lost at last visit + 80 days: NOW − 60 − 29 + 80 is past, NOW − 40 − 29 + 80 is not
        assert [s for _, s in stages] == ["lapsed"] * 5 + ["lost"]


# -- through payments ----------------------------------------------------------------------------


async def test_payments_keep_the_rhythm_and_refunds_rebuild_it(
    factory: async_sessionmaker[AsyncSession], store: StoreRef
) -> None:
    policy = load_preset("frequency")
    dana = Payer(telegram_id=101, first_name="Dana", channel=Channel.CHAT)
    outcomes = []
    for day in (0, 10, 20):
        async with factory() as session, session.begin():
            outcomes.append(
                await record_payment(
                    session,
                    source=PaymentSource.POS,
                    external_id=f"t{day}",
                    store=store,
                    amount=D(80),
                    currency="CNY",
                    payer=dana,
                    policy=policy,
                    now=NOW + timedelta(days=day),
                )
            )
    assert [o.tier_up for o in outcomes] == [None, "occasional", None]
    async with factory() as session:
        member = await session.get(Member, outcomes[0].member_id)
        assert member is not None
        assert (member.tier, member.visit_count, member.gap_count) == ("occasional", 3, 2)
        assert member.first_gap_days == D(10)
        # first visit: the newcomer norm, 30. Second: (1·10 + 1·30) / 2 = 20, but the floor
        # 30 − 10/4 = 27.5 holds. Third: (2·10 + 1·30) / 3 = 16.667, floor 27.5 − 10/4 = 25.
        assert member.interval_floor_days == D(25)
        assert member.expected_interval_days == D(25)
        assert member.lapsed_due_at == NOW + timedelta(days=20 + 1.5 * 25)
        ups = (await session.execute(select(TierChange))).scalars().all()
        assert [(c.from_tier, c.to_tier, c.reason) for c in ups] == [
            ("newcomer", "occasional", "payment")
        ]
        assert ups[0].notified_at is not None  # told with the receipt
        last_payment = await session.scalar(
            select(col(Payment.id)).where(col(Payment.external_id) == "t20")
        )
    async with factory() as session, session.begin():
        await refund_payment(
            session,
            payment_id=int(last_payment or 0),
            by_telegram_id=1,
            policy=policy,
            now=NOW + timedelta(days=21),
        )
    async with factory() as session:
        member = await session.get(Member, outcomes[0].member_id)
        assert member is not None
        # back to two visits ten days apart: (1·10 + 1·30) / 2 = 20
        assert (member.visit_count, member.gap_count, member.expected_interval_days) == (
            2,
            1,
            D(20),
        )
        assert member.last_visit_at == NOW + timedelta(days=10)
        assert member.lapsed_due_at == NOW + timedelta(days=10 + 1.5 * 20)


async def test_a_tier_a_payment_moved_after_the_refresh_read_is_not_undone(
    factory: async_sessionmaker[AsyncSession], store: StoreRef
) -> None:
    """The refresh reads who changes tier, then writes; a payment committing in between (on
    PostgreSQL another connection, simulated here between the two statements) reassessed its
    member already: the refresh's older reading must not overwrite it."""
    policy = load_preset("frequency")
    async with factory() as session, session.begin():
        ids = []
        for n in range(2):  # newcomer on record, though ten visits this quarter say otherwise
            member = await add_member(
                session, store=store, telegram_id=8000 + n, enrolled_at=NOW - timedelta(days=80)
            )
            visits = [(NOW - timedelta(days=7 * k + 1), D(60)) for k in range(10)]
            await add_visits(session, member, store=store, visits=visits)
            assert member.id is not None
            ids.append(member.id)
    paid, untouched = ids
    async with factory() as session, session.begin():
        execute = session.execute
        calls = 0

        async def with_a_payment_in_between(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            result = await execute(*args, **kwargs)
            if calls == 1:  # the tier SELECT has been read: a payment lands now
                await execute(update(Member).where(col(Member.id) == paid).values(tier="regular"))
            return result

        session.execute = with_a_payment_in_between  # type: ignore[method-assign]
        _members, ups, _downs = await refresh.refresh_batch(
            session, policy=policy, now=NOW, lo=0, hi=max(ids)
        )
    async with factory() as session:
        first = await session.get(Member, paid)
        second = await session.get(Member, untouched)
        assert first is not None
        assert second is not None
        changes = (await session.execute(select(TierChange))).scalars().all()
    assert first.tier == "regular"  # what the payment wrote
    assert second.tier != "newcomer"  # the refresh did its work for the other one
    assert [(c.member_id, c.from_tier, c.to_tier) for c in changes] == [
        (untouched, "newcomer", second.tier)
    ]
    assert ups == 1


async def test_downgrades_wait_the_grace_and_never_inside_an_episode(
    factory: async_sessionmaker[AsyncSession], store: StoreRef
) -> None:
    """Three loyal members whose eight visits (ten days apart) began 95 days ago: the first
    visit left the 90-day window 5 days ago. One is within the grace days, one is past them but
    overdue (lapsed, not lost: her win-back episode is open), one is past them and on rhythm."""
    policy = load_preset("frequency")
    ids = []
    async with factory() as session, session.begin():
        for n, began in enumerate((95, 125, 125)):
            member = await add_member(
                session,
                store=store,
                telegram_id=8100 + n,
                tier="loyal",
                enrolled_at=NOW - timedelta(days=began + 1),
            )
            visits = [(NOW - timedelta(days=began - 10 * k), D(60)) for k in range(8)]
            await add_visits(session, member, store=store, visits=visits)
            if n == 1:  # overdue since yesterday, lost in a month
                member.lapsed_due_at = NOW - timedelta(days=1)
                member.lost_due_at = NOW + timedelta(days=30)
            assert member.id is not None
            ids.append(member.id)
    await refresh.nightly_refresh(factory, policy=policy, now=NOW)
    async with factory() as session:
        tiers_now = [(await session.get(Member, i)).tier for i in ids]  # type: ignore[union-attr]
    assert tiers_now == ["loyal", "loyal", "regular"]


async def test_a_tier_back_within_the_year_is_not_congratulated_again(
    factory: async_sessionmaker[AsyncSession], store: StoreRef
) -> None:
    policy = load_preset("frequency")
    async with factory() as session, session.begin():
        ids = []
        for n in range(2):
            member = await add_member(
                session, store=store, telegram_id=8200 + n, enrolled_at=NOW - timedelta(days=200)
            )
            visits = [(NOW - timedelta(days=20 * k + 1), D(60)) for k in range(3)]
            await add_visits(session, member, store=store, visits=visits)
            assert member.id is not None
            ids.append(member.id)
        told, new = ids
        session.add(  # congratulated on "occasional" four months ago
            TierChange(
                member_id=told,
                from_tier="newcomer",
                to_tier="occasional",
                direction="up",
                reason="payment",
                at=NOW - timedelta(days=120),
                notified_at=NOW - timedelta(days=120),
                congratulated_at=NOW - timedelta(days=120),
            )
        )
    result = await refresh.nightly_refresh(factory, policy=policy, now=NOW)
    assert result.upgrades == 2
    async with factory() as session, session.begin():
        notices = await refresh.claim_tier_notices(session, now=NOW)
        assert [n.change_id for n in notices] != []
        assert {n.to_tier for n in notices} == {"occasional"}
        members = {
            c.member_id
            for c in (
                await session.execute(
                    select(TierChange).where(col(TierChange.congratulated_at) == NOW)
                )
            ).scalars()
        }
    assert members == {new}  # only the member never congratulated on it is told
