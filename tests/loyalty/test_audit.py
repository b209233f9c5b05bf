"""The audit log on a real database: every staff action writes one line in its own transaction
(a repeat or a refusal writes none; diners' and the POS's actions none); the log reads newest
first a page at a time; the export reads in batches without losing or repeating a row."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from loyalty import audit, export, roles
from loyalty.errors import NotAllowed
from loyalty.payments import (
    Channel,
    Payer,
    PaymentSource,
    RefundProblem,
    StoreRef,
    issue_receipt,
    record_payment,
    refund_payment,
)
from loyalty.policy import Policy
from models import queries
from models.tables import AuditLog, Role

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
CARLOS, OWNER = 501, 9
DANA = Payer(telegram_id=101, first_name="Dana", channel=Channel.CASHIER)
NAMES = ["Ann", "李娜", "陳明", '=HYPERLINK("http://x")', "Bo, Jr.", 'Say "hi"', "Zoë"]


async def log(factory: async_sessionmaker[AsyncSession]) -> list[tuple[int | None, str, str]]:
    async with factory() as session:
        rows = await session.execute(select(AuditLog).order_by(col(AuditLog.id)))
        return [(a.actor_telegram_id, a.action, a.detail) for a in rows.scalars()]


async def pay(
    factory: async_sessionmaker[AsyncSession],
    store: StoreRef,
    policy: Policy,
    *,
    key: str,
    source: PaymentSource,
    cashier: int | None,
    amount: str = "86.5",
) -> int:
    async with factory() as session, session.begin():
        outcome = await record_payment(
            session,
            source=source,
            external_id=key,
            store=store,
            amount=Decimal(amount),
            currency="CNY",
            payer=DANA,
            policy=policy,
            now=NOON,
            cashier_telegram_id=cashier,
        )
    return outcome.payment_id


async def test_a_counter_payment_is_audited_once_a_diners_own_payment_not(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    await pay(factory, store, policy, key="ch_1", source=PaymentSource.CHAT, cashier=None)
    assert await log(factory) == []  # the diner paid in chat: not a staff action
    counter = PaymentSource.CASHIER
    paid = await pay(factory, store, policy, key="t1", source=counter, cashier=CARLOS)
    again = await pay(factory, store, policy, key="t1", source=counter, cashier=CARLOS)
    assert again == paid
    assert await log(factory) == [
        (CARLOS, "payment.record", f"payment={paid} member=1 amount=86.50 CNY source=cashier")
    ]


async def test_a_walk_in_receipt_is_audited_when_a_cashier_issues_it_not_the_pos(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    for source, key, cashier in (
        (PaymentSource.RECEIPT, "chat:1", CARLOS),
        (PaymentSource.RECEIPT, "chat:1", CARLOS),  # a redelivered /bill
        (PaymentSource.POS, "pos-1", None),
    ):
        async with factory() as session, session.begin():
            await issue_receipt(
                session,
                source=source,
                external_id=key,
                store=store,
                amount=Decimal("12.3"),
                currency="CNY",
                policy=policy,
                now=NOON,
                cashier_telegram_id=cashier,
            )
    assert await log(factory) == [
        (CARLOS, "payment.receipt", "payment=1 amount=12.30 CNY source=receipt")
    ]


async def test_a_refused_refund_leaves_no_line_a_done_one_one(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    paid = await pay(factory, store, policy, key="ch_1", source=PaymentSource.CHAT, cashier=None)
    for payment_id in (paid + 100, paid, paid):
        try:
            async with factory() as session, session.begin():
                await refund_payment(
                    session, payment_id=payment_id, by_telegram_id=OWNER, policy=policy, now=NOON
                )
        except RefundProblem:
            pass
    assert await log(factory) == [(OWNER, "payment.refund", f"payment={paid} amount=86.50 CNY")]


async def test_a_role_change_is_audited_a_repeated_grant_not(
    factory: async_sessionmaker[AsyncSession], store: StoreRef
) -> None:
    for role in (Role.CASHIER, Role.CASHIER, Role.MANAGER):
        async with factory() as session, session.begin():
            await roles.grant(
                session,
                telegram_id=CARLOS,
                store_id=store.id,
                role=role,
                display_name="Carlos",
                granted_by=OWNER,
                now=NOON,
            )
    assert await log(factory) == [
        (OWNER, "staff.grant", f"{CARLOS} cashier store={store.id}"),
        (OWNER, "staff.grant", f"{CARLOS} manager store={store.id} from=cashier"),
    ]


async def test_pages_newest_first_with_staff_names_for_owners_only(
    factory: async_sessionmaker[AsyncSession], store: StoreRef
) -> None:
    async with factory() as session, session.begin():
        await queries.add_staff(
            session,
            telegram_id=CARLOS,
            store_id=store.id,
            role="cashier",
            display_name="Carlos",
            now=NOON,
        )
        for n in range(7):
            await queries.add_audit(
                session,
                actor_telegram_id=CARLOS if n % 2 else OWNER,
                action="x",
                detail=str(n),
                now=NOON + timedelta(minutes=n),
            )
    async with factory() as session:
        with pytest.raises(NotAllowed):
            await audit.page(session, reader=Role.MANAGER)
        first = await audit.page(session, reader=Role.OWNER, size=3)
        assert [(line.detail, line.actor_name) for line in first.lines] == [
            ("6", None),
            ("5", "Carlos"),
            ("4", None),
        ]
        assert (first.has_older, first.has_newer) == (True, False)
        assert first.oldest_id is not None
        second = await audit.page(session, reader=Role.OWNER, older_than=first.oldest_id, size=3)
        assert [line.detail for line in second.lines] == ["3", "2", "1"]
        assert (second.has_older, second.has_newer) == (True, True)
        assert second.oldest_id is not None
        last = await audit.page(session, reader=Role.OWNER, older_than=second.oldest_id, size=3)
        assert [line.detail for line in last.lines] == ["0"]
        assert (last.has_older, last.has_newer) == (False, True)
        assert last.newest_id is not None
        back = await audit.page(session, reader=Role.OWNER, newer_than=last.newest_id, size=3)
        assert [line.detail for line in back.lines] == ["3", "2", "1"]
        assert second.newest_id is not None
        # newer than the page just below the top: a full page ending at the newest line
        top = await audit.page(session, reader=Role.OWNER, newer_than=second.newest_id, size=3)
        assert [line.detail for line in top.lines] == ["6", "5", "4"]


async def test_the_export_reads_in_batches_every_row_once(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    for n in range(7):
        async with factory() as session, session.begin():
            await record_payment(
                session,
                source=PaymentSource.POS,
                external_id=f"p{n}",
                store=store,
                amount=Decimal(n) + Decimal("0.5"),
                currency="CNY",
                payer=Payer(telegram_id=200 + n, first_name=NAMES[n], channel=Channel.CHAT),
                policy=policy,
                now=NOON,
            )
    async with factory() as session:
        with pytest.raises(NotAllowed):
            await export.scope_for(session, telegram_id=CARLOS, role=Role.CASHIER, policy=policy)
        scope = await export.scope_for(session, telegram_id=OWNER, role=Role.OWNER, policy=policy)
    files = await export.build_files(factory, scope=scope, now=NOON, batch_size=3)
    async with factory() as session, session.begin():
        await export.record_export(session, telegram_id=OWNER, scope=scope, files=files, now=NOON)
    payments = next(f for f in files if f.kind == "payments")
    lines = payments.data.decode("utf-8-sig").splitlines()
    assert payments.rows == 7
    assert payments.filename == "payments-20261123-0400.csv"
    assert [line.split(",")[5] for line in lines[1:]] == [f"{n}.50" for n in range(7)]
    members = next(f for f in files if f.kind == "members")
    assert members.rows == 7
    rows = list(csv.DictReader(io.StringIO(members.data.decode("utf-8-sig"))))
    # names as written, in UTF-8; one that Excel would run as a formula is kept as text
    assert [r["display_name"] for r in rows] == [
        '\'=HYPERLINK("http://x")' if n == 3 else name for n, name in enumerate(NAMES)
    ]
    assert [(a, action) for a, action, _ in await log(factory)] == [(OWNER, "export")]
