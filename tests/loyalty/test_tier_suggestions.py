"""Suggestions a manager adopted count toward tiers (DESIGN §3): a value ladder whose top rung
asks for them, on a real database. The Python rules (tiers.status_of), the nightly SQL refresh
and explain agree."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loyalty import explain, feedback, refresh, tiers
from loyalty.payments import StoreRef
from loyalty.policy import Policy, load_policy
from models.tables import Feedback, Member
from tests.loyalty.test_refresh import NOW, D, add_member, add_visits


@pytest.fixture
def policy(tmp_path: Path) -> Policy:
    """The value preset with A asking for two suggestions in the 90-day window."""
    file = tmp_path / "ideas.toml"
    file.write_text(
        'preset = "value"\n'
        '[[tiers.ladder]]\nname = "C"\n'
        '[[tiers.ladder]]\nname = "B"\nmin_visits = 3\nmin_spend = 600\n'
        '[[tiers.ladder]]\nname = "A"\nmin_visits = 3\nmin_spend = 600\nmin_suggestions = 2\n'
    )
    return load_policy(file)


# (suggestions adopted days ago, complaints, visits) → the tier as of NOW; a suggestion nobody
# adopted counts for nothing (-1 below: sent 5 days ago, not adopted)
CASES = {
    "two ideas: A": ([5, 40], 0, 3, "A"),
    "an idea not adopted: B": ([5, -1], 0, 3, "B"),
    "one idea is too old: B": ([5, 100], 0, 3, "B"),
    "a complaint is no idea: B": ([5], 1, 3, "B"),
    "no ideas: B": ([], 0, 3, "B"),
    "ideas without the visits: C": ([1, 2, 3], 0, 1, "C"),
}


async def test_suggestions_count_toward_a_tier_in_python_and_in_sql(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    ids: dict[str, int] = {}
    async with factory() as session, session.begin():
        for n, (name, (ideas, complaints, visits, _)) in enumerate(CASES.items()):
            member = await add_member(
                session,
                store=store,
                telegram_id=5000 + n,
                tier="C",
                enrolled_at=NOW - timedelta(days=200),
            )
            assert member.id is not None
            ids[name] = member.id
            await add_visits(
                session,
                member,
                store=store,
                visits=[(NOW - timedelta(days=10 + 7 * i), D(300)) for i in range(visits)],
            )
            for days in ideas:
                session.add(
                    Feedback(
                        member_id=member.id,
                        kind=feedback.SUGGESTION,
                        text="an idea",
                        created_at=NOW - timedelta(days=abs(days) + 1),
                        adopted_at=NOW - timedelta(days=days) if days >= 0 else None,
                    )
                )
            for i in range(complaints):
                session.add(
                    Feedback(
                        member_id=member.id,
                        kind=feedback.COMPLAINT,
                        text="cold soup",
                        created_at=NOW - timedelta(days=1 + i),
                    )
                )

    result = await refresh.nightly_refresh(factory, policy=policy, now=NOW, batch_size=2)
    assert (result.upgrades, result.downgrades) == (5, 0)  # C → B four times, C → A once

    async with factory() as session:
        stored = {m.id: m.tier for m in (await session.execute(select(Member))).scalars()}
        for name, (ideas, _, _, expected) in CASES.items():
            found = await session.get(Member, ids[name])
            assert found is not None
            status = await tiers.status_of(session, member=found, policy=policy, now=NOW)
            assert status.tier == stored[ids[name]] == expected, name
            counted = sum(1 for days in ideas if 0 <= days <= policy.tiers.window_days)
            why = await explain.explain(session, member_id=ids[name], policy=policy, now=NOW)
            assert why.suggestions_in_window == counted, name
            (top,) = [rung for rung in why.rungs if rung.tier == "A"]
            have = {c.key: c.have for c in top.conditions}
            assert have["suggestions"] == counted, name
            assert top.met == (expected == "A"), name
            if expected == "B":
                assert status.suggestions_needed == 2 - counted, name


def test_assess_counts_the_suggestions_it_is_given(policy: Policy) -> None:
    def tier(suggestions: int) -> str:
        inp = tiers.TierInput(
            visits=[NOW - timedelta(days=d) for d in (10, 17, 24)],
            spend_by_visit=[D(300)] * 3,
            member_since=NOW - timedelta(days=200),
            suggestions=suggestions,
        )
        return tiers.assess(policy, inp, now=NOW).tier

    assert (tier(1), tier(2)) == ("B", "A")
