"""The intake benchmark's journey, run small: it must work end to end before its figures mean
anything. No timing is asserted; this checks that every diner got through every step."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bench import intake

pytestmark = pytest.mark.slow


async def test_the_benchmark_journey_completes_for_regulars_and_bare_aiogram(
    tmp_path: Path,
) -> None:
    # Regulars in webhook mode, as a separate process: check-in, Pay, amount, invoice, payment.
    regulars = await intake.run_regulars("sqlite", 4, 4, tmp_path)
    assert regulars.failures == []
    assert {name: len(values) for name, values in regulars.latencies.items()} == dict.fromkeys(
        intake.STEP_NAMES, 4
    )
    assert regulars.bot_cpu_seconds > 0
    # Every diner, warm-up ones included, paid and became a member with one visit.
    with sqlite3.connect(tmp_path / "intake.sqlite3") as db:
        members = db.execute("SELECT count(*), min(visit_count), max(visit_count) FROM member")
        assert members.fetchone() == (4 + intake.WARM_UP, 1, 1)
    bare = await intake.run_bare(4, 4, tmp_path)
    assert bare.failures == []
    assert all(len(values) == 4 for values in bare.latencies.values())
