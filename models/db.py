"""Engine and session setup for SQLite (aiosqlite) and PostgreSQL (asyncpg), one code path.

SQLite is tuned for a bot that writes from many concurrent updates: one pooled connection per
process (see create_engine), WAL (readers never block the writer), a busy timeout (a writer in
another process waits instead of failing), foreign keys on, and every
transaction opened with ``BEGIN IMMEDIATE``. The last one matters: a deferred transaction that
reads and then writes can fail with "database is locked" when two of them try to upgrade their
read lock at once; taking the write lock up front makes them queue instead. Read-only work can
ask for a deferred ``BEGIN`` with :func:`create_read_session_factory`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from models import sqlite_driver
from models.files import private_file

SQLITE_BUSY_TIMEOUT_MS = 15_000
SQLITE_POOL_TIMEOUT_S = 60
READ_ONLY_OPTION = "regulars_read_only"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> AsyncEngine:
    if is_sqlite(url):
        database = make_url(url).database
        # A file database gets one connection per process. SQLite has one writer at a time and
        # every transaction here is a writer (BEGIN IMMEDIATE), so more connections only move
        # the queue into SQLite's busy handler, which sleeps and retries (up to 100 ms a round,
        # unfairly): in bench.intake that made p99 latency five times worse at the same
        # throughput. Waiting for the pool is a fair asyncio queue. Other processes still meet
        # the busy timeout.
        pool: dict[str, Any] = {}
        if database and database != ":memory:":
            private_file(Path(database))  # 0600 in a 0700 directory when it is new
            pool = {"pool_size": 1, "max_overflow": 0, "pool_timeout": SQLITE_POOL_TIMEOUT_S}
        # one trip to aiosqlite's thread per statement instead of four (models/sqlite_driver.py)
        engine = create_async_engine(url, echo=echo, module=sqlite_driver.dbapi(), **pool)
        _tune_sqlite(engine)
        return engine
    return create_async_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def _tune_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(READ_ONLY_OPTION):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def create_read_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for reports and lookups that never write (deferred BEGIN on SQLite)."""
    return async_sessionmaker(
        engine.execution_options(**{READ_ONLY_OPTION: True}),
        expire_on_commit=False,
        autoflush=False,
    )
