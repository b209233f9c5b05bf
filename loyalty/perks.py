"""Standing perks: what a tier gets at every visit (seed 001's C grade: "a beer or 10 % off each
time"), from the policy (``[treatments.<tier>] perk = …``).

* The cashier sees the perk when scanning the member's card (`perk_of`).
* Paying in chat, the perk is taken off the bill when it is opened (`hold_for_bill`: a
  ``perk_use`` row, unique per bill) and marked used with the payment when it is paid
  (`settle_for_bill`: unique per payment) — one perk per bill, whatever is retried.
* `/stats` reports the perks used in a period per tier (`used_by_tier`).

A perk follows the member's current tier (not the treatment tier of automated campaigns: a perk
at the counter is for how they come now). The order on a bill: a coupon first (its minimum spend
is judged on the bill as served), then the perk on what is left.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from loyalty.money import currency_precision
from loyalty.policy import Perk, Policy
from models import queries
from models.tables import PerkUse

HELD, USED = "held", "used"


def perk_of(policy: Policy, tier: str) -> Perk | None:
    """The standing perk of a tier, if its treatment gives one."""
    return policy.treatment_for(tier).perk


async def hold_for_bill(
    session: AsyncSession,
    *,
    telegram_id: int,
    store_id: int,
    bill_id: int,
    amount: Decimal,
    currency: str,
    policy: Policy,
    now: datetime,
) -> Decimal:
    """Take the payer's perk off a bill of `amount` just opened: what it takes off (0: no perk,
    not a member yet, or the bill below its minimum)."""
    member = await queries.get_member_by_telegram_id(session, telegram_id=telegram_id)
    if member is None or member.id is None or member.erased_at is not None:
        return Decimal(0)
    perk = perk_of(policy, member.tier)
    if perk is None:
        return Decimal(0)
    off = perk.discount(amount, places=currency_precision(currency))
    if off <= 0:
        return Decimal(0)
    session.add(
        PerkUse(
            member_id=member.id,
            store_id=store_id,
            tier=member.tier,
            kind=perk.kind,
            discount=off,
            bill_id=bill_id,
            at=now,
        )
    )
    await session.flush()
    return off


async def settle_for_bill(
    session: AsyncSession, *, bill_id: int, payment_id: int, now: datetime
) -> Decimal | None:
    """The bill was paid: its held perk is used with this payment; what it took off (None: the
    bill had no perk). A redelivered payment finds it used and answers the same."""
    use = (
        await session.execute(select(PerkUse).where(col(PerkUse.bill_id) == bill_id))
    ).scalar_one_or_none()
    if use is None:
        return None
    await session.execute(
        update(PerkUse)
        .where(col(PerkUse.id) == use.id, col(PerkUse.status) == HELD)
        .values(status=USED, payment_id=payment_id, at=now)
        .execution_options(synchronize_session=False)
    )
    return use.discount


@dataclass(frozen=True, slots=True)
class PerkFigure:
    tier: str
    uses: int
    discount: Decimal


async def used_by_tier(
    session: AsyncSession, *, store_id: int, start: datetime, end: datetime, policy: Policy
) -> tuple[PerkFigure, ...]:
    """Perks used at the store in [start, end), per tier (the policy's tiers lowest first, then
    any other tier a use was recorded under); tiers without a use are left out."""
    rows = await session.execute(
        select(col(PerkUse.tier), func.count(), func.sum(col(PerkUse.discount)))
        .where(
            col(PerkUse.store_id) == store_id,
            col(PerkUse.status) == USED,
            col(PerkUse.at) >= start,
            col(PerkUse.at) < end,
        )
        .group_by(col(PerkUse.tier))
    )
    found = {str(t): (int(n), Decimal(s or 0)) for t, n, s in rows.tuples().all()}
    known = policy.tiers.keys
    order = [k for k in known if k in found] + sorted(set(found) - set(known))
    return tuple(PerkFigure(k, found[k][0], found[k][1]) for k in order)


@dataclass(frozen=True, slots=True)
class CounterPerk:
    """The perk on a bill a cashier records after scanning the card."""

    tier: str
    kind: str
    off_bill: Decimal
    """Taken off the amount recorded (a percentage); 0 for an item, given beside the bill."""
    worth: Decimal
    """What the perk is recorded as worth (reports): the discount, or the item's price."""


def at_counter(policy: Policy, *, tier: str, amount: Decimal, currency: str) -> CounterPerk | None:
    """The member's perk on a bill of `amount` typed at the counter, if any."""
    perk = perk_of(policy, tier)
    if perk is None or amount < perk.min_spend:
        return None
    if perk.kind == "item":
        return CounterPerk(tier=tier, kind=perk.kind, off_bill=Decimal(0), worth=perk.value)
    off = perk.discount(amount, places=currency_precision(currency))
    if off <= 0:
        return None
    return CounterPerk(tier=tier, kind=perk.kind, off_bill=off, worth=off)


async def record_with_payment(
    session: AsyncSession,
    *,
    member_id: int,
    store_id: int,
    payment_id: int,
    perk: CounterPerk,
    now: datetime,
) -> bool:
    """The counter's perk, used with this payment: once (a repeat finds it and writes nothing)."""
    use = PerkUse(
        member_id=member_id,
        store_id=store_id,
        tier=perk.tier,
        kind=perk.kind,
        discount=perk.worth,
        payment_id=payment_id,
        status=USED,
        at=now,
    )
    return await queries.insert_unless_exists(session, use, unique=("payment_id",))
