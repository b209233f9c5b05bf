"""One policy, one simulated year: the real engine on a simulated clock.

Per simulated day, in the store's time zone:

* 10:00 — the deployment's jobs run once (``scheduler.jobs.default_jobs()`` through the real
  :class:`scheduler.core.Scheduler`, less those no simulated guest can notice, see
  :data:`UNSEEN_JOBS`; in their order: the nightly refresh first, then the
  campaigns, reminders…; each daily job runs once a local day from 03:00 on, so one
  run a day after quiet hours does what the timers would), then the real outbox worker
  (``scheduler.delivery.DeliveryWorker``) delivers what is due into the in-process Telegram
  (:mod:`simulator.telegram`); each marketing message delivered reaches its guest, who may come
  sooner, /stop or block the bot.
* 12:30 and 19:00 — the guests who come today pay: ``loyalty.payments.record_payment``, or, with
  a usable coupon they were told about, the cashier's redemption (``loyalty.coupons``
  ``request_redemption`` then ``redeem_at_counter``), which records the payment itself.
* 20:00 — the delivery once more (what the day's visits queued, before quiet hours).

The simulator decides nothing a policy decides: who is overdue, who gets a coupon, the cap, quiet
hours, holdouts — all come from the real code reading the policy file. The only thing it reads
back from the database is what a delivered message was (its campaign kind and coupon), to let
the guest answer it, and at the end the coupons issued.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlmodel import SQLModel, col

from loyalty import coupons, member_account, telegram_users
from loyalty.channels import Channel
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment
from loyalty.policy import Policy, load_policy
from loyalty.stores import ensure_default_store
from models.db import create_engine, create_session_factory, is_sqlite
from models.migrate import upgrade
from models.tables import Campaign, Coupon, OutboxMessage
from scheduler.context import Job, JobContext
from scheduler.core import Scheduler
from scheduler.delivery import DeliveryWorker, RateBudget
from scheduler.jobs import default_jobs
from simulator.guests import Guest, Quit, make_guests
from simulator.telegram import SimulatedTelegram, simulated_bot
from simulator.world import World
from ui.locales import build_i18n

START = date(2027, 1, 4)  # a Monday; the presets' holiday calendars cover 2026–2027
CASHIER_TELEGRAM_ID = 6_999_999_999
LOCALES = ("en", "zh_Hans", "zh_Hant")


class SimClock:
    """The simulated time: stands where the run puts it."""

    def __init__(self, at: datetime) -> None:
        self._at = at

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at


class UnpacedBudget(RateBudget):
    """Telegram's flood limits pace real seconds; a simulated day has none to wait for."""

    async def acquire(self, chat_id: int | None = None, *, reply: bool = False) -> None:
        return None

    def release(self, chat_id: int | None = None) -> None:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Arm:
    """A policy under test: its label in the report and its file."""

    label: str
    policy_file: Path | Traversable


@dataclass(frozen=True, slots=True, kw_only=True)
class ArmConfig:
    arm: Arm
    world: World
    guests: int
    days: int
    seed: int
    workdir: Path
    database_url: str | None = None
    response_scale: float = 1.0


@dataclass(slots=True, kw_only=True)
class GuestOutcome:
    kind: str
    first_day: int
    visit_days: list[int] = field(default_factory=list)
    paid: Decimal = Decimal(0)
    discount: Decimal = Decimal(0)
    redeemed: int = 0
    coupons: int = 0
    discount_coupons: int = 0
    """Coupons that buy a visit with a discount: win-back, second-visit, promotion… — not a
    birthday gift, not a reward exchanged for points."""
    discount_coupons_redeemed: int = 0
    birthday_gifts: int = 0
    marketing: int = 0
    quit: str = ""


@dataclass(slots=True, kw_only=True)
class ArmResult:
    label: str
    policy_name: str
    response_scale: float
    guests: list[GuestOutcome]
    seconds: float
    jobs_failed: int = 0


@dataclass(slots=True, kw_only=True)
class _Run:
    config: ArmConfig
    policy: Policy
    sessions: async_sessionmaker[AsyncSession]
    store: StoreRef
    telegram: SimulatedTelegram
    scheduler: Scheduler
    worker: DeliveryWorker
    clock: SimClock
    guests: list[Guest]
    outcomes: list[GuestOutcome]
    by_telegram_id: dict[int, Guest]
    jobs_failed: int = 0

    @property
    def world(self) -> World:
        return self.config.world

    def at(self, day: int, hour: int, minute: int = 0) -> datetime:
        local = datetime.combine(START + timedelta(days=day), datetime.min.time())
        local = local.replace(hour=hour, minute=minute, tzinfo=ZoneInfo(self.world.timezone))
        moment = local.astimezone(UTC)
        self.clock.set(moment)
        return moment


async def run_arm(config: ArmConfig, progress: Callable[[int], None] | None = None) -> ArmResult:
    """Simulate `config.days` days of `config.guests` guests under one policy."""
    started = time.perf_counter()
    url = config.database_url or f"sqlite+aiosqlite:///{config.workdir / 'store.db'}"
    engine = create_engine(url)
    if is_sqlite(url) and config.database_url is None:
        _throwaway(engine)
    try:
        if config.database_url is not None and not is_sqlite(url):
            await _fresh_schema(engine)
        await upgrade(engine)
        run = await _start(config, engine)
        for day in range(config.days):
            await _day(run, day)
            if progress is not None:
                progress(day + 1)
        await _count_coupons(run)
    finally:
        await engine.dispose()
    return ArmResult(
        label=config.arm.label,
        policy_name=run.policy.name,
        response_scale=config.response_scale,
        guests=run.outcomes,
        seconds=time.perf_counter() - started,
        jobs_failed=run.jobs_failed,
    )


def _throwaway(engine: AsyncEngine) -> None:
    """The run's own SQLite file is thrown away at the end: no write needs to survive a crash,
    so none waits for one (no fsync, the journal in memory). The schema, the queries and the
    transactions are the deployment's; only durability is given up."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=MEMORY")
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()


async def _fresh_schema(engine: AsyncEngine) -> None:
    """A shared database (--database-url) starts each policy empty: its tables are dropped."""
    async with engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.drop_all)
        await connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


async def _start(config: ArmConfig, engine: AsyncEngine) -> _Run:
    world = config.world
    clock = SimClock(datetime.combine(START, datetime.min.time(), tzinfo=UTC))
    sessions = create_session_factory(engine)
    async with sessions() as session, session.begin():
        info = await ensure_default_store(
            session,
            name="Simulated restaurant",
            timezone=world.timezone,
            currency=world.currency,
            now=clock.now(),
        )
    policy = load_policy(config.arm.policy_file)
    telegram = SimulatedTelegram()
    bot = simulated_bot(telegram)
    context = JobContext(
        session_factory=sessions,
        clock=clock,
        policy=policy,
        timezone=world.timezone,
        i18n=build_i18n("en"),
        bot=bot,
    )
    guests = make_guests(world, count=config.guests, days=config.days, seed=config.seed)
    return _Run(
        config=config,
        policy=policy,
        sessions=sessions,
        store=StoreRef(id=info.id, timezone=info.timezone),
        telegram=telegram,
        scheduler=Scheduler(context=context, jobs=simulated_jobs()),
        worker=DeliveryWorker(
            bot=bot, session_factory=sessions, clock=clock, budget=UnpacedBudget(), batch=500
        ),
        clock=clock,
        guests=guests,
        outcomes=[GuestOutcome(kind=g.kind.name, first_day=g.first_day) for g in guests],
        by_telegram_id={g.telegram_id: g for g in guests},
    )


UNSEEN_JOBS = frozenset({"forget_old_updates", "weekly_digest", "care_lists", "feedback"})
"""The deployment's jobs whose work no simulated guest can notice: Telegram's update ledger
(there are no updates), the owners' weekly digest and the care desk's list (there are no staff
to read them; the care survey it asks is not marketing), and the post-visit stars question (not
marketing either). A simulated guest answers marketing messages only, so leaving these out
changes no visit, coupon or marketing message: the same seed gives the same report."""


def simulated_jobs() -> list[Job]:
    """The default jobs in their order, less those no simulated guest would notice."""
    return [job for job in default_jobs() if job.name not in UNSEEN_JOBS]


async def _day(run: _Run, day: int) -> None:
    run.at(day, 10)
    await _jobs(run)
    await _deliver(run, day)
    coming = [g for g in run.guests if g.visits_on(day)]
    for lunch in (True, False):
        now = run.at(day, 12, 30) if lunch else run.at(day, 19)
        here = [guest for guest in coming if guest.lunch is lunch]
        if not here:
            continue
        # one transaction for the meal's visits (record_payment for each, as at the counter):
        # they share the moment, and a throwaway store has no other writer to wait for
        async with run.sessions() as session, session.begin():
            for guest in here:
                await _visit(run, session, guest, day, now)
    run.at(day, 20)
    await _deliver(run, day)


async def _jobs(run: _Run) -> None:
    results = await run.scheduler.run_due()
    run.jobs_failed += sum(1 for r in results.values() if r.get("error"))


def category(kind: str | None, *, coupon: bool) -> str:
    """What a delivered message is to a guest (world.toml's response.chance keys)."""
    if kind == "birthday":
        return "birthday_gift" if coupon else "birthday"
    if coupon:
        return "coupon"
    if kind is None:
        return "other"
    if kind.startswith("winback") or kind in {"cooling", "second_visit"}:
        return "care"
    if kind == "rising":
        return "thanks"
    if kind == "new_dish":
        return "new_dish"
    return "other"


async def _deliver(run: _Run, day: int) -> None:
    await run.worker.run_until_idle()
    delivered = {d.chat_id for d in run.telegram.take_delivered()}
    if not delivered:
        return
    now = run.clock.now()
    async with run.sessions() as session:
        rows = (
            await session.execute(
                select(
                    col(OutboxMessage.telegram_id),
                    col(OutboxMessage.coupon_id),
                    col(Campaign.kind),
                )
                .join(Campaign, col(Campaign.id) == col(OutboxMessage.campaign_id), isouter=True)
                .where(col(OutboxMessage.sent_at) == now, col(OutboxMessage.marketing).is_(True))
                .order_by(col(OutboxMessage.id))
            )
        ).all()
    weekend = (START + timedelta(days=day)).weekday() >= 5
    for telegram_id, coupon_id, kind in rows:
        guest = run.by_telegram_id.get(int(telegram_id))
        if guest is None or guest.telegram_id not in delivered:
            continue
        run.outcomes[guest.index].marketing += 1
        if coupon_id is not None:
            guest.coupon_until = day + 60
        what = category(kind, coupon=coupon_id is not None)
        quit = guest.hears(run.world, day=day, category=what, weekend=weekend)
        if quit is not Quit.NONE:
            await _quit(run, guest, quit, now)


async def _quit(run: _Run, guest: Guest, quit: Quit, now: datetime) -> None:
    run.outcomes[guest.index].quit = quit.value
    async with run.sessions() as session, session.begin():
        if quit is Quit.BLOCKED:
            run.telegram.blocked.add(guest.telegram_id)
            await telegram_users.mark_blocked(
                session, telegram_id=guest.telegram_id, blocked=True, now=now
            )
        else:
            await member_account.set_marketing(
                session,
                telegram_id=guest.telegram_id,
                allowed=False,
                policy=run.policy,
                now=now,
                via="stop",
            )


async def _visit(run: _Run, session: AsyncSession, guest: Guest, day: int, now: datetime) -> None:
    bill = guest.bill(run.world)
    wants_coupon = guest.bills.random() < run.world.use_coupon_when_visiting
    outcome = run.outcomes[guest.index]
    used = False
    if wants_coupon and guest.member_id is not None and guest.coupon_until >= day:
        used = await _redeem(run, session, guest, bill, now)
    if not used:
        paid = await _pay(run, session, guest, Decimal(str(bill)), now)
        outcome.paid += paid
    outcome.visit_days.append(day)
    guest.visited(day)


async def _pay(
    run: _Run, session: AsyncSession, guest: Guest, amount: Decimal, now: datetime
) -> Decimal:
    result = await record_payment(
        session,
        source=PaymentSource.POS,
        external_id=f"sim:{guest.index}:{guest.visits}",
        store=run.store,
        amount=amount,
        currency=run.world.currency,
        payer=Payer(
            telegram_id=guest.telegram_id,
            first_name=f"Guest {guest.index}",
            channel=Channel.TABLE_QR,
        ),
        policy=run.policy,
        now=now,
    )
    if result.enrolled:
        await _enrol(run, session, guest, now)
    guest.member_id = result.member_id
    return result.amount


async def _enrol(run: _Run, session: AsyncSession, guest: Guest, now: datetime) -> None:
    """What a new member answers once: consent, birthday, language."""
    await member_account.answer_enrolment_consent(
        session, telegram_id=guest.telegram_id, allowed=guest.consent, policy=run.policy, now=now
    )
    if guest.birthday is not None:
        await member_account.set_birthday(
            session,
            telegram_id=guest.telegram_id,
            month=guest.birthday.month,
            day=guest.birthday.day,
            policy=run.policy,
        )
    await telegram_users.choose_locale(
        session, telegram_id=guest.telegram_id, locale=guest.language, supported=LOCALES, now=now
    )


async def _redeem(
    run: _Run, session: AsyncSession, guest: Guest, bill: float, now: datetime
) -> bool:
    """Use the best coupon the bill can meet (stretching to a minimum within reach)."""
    assert guest.member_id is not None
    reach = max(bill, guest.kind.ticket * run.world.stretch_to_minimum)
    usable = [
        c
        for c in await coupons.usable_coupons(session, member_id=guest.member_id, now=now)
        if c.min_spend <= Decimal(str(reach))
    ]
    if not usable:
        return False
    amount = max(Decimal(str(bill)), usable[0].min_spend)
    best = max(usable, key=lambda c: (c.discount(max(amount, c.min_spend)), -c.id))
    amount = max(amount, best.min_spend)
    try:
        async with session.begin_nested():
            ticket = await coupons.request_redemption(
                session,
                coupon_id=best.id,
                telegram_id=guest.telegram_id,
                policy=run.policy,
                now=now,
            )
            done = await coupons.redeem_at_counter(
                session,
                redemption_id=ticket.redemption_id,
                cashier_telegram_id=CASHIER_TELEGRAM_ID,
                bill_amount=amount,
                store=run.store,
                policy=run.policy,
                now=now,
            )
    except coupons.CouponProblem:
        return False
    outcome = run.outcomes[guest.index]
    outcome.paid += done.paid
    outcome.discount += done.discount
    outcome.redeemed += 1
    return True


NOT_DISCOUNTS = frozenset({"birthday", "points"})
"""Coupon campaigns that do not buy a visit back: the birthday gift and the points reward."""


def campaign_kind(campaign: str | None) -> str:
    """A coupon's campaign without its period: "winback_1:2027-02" → "winback_1"."""
    return (campaign or "").split(":", 1)[0]


async def _count_coupons(run: _Run) -> None:
    """Coupons issued to each guest, from the store's own records, by what they are."""
    async with run.sessions() as session:
        rows = (
            await session.execute(
                select(col(Coupon.member_id), col(Coupon.campaign), col(Coupon.status)).where(
                    col(Coupon.member_id) > 0
                )
            )
        ).all()
    by_member: dict[int, list[tuple[str, bool]]] = {}
    for member_id, campaign, status in rows:
        by_member.setdefault(member_id, []).append((campaign_kind(campaign), status == "redeemed"))
    for guest in run.guests:
        if guest.member_id is not None:
            tally(run.outcomes[guest.index], by_member.get(guest.member_id, []))


def tally(outcome: GuestOutcome, coupons_held: list[tuple[str, bool]]) -> None:
    """A guest's coupons (campaign kind, redeemed) into their outcome."""
    outcome.coupons = len(coupons_held)
    outcome.birthday_gifts = sum(1 for kind, _ in coupons_held if kind == "birthday")
    discounts = [redeemed for kind, redeemed in coupons_held if kind not in NOT_DISCOUNTS]
    outcome.discount_coupons = len(discounts)
    outcome.discount_coupons_redeemed = sum(discounts)


def describe(config: ArmConfig) -> dict[str, Any]:
    return {
        "label": config.arm.label,
        "guests": config.guests,
        "days": config.days,
        "seed": config.seed,
        "response_scale": config.response_scale,
    }
