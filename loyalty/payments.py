"""Pay-is-membership: every way to pay ends in one idempotent operation, `record_payment`.

In chat (Telegram Payments), at the counter for a known member (cashier scans the card), and for
a walk-in (a receipt-claim QR from the cashier or the POS) — each is keyed by (source, external
id), so a redelivered update, a double tap or a retried POS call finds the payment already
recorded and returns the same outcome instead of crediting again.

One transaction (the caller's) does it all: the member on the first payment, the payment, the
visit, the points, the aggregates, the referrer's credit. Fraud limits refuse the *credit*, not
the money: the payment is kept (status ``refused``) and a fraud event is recorded for managers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty import grades, lifecycle, offers, refresh, tiers
from loyalty.channels import Channel as Channel
from loyalty.errors import Problem
from loyalty.money import plain_amount
from loyalty.policy import Policy
from loyalty.stores import StoreInfo, store_info
from models import queries
from models.tables import FraudEvent, Member, Payment, PointsEntry, TierChange, Visit


class PaymentSource(StrEnum):
    CHAT = "chat"  # Telegram Payments in the diner's chat; external id = telegram charge id
    CASHIER = "cashier"  # cashier scanned the member card; external id = the confirm token
    RECEIPT = "receipt"  # cashier's /bill for a walk-in; external id = a token per bill
    POS = "pos"  # the POS over HTTP; external id = pos_txn_id


class Refusal(StrEnum):
    DAILY_LIMIT = "daily_limit"
    SELF_CREDIT = "self_credit"


class PaymentStatus(StrEnum):
    AWAITING_CLAIM = "awaiting_claim"
    CREDITED = "credited"
    REFUSED = "refused"
    REFUNDED = "refunded"


class ReceiptProblem(Problem):
    """A receipt claim cannot be used: unknown, expired or already claimed."""


class RefundProblem(Problem):
    """A payment cannot be refunded: unknown, already (refunded before) or unclaimed."""


@dataclass(frozen=True, slots=True)
class Payer:
    telegram_id: int
    first_name: str
    channel: Channel
    referrer_member_id: int | None = None
    """Who referred them; None: the referrer remembered for the person, if any
    (referrals.remember_referrer). Only a payment that enrols the payer credits a referrer."""


@dataclass(frozen=True, slots=True)
class StoreRef:
    id: int
    timezone: str


@dataclass(frozen=True, slots=True)
class PaymentOutcome:
    payment_id: int
    store_id: int
    member_id: int
    amount: Decimal
    currency: str
    enrolled: bool
    duplicate: bool
    refused: Refusal | None
    visit_counted: bool
    points_awarded: int
    points_balance: int
    visit_count: int
    referrer_member_id: int | None
    referral_points: int
    tier_up: str | None = None
    """The tier this payment raised the member to (they are congratulated with the receipt)."""
    tier_before: str | None = None
    coupon_discount: Decimal | None = None
    """Taken off by a coupon redeemed with this payment; `amount` is what was paid after it."""
    perk_discount: Decimal | None = None
    """Taken off by the member's standing perk (loyalty.perks)."""


@dataclass(frozen=True, slots=True)
class Receipt:
    payment_id: int
    amount: Decimal
    currency: str
    expires_at: datetime
    created: bool


async def record_payment(
    session: AsyncSession,
    *,
    source: PaymentSource,
    external_id: str,
    store: StoreRef,
    amount: Decimal,
    currency: str,
    payer: Payer,
    policy: Policy,
    now: datetime,
    table_id: int | None = None,
    cashier_telegram_id: int | None = None,
    audit: bool = True,
) -> PaymentOutcome:
    """Record and credit one payment, once. See the module docstring.

    A payment a cashier records (`cashier_telegram_id`) is a staff action: it goes to the audit
    log in the same transaction, once (a repeat finds it recorded and writes nothing).
    `audit=False` is for a caller that writes its own line naming the payment (a coupon
    redeemed at the counter)."""
    payment = Payment(
        source=source.value,
        external_id=external_id,
        store_id=store.id,
        amount=amount,
        currency=currency,
        status=PaymentStatus.CREDITED.value,
        table_id=table_id,
        cashier_telegram_id=cashier_telegram_id,
        created_at=now,
    )
    # Recorded before (a redelivery, a retry) or concurrently: answer like a redelivery.
    again = await _recorded_before(session, payment)
    if again is not None:
        return await _outcome(session, again, duplicate=True, enrolled=False)
    outcome = await _credit(session, payment, payer=payer, store=store, policy=policy, now=now)
    if cashier_telegram_id is not None and audit:
        refused = f" refused={outcome.refused.value}" if outcome.refused is not None else ""
        await queries.add_audit(
            session,
            actor_telegram_id=cashier_telegram_id,
            action="payment.record",
            detail=(
                f"payment={outcome.payment_id} member={outcome.member_id} "
                f"amount={plain_amount(outcome.amount, outcome.currency)} {outcome.currency} "
                f"source={source.value}{refused}"
            ),
            now=now,
        )
    return outcome


_PAYMENT_KEY = ("source", "external_id")


async def _recorded_before(session: AsyncSession, payment: Payment) -> Payment | None:
    """Insert the new payment, unless one with its (source, external id) exists: then that one."""
    if await queries.insert_unless_exists(session, payment, unique=_PAYMENT_KEY):
        return None
    again = await queries.get_payment(
        session, source=payment.source, external_id=payment.external_id
    )
    assert again is not None
    return again


async def issue_receipt(
    session: AsyncSession,
    *,
    source: PaymentSource,
    external_id: str,
    store: StoreRef,
    amount: Decimal,
    currency: str,
    policy: Policy,
    now: datetime,
    cashier_telegram_id: int | None = None,
) -> Receipt:
    """A walk-in paid at the counter: keep the payment until a diner claims it by QR.

    Issued by a cashier (`cashier_telegram_id`): in the audit log, once. The POS's calls are
    not a staff action and are not audited."""
    payment = Payment(
        source=source.value,
        external_id=external_id,
        store_id=store.id,
        amount=amount,
        currency=currency,
        status=PaymentStatus.AWAITING_CLAIM.value,
        cashier_telegram_id=cashier_telegram_id,
        claim_expires_at=now + timedelta(minutes=policy.payments.receipt_claim_ttl_minutes),
        created_at=now,
    )
    again = await _recorded_before(session, payment)
    if again is not None:
        return _receipt(again, created=False)
    if cashier_telegram_id is not None:
        await queries.add_audit(
            session,
            actor_telegram_id=cashier_telegram_id,
            action="payment.receipt",
            detail=(
                f"payment={payment.id} amount={plain_amount(amount, currency)} {currency} "
                f"source={source.value}"
            ),
            now=now,
        )
    return _receipt(payment, created=True)


async def receipt_store(session: AsyncSession, *, payment_id: int) -> StoreInfo:
    """The store a receipt QR's payment was made at (the one a claim credits and names)."""
    payment = await session.get(Payment, payment_id)
    store = await store_info(session, store_id=payment.store_id) if payment else None
    if store is None:
        raise ReceiptProblem("unknown")
    return store


async def claim_receipt(
    session: AsyncSession,
    *,
    payment_id: int,
    store: StoreRef,
    payer: Payer,
    policy: Policy,
    now: datetime,
) -> PaymentOutcome:
    """The diner scanned a receipt QR. One conditional update decides who gets it: twenty
    scans at once enrol and credit exactly one member."""
    payment = await session.get(Payment, payment_id)
    if payment is None:
        raise ReceiptProblem("unknown")
    if payment.status != PaymentStatus.AWAITING_CLAIM.value:
        member = await queries.get_member_by_telegram_id(session, telegram_id=payer.telegram_id)
        if member is not None and payment.member_id == member.id:
            return await _outcome(session, payment, duplicate=True, enrolled=False)
        raise ReceiptProblem("used")
    if payment.claim_expires_at is not None and now >= payment.claim_expires_at:
        raise ReceiptProblem("expired")
    won = await session.execute(
        update(Payment)
        .where(
            Payment.id == payment_id,  # type: ignore[arg-type]
            Payment.status == PaymentStatus.AWAITING_CLAIM.value,  # type: ignore[arg-type]
        )
        .values(status=PaymentStatus.CREDITED.value)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        raise ReceiptProblem("used")
    await session.refresh(payment)
    return await _credit(session, payment, payer=payer, store=store, policy=policy, now=now)


async def _credit(
    session: AsyncSession,
    payment: Payment,
    *,
    payer: Payer,
    store: StoreRef,
    policy: Policy,
    now: datetime,
) -> PaymentOutcome:
    """Credit a payment just recorded, in named steps: the member (created on the first payment),
    the fraud limits, the visit, the points, the referrer's bonus, the table check-in, and the
    tier and rhythm reassessed."""
    member, enrolled = await _member_for(
        session, payer=payer, store=store, now=now, tier=policy.tiers.keys[0]
    )
    assert member.id is not None
    assert payment.id is not None
    refusal = await _refusal(
        session,
        payment,
        member=member,
        payer_telegram_id=payer.telegram_id,
        enrolled=enrolled,
        store=store,
        policy=policy,
        now=now,
    )
    if refusal is not None:
        await _refuse(session, payment, refusal, member=member, payer=payer, store=store, now=now)
        return await _outcome(session, payment, duplicate=False, enrolled=enrolled)
    counted = await _count_visit(
        session, payment, member=member, store=store, policy=policy, now=now
    )
    payment.member_id = member.id
    payment.status = PaymentStatus.CREDITED.value
    payment.credited_at = now
    member.total_spend += payment.amount
    _award_points(session, payment, member=member, store=store, policy=policy, now=now)
    if enrolled and member.referrer_member_id is not None and policy.points.referral_bonus:
        await _credit_referrer(session, payment, member=member, policy=policy, now=now)
    await queries.attach_check_in(
        session, telegram_id=payer.telegram_id, payment_id=payment.id, since=now - _CHECK_IN_TTL
    )
    # the tier and the rhythm read the visits (flushed above); the member is written once, below
    change = await _reassess(
        session,
        member,
        policy=policy,
        now=now,
        reason="payment",
        visit_at=now if counted else None,
        # a member this payment created has only this visit, and no friend or suggestion can
        # name a member id that did not exist before this transaction: nothing to read
        new_member_history=([(now, payment.amount)] if counted else []) if enrolled else None,
        paying=payment,
    )
    await session.flush()
    # an upgrade is congratulated with the receipt, unless this tier was congratulated lately
    up = change is not None and change.congratulated_at is not None
    return await _outcome(
        session,
        payment,
        duplicate=False,
        enrolled=enrolled,
        tier_up=change.to_tier if change is not None and up else None,
        tier_before=change.from_tier if change is not None and up else None,
    )


async def _refuse(
    session: AsyncSession,
    payment: Payment,
    refusal: Refusal,
    *,
    member: Member,
    payer: Payer,
    store: StoreRef,
    now: datetime,
) -> None:
    """Keep the money, refuse the credit: the payment is the member's, refused, and managers see
    a fraud event."""
    payment.member_id = member.id
    payment.status = PaymentStatus.REFUSED.value
    payment.refusal = refusal.value
    session.add(
        FraudEvent(
            at=now,
            kind=refusal.value,
            store_id=store.id,
            member_id=member.id,
            telegram_id=payer.telegram_id,
            cashier_telegram_id=payment.cashier_telegram_id,
            payment_id=payment.id,
            detail=f"{payment.source} {payment.amount} {payment.currency}",
        )
    )
    await session.flush()


async def _count_visit(
    session: AsyncSession,
    payment: Payment,
    *,
    member: Member,
    store: StoreRef,
    policy: Policy,
    now: datetime,
) -> bool:
    """A visit for this payment, unless the member's last one was too recent; True if counted."""
    assert member.id is not None
    counted = member.last_visit_at is None or now - member.last_visit_at >= timedelta(
        minutes=policy.fraud.min_minutes_between_visits
    )
    if counted:
        visit = Visit(
            member_id=member.id,
            store_id=store.id,
            table_id=payment.table_id,
            payment_id=payment.id,
            at=now,
        )
        session.add(visit)
        await session.flush()  # only the visit: the payment's changes after make one UPDATE
        payment.visit_id = visit.id
        if member.first_visit_at is None:
            member.first_visit_at = now
        await offers.answered_by_visit(session, policy=policy, member=member, now=now)
    return counted


def _award_points(
    session: AsyncSession,
    payment: Payment,
    *,
    member: Member,
    store: StoreRef,
    policy: Policy,
    now: datetime,
) -> None:
    """The payment's points at the policy's rate (in the store's local time: happy hours)."""
    points = policy.points.for_amount(
        payment.amount, local=now.astimezone(ZoneInfo(store.timezone))
    )
    payment.points_awarded = points
    if points:
        _add_points(session, member, points, reason="payment", payment=payment, now=now)


async def _credit_referrer(
    session: AsyncSession, payment: Payment, *, member: Member, policy: Policy, now: datetime
) -> None:
    """The friend who invited a new member gets the referral bonus with their first payment."""
    assert member.referrer_member_id is not None
    # locked: two friends' first payments at once must each add their bonus
    referrer = await queries.lock_member(session, member_id=member.referrer_member_id)
    if referrer is not None and referrer.erased_at is None:
        bonus = policy.points.referral_bonus
        _add_points(session, referrer, bonus, reason="referral", payment=payment, now=now)
        payment.referrer_member_id = referrer.id
        payment.referral_points = bonus


def _add_points(
    session: AsyncSession,
    member: Member,
    points: int,
    *,
    reason: str,
    payment: Payment,
    now: datetime,
) -> None:
    """Points onto the member's balance and into the ledger (append-only), naming the payment."""
    assert member.id is not None
    session.add(
        PointsEntry(member_id=member.id, delta=points, reason=reason, payment_id=payment.id, at=now)
    )
    member.points_balance += points


def _take_back_points(
    session: AsyncSession,
    member: Member,
    points: int,
    *,
    reason: str,
    payment: Payment,
    now: datetime,
) -> int:
    """Reverse up to `points` of a payment's points; the number reversed. Points already
    exchanged are not taken back below zero: the balance never goes negative."""
    reversed_points = min(points, max(member.points_balance, 0))
    if reversed_points:
        _add_points(session, member, -reversed_points, reason=reason, payment=payment, now=now)
    return reversed_points


_CHECK_IN_TTL = timedelta(hours=4)


async def _reassess(
    session: AsyncSession,
    member: Member,
    *,
    policy: Policy,
    now: datetime,
    reason: str,
    visit_at: datetime | None = None,
    rebuild: bool = False,
    new_member_history: list[tuple[datetime, Decimal]] | None = None,
    paying: Payment | None = None,
) -> TierChange | None:
    """The member's tier and rhythm after a payment (`visit_at`: it counted as a visit) or a
    refund (`rebuild`: a visit was voided). A tier change is recorded; the payer is told of an
    upgrade at once with the receipt, so it is recorded as notified.

    `new_member_history`: the member was created by this transaction and these are all their
    visits (none of their referrals or suggestions can exist yet). `paying`: the payment being
    credited (its row is written after this)."""
    assert member.id is not None
    if new_member_history is not None:
        history = new_member_history
        status = await tiers.status_of(
            session, member=member, policy=policy, now=now, history=history, new_member=True
        )
    else:
        now_paying = None
        if paying is not None:
            assert paying.id is not None
            now_paying = (paying.id, now, paying.amount)
        history = await queries.visit_history(session, member_id=member.id, paying=now_paying)
        status = await tiers.status_of(
            session, member=member, policy=policy, now=now, history=history
        )
    change = await _move_tier(
        session, member, status=status, history=history, policy=policy, now=now, reason=reason
    )
    if visit_at is not None or rebuild:
        norms = await refresh.norms_for(
            session, channel=member.acquisition_channel, tier=member.tier, policy=policy
        )
        times = [at for at, _ in history]
        if rebuild:
            rhythm = lifecycle.rebuilt(policy, times, norms=norms)
            member.first_visit_at = times[0] if times else None
        else:
            assert visit_at is not None
            rhythm = lifecycle.after_visit(
                policy,
                refresh.rhythm_of(member),
                at=visit_at,
                norms=norms,
                gaps=lifecycle.gaps_of(times),
            )
        refresh.store_rhythm(member, rhythm)
    return change


async def _move_tier(
    session: AsyncSession,
    member: Member,
    *,
    status: tiers.TierStatus,
    history: list[tuple[datetime, Decimal]],
    policy: Policy,
    now: datetime,
    reason: str,
) -> TierChange | None:
    """Move the member to the tier `status` says: up at once (congratulated unless this tier was
    congratulated lately), down only as far as the downgrade's grace days allow."""
    assert member.id is not None
    if grades.in_force(member, now=now):  # a manager's grade holds until its end date
        return None
    target = status.tier
    if policy.tiers.rank(target) < policy.tiers.rank(member.tier):  # down: after the grace
        lenient = await tiers.status_of(
            session,
            member=member,
            policy=policy,
            now=now,
            history=history,
            grace_days=policy.tiers.downgrade_grace_days,
        )
        target = tiers.settle(
            policy, stored=member.tier, strict=target, lenient=lenient.tier, in_episode=False
        )
    if target == member.tier:
        return None
    direction = refresh.direction(policy, before=member.tier, after=target)
    cheered = direction == "up" and not await refresh.congratulated(
        session, policy=policy, member_ids=[member.id], tier=target, now=now
    )
    change = TierChange(
        member_id=member.id,
        from_tier=member.tier,
        to_tier=target,
        direction=direction,
        reason=reason,
        at=now,
        # an upgrade is told with the receipt; a downgrade the policy wants told is left
        # for the tier-notices job, like the nightly refresh's
        notified_at=now
        if direction == "up" or not refresh.needs_notice(policy, direction=direction)
        else None,
        congratulated_at=now if cheered else None,
    )
    session.add(change)
    member.tier = target
    member.tier_since = now
    return change


async def _member_for(
    session: AsyncSession, *, payer: Payer, store: StoreRef, now: datetime, tier: str
) -> tuple[Member, bool]:
    found = await queries.get_user_and_member(session, telegram_id=payer.telegram_id)
    referrer = payer.referrer_member_id
    if found is None:
        user = await queries.add_user(
            session, telegram_id=payer.telegram_id, language_code=None, now=now
        )
        assert user.id is not None
        user_id = user.id
    else:
        user_id, referred_by, member = found
        if member is not None:
            return await _locked(session, member), False
        if referrer is None:
            referrer = referred_by
    if referrer is not None:
        referrer_row = await session.get(Member, referrer)
        if referrer_row is None or referrer_row.telegram_user_id == user_id:
            referrer = None
    member = Member(
        telegram_user_id=user_id,
        store_id=store.id,
        display_name=payer.first_name[:64],
        acquisition_channel=(Channel.REFERRAL if referrer else payer.channel).value,
        referrer_member_id=referrer,
        enrolled_at=now,
        tier=tier,
        tier_since=now,
    )
    if not await queries.insert_unless_exists(session, member, unique=("telegram_user_id",)):
        # enrolled concurrently by another payment of the same person
        again = await queries.get_member_by_telegram_id(session, telegram_id=payer.telegram_id)
        assert again is not None
        return await _locked(session, again), False
    return member, True


async def _locked(session: AsyncSession, member: Member) -> Member:
    """A member this transaction found, locked for crediting (see queries.lock_member)."""
    assert member.id is not None
    locked = await queries.lock_member(session, member_id=member.id)
    assert locked is not None  # members are never deleted (erasure keeps the row)
    return locked


async def _refusal(
    session: AsyncSession,
    payment: Payment,
    *,
    member: Member,
    payer_telegram_id: int,
    enrolled: bool,
    store: StoreRef,
    policy: Policy,
    now: datetime,
) -> Refusal | None:
    if payment.cashier_telegram_id is not None:
        user = await queries.get_user(session, telegram_id=payment.cashier_telegram_id)
        if user is not None and user.id == member.telegram_user_id:
            return Refusal.SELF_CREDIT
    if payment.source in _STAFF_DECIDE and await _staff_of(
        session, telegram_id=payer_telegram_id, store_id=store.id
    ):
        return Refusal.SELF_CREDIT
    if enrolled:  # a member this payment created has no other payment credited to them
        return Refusal.DAILY_LIMIT if policy.fraud.max_credited_payments_per_day <= 0 else None
    zone = ZoneInfo(store.timezone)
    local = now.astimezone(zone)
    day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    credited_today = await session.scalar(
        select(func.count())
        .select_from(Payment)
        .where(
            Payment.member_id == member.id,  # type: ignore[arg-type]
            Payment.status == PaymentStatus.CREDITED.value,  # type: ignore[arg-type]
            Payment.credited_at >= day_start,  # type: ignore[arg-type, operator]
            Payment.id != payment.id,  # type: ignore[arg-type]
        )
    )
    if int(credited_today or 0) >= policy.fraud.max_credited_payments_per_day:
        return Refusal.DAILY_LIMIT
    return None


_STAFF_DECIDE = frozenset(
    {PaymentSource.CASHIER.value, PaymentSource.RECEIPT.value, PaymentSource.POS.value}
)
"""Payments whose credit staff decide: a receipt anyone at the counter (or the POS) hands out,
a bill a cashier records on a card. Paid in chat (Telegram Payments), the payer's own money
went through: credited whoever they are."""


async def _staff_of(session: AsyncSession, *, telegram_id: int, store_id: int) -> bool:
    """The policy's self-credit rule (``fraud.cashier_self_credit``, never true): the store's
    own cashiers and managers are not credited by its receipts or its counter."""
    return any(
        row.store_id == store_id
        for row in await queries.active_staff(session, telegram_id=telegram_id)
    )


async def _outcome(
    session: AsyncSession,
    payment: Payment,
    *,
    duplicate: bool,
    enrolled: bool,
    tier_up: str | None = None,
    tier_before: str | None = None,
) -> PaymentOutcome:
    assert payment.id is not None
    if payment.member_id is None:
        raise ReceiptProblem("unclaimed")
    member = await session.get(Member, payment.member_id)
    assert member is not None
    assert member.id is not None
    return PaymentOutcome(
        payment_id=payment.id,
        store_id=payment.store_id,
        member_id=member.id,
        amount=payment.amount,
        currency=payment.currency,
        enrolled=enrolled,
        duplicate=duplicate,
        refused=Refusal(payment.refusal) if payment.refusal else None,
        visit_counted=payment.visit_id is not None,
        points_awarded=payment.points_awarded,
        points_balance=member.points_balance,
        visit_count=member.visit_count,
        referrer_member_id=payment.referrer_member_id,
        referral_points=payment.referral_points,
        tier_up=tier_up,
        tier_before=tier_before,
    )


def _receipt(payment: Payment, *, created: bool) -> Receipt:
    assert payment.id is not None
    assert payment.claim_expires_at is not None
    return Receipt(
        payment_id=payment.id,
        amount=payment.amount,
        currency=payment.currency,
        expires_at=payment.claim_expires_at,
        created=created,
    )


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    payment_id: int
    member_id: int | None
    points_reversed: int
    referral_points_reversed: int
    visit_voided: bool


async def refund_payment(
    session: AsyncSession, *, payment_id: int, by_telegram_id: int, policy: Policy, now: datetime
) -> RefundOutcome:
    """Reverse a payment's points, visit and referral credit — once."""
    payment, was_credited = await _mark_refunded(session, payment_id=payment_id, now=now)
    # locked: a payment of theirs may be crediting them at this moment
    member = (
        await queries.lock_member(session, member_id=payment.member_id)
        if payment.member_id
        else None
    )
    reversed_ = _Reversed()
    if was_credited and member is not None:
        reversed_ = await _reverse_credit(session, payment, member=member, policy=policy, now=now)
    await queries.add_audit(
        session,
        actor_telegram_id=by_telegram_id,
        action="payment.refund",
        detail=(
            f"payment={payment.id} amount={plain_amount(payment.amount, payment.currency)} "
            f"{payment.currency}"
        ),
        now=now,
    )
    await session.flush()
    return RefundOutcome(
        payment_id=payment_id,
        member_id=member.id if member else None,
        points_reversed=reversed_.points,
        referral_points_reversed=reversed_.referral_points,
        visit_voided=reversed_.visit_voided,
    )


async def _mark_refunded(
    session: AsyncSession, *, payment_id: int, now: datetime
) -> tuple[Payment, bool]:
    """One conditional update marks the payment refunded (two managers at once: one wins); the
    payment, and whether it had been credited (a refused one has nothing to reverse)."""
    payment = await session.get(Payment, payment_id)
    if payment is None:
        raise RefundProblem("unknown")
    if payment.status == PaymentStatus.REFUNDED.value:
        raise RefundProblem("already")
    if payment.status == PaymentStatus.AWAITING_CLAIM.value:
        raise RefundProblem("unclaimed")
    done = await session.execute(
        update(Payment)
        .where(
            Payment.id == payment_id,  # type: ignore[arg-type]
            Payment.status == payment.status,  # type: ignore[arg-type]
        )
        .values(status=PaymentStatus.REFUNDED.value, refunded_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise RefundProblem("already")
    was_credited = payment.status == PaymentStatus.CREDITED.value
    await session.refresh(payment)
    return payment, was_credited


@dataclass(frozen=True, slots=True)
class _Reversed:
    points: int = 0
    referral_points: int = 0
    visit_voided: bool = False


async def _reverse_credit(
    session: AsyncSession, payment: Payment, *, member: Member, policy: Policy, now: datetime
) -> _Reversed:
    """Take back what crediting the payment gave: points, spend, the visit, the referral bonus."""
    points = _take_back_points(
        session, member, payment.points_awarded, reason="refund", payment=payment, now=now
    )
    member.total_spend -= payment.amount
    visit_voided = False
    if payment.visit_id is not None:
        visit = await session.get(Visit, payment.visit_id)
        if visit is not None and visit.voided_at is None:
            visit.voided_at = now
            visit_voided = True
            await session.flush()  # the recount below must see the voided visit
            await _reassess(session, member, policy=policy, now=now, reason="refund", rebuild=True)
    referral_points = 0
    if payment.referrer_member_id is not None and payment.referral_points:
        referrer = await queries.lock_member(session, member_id=payment.referrer_member_id)
        if referrer is not None:
            referral_points = _take_back_points(
                session,
                referrer,
                payment.referral_points,
                reason="referral_refund",
                payment=payment,
                now=now,
            )
    return _Reversed(points=points, referral_points=referral_points, visit_voided=visit_voided)
