"""The rhythm engine by hand-computed examples, and its invariants by property tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty import lifecycle
from loyalty.lifecycle import DueDates, Norms, Rhythm, Stage, Turn
from loyalty.policy import Policy, load_policy, load_preset

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
D = Decimal


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_preset("frequency")


POLICY = load_preset("frequency")  # for the property tests (fixtures do not mix with @given)


# -- the formula, by hand (loyalty/lifecycle.py's docstring; k = 1, h = 2 in the presets) -------


def test_one_gap_weighs_as_much_as_the_cohort(policy: Policy) -> None:
    # (1·10 + 1·30) / (1 + 1)
    assert lifecycle.blend(policy, gap_count=1, own_days=D(10), cohort_days=D(30)) == D("20.000")


def test_many_gaps_lean_on_the_member(policy: Policy) -> None:
    # (40·10 + 1·30) / 41 = 430 / 41 = 10.4878…
    assert lifecycle.blend(policy, gap_count=40, own_days=D(10), cohort_days=D(30)) == D("10.488")


def test_recent_gaps_weigh_more(policy: Policy) -> None:
    # weights 2^(−1/2), 1: (30·0.70711 + 10) / 1.70711 = 18.2843
    assert lifecycle.weighted_gap(policy, [D(30), D(10)]) == D("18.284")
    # seed 004's first three gaps, weights 1/2, 2^(−1/2), 1: (45 + 42.426 + 30) / 2.20711
    assert lifecycle.weighted_gap(policy, [D(90), D(60), D(30)]) == D("53.204")
    assert lifecycle.weighted_gap(policy, []) == D(0)
    # the same gaps in the other order: the latest decides more
    assert lifecycle.weighted_gap(policy, [D(30), D(60), D(90)]) > D(60)


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
    # (1·30 + 1·30) / 2 = 30; floor 30 − 30/4 = 22.5
    assert (second.gap_mean_days, second.expected_interval_days) == (D(30), D(30))
    assert second.first_gap_days == D(30)
    third_at = second_at + timedelta(days=4)
    third = lifecycle.after_visit(policy, second, at=third_at, norms=cohort, gaps=[D(30), D(4)])
    # own (30·0.70711 + 4) / 1.70711 = 14.770; blend (2·14.770 + 30) / 3 = 19.847, but the
    # floor is 30 − 4/4 = 29
    assert third.gap_mean_days == D(17)
    assert third.gap_weighted_days == D("14.770")
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
    # own (20/2 + 21·0.70711 + 19) / 2.20711 = 19.867; (3·19.867 + 20) / 4 = 19.900
    assert again.gap_weighted_days == rhythm.gap_weighted_days == D("19.867")
    assert again.expected_interval_days == rhythm.expected_interval_days == D("19.900")
    assert again.due == rhythm.due


def test_the_weighted_gap_carried_without_the_gaps_is_the_same(policy: Policy) -> None:
    """A caller that does not pass the gaps gets the weighted gap from the stored one."""
    cohort = Norms(gap_days=D(20), first_return_days=D(25))
    with_gaps = without = Rhythm()
    visits = [START + timedelta(days=d) for d in (0, 12, 40, 47, 90)]
    for i, at in enumerate(visits):
        gaps = lifecycle.gaps_of(visits[: i + 1])
        with_gaps = lifecycle.after_visit(policy, with_gaps, at=at, norms=cohort, gaps=gaps)
        without = lifecycle.after_visit(policy, without, at=at, norms=cohort)
        assert abs(with_gaps.gap_weighted_days - without.gap_weighted_days) <= D("0.002")


# -- turning points and the next visit ---------------------------------------------------------


def test_turns_after_a_visit(policy: Policy) -> None:
    turn = lifecycle.turn_of
    # seed 004: 90, 60, 30 shorten (rising); 60 after 30 is the turn (cooling); it goes on
    assert turn(policy, [D(90), D(60)]) is Turn.NONE  # two gaps say nothing of rising yet
    assert turn(policy, [D(90), D(60), D(30)]) is Turn.RISING
    assert turn(policy, [D(90), D(60), D(30), D(60)]) is Turn.COOLING
    assert turn(policy, [D(90), D(60), D(30), D(60), D(90)]) is Turn.COOLING
    # 37.5 is exactly 1.25 × 30: not longer than that
    assert turn(policy, [D(30), D("37.5")]) is Turn.NONE
    assert turn(policy, [D(30), D("37.6")]) is Turn.COOLING
    assert turn(policy, [D(30), D(30), D(31)]) is Turn.NONE  # steady


def test_a_running_gap_turns_cooling_before_the_member_is_overdue(policy: Policy) -> None:
    cohort = Norms(gap_days=D(30), first_return_days=D(30))
    rhythm = Rhythm()
    visits = [START + timedelta(days=d) for d in (0, 90, 150, 180)]  # gaps 90, 60, 30
    for i, at in enumerate(visits):
        rhythm = lifecycle.after_visit(
            policy, rhythm, at=at, norms=cohort, gaps=lifecycle.gaps_of(visits[: i + 1])
        )
    assert rhythm.turn is Turn.RISING
    assert rhythm.turn_at == visits[-1]
    # 1.25 × the last gap of 30 days: before slowing (1.25 × E, E ≥ 30 here)
    assert rhythm.cooling_due_at == visits[-1] + timedelta(days=37.5)
    assert rhythm.due is not None
    assert rhythm.cooling_due_at < rhythm.due.slowing
    day_37 = visits[-1] + timedelta(days=37)
    assert lifecycle.turned(rhythm, now=day_37) == rhythm
    later = lifecycle.turned(rhythm, now=visits[-1] + timedelta(days=38))
    assert (later.turn, later.turn_at) == (Turn.COOLING, rhythm.cooling_due_at)
    assert not later.rising
    # already cooling: nothing moves
    assert lifecycle.turned(later, now=visits[-1] + timedelta(days=60)) == later


def test_no_cooling_date_once_cooling_or_with_one_gap(policy: Policy) -> None:
    due = lifecycle.due_dates(policy, last_visit=START, interval_days=D(40))
    assert (
        lifecycle.cooling_date(policy, gaps=[D(30)], turn=Turn.NONE, last_visit=START, due=due)
        is None
    )
    assert (
        lifecycle.cooling_date(
            policy, gaps=[D(30), D(60)], turn=Turn.COOLING, last_visit=START, due=due
        )
        is None
    )
    # 1.25 × 40 = 50 is the slowing date itself: not before it
    assert (
        lifecycle.cooling_date(
            policy, gaps=[D(40), D(40)], turn=Turn.NONE, last_visit=START, due=due
        )
        is None
    )
    assert lifecycle.cooling_date(
        policy, gaps=[D(40), D(39)], turn=Turn.NONE, last_visit=START, due=due
    ) == START + timedelta(days=48.75)


def test_the_next_expected_visit_is_the_next_step_of_the_rhythm() -> None:
    def nxt(days: float) -> datetime:
        return lifecycle.next_expected_visit(
            last_visit=START, interval_days=D(20), now=START + timedelta(days=days)
        )

    assert nxt(0) == START + timedelta(days=20)
    assert nxt(19.9) == START + timedelta(days=20)
    assert nxt(20) == START + timedelta(days=40)  # due now: the next one
    assert nxt(45) == START + timedelta(days=60)
    assert nxt(-5) == START + timedelta(days=20)


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


@settings(max_examples=300, deadline=None)
@given(
    gaps=st.lists(gap_minutes, max_size=12), norms=st.lists(norms_strategy, min_size=1, max_size=4)
)
def test_the_interval_stays_between_the_smallest_and_largest_gap_used(
    gaps: list[int], norms: list[Norms]
) -> None:
    """After every visit, E lies between the smallest and the largest of the member's gaps and
    the cohort norms it was made from (the floor only carries an earlier E forward)."""
    rhythm = lifecycle.after_visit(POLICY, Rhythm(), at=START, norms=norms[0])
    used = [norms[0].first_return_days]
    visits = [START]
    for i, minutes in enumerate(gaps):
        at = visits[-1] + timedelta(minutes=minutes)
        visits.append(at)
        cohort = norms[(i + 1) % len(norms)]
        rhythm = lifecycle.after_visit(
            POLICY, rhythm, at=at, norms=cohort, gaps=lifecycle.gaps_of(visits)
        )
        used += [lifecycle.days_between(visits[-2], at), cohort.gap_days]
        assert rhythm.expected_interval_days is not None
        # to the thousandth of a day E is kept to
        assert min(used) - D("0.001") <= rhythm.expected_interval_days <= max(used) + D("0.001")


# -- mutation-found gaps (mutmut over loyalty/lifecycle.py) ---------------------------------------


def test_without_shrinkage_the_member_alone_decides(tmp_path: Path) -> None:
    file = tmp_path / "own.toml"
    file.write_text('preset = "frequency"\n[lapse]\nshrinkage_visits = 0\n')
    own_only = load_policy(file)
    assert lifecycle.blend(own_only, gap_count=1, own_days=D(10), cohort_days=D(30)) == D(10)


def test_rising_reads_the_last_two_gaps_and_its_boundary(policy: Policy) -> None:
    # the last two are 30 and 10: average 20 ≤ 0.8 × 30 (reading the second-last twice: 30)
    assert lifecycle.is_rising(policy, [D(30), D(30), D(30), D(10)])
    # exactly 0.8 × the earlier gaps is rising
    assert lifecycle.is_rising(policy, [D(30), D(24), D(24)])
    # one gap is no turn at all
    assert lifecycle.turn_of(policy, [D(30)]) is Turn.NONE
    assert not lifecycle.is_lengthening(policy, [D(30)])


def test_a_turn_keeps_the_time_it_began(policy: Policy) -> None:
    """Cooling on two visits in a row: the turn began at the first (campaigns act on it once)."""
    cohort = Norms(gap_days=D(30), first_return_days=D(30))
    rhythm = Rhythm()
    visits = [START + timedelta(days=d) for d in (0, 30, 50, 90, 160)]  # 30, 20, 40, 70
    for i, at in enumerate(visits):
        rhythm = lifecycle.after_visit(
            policy, rhythm, at=at, norms=cohort, gaps=lifecycle.gaps_of(visits[: i + 1])
        )
        if i == 3:
            assert (rhythm.turn, rhythm.turn_at) == (Turn.COOLING, visits[3])
    assert (rhythm.turn, rhythm.turn_at) == (Turn.COOLING, visits[3])
    assert rhythm.cooling_due_at is None  # already cooling: no date to turn at


def test_turned_at_the_very_moment(policy: Policy) -> None:
    due = START + timedelta(days=10)
    rhythm = Rhythm(last_visit_at=START, turn=Turn.RISING, cooling_due_at=due)
    assert lifecycle.turned(rhythm, now=due).turn is Turn.COOLING


def test_the_next_visit_of_a_short_rhythm() -> None:
    at = lifecycle.next_expected_visit(
        last_visit=START, interval_days=D("0.5"), now=START + timedelta(hours=13)
    )
    assert at == START + timedelta(hours=24)


def test_rebuilt_is_the_whole_rhythm_of_the_standing_visits(policy: Policy) -> None:
    """What a refund leaves: every field from the visits that stand (floor aside)."""
    cohort = Norms(gap_days=D(20), first_return_days=D(25))
    assert lifecycle.rebuilt(policy, [], norms=cohort) == Rhythm()
    one = lifecycle.rebuilt(policy, [START], norms=cohort)
    assert (one.visit_count, one.gap_count, one.first_gap_days, one.gap_mean_days) == (
        1,
        0,
        None,
        D(0),
    )
    assert (one.last_visit_at, one.expected_interval_days) == (START, D(25))
    visits = [START + timedelta(days=d) for d in (0, 20, 30, 40, 90)]  # 20, 10, 10, 50
    again = lifecycle.rebuilt(policy, list(reversed(visits)), norms=cohort)
    gaps = lifecycle.gaps_of(visits)
    assert again.visit_count == 5
    assert again.gap_count == 4
    assert again.last_visit_at == visits[-1]
    assert again.first_gap_days == D(20)
    assert again.gap_mean_days == D("22.500")
    assert again.gap_weighted_days == lifecycle.weighted_gap(policy, gaps)
    assert (again.turn, again.turn_at) == (Turn.COOLING, visits[-1])  # 50 after 10
    assert again.due == lifecycle.due_dates(
        policy, last_visit=visits[-1], interval_days=again.expected_interval_days or D(0)
    )


def test_new_norms_move_the_interval_and_the_due_dates(policy: Policy) -> None:
    """What the nightly refresh does when the cohort's rhythm moved."""
    rhythm = lifecycle.rebuilt(
        policy, [START, START + timedelta(days=20)], norms=Norms(D(20), D(25))
    )
    assert rhythm.expected_interval_days == D(20)  # (1·20 + 1·20) / 2
    moved = lifecycle.with_norms(policy, rhythm, norms=Norms(D(40), D(25)))
    assert moved.expected_interval_days == D(30)  # (1·20 + 1·40) / 2
    assert moved.due == lifecycle.due_dates(
        policy, last_visit=START + timedelta(days=20), interval_days=D(30)
    )
    assert lifecycle.with_norms(policy, Rhythm(), norms=Norms(D(40), D(25))) == Rhythm()
