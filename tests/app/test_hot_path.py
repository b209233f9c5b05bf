"""The per-update hot path reads less (bench.statements): the staff role comes with the person,
stores and tables are remembered. These check that the shortcuts answer what the long way did."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncEngine

from loyalty import roles, stores, telegram_users
from models import queries
from models.db import create_engine, create_session_factory
from models.migrate import upgrade
from models.tables import Role, Staff

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def count_statements(engine: AsyncEngine) -> list[str]:
    statements: list[str] = []
    event.listen(
        engine.sync_engine,
        "before_cursor_execute",
        lambda _conn, _cursor, statement, *_: statements.append(statement),
    )
    return statements


async def test_the_person_brings_their_staff_role(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        factory = create_session_factory(engine)
        async with factory() as session, session.begin():
            store = await queries.add_store(
                session, name="Noodle Bar", timezone="UTC", currency="USD", now=NOW
            )
            assert store.id is not None
            other = await queries.add_store(
                session, name="Noodle Bar 2", timezone="UTC", currency="USD", now=NOW
            )
            assert other.id is not None
            # Staff before they ever wrote to the bot (the sandbox seeds its cashier so).
            await roles.grant(
                session,
                telegram_id=6,
                store_id=store.id,
                role=Role.CASHIER,
                display_name="Carlos",
                granted_by=1,
                now=NOW,
            )
            await roles.grant(
                session,
                telegram_id=6,
                store_id=other.id,
                role=Role.MANAGER,
                display_name="Carlos",
                granted_by=1,
                now=NOW,
            )
            newcomer = await telegram_users.touch(
                session, telegram_id=6, language_code="en", now=NOW
            )
            assert newcomer.is_new
            assert newcomer.staff_role is Role.MANAGER  # the best of their stores
            diner = await telegram_users.touch(session, telegram_id=5, language_code="en", now=NOW)
            assert diner.staff_role is Role.DINER
        async with factory() as session, session.begin():
            statements = count_statements(engine)
            again = await telegram_users.touch(session, telegram_id=6, language_code="en", now=NOW)
            assert not again.is_new
            assert again.staff_role is Role.MANAGER
            assert len([s for s in statements if "SELECT" in s]) == 1
            assert roles.role_for(6, staff_role=again.staff_role, owner_ids=()) is Role.MANAGER
            assert roles.role_for(6, staff_role=again.staff_role, owner_ids=(6,)) is Role.OWNER
            assert await roles.role_of(session, telegram_id=6, owner_ids=()) is Role.MANAGER
            await session.execute(
                update(Staff).where(Staff.store_id == other.id).values(revoked_at=NOW)  # type: ignore[arg-type]
            )
            assert (
                await telegram_users.touch(session, telegram_id=6, language_code="en", now=NOW)
            ).staff_role is Role.CASHIER
            assert await roles.role_of(session, telegram_id=6, owner_ids=()) is Role.CASHIER
    finally:
        await engine.dispose()


async def test_stores_and_tables_are_read_once_per_database(tmp_path: Path) -> None:
    engines = [create_engine(f"sqlite+aiosqlite:///{tmp_path / f'{n}.sqlite3'}") for n in (1, 2)]
    try:
        for n, engine in enumerate(engines, start=1):
            await upgrade(engine)
            async with create_session_factory(engine)() as session, session.begin():
                await queries.add_store(
                    session, name=f"Store {n}", timezone="UTC", currency="USD", now=NOW
                )
                await queries.ensure_tables(session, store_id=1, numbers=[n, 7], now=NOW)
        for n, engine in enumerate(engines, start=1):
            statements = count_statements(engine)
            for _ in range(2):
                async with create_session_factory(engine)() as session:
                    info = await stores.store_info(session, store_id=1)
                    assert info is not None
                    assert (info.id, info.name) == (1, f"Store {n}")
                    table = await stores.table_id(session, store_id=1, number=7)
                    assert table is not None
                    assert await stores.table_number(session, table_id=table) == 7
                    assert await stores.table_id(session, store_id=1, number=n) is not None
                    assert await stores.store_info(session, store_id=2) is None
                    assert await stores.table_id(session, store_id=1, number=99) is None
            # Store 1 and its tables once; what is missing is asked again (it may come later).
            assert len([s for s in statements if s.startswith("SELECT")]) == 3 + 2 * 2
    finally:
        for engine in engines:
            await engine.dispose()
