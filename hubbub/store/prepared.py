"""Hot-path statements: SQLAlchemy Core, compiled once per dialect, run straight on the DBAPI cursor.

Building and cache-keying a Core statement costs more than executing it on SQLite (measured ~80% of a
message create, see bench/README.md), so the statements on the message-create path are written with
Core as usual but compiled once; `execute` then only maps the parameters and calls the driver.
Only use this for statements whose columns need no type processing (text and integers).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from sqlalchemy import Connection, Table, bindparam, insert
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ClauseElement

# A refused constraint: SQLAlchemy's wrapper, or, from a statement run here on the driver's cursor, the
# driver's own exception.
INTEGRITY_ERRORS = (IntegrityError, sqlite3.IntegrityError, psycopg.IntegrityError)

# SQLite statements are compiled with named parameters (`:name`) by default: the driver then reads each
# value straight from the caller's dict, with no per-call reordering into a tuple. For statements with many
# parameters (`positional=True`) a tuple is cheaper: the driver's per-name lookups cost more than building it.
_SQLITE_NAMED = sqlite.dialect(paramstyle="named")
_SQLITE_QMARK = sqlite.dialect(paramstyle="qmark")


class Prepared:
    __slots__ = ("_stmt", "_by_dialect", "_positional")

    def __init__(self, stmt: ClauseElement, *, positional: bool = False) -> None:
        self._stmt = stmt
        self._positional = positional
        self._by_dialect: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def _compiled(self, conn: Connection) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        dialect = conn.dialect
        found = self._by_dialect.get(dialect.name)
        if found is None:
            if dialect.name == "sqlite":
                dialect = _SQLITE_QMARK if self._positional else _SQLITE_NAMED
            compiled = self._stmt.compile(dialect=dialect)
            positional = getattr(compiled, "positional", False)
            order = tuple(compiled.positiontup) if positional and compiled.positiontup else None
            # Literals in the statement (`state != 'closed'`, `+ 1`) became bound parameters with values.
            constants = {k: v for k, v in compiled.params.items() if v is not None}
            found = (compiled.string, order, constants)
            self._by_dialect[dialect.name] = found
        return found

    @staticmethod
    def _args(order: tuple[str, ...] | None, constants: dict[str, Any], params: Mapping[str, Any]) -> Any:
        if constants:
            params = {**constants, **params}
        return tuple(params[name] for name in order) if order is not None else params

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        sql, order, constants = self._compiled(conn)
        return conn.connection.driver_connection.execute(  # type: ignore[union-attr]
            sql, self._args(order, constants, params))

    def fetchone(self, conn: Connection, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        cursor = self.execute(conn, params)
        try:
            return cursor.fetchone()  # type: ignore[no-any-return]
        finally:
            cursor.close()

    def fetchall(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        cursor = self.execute(conn, params)
        try:
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def executemany(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        sql, order, constants = self._compiled(conn)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(sql, [self._args(order, constants, row) for row in rows])
        finally:
            cursor.close()

    def run(self, conn: Connection, params: Mapping[str, Any]) -> None:
        self.execute(conn, params).close()


def insert_all(table: Table, *, positional: bool = False, returning_id: bool = False) -> Prepared:
    """INSERT of every column but the surrogate `id`, with one parameter per column name (and RETURNING the
    `id`, for PostgreSQL, where the driver has no `lastrowid`)."""
    stmt = insert(table).values({c.name: bindparam(c.name) for c in table.c if c.name != "id"})
    return Prepared(stmt.returning(table.c.id) if returning_id else stmt, positional=positional)
