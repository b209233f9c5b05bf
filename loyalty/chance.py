"""Is a difference between two groups more than luck? Fisher's exact test on a 2×2 table.

A campaign's messaged members and its holdout (the control group that got nothing) each have a
share who came back. With a holdout of a handful of people, a difference of ten points is what
chance gives half the time; the report says so instead of printing a "lift". Fisher's test is
exact at every size (no large-sample approximation), which matters because most restaurant
holdouts are small.

    two_sided_p(a, b, c, d)   for the table   [[a, b],   messaged: came back, did not
                                               [c, d]]   holdout:  came back, did not

is the probability, were both groups alike, of a table at least as unlikely as this one with the
same margins (the sum of the hypergeometric probabilities not above the observed one).
"""

from __future__ import annotations

import math

SIGNIFICANT = 0.05
_TOLERANCE = 1 + 1e-7  # tables as likely as the observed one, up to rounding, count


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def two_sided_p(a: int, b: int, c: int, d: int) -> float:
    """Fisher's exact test, two-sided, for [[a, b], [c, d]] (counts ≥ 0)."""
    if min(a, b, c, d) < 0:
        raise ValueError("counts cannot be negative")
    row1, row2, col1 = a + b, c + d, a + c
    n = row1 + row2
    if n == 0 or row1 == 0 or row2 == 0 or col1 == 0 or col1 == n:
        return 1.0
    total = _log_choose(n, col1)

    def log_p(x: int) -> float:
        return _log_choose(row1, x) + _log_choose(row2, col1 - x) - total

    observed = log_p(a)
    low, high = max(0, col1 - row2), min(row1, col1)
    p = sum(
        math.exp(log_p(x))
        for x in range(low, high + 1)
        if log_p(x) <= observed + math.log(_TOLERANCE)
    )
    return min(p, 1.0)


def within_chance(a: int, b: int, c: int, d: int) -> bool:
    """Whether the difference could well be luck (p ≥ 0.05)."""
    return two_sided_p(a, b, c, d) >= SIGNIFICANT
