"""The delivery benchmark, run small: the broadcast completes through `regulars run` against the
emulator with limits on, nothing lost or doubled; the baseline loop sends too. No timing is
asserted."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import delivery

pytestmark = pytest.mark.slow


async def test_a_small_broadcast_and_the_baseline(tmp_path: Path) -> None:
    ours = await delivery.run_outbox(30, 60, 30.0, tmp_path)
    assert (ours.reached, ours.duplicates, ours.lost) == (60, 0, 0)
    assert 0 < ours.delivered <= 60  # counted from the first message the emulator saw
    assert ours.peak_rss_mb > 0
    naive = await delivery.run_naive(30, 10, 30.0)
    assert (naive.reached, naive.delivered, naive.duplicates, naive.lost) == (10, 10, 0, 0)
    assert "RESULT bench=delivery target=outbox limit=30/s members=60" in ours.result()
