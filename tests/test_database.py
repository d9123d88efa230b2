"""The SQLite writer's group commit: a write that fails inside a batch leaves nothing behind, and the
writes batched with it still commit and answer their callers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from hubbub.store.database import Database


class Refused(Exception):
    pass


def _write(n: int, fail: bool):
    def fn(conn: Connection) -> int:
        conn.execute(text("INSERT INTO items (n) VALUES (:n)"), {"n": n})
        if fail:
            raise Refused(n)  # after a change: the change must be undone
        return n
    return fn


def test_failing_writes_in_a_batch_roll_back_alone(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'b.db'}")
    db.run_sync_write(lambda conn: conn.execute(text("CREATE TABLE items (n INTEGER PRIMARY KEY)")))
    db.start()
    try:
        async def main() -> list[object]:
            return await asyncio.gather(*(db.write(_write(n, fail=n % 7 == 3)) for n in range(200)),
                                        return_exceptions=True)
        results = asyncio.run(main())
    finally:
        db.close()
    for n, result in enumerate(results):
        if n % 7 == 3:
            assert isinstance(result, Refused)
        else:
            assert result == n
    check = Database(f"sqlite:///{tmp_path / 'b.db'}")
    rows = check.run_sync_write(lambda conn: [r[0] for r in conn.execute(text("SELECT n FROM items ORDER BY n"))])
    check.close()
    assert rows == [n for n in range(200) if n % 7 != 3]


def test_a_lone_failing_write_commits_nothing(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'c.db'}")
    db.run_sync_write(lambda conn: conn.execute(text("CREATE TABLE items (n INTEGER PRIMARY KEY)")))
    db.start()
    try:
        with pytest.raises(Refused):
            asyncio.run(db.write(_write(1, fail=True)))
        assert asyncio.run(db.write(_write(2, fail=False))) == 2
    finally:
        db.close()
    check = Database(f"sqlite:///{tmp_path / 'c.db'}")
    assert check.run_sync_write(lambda conn: conn.execute(text("SELECT n FROM items")).scalars().all()) == [2]
    check.close()
