"""Holiday greetings per tier (issue 17, part 4; seed 001 greets each grade its own way and asks
its best guests whether to keep a table): each tier's own words under the greeting, and
"Reserve a table" only for the tiers whose treatment offers one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.config import Settings
from bot.sandbox_run import SandboxRun, sandbox
from models.tables import Member
from sandbox.client import SandboxClient
from tests.app.test_feedback import at, visit
from tests.app.test_pay import member_of

DANA, LI_NA = 1_000_501, 1_000_502


def holiday_policy(month_day: str) -> str:
    return f"""preset = "frequency"
[campaigns]
holdout_share = 0.0
[treatments.occasional]
offer_table = ["holiday"]
[treatments.newcomer.holiday_note]
en = "Come back and try the holiday menu."
zh_Hans = "欢迎回来尝尝节日菜单。"
zh_Hant = "歡迎回來嚐嚐節日菜單。"
[treatments.occasional.holiday_note]
en = "Thank you for coming back to us this year."
zh_Hans = "感谢您今年常回来。"
zh_Hant = "感謝您今年常回來。"
[[holidays]]
month_day = "{month_day}"
name = {{ en = "Founders' Day", zh_Hans = "店庆日", zh_Hant = "店慶日" }}
"""


@pytest.fixture
async def holiday_run(sandbox_settings: Settings, tmp_path: Path) -> AsyncIterator[SandboxRun]:
    async with sandbox(sandbox_settings, port=0) as probe:  # only to read the sandbox's date
        now = probe.services.clock.now()
    # the test's visits are at the next noon (`at(run, 12)`: tomorrow's when the suite runs in
    # the afternoon), the holiday the day after them
    noon = now.replace(hour=12, minute=0, second=0, microsecond=0)
    if noon <= now:
        noon += timedelta(days=1)
    holiday = noon.date() + timedelta(days=1)
    file = tmp_path / "holiday.toml"
    file.write_text(holiday_policy(f"{holiday:%m-%d}"), encoding="utf-8")
    settings = sandbox_settings.model_copy(
        update={"policy_file": file, "data_dir": tmp_path / "data2"}
    )
    async with sandbox(settings, port=0) as running:
        yield running


async def test_each_tier_has_its_own_holiday_words_and_the_table_offer_is_the_policy_s(
    holiday_run: SandboxRun,
) -> None:
    run = holiday_run
    async with SandboxClient(run.url) as client:
        await client.add_user(DANA, "Dana", started=True)
        await client.add_user(LI_NA, "Li Na", "en", started=True)
        at(run, 12)
        await visit(run, DANA, "Dana", "first")
        await visit(run, LI_NA, "Li Na", "only")
        run.services.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
        await visit(run, DANA, "Dana", "second")  # two visits: a returning guest
        ids = []
        for who in (DANA, LI_NA):
            found = await member_of(run, who)
            assert found is not None
            ids.append(found.id)
        async with run.services.session_factory() as session, session.begin():
            await session.execute(
                update(Member)
                .where(Member.id.in_(ids))  # type: ignore[union-attr]
                .values(marketing_consent=True)
            )
        dana = await member_of(run, DANA)
        assert dana is not None
        assert dana.tier == "occasional"
        now = run.services.clock.now()
        morning = (now + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
        await client.advance_clock((morning - now).total_seconds())

        def greeting(messages: list[dict[str, object]]) -> dict[str, object]:
            return next(m for m in messages if str(m.get("text") or "").startswith("Happy Found"))

        hers = greeting(
            await client.wait_for(
                DANA, lambda ms: any((m.get("text") or "").startswith("Happy Found") for m in ms)
            )
        )
        his = greeting(
            await client.wait_for(
                LI_NA, lambda ms: any((m.get("text") or "").startswith("Happy Found") for m in ms)
            )
        )
        assert str(hers["text"]).endswith(
            "Thank you for coming back to us this year.\n\n"
            "Shall we keep a table for you? Tap below to reserve one."
        )
        markup = hers["reply_markup"]
        assert isinstance(markup, dict)
        assert [b["text"] for row in markup["inline_keyboard"] for b in row] == [
            "🍽 Reserve a table"
        ]
        assert str(his["text"]).endswith("\n\nCome back and try the holiday menu.")
        assert not his.get("reply_markup")
