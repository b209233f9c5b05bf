"""The nightly refresh and the tier notices as the scheduler runs them, moved by the sandbox
clock, seen from the member's chat in the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.sandbox_run import SandboxRun, sandbox
from loyalty.channels import Channel
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment
from models import queries
from models.tables import Member, TierChange
from sandbox.client import SandboxClient

LI_NA = 1_000_102


@pytest.fixture
async def value_run(sandbox_settings: Settings, tmp_path: Path) -> AsyncIterator[SandboxRun]:
    """A sandbox on the "value" preset: members are "potential" for 60 days, then graded."""
    file = tmp_path / "value.toml"
    file.write_text('preset = "value"\n')
    settings = sandbox_settings.model_copy(update={"policy_file": file})
    async with sandbox(settings, port=0) as running:
        yield running


async def test_graded_after_sixty_days_and_congratulated_once_outside_quiet_hours(
    value_run: SandboxRun,
) -> None:
    run = value_run
    services = run.services
    async with SandboxClient(run.url) as client:
        await client.say(LI_NA, "/start")  # she has talked to the bot: her language is known
        store = StoreRef(id=services.store.id, timezone=services.store.timezone)
        payer = Payer(telegram_id=LI_NA, first_name="李娜", channel=Channel.TABLE_QR)
        for day in range(3):  # three dinners of 250 in her first week: silver material
            async with services.session_factory() as session, session.begin():
                outcome = await record_payment(
                    session,
                    source=PaymentSource.POS,
                    external_id=f"li-{day}",
                    store=store,
                    amount=Decimal(250),
                    currency="USD",
                    payer=payer,
                    policy=services.policy,
                    now=services.clock.now(),
                )
            assert outcome.tier_up is None  # still "potential": observed, not graded
            services.clock.advance(timedelta(days=1))  # type: ignore[attr-defined]
        before = len(await client.inbox(LI_NA))

        # day 61, 23:00 in the store's time zone (UTC): graded tonight, but quiet hours hold
        # the congratulation back
        now = services.clock.now()
        late = (now + timedelta(days=58)).replace(hour=23, minute=0)
        ran = await client.advance_clock((late - now).total_seconds())
        assert ran["jobs"]["nightly_refresh"]["ran"] is True
        assert ran["jobs"]["nightly_refresh"]["upgrades"] == 1
        assert ran["jobs"]["tier_notices"] == {"sent": 0, "quiet": True}
        assert len(await client.inbox(LI_NA)) == before
        async with services.session_factory() as session:
            member = await queries.get_member_by_telegram_id(session, telegram_id=LI_NA)
            assert member is not None
            assert member.tier == "B"

        # the next morning at 10:00 it goes out, in her language, naming what is new for her
        ran = await client.advance_clock(11 * 3600)
        assert ran["jobs"]["tier_notices"] == {"sent": 1, "failed": 0}
        told = await client.reply_after(LI_NA, before)
        assert told["text"].startswith("恭喜您升级为银卡会员！")
        assert "• 生日礼物" in told["text"]

        # once: more days pass, nothing more is sent, and each day's refresh ran once
        ran = await client.advance_clock(24 * 3600)
        assert ran["jobs"]["tier_notices"] == {"sent": 0, "failed": 0}
        assert ran["jobs"]["nightly_refresh"]["ran"] is True
        again = await run.scheduler.run_due()
        assert again["nightly_refresh"]["ran"] is False  # the same day: already done
        assert len(await client.inbox(LI_NA)) == before + 1
        async with services.session_factory() as session:
            runs = await queries.job_runs(session, job="nightly_refresh")
            periods = [r.period for r in runs]
            assert len(periods) == len(set(periods)) >= 3
            assert all(r.finished_at is not None for r in runs)
            changes = (await session.execute(select(TierChange))).scalars().all()
            assert [(c.from_tier, c.to_tier, c.direction) for c in changes] == [
                ("potential", "B", "up")
            ]
            assert changes[0].notified_at is not None
            rhythm = (await session.execute(select(Member))).scalars().one()
            assert rhythm.lapsed_due_at is not None  # the refresh keeps the due dates


async def test_before_three_in_the_morning_the_refresh_waits(run: SandboxRun) -> None:
    now = run.services.clock.now()
    target = (now + timedelta(days=1)).replace(hour=2, minute=0)
    run.services.clock.advance(target - now)  # type: ignore[attr-defined]
    ran = await run.scheduler.run_due()
    assert ran["nightly_refresh"] == {"waiting_until": "03:00:00"}
