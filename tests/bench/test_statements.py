"""bench.statements must keep working: one diner through the journey, every kind of update
counted. No budget is asserted (the figures go to the commit messages and bench/RESULTS.md)."""

from __future__ import annotations

import pytest

from bench import statements


async def test_one_journey_is_counted_by_kind_of_update(
    capsys: pytest.CaptureFixture[str], database_url: str
) -> None:
    args = statements.parse_args(["--diners", "1", "--database-url", database_url])
    assert await statements.main(args) == 0
    out = capsys.readouterr().out
    for kind in ("start link", "callback_query", "text", "pre_checkout_query"):
        assert f"  {kind} " in out
    assert "successful_payment" in out
    assert "RESULT bench=statements per_journey=" in out
