"""SQLAlchemy's aiosqlite adapter, with one trip to aiosqlite's thread per statement.

aiosqlite runs each SQLite call on a thread of its own; SQLAlchemy's adapter makes four such
calls for every statement (open a cursor, execute, fetch the rows, close the cursor). Each trip
is a queue hand-off to that thread and a wake-up of the event loop through its self-pipe, and
costs more CPU than a small indexed statement itself: 320 µs of CPU per statement instead of
185 µs here (a primary-key SELECT; the intake journey runs about seven statements per update).

``OneTripCursor.execute`` does the four calls in one function run on aiosqlite's thread, with
the same results and errors as the adapter's own. Only the plain cursor's ``execute`` changes:
``executemany``, server-side cursors, commits and the connection's other calls are SQLAlchemy's.
The adapter is used through ``create_async_engine(url, module=dbapi())``; an aiosqlite without
the two internals this relies on (``Connection._execute`` and ``Connection._conn``, there since
0.17) gets SQLAlchemy's adapter unchanged.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)

_HAS_INTERNALS = hasattr(aiosqlite.Connection, "_execute") and hasattr(
    aiosqlite.Connection, "_conn"
)


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        connection = self._connection

        def run() -> tuple[Any, list[Any] | None, int | None, int]:
            cursor = connection._conn.cursor()
            try:
                if parameters is None:
                    cursor.execute(operation)
                else:
                    cursor.execute(operation, parameters)
                description = cursor.description
                rows = cursor.fetchall() if description else None
                return description, rows, cursor.lastrowid, cursor.rowcount
            finally:
                cursor.close()

        try:
            description, rows, lastrowid, rowcount = self.await_(connection._execute(run))
        except Exception as error:
            self._adapt_connection._handle_exception(error)
        if description:
            self.description = description
            self.lastrowid = self.rowcount = -1
            self._rows = deque(rows or ())
        else:
            self.description = None
            self.lastrowid = lastrowid
            self.rowcount = rowcount


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    def cursor(self, server_side: bool = False) -> AsyncAdapt_aiosqlite_cursor:
        if server_side:
            return super().cursor(server_side=True)
        return OneTripCursor(self)


class _DBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        adapted = super().connect(*arg, **kw)
        if type(adapted) is AsyncAdapt_aiosqlite_connection and _HAS_INTERNALS:
            return _Connection(adapted.dbapi, adapted._connection)
        return adapted


def dbapi() -> AsyncAdapt_aiosqlite_dbapi:
    """The DBAPI module to give ``create_async_engine(module=...)`` for a SQLite URL."""
    return _DBAPI(aiosqlite, sqlite3)
