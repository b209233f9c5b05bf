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

import time
from collections.abc import Hashable
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import Pool

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


M = TypeVar("M")


def _of_database(
    by_database: WeakKeyDictionary[Pool, dict[K, M]], session: AsyncSession
) -> dict[K, M] | None:
    """The memory kept for the session's database (its engine's pool), made on first use."""
    bind = session.bind
    if bind is None:
        return None
    pool = bind.sync_engine.pool
    memory = by_database.get(pool)
    if memory is None:
        memory = by_database[pool] = {}
    return memory


class Remembered(Generic[K, V]):
    """One kind of immutable value (e.g. store info by store id), per database."""

    def __init__(self) -> None:
        self._by_database: WeakKeyDictionary[Pool, dict[K, V]] = WeakKeyDictionary()

    def _memory(self, session: AsyncSession) -> dict[K, V] | None:
        return _of_database(self._by_database, session)

    def get(self, session: AsyncSession, key: K) -> V | None:
        memory = self._memory(session)
        return None if memory is None else memory.get(key)

    def put(self, session: AsyncSession, key: K, value: V) -> V:
        memory = self._memory(session)
        if memory is not None:
            memory[key] = value
        return value


class Expiring(Generic[K, V]):
    """Values that change rarely, remembered per database for `seconds` at most.

    For what one job rewrites now and then (the cohort norms, nightly): whoever writes them calls
    ``forget`` so that this process sees the new values at once; other processes (replicas, a
    `regulars members refresh` run) see them within `seconds`. The age is measured on the
    process's monotonic clock, not the app's clock: it bounds staleness in real time, whatever
    time the app believes it is.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._by_database: WeakKeyDictionary[Pool, dict[K, tuple[float, V]]] = WeakKeyDictionary()

    def _memory(self, session: AsyncSession) -> dict[K, tuple[float, V]] | None:
        return _of_database(self._by_database, session)

    def get(self, session: AsyncSession, key: K) -> V | None:
        memory = self._memory(session)
        found = None if memory is None else memory.get(key)
        if found is None or time.monotonic() - found[0] > self.seconds:
            return None
        return found[1]

    def put(self, session: AsyncSession, key: K, value: V) -> V:
        memory = self._memory(session)
        if memory is not None:
            memory[key] = (time.monotonic(), value)
        return value

    def forget(self, session: AsyncSession) -> None:
        """Drop everything remembered for this session's database."""
        memory = self._memory(session)
        if memory is not None:
            memory.clear()
