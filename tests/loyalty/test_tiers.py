"""Tiers from a member's visits, with a fixed `now`: the window's edges, deadlines, the top,
and the value preset's observation period."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from loyalty.policy import Policy, load_policy, load_preset
from loyalty.stores import ensure_default_store
from loyalty.tiers import TierInput, TierStatus, assess, status_of
from models.db import create_engine, create_session_factory
from models.migrate import upgrade
from models.tables import Member, Visit

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(days=90)
LONG_AGO = NOW - timedelta(days=400)


@pytest.fixture(scope="module")
def frequency() -> Policy:
    return load_preset("frequency")


@pytest.fixture(scope="module")
def value() -> Policy:
    return load_preset("value")


def days_ago(*days: float) -> list[datetime]:
    return [NOW - timedelta(days=d) for d in days]


def visits_status(policy: Policy, visits: Sequence[datetime], now: datetime = NOW) -> TierStatus:
    return assess(policy, TierInput(visits=visits, member_since=LONG_AGO), now=now)


# -- a rung met by any one condition -------------------------------------------------------------


def test_any_one_condition_is_enough_and_the_later_deadline_counts(tmp_path: Path) -> None:
    file = tmp_path / "any.toml"
    file.write_text(
        'preset = "value"\n[tiers]\nmin_membership_days = 1\n'
        '[[tiers.ladder]]\nname = "C"\n'
        '[[tiers.ladder]]\nname = "B"\nmin_visits = 4\nmin_spend = 1000\nmatch = "any"\n'
    )
    policy = load_policy(file)

    def status(visits: Sequence[datetime], spends: Sequence[int]) -> TierStatus:
        inp = TierInput(
            visits=visits, spend_by_visit=[Decimal(s) for s in spends], member_since=LONG_AGO
        )
        return assess(policy, inp, now=NOW)

    assert status(days_ago(5, 4, 3, 2), [10, 10, 10, 10]).tier == "B"  # four visits
    assert status(days_ago(5), [1000]).tier == "B"  # one big banquet
    below = status(days_ago(80, 10), [0, 300])
    assert below.tier == "C"
    assert below.any_of
    assert (below.visits_needed, below.spend_needed) == (2, Decimal(700))
    # visits: both count only until the oldest falls out, 80 days ago + 90 = in 10 days;
    # spend: the 300 paid 10 days ago counts for 80 more days. With "any", either way will do,
    # so the member has until the later of the two.
    assert below.deadline == NOW + timedelta(days=80)


# -- frequency ---------------------------------------------------------------------------------


def test_no_visits_in_the_window_is_the_floor(frequency: Policy) -> None:
    status = visits_status(frequency, [])
    assert status.tier == "newcomer"
    assert status.next_tier == "occasional"
    assert status.visits_needed == 2
    assert status.deadline is None  # nothing to lose: 2 visits within any 90 days
    assert status.graded
    assert status.graded_from is None
    assert status.visits_in_window == 0
    assert status.spend_in_window == Decimal(0)


def test_one_visit_is_a_newcomer_with_a_deadline(frequency: Policy) -> None:
    first = NOW - timedelta(days=3)
    status = visits_status(frequency, [first])
    assert status.tier == "newcomer"
    assert status.next_tier == "occasional"
    assert status.visits_needed == 1
    assert status.deadline == first + WINDOW


def test_the_ladder_by_visit_count(frequency: Policy) -> None:
    def tier(n: int) -> str:
        return visits_status(frequency, days_ago(*range(1, n + 1))).tier

    assert [tier(n) for n in range(10)] == [
        "newcomer",
        "newcomer",
        "occasional",
        "occasional",
        "regular",
        "regular",
        "regular",
        "regular",
        "loyal",
        "loyal",
    ]


def test_two_more_visits_before_31_december(frequency: Policy) -> None:
    # visits on 2 October and 15 November; on 1 December the member is occasional (2 of 4)
    october = datetime(2026, 10, 2, 19, 30, tzinfo=UTC)
    november = datetime(2026, 11, 15, 20, 0, tzinfo=UTC)
    status = visits_status(frequency, [november, october])  # order does not matter
    assert status.tier == "occasional"
    assert status.next_tier == "regular"
    assert status.visits_needed == 2
    # the 2 October visit counts until 31 December 19:30, so both new visits must come by then
    assert status.deadline == datetime(2026, 12, 31, 19, 30, tzinfo=UTC)


def test_the_deadline_is_real(frequency: Policy) -> None:
    october = datetime(2026, 10, 2, 19, 30, tzinfo=UTC)
    november = datetime(2026, 11, 15, 20, 0, tzinfo=UTC)
    deadline = visits_status(frequency, [october, november]).deadline
    assert deadline is not None
    # two visits made by the deadline reach "regular" ...
    on_time = [october, november, deadline - timedelta(days=1), deadline]
    assert visits_status(frequency, on_time, now=deadline).tier == "regular"
    # ... the same two visits a moment later do not: the October visit has fallen out
    late = deadline + timedelta(seconds=1)
    assert visits_status(
        frequency, [october, november, late - timedelta(days=1), late], late
    ).tier == ("occasional")


def test_spare_visits_push_the_deadline(frequency: Policy) -> None:
    # 5 visits, 8 needed for loyal: all 5 must still count -> the oldest sets the deadline
    visits = days_ago(80, 60, 40, 20, 5)
    status = visits_status(frequency, visits)
    assert status.tier == "regular"
    assert status.visits_needed == 3
    assert status.deadline == NOW - timedelta(days=80) + WINDOW


def test_a_visit_exactly_window_days_ago_still_counts(frequency: Policy) -> None:
    edge = NOW - WINDOW
    status = visits_status(frequency, [edge, NOW - timedelta(days=1)])
    assert status.tier == "occasional"
    assert status.visits_in_window == 2
    just_out = NOW - WINDOW - timedelta(microseconds=1)
    status = visits_status(frequency, [just_out, NOW - timedelta(days=1)])
    assert status.tier == "newcomer"
    assert status.visits_in_window == 1


def test_visits_after_now_do_not_count(frequency: Policy) -> None:
    status = visits_status(frequency, [NOW - timedelta(days=1), NOW + timedelta(minutes=1)])
    assert status.visits_in_window == 1
    assert visits_status(frequency, [NOW, NOW - timedelta(days=1)]).visits_in_window == 2


def test_the_top_tier_has_no_next(frequency: Policy) -> None:
    status = visits_status(frequency, days_ago(*range(1, 12)))
    assert status.tier == "loyal"
    assert status.next_tier is None
    assert status.visits_needed == 0
    assert status.spend_needed == Decimal(0)
    assert status.deadline is None


def test_tiers_fall_as_visits_age(frequency: Policy) -> None:
    visits = days_ago(85, 80, 75, 70)
    assert visits_status(frequency, visits).tier == "regular"
    later = NOW + timedelta(days=8)  # the two oldest are out
    assert visits_status(frequency, visits, now=later).tier == "occasional"


def test_naive_now_is_refused(frequency: Policy) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        assess(frequency, TierInput(visits=[], member_since=LONG_AGO), now=datetime(2026, 1, 1))


def test_spend_must_match_the_visits(frequency: Policy) -> None:
    inp = TierInput(visits=days_ago(1, 2), spend_by_visit=[Decimal(10)], member_since=LONG_AGO)
    with pytest.raises(ValueError, match="one amount per visit"):
        assess(frequency, inp, now=NOW)


# -- value -------------------------------------------------------------------------------------


def value_status(
    policy: Policy,
    visits: Sequence[tuple[float, str]],
    *,
    referrals: int = 0,
    suggestions: int = 0,
    member_days: float = 365,
    now: datetime = NOW,
) -> TierStatus:
    return assess(
        policy,
        TierInput(
            visits=[now - timedelta(days=d) for d, _ in visits],
            spend_by_visit=[Decimal(s) for _, s in visits],
            referrals=referrals,
            suggestions=suggestions,
            member_since=now - timedelta(days=member_days),
        ),
        now=now,
    )


def test_members_are_observed_before_they_are_graded(value: Policy) -> None:
    days = value.tiers.min_membership_days
    status = value_status(value, [(1, "2000")] * 8, referrals=3, member_days=days - 1)
    assert status.tier == "potential"
    assert not status.graded
    assert status.next_tier is None
    assert status.deadline is None
    assert status.graded_from == NOW + timedelta(days=1)
    assert status.spend_in_window == Decimal(16000)
    # from the day they are old enough, they are graded on what they did
    graded = value_status(value, [(1, "2000")] * 8, referrals=3, member_days=days)
    assert graded.graded
    assert graded.tier == "A"


def test_grades_from_spend_visits_and_referrals(value: Policy) -> None:
    assert value_status(value, []).tier == "C"
    b_visits = [(10, "200"), (40, "200"), (70, "200")]
    assert value_status(value, b_visits).tier == "B"
    # three visits but only 599.99 spent: still C
    assert value_status(value, [(10, "199.99"), (40, "200"), (70, "200")]).tier == "C"
    big_spender = [(d, "300") for d in (5, 15, 25, 35, 45, 55)]
    assert value_status(value, big_spender).tier == "B"  # A also asks for a referral
    status = value_status(value, big_spender, referrals=1)
    assert status.tier == "A"
    assert status.next_tier is None


def test_what_b_needs_for_a(value: Policy) -> None:
    visits = [(80, "500"), (50, "200"), (20, "100")]
    status = value_status(value, visits)
    assert status.tier == "B"
    assert status.next_tier == "A"
    assert status.visits_needed == 3
    assert status.spend_needed == Decimal(700)
    assert status.referrals_needed == 1
    assert status.suggestions_needed == 0
    # every visit and every yuan is needed: the oldest visit sets the deadline
    assert status.deadline == NOW - timedelta(days=80) + WINDOW


def test_spare_spend_moves_the_deadline(value: Policy) -> None:
    # enough visits already (7 of 6) and spend 1400 of 1500: the oldest visit is spare for the
    # visit count, but its 100 cannot be spared for the spend -> the oldest still sets it
    visits = [
        (85, "100"),
        (70, "300"),
        (60, "200"),
        (50, "200"),
        (40, "200"),
        (30, "200"),
        (5, "200"),
    ]
    status = value_status(value, visits)
    assert status.visits_needed == 0
    assert status.spend_needed == Decimal(100)
    assert status.deadline == NOW - timedelta(days=85) + WINDOW
    # spend 2000 of 1500 and 7 of 6 visits, only the referral missing: the first visit can go
    # (500 spare, 1 spare visit); the second cannot go for the visit count
    rich = [
        (85, "400"),
        (70, "400"),
        (60, "300"),
        (50, "300"),
        (40, "200"),
        (30, "200"),
        (5, "200"),
    ]
    status = value_status(value, rich)
    assert status.tier == "B"
    assert status.referrals_needed == 1
    assert status.deadline == NOW - timedelta(days=70) + WINDOW


def test_frequency_policy_ignores_spend(frequency: Policy) -> None:
    status = value_status(frequency, [(1, "5000"), (2, "5000")])
    assert status.tier == "occasional"
    assert status.spend_in_window == Decimal(10000)
    assert status.spend_needed == Decimal(0)


def test_observation_period_of_a_custom_file(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text('preset = "value"\n[tiers]\nmin_membership_days = 30\n', encoding="utf-8")
    policy = load_policy(path)
    assert value_status(policy, [], member_days=29).tier == "potential"
    assert value_status(policy, [], member_days=30).tier == "C"


# -- from the database -------------------------------------------------------------------------


async def test_status_of_reads_standing_visits_and_referrals(database_url: str) -> None:
    engine = create_engine(database_url)
    await upgrade(engine)
    factory = create_session_factory(engine)
    try:
        async with factory() as session, session.begin():
            store = await ensure_default_store(
                session, name="Noodle Bar", timezone="Asia/Shanghai", currency="CNY", now=LONG_AGO
            )
            member = Member(store_id=store.id, acquisition_channel="chat", enrolled_at=LONG_AGO)
            session.add(member)
            await session.flush()
            assert member.id is not None
            for days in (100, 60, 30):  # the first is outside the 90-day window
                session.add(Visit(member_id=member.id, store_id=store.id, at=days_ago(days)[0]))
            voided = days_ago(10)[0]
            session.add(Visit(member_id=member.id, store_id=store.id, at=voided, voided_at=voided))
            session.add(
                Member(
                    store_id=store.id,
                    acquisition_channel="referral",
                    referrer_member_id=member.id,
                    enrolled_at=days_ago(20)[0],
                )
            )
            await session.flush()
            frequency = load_preset("frequency")
            status = await status_of(session, member=member, policy=frequency, now=NOW)
            assert (status.tier, status.visits_in_window, status.visits_needed) == (
                "occasional",
                2,
                2,
            )
            assert status.deadline == days_ago(60)[0] + WINDOW
            value = await status_of(session, member=member, policy=load_preset("value"), now=NOW)
            assert value.tier == "C"
            assert value.referrals_needed == 0  # the friend counts toward A
    finally:
        await engine.dispose()
