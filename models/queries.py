"""Data access: small keyword-only functions over a session. They never commit; the caller's
unit of work (one per update, one per scheduled run) does.

The statements of the per-update hot path are built once, at import, with named parameters
(``bindparam``), and executed with the values. Building a statement object is pure Python and
cost as much as executing it (bench: the person query 0.72 ms built per call, 0.28 ms built
once); SQLAlchemy compiles each statement once either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    CompoundSelect,
    Executable,
    ScalarSelect,
    Select,
    Table,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    null,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.sql.compiler import IdentifierPreparer
from sqlmodel import SQLModel, col

from models.tables import (
    AuditLog,
    Bill,
    CheckIn,
    DiningTable,
    Feedback,
    FraudEvent,
    JobRun,
    Member,
    Payment,
    PointsEntry,
    ProcessedUpdate,
    Role,
    Staff,
    Store,
    TelegramUser,
    Visit,
)

_USER = select(TelegramUser).where(col(TelegramUser.telegram_id) == bindparam("telegram_id"))


async def get_user(session: AsyncSession, *, telegram_id: int) -> TelegramUser | None:
    result = await session.execute(_USER, {"telegram_id": telegram_id})
    return result.scalar_one_or_none()


async def get_user_and_staff_role(
    session: AsyncSession, *, telegram_id: int
) -> tuple[TelegramUser | None, Role]:
    """The person's row and the best role their active staff rows give them (DINER if none).

    One statement, because it runs for every update (bench.statements): the role comes as a
    scalar subquery next to the row, which is outer-joined to a one-row select so that the role
    comes also for someone with no row yet (staff may be granted before they ever write).
    """
    params = {"telegram_id": telegram_id}
    user, rank = (await session.execute(_USER_AND_STAFF_RANK, params)).one()
    return user, _ROLE_BY_RANK[rank or 0]


async def best_staff_role(session: AsyncSession, *, telegram_id: int) -> Role:
    """The best role this person's active staff rows give them (DINER if none)."""
    rank = await session.scalar(_STAFF_RANK, {"telegram_id": telegram_id})
    return _ROLE_BY_RANK[rank or 0]


_ROLE_BY_RANK = {role.rank: role for role in Role}
_STAFF_RANK_SUBQUERY: ScalarSelect[int | None] = (
    select(func.max(case(*((col(Staff.role) == role.value, role.rank) for role in Role), else_=0)))
    .where(col(Staff.telegram_id) == bindparam("telegram_id"), col(Staff.revoked_at).is_(None))
    .scalar_subquery()
)
_STAFF_RANK = select(_STAFF_RANK_SUBQUERY)
_USER_AND_STAFF_RANK = (
    select(TelegramUser, _STAFF_RANK_SUBQUERY)
    .select_from(select(literal(1).label("one")).subquery())
    .outerjoin(TelegramUser, col(TelegramUser.telegram_id) == bindparam("telegram_id"))
)


async def add_user(
    session: AsyncSession, *, telegram_id: int, language_code: str | None, now: datetime
) -> TelegramUser:
    user = TelegramUser(
        telegram_id=telegram_id, language_code=language_code, first_seen_at=now, last_seen_at=now
    )
    session.add(user)
    await session.flush()
    return user


async def count_users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(TelegramUser)) or 0)


async def first_store(session: AsyncSession) -> Store | None:
    result = await session.execute(select(Store).order_by(Store.id).limit(1))  # type: ignore[arg-type]
    return result.scalar_one_or_none()


async def add_store(
    session: AsyncSession, *, name: str, timezone: str, currency: str, now: datetime
) -> Store:
    store = Store(name=name, timezone=timezone, currency=currency, created_at=now)
    session.add(store)
    await session.flush()
    return store


async def active_staff(session: AsyncSession, *, telegram_id: int) -> Sequence[Staff]:
    result = await session.execute(
        select(Staff).where(
            Staff.telegram_id == telegram_id,  # type: ignore[arg-type]
            Staff.revoked_at.is_(None),  # type: ignore[union-attr]
        )
    )
    return result.scalars().all()


async def add_staff(
    session: AsyncSession,
    *,
    telegram_id: int,
    store_id: int,
    role: str,
    display_name: str,
    now: datetime,
) -> Staff:
    staff = Staff(
        telegram_id=telegram_id,
        store_id=store_id,
        role=role,
        display_name=display_name,
        created_at=now,
    )
    session.add(staff)
    await session.flush()
    return staff


async def insert_processed_update(
    session: AsyncSession, *, bot_id: int, update_id: int, now: datetime
) -> bool:
    """Record an update as handled inside the caller's transaction; False when it was recorded
    before (a redelivery).

    One statement, ``INSERT … SELECT … WHERE NOT EXISTS``, because this runs for every update
    and each statement costs (bench.intake: the earlier get + savepoint + insert + release cost
    a fifth of the throughput). Two transactions racing with the same update can both pass the
    NOT EXISTS on PostgreSQL; the loser meets the primary key, and then its whole transaction is
    rolled back, so call this first in a transaction, before anything worth keeping.
    """
    params = {"bot_id": bot_id, "update_id": update_id, "now": now}
    try:
        result = await session.execute(_CLAIM_UPDATE, params)
    except IntegrityError:
        await session.rollback()
        return False
    return cast(CursorResult[Any], result).rowcount == 1


async def insert_unless_exists(
    session: AsyncSession, row: SQLModel, *, unique: Sequence[str]
) -> bool:
    """Insert a new row (an integer `id` key, not set yet) unless a row with the same values in
    the `unique` columns exists: True, with the row's id set and the row in the session as if
    loaded, or False and nothing written.

    One statement, ``INSERT … ON CONFLICT (unique) DO NOTHING RETURNING id``: a conflict does
    not abort the transaction, so no savepoint is needed around it (bench.statements: the
    savepoint and its release were two statements of their own). A concurrent transaction
    inserting the same key makes this one wait for its outcome, then do nothing if it committed.
    """
    table: Table = row.__table__  # type: ignore[attr-defined]
    values = {
        column.key: getattr(row, column.key) for column in table.columns if column.key != "id"
    }
    bind = session.bind
    assert bind is not None
    key = (bind.dialect.name, table.name, tuple(unique))
    statement = _INSERT_UNLESS_EXISTS.get(key)
    if statement is None:
        statement = _INSERT_UNLESS_EXISTS[key] = _insert_unless_exists(
            table, unique, bind.dialect.identifier_preparer
        )
    new_id = (await session.execute(statement, values)).scalar_one_or_none()
    if new_id is None:
        return False
    row.id = new_id
    make_transient_to_detached(row)
    session.add(row)  # persistent, nothing pending: later changes are UPDATEs
    return True


_INSERT_UNLESS_EXISTS: dict[tuple[str, str, tuple[str, ...]], Executable] = {}


def _insert_unless_exists(
    table: Table, unique: Sequence[str], preparer: IdentifierPreparer
) -> Executable:
    """``INSERT … ON CONFLICT (unique) DO NOTHING RETURNING id`` (the same text on SQLite and
    PostgreSQL) as a text statement with the columns' types on its parameters.

    Not the dialects' ``insert().on_conflict_do_nothing()``: SQLAlchemy cannot cache the
    compiled form of those, and compiling it again for every payment and every new member cost
    more than running it (bench.statements: "no key"). A text statement is compiled once; the
    typed parameters convert values exactly as the insert's columns would."""
    columns = [column for column in table.columns if column.key != "id"]
    sql = (
        f"INSERT INTO {preparer.format_table(table)} "
        f"({', '.join(preparer.format_column(column) for column in columns)}) "
        f"VALUES ({', '.join(':' + column.key for column in columns)}) "
        f"ON CONFLICT ({', '.join(preparer.format_column(table.c[name]) for name in unique)}) "
        f"DO NOTHING RETURNING {preparer.format_column(table.c.id)}"
    )
    parameters = [bindparam(column.key, type_=column.type) for column in columns]
    return text(sql).bindparams(*parameters).columns(table.c.id)


async def get_user_and_member(
    session: AsyncSession, *, telegram_id: int
) -> tuple[int, int | None, Member | None] | None:
    """(the person's row id, the member who referred them, their membership) in one statement;
    None when the person has no row."""
    row = (await session.execute(_USER_AND_MEMBER, {"telegram_id": telegram_id})).one_or_none()
    if row is None:
        return None
    user_id, referred_by, member = row
    return int(user_id), referred_by, member


_USER_AND_MEMBER = (
    select(col(TelegramUser.id), col(TelegramUser.referred_by_member_id), Member)
    .outerjoin(Member, col(Member.telegram_user_id) == col(TelegramUser.id))
    .where(col(TelegramUser.telegram_id) == bindparam("telegram_id"))
)


_PROCESSED: Table = ProcessedUpdate.__table__  # type: ignore[attr-defined]
_CLAIM_UPDATE = insert(_PROCESSED).from_select(
    ["bot_id", "update_id", "processed_at"],
    select(
        bindparam("bot_id", type_=BigInteger),
        bindparam("update_id", type_=BigInteger),
        bindparam("now", type_=_PROCESSED.c.processed_at.type),
    ).where(
        ~exists(
            select(literal(1)).where(
                _PROCESSED.c.bot_id == bindparam("bot_id"),
                _PROCESSED.c.update_id == bindparam("update_id"),
            )
        )
    ),
)


async def count_processed_updates(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(ProcessedUpdate)) or 0)


async def delete_processed_updates_before(session: AsyncSession, *, before: datetime) -> int:
    result = await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < before)  # type: ignore[arg-type]
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def add_audit(
    session: AsyncSession, *, actor_telegram_id: int | None, action: str, detail: str, now: datetime
) -> None:
    session.add(
        AuditLog(at=now, actor_telegram_id=actor_telegram_id, action=action, detail=detail[:2000])
    )


async def get_store(session: AsyncSession, *, store_id: int) -> Store | None:
    return await session.get(Store, store_id)


async def ensure_tables(
    session: AsyncSession, *, store_id: int, numbers: Sequence[int], now: datetime
) -> list[DiningTable]:
    """The store's tables with these numbers, created where missing (idempotent)."""
    result = await session.execute(
        select(DiningTable).where(
            DiningTable.store_id == store_id,  # type: ignore[arg-type]
            DiningTable.number.in_(numbers),  # type: ignore[attr-defined]
        )
    )
    existing = {t.number: t for t in result.scalars()}
    for number in numbers:
        if number not in existing:
            table = DiningTable(store_id=store_id, number=number, created_at=now)
            session.add(table)
            existing[number] = table
    await session.flush()
    return [existing[n] for n in numbers]


async def get_table(session: AsyncSession, *, store_id: int, number: int) -> DiningTable | None:
    result = await session.execute(
        select(DiningTable).where(
            DiningTable.store_id == store_id,  # type: ignore[arg-type]
            DiningTable.number == number,  # type: ignore[arg-type]
        )
    )
    return result.scalar_one_or_none()


async def get_payment(session: AsyncSession, *, source: str, external_id: str) -> Payment | None:
    params = {"source": source, "external_id": external_id}
    return (await session.execute(_PAYMENT_BY_KEY, params)).scalar_one_or_none()


_PAYMENT_BY_KEY = select(Payment).where(
    col(Payment.source) == bindparam("source"),
    col(Payment.external_id) == bindparam("external_id"),
)


async def get_member_by_telegram_id(session: AsyncSession, *, telegram_id: int) -> Member | None:
    result = await session.execute(_MEMBER_BY_TELEGRAM_ID, {"telegram_id": telegram_id})
    return result.scalar_one_or_none()


_MEMBER_BY_TELEGRAM_ID = (
    select(Member)
    .join(TelegramUser, col(Member.telegram_user_id) == col(TelegramUser.id))
    .where(col(TelegramUser.telegram_id) == bindparam("telegram_id"))
)


async def lock_member(session: AsyncSession, *, member_id: int) -> Member | None:
    """The member, read and locked until the transaction ends, for a change computed from their
    current values (spend, points, the day's credited payments).

    On PostgreSQL two transactions crediting one member at once would otherwise both read the
    same totals and the later write would undo the earlier (and both would pass the daily
    limit): `SELECT … FOR NO KEY UPDATE` makes the second wait for the first to commit, then read
    what it wrote. On SQLite a writing transaction already holds the whole database: the row
    is read as usual (from the session when it is loaded already: no statement)."""
    if session.bind.dialect.name == "sqlite":
        return await session.get(Member, member_id)
    # NO KEY UPDATE: rows that name the member (a friend enrolling, a points entry) take a
    # KEY SHARE lock on it for their foreign key; a plain FOR UPDATE would conflict with
    # those and deadlock two friends enrolling at once against each other.
    return await session.get(
        Member, member_id, with_for_update={"key_share": True}, populate_existing=True
    )


async def member_telegram_id(session: AsyncSession, *, member_id: int) -> int | None:
    result = await session.execute(
        select(col(TelegramUser.telegram_id))
        .join(Member, col(Member.telegram_user_id) == col(TelegramUser.id))
        .where(col(Member.id) == member_id)
    )
    return result.scalar_one_or_none()


async def add_check_in(
    session: AsyncSession, *, telegram_id: int, store_id: int, table_id: int, now: datetime
) -> CheckIn:
    check_in = CheckIn(telegram_id=telegram_id, store_id=store_id, table_id=table_id, at=now)
    session.add(check_in)
    await session.flush()
    return check_in


async def latest_check_in(
    session: AsyncSession, *, telegram_id: int, since: datetime
) -> CheckIn | None:
    params = {"person": telegram_id, "since": since}
    return (await session.execute(_LATEST_CHECK_IN, params)).scalar_one_or_none()


def _latest_open_check_in(*columns: Any) -> Select[Any]:
    return (
        select(*columns)
        .where(
            col(CheckIn.telegram_id) == bindparam("person"),
            col(CheckIn.at) >= bindparam("since"),
            col(CheckIn.payment_id).is_(None),
        )
        .order_by(col(CheckIn.at).desc())
        .limit(1)
    )


_LATEST_CHECK_IN = _latest_open_check_in(CheckIn)


async def attach_check_in(
    session: AsyncSession, *, telegram_id: int, payment_id: int | None, since: datetime
) -> None:
    """The payment completes the person's most recent open check-in, if any (one UPDATE)."""
    # (bindparam names must differ from the columns an UPDATE sets or filters on)
    params = {"person": telegram_id, "since": since, "payment": payment_id}
    await session.execute(_ATTACH_CHECK_IN, params)


_ATTACH_CHECK_IN = (
    update(CheckIn)
    .where(col(CheckIn.id) == _latest_open_check_in(col(CheckIn.id)).scalar_subquery())
    .values(payment_id=bindparam("payment"))
    .execution_options(synchronize_session=False)
)


async def get_table_by_id(session: AsyncSession, *, table_id: int) -> DiningTable | None:
    return await session.get(DiningTable, table_id)


# -- a member's own data: export (/mydata) and erasure (/forget) --------------------------------


async def member_payments(session: AsyncSession, *, member_id: int) -> Sequence[Payment]:
    result = await session.execute(
        select(Payment)
        .where(col(Payment.member_id) == member_id)
        .order_by(col(Payment.created_at), col(Payment.id))
    )
    return result.scalars().all()


async def member_visits(
    session: AsyncSession, *, member_id: int
) -> Sequence[tuple[Visit, int | None]]:
    """The member's visits (voided ones too), each with its table number if any."""
    result = await session.execute(
        select(Visit, col(DiningTable.number))
        .outerjoin(DiningTable, col(Visit.table_id) == col(DiningTable.id))
        .where(col(Visit.member_id) == member_id)
        .order_by(col(Visit.at), col(Visit.id))
    )
    return [(visit, number) for visit, number in result.tuples()]


async def member_points_entries(session: AsyncSession, *, member_id: int) -> Sequence[PointsEntry]:
    result = await session.execute(
        select(PointsEntry)
        .where(col(PointsEntry.member_id) == member_id)
        .order_by(col(PointsEntry.at), col(PointsEntry.id))
    )
    return result.scalars().all()


async def check_ins_of(
    session: AsyncSession, *, telegram_id: int
) -> Sequence[tuple[CheckIn, int | None]]:
    """A person's table check-ins, each with its table number."""
    result = await session.execute(
        select(CheckIn, col(DiningTable.number))
        .outerjoin(DiningTable, col(CheckIn.table_id) == col(DiningTable.id))
        .where(col(CheckIn.telegram_id) == telegram_id)
        .order_by(col(CheckIn.at), col(CheckIn.id))
    )
    return [(check_in, number) for check_in, number in result.tuples()]


async def bills_of(session: AsyncSession, *, telegram_id: int) -> Sequence[Bill]:
    result = await session.execute(
        select(Bill)
        .where(col(Bill.telegram_id) == telegram_id)
        .order_by(col(Bill.created_at), col(Bill.id))
    )
    return result.scalars().all()


async def delete_check_ins_of(session: AsyncSession, *, telegram_id: int) -> int:
    result = await session.execute(
        delete(CheckIn)
        .where(col(CheckIn.telegram_id) == telegram_id)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def delete_bills_of(session: AsyncSession, *, telegram_id: int) -> int:
    result = await session.execute(
        delete(Bill)
        .where(col(Bill.telegram_id) == telegram_id)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def unlink_fraud_events(session: AsyncSession, *, telegram_id: int) -> int:
    """Remove a diner's Telegram id from fraud events (the events stay, for the accounts)."""
    result = await session.execute(
        update(FraudEvent)
        .where(col(FraudEvent.telegram_id) == telegram_id)
        .values(telegram_id=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def count_members(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Member)) or 0)


async def count_payments(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Payment)) or 0)


async def visit_history(
    session: AsyncSession,
    *,
    member_id: int,
    paying: tuple[int, datetime, Decimal] | None = None,
) -> list[tuple[datetime, Decimal]]:
    """(time, amount paid) of each standing visit, oldest first.

    The amount is everything credited during the sitting: the payment that made the visit and
    any paid after it before the next visit (a second bill within the policy's minutes between
    visits earns points and spend, not a visit). A payment before the first standing visit (its
    own visit refunded) counts with that first one: every credited payment counts once.

    `paying`: (id, time, amount) of a payment being credited in this transaction, whose row
    may not say so yet (it is written once, after this read): counted as given."""
    params = {"member_id": member_id, "paying_id": paying[0] if paying else -1}
    rows = [tuple(row) for row in (await session.execute(_VISITS_AND_PAYMENTS, params)).all()]
    if paying is not None:
        rows.append((paying[1], paying[2], 1))
        rows.sort(key=lambda row: (row[0], row[2]))
    history: list[tuple[datetime, Decimal]] = []
    before_first = Decimal(0)
    for at, amount, is_payment in rows:
        if not is_payment:
            history.append((at, before_first))
            before_first = Decimal(0)
        elif history:
            last_at, spent = history[-1]
            history[-1] = (last_at, spent + amount)
        else:
            before_first += amount
    return history


CREDITED = "credited"  # loyalty.payments.PaymentStatus.CREDITED (loyalty is above this layer)
_VISITS_AND_PAYMENTS: CompoundSelect[Any] = (
    select(
        col(Payment.credited_at).label("at"),
        col(Payment.amount).label("amount"),
        literal(1).label("is_payment"),
    )
    .where(
        col(Payment.member_id) == bindparam("member_id"),
        col(Payment.status) == CREDITED,
        col(Payment.credited_at).is_not(None),
        col(Payment.id) != bindparam("paying_id"),
    )
    .union_all(
        select(
            col(Visit.at),
            type_coerce(null(), Payment.__table__.c.amount.type),  # type: ignore[attr-defined]
            literal(0),
        ).where(col(Visit.member_id) == bindparam("member_id"), col(Visit.voided_at).is_(None))
    )
    .order_by(text("at"), text("is_payment"))
)


async def count_referrals(session: AsyncSession, *, member_id: int, since: datetime) -> int:
    """Friends this member brought who joined since `since`."""
    params = {"member_id": member_id, "since": since}
    return int(await session.scalar(_COUNT_REFERRALS, params) or 0)


_COUNT_REFERRALS = (
    select(func.count())
    .select_from(Member)
    .where(
        col(Member.referrer_member_id) == bindparam("member_id"),
        col(Member.enrolled_at) >= bindparam("since"),
    )
)


async def count_suggestions(session: AsyncSession, *, member_id: int, since: datetime) -> int:
    """Suggestions this member sent since `since` (at most a few a day)."""
    params = {"member_id": member_id, "since": since}
    return int(await session.scalar(_COUNT_SUGGESTIONS, params) or 0)


async def count_adopted_suggestions(
    session: AsyncSession, *, member_id: int, since: datetime
) -> int:
    """Suggestions of this member a manager adopted since `since` (they count toward tiers)."""
    params = {"member_id": member_id, "since": since}
    return int(await session.scalar(_COUNT_ADOPTED, params) or 0)


SUGGESTION = "suggestion"
_COUNT_SUGGESTIONS = (
    select(func.count())
    .select_from(Feedback)
    .where(
        col(Feedback.member_id) == bindparam("member_id"),
        col(Feedback.kind) == SUGGESTION,
        col(Feedback.created_at) >= bindparam("since"),
    )
)
_COUNT_ADOPTED = (
    select(func.count())
    .select_from(Feedback)
    .where(
        col(Feedback.member_id) == bindparam("member_id"),
        col(Feedback.kind) == SUGGESTION,
        col(Feedback.adopted_at) >= bindparam("since"),
    )
)


async def manager_telegram_ids(session: AsyncSession, *, store_id: int) -> list[int]:
    """Telegram ids of the store's active managers."""
    result = await session.execute(
        select(col(Staff.telegram_id))
        .where(
            col(Staff.role) == Role.MANAGER.value,
            col(Staff.revoked_at).is_(None),
            col(Staff.store_id) == store_id,
        )
        .distinct()
        .order_by(col(Staff.telegram_id))
    )
    return [int(t) for t in result.scalars().all()]


async def insert_job_run(session: AsyncSession, *, job: str, period: str, now: datetime) -> bool:
    """Take (job, period) in a savepoint; False when another run has it."""
    try:
        async with session.begin_nested():
            session.add(JobRun(job=job, period=period, started_at=now))
    except IntegrityError:
        return False
    return True


async def finish_job_run(
    session: AsyncSession, *, job: str, period: str, result: str, now: datetime
) -> None:
    await session.execute(
        update(JobRun)
        .where(col(JobRun.job) == job, col(JobRun.period) == period)
        .values(finished_at=now, result=result[:500])
    )


async def job_runs(session: AsyncSession, *, job: str) -> Sequence[JobRun]:
    result = await session.execute(
        select(JobRun).where(col(JobRun.job) == job).order_by(col(JobRun.period))
    )
    return result.scalars().all()
