"""The rhythm engine by hand-computed examples, and its invariants by property tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty import lifecycle
from loyalty.lifecycle import DueDates, Norms, Rhythm, Stage
from loyalty.policy import Policy, load_preset

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
D = Decimal


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_preset("frequency")


POLICY = load_preset("frequency")  # for the property tests (fixtures do not mix with @given)


# -- the blend, by hand --------------------------------------------------------------------------


def test_one_gap_leans_on_the_cohort(policy: Policy) -> None:
    # (1·10 + 4·30) / (1 + 4) = 130 / 5
    assert lifecycle.blend(policy, gap_count=1, own_days=D(10), cohort_days=D(30)) == D("26.000")


def test_many_gaps_lean_on_the_member(policy: Policy) -> None:
    # (40·10 + 4·30) / 44 = 520 / 44 = 11.8181…
    assert lifecycle.blend(policy, gap_count=40, own_days=D(10), cohort_days=D(30)) == D("11.818")


def test_equal_weight_at_k_gaps(policy: Policy) -> None:
    # four gaps weigh as much as the cohort: halfway
    assert lifecycle.blend(policy, gap_count=4, own_days=D(10), cohort_days=D(30)) == D("20.000")


def test_newcomer_is_expected_after_the_cohorts_first_return(policy: Policy) -> None:
    norms = Norms(gap_days=D(14), first_return_days=D(21))
    interval = lifecycle.expected_interval(
        policy, visit_count=1, gap_count=0, own_days=D(0), norms=norms
    )
    assert interval == D("21.000")
    assert (
        lifecycle.expected_interval(policy, visit_count=0, gap_count=0, own_days=D(0), norms=norms)
        is None
    )


def test_due_dates_are_the_factors_times_the_interval(policy: Policy) -> None:
    due = lifecycle.due_dates(policy, last_visit=START, interval_days=D(20))
    assert due == DueDates(
        slowing=START + timedelta(days=25),  # 1.25 × 20
        lapsed=START + timedelta(days=30),  # 1.5 × 20
        lost=START + timedelta(days=80),  # 4 × 20
    )


def test_stages_over_time(policy: Policy) -> None:
    due = lifecycle.due_dates(policy, last_visit=START, interval_days=D(20))

    def at(days: float, visits: int = 5) -> Stage:
        return lifecycle.stage(
            policy, visit_count=visits, due=due, now=START + timedelta(days=days)
        )

    assert at(1, visits=1) is Stage.NEWCOMER
    assert at(1, visits=2) is Stage.RETURNING
    assert at(1, visits=3) is Stage.ACTIVE
    assert at(24.9) is Stage.ACTIVE
    assert at(25) is Stage.SLOWING
    assert at(30) is Stage.LAPSED
    assert at(79.9) is Stage.LAPSED
    assert at(80) is Stage.LOST
    assert at(80, visits=1) is Stage.LOST  # a newcomer who never came back is lost too


def test_rising_when_the_last_gaps_shorten(policy: Policy) -> None:
    # last two average 20 ≤ 0.8 × 30 = 24
    assert lifecycle.is_rising(policy, [D(30), D(30), D(30), D(20), D(20)])
    # 25 > 24: not enough
    assert not lifecycle.is_rising(policy, [D(30), D(30), D(25), D(25)])
    # two gaps say nothing yet
    assert not lifecycle.is_rising(policy, [D(30), D(5)])


def test_a_quick_return_keeps_the_due_dates(policy: Policy) -> None:
    """Third visit only 4 days after the second: the blend alone would pull the dates forward;
    the floor keeps them."""
    cohort = Norms(gap_days=D(30), first_return_days=D(30))
    first = lifecycle.after_visit(policy, Rhythm(), at=START, norms=cohort)
    assert first.expected_interval_days == D(30)
    second_at = START + timedelta(days=30)
    second = lifecycle.after_visit(policy, first, at=second_at, norms=cohort, gaps=[D(30)])
    # (1·30 + 4·30) / 5 = 30; floor 30 − 30/4 = 22.5
    assert (second.gap_mean_days, second.expected_interval_days) == (D(30), D(30))
    assert second.first_gap_days == D(30)
    third_at = second_at + timedelta(days=4)
    third = lifecycle.after_visit(policy, second, at=third_at, norms=cohort, gaps=[D(30), D(4)])
    # blend (2·17 + 4·30) / 6 = 25.667, but the floor is 30 − 4/4 = 29
    assert third.gap_mean_days == D(17)
    assert third.interval_floor_days == D(29)
    assert third.expected_interval_days == D(29)
    assert second.due is not None
    assert third.due is not None
    assert third.due.lost == second.due.lost  # 4 + 4·29 = 4·30
    assert third.due.lapsed > second.due.lapsed


def test_rebuilt_from_visits_matches_visit_by_visit_without_quick_returns(
    policy: Policy,
) -> None:
    cohort = Norms(gap_days=D(20), first_return_days=D(25))
    visits = [START + timedelta(days=d) for d in (0, 20, 41, 60)]
    rhythm = Rhythm()
    for i, at in enumerate(visits):
        rhythm = lifecycle.after_visit(
            policy, rhythm, at=at, norms=cohort, gaps=lifecycle.gaps_of(visits[: i + 1])
        )
    again = lifecycle.rebuilt(policy, visits, norms=cohort)
    assert again.visit_count == rhythm.visit_count == 4
    assert again.gap_mean_days == rhythm.gap_mean_days == D(20)
    assert again.expected_interval_days == rhythm.expected_interval_days == D(20)
    assert again.due == rhythm.due


# -- properties ----------------------------------------------------------------------------------

days = st.decimals(min_value=D("0.05"), max_value=D(400), places=3)
gap_minutes = st.integers(min_value=30, max_value=400 * 24 * 60)
norms_strategy = st.builds(Norms, gap_days=days, first_return_days=days)


def _history(gaps: list[int], norms: list[Norms]) -> tuple[Rhythm, list[datetime]]:
    rhythm = lifecycle.after_visit(POLICY, Rhythm(), at=START, norms=norms[0])
    visits = [START]
    for i, minutes in enumerate(gaps):
        at = visits[-1] + timedelta(minutes=minutes)
        visits.append(at)
        rhythm = lifecycle.after_visit(
            POLICY,
            rhythm,
            at=at,
            norms=norms[(i + 1) % len(norms)],
            gaps=lifecycle.gaps_of(visits),
        )
    return rhythm, visits


@settings(max_examples=300, deadline=None)
@given(
    gaps=st.lists(gap_minutes, max_size=12),
    norms=st.lists(norms_strategy, min_size=1, max_size=4),
    next_gap=gap_minutes,
    next_norms=norms_strategy,
    probes=st.lists(st.integers(min_value=0, max_value=2000 * 24 * 60), min_size=1, max_size=8),
)
def test_a_new_visit_never_makes_a_member_more_overdue(
    gaps: list[int], norms: list[Norms], next_gap: int, next_norms: Norms, probes: list[int]
) -> None:
    """Whatever the history and however the cohort norms move with the tier, at every later
    moment the member is at most as overdue after a visit as they were without it."""
    before, visits = _history(gaps, norms)
    at = visits[-1] + timedelta(minutes=next_gap)
    after = lifecycle.after_visit(
        POLICY, before, at=at, norms=next_norms, gaps=lifecycle.gaps_of([*visits, at])
    )
    assert before.due is not None
    assert after.due is not None
    assert after.due.slowing >= before.due.slowing
    assert after.due.lapsed >= before.due.lapsed
    assert after.due.lost >= before.due.lost
    moments = [at + timedelta(minutes=m) for m in probes]
    moments += [before.due.slowing, before.due.lapsed, before.due.lost]
    for now in moments:
        if now < at:
            continue
        was = lifecycle.stage(POLICY, visit_count=before.visit_count, due=before.due, now=now)
        now_is = lifecycle.stage(POLICY, visit_count=after.visit_count, due=after.due, now=now)
        assert now_is.overdue_rank <= was.overdue_rank


@settings(max_examples=300, deadline=None)
@given(gap_count=st.integers(min_value=1, max_value=500), own=days, cohort=days)
def test_the_blend_lies_between_own_and_cohort(gap_count: int, own: D, cohort: D) -> None:
    value = lifecycle.blend(POLICY, gap_count=gap_count, own_days=own, cohort_days=cohort)
    assert min(own, cohort) <= value <= max(own, cohort)


@settings(max_examples=200, deadline=None)
@given(gap_count=st.integers(min_value=1, max_value=300), own=days, cohort=days)
def test_more_gaps_lean_further_on_the_member(gap_count: int, own: D, cohort: D) -> None:
    fewer = lifecycle.blend(POLICY, gap_count=gap_count, own_days=own, cohort_days=cohort)
    more = lifecycle.blend(POLICY, gap_count=gap_count + 1, own_days=own, cohort_days=cohort)
    assert abs(more - own) <= abs(fewer - own)


@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(gap_minutes, max_size=8),
    norms=st.lists(norms_strategy, min_size=1, max_size=3),
    probes=st.lists(st.integers(min_value=0, max_value=3000 * 24 * 60), min_size=2, max_size=10),
)
def test_without_visits_a_member_only_slips_further(
    gaps: list[int], norms: list[Norms], probes: list[int]
) -> None:
    rhythm, visits = _history(gaps, norms)
    ranks = [
        lifecycle.stage(
            POLICY,
            visit_count=rhythm.visit_count,
            due=rhythm.due,
            now=visits[-1] + timedelta(minutes=m),
        ).overdue_rank
        for m in sorted(probes)
    ]
    assert ranks == sorted(ranks)


@settings(max_examples=200, deadline=None)
@given(gaps=st.lists(gap_minutes, max_size=10), norms=norms_strategy)
def test_refreshing_with_the_same_norms_changes_nothing(gaps: list[int], norms: Norms) -> None:
    """What the nightly refresh does to one member, with the norms the visits saw."""
    rhythm, _ = _history(gaps, [norms])
    assert lifecycle.with_norms(POLICY, rhythm, norms=norms) == rhythm
