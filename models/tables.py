"""The tables. Every timestamp is timezone-aware UTC; Telegram ids are 64-bit."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from models.types import Money, UTCDateTime


class Role(StrEnum):
    """Who someone is to the restaurant. Ordered from least to most trusted."""

    DINER = "diner"
    CASHIER = "cashier"
    MANAGER = "manager"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return _ROLE_RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_ROLE_RANK = {Role.DINER: 0, Role.CASHIER: 1, Role.MANAGER: 2, Role.OWNER: 3}


class StoreBase(SQLModel):
    name: str = Field(max_length=64)
    timezone: str = Field(max_length=64)
    currency: str = Field(max_length=3)


class Store(StoreBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class TelegramUser(SQLModel, table=True):
    """Somebody who talked to the bot. Deliberately minimal: no name, no phone.

    Membership (issue: pay-is-membership) hangs off this row; people who never pay stay here
    with only their language choice.
    """

    __tablename__ = "telegram_user"

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    language_code: str | None = Field(default=None, max_length=35)
    locale: str | None = Field(default=None, max_length=16)
    first_seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    blocked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # Set when the person opened a member's referral link before paying for the first time.
    referred_by_member_id: int | None = Field(default=None)


class Staff(SQLModel, table=True):
    """A cashier or manager of a store (owners come from OWNER_IDS)."""

    __table_args__ = (UniqueConstraint("telegram_id", "store_id", name="uq_staff_person_store"),)

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    store_id: int = Field(
        sa_column=Column(Integer, ForeignKey("store.id", ondelete="CASCADE"), nullable=False)
    )
    role: str = Field(sa_column=Column(String(16), nullable=False))
    display_name: str = Field(default="", max_length=64)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class ProcessedUpdate(SQLModel, table=True):
    """Update ids already handled, so a redelivered update has no second effect."""

    __tablename__ = "processed_update"
    __table_args__ = (Index("ix_processed_update_at", "processed_at"),)

    bot_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    processed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class AuditLog(SQLModel, table=True):
    """Who did what: role changes, settings, and later payments, refunds, erasures."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    actor_telegram_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    action: str = Field(max_length=64)
    detail: str = Field(default="", max_length=2000)


class DiningTable(SQLModel, table=True):
    """A table of a store; its printed QR code carries (store id, table number), signed."""

    __tablename__ = "dining_table"
    __table_args__ = (UniqueConstraint("store_id", "number", name="uq_table_store_number"),)

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = Field(
        sa_column=Column(Integer, ForeignKey("store.id", ondelete="CASCADE"), nullable=False)
    )
    number: int
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Member(SQLModel, table=True):
    """A diner who has paid at least once. Created by the first payment, never by a form.

    Aggregates (visit count, spend, last visit, gaps) are kept current by every credited
    payment so lists and the scheduler never scan visits. After an erasure request the personal
    fields are cleared and `telegram_user_id` unlinked; the row stays for the accounts.

    The rhythm (loyalty.lifecycle): the expected interval between visits and the three due dates
    derived from it are recomputed on every visit and by the nightly refresh; "who is due now?"
    is a range scan on a due-date index.
    """

    __table_args__ = (
        Index("ix_member_slowing_due", "slowing_due_at"),
        Index("ix_member_lapsed_due", "lapsed_due_at"),
        Index("ix_member_lost_due", "lost_due_at"),
        Index("ix_member_referrer", "referrer_member_id"),
        Index("ix_member_turn_at", "turn_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    telegram_user_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer, ForeignKey("telegram_user.id", ondelete="SET NULL"), unique=True, nullable=True
        ),
    )
    store_id: int = Field(sa_column=Column(Integer, ForeignKey("store.id"), nullable=False))
    display_name: str = Field(default="", max_length=64)
    birthday: date | None = None
    marketing_consent: bool | None = None
    consent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    acquisition_channel: str = Field(max_length=16)
    referrer_member_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("member.id"), nullable=True)
    )
    enrolled_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    tier: str = Field(default="newcomer", max_length=32)
    visit_count: int = 0
    total_spend: Decimal = Field(default=Decimal(0), sa_column=Column(Money(), nullable=False))
    points_balance: int = 0
    first_visit_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_visit_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    gap_count: int = 0
    gap_mean_days: Decimal = Field(
        default=Decimal(0), sa_column=Column(Numeric(10, 3), nullable=False)
    )
    gap_weighted_days: Decimal = Field(
        default=Decimal(0), sa_column=Column(Numeric(10, 3), nullable=False)
    )
    """The member's own typical gap, recent gaps weighing more (loyalty.lifecycle)."""
    first_gap_days: Decimal | None = Field(default=None, sa_column=Column(Numeric(10, 3)))
    """Days from the first visit to the second (the cohort's newcomer rhythm is made of these)."""
    expected_interval_days: Decimal | None = Field(default=None, sa_column=Column(Numeric(10, 3)))
    interval_floor_days: Decimal = Field(
        default=Decimal(0), sa_column=Column(Numeric(10, 3), nullable=False)
    )
    """The least expected interval the last visit allows: a visit never brings a due date
    forward (see loyalty.lifecycle.after_visit)."""
    rising: bool = False
    turn: str = Field(default="", sa_column=Column(String(8), nullable=False, default=""))
    """The turning point: "rising", "cooling" or "" (loyalty.lifecycle.Turn)."""
    turn_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    """When the turn last changed (the turn campaigns act on it once)."""
    cooling_due_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    """When the running gap outgrows the recent rhythm: cooling from then, without a visit."""
    unanswered_offers: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0))
    """Automated coupon offers in a row the member did not answer (across win-back episodes);
    at ladder.max_unanswered_offers automated campaigns send care only, no coupons."""
    slowing_due_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    lapsed_due_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    lost_due_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    tier_since: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    erased_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    taste_tags: str = Field(default="", sa_column=Column(String(200), nullable=False, default=""))
    """The policy's taste tags the member picked, as ",spicy,seafood," (so one tag is a LIKE
    '%,spicy,%'); empty when they picked none."""
    labels: str = Field(default="", sa_column=Column(String(200), nullable=False, default=""))
    """The policy's labels a manager gave the member (seed 001's kinds of guest: neighbour,
    company, student, influencer…), stored like taste_tags (",neighbour,student,")."""
    manual_tier: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    """A grade a manager set by hand (/grade): `tier` stays at it, whatever the figures say,
    until `manual_tier_until` (None: until a manager lifts it)."""
    manual_tier_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    manual_tier_reason: str = Field(
        default="", sa_column=Column(String(200), nullable=False, default="")
    )


class Payment(SQLModel, table=True):
    """Money received. (source, external_id) is unique: the idempotency key of every way to pay.

    status: awaiting_claim (walk-in receipt not yet scanned), credited, refused (a fraud limit
    kept it from counting; the money is still recorded), refunded.
    """

    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_payment_source_external"),
        Index("ix_payment_member_at", "member_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=16)
    external_id: str = Field(max_length=128)
    store_id: int = Field(sa_column=Column(Integer, ForeignKey("store.id"), nullable=False))
    member_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("member.id"), nullable=True)
    )
    amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    currency: str = Field(max_length=3)
    status: str = Field(max_length=16)
    refusal: str | None = Field(default=None, max_length=32)
    table_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("dining_table.id"), nullable=True)
    )
    cashier_telegram_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    points_awarded: int = 0
    referral_points: int = 0
    referrer_member_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("member.id"), nullable=True)
    )
    visit_id: int | None = Field(default=None)
    claim_expires_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    credited_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    refunded_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class Visit(SQLModel, table=True):
    __table_args__ = (Index("ix_visit_member_at", "member_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(sa_column=Column(Integer, ForeignKey("member.id"), nullable=False))
    store_id: int = Field(sa_column=Column(Integer, ForeignKey("store.id"), nullable=False))
    table_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("dining_table.id"), nullable=True)
    )
    payment_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("payment.id"), nullable=True)
    )
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    voided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class PointsEntry(SQLModel, table=True):
    """The points ledger: append-only; a member's balance is the sum of their entries."""

    __tablename__ = "points_ledger"
    __table_args__ = (
        Index("ix_points_member", "member_id"),
        UniqueConstraint("member_id", "request_key", name="uq_points_member_request"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(sa_column=Column(Integer, ForeignKey("member.id"), nullable=False))
    delta: int
    reason: str = Field(max_length=32)
    payment_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("payment.id"), nullable=True)
    )
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    request_key: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    """Set on an exchange: the button's one-time key, so a double tap spends the points once."""


class CheckIn(SQLModel, table=True):
    """Someone opened a table's QR link: the pending visit a payment will complete."""

    __tablename__ = "check_in"
    __table_args__ = (Index("ix_check_in_person_at", "telegram_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    store_id: int = Field(sa_column=Column(Integer, ForeignKey("store.id"), nullable=False))
    table_id: int = Field(sa_column=Column(Integer, ForeignKey("dining_table.id"), nullable=False))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    payment_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("payment.id"), nullable=True)
    )


class Bill(SQLModel, table=True):
    """An amount a diner asked to pay in chat: the invoice and its pre-checkout are checked
    against it."""

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    store_id: int = Field(sa_column=Column(Integer, ForeignKey("store.id"), nullable=False))
    table_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("dining_table.id"), nullable=True)
    )
    amount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    currency: str = Field(max_length=3)
    status: str = Field(default="open", max_length=16)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    payment_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("payment.id"), nullable=True)
    )


class FraudEvent(SQLModel, table=True):
    """A limit that refused a credit, for managers to review."""

    __tablename__ = "fraud_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    kind: str = Field(max_length=32)
    store_id: int = Field(sa_column=Column(Integer, ForeignKey("store.id"), nullable=False))
    member_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("member.id"), nullable=True)
    )
    telegram_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    cashier_telegram_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    payment_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("payment.id"), nullable=True)
    )
    detail: str = Field(default="", max_length=500)


class StaffInvite(SQLModel, table=True):
    __tablename__ = "staff_invite"

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = Field(sa_column=Column(Integer, ForeignKey("store.id"), nullable=False))
    role: str = Field(max_length=16)
    created_by: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_by: int | None = Field(default=None, sa_column=Column(BigInteger))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class CohortNorm(SQLModel, table=True):
    """The typical rhythm of a cohort, recomputed nightly.

    kind "gap": per (acquisition channel, tier), the median of the members' mean gaps between
    visits. kind "first_return": per channel (tier "*"), the median time from the first visit to
    the second. `members` is how many members the median is taken over; `source` says where a
    small cohort borrowed its norm from: "cohort", "tier" (all channels), "all" or "default".
    """

    __tablename__ = "cohort_norm"

    kind: str = Field(sa_column=Column(String(16), primary_key=True))
    channel: str = Field(sa_column=Column(String(16), primary_key=True))
    tier: str = Field(sa_column=Column(String(32), primary_key=True))
    members: int = 0
    gap_days: Decimal = Field(sa_column=Column(Numeric(10, 3), nullable=False))
    source: str = Field(max_length=8)
    computed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class TierChange(SQLModel, table=True):
    """A member moved on the ladder: by a payment, a refund or the nightly refresh.

    Upgrades are congratulated (at once after a payment; by the notices job after the nightly
    refresh); `notified_at` makes that happen once.
    """

    __tablename__ = "tier_change"
    __table_args__ = (Index("ix_tier_change_pending", "notified_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(
        sa_column=Column(Integer, ForeignKey("member.id"), nullable=False, index=True)
    )
    from_tier: str = Field(max_length=32)
    to_tier: str = Field(max_length=32)
    direction: str = Field(max_length=4)
    reason: str = Field(max_length=16)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    notified_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    congratulated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    """When the member was congratulated on this upgrade (None: not, e.g. a tier that came back
    within tiers.congratulate_once_days of being congratulated)."""


class JobRun(SQLModel, table=True):
    """One run of a scheduled job for one period ("2026-11-23"): a restart, a misfire or two
    overlapping timers find the period taken and do nothing."""

    __tablename__ = "job_run"

    job: str = Field(sa_column=Column(String(64), primary_key=True))
    period: str = Field(sa_column=Column(String(32), primary_key=True))
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    result: str = Field(default="", max_length=500)


class Coupon(SQLModel, table=True):
    """A coupon a member holds: its terms are copied from the policy's template when issued (a
    later policy change does not alter coupons already given). One redemption at most: the
    status moves active → redeemed in one conditional update; "reserved" holds it for an
    in-chat bill until that bill is paid or expires."""

    __table_args__ = (
        Index("ix_coupon_member_status", "member_id", "status"),
        Index("ix_coupon_campaign", "campaign"),
        Index("ix_coupon_reserved_bill", "reserved_bill_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(String(16), nullable=False, unique=True))
    member_id: int = Field(sa_column=Column(Integer, ForeignKey("member.id"), nullable=False))
    store_id: int = Field(sa_column=Column(Integer, ForeignKey("store.id"), nullable=False))
    template: str = Field(max_length=32)
    kind: str = Field(max_length=8)
    value: Decimal = Field(sa_column=Column(Money(), nullable=False))
    min_spend: Decimal = Field(sa_column=Column(Money(), nullable=False))
    cap: Decimal | None = Field(default=None, sa_column=Column(Money()))
    currency: str = Field(max_length=3)
    campaign: str | None = Field(default=None, max_length=64)
    dish_name: str | None = Field(default=None, max_length=64)
    """A free-dish coupon for a dish that is not in the policy's templates (a new dish's
    tasting): its name as the manager wrote it."""
    issued_by: int | None = Field(default=None, sa_column=Column(BigInteger))
    issued_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    valid_until: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    status: str = Field(default="active", max_length=12)
    reserved_bill_id: int | None = Field(default=None)
    reserved_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    redeemed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    redeemed_by: int | None = Field(default=None, sa_column=Column(BigInteger))
    bill_amount: Decimal | None = Field(default=None, sa_column=Column(Money()))
    discount: Decimal | None = Field(default=None, sa_column=Column(Money()))
    payment_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("payment.id"), nullable=True)
    )
    adapted: str = Field(default="", sa_column=Column(String(200), nullable=False, default=""))
    """What an automated coupon changed from its template to fit the member, e.g.
    "min_spend 100->80; valid_until +27d" (empty: issued as the template says)."""


class CouponRedemption(SQLModel, table=True):
    """A diner tapped Use: a short-lived, single-use QR and a 6-digit code for the cashier."""

    __tablename__ = "coupon_redemption"
    __table_args__ = (Index("ix_coupon_redemption_code", "short_code", "expires_at"),)

    id: int | None = Field(default=None, primary_key=True)
    coupon_id: int = Field(sa_column=Column(Integer, ForeignKey("coupon.id"), nullable=False))
    short_code: str = Field(max_length=8)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class CodeAttempt(SQLModel, table=True):
    """A redemption code a cashier typed that matched nothing (rate-limited per cashier)."""

    __tablename__ = "code_attempt"
    __table_args__ = (Index("ix_code_attempt_cashier_at", "cashier_telegram_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    cashier_telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    code: str = Field(max_length=16)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Campaign(SQLModel, table=True):
    """Something sent to many members: an automated job's run (birthday greetings of a day, a
    win-back step of a day, …) or a manager's broadcast. `period` makes an automated campaign
    unique per (kind, period): a job that runs twice finds its campaign and plans nothing new."""

    __table_args__ = (UniqueConstraint("kind", "period", name="uq_campaign_kind_period"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=24)
    period: str = Field(max_length=64)
    name: str = Field(default="", max_length=128)
    holdout_share: float = 0.1
    status: str = Field(default="planned", max_length=12)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_by: int | None = Field(default=None, sa_column=Column(BigInteger))
    scheduled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    audience: str = Field(default="", max_length=1000)
    """A manager's broadcast: the segment as JSON (see loyalty.audiences)."""
    text: str = Field(default="", max_length=4096)
    """A manager's broadcast: the text as written, for members whose language has no version."""
    versions: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    """A manager's broadcast: the text in other languages, as JSON {locale: text}."""
    photo: str | None = Field(default=None, max_length=256)
    """A Telegram file id sent with the text (a broadcast's or a new dish's photo)."""
    dish_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("dish.id"), nullable=True)
    )
    finished_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class OutboxMessage(SQLModel, table=True):
    """One message to one member, sent by the delivery worker within Telegram's limits.

    status: pending (waits for next_attempt_at), sending (claimed until lease_until), sent,
    holdout (never sent: the campaign's control group), unreachable (the person blocked the
    bot), failed (a permanent error, or out of retries), cancelled.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_member_at", "member_id", "created_at"),
        Index("ix_outbox_campaign_status", "campaign_id", "status"),
        Index("ix_outbox_about_member", "about_member_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    campaign_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("campaign.id"), nullable=True)
    )
    member_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("member.id"), nullable=True)
    )
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    dedupe_key: str = Field(sa_column=Column(String(128), nullable=False, unique=True))
    marketing: bool = True
    text: str = Field(max_length=4096)
    photo: str | None = Field(default=None, max_length=256)
    """A Telegram file id: the message is a photo with `text` as its caption."""
    buttons: str | None = Field(default=None, max_length=2000)
    """An inline keyboard as JSON: [[{"text": ..., "callback_data": ...}, ...], ...]."""
    coupon_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("coupon.id"), nullable=True)
    )
    about_member_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    """A message to someone else that quotes a member (a complaint forwarded to the managers):
    erasing that member blanks it too (loyalty.privacy)."""
    status: str = Field(default="pending", max_length=12)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    lease_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    telegram_message_id: int | None = Field(default=None, sa_column=Column(BigInteger))
    error: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class Dish(SQLModel, table=True):
    """A dish a manager added (`/newdish`): adding it plans the new-dish invitations."""

    id: int | None = Field(default=None, primary_key=True)
    store_id: int = Field(
        sa_column=Column(Integer, ForeignKey("store.id", ondelete="CASCADE"), nullable=False)
    )
    name: str = Field(max_length=64)
    description: str = Field(default="", max_length=1000)
    photo: str | None = Field(default=None, max_length=256)
    """A Telegram file id."""
    tags: str = Field(default="", max_length=200)
    """Taste tags from the policy, as ",spicy,seafood," (like Member.taste_tags)."""
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_by: int | None = Field(default=None, sa_column=Column(BigInteger))


class Feedback(SQLModel, table=True):
    """What a diner told the restaurant: a rating of a visit (1–5 stars), a complaint (what went
    wrong, after a low rating) or a suggestion. Managers mark it handled in `/feedback`."""

    __table_args__ = (
        UniqueConstraint("visit_id", "kind", name="uq_feedback_visit_kind"),
        Index("ix_feedback_open", "handled_at", "kind", "created_at"),
        Index("ix_feedback_member_at", "member_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(sa_column=Column(Integer, ForeignKey("member.id"), nullable=False))
    visit_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("visit.id"), nullable=True)
    )
    kind: str = Field(max_length=12)
    """rating, complaint or suggestion."""
    rating: int | None = None
    text: str = Field(default="", max_length=2000)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    handled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    handled_by: int | None = Field(default=None, sa_column=Column(BigInteger))
    adopted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    """When a manager adopted this suggestion (adopted suggestions count toward tiers)."""
    adopted_by: int | None = Field(default=None, sa_column=Column(BigInteger))


class CareEntry(SQLModel, table=True):
    """A member who needs a person today (loyalty.care): on the store's care list until a
    manager handles it (Write to them, Ask why, Done), "Later" puts it back a day or more on.

    `key` makes each occasion one entry ("overdue:<member>:<last visit>"): the daily detection
    finds it again and adds nothing. status: open (listed every morning from `due_at`), shown
    (listed once, e.g. the win-back gave up: not listed again, its buttons still work), done
    (a manager handled it: `action` says how), closed (no longer needed: the member came
    back, or the complaint was handled in /feedback)."""

    __tablename__ = "care_entry"
    __table_args__ = (
        Index("ix_care_entry_list", "store_id", "status", "due_at"),
        Index("ix_care_entry_member", "member_id", "reason", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_column=Column(String(96), nullable=False, unique=True))
    store_id: int = Field(sa_column=Column(Integer, ForeignKey("store.id"), nullable=False))
    member_id: int = Field(sa_column=Column(Integer, ForeignKey("member.id"), nullable=False))
    reason: str = Field(max_length=16)
    feedback_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("feedback.id"), nullable=True)
    )
    detail: str = Field(default="", max_length=200)
    """What the detection saw, as plain values ("visits=2 before=4", "recent=31.00 ...")."""
    status: str = Field(default="open", max_length=8)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    listed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    handled_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    handled_by: int | None = Field(default=None, sa_column=Column(BigInteger))
    action: str = Field(default="", max_length=12)


class CareSurvey(SQLModel, table=True):
    """The survey "why don't we see you more?" asked of a member (by a manager, or by the
    policy when `asked_by` is None) and their one-tap answer."""

    __tablename__ = "care_survey"
    __table_args__ = (
        Index("ix_care_survey_member_at", "member_id", "asked_at"),
        Index("ix_care_survey_answered", "answered_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(sa_column=Column(Integer, ForeignKey("member.id"), nullable=False))
    store_id: int = Field(sa_column=Column(Integer, ForeignKey("store.id"), nullable=False))
    entry_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("care_entry.id"), nullable=True)
    )
    asked_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    asked_by: int | None = Field(default=None, sa_column=Column(BigInteger))
    answered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    reason: str | None = Field(default=None, max_length=12)
    """moved, price, taste, service, waiting, busy or other (what they wrote is the feedback's
    text: an erasure clears it there)."""
    feedback_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("feedback.id"), nullable=True)
    )


class ConsentEvent(SQLModel, table=True):
    """A member said yes or no to offers (the enrolment question, /profile, /stop): the history
    /mydata shows. Deleted with the member's personal data on erasure."""

    __tablename__ = "consent_event"
    __table_args__ = (Index("ix_consent_event_member_at", "member_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(sa_column=Column(Integer, ForeignKey("member.id"), nullable=False))
    allowed: bool
    via: str = Field(max_length=16)
    """enrolment, profile or stop."""
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class PerkUse(SQLModel, table=True):
    """A standing perk (policy: treatments.<tier>.perk) taken off one bill: held when the bill
    is opened in chat, used when it is paid. One per bill and one per payment."""

    __tablename__ = "perk_use"
    __table_args__ = (Index("ix_perk_use_store_at", "store_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(sa_column=Column(Integer, ForeignKey("member.id"), nullable=False))
    store_id: int = Field(sa_column=Column(Integer, ForeignKey("store.id"), nullable=False))
    tier: str = Field(max_length=32)
    kind: str = Field(max_length=16)
    discount: Decimal = Field(sa_column=Column(Money(), nullable=False))
    bill_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("bill.id"), nullable=True, unique=True)
    )
    payment_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("payment.id"), nullable=True, unique=True),
    )
    status: str = Field(default="held", max_length=16)
    """held (the bill is open) or used (paid)."""
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Reservation(SQLModel, table=True):
    """A table a member asked for (/reserve or a treatment's button); the store's managers
    confirm it, propose another time or decline. status: requested, proposed, confirmed,
    declined; the member is reminded on the morning of a confirmed day (reminded_at)."""

    __table_args__ = (Index("ix_reservation_store_at", "store_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=32, unique=True)
    """The request's one-time key (a double tap on "Send" finds it and writes nothing)."""
    member_id: int = Field(sa_column=Column(Integer, ForeignKey("member.id"), nullable=False))
    store_id: int = Field(sa_column=Column(Integer, ForeignKey("store.id"), nullable=False))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    party: int
    note: str = Field(default="", max_length=200)
    via: str = Field(default="command", max_length=16)
    status: str = Field(default="requested", max_length=16)
    proposed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    decided_by: int | None = Field(default=None, sa_column=Column(BigInteger))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    reminded_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
