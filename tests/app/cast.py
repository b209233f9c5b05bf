"""The people of the direct-dispatcher tests, in each role and language, with a little history
(payments, a visit, a coupon, a feedback item, a broadcast draft) so buttons can name real rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from aiogram.types import User
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.config import Settings, load_settings
from loyalty import broadcasts, coupons, feedback, roles
from loyalty.audiences import Segment
from loyalty.channels import Channel
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment
from models.tables import Role, Staff, Visit
from tests.app.direct import Direct, direct
from tests.conftest import TEST_SECRET

OWNER, MANAGER, CASHIER = 2_000_001, 2_000_002, 2_000_003
DINER_EN, DINER_HANS, DINER_HANT, STRANGER = 2_000_101, 2_000_102, 2_000_103, 2_000_104

LANGUAGE = {
    OWNER: "en",
    MANAGER: "zh-hans",
    CASHIER: "zh-hant",
    DINER_EN: "en",
    DINER_HANS: "zh-hans",
    DINER_HANT: "zh-hant",
    STRANGER: "en",
}
LOCALE = {"en": "en", "zh-hans": "zh_Hans", "zh-hant": "zh_Hant"}
NAMES = {DINER_EN: "Dana", DINER_HANS: "Lina", DINER_HANT: "Ming"}
ROLE = {OWNER: Role.OWNER, MANAGER: Role.MANAGER, CASHIER: Role.CASHIER}


@dataclass
class Cast:
    app: Direct
    members: dict[int, int]  # telegram id -> member id
    visit: int  # Dana's visit
    coupon: int  # Dana's coupon
    feedback: int
    staff_row: int  # the cashier's staff row
    draft: int  # the owner's broadcast draft

    def user(self, telegram_id: int) -> User:
        return self.app.user(telegram_id, LANGUAGE[telegram_id], NAMES.get(telegram_id, "Staff"))

    def locale(self, telegram_id: int) -> str:
        return LOCALE[LANGUAGE[telegram_id]]

    def tr(self, telegram_id: int, text: str) -> str:
        """`text` in this person's language, as the catalogues have it."""
        return self.app.services.i18n.gettext(text, locale=self.locale(telegram_id))


def direct_settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key=TEST_SECRET,
        bot_token=None,
        webhook_url=None,
        owner_ids=(OWNER,),
        store_name="Noodle Bar",
    )


async def seed(app: Direct) -> Cast:
    services = app.services
    now = services.clock.now()
    store = StoreRef(services.store.id, services.store.timezone)
    members: dict[int, int] = {}
    async with services.session_factory() as session, session.begin():
        for telegram_id, role in ((MANAGER, Role.MANAGER), (CASHIER, Role.CASHIER)):
            await roles.grant(
                session,
                telegram_id=telegram_id,
                store_id=store.id,
                role=role,
                display_name="Staff",
                granted_by=OWNER,
                now=now,
            )
        for telegram_id, name in NAMES.items():
            outcome = await record_payment(
                session,
                source=PaymentSource.POS,
                external_id=f"seed-{telegram_id}",
                store=store,
                amount=Decimal("20.00"),
                currency=services.store.currency,
                payer=Payer(telegram_id=telegram_id, first_name=name, channel=Channel.CHAT),
                policy=services.policy,
                now=now,
            )
            members[telegram_id] = outcome.member_id
        coupon = await coupons.gift(
            session,
            member_id=members[DINER_EN],
            template_key=next(iter(services.policy.coupons.templates)),
            by_telegram_id=OWNER,
            policy=services.policy,
            now=now,
        )
        draft = await broadcasts.create_draft(
            session,
            segment=Segment(),
            text="Hello",
            photo=None,
            created_by=OWNER,
            policy=services.policy,
            now=now,
        )
    async with services.session_factory() as session, session.begin():
        visit = await _first_visit(session, members[DINER_EN])
        rated = await feedback.rate(
            session, visit_id=visit, telegram_id=DINER_EN, stars=5, low_rating=2, now=now
        )
        staff_row = await _staff_row(session, CASHIER)
    # everyone has talked to the bot once, so their language is known
    for telegram_id, code in LANGUAGE.items():
        await app.say(app.user(telegram_id, code, NAMES.get(telegram_id, "Staff")), "/help")
    return Cast(app, members, visit, coupon.id, rated.feedback_id, staff_row, draft.id)


async def _first_visit(session: AsyncSession, member_id: int) -> int:
    found = await session.scalar(select(col(Visit.id)).where(col(Visit.member_id) == member_id))
    assert found is not None
    return int(found)


async def _staff_row(session: AsyncSession, telegram_id: int) -> int:
    found = await session.scalar(select(col(Staff.id)).where(col(Staff.telegram_id) == telegram_id))
    assert found is not None
    return int(found)


@pytest.fixture
async def cast(tmp_path: Path, database_url: str) -> AsyncIterator[Cast]:
    async with direct(direct_settings(tmp_path, database_url)) as app:
        yield await seed(app)
