"""Rows that never change once written, remembered per database for the life of the process.

Every update needs its store (name, timezone, currency) and often a table's number; reading
them again each time was a sixth of the statements of the intake journey (bench.statements).
Only what no code path updates or deletes belongs here: a store's name, timezone and currency
and a table's number are fixed when the row is created. Whoever adds a way to change one of
them must drop this memory for it (in every process: a version column, or no cache).

Each database has its own memory, keyed by the engine's connection pool (the tests run many
databases in one process; an engine and its ``execution_options`` copies share one pool).
Only hits are remembered, so a row created later is found the first time it is asked for.
(A row read inside the transaction that creates it is remembered even if that transaction then
rolls back; stores and tables are created by start-up and `regulars qr tables`, which commit.)
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import Pool

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Remembered(Generic[K, V]):
    """One kind of immutable value (e.g. store info by store id), per database."""

    def __init__(self) -> None:
        self._by_database: WeakKeyDictionary[Pool, dict[K, V]] = WeakKeyDictionary()

    def _memory(self, session: AsyncSession) -> dict[K, V] | None:
        bind = session.bind
        if bind is None:
            return None
        pool = bind.sync_engine.pool
        memory = self._by_database.get(pool)
        if memory is None:
            memory = self._by_database[pool] = {}
        return memory

    def get(self, session: AsyncSession, key: K) -> V | None:
        memory = self._memory(session)
        return None if memory is None else memory.get(key)

    def put(self, session: AsyncSession, key: K, value: V) -> V:
        memory = self._memory(session)
        if memory is not None:
            memory[key] = value
        return value
