"""Seed 001's grades (the `grades` preset) with hand-made members: each condition alone reaches
each grade it is listed for, judged as a monthly average over the 90-day window.

Over 90 days a month is a third of the window (a month counts 30 days), so "8 visits a month" is
24 visits in the window, and the preset's amount_scale of 0.1 makes 001's 8,000 yuan a month
¥800 a month: ¥2,400 in the window."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from loyalty.policy import Policy, PolicyError, load_policy, load_preset
from loyalty.tiers import TierInput, assess

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=400)
D = Decimal


@pytest.fixture(scope="module")
def grades() -> Policy:
    return load_preset("grades")


def grade(
    policy: Policy,
    *,
    spend_per_visit: Sequence[Decimal] = (),
    visits: int = 0,
    referrals: int = 0,
    suggestions: int = 0,
) -> str:
    """The grade of a member with `visits` (or one visit per amount in `spend_per_visit`) spread
    evenly over the last 89 days, and `referrals` and `suggestions` in the window."""
    count = len(spend_per_visit) or visits
    at = [NOW - timedelta(days=1 + 88 * i / max(count - 1, 1)) for i in range(count)]
    inp = TierInput(
        visits=at,
        spend_by_visit=list(spend_per_visit),
        referrals=referrals,
        suggestions=suggestions,
        member_since=LONG_AGO,
    )
    return assess(policy, inp, now=NOW).tier


def monthly(total: Decimal | int) -> Decimal:
    """The monthly average of a 90-day total, as a person would work it out: ÷ 3."""
    return Decimal(total) / 3


# -- spend alone -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("per_visit", "expected"),
    [
        # three visits a month apart; 001's amounts × 0.1: A ¥800, B ¥500, C ¥300 a month
        (D(800), "A"),  # 2,400 in 90 days: 800 a month
        (D("799.99"), "B"),  # 2,399.97: 799.99 a month, short of A
        (D(500), "B"),  # 1,500: 500 a month
        (D("499.99"), "C"),
        (D(300), "C"),  # 900: 300 a month
        (D("299.99"), "potential"),
        (D(0), "potential"),
    ],
)
def test_spend_alone(grades: Policy, per_visit: Decimal, expected: str) -> None:
    assert monthly(per_visit * 3) == per_visit  # one visit a month on average
    assert grade(grades, spend_per_visit=[per_visit] * 3) == expected


def test_one_banquet_is_averaged_over_the_three_months(grades: Policy) -> None:
    # ¥2,000 at one banquet is ¥666.67 a month over the window: B, not A
    assert monthly(2000).quantize(D("0.01")) == D("666.67")
    assert grade(grades, spend_per_visit=[D(2000)]) == "B"


# -- visits alone ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("visits", "expected"),
    [
        (30, "B"),  # 10 a month: A asks no visits (001 lists none for A), B is the most
        (24, "B"),  # 8 a month
        (23, "C"),  # 7.67 a month
        (18, "C"),  # 6 a month
        (17, "potential"),  # 5.67 a month
    ],
)
def test_visits_alone(grades: Policy, visits: int, expected: str) -> None:
    assert grade(grades, visits=visits) == expected


# -- new guests brought (referrals) alone ------------------------------------------------------


@pytest.mark.parametrize(
    ("referrals", "expected"),
    [
        (150, "A"),  # 50 new guests a month
        (149, "B"),
        (60, "B"),  # 20 a month
        (59, "C"),
        (24, "C"),  # 8 a month
        (23, "potential"),
    ],
)
def test_new_guests_alone(grades: Policy, referrals: int, expected: str) -> None:
    assert grade(grades, referrals=referrals) == expected


# -- adopted suggestions alone -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suggestions", "expected"),
    [
        (30, "A"),  # 10 a month
        (29, "B"),
        (15, "B"),  # 5 a month
        (14, "potential"),  # 001 lists no suggestions for C
    ],
)
def test_suggestions_alone(grades: Policy, suggestions: int, expected: str) -> None:
    assert grade(grades, suggestions=suggestions) == expected


def test_what_the_issue_found_graded_as_001_does(grades: Policy, full: Policy) -> None:
    # ¥8,400 a month at 001's price level (scale 1), no referrals: A (the value preset said B)
    assert grade(full, spend_per_visit=[D(8400)] * 3) == "A"
    # 50 new guests in each month: A; 12 suggestions a month: A
    assert grade(grades, referrals=150) == "A"
    assert grade(grades, suggestions=36) == "A"
    # 7 visits in the window, ¥1,750 and one referral: about 2 visits and ¥583 a month: B by spend
    assert grade(grades, spend_per_visit=[D(250)] * 7, referrals=1) == "B"


# -- the window and the scale ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Policy:
    """The grades preset at 001's own price level (amount_scale = 1)."""
    file = tmp_path_factory.mktemp("scale") / "full.toml"
    file.write_text('preset = "grades"\n[tiers]\namount_scale = 1\n')
    return load_policy(file)


def test_amount_scale_keeps_the_ratios(grades: Policy, full: Policy) -> None:
    # at 001's own level A is 8,000 a month: 24,000 over the window
    assert grade(full, spend_per_visit=[D(8000)] * 3) == "A"
    assert grade(full, spend_per_visit=[D(7999)] * 3) == "B"
    assert grade(full, spend_per_visit=[D(800)] * 3) == "potential"
    # the visit, referral and suggestion thresholds do not scale
    assert grade(full, visits=24) == grade(grades, visits=24) == "B"
    spend = [r.min_spend for r in full.tiers.counted]
    scaled = [r.min_spend for r in grades.tiers.counted]
    assert scaled == [s / 10 for s in spend]


def test_thresholds_as_window_totals_when_per_is_window(tmp_path: Path) -> None:
    file = tmp_path / "totals.toml"
    file.write_text('preset = "grades"\n[tiers]\nper = "window"\n')
    totals = load_policy(file)
    # 8 visits in the whole window make B; 6 make C
    assert grade(totals, visits=8) == "B"
    assert grade(totals, visits=6) == "C"


def test_a_60_day_window_makes_two_months(tmp_path: Path) -> None:
    file = tmp_path / "sixty.toml"
    file.write_text('preset = "grades"\n[tiers]\nwindow_days = 60\n')
    policy = load_policy(file)
    # 6 visits a month over 60 days: 12 visits; a visit 70 days ago no longer counts
    c = next(r for r in policy.tiers.counted if r.name == "C")
    assert c.min_visits == 12
    inp = TierInput(
        visits=[NOW - timedelta(days=d) for d in range(1, 12)] + [NOW - timedelta(days=70)],
        member_since=LONG_AGO,
    )
    assert assess(policy, inp, now=NOW).tier == "potential"
    inp = TierInput(visits=[NOW - timedelta(days=d) for d in range(1, 13)], member_since=LONG_AGO)
    assert assess(policy, inp, now=NOW).tier == "C"


# -- the ladder as written in 001 passes the check; a contradictory one does not -------------------

LADDER_001 = """
preset = "grades"
[tiers]
per = "month"
amount_scale = 1

[[tiers.ladder]]
name = "potential"

[[tiers.ladder]]
name = "C"
match = "any"
min_spend = 3000
min_visits = 6
min_referrals = 8

[[tiers.ladder]]
name = "B"
match = "any"
min_spend = 5000
min_referrals = 20
min_suggestions = 5
min_visits = 8

[[tiers.ladder]]
name = "A"
match = "any"
min_spend = 8000
min_referrals = 50
min_suggestions = 10
"""


def test_001_any_of_ladder_is_accepted(tmp_path: Path) -> None:
    file = tmp_path / "001.toml"
    file.write_text(LADDER_001)
    policy = load_policy(file)
    assert [r.name for r in policy.tiers.ladder] == ["potential", "C", "B", "A"]
    assert policy.tiers.ladder[3].min_visits == 0  # A asks no visits, and that is fine


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            ("min_spend = 5000", "min_spend = 9000"),
            "tiers.ladder[3].min_spend must not be less than tiers.ladder[2]'s (9000), not 8000",
        ),
        (
            ("min_referrals = 8\n", "min_referrals = 30\n"),
            "tiers.ladder[2].min_referrals must not be less than tiers.ladder[1]'s (30), not 20",
        ),
        (
            ("min_visits = 8", "min_visits = 5"),
            "tiers.ladder[2].min_visits must not be less than tiers.ladder[1]'s (6), not 5",
        ),
    ],
)
def test_a_contradictory_ladder_is_refused_naming_the_key(
    tmp_path: Path, change: tuple[str, str], says: str
) -> None:
    file = tmp_path / "bad.toml"
    file.write_text(LADDER_001.replace(*change))
    with pytest.raises(PolicyError) as raised:
        load_policy(file)
    assert str(raised.value) == f"{file}: {says}"


def test_the_same_rung_twice_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "twice.toml"
    file.write_text(
        'preset = "grades"\n[tiers]\namount_scale = 1\n'
        '[[tiers.ladder]]\nname = "potential"\n'
        '[[tiers.ladder]]\nname = "C"\nmatch = "any"\nmin_spend = 3000\nmin_visits = 6\n'
        '[[tiers.ladder]]\nname = "B"\nmatch = "any"\nmin_spend = 5000\nmin_visits = 8\n'
        '[[tiers.ladder]]\nname = "A"\nmatch = "any"\nmin_visits = 8\nmin_spend = 5000\n'
    )
    with pytest.raises(PolicyError) as raised:
        load_policy(file)
    assert str(raised.value).endswith(": tiers.ladder[3] must ask for more than tiers.ladder[2]")


def test_amount_scale_must_be_positive(tmp_path: Path) -> None:
    file = tmp_path / "zero.toml"
    file.write_text('preset = "grades"\n[tiers]\namount_scale = 0\n')
    with pytest.raises(PolicyError, match=r"tiers\.amount_scale must be greater than 0"):
        load_policy(file)


def test_window_totals_round_up_to_what_a_member_can_reach(tmp_path: Path) -> None:
    """Over 70 days a month is 70/30 of the window: 8 visits a month is 18.67 visits, so 19;
    ¥500 a month (001's 5,000 × 0.1) is ¥1,166.666…, so ¥1,166.67."""
    file = tmp_path / "seventy.toml"
    file.write_text('preset = "grades"\n[tiers]\nwindow_days = 70\n')
    policy = load_policy(file)
    b = next(r for r in policy.tiers.counted if r.name == "B")
    assert (b.min_visits, b.min_spend, b.min_referrals, b.min_suggestions) == (
        19,
        D("1166.67"),
        47,  # 20 a month: 46.67
        12,  # 5 a month: 11.67
    )
    c = next(r for r in policy.tiers.counted if r.name == "C")
    assert (c.min_visits, c.min_spend) == (14, D(700))  # 6 × 70/30 = 14; 300 × 70/30 = 700
    inp = TierInput(visits=[NOW - timedelta(days=d) for d in range(1, 19)], member_since=LONG_AGO)
    assert assess(policy, inp, now=NOW).tier == "C"  # 18 visits: short of 18.67
    inp = TierInput(visits=[NOW - timedelta(days=d) for d in range(1, 20)], member_since=LONG_AGO)
    assert assess(policy, inp, now=NOW).tier == "B"


def test_a_fraction_of_a_visit_or_a_cent_rounds_up_never_down(tmp_path: Path) -> None:
    """Over 50 days: 8 visits a month is 13.33 visits (14, not 13); ¥500 a month is ¥833.333…
    (¥833.34, not ¥833.33): a member who has 13 visits has not made 8 a month."""
    file = tmp_path / "fifty.toml"
    file.write_text('preset = "grades"\n[tiers]\nwindow_days = 50\n')
    b = next(r for r in load_policy(file).tiers.counted if r.name == "B")
    assert (b.min_visits, b.min_spend) == (14, D("833.34"))


def test_the_same_thresholds_all_of_above_any_of_is_a_real_step(tmp_path: Path) -> None:
    """B: ¥5,000 OR 8 visits; A: ¥5,000 AND 8 visits — the same numbers, a harder rule."""
    file = tmp_path / "both.toml"
    file.write_text(
        'preset = "grades"\n'
        '[[tiers.ladder]]\nname = "potential"\n'
        '[[tiers.ladder]]\nname = "C"\nmatch = "any"\nmin_spend = 3000\nmin_visits = 6\n'
        '[[tiers.ladder]]\nname = "B"\nmatch = "any"\nmin_spend = 5000\nmin_visits = 8\n'
        '[[tiers.ladder]]\nname = "A"\nmatch = "all"\nmin_spend = 5000\nmin_visits = 8\n'
    )
    policy = load_policy(file)
    assert grade(policy, visits=24) == "B"
    assert grade(policy, spend_per_visit=[D(100)] * 24) == "A"  # ¥2,400 and 24 visits: both


def test_what_each_grade_gets_follows_001(grades: Policy) -> None:
    """001's lists per grade: every grade (A, B, C) gets a birthday gift; B is asked on their
    birthday whether to keep a table and A before the holidays as well; A is invited to taste
    new dishes free, B to bring friends; C has a standing perk at every visit; A gets care, never
    a win-back discount; potential guests are won a second visit."""
    treat = grades.treatment_for
    assert [treat(g).birthday for g in ("C", "B", "A")] == ["coupon"] * 3
    assert treat("potential").birthday == "message"
    assert treat("B").offer_table == ("birthday",)
    assert set(treat("A").offer_table) == {"birthday", "holiday"}
    assert (treat("A").new_dish, treat("B").new_dish, treat("C").new_dish) == (
        "coupon",
        "friends",
        "message",
    )
    perk = treat("C").perk
    assert perk is not None
    assert (perk.kind, perk.value) == ("percent", D(10))
    assert treat("A").winback == "care"
    assert treat("potential").second_visit == "coupon"
    assert all(treat(g).holiday_note is not None for g in ("potential", "C", "B", "A"))
