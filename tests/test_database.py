"""Group commit in the writer: a write that fails inside a batch leaves nothing behind, and the writes
batched with it still commit and answer their callers. On SQLite every write is batched; on PostgreSQL
the writes that name a conversation key are (shard writers)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from hubbub.store.database import Database


class Refused(Exception):
    pass


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Database, str]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'b.db'}"
    else:
        url = os.environ.get("HUBBUB_TEST_POSTGRES_URL", "")
        if not url:
            pytest.skip("HUBBUB_TEST_POSTGRES_URL is not set")
    table = "items_" + secrets.token_hex(4)
    db = Database(url)
    db.run_sync_write(lambda conn: conn.execute(text(f"CREATE TABLE {table} (n INTEGER PRIMARY KEY)")))
    db.start()
    try:
        yield db, table
    finally:
        db.close()
        check = Database(url)
        check.run_sync_write(lambda conn: conn.execute(text(f"DROP TABLE {table}")))
        check.close()


def _rows(db: Database, table: str) -> list[int]:
    async def read() -> list[int]:
        return await db.read(lambda conn: list(conn.execute(text(f"SELECT n FROM {table} ORDER BY n")).scalars()))
    return asyncio.run(read())


def _write(table: str, n: int, failure: str | None):
    def fn(conn: Connection) -> int:
        conn.execute(text(f"INSERT INTO {table} (n) VALUES (:n)"), {"n": n})
        if failure == "python":
            raise Refused(n)  # after a change: the change must be undone
        if failure == "sql":  # the database refuses a statement (PostgreSQL then aborts the transaction)
            conn.execute(text(f"INSERT INTO {table} (n) VALUES (:n)"), {"n": n})
        return n
    return fn


def _failure(n: int) -> str | None:
    return "python" if n % 7 == 3 else "sql" if n % 11 == 5 else None


def test_failing_writes_in_a_batch_roll_back_alone(database: tuple[Database, str]) -> None:
    db, table = database

    async def main() -> list[object]:
        return await asyncio.gather(*(db.write(_write(table, n, _failure(n)), key="CH1" if n % 2 else "CH2")
                                      for n in range(300)), return_exceptions=True)
    results = asyncio.run(main())
    for n, result in enumerate(results):
        expected = {"python": Refused, "sql": IntegrityError, None: int}[_failure(n)]
        assert isinstance(result, expected), (n, result)
    assert _rows(db, table) == [n for n in range(300) if _failure(n) is None]


def test_a_lone_failing_write_commits_nothing(database: tuple[Database, str]) -> None:
    db, table = database
    with pytest.raises(Refused):
        asyncio.run(db.write(_write(table, 1, "python"), key="CH1"))
    assert asyncio.run(db.write(_write(table, 2, None))) == 2
    assert _rows(db, table) == [2]
