"""The data layer on a real database: migrations, SQLite tuning, aware timestamps, dedupe."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError, StatementError

from loyalty import housekeeping, roles, telegram_users
from loyalty.errors import UnsupportedLocale
from loyalty.stores import ensure_default_store
from models import queries
from models.db import create_engine, create_read_session_factory, create_session_factory
from models.migrate import current_revision, head_revision, upgrade
from models.tables import Role, TelegramUser

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


async def test_upgrade_builds_the_schema_and_is_idempotent(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        await upgrade(engine)  # every start runs it again: nothing to do, nothing breaks
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {"store", "telegram_user", "staff", "processed_update", "audit_log"} <= tables
    finally:
        await engine.dispose()


async def test_regulars_db_upgrade_command(app_env: dict[str, str], python: str) -> None:
    process = await asyncio.create_subprocess_exec(
        python,
        "-m",
        "bot",
        "db",
        "upgrade",
        env=app_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert f"schema at {head_revision()}" in out.decode()


async def test_sqlite_is_tuned_for_concurrent_updates(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'tuned.sqlite3'}")
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one() >= 5000
    finally:
        await engine.dispose()


async def test_sqlite_read_then_write_transactions_queue_instead_of_failing(
    tmp_path: Path,
) -> None:
    """Twenty transactions that read a counter, wait, then write it: with deferred BEGIN some
    would fail with "database is locked" on lock upgrade or lose updates; BEGIN IMMEDIATE makes
    them queue, so every increment lands."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'busy.sqlite3'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
            await conn.execute(text("INSERT INTO counter VALUES (0)"))
        factory = create_session_factory(engine)

        async def increment() -> None:
            async with factory() as session, session.begin():
                n = (await session.execute(text("SELECT n FROM counter"))).scalar_one()
                await asyncio.sleep(0.01)
                await session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

        await asyncio.gather(*(increment() for _ in range(20)))
        reader = create_read_session_factory(engine)
        async with reader() as session:
            assert (await session.execute(text("SELECT n FROM counter"))).scalar_one() == 20
    finally:
        await engine.dispose()


async def test_timestamps_come_back_timezone_aware(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        factory = create_session_factory(engine)
        shanghai_noon = datetime(2026, 11, 24, 4, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
        async with factory() as session, session.begin():
            await telegram_users.touch(
                session, telegram_id=7, language_code="en", now=shanghai_noon
            )
        async with factory() as session:
            user = await queries.get_user(session, telegram_id=7)
            assert user is not None
            assert user.first_seen_at == datetime(2026, 11, 23, 20, 0, tzinfo=UTC)
            assert user.first_seen_at.tzinfo is not None
        with pytest.raises(StatementError, match="naive datetime"):
            async with factory() as session, session.begin():
                session.add(
                    TelegramUser(
                        telegram_id=8,
                        first_seen_at=datetime(2026, 1, 1),
                        last_seen_at=datetime(2026, 1, 1),
                    )
                )
    finally:
        await engine.dispose()


async def test_update_claimed_once_and_forgotten_after_a_week(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        factory = create_session_factory(engine)
        async with factory() as session, session.begin():
            assert await housekeeping.claim_update(session, bot_id=1, update_id=10, now=NOW)
            assert not await housekeeping.claim_update(session, bot_id=1, update_id=10, now=NOW)
            # the transaction is still usable after the refused duplicate
            assert await housekeeping.claim_update(session, bot_id=2, update_id=10, now=NOW)
        async with factory() as session, session.begin():
            assert not await housekeeping.claim_update(session, bot_id=1, update_id=10, now=NOW)
            later = NOW + timedelta(days=3)
            assert await housekeeping.claim_update(session, bot_id=1, update_id=11, now=later)
        async with factory() as session, session.begin():
            removed = await housekeeping.forget_old_updates(session, now=NOW + timedelta(days=8))
        assert removed == 2  # the two from day 0; the one from day 3 stays
        async with factory() as session:
            assert await queries.count_processed_updates(session) == 1
    finally:
        await engine.dispose()


async def test_racing_deliveries_of_one_update_claim_it_once(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        factory = create_session_factory(engine)

        async def deliver() -> bool:
            async with factory() as session:
                fresh = await housekeeping.claim_update(session, bot_id=1, update_id=77, now=NOW)
                await session.commit()
                return fresh

        results = await asyncio.gather(*(deliver() for _ in range(10)))
        assert sorted(results) == [False] * 9 + [True]
        async with factory() as session:
            assert await queries.count_processed_updates(session) == 1
    finally:
        await engine.dispose()


async def test_people_roles_and_the_default_store(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        factory = create_session_factory(engine)
        async with factory() as session, session.begin():
            store = await ensure_default_store(
                session, name="Noodle Bar", timezone="Asia/Shanghai", currency="CNY", now=NOW
            )
            again = await ensure_default_store(
                session, name="Other", timezone="UTC", currency="USD", now=NOW
            )
            assert again == store
            first = await telegram_users.touch(
                session, telegram_id=5, language_code="zh-hans", now=NOW
            )
            assert first.is_new
            assert first.locale is None
            chosen = await telegram_users.choose_locale(
                session, telegram_id=5, locale="zh_Hant", supported=("en", "zh_Hant"), now=NOW
            )
            assert chosen.locale == "zh_Hant"
            with pytest.raises(UnsupportedLocale):
                await telegram_users.choose_locale(
                    session, telegram_id=5, locale="fr", supported=("en",), now=NOW
                )
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
                store_id=store.id,
                role=Role.CASHIER,
                display_name="Carlos",
                granted_by=1,
                now=NOW,
            )
        async with factory() as session:
            assert (
                await telegram_users.touch(session, telegram_id=5, language_code=None, now=NOW)
            ).locale
            assert await roles.role_of(session, telegram_id=6, owner_ids=()) is Role.CASHIER
            assert await roles.role_of(session, telegram_id=6, owner_ids=(6,)) is Role.OWNER
            assert await roles.role_of(session, telegram_id=5, owner_ids=(6,)) is Role.DINER
            assert len(await queries.active_staff(session, telegram_id=6)) == 1
    finally:
        await engine.dispose()


async def test_foreign_keys_are_enforced(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        factory = create_session_factory(engine)
        with pytest.raises(IntegrityError):
            async with factory() as session, session.begin():
                await queries.add_staff(
                    session, telegram_id=1, store_id=999, role="cashier", display_name="", now=NOW
                )
    finally:
        await engine.dispose()


async def test_sqlite_statements_take_one_trip_and_behave_as_sqlalchemys_adapter(
    tmp_path: Path,
) -> None:
    """models/sqlite_driver.py runs each statement in one call on aiosqlite's thread: rows,
    row counts, last row ids, RETURNING, errors and server-side cursors as before."""
    from models.sqlite_driver import OneTripCursor

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'trips.sqlite3'}")
    try:
        async with engine.begin() as conn:
            raw = await conn.get_raw_connection()
            assert raw.dbapi_connection is not None
            assert isinstance(raw.dbapi_connection.cursor(), OneTripCursor)
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
            inserted = await conn.execute(text("INSERT INTO t (v) VALUES ('a'), ('b')"))
            assert inserted.rowcount == 2
            assert inserted.lastrowid == 2
            returned = await conn.execute(text("INSERT INTO t (v) VALUES ('c') RETURNING id, v"))
            assert [tuple(row) for row in returned] == [(3, "c")]
            updated = await conn.execute(text("UPDATE t SET v = v || '!' WHERE id < 3"))
            assert updated.rowcount == 2
            rows = await conn.execute(
                text("SELECT id, v FROM t WHERE id >= :i ORDER BY id"), {"i": 2}
            )
            assert [tuple(row) for row in rows] == [(2, "b!"), (3, "c")]
            assert (await conn.execute(text("SELECT 1 WHERE 0"))).all() == []
            with pytest.raises(IntegrityError):
                await conn.execute(text("INSERT INTO t (v) VALUES ('c')"))
        async with engine.connect() as conn:
            streamed = await conn.stream(text("SELECT v FROM t ORDER BY id"))
            assert [row.v async for row in streamed] == ["a!", "b!", "c"]
    finally:
        await engine.dispose()
