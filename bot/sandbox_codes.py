"""The codes a sandbox run has "printed", registered with the emulator for the web chat.

Table stickers, members' cards and the coupon QR codes diners are showing at the counter: the web
chat lists them to scan, and shows a scan as "📷 Scanned: Table 3 at Regulars Bistro" instead of
the raw ``/start <payload>``. The emulator asks for them again (``on_codes_refresh``) whenever the
list is looked at or an unregistered payload is opened, so new members and coupons show up.
These labels are for the person trying the sandbox (the web chat is English), not for diners.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.services import Services
from loyalty.qr import CardPayload, CouponPayload, TablePayload, deep_link
from models.tables import Coupon, CouponRedemption, DiningTable, Member
from sandbox.emulator import BotAPIEmulator


async def register_printed_codes(emulator: BotAPIEmulator, services: Services) -> None:
    """Make the emulator's table, card and coupon codes exactly those of the store right now."""
    store, sign, bot = services.store, services.signer.sign, emulator.username
    async with services.session_factory() as session:
        tables = await _table_numbers(session, store_id=store.id)
        cards = await _member_cards(session, store_id=store.id)
        coupons = await _coupons_at_the_counter(
            session, store_id=store.id, now=services.clock.now()
        )
    emulator.set_printed_codes(
        "table",
        [
            (
                f"Table {number} at {store.name}",
                deep_link(bot, sign(TablePayload(store.id, number))),
            )
            for number in tables
        ],
    )
    emulator.set_printed_codes(
        "card",
        [
            (f"{name}'s member card", deep_link(bot, sign(CardPayload(member_id))))
            for member_id, name in cards
        ],
    )
    emulator.set_printed_codes(
        "coupon",
        [
            (
                f"{name}'s coupon, code {short_code}",
                deep_link(bot, sign(CouponPayload(coupon_id=redemption_id, expires_at=expires))),
            )
            for redemption_id, expires, short_code, name in coupons
        ],
    )


def _name(member_id: int, display_name: str) -> str:
    return display_name.strip() or f"Member {member_id}"


async def _table_numbers(session: AsyncSession, *, store_id: int) -> Sequence[int]:
    rows = await session.execute(
        select(col(DiningTable.number))
        .where(col(DiningTable.store_id) == store_id)
        .order_by(col(DiningTable.number))
    )
    return rows.scalars().all()


async def _member_cards(session: AsyncSession, *, store_id: int) -> list[tuple[int, str]]:
    """Members who can show their card: linked to a Telegram account, not erased."""
    rows = await session.execute(
        select(col(Member.id), col(Member.display_name))
        .where(
            col(Member.store_id) == store_id,
            col(Member.telegram_user_id).is_not(None),
            col(Member.erased_at).is_(None),
        )
        .order_by(col(Member.id))
    )
    return [(int(member_id), _name(member_id, name)) for member_id, name in rows.all()]


async def _coupons_at_the_counter(
    session: AsyncSession, *, store_id: int, now: datetime
) -> list[tuple[int, datetime, str, str]]:
    """Coupon QR codes a diner has asked for and not used yet, while they are valid."""
    rows = await session.execute(
        select(
            col(CouponRedemption.id),
            col(CouponRedemption.expires_at),
            col(CouponRedemption.short_code),
            col(Member.id),
            col(Member.display_name),
        )
        .join(Coupon, col(Coupon.id) == col(CouponRedemption.coupon_id))
        .join(Member, col(Member.id) == col(Coupon.member_id))
        .where(
            col(Coupon.store_id) == store_id,
            col(CouponRedemption.used_at).is_(None),
            col(CouponRedemption.expires_at) > now,
        )
        .order_by(col(CouponRedemption.id))
    )
    return [
        (int(redemption_id), expires, code, _name(member_id, name))
        for redemption_id, expires, code, member_id, name in rows.all()
    ]
