"""Coupons: issued from the policy's templates (by campaigns, gifts, points exchanges), held in the
member's wallet, redeemed once — at the counter (a short-lived QR or a 6-digit code the cashier
confirms) or on a bill paid in chat.

Exactly once: a redemption is one conditional update (status active → redeemed); of any number
of concurrent confirmations one wins and the others are told it is already used. Every check that
can refuse (expired, used, another member's, below the minimum spend, a wrong or rate-limited
code, a cashier's own coupon) runs before anything is written.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from loyalty import offers
from loyalty.errors import Problem
from loyalty.money import currency_precision
from loyalty.payments import (
    Channel,
    Payer,
    PaymentOutcome,
    PaymentSource,
    StoreRef,
    record_payment,
)
from loyalty.policy import CouponTemplate, Policy, discount_for
from models import queries
from models.tables import (
    CodeAttempt,
    Coupon,
    CouponRedemption,
    Member,
    PointsEntry,
    Store,
    TelegramUser,
)

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed
ACTIVE, RESERVED, REDEEMED = "active", "reserved", "redeemed"
FOREVER = datetime.max.replace(tzinfo=UTC)


class CouponProblem(Problem):
    """Why a coupon cannot be issued, shown or used; `reason` picks the message."""


@dataclass(frozen=True, slots=True)
class CouponView:
    id: int
    member_id: int
    code: str
    template: str
    kind: str
    value: Decimal
    min_spend: Decimal
    cap: Decimal | None
    currency: str
    valid_until: datetime
    status: str
    campaign: str | None
    dish_name: str | None = None
    """A free dish not among the policy's templates (a new dish's tasting)."""

    def discount(self, bill: Decimal) -> Decimal:
        return discount_for(
            self.kind, self.value, self.cap, bill=bill, places=currency_precision(self.currency)
        )


def _view(coupon: Coupon) -> CouponView:
    assert coupon.id is not None
    return CouponView(
        id=coupon.id,
        member_id=coupon.member_id,
        code=coupon.code,
        template=coupon.template,
        kind=coupon.kind,
        value=coupon.value,
        min_spend=coupon.min_spend,
        cap=coupon.cap,
        currency=coupon.currency,
        valid_until=coupon.valid_until,
        status=coupon.status,
        campaign=coupon.campaign,
        dish_name=coupon.dish_name,
    )


def preview(key: str, template: CouponTemplate, *, currency: str) -> CouponView:
    """A template's terms as a coupon nobody holds yet (to describe an offer)."""
    return CouponView(
        id=0,
        member_id=0,
        code="",
        template=key,
        kind=template.kind,
        value=template.value,
        min_spend=template.min_spend,
        cap=template.cap,
        currency=currency,
        valid_until=FOREVER,
        status="",
        campaign=None,
    )


def valid_until(template: CouponTemplate, *, now: datetime, timezone: str) -> datetime:
    """The end of the store's local day `valid_days` after `now`."""
    zone = ZoneInfo(timezone)
    day = now.astimezone(zone).date() + timedelta(days=template.valid_days)
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone) - timedelta(
        microseconds=1
    )


def _usable(now: datetime) -> object:
    """SQL: a coupon that can be used now (active, or held for a bill that has expired)."""
    return and_(
        col(Coupon.valid_until) > now,
        or_(
            col(Coupon.status) == ACTIVE,
            and_(col(Coupon.status) == RESERVED, col(Coupon.reserved_until) <= now),
        ),
    )


def _is_usable(coupon: Coupon, now: datetime) -> bool:
    if coupon.valid_until <= now:
        return False
    if coupon.status == ACTIVE:
        return True
    return (
        coupon.status == RESERVED
        and coupon.reserved_until is not None
        and coupon.reserved_until <= now
    )


def _why_not(coupon: Coupon, now: datetime) -> CouponProblem:
    if coupon.status == REDEEMED:
        return CouponProblem("used")
    if coupon.valid_until <= now:
        return CouponProblem("expired")
    return CouponProblem("used")  # held for a bill being paid right now


# -- issuing -----------------------------------------------------------------------------------


async def issue(
    session: AsyncSession,
    *,
    member_id: int,
    template_key: str,
    policy: Policy,
    now: datetime,
    campaign: str | None = None,
    issued_by: int | None = None,
    terms: CouponTemplate | None = None,
    dish_name: str | None = None,
    adapted: str = "",
) -> CouponView:
    """A coupon from the policy's template `template_key`, or on explicit `terms` (a win-back
    step's amount, a template fitted to the member) recorded under that key; `dish_name` names
    a free dish the policy does not (a new dish's tasting); `adapted` what was fitted."""
    template = terms or policy.coupons.templates.get(template_key)
    if template is None:
        raise CouponProblem("unknown_template")
    member = await session.get(Member, member_id)
    if member is None or member.erased_at is not None:
        raise CouponProblem("not_member")
    store = await session.get(Store, member.store_id)
    assert store is not None
    assert store.id is not None
    coupon = Coupon(
        code="".join(secrets.choice(_CODE_ALPHABET) for _ in range(12)),
        member_id=member_id,
        store_id=store.id,
        template=template_key,
        kind=template.kind,
        value=template.value,
        min_spend=template.min_spend,
        cap=template.cap,
        currency=store.currency,
        campaign=campaign,
        dish_name=dish_name,
        issued_by=issued_by,
        issued_at=now,
        valid_until=valid_until(template, now=now, timezone=store.timezone),
        adapted=adapted[:200],
    )
    session.add(coupon)
    await session.flush()
    return _view(coupon)


async def gift(
    session: AsyncSession,
    *,
    member_id: int,
    template_key: str,
    by_telegram_id: int,
    policy: Policy,
    now: datetime,
) -> CouponView:
    """A manager's gift (`/gift <member> <template>`), in the audit log."""
    view = await issue(
        session,
        member_id=member_id,
        template_key=template_key,
        policy=policy,
        now=now,
        campaign="gift",
        issued_by=by_telegram_id,
    )
    await queries.add_audit(
        session,
        actor_telegram_id=by_telegram_id,
        action="coupon.gift",
        detail=f"coupon={view.id} member={member_id} template={template_key}",
        now=now,
    )
    return view


async def exchange_points(
    session: AsyncSession,
    *,
    member_id: int,
    template_key: str,
    policy: Policy,
    now: datetime,
    request_key: str | None = None,
) -> CouponView:
    """Points for a coupon, atomically: the points are taken by one conditional update (never
    below zero) and the coupon is issued in the same savepoint. `request_key` (the button's
    one-time key) makes a double tap spend the points once: the second is "already"."""
    offer = policy.points.exchange_for(template_key)
    if offer is None or template_key not in policy.coupons.templates:
        raise CouponProblem("unknown_template")
    try:
        async with session.begin_nested():  # refused: nothing of it stays
            taken = await session.execute(
                update(Member)
                .where(col(Member.id) == member_id, col(Member.points_balance) >= offer.cost)
                .values(points_balance=col(Member.points_balance) - offer.cost)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                raise CouponProblem("no_points")
            session.add(
                PointsEntry(
                    member_id=member_id,
                    delta=-offer.cost,
                    reason="exchange",
                    at=now,
                    request_key=request_key,
                )
            )
            await session.flush()
            view = await issue(
                session,
                member_id=member_id,
                template_key=template_key,
                policy=policy,
                now=now,
                campaign="points",
            )
    except IntegrityError:
        raise CouponProblem("already") from None
    member = await session.get(Member, member_id)
    if member is not None:
        await session.refresh(member)
    return view


# -- the wallet --------------------------------------------------------------------------------


async def usable_coupons(
    session: AsyncSession, *, member_id: int, now: datetime
) -> list[CouponView]:
    result = await session.execute(
        select(Coupon)
        .where(col(Coupon.member_id) == member_id, _usable(now))  # type: ignore[arg-type]
        .order_by(col(Coupon.valid_until), col(Coupon.id))
    )
    return [_view(c) for c in result.scalars().all()]


async def expiring_between(
    session: AsyncSession, *, now: datetime, until: datetime, issued_before: datetime
) -> list[CouponView]:
    """Coupons still usable now whose last moment comes by `until`, issued before
    `issued_before`, soonest first (reminders)."""
    result = await session.execute(
        select(Coupon)
        .where(
            _usable(now),  # type: ignore[arg-type]
            col(Coupon.valid_until) <= until,
            col(Coupon.issued_at) < issued_before,
        )
        .order_by(col(Coupon.valid_until), col(Coupon.id))
    )
    return [_view(c) for c in result.scalars().all()]


@dataclass(frozen=True, slots=True)
class Offer:
    template: str
    cost: int
    affordable: bool


@dataclass(frozen=True, slots=True)
class Wallet:
    member_id: int
    points: int
    coupons: list[CouponView]
    offers: list[Offer]


async def wallet(
    session: AsyncSession, *, telegram_id: int, policy: Policy, now: datetime
) -> Wallet | None:
    """Usable coupons, the points balance and what points can buy; None for a non-member."""
    member = await member_of_person(session, telegram_id=telegram_id)
    if member is None or member.id is None:
        return None
    offers = [
        Offer(e.template, e.cost, member.points_balance >= e.cost)
        for e in policy.points.exchange
        if e.template in policy.coupons.templates
    ]
    held = await usable_coupons(session, member_id=member.id, now=now)
    return Wallet(member.id, member.points_balance, held, offers)


async def count_usable(session: AsyncSession, *, member_id: int, now: datetime) -> int:
    """How many coupons a member can use now (for the check-in greeting: one COUNT)."""
    found = await session.scalar(
        select(func.count())
        .select_from(Coupon)
        .where(col(Coupon.member_id) == member_id, _usable(now))  # type: ignore[arg-type]
    )
    return int(found or 0)


async def member_of_person(session: AsyncSession, *, telegram_id: int) -> Member | None:
    member = await queries.get_member_by_telegram_id(session, telegram_id=telegram_id)
    return member if member is not None and member.erased_at is None else None


async def _own_coupon(
    session: AsyncSession, *, coupon_id: int, telegram_id: int
) -> tuple[Coupon, Member]:
    member = await member_of_person(session, telegram_id=telegram_id)
    coupon = await session.get(Coupon, coupon_id)
    if coupon is None:
        raise CouponProblem("unknown")
    if member is None or coupon.member_id != member.id:
        raise CouponProblem("not_yours")
    return coupon, member


@dataclass(frozen=True, slots=True)
class RedemptionTicket:
    redemption_id: int
    short_code: str
    expires_at: datetime
    coupon: CouponView


async def request_redemption(
    session: AsyncSession, *, coupon_id: int, telegram_id: int, policy: Policy, now: datetime
) -> RedemptionTicket:
    """The diner tapped Use: a single-use QR and code, valid for a few minutes."""
    coupon, _ = await _own_coupon(session, coupon_id=coupon_id, telegram_id=telegram_id)
    if not _is_usable(coupon, now):
        raise _why_not(coupon, now)
    expires = now + timedelta(minutes=policy.coupons.redemption_minutes)
    open_codes = set(
        (
            await session.execute(
                select(col(CouponRedemption.short_code)).where(
                    col(CouponRedemption.expires_at) > now, col(CouponRedemption.used_at).is_(None)
                )
            )
        )
        .scalars()
        .all()
    )
    code = f"{secrets.randbelow(1_000_000):06d}"
    while code in open_codes:  # unique among the codes a cashier could be typing now
        code = f"{secrets.randbelow(1_000_000):06d}"
    assert coupon.id is not None
    request = CouponRedemption(
        coupon_id=coupon.id, short_code=code, created_at=now, expires_at=expires
    )
    session.add(request)
    await session.flush()
    assert request.id is not None
    return RedemptionTicket(request.id, code, expires, _view(coupon))


# -- at the counter ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AtCounter:
    """What the cashier sees: the coupon and the member's name and tier, nothing more."""

    redemption_id: int
    coupon: CouponView
    member_name: str
    member_tier: str


async def _check_rate(
    session: AsyncSession, *, cashier_telegram_id: int, policy: Policy, now: datetime
) -> None:
    since = now - timedelta(minutes=policy.coupons.wrong_code_window_minutes)
    wrong = await session.scalar(
        select(func.count())
        .select_from(CodeAttempt)
        .where(
            col(CodeAttempt.cashier_telegram_id) == cashier_telegram_id,
            col(CodeAttempt.at) > since,
        )
    )
    if int(wrong or 0) >= policy.coupons.wrong_code_limit:
        raise CouponProblem("too_many_codes")


async def find_by_code(
    session: AsyncSession,
    *,
    short_code: str,
    cashier_telegram_id: int,
    policy: Policy,
    now: datetime,
) -> AtCounter | None:
    """A code the cashier typed; None when no open redemption has it. Wrong codes are counted;
    too many in the window pause the cashier (CouponProblem "too_many_codes")."""
    await _check_rate(session, cashier_telegram_id=cashier_telegram_id, policy=policy, now=now)
    code = short_code.strip()
    found = None
    if code.isdigit() and len(code) == 6:
        found = await session.scalar(
            select(col(CouponRedemption.id))
            .where(
                col(CouponRedemption.short_code) == code,
                col(CouponRedemption.expires_at) > now,
                col(CouponRedemption.used_at).is_(None),
            )
            .order_by(col(CouponRedemption.id).desc())
            .limit(1)
        )
    if found is None:
        # The one write of a refusal: the attempt itself, which the rate limit counts. Returned
        # rather than raised, so that the caller's transaction keeps it.
        session.add(CodeAttempt(cashier_telegram_id=cashier_telegram_id, code=code[:16], at=now))
        await session.flush()
        return None
    return await at_counter(
        session, redemption_id=found, cashier_telegram_id=cashier_telegram_id, now=now
    )


async def at_counter(
    session: AsyncSession, *, redemption_id: int, cashier_telegram_id: int, now: datetime
) -> AtCounter:
    request = await session.get(CouponRedemption, redemption_id)
    if request is None:
        raise CouponProblem("unknown")
    coupon = await session.get(Coupon, request.coupon_id)
    member = await session.get(Member, coupon.member_id) if coupon is not None else None
    if coupon is None or member is None or member.erased_at is not None:
        raise CouponProblem("unknown")
    if request.used_at is not None or coupon.status == REDEEMED:
        raise CouponProblem("used")
    if request.expires_at <= now:
        raise CouponProblem("code_expired")
    if not _is_usable(coupon, now):
        raise _why_not(coupon, now)
    cashier_user = await session.scalar(
        select(col(TelegramUser.id)).where(col(TelegramUser.telegram_id) == cashier_telegram_id)
    )
    if cashier_user is not None and cashier_user == member.telegram_user_id:
        raise CouponProblem("own_coupon")
    return AtCounter(redemption_id, _view(coupon), member.display_name, member.tier)


@dataclass(frozen=True, slots=True)
class Redeemed:
    coupon: CouponView
    bill_amount: Decimal
    discount: Decimal
    paid: Decimal
    payment: PaymentOutcome
    member_telegram_id: int | None


async def redeem_at_counter(
    session: AsyncSession,
    *,
    redemption_id: int,
    cashier_telegram_id: int,
    bill_amount: Decimal,
    store: StoreRef,
    policy: Policy,
    now: datetime,
) -> Redeemed:
    """The cashier confirms: check everything, then one conditional update takes the coupon;
    the bill less the discount is recorded as the member's payment (visit, points)."""
    seen = await at_counter(
        session, redemption_id=redemption_id, cashier_telegram_id=cashier_telegram_id, now=now
    )
    coupon = seen.coupon
    if bill_amount < coupon.min_spend:
        raise CouponProblem("below_min")
    await _one_per_bill(session, member_id=coupon.member_id, policy=policy, now=now)
    discount = coupon.discount(bill_amount)
    await _take_if_usable(
        session,
        coupon_id=coupon.id,
        now=now,
        status=REDEEMED,
        redeemed_at=now,
        redeemed_by=cashier_telegram_id,
        bill_amount=bill_amount,
        discount=discount,
    )
    await offers.answered(session, member_id=coupon.member_id)
    await session.execute(
        update(CouponRedemption)
        .where(col(CouponRedemption.id) == redemption_id)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    telegram_id = await queries.member_telegram_id(session, member_id=coupon.member_id)
    assert telegram_id is not None  # at_counter refused erased members
    paid = bill_amount - discount
    outcome = await record_payment(
        session,
        source=PaymentSource.CASHIER,
        external_id=f"coupon:{coupon.id}",
        store=store,
        amount=paid,
        currency=coupon.currency,
        payer=Payer(telegram_id=telegram_id, first_name=seen.member_name, channel=Channel.CASHIER),
        policy=policy,
        now=now,
        cashier_telegram_id=cashier_telegram_id,
        audit=False,  # the one audit line below names the coupon and the payment
    )
    await session.execute(
        update(Coupon)
        .where(col(Coupon.id) == coupon.id)
        .values(payment_id=outcome.payment_id)
        .execution_options(synchronize_session=False)
    )
    await queries.add_audit(
        session,
        actor_telegram_id=cashier_telegram_id,
        action="coupon.redeem",
        detail=(
            f"coupon={coupon.id} member={coupon.member_id} bill={bill_amount} "
            f"discount={discount} payment={outcome.payment_id}"
        ),
        now=now,
    )
    outcome = replace(outcome, coupon_discount=discount)
    return Redeemed(coupon, bill_amount, discount, paid, outcome, telegram_id)


async def _one_per_bill(
    session: AsyncSession, *, member_id: int, policy: Policy, now: datetime
) -> None:
    """One coupon per bill: another coupon of this member redeemed moments ago was for this bill."""
    same_visit = now - timedelta(minutes=policy.fraud.min_minutes_between_visits)
    if await session.scalar(
        select(func.count())
        .select_from(Coupon)
        .where(
            col(Coupon.member_id) == member_id,
            col(Coupon.status) == REDEEMED,
            col(Coupon.redeemed_at) > same_visit,
        )
    ):
        raise CouponProblem("one_per_bill")


async def _take_if_usable(
    session: AsyncSession, *, coupon_id: int, now: datetime, **values: Any
) -> None:
    """One conditional update takes the coupon while it is still usable: of two cashiers (or a
    cashier and a bill) at once, exactly one wins; the other is told it is used."""
    won = await session.execute(
        update(Coupon)
        .where(col(Coupon.id) == coupon_id, _usable(now))  # type: ignore[arg-type]
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        raise CouponProblem("used")


# -- on a bill paid in chat --------------------------------------------------------------------


async def applicable_for_bill(
    session: AsyncSession, *, telegram_id: int, amount: Decimal, now: datetime
) -> list[CouponView]:
    member = await member_of_person(session, telegram_id=telegram_id)
    if member is None or member.id is None:
        return []
    return [
        c
        for c in await usable_coupons(session, member_id=member.id, now=now)
        if c.min_spend <= amount and c.discount(amount) < amount
    ]


async def reserve_for_bill(
    session: AsyncSession,
    *,
    coupon_id: int,
    telegram_id: int,
    amount: Decimal,
    bill_id: int,
    until: datetime,
    now: datetime,
) -> Decimal:
    """Hold a coupon for an in-chat bill; returns the discount. Refused like a redemption."""
    coupon, _ = await _own_coupon(session, coupon_id=coupon_id, telegram_id=telegram_id)
    if not _is_usable(coupon, now):
        raise _why_not(coupon, now)
    if amount < coupon.min_spend:
        raise CouponProblem("below_min")
    discount = _view(coupon).discount(amount)
    await _take_if_usable(
        session,
        coupon_id=coupon_id,
        now=now,
        status=RESERVED,
        reserved_bill_id=bill_id,
        reserved_until=until,
        bill_amount=amount,
        discount=discount,
    )
    return discount


async def held_for_bill(session: AsyncSession, *, bill_id: int) -> Coupon | None:
    found: Coupon | None = await session.scalar(
        select(Coupon).where(
            col(Coupon.reserved_bill_id) == bill_id, col(Coupon.status).in_((RESERVED, REDEEMED))
        )
    )
    return found


async def settle_for_bill(
    session: AsyncSession, *, bill_id: int, payment_id: int, now: datetime
) -> Coupon | None:
    """The bill was paid: its coupon is redeemed with that payment (once).

    Most bills hold no coupon: one SELECT finds that, and only a held coupon is updated (the
    conditional UPDATE also refreshes the loaded coupon, through RETURNING)."""
    coupon = await held_for_bill(session, bill_id=bill_id)
    if coupon is None or coupon.status != RESERVED:
        return coupon
    await session.execute(
        update(Coupon)
        .where(col(Coupon.reserved_bill_id) == bill_id, col(Coupon.status) == RESERVED)
        .values(status=REDEEMED, redeemed_at=now, payment_id=payment_id)
        .execution_options(synchronize_session="fetch")
    )
    await offers.answered(session, member_id=coupon.member_id)
    return coupon


# -- attribution -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CampaignFigures:
    campaign: str
    template: str
    issued: int
    redeemed: int
    bills: Decimal
    discounts: Decimal

    @property
    def redemption_rate(self) -> float:
        return self.redeemed / self.issued if self.issued else 0.0


async def redemption_report(session: AsyncSession) -> list[CampaignFigures]:
    """Per campaign and template: issued, redeemed, and the bills and discounts of redemptions."""
    redeemed = col(Coupon.status) == REDEEMED
    campaign = func.coalesce(col(Coupon.campaign), "")
    rows = await session.execute(
        select(
            campaign,
            col(Coupon.template),
            func.count(),
            func.count().filter(redeemed),
            func.sum(col(Coupon.bill_amount)).filter(redeemed),
            func.sum(col(Coupon.discount)).filter(redeemed),
        )
        .group_by(campaign, col(Coupon.template))
        .order_by(campaign, col(Coupon.template))
    )
    return [
        CampaignFigures(
            campaign=name,
            template=template,
            issued=int(issued),
            redeemed=int(count or 0),
            bills=bills or Decimal(0),
            discounts=discounts or Decimal(0),
        )
        for name, template, issued, count, bills, discounts in rows.all()
    ]
