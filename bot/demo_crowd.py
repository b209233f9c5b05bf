"""The demo's restaurant around its three diners: a few dozen members with mixed histories.

Without them the demo's /stats describes three people who joined the same week, and a broadcast
to a tier reaches one person (or nobody, when that one falls in the control group). The crowd is
fixed by a seed, so every demo run tells the same story: regulars who come every week or so,
occasional guests, one-time visitors, guests who used to come and stopped, and newcomers who
keep joining while the demo's clock moves. Their payments go through the real `record_payment`
at the time each visit happens, as a POS would report them; the scheduler then treats them as it
treats anyone. A guest who has a coupon their bill allows shows it at the counter more often
than not, and the cashier redeems it as at any counter (`coupons.redeem_at_counter`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.services import Services
from loyalty import coupons
from loyalty.channels import Channel
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment
from models.tables import Member, TelegramUser
from sandbox.client import SandboxClient

FIRST_ID = 1_200_001
"""Telegram ids of the crowd (apart from the sandbox cast's and the demo's diners')."""

NAMES = {
    "en": ("Amelia", "Ben", "Chloe", "Daniel", "Ella", "Finn", "Grace", "Hugo", "Isla", "Jack",
           "Kate", "Leo", "Maya", "Noah", "Olive", "Paul"),
    "zh-hans": ("王芳", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周杰", "吴敏", "孙浩",
                "马琳", "朱强"),
    "zh-hant": ("林佳", "黃志明", "吳美玲", "蔡宗翰", "許雅婷", "鄭家豪", "謝宜君", "郭俊傑"),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Kind:
    """How a kind of guest comes: how many, their rhythm in days, their ticket, and when."""

    name: str
    count: int
    every: tuple[float, float]
    ticket: tuple[int, int]
    joined: tuple[int, int]
    """Days from the demo's start when they first came (negative: before it)."""
    stops: tuple[int, int] | None = None
    """Days from the start after which they stop coming (None: they keep coming)."""


KINDS = (
    Kind("regular", 9, every=(5, 10), ticket=(28, 60), joined=(-150, -60)),
    Kind("occasional", 9, every=(18, 40), ticket=(35, 90), joined=(-140, -20)),
    Kind("once", 8, every=(1000, 1000), ticket=(25, 120), joined=(-120, 90)),
    Kind("drifting", 6, every=(8, 14), ticket=(30, 70), joined=(-150, -90), stops=(-30, 40)),
    Kind("newcomer", 8, every=(10, 25), ticket=(30, 80), joined=(10, 120)),
)


@dataclass(frozen=True, slots=True)
class Guest:
    telegram_id: int
    name: str
    language: str
    kind: str
    consent: bool


@dataclass(slots=True)
class Crowd:
    """The guests and their visits, in time order; `catch_up` records those now due."""

    start: datetime
    guests: list[Guest]
    visits: list[tuple[datetime, Guest, Decimal]]
    recorded: int = 0
    members: dict[int, int] = field(default_factory=dict)

    @classmethod
    def around(cls, start: datetime, *, days: int = 420, seed: int = 2026) -> Crowd:
        """The same crowd for the same seed: visits from five months before `start` to `days`
        after it, each at lunch or dinner time."""
        rng = random.Random(seed)
        names = [(language, name) for language, group in NAMES.items() for name in group]
        rng.shuffle(names)
        guests: list[Guest] = []
        visits: list[tuple[datetime, Guest, Decimal]] = []
        for kind in KINDS:
            for _ in range(kind.count):
                language, name = names[len(guests) % len(names)]
                guest = Guest(
                    telegram_id=FIRST_ID + len(guests),
                    name=name,
                    language=language,
                    kind=kind.name,
                    consent=rng.random() < 0.7,
                )
                guests.append(guest)
                every = rng.uniform(*kind.every)
                stops = rng.randint(*kind.stops) if kind.stops else days
                day = float(rng.randint(*kind.joined))
                while day <= min(stops, days):
                    hour = rng.choice((12, 13, 19, 20))
                    when = start + timedelta(days=int(day), hours=hour - start.hour)
                    visits.append(
                        (when, guest, Decimal(rng.randint(*kind.ticket)) + Decimal("0.50"))
                    )
                    day += max(1.0, rng.gauss(every, every / 4))
        visits.sort(key=lambda visit: (visit[0], visit[1].telegram_id))
        return cls(start=start, guests=guests, visits=visits)

    async def introduce(self, client: SandboxClient) -> None:
        """The crowd exists in the emulated Telegram as people who opened the chat before."""
        for guest in self.guests:
            await client.add_user(guest.telegram_id, guest.name, guest.language, started=True)

    async def catch_up(self, services: Services, *, now: datetime, cashier: int) -> int:
        """Record every visit due by `now` (as the POS would have reported it at the time);
        a newly enrolled guest gets their language and their answer about offers."""
        store = StoreRef(id=services.store.id, timezone=services.store.timezone)
        done = 0
        while self.recorded < len(self.visits) and self.visits[self.recorded][0] <= now:
            when, guest, amount = self.visits[self.recorded]
            member_id = self.members.get(guest.telegram_id)
            shows_coupon = random.Random(f"{self.recorded}").random() < 0.6
            if (
                member_id is not None
                and shows_coupon
                and await _redeem(services, guest, member_id, amount, when, cashier, store)
            ):
                self.recorded += 1
                done += 1
                continue
            async with services.session_factory() as session, session.begin():
                outcome = await record_payment(
                    session,
                    source=PaymentSource.POS,
                    external_id=f"demo-crowd-{self.recorded}",
                    store=store,
                    amount=amount,
                    currency=services.settings.store_currency,
                    payer=Payer(
                        telegram_id=guest.telegram_id,
                        first_name=guest.name,
                        channel=Channel.CASHIER,
                    ),
                    policy=services.policy,
                    now=when,
                )
                if guest.telegram_id not in self.members:
                    self.members[guest.telegram_id] = outcome.member_id
                    await _settle(session, guest, member_id=outcome.member_id, when=when)
            self.recorded += 1
            done += 1
        return done

    def count(self) -> int:
        return len(self.members)


async def _redeem(
    services: Services,
    guest: Guest,
    member_id: int,
    amount: Decimal,
    when: datetime,
    cashier: int,
    store: StoreRef,
) -> bool:
    """The guest shows their first coupon the bill allows; False when they have none."""
    try:
        async with services.session_factory() as session, session.begin():
            held = await coupons.usable_coupons(session, member_id=member_id, now=when)
            coupon = next((c for c in held if c.min_spend <= amount), None)
            if coupon is None:
                return False
            ticket = await coupons.request_redemption(
                session,
                coupon_id=coupon.id,
                telegram_id=guest.telegram_id,
                policy=services.policy,
                now=when,
            )
            await coupons.redeem_at_counter(
                session,
                redemption_id=ticket.redemption_id,
                cashier_telegram_id=cashier,
                bill_amount=amount,
                store=store,
                policy=services.policy,
                now=when,
            )
    except coupons.CouponProblem:
        return False
    return True


async def _settle(session: AsyncSession, guest: Guest, *, member_id: int, when: datetime) -> None:
    """What a new member would have told the bot: their language, yes or no to offers."""
    await session.execute(
        update(TelegramUser)
        .where(col(TelegramUser.telegram_id) == guest.telegram_id)
        .values(language_code=guest.language)
    )
    await session.execute(
        update(Member)
        .where(col(Member.id) == member_id)
        .values(marketing_consent=guest.consent, consent_at=when)
    )
